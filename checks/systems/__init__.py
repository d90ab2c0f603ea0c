"""The registry of systems: what each modelled subject brings to the checkers.

A *system* is one modelled subject with its own spec (``gpuvm``: the VA
space; ``vmbo``: drm_gpuvm_bo; later drm_exec, the front ends, userptr,
SVM).  Every checker is written once and loops over :data:`SYSTEMS`; a system
brings only what is its own, in ``checks/systems/<name>/``:

- the model component (a class following :class:`model.component.Component`)
  and its action vocabulary (:class:`model.actions.Vocabulary`);
- the history variables a step adds to the component's abstract state
  (``lastOps``, ``lastErr``), the invariants checked after every replayed
  step, and the contract of one step;
- the TLA+ value codec (:class:`Codec`) and the folder ``specs/<Spec>/``
  with the spec, its ``MC*`` models, its ``Trace*`` module and its
  ``manifest.json`` (TLC models, obligations, machines, conformance runs and
  mutants, each with its expected outcome and runtime class);
- its state machines, its recorded runs for conformance, its Z3
  obligations, its renderer.

Heavy parts (machines, obligations) are named as ``"module:attribute"`` and
imported only when a checker needs them, so listing the systems imports no
solver and no Hypothesis.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from checks.outcome import ToolError
from model.actions import Vocabulary
from model.trace import Event

SPECS_ROOT = Path(__file__).resolve().parent.parent.parent / "specs"


class Codec(Protocol):
    """How one system's abstract values are written in its TLA+ spec, and back."""

    def to_spec(self, var: str, value: Any) -> Any:
        """An abstract variable's value -> plain data in the spec's encoding."""
        ...

    def from_spec(self, var: str, value: Any) -> Any:
        """A value TLC printed (already parsed into plain data) -> the abstract value."""
        ...

    def args_to_spec(self, action: str, args: Mapping[str, Any]) -> list[Any]:
        """An action's arguments, in the spec operator's order and encoding."""
        ...

    def args_from_spec(self, action: str, args: Mapping[str, Any]) -> dict[str, Any]:
        """The spec's ``lastAct.args`` record -> the model's arguments."""
        ...

    def config_of(self, constants: Mapping[str, Any], printed: Any = None) -> dict[str, Any]:
        """A model's ``.cfg`` constants -> the component's ``config()``; ``printed`` is
        the value the model printed as ``@config`` (for constants a ``.cfg`` cannot
        hold), if it printed one."""
        ...

    def constants(self, config: Mapping[str, Any], states: Sequence[Mapping[str, Any]]
                  ) -> list[str]:
        """The ``CONSTANTS`` lines of a trace-validation config for runs of ``config``
        whose recorded states are ``states`` (abstract, for the values they use)."""
        ...

    def definitions(self, config: Mapping[str, Any]) -> list[str]:
        """TLA+ definitions the trace-validation data module needs (constants that are
        functions or records, which a ``.cfg`` cannot write, bound with ``<-``)."""
        ...


class VocabularyArgs:
    """The argument half of a :class:`Codec` for a system whose spec takes an action's
    arguments in the vocabulary's order and in the model's encoding."""

    vocabulary: Vocabulary

    def args_to_spec(self, action: str, args: Mapping[str, Any]) -> list[Any]:
        return self.vocabulary.positional(action, args)

    def args_from_spec(self, action: str, args: Mapping[str, Any]) -> dict[str, Any]:
        return dict(args)


def load(ref: str) -> Any:
    """The attribute ``"module:attr"`` names."""
    module, _, attr = ref.partition(":")
    return getattr(importlib.import_module(module), attr)


@dataclass(frozen=True)
class System:
    """One registered system.  See the module docstring."""

    name: str
    spec: str
    summary: str
    vocabulary: Vocabulary
    #: the model component's class: ``from_config``, ``abstract``, ``restore``
    component: Any
    #: the history variables one event adds (``None``: the initial state)
    history: Callable[[Event | None], dict[str, Any]]
    #: the variables of a trace of a component with this config
    variables: Callable[[Mapping[str, Any]], tuple[str, ...]]
    #: raise ``InvariantViolation`` unless the component keeps its invariants
    check_state: Callable[[Any], None]
    #: the contract of one accepted step: (config, before, action, args, result, after)
    check_step: Callable[[Mapping[str, Any], Mapping[str, Any], str, Mapping[str, Any], Any,
                          Mapping[str, Any]], None]
    #: ``"module:attr"`` of the :class:`Codec` instance
    codec_ref: str
    #: ``"module:attr"`` of ``{machine name: machine class}``
    machines_ref: str = ""
    #: ``"module:attr"`` of ``record_runs(n, seed, variant) -> list[Trace]``
    runs_ref: str = ""
    #: the variants ``record_runs`` is called with (e.g. the profiles)
    run_variants: tuple[str, ...] = ("",)
    #: ``"module:attr"`` of ``obligations(k) -> list[Obligation]``, if any
    obligations_ref: str = ""
    #: ``"module:attr"`` of ``render_step(step, previous, trace) -> list[str]``
    render_ref: str = ""
    #: variables that must be in every trace of the system (exact mode)
    required: tuple[str, ...] = ()
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def spec_dir(self) -> Path:
        return SPECS_ROOT / self.spec

    @property
    def manifest_path(self) -> Path:
        return self.spec_dir / "manifest.json"

    def codec(self) -> Codec:
        codec: Codec = load(self.codec_ref)
        return codec

    def machines(self) -> dict[str, Any]:
        return dict(load(self.machines_ref)) if self.machines_ref else {}

    def make(self, config: Mapping[str, Any]) -> Any:
        """A fresh component from ``config`` (the trace's ``#meta.config``)."""
        return self.component.from_config(config)

    def state_of(self, component: Any, event: Event | None) -> dict[str, Any]:
        """The trace state after ``event``: the abstract state and the history."""
        state: dict[str, Any] = component.abstract()
        state.update(self.history(event))
        return state


def _registered() -> dict[str, System]:
    from checks.systems.drmexec import SYSTEM as DRMEXEC
    from checks.systems.gpuvm import SYSTEM as GPUVM
    from checks.systems.i915 import SYSTEM as I915
    from checks.systems.nouveau import SYSTEM as NOUVEAU
    from checks.systems.userptr import SYSTEM as USERPTR
    from checks.systems.vmbo import SYSTEM as VMBO
    from checks.systems.xe import SYSTEM as XE

    return {s.name: s for s in (GPUVM, VMBO, DRMEXEC, I915, NOUVEAU, XE, USERPTR)}


SYSTEMS: dict[str, System] = _registered()


def get(name: str) -> System:
    """The system ``name``; :class:`ToolError` naming the known ones if there is none."""
    try:
        return SYSTEMS[name.lower()]
    except KeyError:
        raise ToolError(f"unknown system {name!r} (systems: {', '.join(SYSTEMS)})") from None


def by_spec(spec: str, where: str = "") -> System:
    """The system whose spec is ``spec`` (a trace's ``#meta.spec``)."""
    for s in SYSTEMS.values():
        if s.spec == spec:
            return s
    raise ToolError(f"no system has the spec {spec!r} (specs: "
                    f"{', '.join(s.spec for s in SYSTEMS.values())})", where or None)


def select(names: Sequence[str]) -> list[System]:
    """The systems named (all when none are)."""
    return [get(n) for n in names] if names else list(SYSTEMS.values())
