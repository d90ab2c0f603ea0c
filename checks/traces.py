"""Counterexample traces: ITF JSON read/write, recording and replay.

One format for every source (model runs, TLC, Hypothesis, Z3): ITF JSON in
the shape of Apalache's ADR-015 -- a top-level ``#meta``, ``vars`` and
``states``.  Each state carries the spec-level variables plus its own
``#meta`` with ``index``, ``action``, ``args``, ``thread``.  For the VA space:

``vas``
    the mappings, ascending: ``[addr, range, gem, offset]`` (``gem`` null
    for a NULL mapping);
``regions``
    only when regions are enabled: ``[addr, range, sparse]``;
``lastOps``
    the op list the action produced (empty for state 0 and for errors);
``lastErr``
    ``"OK"`` or the errno name the action returned (``"EINVAL"``, ...).

``lastOps`` and ``lastErr`` are history variables: the action's output, so
that a trace and the spec agree on what each step *returned* as well as on
the state it left.  Integers of 2**53 and above are ``{"#bigint": "..."}``.
The trace-level ``#meta`` holds ``spec``, ``source``, ``profile`` and the VM
``config`` needed to replay it.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from checks.outcome import ToolError, load_json
from model.errors import GpuVmError, InvariantViolation
from model.invariants import check_step, check_vaspace
from model.ops import Op, ops_to_json
from model.profiles import profile_by_name
from model.vaspace import VaSpace

VASPACE_VARS = ("vas", "lastOps", "lastErr")
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


def decode(value: Any) -> Any:
    """ITF values -> plain data; ``#bigint`` back to int, ``#set``/``#tup`` to lists."""
    if isinstance(value, dict):
        if "#bigint" in value:
            return int(value["#bigint"])
        if "#set" in value:
            return [decode(v) for v in value["#set"]]
        if "#tup" in value:
            return [decode(v) for v in value["#tup"]]
        return {k: decode(v) for k, v in value.items()}
    if isinstance(value, list):
        return [decode(v) for v in value]
    return value


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
    variables: Sequence[str] = VASPACE_VARS
    #: further ``#meta`` entries, e.g. ``mutant``: the known-bad variant it is a counterexample of
    meta: dict[str, Any] = field(default_factory=dict)

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
        }

    def write(self, path: Path) -> Path:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(self.to_itf(), indent=1) + "\n")
        return path


def parse_itf(doc: Any, where: str) -> Trace:
    """Check the ITF shape and build a :class:`Trace`; :class:`ToolError` if malformed."""
    if not isinstance(doc, dict):
        raise ToolError("an ITF trace is a JSON object", where)
    meta, variables, states = doc.get("#meta"), doc.get("vars"), doc.get("states")
    if not isinstance(meta, dict) or not isinstance(meta.get("spec"), str):
        raise ToolError('missing "#meta" with a "spec" name', where)
    if not isinstance(variables, list) or not all(isinstance(v, str) for v in variables):
        raise ToolError('"vars" must be a list of variable names', where)
    if not isinstance(states, list) or not states:
        raise ToolError('"states" must be a non-empty list', where)
    config = decode(meta.get("config", {}))
    if not isinstance(config, dict):
        raise ToolError('"#meta.config" must be an object', where)
    trace = Trace(spec=meta["spec"], config=config, source=str(meta.get("source", "?")),
                  description=str(meta.get("description", "")), variables=tuple(variables),
                  meta={k: decode(v) for k, v in meta.items() if k not in _META_KEYS})
    for i, raw in enumerate(states):
        if not isinstance(raw, dict) or not isinstance(raw.get("#meta", {}), dict):
            raise ToolError(f"state {i} is not an object", where)
        smeta = raw.get("#meta", {})
        missing = [v for v in variables if v not in raw]
        if missing:
            raise ToolError(f"state {i} lacks variable(s) {', '.join(missing)}", where)
        action = smeta.get("action", "Init" if i == 0 else None)
        if not isinstance(action, str):
            raise ToolError(f"state {i} has no action name in its #meta", where)
        args = decode(smeta.get("args", {}))
        if not isinstance(args, dict):
            raise ToolError(f"state {i}: #meta.args must be an object", where)
        thread = smeta.get("thread")
        trace.steps.append(Step(i, action, args, {v: decode(raw[v]) for v in variables},
                                None if thread is None else str(thread)))
    return trace


def read_trace(path: Path) -> Trace:
    """Read an ITF file.  Malformed or truncated JSON -> :class:`ToolError` at file:line."""
    return parse_itf(load_json(path, "trace"), str(path))


# ------------------------------------------------------------------ recording

def vm_config(vm: VaSpace) -> dict[str, Any]:
    k = vm.kernel_node
    return {
        "mm_start": vm.mm_start,
        "mm_range": vm.mm_range,
        "reserve_offset": 0 if k is None else k.addr,
        "reserve_range": 0 if k is None else k.range,
        "regions": vm.regions_enabled,
        "profile": vm.profile.name,
    }


