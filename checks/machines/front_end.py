"""The state machine a front end shares: one component, an errno oracle, the contracts.

:class:`FrontEndMachine` drives one model component made from
``config(profile)``; every action's outcome is kept as :class:`Last` --
the state before, the result or errno, and what the system's oracle
(``expect``) said it should be -- for the invariants to judge: each
accepted step's contract (``check_step``) and the model's own invariants
(``check_state``) are shared; the errno and all-or-nothing rules, which
differ between front ends, are each machine's.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

from hypothesis.stateful import initialize, invariant

from checks.machines.base import Args, SystemMachine
from model.actions import Vocabulary
from model.errors import GpuVmError, InvariantViolation


@dataclass(frozen=True)
class Last:
    """The last action and its outcome."""

    action: str
    args: Args
    before: dict[str, Any]
    result: Any
    errno: str | None
    want: Any
    #: the injected failure pending when it started (0: none)
    pending: int = 0


class FrontEndMachine(SystemMachine):
    """A machine over one front-end component (the subclass names its parts)."""

    profile: ClassVar[str] = "fixed"
    component: ClassVar[Any]
    vocabulary: ClassVar[Vocabulary]
    #: (static) profile -> the component's configuration
    config_of: ClassVar[Any]
    #: (static) the model's invariants: raise InvariantViolation
    check_state: ClassVar[Any]
    #: (static) an accepted step's contract: (config, before, action, args, result, after)
    check_step: ClassVar[Any]

    def __init__(self) -> None:
        super().__init__()
        self.sys = self._make()
        self.last: Last | None = None

    def _make(self) -> Any:
        return self.component.from_config(type(self).config_of(self.profile))

    def setup(self) -> None:
        self.setup_args = ()
        self.sys = self._make()

    @initialize()
    def init_system(self) -> None:
        self._calls.append("state.setup()")
        self.setup()

    def expect(self, before: dict[str, Any], action: str, args: Args) -> Any:
        """The oracle's outcome of ``action`` from ``before``."""
        raise NotImplementedError

    def after_action(self) -> None:
        """What the machine notes after each action (coverage, say)."""

    def run_action(self, action: str, args: Args, thread: str | None) -> None:
        before = self.sys.abstract()
        want = self.expect(before, action, args)
        pending = int(getattr(self.sys, "fail_at", 0) or 0)
        try:
            result = self.vocabulary.perform(self.sys, action, args)
        except GpuVmError as e:
            self.last = Last(action, args, before, None, e.errno_name, want, pending)
        else:
            self.last = Last(action, args, before, result, None, want, pending)
        self.after_action()

    @invariant()
    def step_inv(self) -> None:
        last = self.last
        if last is None or last.errno is not None:
            return
        try:
            type(self).check_step(self.sys.config(), last.before, last.action, last.args,
                                  last.result, self.sys.abstract())
        except InvariantViolation as e:
            raise self.fail(e.invariant, e.detail) from None

    @invariant()
    def model_inv(self) -> None:
        try:
            type(self).check_state(self.sys)
        except InvariantViolation as e:
            raise self.fail(e.invariant, e.detail) from None
