"""Counterexample traces: ITF JSON read/write and recording, for every system.

One format for every source (model runs, TLC, Hypothesis, Z3): ITF JSON in
the shape of Apalache's ADR-015 -- a top-level ``#meta``, ``vars`` and
``states``.  Each state carries the system's spec-level variables (the
component's ``abstract()`` plus the history variables of the step, e.g.
``lastOps`` and ``lastErr``) and its own ``#meta`` with ``index``,
``action``, ``args`` and ``thread``.  The trace-level ``#meta`` holds
``spec`` (which names the system), ``source``, ``description``, the
component's ``config`` and, for a counterexample of a known-bad variant,
``mutant``.  Integers of 2**53 and above are ``{"#bigint": "..."}``.

Reading is strict (``checks.itf``): a file that is not a regular file, not
UTF-8, not JSON, or not of the trace schema is a :class:`ToolError` naming
the file, the line and the JSON path -- never a traceback and never a trace.
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from checks import itf
from checks.outcome import ToolError
from model.trace import Event

_META_KEYS = {"format", "format-description", "spec", "source", "description", "config"}
_SAFE = 1 << 53


# ------------------------------------------------------------------ encoding

def encode(value: Any) -> Any:
    """Plain JSON-able data -> ITF values (big integers tagged)."""
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return value
    if isinstance(value, int):
        return value if -_SAFE < value < _SAFE else {"#bigint": str(value)}
    if isinstance(value, Mapping):
        return {str(k): encode(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [encode(v) for v in value]
    raise TypeError(f"cannot encode {value!r} as ITF")


decode = itf.decode


def strict_equal(a: Any, b: Any) -> bool:
    """Equality that tells ``True`` from ``1`` and ``1.0`` from ``1`` at every depth."""
    if a != b:  # the common answer, at C speed
        return False
    try:  # equal values: JSON tells true from 1 and 1.0 from 1, also at C speed
        return json.dumps(a, sort_keys=True) == json.dumps(b, sort_keys=True)
    except (TypeError, ValueError):  # keys JSON cannot sort, values it cannot write
        return _same_types(a, b)


def _same_types(a: Any, b: Any) -> bool:
    if type(a) is not type(b):
        return False
    if isinstance(a, dict):
        return all(_same_types(a[k], b[k]) for k in a)
    if isinstance(a, list | tuple):
        return all(_same_types(x, y) for x, y in zip(a, b, strict=True))
    return True


# --------------------------------------------------------------------- model

@dataclass
class Step:
    """One state of a trace: what led to it, and the state itself."""

    index: int
    action: str
    args: dict[str, Any]
    state: dict[str, Any]
    thread: str | None = None


@dataclass
class Trace:
    """A behaviour: ``steps[0]`` is the initial state (action ``Init``)."""

    spec: str
    config: dict[str, Any]
    steps: list[Step] = field(default_factory=list)
    source: str = "model"
    description: str = ""
    variables: Sequence[str] = ("vas", "lastOps", "lastErr")
    #: further ``#meta`` entries, e.g. ``mutant``: the known-bad variant it is a counterexample of
    meta: dict[str, Any] = field(default_factory=dict)
    #: a lasso (a liveness counterexample): the index of the state the last one is
    #: followed by again, for ever (ITF's ``loop``); None for a finite behaviour
    loop: int | None = None

    @property
    def profile(self) -> str:
        return str(self.config.get("profile", "upstream"))

    def to_itf(self) -> dict[str, Any]:
        states = []
        for s in self.steps:
            meta: dict[str, Any] = {"index": s.index, "action": s.action, "args": encode(s.args)}
            if s.thread is not None:
                meta["thread"] = s.thread
            states.append({"#meta": meta, **{k: encode(v) for k, v in s.state.items()}})
        return {
            "#meta": {
                "format": "ITF",
                "format-description": "Apalache ADR-015 informal trace format",
                "spec": self.spec,
                "source": self.source,
                "description": self.description,
                "config": encode(self.config),
                **encode(self.meta),
            },
            "vars": list(self.variables),
            "states": states,
            **({"loop": self.loop} if self.loop is not None else {}),
        }

    def write(self, path: Path) -> Path:
        """Write the trace to ``path`` (atomically: a failed write leaves no file)."""
        text = json.dumps(self.to_itf(), indent=1) + "\n"
        return write_text_atomic(path, text, "trace")


def write_text_atomic(path: Path, text: str, what: str) -> Path:
    """Write ``text`` to ``path`` through a temporary file renamed into place.

    A failed write leaves neither a partial file nor the temporary one;
    :class:`ToolError` names the path.
    """
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp.write_text(text)
        os.replace(tmp, path)
    except OSError as e:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise ToolError(f"cannot write the {what}: {e.strerror or e}", str(path)) from None
    return path


def parse_itf(doc: Any, where: str) -> Trace:
    """Build a :class:`Trace` from a document already checked against the trace schema."""
    meta, variables, states = doc["#meta"], doc["vars"], doc["states"]
    config = decode(meta.get("config", {}))
    trace = Trace(spec=meta["spec"], config=config, source=str(meta.get("source", "?")),
                  description=str(meta.get("description", "")), variables=tuple(variables),
                  meta={k: decode(v) for k, v in meta.items() if k not in _META_KEYS},
                  loop=doc.get("loop"))
    for i, raw in enumerate(states):
        smeta = raw["#meta"]
        thread = smeta.get("thread")
        trace.steps.append(Step(i, smeta.get("action", "Init" if i == 0 else "?"),
                                decode(smeta.get("args", {})),
                                {v: decode(raw[v]) for v in variables}, thread))
    return trace


def read_trace(path: Path) -> Trace:
    """Read an ITF file, strictly; :class:`ToolError` at ``file:line`` if it is not a trace."""
    doc, _ = itf.load_trace_doc(path)
    return parse_itf(doc, str(path))


# ------------------------------------------------------------------ recording

class Recorder:
    """A :class:`model.trace.Tracer` that records one component's events as a trace.

    ``state_of(component, event)`` gives the trace state after an event
    (the system's abstract state and history variables).
    """

    def __init__(self, spec: str, component: Any, config: dict[str, Any],
                 variables: Sequence[str], state_of: Any, source: str = "model") -> None:
        self.component = component
        self.state_of = state_of
        self.trace = Trace(spec=spec, config=config, source=source, variables=tuple(variables))
        self.trace.steps.append(Step(0, "Init", {}, state_of(component, None)))
        self.last: Event | None = None
        component.tracer = self

    def event(self, ev: Event) -> None:
        self.last = ev
        self.trace.steps.append(Step(len(self.trace.steps), ev.action, dict(ev.args),
                                     self.state_of(self.component, ev), ev.thread))


# -------------------------------------------------------------- replay reports

@dataclass
class Divergence:
    """The first step at which the model and the trace disagree."""

    step: int
    action: str
    args: dict[str, Any]
    expected: dict[str, Any]
    actual: dict[str, Any]

    def describe(self) -> str:
        lines = [f"step {self.step}: {self.action} {json.dumps(self.args)}"]
        for var in sorted(set(self.expected) | set(self.actual)):
            e, a = self.expected.get(var), self.actual.get(var)
            if not strict_equal(e, a):
                lines.append(f"  {var}: expected {json.dumps(e)}")
                lines.append(f"  {' ' * len(var)}  actual   {json.dumps(a)}")
        return "\n".join(lines)


@dataclass
class Violation:
    """A model invariant that broke while replaying, and where."""

    step: int
    invariant: str
    detail: str
    #: the model's state after the step equals the trace's (known only when
    #: the action itself completed)
    state_matches: bool = False


@dataclass
class ReplayReport:
    """What re-executing a trace on the model gave.

    ``expected`` is the invariant the trace's ``#meta.violation`` names (a
    counterexample's), if any.
    """

    steps: int
    divergence: Divergence | None = None
    violation: Violation | None = None
    expected: str | None = None

    @property
    def clean(self) -> bool:
        return self.divergence is None and self.violation is None

    @property
    def reproduced(self) -> bool:
        """The model broke an invariant at the trace's last step, as the trace says.

        As the trace says: the model's state after that step is the trace's,
        or the invariant it broke is the one the trace names.  A model that
        breaks some invariant at that step by doing something else does not
        reproduce the trace.
        """
        v = self.violation
        return (self.divergence is None and v is not None and v.step == self.steps - 1
                and (v.state_matches or (self.expected is not None
                                         and v.invariant == self.expected)))
