"""State machines of the userptr system: Hypothesis picks the schedule.

:class:`UserptrMachine` draws a layout (two userptrs sharing page 1, or
apart) and a bound on invalidations, then at every step lets Hypothesis pick
which enabled step of which thread comes next -- the mm's invalidations and
callbacks, the binder, the worker / exec / fault handler, the PT jobs and
the GPU -- shrunk like any other draw.  After every step: the model's
invariants (``check_userptr``) and, for a step drawn among those *not*
enabled, that it was refused with ``-EBUSY`` and changed nothing.
``userptr-<mode>`` machines run the upstream profile and must pass;
``userptr-seed-<mode>`` run the seed and must find its bugs (A10's sg from
freed frames, R13's stale commit in fault mode, A3's zap under a pending
bind).
"""

from __future__ import annotations

from typing import Any, ClassVar

import hypothesis.strategies as st
from hypothesis.stateful import initialize, invariant, precondition, rule

from checks.machines.base import Args, SystemMachine
from model.errors import GpuVmError, InvariantViolation
from model.userptr import VOCABULARY, UserptrSystem
from model.userptr_check import check_userptr

LAYOUTS: tuple[dict[str, list[int]], ...] = ({"u1": [0, 2], "u2": [1, 3]},
                                              {"u1": [0, 1], "u2": [1, 3]})


def config(layout: int, mode: str, profile: str, max_inv: int) -> dict[str, Any]:
    """The layout; in the second, the bind thread then unbinds and destroys both."""
    return UserptrSystem(3, LAYOUTS[layout], mode=mode, profile=profile, max_inv=max_inv,
                         max_exec=2, pin_errors=("EBUSY", "ENOMEM"),
                         destroy=layout == 1).config()


class UserptrMachine(SystemMachine):
    """The userptr threads, one enabled step at a time, the schedule drawn."""

    system_name = "userptr"
    mode: ClassVar[str] = "lr"
    profile: ClassVar[str] = "upstream"

    def __init__(self) -> None:
        super().__init__()
        self.sys = UserptrSystem.from_config(config(0, self.mode, self.profile, 2))

    def setup(self, layout: int, max_inv: int) -> None:
        self.setup_args = (layout, max_inv)
        self.sys = UserptrSystem.from_config(config(layout, self.mode, self.profile, max_inv))

    @initialize(layout=st.sampled_from(range(len(LAYOUTS))), max_inv=st.sampled_from((1, 2)))
    def init_system(self, layout: int, max_inv: int) -> None:
        self._calls.append(f"state.setup({layout}, {max_inv})")
        self.setup(layout, max_inv)

    def run_action(self, action: str, args: Args, thread: str | None) -> None:
        VOCABULARY.perform(self.sys, action, args)

    @precondition(lambda self: bool(self.sys.enabled()))
    @rule(data=st.data())
    def step(self, data: st.DataObject) -> None:
        acts = self.sys.enabled()
        action, args = acts[data.draw(st.integers(0, len(acts) - 1), label="which")]
        self.act(action, **args)

    @rule(data=st.data())
    def blocked(self, data: st.DataObject) -> None:
        """A step that cannot happen now is refused with -EBUSY and changes nothing."""
        ready = self.sys.enabled()
        waiting = [c for c in self.sys.candidates() if c not in ready]
        if not waiting:
            return
        action, args = data.draw(st.sampled_from(waiting), label="waiting")
        before = self.sys.abstract()
        self.direct(f"{action}({args})")
        try:
            VOCABULARY.perform(self.sys, action, args)
        except GpuVmError as e:
            if e.errno_name != "EBUSY" or self.sys.abstract() != before:
                raise self.fail("BlockedInv", f"the refused {action} gave -{e.errno_name} "
                                "or changed the state") from None
            return
        raise self.fail("BlockedInv", f"{action}({args}) ran although it was not enabled")

    @invariant()
    def model_inv(self) -> None:
        try:
            check_userptr(self.sys)
        except InvariantViolation as e:
            raise self.fail(e.invariant, e.detail) from None


def _machine(mode: str, profile: str) -> type[UserptrMachine]:
    return type(f"Userptr{profile.title()}{mode.title()}Machine", (UserptrMachine,),
                {"mode": mode, "profile": profile})


STEPS: dict[str, type[SystemMachine]] = {
    f"userptr{'-seed' if p == 'seed' else ''}-{m}": _machine(m, p)
    for p in ("upstream", "seed") for m in ("lr", "fault", "dmafence")}


def _with_schedules() -> dict[str, type[SystemMachine]]:
    """The step machines and the ones over the scheduler
    (:mod:`checks.systems.userptr.sched_machine`)."""
    from checks.systems.userptr.sched_machine import MACHINES as SCHEDULED

    return {**STEPS, **SCHEDULED}


MACHINES = _with_schedules()