def vm_from_config(config: Mapping[str, Any], where: str = "trace") -> VaSpace:
    try:
        return VaSpace(
            int(config["mm_start"]), int(config["mm_range"]),
            int(config.get("reserve_offset", 0)), int(config.get("reserve_range", 0)),
            profile=profile_by_name(str(config.get("profile", "upstream"))),
            regions=bool(config.get("regions", False)),
        )
    except (KeyError, TypeError, ValueError, GpuVmError) as err:
        raise ToolError(f"bad VM config in #meta.config: {err}", where) from None


def state_of(vm: VaSpace, ops: Sequence[Op], error: GpuVmError | None) -> dict[str, Any]:
    state = vm.abstract()
    state["lastOps"] = ops_to_json(ops)
    state["lastErr"] = "OK" if error is None else error.errno_name
    return state


class Recorder:
    """A :class:`model.trace.Tracer` that records a VA space's actions as a trace."""

    def __init__(self, vm: VaSpace, spec: str = "GpuVm", source: str = "model") -> None:
        self.vm = vm
        self.trace = Trace(spec=spec, config=vm_config(vm), source=source,
                           variables=_variables(vm))
        self.trace.steps.append(Step(0, "Init", {}, state_of(vm, (), None)))
        self.last_ops: list[Op] = []
        vm.tracer = self

    def action(self, name: str, args: Mapping[str, object], ops: Sequence[Op],
               error: GpuVmError | None) -> None:
        self.last_ops = list(ops)
        self.trace.steps.append(
            Step(len(self.trace.steps), name, dict(args), state_of(self.vm, ops, error)))


def _variables(vm: VaSpace) -> tuple[str, ...]:
    return ("vas", "regions", "lastOps", "lastErr") if vm.regions_enabled else VASPACE_VARS


# ------------------------------------------------------------------- replay

def perform(vm: VaSpace, action: str, args: Mapping[str, Any], where: str) -> None:
    """Run one named action with its arguments on ``vm``; errors are part of the state."""
    try:
        if action == "Map":
            vm.map(args["addr"], args["range"], args["gem"], args["offset"])
        elif action == "Unmap":
            vm.unmap(args["addr"], args["range"])
        elif action == "Prefetch":
            vm.prefetch(args["addr"], args["range"])
        elif action == "RegionAlloc":
            vm.region_alloc(args["addr"], args["range"], bool(args.get("sparse", False)))
        elif action == "RegionFree":
            vm.region_free(args["addr"], args["range"])
        else:
            raise ToolError(f"unknown action {action!r}", where)
    except KeyError as err:
        raise ToolError(f"action {action} lacks argument {err}", where) from None
    except GpuVmError:
        pass  # recorded as lastErr by the recorder


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
            if e != a:
                lines.append(f"  {var}: expected {json.dumps(e)}")
                lines.append(f"  {' ' * len(var)}  actual   {json.dumps(a)}")
        return "\n".join(lines)


@dataclass
class Violation:
    """A model invariant that broke while replaying, and where."""

    step: int
    invariant: str
    detail: str


@dataclass
class ReplayReport:
    """What re-executing a trace on the model gave."""

    steps: int
    divergence: Divergence | None = None
    violation: Violation | None = None

    @property
    def clean(self) -> bool:
        return self.divergence is None and self.violation is None

    @property
    def reproduced(self) -> bool:
        """The model broke an invariant at the trace's last step, as the trace says."""
        return (self.divergence is None and self.violation is not None
                and self.violation.step == self.steps - 1)


def replay(trace: Trace, where: str = "trace") -> ReplayReport:
    """Re-execute ``trace`` on a fresh model, checking its invariants after each step.

    Stops at the first divergence (the model's state differs from the
    trace's) or the first invariant the model breaks.
    """
    if trace.spec != "GpuVm":
        raise ToolError(f"no replayer for spec {trace.spec!r}", where)
    vm = vm_from_config(trace.config, where)
    rec = Recorder(vm)
    for step in trace.steps:
        try:
            if step.index > 0:
                before = list(vm)
                perform(vm, step.action, step.args, f"{where}: state {step.index}")
                done = rec.trace.steps[-1]
                if done.index == step.index and done.state["lastErr"] == "OK":
                    check_step(before, step.action, step.args, rec.last_ops, list(vm),
                               vm.profile.name)
            check_vaspace(vm)
        except InvariantViolation as bad:
            return ReplayReport(len(trace.steps), None,
                                Violation(step.index, bad.invariant, bad.detail))
        actual = rec.trace.steps[-1].state
        expected = {v: step.state[v] for v in trace.variables if v in step.state}
        got = {v: actual.get(v) for v in expected}
        if got != expected:
            return ReplayReport(len(trace.steps),
                                Divergence(step.index, step.action, step.args, expected, got))
    return ReplayReport(len(trace.steps))
