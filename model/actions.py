"""One declarative action vocabulary per system.

Every operation that a spec also has is an *action*, declared once here-style
with its name, its typed parameters (in the spec's argument order) and the
errnos it may return::

    MAP = Action("Map", "map", (Param("addr", U64), Param("range", U64, py="range_"),
                                Param("gem", GEM), Param("offset", U64)),
                 errnos=("EINVAL",))

From that one declaration come:

- the dispatcher: :meth:`Vocabulary.perform` calls the component's method
  with the arguments, after checking their names and kinds;
- the TLA+ argument order: :meth:`Vocabulary.positional` (the trace checker
  calls ``Map(p[1], p[2], p[3], p[4])`` in exactly this order);
- the trace event: the component reports ``Event(system, action, args, ...)``
  with the parameter names as keys;
- the state machines' rule arguments: each parameter's ``kind`` names the
  strategy that draws it.

``internal`` marks a step the implementation does not log (a worker's
cleanup, a hidden scheduler step): trace validation lets the spec take it
between logged steps.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from model.errors import ERRNOS

#: parameter kinds and the Python values each admits
U64 = "u64"          # an int (not a bool); the model itself rejects values outside u64
GEM = "gem"          # a GEM object's name (str), or None for a NULL mapping
NAME = "name"        # the name of a model object (a VM, a job, a GEM): str
BOOL = "bool"        # True or False
INT = "int"          # a small integer (an index, a count)
DATA = "data"        # plain JSON data (lists, records, ints, strings): an ioctl's arrays


def _is_data(v: Any) -> bool:
    if v is None or type(v) in (int, str, bool):
        return True
    if isinstance(v, list):
        return all(_is_data(x) for x in v)
    if isinstance(v, dict):
        return all(type(k) is str and _is_data(x) for k, x in v.items())
    return False


_KIND_CHECK = {
    U64: lambda v: type(v) is int,
    INT: lambda v: type(v) is int,
    GEM: lambda v: v is None or type(v) is str,
    NAME: lambda v: type(v) is str,
    BOOL: lambda v: type(v) is bool,
    DATA: _is_data,
}


class BadActionCall(TypeError):
    """An action called with arguments that do not fit its declaration.

    Not an errno: the caller (a trace file, a machine) named an action or an
    argument the vocabulary does not have, or gave a value of the wrong kind.
    """


@dataclass(frozen=True)
class Param:
    """One parameter: its name in traces and the spec, its kind, its Python name."""

    name: str
    kind: str
    py: str = ""
    doc: str = ""

    def __post_init__(self) -> None:
        if self.kind not in _KIND_CHECK:
            raise ValueError(f"parameter {self.name}: unknown kind {self.kind!r}")

    @property
    def kwarg(self) -> str:
        return self.py or self.name


@dataclass(frozen=True)
class Action:
    """One action: spec name, model method, parameters in spec order, errnos."""

    name: str
    method: str
    params: tuple[Param, ...] = ()
    errnos: tuple[str, ...] = ()
    doc: str = ""
    internal: bool = False

    def __post_init__(self) -> None:
        unknown = [e for e in self.errnos if e not in ERRNOS]
        if unknown:
            raise ValueError(f"action {self.name}: unknown errno(s) {unknown}")

    @property
    def param_names(self) -> tuple[str, ...]:
        return tuple(p.name for p in self.params)


class Vocabulary:
    """The closed set of actions of one system."""

    def __init__(self, system: str, actions: Sequence[Action]) -> None:
        self.system = system
        self.actions: dict[str, Action] = {}
        for a in actions:
            if a.name in self.actions:
                raise ValueError(f"{system}: action {a.name} declared twice")
            self.actions[a.name] = a

    def __contains__(self, name: object) -> bool:
        return name in self.actions

    def __iter__(self) -> Iterator[Action]:
        return iter(self.actions.values())

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(self.actions)

    def get(self, name: str) -> Action:
        try:
            return self.actions[name]
        except KeyError:
            raise BadActionCall(f"{self.system} has no action {name!r} "
                                f"(actions: {', '.join(self.actions)})") from None

    def check_args(self, name: str, args: Mapping[str, Any]) -> Action:
        """The action ``name``, once ``args`` has exactly its parameters, each of its kind."""
        action = self.get(name)
        want = set(action.param_names)
        missing = [p for p in action.param_names if p not in args]
        extra = sorted(set(args) - want)
        if missing or extra:
            parts = []
            if missing:
                parts.append(f"lacks {', '.join(missing)}")
            if extra:
                parts.append(f"has no parameter(s) {', '.join(extra)}")
            raise BadActionCall(f"{name}: {'; '.join(parts)} "
                                f"(parameters: {', '.join(action.param_names) or 'none'})")
        for p in action.params:
            if not _KIND_CHECK[p.kind](args[p.name]):
                raise BadActionCall(f"{name}: argument {p.name}={args[p.name]!r} "
                                    f"is not a {p.kind}")
        return action

    def perform(self, component: object, name: str, args: Mapping[str, Any]) -> Any:
        """Run action ``name`` on ``component``: the one dispatcher.

        Raises :class:`BadActionCall` for a call that does not fit the
        declaration; the action's own :class:`~model.errors.GpuVmError`
        propagates.
        """
        action = self.check_args(name, args)
        method = getattr(component, action.method)
        return method(**{p.kwarg: args[p.name] for p in action.params})

    def positional(self, name: str, args: Mapping[str, Any]) -> list[Any]:
        """The arguments in the spec's order (the TLA+ operator's parameters)."""
        action = self.check_args(name, args)
        return [args[p.name] for p in action.params]
