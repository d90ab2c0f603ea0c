"""Drawing a DrmExec trace: one line per thread, what it holds and where it is.

::

    t1  lock     holds a        stamp 1
    t2  backoff  holds b        stamp 2  wounded  contended a

The line of the thread that stepped is marked ``>``; the objects are in
lock order (the first one is the prelocked object after a slow lock).
"""

from __future__ import annotations

import json
from typing import Any

from checks.render import PlainRenderer
from checks.traces import Step, Trace


class DrmExecRenderer(PlainRenderer):
    """Threads and what they hold; no VA drawing (``PlainRenderer``'s)."""

    def title(self, trace: Trace) -> str:
        want = trace.config.get("want", {})
        arrays = ", ".join(f"{t}: {' '.join(w)}" for t, w in want.items())
        return (f"{trace.config.get('algorithm', '?')}, {trace.config.get('rounds', '?')} "
                f"round(s), {arrays}" + (", duplicates ignored" if trace.config.get("dups")
                                         else ""))

    def lines(self, step: Step, prev: Step | None) -> list[str]:
        st = step.state
        pcs: dict[str, Any] = st.get("pc", {})
        held: dict[str, Any] = st.get("held", {})
        out = []
        for t in pcs:
            mark = ">" if step.thread == t else " "
            extras = []
            if st.get("stamp", {}).get(t):
                extras.append(f"stamp {st['stamp'][t]}")
            if st.get("wounded", {}).get(t):
                extras.append("wounded")
            if st.get("contended", {}).get(t):
                extras.append(f"contended {st['contended'][t]}")
            objs = " ".join(held.get(t, [])) or "-"
            out.append(f"   {mark}{t:<4}{pcs[t]:<9}holds {objs:<10}{'  '.join(extras)}".rstrip())
        if prev is None or prev.state.get("refs") != st.get("refs"):
            out.append(f"    refs = {json.dumps(st.get('refs'))}")
        return out



RENDERER = DrmExecRenderer()
