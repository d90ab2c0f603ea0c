"""The ``i915`` system: the i915 VM_BIND front end (seed 000).

Model ``model.i915.I915System`` (profiles ``seed`` and ``fixed``).  The front
end is synchronous (one transaction under ``vm_bind_lock``), so it has no
TLA+ spec: its checkers are the state machines (every field of both ioctl
structs, both profiles, against the notes' A2 order and A5 invariants), the
Z3 obligations of ``specs/z3/validation.py`` -- whose counterexamples replay
on this model (``checks.i915_replay``) -- and its mutants.  A trace state is
``abstract()`` (``vms``, ``gems``) plus ``lastErr`` and ``lastStart`` (the
``start`` the caller reads back after a VmBind: the seed writes the
non-canonical one, B8).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from checks.systems import System, VocabularyArgs
from model.i915 import VOCABULARY, I915System, check_i915
from model.trace import Event

VARIABLES = ("vms", "gems", "lastErr", "lastStart")


def history(ev: Event | None) -> dict[str, Any]:
    if ev is None or ev.errno is not None:
        return {"lastErr": "OK" if ev is None else ev.errno, "lastStart": -1}
    start = getattr(ev.result, "start", -1)
    return {"lastErr": "OK", "lastStart": start if isinstance(start, int) else -1}


def variables(config: Mapping[str, Any]) -> tuple[str, ...]:
    return VARIABLES


def check_step(config: Mapping[str, Any], before: Mapping[str, Any], action: str,
               args: Mapping[str, Any], result: Any, after: Mapping[str, Any]) -> None:
    from checks.systems.i915.oracle import check_i915_step

    check_i915_step(config, before, action, args, result, after)


class _NoSpec(VocabularyArgs):
    """i915 has no TLA+ spec: values are the model's own."""

    vocabulary = VOCABULARY

    def to_spec(self, var: str, value: Any) -> Any:
        return value

    def from_spec(self, var: str, value: Any) -> Any:
        return value

    def config_of(self, constants: Mapping[str, Any], printed: Any = None) -> dict[str, Any]:
        raise ValueError("i915 has no TLA+ models")

    def constants(self, config: Mapping[str, Any], states: Any) -> list[str]:
        raise ValueError("i915 has no TLA+ spec to validate runs against")

    def definitions(self, config: Mapping[str, Any]) -> list[str]:
        return []


CODEC = _NoSpec()

SYSTEM = System(
    name="i915",
    spec="I915",
    summary="i915 VM_BIND (seed 000): whole objects at fixed VAs, the seed's checks "
            "and the review's",
    vocabulary=VOCABULARY,
    component=I915System,
    history=history,
    variables=variables,
    check_state=check_i915,
    check_step=check_step,
    codec_ref="checks.systems.i915:CODEC",
    machines_ref="checks.systems.i915.machine:MACHINES",
    render_ref="checks.systems.i915.render:RENDERER",
    required=("vms", "gems", "lastErr"),
    extra={"tla": False},
)
