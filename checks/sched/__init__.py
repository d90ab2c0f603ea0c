"""Running concurrent programs: explore their schedules, name what breaks, write traces.

:func:`finding` names a run's verdict the way the suites expect it: ``ok``,
``deadlock``, ``livelock``, or the invariant a violation names
(``LockOrderInv``, ``RecursiveLockInv``, ...).  :func:`search` explores a
program's schedules (``model.explore``) with iterative preemption bounding
and sleep sets, and returns the failing run with the fewest preemptions and
context switches.  :func:`run_trace` turns a run into an ITF trace with a
thread per step (spec ``Sched``), which :func:`replay_trace` re-executes by
following its schedule.  :func:`hypothesis_chooser` lets Hypothesis pick
the schedule, with 0 meaning "the same thread goes on", so a failing
schedule shrinks to the fewest context switches.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from checks.outcome import ToolError
from checks.traces import Divergence, ReplayReport, Step, Trace, Violation
from model.explore import Exploration, explore
from model.program import KernelProgram
from model.sched import (
    Chooser,
    Point,
    Run,
    Scheduler,
    format_schedule,
    parse_schedule,
    replay_chooser,
)

SPEC = "Sched"


def finding(run: Run) -> str:
    """``ok``, ``deadlock``, ``livelock`` or the invariant a violation names."""
    if run.verdict != "violation":
        return run.verdict
    m = re.search(r"\b([A-Z][A-Za-z]*Inv)\b", run.detail)
    return m.group(1) if m else "AssertionError"


def search(program: KernelProgram, preemptions: int = 2, max_steps: int = 200,
           por: bool = True, limit: int = 50_000) -> Exploration:
    return explore(program, preemptions=preemptions, max_steps=max_steps, por=por, limit=limit)


def _held(program: KernelProgram) -> dict[str, list[str]]:
    """The locks each thread holds, as the lock checker sees them (for the trace)."""
    if program.lockdep is None:
        return {}
    return {t: [h.lock for h in hs] for t, hs in sorted(program.lockdep.held.items())}


def run_trace(name: str, program: KernelProgram, run: Run, description: str = "") -> Trace:
    """``run`` of the program ``name`` as an ITF trace: one state per step, with its thread.

    The states record the step taken (``point``), what it returned
    (``lastErr``: ``"OK"`` or the errno name) and the locks every thread
    holds after it (``held``, from the lock checker), re-running the
    schedule to read them.
    """
    trace = Trace(spec=SPEC, config={"program": name, "schedule": format_schedule(run.schedule)},
                  source="scheduler", description=description or run.detail,
                  variables=("point", "held", "lastErr"))
    trace.steps.append(Step(0, "Init", {}, {"point": "", "held": {}, "lastErr": "OK"}))
    helds: list[dict[str, list[str]]] = []

    class Watch:
        def __init__(self) -> None:
            self.inner = program

        def start(self) -> Any:
            return program.start()

        def check(self) -> None:
            program.check()

        def observe(self, thread: str, point: Point, result: Any) -> None:
            try:
                program.observe(thread, point, result)
            finally:
                helds.append(_held(program))

        def attempt(self, thread: str, point: Point) -> None:
            program.attempt(thread, point)

    Scheduler(Watch(), len(run.events) + 1).run(replay_chooser(run.schedule))
    for i, e in enumerate(run.events):
        err = e.result if isinstance(e.result, str) else "OK"
        trace.steps.append(Step(i + 1, e.point.kind, {"obj": e.point.obj, "mode": e.point.mode},
                                {"point": str(e.point), "held": helds[i] if i < len(helds)
                                 else {}, "lastErr": err}, e.thread))
    if run.verdict != "ok":
        trace.meta["violation"] = {"invariant": finding(run), "step": len(run.events),
                                   "witness": run.detail + (f" (cycle: {' -> '.join(run.cycle)})"
                                                            if run.cycle else "")}
    return trace


ProgramFactory = Callable[[], KernelProgram]


def all_programs() -> dict[str, ProgramFactory]:
    """Every program a ``Sched`` trace may name (``suite:program``)."""
    from checks.sched.suites import suites

    return {f"{suite}:{n}": make for suite, entries in suites().items()
            for n, (make, _) in entries.items()}


def replay_trace(trace: Trace, where: str) -> ReplayReport:
    """Re-run a ``Sched`` trace's program on its schedule; compare every step."""
    name = trace.config.get("program")
    make = all_programs().get(str(name))
    if make is None:
        known = ", ".join(all_programs())
        raise ToolError(f"no program {name!r} (programs: {known})", where)
    try:
        schedule = parse_schedule(str(trace.config.get("schedule", "")))
    except ValueError as e:
        raise ToolError(f"#meta.config.schedule: {e}", where) from None
    program = make()
    try:
        run = Scheduler(program, len(schedule) + 1).run(replay_chooser(schedule))
    except ValueError as e:  # the schedule picks a thread that cannot go on
        return ReplayReport(len(trace.steps), Divergence(0, "Init", {}, {"schedule": str(e)},
                                                         {}))
    replayed = run_trace(str(name), make(), run)
    for want, got in zip(trace.steps, replayed.steps, strict=False):
        if want.thread != got.thread or want.state.get("point") != got.state.get("point"):
            return ReplayReport(len(trace.steps), Divergence(
                want.index, want.action, want.args,
                {"thread": want.thread, "point": want.state.get("point")},
                {"thread": got.thread, "point": got.state.get("point")}))
    if run.verdict != "ok":
        # every step's thread and program point matched: the same run
        return ReplayReport(len(trace.steps), None, Violation(len(run.events), finding(run),
                                                              run.detail, True))
    return ReplayReport(len(trace.steps))


def hypothesis_chooser(draw: Callable[[int], int]) -> Chooser:
    """A chooser that asks ``draw(n)`` for an index in ``0..n-1`` at every step.

    Index 0 keeps the thread that ran last (when it can go on), so shrinking
    the draws towards 0 shrinks the schedule's context switches.
    """
    def choose(step: int, enabled: list[tuple[str, Point]], run: Run) -> str:
        names = [n for n, _ in enabled]
        last = run.events[-1].thread if run.events else names[0]
        if last in names:
            names.remove(last)
            names.insert(0, last)
        return names[draw(len(names)) if len(names) > 1 else 0]
    return choose
