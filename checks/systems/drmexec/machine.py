"""State machines and recorded runs of the drmexec system.

:class:`DrmExecMachine` draws a thread layout (two or three threads over
overlapping arrays, a duplicate with ``IGNORE_DUPLICATES``), then lets
Hypothesis pick, at every step, which enabled thread steps next -- a
schedule, shrunk like any other Hypothesis draw.  After every step:

``model_inv``
    the model's drm_exec invariants (``model.drmexec.check_drmexec``:
    exclusion, each object once, every wanted object held when the loop is
    left, references, back to baseline, no deadlock);
``step_inv``
    the step's contract (``check_drmexec_step``): only the stepping thread's
    fields change, and the locks it takes or drops; a wound changes only the
    holder's mark;
``contract_inv``
    drm_exec's contract over the steps' results: after ``-EDEADLK`` the next
    acquisition is the contended object, holding nothing; a duplicate is
    ``-EALREADY`` without ``IGNORE_DUPLICATES`` unless it is the object taken
    on the slow path this pass;
``blocked_inv``
    a step that must wait is refused with ``-EBUSY`` and changes nothing.

:func:`record_runs` records random schedules to the end, for trace
validation.
"""

from __future__ import annotations

import random
from typing import Any, ClassVar

import hypothesis.strategies as st
from hypothesis.stateful import initialize, invariant, precondition, rule

from checks.machines.base import Args, SystemMachine
from checks.traces import Trace
from model.drmexec import (
    ACTION_OF,
    VOCABULARY,
    DrmExecSystem,
    check_drmexec,
    check_drmexec_step,
)
from model.errors import GpuVmError, InvariantViolation

#: thread layouts: (name, want, dups)
LAYOUTS: tuple[tuple[str, dict[str, list[str]], bool], ...] = (
    ("abba", {"t1": ["a", "b"], "t2": ["b", "a"]}, False),
    ("cycle3", {"t1": ["a", "b"], "t2": ["b", "c"], "t3": ["c", "a"]}, False),
    ("dups", {"t1": ["a", "b", "a"], "t2": ["b", "a"]}, True),
    ("dup-error", {"t1": ["a", "b", "a"], "t2": ["b", "a"]}, False),
    ("chain", {"t1": ["a", "b", "c"], "t2": ["c", "b"], "t3": ["b"]}, False),
)


#: the layouts recorded for trace validation, per algorithm (each is one TLC run):
#: the cycle and the duplicates (accepted, rejected) under wound-wait, the cycle
#: and the chain (a three-object array) under wait-die
RECORDED = {"wound_wait": (1, 2, 3), "wait_die": (1, 4)}


def config(layout: int, algorithm: str, rounds: int = 2) -> dict[str, Any]:
    _, want, dups = LAYOUTS[layout]
    return {"threads": list(want), "want": want, "rounds": rounds, "algorithm": algorithm,
            "dups": dups}


