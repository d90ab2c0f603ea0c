"""How a scheduled run looks: a thread column and the locks every thread holds.

The generic page (``checks.render``) already gives each thread its lane;
this renderer adds, per step, the locks each thread holds after it -- in
text as ``held: t1 {A, B} | t2 {}`` under the step, in HTML as one row of
coloured lock chips per thread, so the timeline shows who held what while
the chains of a lock-order report formed.
"""

from __future__ import annotations

import html
import json
from dataclasses import dataclass, field
from typing import Any

from checks.traces import Step, Trace

_PALETTE = ["#8dd3c7", "#ffffb3", "#bebada", "#fb8072", "#80b1d3", "#fdb462", "#b3de69",
            "#fccde5", "#d9d9d9", "#bc80bd"]


@dataclass
class View:
    threads: list[str]
    colours: dict[str, str] = field(default_factory=dict)


def _held(step: Step) -> dict[str, list[str]]:
    raw = step.state.get("held")
    if not isinstance(raw, dict):
        return {}
    return {str(t): [str(x) for x in locks] for t, locks in raw.items()
            if isinstance(locks, list)}


class SchedRenderer:
    """The ``Sched`` traces of ``checks.sched``."""

    def title(self, trace: Trace) -> str:
        return (f"program {trace.config.get('program', '?')}, schedule "
                f"{trace.config.get('schedule', '?')}")

    def result(self, step: Step) -> str:
        err = step.state.get("lastErr", "OK")
        return str(step.state.get("point", "")) + ("" if err == "OK" else f" -> -{err}")

    def lines(self, step: Step, prev: Step | None) -> list[str]:
        held = _held(step)
        if prev is not None and held == _held(prev):
            return []
        text = " | ".join(f"{t} {{{', '.join(ls)}}}" for t, ls in sorted(held.items()))
        return [f"    held: {text or 'nothing'}"]

    def view(self, trace: Trace) -> View:
        threads = sorted({s.thread for s in trace.steps if s.thread})
        locks = sorted({lk for s in trace.steps for ls in _held(s).values() for lk in ls})
        return View(threads, {lk: _PALETTE[i % len(_PALETTE)] for i, lk in enumerate(locks)})

    def bar(self, step: Step, view: Any, request_of: Step | None = None) -> str:
        """The locks each thread holds after ``step``, one row per thread."""
        held = _held(step)
        rows = []
        for t in view.threads:
            chips = "".join(
                f'<span class="lock" style="background:{view.colours.get(lk, "#ccc")}">'
                f"{html.escape(lk)}</span>" for lk in held.get(t, []))
            rows.append(f'<div class="held"><b>{html.escape(t)}</b> {chips or "-"}</div>')
        return "".join(rows)

    def range_text(self, view: Any) -> str:
        return f"threads {json.dumps(view.threads)}"
