"""Random schedules of a component that says what it can do next (``enabled()``).

:func:`record_random_runs` is the model -> spec side of ``conform`` for the
systems whose component lists its enabled actions (the front ends): run
``n`` seeded random schedules over the layouts in turn, each until nothing
is enabled or ``steps`` steps, recording each as a trace.  An errno is a
step; anything else the model raises is its bug and propagates.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from typing import Any

from checks.traces import Trace


def record_random_runs(system_name: str, make: Callable[[str], Any], layouts: Sequence[str],
                       n: int, seed: int, variant: str, steps: int = 200,
                       check: Callable[[Any], None] | None = None) -> list[Trace]:
    """``n`` random schedules of ``make(layout)`` over ``layouts`` in turn."""
    from checks.replay import recorder
    from checks.systems import get

    rng = random.Random(seed)
    system = get(system_name)
    names = sorted(layouts)
    traces = []
    for i in range(n):
        layout = names[i % len(names)]
        s = make(layout)
        rec = recorder(system, s, source="random-schedule")
        for _ in range(steps):
            acts = s.enabled()
            if not acts:
                break
            action, args = rng.choice(acts)
            try:
                system.vocabulary.perform(s, action, args)
            except Exception as e:
                if not hasattr(e, "errno_name"):
                    raise
            if check is not None:
                check(s)
        rec.trace.description = f"random schedule {i} of seed {seed} ({variant}, {layout})"
        traces.append(rec.trace)
    return traces