class DrmExecMachine(SystemMachine):
    """Threads over drm_exec, one step at a time, the schedule drawn by Hypothesis."""

    system_name = "drmexec"

    algorithm: ClassVar[str] = "wound_wait"

    def __init__(self) -> None:
        super().__init__()
        self.sys = DrmExecSystem.from_config(config(0, self.algorithm))
        self.last: tuple[str, Args, dict[str, Any], Any] | None = None
        #: thread -> the object its -EDEADLK named, until it locks something again
        self.retry: dict[str, str] = {}
        #: thread -> the object it took on the slow path in its current pass
        self.slow: dict[str, str] = {}

    def setup(self, layout: int, rounds: int) -> None:
        self.setup_args = (layout, rounds)
        self.sys = DrmExecSystem.from_config(config(layout, self.algorithm, rounds))
        self.retry, self.slow = {}, {}

    @initialize(layout=st.sampled_from(range(len(LAYOUTS))), rounds=st.sampled_from((1, 2)))
    def init_system(self, layout: int, rounds: int) -> None:
        self._calls.append(f"state.setup({layout}, {rounds})")
        self.setup(layout, rounds)

    def run_action(self, action: str, args: Args, thread: str | None) -> None:
        before = self.sys.abstract()
        result = VOCABULARY.perform(self.sys, action, args)
        self.last = (action, args, before, result)

    @precondition(lambda self: bool(self.sys.next_actions()))
    @rule(data=st.data())
    def step(self, data: st.DataObject) -> None:
        """One enabled step; index 0 (what shrinking goes to) is the first thread's."""
        acts = self.sys.next_actions()
        action, t = acts[data.draw(st.integers(0, len(acts) - 1), label="which")]
        self.act(action, t, **{"thread": t})

    @rule(data=st.data())
    def blocked(self, data: st.DataObject) -> None:
        """A step that cannot be taken now is refused and changes nothing."""
        ready = {t for _, t in self.sys.next_actions()}
        waiting = [t for t, th in self.sys.threads.items() if t not in ready]
        if not waiting:
            return
        t = data.draw(st.sampled_from(waiting), label="waiting")
        th = self.sys.threads[t]
        action = ACTION_OF.get(th.pc, "Lock")  # an ended thread has no step at all
        before = self.sys.abstract()
        self.direct(f"step({t!r}, {action!r})")
        try:
            self.sys.step(t, action)
        except GpuVmError as e:
            if e.errno_name != "EBUSY":
                raise self.fail("BlockedInv", f"{action}({t}) gave -{e.errno_name}") from None
            if self.sys.abstract() != before:
                raise self.fail("BlockedInv", f"the refused {action}({t}) changed the state"
                                ) from None
            return
        raise self.fail("BlockedInv", f"{action}({t}) ran although {t} cannot step")

    @invariant()
    def model_inv(self) -> None:
        try:
            check_drmexec(self.sys)
        except InvariantViolation as e:
            raise self.fail(e.invariant, e.detail) from None

    @invariant()
    def contract_inv(self) -> None:
        """drm_exec's contract, from the steps' results (seed 001 01/16; notes inv. 36).

        RetryInv: after ``-EDEADLK`` the thread's next acquisition is the
        contended object, holding nothing.  DupInv: without
        ``IGNORE_DUPLICATES``, meeting an object the thread holds already is
        ``-EALREADY`` unless it is the one it took on the slow path this pass.
        """
        if self.last is None:
            return
        action, args, before, result = self.last
        after = self.sys.abstract()
        t = args["thread"]
        taken = [o for o in after["owner"] if after["owner"][o] == t != before["owner"][o]]
        if taken and t in self.retry:
            want = self.retry.pop(t)
            if taken != [want] or before["held"][t]:
                raise self.fail("RetryInv", f"{t} backed off from {want} and then took "
                                f"{taken} holding {before['held'][t]}; expected {want}, "
                                "holding nothing")
        if result == "EDEADLK":
            self.retry[t] = after["contended"][t]
        if action == "SlowLock" and taken:
            self.slow[t] = taken[0]
        if action in ("Backoff", "Fini"):
            self.slow.pop(t, None)
        if action == "Lock" and result == 0 and not taken and not self.sys.dups:
            o = self.sys.threads[t].want[before["idx"][t]]
            if before["owner"][o] == t and self.slow.get(t) != o:
                raise self.fail("DupInv", f"{t} met {o} again without IGNORE_DUPLICATES and "
                                f"got 0; expected -EALREADY ({o} was not taken on the slow "
                                "path this pass)")

    @invariant()
    def step_inv(self) -> None:
        if self.last is None:
            return
        action, args, before, result = self.last
        try:
            check_drmexec_step(before, action, args, result, self.sys.abstract())
        except InvariantViolation as e:
            raise self.fail(e.invariant, e.detail) from None




class WoundWaitMachine(DrmExecMachine):
    algorithm = "wound_wait"


class WaitDieMachine(DrmExecMachine):
    algorithm = "wait_die"


MACHINES = {"drmexec-wound-wait": WoundWaitMachine, "drmexec-wait-die": WaitDieMachine}


def record_runs(n: int, seed: int, variant: str = "wound_wait",
                steps: int = 400) -> list[Trace]:
    """``n`` recorded random schedules over the layouts in turn (two rounds each) under
    ``variant``'s algorithm, each to its end (or ``steps`` steps).  Trace validation
    runs TLC once per configuration: one per layout."""
    from checks.replay import recorder
    from checks.systems import get

    rng = random.Random(seed)
    system = get("drmexec")
    layouts = RECORDED[variant]
    traces = []
    for i in range(n):
        layout = layouts[i % len(layouts)]
        s = DrmExecSystem.from_config(config(layout, variant, 2))  # one TLC run per layout
        rec = recorder(system, s, source="random-schedule")
        for _ in range(steps):
            acts = s.next_actions()
            if not acts:
                break
            action, t = rng.choice(acts)
            VOCABULARY.perform(s, action, {"thread": t})
        rec.trace.description = (f"random schedule {i} of seed {seed} ({variant}, "
                                 f"layout {LAYOUTS[layout][0]})")
        traces.append(rec.trace)
    return traces
