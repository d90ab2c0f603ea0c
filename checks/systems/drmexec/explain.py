"""Witnesses for DrmExec counterexamples: the model's own invariants over the trace.

Each state of a TLC counterexample is put into the model with ``restore()``
and checked with ``model.drmexec.check_drmexec``, written from the notes'
invariant 36, not from the spec: the first state that breaks one names it
with expected against actual ("no thread can step: t1 -> b -> t2, ...").
"""

from __future__ import annotations

from typing import Any

from model.drmexec import DrmExecSystem, check_drmexec
from model.errors import GpuVmError, InvariantViolation


def explain(trace: Any) -> tuple[int, str] | None:
    """(step, witness) of the first state the model's invariants reject, or None."""
    s = DrmExecSystem.from_config(trace.config)
    own = s.abstract().keys()
    for step in trace.steps:
        try:
            s.restore({k: v for k, v in step.state.items() if k in own})
            check_drmexec(s)
        except InvariantViolation as e:
            return step.index, f"{e.invariant}: {e.detail}"
        except GpuVmError as e:
            return step.index, f"the model cannot hold this state: {e}"
    if trace.loop is not None and 0 <= trace.loop < len(trace.steps):
        k = trace.loop
        last = trace.steps[-1].state
        stuck = sorted(t for t, pc in last.get("pc", {}).items() if pc != "end")
        cycle = [f"{s.action}({s.thread or s.args.get('thread')})" for s in trace.steps[k + 1:]]
        return len(trace.steps) - 1, (
            f"a lasso: after step {len(trace.steps) - 1} a step leads back to state {k}, "
            f"and {' '.join(cycle)} repeat for ever; never finishing: {', '.join(stuck)} "
            f"(expected every thread to end)")
    return None
