"""``gpuvm-check bench sched``: what the schedule explorer costs, and what POR saves.

For each program of the classic suite, and for two programs built to show
the reduction (threads on disjoint variables, and threads sharing a lock),
the bounded exhaustive search (every schedule with at most two
preemptions, no early stop) runs with and without the sleep-set
partial-order reduction: ``schedules`` and ``steps`` (the transitions
executed) each way, and their ratio.  For each buggy program, PCT's hit
rate: the share of 1,000 seeded PCT runs (depth 2 and 3) that find the bug.
"""

from __future__ import annotations

import time
from collections.abc import Generator
from typing import Any

from checks.outcome import Outcome, Result
from checks.sched import finding
from checks.sched.programs import CLASSIC
from model.explore import explore, pct_chooser
from model.locks import Mutex, mutex_lock, mutex_unlock
from model.program import KernelProgram, World, read, write
from model.sched import Point, Scheduler
from model.sched import Result as StepResult

PCT_RUNS = 1000


def _disjoint(threads: int = 3, steps: int = 3) -> KernelProgram:
    def make() -> World:
        w = World(vars={f"x{i}": 0 for i in range(threads)})

        def path(i: int) -> Generator[Point, StepResult, Any]:
            for _ in range(steps):
                v = yield from read(w, f"x{i}")
                yield from write(w, f"x{i}", v + 1)

        w.threads = {f"t{i}": path(i) for i in range(threads)}
        return w
    return KernelProgram("disjoint", make)


def _locked(threads: int = 3) -> KernelProgram:
    def make() -> World:
        w = World(vars={"x": 0}, resources={"m": Mutex("m")})

        def path(i: int) -> Generator[Point, StepResult, Any]:
            yield Point("yield", label=f"t{i} starts")
            yield from mutex_lock("m")
            v = yield from read(w, "x")
            yield from write(w, "x", v + 1)
            yield from mutex_unlock("m")

        w.threads = {f"t{i}": path(i) for i in range(threads)}
        return w
    return KernelProgram("locked", make)


def bench_sched() -> list[Result]:
    rows: list[Result] = []
    subjects = [(n, make(), expected) for n, (make, expected) in CLASSIC.items()]
    subjects += [("disjoint-3x3", _disjoint(), None), ("locked-3", _locked(), None)]
    for name, program, expected in subjects:
        start = time.monotonic()
        figures: dict[str, Any] = {}
        for por in (False, True):
            ex = explore(program, preemptions=2, por=por, stop_at_first=False,
                         iterative=False, limit=200_000)
            tag = "por" if por else "full"
            figures[f"schedules_{tag}"] = ex.schedules - ex.pruned
            figures[f"steps_{tag}"] = ex.steps
            figures[f"complete_{tag}"] = ex.complete
            if por:
                figures["failures_found"] = len(ex.failures) > 0
        figures["reduction"] = round(figures["schedules_full"] / max(1, figures["schedules_por"]),
                                     2)
        if expected is not None:
            threads = [t.name for t in program.start()[1]]
            for depth in (2, 3):
                hits = 0
                for seed in range(PCT_RUNS):
                    run = Scheduler(program, 200).run(pct_chooser(seed, threads, depth, 12))
                    hits += finding(run) == expected
                figures[f"pct_hit_rate_d{depth}"] = round(hits / PCT_RUNS, 3)
        ok = (expected is None) != bool(figures.get("failures_found"))
        rows.append(Result(f"sched:{name}", Outcome.PASS if ok else Outcome.VIOLATION,
                           time.monotonic() - start, figures=figures))
    return rows
