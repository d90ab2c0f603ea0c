"""Drawing a nouveau trace: the queues, the threads, what the tree and the page tables say.

::

    queue bind: 2 3   exec:1: -        t1 pc 2 waits 2   t2 pc 1
    tree  [0x0, +0x2000) 1@0x0 k0
    pte   [0x0, +0x1000) 4K 1@0x0 k0
"""

from __future__ import annotations

from typing import Any

from checks.render import PlainRenderer
from checks.traces import Step, Trace


def _va(v: list[Any]) -> str:
    return f"[{v[0]:#x}, +{v[1]:#x}) {v[2]}@{v[3]:#x} k{v[4]}"


def _seg(s: list[Any]) -> str:
    t = s[3]
    what = "sparse" if t == "sparse" else f"{t[0]}@{t[1]:#x} k{t[2]}"
    return f"[{s[0]:#x}, +{s[1]:#x}) {'2M' if s[2] == 1 << 21 else '4K'} {what}"


class NouveauRenderer(PlainRenderer):
    def title(self, trace: Trace) -> str:
        threads = trace.config.get("threads", {})
        return (f"nouveau ({trace.config.get('profile', '?')}), threads "
                f"{', '.join(threads) or '-'}")

    def lines(self, step: Step, prev: Step | None) -> list[str]:
        st = step.state
        queues = "   ".join(f"{e}: {' '.join(map(str, q)) or '-'}"
                           for e, q in st.get("queue", {}).items())
        threads = "   ".join(f"{t} pc {st['pc'][t]}" + (f" waits {st['wait'][t]}"
                                                          if st.get("wait", {}).get(t) else "")
                             for t in st.get("pc", {}))
        out = [f"    queue {queues}   {threads}".rstrip()]
        for key, draw in (("tree", _va), ("pte", _seg)):
            if prev is None or prev.state.get(key) != st.get(key):
                rows = [draw(x) for x in st.get(key, [])] or ["-"]
                out += [f"    {key:<5} {r}" for r in rows]
        return out


RENDERER = NouveauRenderer()
