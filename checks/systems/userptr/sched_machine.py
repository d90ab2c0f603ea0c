"""Hypothesis over the scheduler: the userptr programs with their locks, schedules drawn.

Where :mod:`checks.systems.userptr.machine` lets Hypothesis pick model steps
alone, :class:`UserptrSchedMachine` runs a program of the ``userptr``
schedule suite (``checks.sched.userptr_programs``: the mm under
``mmap_lock`` with the callbacks inside the mmu-notifier section, the VM_BIND
thread, the rebind worker or the fault handler, PT jobs in fence-signalling
sections, the GPU) under :class:`~model.sched.Scheduler`, the lock checker
on, and lets Hypothesis pick the thread at every step
(:func:`~checks.sched.hypothesis_chooser`: index 0 keeps the thread that
ran last, so shrinking cuts context switches).  Each rule is one whole
schedule; a run that deadlocks, livelocks or breaks an invariant (the
model's or the lock checker's) fails, and its counterexample is the run as
a ``Sched`` trace (a thread per step) that ``gpuvm-check replay``
re-executes; an example runs at most ``PER_EXAMPLE`` schedules.  Unlike the
bounded exhaustive search of ``gpuvm-check sched`` there is no preemption
bound: any interleaving may be drawn.
"""

from __future__ import annotations

from typing import Any, ClassVar

import hypothesis.strategies as st
from hypothesis.stateful import rule

from checks.machines.base import STATS, Args, SystemMachine
from checks.sched import finding, hypothesis_chooser, run_trace
from checks.sched.userptr_programs import USERPTR
from checks.traces import Trace
from model.program import KernelProgram
from model.sched import Run, Scheduler, format_schedule

MAX_STEPS = 600
#: schedules per example (one run is hundreds of steps; the rest of an example's
#: rule calls do nothing, so an example costs two runs at most)
PER_EXAMPLE = 2


class UserptrSchedMachine(SystemMachine):
    """Schedules of one ``userptr`` suite program, each drawn by Hypothesis."""

    system_name = "userptr"
    program_name: ClassVar[str] = "lr"

    def __init__(self) -> None:
        super().__init__()
        self.failing: tuple[KernelProgram, Run] | None = None

    def run_action(self, action: str, args: Args, thread: str | None) -> None:
        raise NotImplementedError("a schedule is run whole, by the rule")

    @rule(data=st.data())
    def schedule(self, data: st.DataObject) -> None:
        if len(self.log) >= PER_EXAMPLE:
            return
        make, _ = USERPTR[self.program_name]
        program = make()
        run = Scheduler(program, MAX_STEPS).run(hypothesis_chooser(
            lambda n: data.draw(st.integers(0, n - 1), label="thread")))
        self.log.append(("Schedule", {"threads": format_schedule(run.schedule)}, None))
        self._calls.append(f"# schedule {format_schedule(run.schedule)}")
        STATS.steps += len(run.events)
        got = finding(run)
        if got != "ok":
            self.failing = (make(), run)
            raise self.fail(got, f"{run.detail} (schedule {format_schedule(run.schedule)})")

    def failure_trace(self, message: str) -> Trace:
        assert self.failing is not None
        program, run = self.failing
        return run_trace(f"userptr:{self.program_name}", program, run, description=message)

    def minimise(self, invariant: str, budget: int = 400) -> Exception | None:
        return None         # Hypothesis has shrunk the schedule's draws already


def _machine(program: str) -> type[UserptrSchedMachine]:
    name = "".join(w.title() for w in program.split("-"))
    attrs: dict[str, Any] = {"program_name": program}
    return type(f"UserptrSched{name}Machine", (UserptrSchedMachine,), attrs)


#: userptr-sched-<program>: the clean programs must pass, the seed's must fail
MACHINES = {f"userptr-sched-{p}": _machine(p) for p in ("lr", "fault", "lr-reclaim", "seed-lr")}
