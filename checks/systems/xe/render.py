"""Drawing an xe trace: the worker's queue and state, the async VM's tree and page tables.

::

    pending 3:remap(unbind done) 4:map   error ENOMEM   inflight   fences 1+ 2-
    tree  [0x100000, +0x1000) 1@0x0 ro
    pte   [0x100000, +0x1000) 4K 1@0x0
"""

from __future__ import annotations

from typing import Any

from checks.render import PlainRenderer
from checks.traces import Step, Trace


def _va(v: list[Any]) -> str:
    return f"[{v[0]:#x}, +{v[1]:#x}) {v[2]}@{v[3]:#x}" + (" ro" if v[4] & 1 else "") + \
        (f" gt{v[4] >> 1:#x}" if v[4] >> 1 else "")


def _seg(s: list[Any]) -> str:
    t = s[3]
    return f"[{s[0]:#x}, +{s[1]:#x}) {'2M' if s[2] == 1 << 21 else '4K'} {t[0]}@{t[1]:#x}"


def _op(o: dict[str, Any]) -> str:
    done = [k[:-5] for k in ("unmap_done", "prev_done", "next_done") if o.get(k)]
    return f"{o['id']}:{o['kind']}" + (f"({' '.join(done)} done)" if done else "") + \
        (f" fails {'/'.join(o['fail'])}" if o.get("fail") else "")


class XeRenderer(PlainRenderer):
    def title(self, trace: Trace) -> str:
        return f"xe ({trace.config.get('profile', '?')})"

    def lines(self, step: Step, prev: Step | None) -> list[str]:
        st = step.state
        fences = " ".join(f"{i + 1}{'+' if f == 'signalled' else '-'}"
                          for i, f in enumerate(st.get("fences", [])))
        head = "    pending " + (" ".join(_op(o) for o in st.get("pending", [])) or "-")
        if st.get("error", "OK") != "OK":
            head += f"   error {st['error']}"
        if st.get("inflight"):
            head += "   inflight"
        if st.get("oops"):
            head += f"   OOPS {st['oops']}"
        out = [head + (f"   fences {fences}" if fences else "")]
        for key, draw in (("tree", _va), ("pte", _seg)):
            if prev is None or prev.state.get(key) != st.get(key):
                rows = [draw(x) for x in st.get(key, [])] or ["-"]
                out += [f"    {key:<5} {r}" for r in rows]
        return out


RENDERER = XeRenderer()
