"""What every system's Hypothesis state machine has in common.

A machine drives a system's component with actions chosen by Hypothesis and
checks, in named ``@invariant()`` methods, what an oracle that knows nothing
of the model's code says must hold.  This base gives each machine:

- :meth:`SystemMachine.act` -- the one way a rule runs an action: with real
  arguments, logged, and printed in the falsifying program exactly as it can
  be run again (``state.act('Map', addr=3, range=1, gem='a', offset=4,
  flags=0)``), whatever raw choices the rule decoded them from;
- :attr:`latest` -- the last instance of each machine class, which after a
  failed run is the shrunk example (Hypothesis runs it last);
- :meth:`minimise` -- the shrunk example's concrete actions shrunk further,
  a step at a time, rerun on fresh machines with every invariant checked;
- :meth:`failure_trace` -- that example replayed into the system's recorder:
  the ITF counterexample ``gpuvm-check replay`` re-executes;
- :data:`STATS` -- steps and examples counted across instances, for the
  ``fuzz`` command's figures.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

from hypothesis import note
from hypothesis.control import currently_in_test_context
from hypothesis.stateful import INVARIANT_MARKER, RuleBasedStateMachine

from checks.traces import Step, Trace
from model.errors import GpuVmError

Args = dict[str, Any]



def _act_text(action: str, args: Mapping[str, Any], thread: str | None) -> str:
    return (f"state.act({action!r}" + (f", {thread!r}" if thread is not None else "")
            + "".join(f", {k}={_num(v)}" for k, v in args.items()) + ")")

class CheckFailed(AssertionError):
    """A check of a machine failed; the message names the invariant."""

    def __init__(self, invariant: str, detail: str) -> None:
        super().__init__(f"{invariant}: {detail}")
        self.invariant = invariant
        self.detail = detail


@dataclass
class Stats:
    """Counters across machine instances (read by ``gpuvm-check fuzz``)."""

    steps: int = 0
    examples: int = 0


STATS = Stats()


def _num(v: object) -> str:
    return f"{v:#x}" if type(v) is int and abs(v) >= 1 << 20 else repr(v)


def fmt_args(args: Mapping[str, Any]) -> str:
    return ", ".join(f"{k}={_num(v)}" for k, v in args.items())


def _invariant_of(failure: Exception) -> str:
    return str(getattr(failure, "invariant", type(failure).__name__))


def say(text: str) -> None:
    """``hypothesis.note`` when Hypothesis runs the machine; nothing when a program does."""
    if currently_in_test_context():
        note(text)


class SystemMachine(RuleBasedStateMachine):
    """Base of the state machines: the action log, printing, counterexamples."""

    #: the last instance of each machine class
    latest: ClassVar[dict[type[SystemMachine], SystemMachine]] = {}

    def __init__(self) -> None:
        super().__init__()
        SystemMachine.latest[type(self)] = self
        STATS.examples += 1
        #: (action, args, thread) of every action run, in order
        self.log: list[tuple[str, Args, str | None]] = []
        self._calls: list[str] = []
        #: the direct API call (not a spec action) being checked, if any
        self.current_call: str | None = None
        #: the arguments of :meth:`setup` this run started with (``None``: not known)
        self.setup_args: tuple[Any, ...] | None = None

    # ----------------------------------------------------------- running

    def act(self, action: str, thread: str | None = None, /, **args: Any) -> None:
        """Run one action with these arguments, on everything the machine drives."""
        self._calls.append(_act_text(action, args, thread))
        self.log.append((action, dict(args), thread))
        self.current_call = None
        STATS.steps += 1
        self.run_action(action, dict(args), thread)

    def direct(self, call: str) -> None:
        """Note a direct call of the model's API (not a spec action) about to be checked;
        ``call`` is how the printed program runs it."""
        self._calls.append(f"state.{call}")
        self.current_call = call
        STATS.steps += 1

    def run_action(self, action: str, args: Args, thread: str | None) -> None:
        """Run ``action`` on the machine's components and record what the checks need."""
        raise NotImplementedError

    def _repr_step(self, rule: Any, data: Any, result: Any) -> str:
        """The step as the falsifying program prints it: the actions it ran, with
        their real arguments, or Hypothesis' own line when it ran none."""
        calls, self._calls = self._calls, []
        if calls:
            return "\n".join(calls)
        return str(super()._repr_step(rule, data, result))

    def fail(self, invariant: str, detail: str) -> CheckFailed:
        if self.current_call is not None:
            where = f"after {len(self.log)} step(s), the direct call {self.current_call}"
        elif self.log:
            action, args, _ = self.log[-1]
            where = f"step {len(self.log)} {action}({fmt_args(args)})"
        else:
            where = "Init"
        return CheckFailed(invariant, f"{where}: {detail}")

    # ---------------------------------------------------------- shrinking

    def setup(self, *args: Any) -> None:
        """Start as a printed program's first line says (machines with set-up override)."""
        raise NotImplementedError

    def run_invariants(self) -> None:
        """Every ``@invariant`` of the machine, in name order."""
        for name in sorted(dir(type(self))):
            f = getattr(type(self), name, None)
            if callable(f) and hasattr(f, INVARIANT_MARKER):
                f(self)

    def rerun(self, log: Sequence[tuple[str, Args, str | None]]) -> Exception | None:
        """``log`` on a fresh machine set up like this one, every invariant checked
        after each step: the first failure, or ``None``."""
        latest, examples, steps = dict(SystemMachine.latest), STATS.examples, STATS.steps
        try:
            m = type(self)()
            m.setup(*(self.setup_args or ()))
            for action, args, thread in log:
                m.act(action, thread, **args)
                m.run_invariants()
        except Exception as e:  # a finding: what the run is being shrunk for
            return e
        finally:
            SystemMachine.latest = latest
            STATS.examples, STATS.steps = examples, steps
        return None

    def program(self) -> str:
        """:attr:`log` as the calls of a falsifying program (``state.act(...)``)."""
        return "\n".join(_act_text(a, args, t) for a, args, t in self.log)

    def minimise(self, invariant: str, budget: int = 400) -> Exception | None:
        """Drop steps of :attr:`log` while the shorter run still breaks ``invariant``.

        Hypothesis shrinks the draws; a request drawn near live mappings then
        cannot lose the steps that placed them.  This pass shrinks the
        concrete actions instead, one step at a time (at most ``budget``
        reruns), and keeps the log it ends with; the failure of that log, or
        ``None`` if the log cannot be rerun (a direct call failed, or the
        machine has no set-up to repeat).
        """
        if self.current_call is not None or self.setup_args is None:
            return None
        first = self.rerun(self.log)
        if first is None or _invariant_of(first) != invariant:
            return None
        log, found, runs = list(self.log), first, 0
        changed = True
        while changed and runs < budget:
            changed = False
            i = 0
            while i < len(log) and runs < budget:
                shorter = log[:i] + log[i + 1:]
                runs += 1
                bad = self.rerun(shorter)
                if bad is not None and _invariant_of(bad) == invariant:
                    log, found, changed = shorter, bad, True
                else:
                    i += 1
        self.log = log
        return found

    # ------------------------------------------------------------ traces

    #: the registered system the machine drives (the defaults below need it and a
    #: component in ``self.sys``)
    system_name: ClassVar[str] = ""

    def fresh_component(self) -> Any:
        """A new component as the machine's was at the start (for :meth:`failure_trace`)."""
        from checks.systems import get

        return get(self.system_name).make(self.sys.config())  # type: ignore[attr-defined]

    def recorder_for(self, component: Any) -> Any:
        from checks.replay import recorder
        from checks.systems import get

        return recorder(get(self.system_name), component)

    def perform(self, component: Any, action: str, args: Args) -> Any:
        from checks.systems import get

        return get(self.system_name).vocabulary.perform(component, action, args)

    def failure_trace(self, message: str) -> Trace:
        """This run's actions replayed into a recorder: the ITF counterexample.

        A step at which the model itself raised (not an errno) ends the trace
        with the state it left, and the description says so.
        """
        component = self.fresh_component()
        rec = self.recorder_for(component)
        rec.trace.source = "hypothesis"
        notes = [message]
        for i, (action, args, _thread) in enumerate(self.log, 1):
            try:
                self.perform(component, action, args)
            except GpuVmError:
                pass
            except Exception as e:  # the model broke at this step
                state = rec.state_of(component, None)
                rec.trace.steps.append(Step(len(rec.trace.steps), action, dict(args), state))
                notes.append(f"at step {i} the model raised {type(e).__name__}: {e}")
                break
        rec.trace.description = "\n".join(notes)
        trace: Trace = rec.trace
        return trace
