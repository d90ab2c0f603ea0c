"""Re-executing a trace on the model, for any system.

:func:`replay` builds the system's component from the trace's
``#meta.config``, puts it in the trace's first state (``restore``), and runs
every later step's action through the system's one dispatcher
(``Vocabulary.perform``).  After each step it checks the system's
invariants, the contract of the step, and that every variable the trace
records equals the model's (strictly: ``true`` is not ``1``).  It stops at
the first divergence or broken invariant.

An exception the model raises that is not an errno -- an assertion, a
``KeyError`` in a mutant -- is a finding at that step, never a crash of the
tool.  A trace that cannot be replayed at all (an unknown action, an
argument of the wrong kind, a config or first state the component rejects,
a variable the system does not have) is a :class:`ToolError` at the state
that says so.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from checks.outcome import ToolError
from checks.systems import System, by_spec
from checks.traces import Divergence, Recorder, ReplayReport, Trace, Violation, strict_equal
from model.actions import BadActionCall
from model.errors import GpuVmError, InvariantViolation


def recorder(system: System, component: Any, source: str = "model") -> Recorder:
    """A recorder of ``component``'s events as a trace of ``system``."""
    config = component.config()
    return Recorder(system.spec, component, config, system.variables(config),
                    system.state_of, source)


def make(system: System, config: Mapping[str, Any], where: str) -> Any:
    """The component of ``config``; :class:`ToolError` if the component refuses it."""
    try:
        return system.make(config)
    except KeyError as e:
        raise ToolError(f"#meta.config is not a {system.name} configuration: it lacks {e}",
                        where) from None
    except (GpuVmError, ValueError, TypeError, AttributeError, IndexError) as e:
        raise ToolError(f"#meta.config is not a {system.name} configuration: {e}",
                        where) from None


def check_variables(system: System, trace: Trace, where: str) -> None:
    """The trace records variables the system has, including every required one."""
    known = set(system.variables(trace.config)) | set(system.history(None))
    unknown = [v for v in trace.variables if v not in known]
    if unknown:
        raise ToolError(f"{system.spec} has no variable(s) {', '.join(unknown)} "
                        f"(variables: {', '.join(sorted(known))})", where)
    missing = [v for v in system.required if v not in trace.variables]
    if missing:
        raise ToolError(f"the trace does not record {', '.join(missing)}, which every "
                        f"{system.spec} trace must", where)


#: what a model's ``restore`` raises on a value of the wrong shape
_BAD_STATE = (GpuVmError, KeyError, IndexError, ValueError, TypeError, AttributeError)


def _restore_first(system: System, config: Mapping[str, Any], comp: Any,
                   start: Mapping[str, Any], where: str) -> None:
    """Put the trace's first state into ``comp``; a state the model cannot hold is a
    :class:`ToolError` naming the first variable that the model refuses on its own."""
    try:
        comp.restore(dict(start))
        return
    except _BAD_STATE as e:
        err = e
    for var in sorted(start):
        probe = make(system, config, where)
        try:
            probe.restore({**probe.abstract(), var: start[var]})
        except _BAD_STATE as e:
            raise ToolError(f"states[0].{var} is not a value the model can hold: "
                            f"{type(e).__name__}: {e}", where) from None
    raise ToolError(f"state 0 is not a state the model can hold: {type(err).__name__}: {err}",
                    where) from None


def replay(trace: Trace, where: str = "trace") -> ReplayReport:
    """Re-execute ``trace`` on a fresh model, checking its invariants after each step."""
    system = by_spec(trace.spec, where)
    check_variables(system, trace, where)
    comp = make(system, trace.config, where)
    first = trace.steps[0].state
    component_vars = set(comp.abstract())
    start = {k: v for k, v in first.items() if k in component_vars}
    if len(start) == len(component_vars):
        _restore_first(system, trace.config, comp, start, where)
    rec = recorder(system, comp)
    rec.trace.steps[0].state = system.state_of(comp, None)
    steps = len(trace.steps)
    named = trace.meta.get("violation")
    expected_inv = named.get("invariant") if isinstance(named, dict) else None
    expected_inv = expected_inv if isinstance(expected_inv, str) else None

    def report(divergence: Divergence | None = None,
               violation: Violation | None = None) -> ReplayReport:
        return ReplayReport(steps, divergence, violation, expected_inv)

    def found(bad: InvariantViolation, index: int, expected: dict[str, Any]) -> ReplayReport:
        # the action completed: whether its state is the trace's is known
        done = rec.trace.steps[-1] if len(rec.trace.steps) == index + 1 else None
        same = done is not None and strict_equal(
            {v: done.state.get(v) for v in expected}, expected)
        return report(None, Violation(index, bad.invariant, bad.detail, same))

    for step in trace.steps:
        expected = {v: step.state[v] for v in trace.variables}

        if step.index > 0:
            before = comp.abstract()
            at = f"{where}: state {step.index}"
            try:
                result = system.vocabulary.perform(comp, step.action, step.args)
            except BadActionCall as e:
                raise ToolError(str(e), at) from None
            except GpuVmError:
                result = None
            except InvariantViolation as bad:
                return report(None, Violation(step.index, bad.invariant, bad.detail))
            except Exception as e:  # the model itself broke: a finding, at this step
                return report(None, Violation(
                    step.index, "ModelRaises", f"{step.action} raised {type(e).__name__}: {e}"))
            if len(rec.trace.steps) != step.index + 1:
                return report(None, Violation(
                    step.index, "TraceEventInv", f"{step.action} reported no event"))
            done = rec.trace.steps[-1]
            try:
                if rec.last is not None and rec.last.errno is None:
                    system.check_step(trace.config, before, step.action, step.args, result,
                                      comp.abstract())
            except InvariantViolation as bad:
                return found(bad, step.index, expected)
        else:
            done = rec.trace.steps[0]
        try:
            system.check_state(comp)
        except InvariantViolation as bad:
            return found(bad, step.index, expected)
        got = {v: done.state.get(v) for v in expected}
        if not strict_equal(got, expected):
            return report(Divergence(step.index, step.action, step.args, expected, got))
    if trace.loop is not None:
        return report(_close_loop(system, trace, comp.abstract()))
    return report()


def _close_loop(system: System, trace: Trace, last: Mapping[str, Any]) -> Divergence | None:
    """A lasso's last transition: some step of the trace, taken from the final state,
    must lead back to state ``trace.loop``; None if one does."""
    from checks.conform.behaviours import model_step

    k = trace.loop
    assert k is not None
    if not 0 <= k < len(trace.steps):
        return Divergence(len(trace.steps), "loop", {}, {"loop": k},
                          {"states": len(trace.steps)})
    want = {v: trace.steps[k].state[v] for v in trace.variables}
    # the trace's own steps, and what the component says it can do from there
    candidates = [(st.action, dict(st.args)) for st in trace.steps[1:]]
    comp = system.make(trace.config)
    try:
        comp.restore(last)
        if hasattr(comp, "next_actions"):
            candidates += [(a, {"thread": t}) for a, t in comp.next_actions()]
    except GpuVmError:
        pass  # the trace's steps alone
    tried: list[tuple[str, dict[str, Any]]] = []
    for action, args in candidates:
        if (action, args) in tried:
            continue
        tried.append((action, args))
        got = model_step(system, trace.config, last, action, args)
        if strict_equal({v: got.get(v) for v in want}, want):
            return None
    return Divergence(len(trace.steps), "loop", {"back_to": k}, want,
                      {"note": f"none of the trace's {len(tried)} step(s) leads from the "
                               f"last state back to state {k}"})
