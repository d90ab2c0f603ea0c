"""Conformance of the model and ``GpuVm.tla``, in both directions.

``gpuvm-check conform [gpuvm] [--runs N] [--seed S] [--workers W] [--out DIR] [--json]``

*Model -> spec* (trace validation).  ``N`` seeded random runs of the VA-space
state machine per profile (:func:`checks.machines.vaspace.record_runs`) are
written as one TLA+ module, ``TraceGpuVmData``, next to copies of
``GpuVm.tla`` and ``TraceGpuVm.tla`` in a temporary directory; one TLC run
follows every recorded step with the spec action of the same name and
arguments and requires exactly the recorded next state.  A run the spec
does not allow is reported with its index and first failing state, and
written as an ITF trace.

*Spec -> model* (completeness).  An exhaustive model of the manifest runs
with ``NEXT MCPrintNext``: TLC prints every transition it takes -- from
every reachable state (states told apart by the model's VIEW), every
request of the model's domain -- and each is replayed into the Python model
from its source state, comparing ``abstract()``, ``lastOps`` and ``lastErr``
with the spec's target state.  The number of transitions printed must equal
TLC's count of states generated, so none is skipped.  The model's state is
exactly its mappings, so checking every transition from every reachable
state covers every behaviour of the model (by induction on its length).  A divergence is
written as an ITF trace from the initial state (along the first path that
reached the source state) that ``gpuvm-check replay`` re-executes.

Figures: ``traces_validated``, ``steps_validated``, ``behaviours_replayed``
(one-step behaviours: transitions replayed), ``divergences``.
"""

from __future__ import annotations

import argparse
import json
import shutil
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

from checks.outcome import Outcome, Result, ToolError
from checks.report import emit, progress, progress_done
from checks.tlc import (
    SPECS_DIR,
    Model,
    abstract_act,
    abstract_state,
    cfg_constants,
    load_manifest,
    run_tlc,
    tla_value,
    vm_config_of,
)
from checks.traces import Recorder, Step, Trace, perform, vm_from_config
from model.gpuva import Va
from model.invariants import check_vaspace

SPECS = ("gpuvm",)
PROFILES = ("upstream", "rfc2023")
NULL_GEM = "NULL"
#: TLC's integers are 32-bit; values in recorded runs must stay well inside.
TLC_INT_LIMIT = 1 << 29

#: Per budget: recorded runs per profile, and the exhaustive models replayed.
BUDGETS: dict[str, tuple[int, tuple[str, ...]]] = {
    "quick": (250, ("MCGpuVmSmall",)),
    "default": (500, ("MCGpuVmSmall", "MCGpuVmSmallRfc2023")),
    "thorough": (5000, ("MCGpuVmSmall", "MCGpuVmSmallRfc2023", "MCGpuVm", "MCGpuVmRfc2023")),
}
#: record_runs' domain: the VM [0, 6), GEMs a and b, offsets 0..3, 8 steps a run.
RUN_PAGES, RUN_MAX_OFFSET, RUN_STEPS = 6, 3, 8
TRACE_TIMEOUT = 600.0
REPLAY_TIMEOUT = 1800.0


# --------------------------------------------------------------- TLA+ writing

def tla(value: Any) -> str:
    """Plain data -> a TLA+ value: dicts are records, lists tuples."""
    if value is True:
        return "TRUE"
    if value is False:
        return "FALSE"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(value, list | tuple):
        return "<<" + ", ".join(tla(v) for v in value) + ">>"
    if isinstance(value, dict):
        if not value:
            return "<<>>"
        return "[" + ", ".join(f"{k} |-> {tla(v)}" for k, v in value.items()) + "]"
    raise TypeError(f"no TLA+ value for {value!r}")


def _gem(g: Any) -> Any:
    return NULL_GEM if g is None else g


def spec_va(v: Sequence[Any]) -> list[Any]:
    return [v[0], v[1], _gem(v[2]), v[3]]


def spec_op(op: Mapping[str, Any]) -> dict[str, Any]:
    """A model op's ``to_json()`` -> GpuVm's op record (inverse of ``abstract_op``)."""
    kind = op["op"]
    if kind == "map":
        return {"op": "map", "addr": op["addr"], "range": op["range"],
                "gem": _gem(op["gem"]), "offset": op["offset"]}
    if kind == "unmap":
        return {"op": "unmap", "va": spec_va(op["va"]), "keep": bool(op["keep"])}
    if kind == "remap":
        return {"op": "remap", "va": spec_va(op["va"]), "keep": bool(op["keep"]),
                "prev": [] if op["prev"] is None else spec_va(op["prev"]),
                "next": [] if op["next"] is None else spec_va(op["next"])}
    return {"op": kind, "va": spec_va(op["va"])}


def _check_ints(value: Any, where: str) -> None:
    if isinstance(value, bool):
        return
    if isinstance(value, int):
        if not -TLC_INT_LIMIT < value < TLC_INT_LIMIT:
            raise ToolError(f"value {value} is beyond what the TLA+ spec's integers hold "
                            f"(|v| < 2^29 here)", where)
    elif isinstance(value, dict):
        for v in value.values():
            _check_ints(v, where)
    elif isinstance(value, list | tuple):
        for v in value:
            _check_ints(v, where)


def trace_record(trace: Trace, where: str) -> dict[str, Any]:
    """One recorded run in GpuVm's encoding: its profile and states."""
    if trace.spec != "GpuVm":
        raise ToolError(f"trace of spec {trace.spec!r}, not GpuVm", where)
    if trace.config.get("regions"):
        raise ToolError("trace has regions, which GpuVm does not model", where)
    states = []
    for s in trace.steps:
        try:
            args = [s.args[k] for k in ("addr", "range", "gem", "offset") if k in s.args]
            if "gem" in s.args:
                args[2] = _gem(args[2])
            rec = {"action": s.action, "args": args,
                   "vas": [spec_va(v) for v in s.state["vas"]],
                   "lastOps": [spec_op(op) for op in s.state["lastOps"]],
                   "lastErr": s.state["lastErr"]}
        except (KeyError, TypeError, IndexError) as e:
            raise ToolError(f"state {s.index} is not a GpuVm state: {e}", where) from None
        _check_ints(rec, f"{where}: state {s.index}")
        states.append(rec)
    return {"profile": trace.profile, "states": states}


def data_module(records: Sequence[Mapping[str, Any]]) -> str:
    """``TraceGpuVmData``: the runs, with each distinct vas and lastOps written once."""
    tables: dict[str, dict[str, int]] = {"vas": {}, "lastOps": {}}

    def index(kind: str, value: Any) -> int:
        text = tla(value)
        return tables[kind].setdefault(text, len(tables[kind]) + 1)

    runs = []
    for r in records:
        states = [[s["action"], s["args"], index("vas", s["vas"]),
                   index("lastOps", s["lastOps"]), s["lastErr"]] for s in r["states"]]
        runs.append(tla([r["profile"], states]))

    def table(name: str, kind: str) -> list[str]:
        rows = list(tables[kind])
        return [f"{name} == <<"] + [("  " if i == 0 else ", ") + v for i, v in enumerate(rows)] + [
            ">>"]

    lines = ["---------------------------- MODULE TraceGpuVmData ----------------------------",
             "\\* Recorded runs of the model, written by gpuvm-check conform gpuvm",
             "\\* (the layout is described in TraceGpuVm.tla).",
             *table("VasTable", "vas"), *table("OpsTable", "lastOps"), "Traces == <<"]
    lines += [("  " if i == 0 else ", ") + r for i, r in enumerate(runs)]
    lines += [">>", "=" * 79, ""]
    return "\n".join(lines)


def trace_cfg(config: Mapping[str, Any], gems: Sequence[str]) -> str:
    return "\n".join([
        "CONSTANTS",
        f"    MmStart = {config['mm_start']}",
        f"    MmRange = {config['mm_range']}",
        f"    KernelAddr = {config.get('reserve_offset', 0)}",
        f"    KernelRange = {config.get('reserve_range', 0)}",
        f"    U64Max = {TLC_INT_LIMIT * 2}",
        "    Gems = {" + ", ".join(tla(g) for g in sorted(gems)) + "}",
        f"    NullGem = {tla(NULL_GEM)}",
        "    ReqAddrs = {}",
        "    ReqRanges = {}",
        "    ReqOffsets <- NoReqOffsets",
        "INIT TraceInit",
        "NEXT TraceNext",
        "INVARIANT StartsAtInitInv",
        "",
    ])


# ------------------------------------------------------- model -> spec (traces)

@dataclass
class Validation:
    """What validating a batch of recorded runs against GpuVm gave."""

    outcome: Outcome
    seconds: float
    traces: int
    states: int
    failing_trace: int | None = None
    failing_state: int | None = None
    detail: str = ""
    where: str | None = None


def validate_traces(traces: Sequence[Trace], *, timeout: float = TRACE_TIMEOUT,
                    err: TextIO | None = None) -> Validation:
    """Validate recorded runs against GpuVm.tla with one TLC run per VM config.

    Returns the first run (by index into ``traces``) the spec does not
    allow, with the index of its first state that the spec rejects.
    """
    start = time.monotonic()
    groups: dict[str, list[int]] = {}
    for i, tr in enumerate(traces):
        key = json.dumps({k: tr.config.get(k) for k in
                          ("mm_start", "mm_range", "reserve_offset", "reserve_range")},
                         sort_keys=True)
        groups.setdefault(key, []).append(i)
    total_states = 0
    for key, members in groups.items():
        records = [trace_record(traces[i], f"run {i}") for i in members]
        expected = sum(len(r["states"]) for r in records)
        gems = {NULL_GEM, *(s["args"][2] for r in records for s in r["states"]
                            if len(s["args"]) == 4)}
        work = Path(tempfile.mkdtemp(prefix="gpuvm-check-trace-"))
        try:
            for name in ("GpuVm.tla", "TraceGpuVm.tla"):
                shutil.copy(SPECS_DIR / name, work / name)
            (work / "TraceGpuVmData.tla").write_text(data_module(records))
            (work / "TraceGpuVm.cfg").write_text(trace_cfg(json.loads(key), sorted(gems)))
            run = run_tlc(work / "TraceGpuVm.tla", work / "TraceGpuVm.cfg", workers=1,
                          check_deadlock=True, timeout=timeout, label="trace validation",
                          err=err)
        finally:
            shutil.rmtree(work, ignore_errors=True)
        seconds = time.monotonic() - start
        if run.outcome in (Outcome.DEADLOCK, Outcome.VIOLATION) and run.states:
            last = run.states[-1].values
            t, i = int(tla_value(last["t"])), int(tla_value(last["i"]))
            index = members[t - 1]
            step = 0 if run.outcome == Outcome.VIOLATION else i
            tr = traces[index]
            what = (f"{tr.steps[step].action} {json.dumps(tr.steps[step].args)}"
                    if step < len(tr.steps) else "?")
            return Validation(Outcome.VIOLATION, seconds, len(traces), total_states, index,
                              step, f"run {index} ({tr.profile}): GpuVm does not allow state "
                              f"{step}, reached by {what}")
        if run.outcome != Outcome.PASS:
            return Validation(run.outcome, seconds, len(traces), total_states,
                              detail=run.message, where=run.where)
        if run.distinct != expected:
            return Validation(Outcome.TOOL_ERROR, seconds, len(traces), total_states,
                              detail=f"TLC matched {run.distinct} states, the runs hold "
                              f"{expected}: not every state was checked")
        total_states += expected
    return Validation(Outcome.PASS, time.monotonic() - start, len(traces), total_states)


def recorded_runs(n: int, seed: int, profile: str) -> list[Trace]:
    """``n`` seeded runs of the VA-space state machine under ``profile``."""
    from checks.machines.vaspace import record_runs

    return record_runs(n, seed, pages=RUN_PAGES, max_offset=RUN_MAX_OFFSET,
                       profile=profile, steps=RUN_STEPS)


def trace_results(runs: int, seed: int, out_dir: Path, err: TextIO | None) -> list[Result]:
    """Model -> spec: ``runs`` recorded runs per profile, one TLC run for all."""
    start = time.monotonic()
    traces: list[Trace] = []
    for k, profile in enumerate(PROFILES):
        try:
            traces += recorded_runs(runs, seed + k, profile)
        except AssertionError as broke:  # the model broke one of its own invariants
            return [Result("gpuvm:model->spec", Outcome.VIOLATION, time.monotonic() - start,
                           detail=f"the model broke an invariant while recording {profile} "
                           f"runs (seed {seed + k}): {broke}",
                           figures={"traces_validated": 0, "divergences": 1})]
    v = validate_traces(traces, err=err)
    figures: dict[str, Any] = {"traces_validated": v.traces if v.outcome == Outcome.PASS else 0,
                               "steps_validated": v.states, "divergences": 0}
    result = Result("gpuvm:model->spec", v.outcome, time.monotonic() - start, figures=figures)
    if v.failing_trace is not None:
        figures["divergences"] = 1
        failing = traces[v.failing_trace]
        failing.description = f"conform gpuvm: {v.detail}"
        result.trace = failing.write(out_dir / f"conform-gpuvm-run{v.failing_trace}.itf.json")
        figures.update(failing_run=v.failing_trace, failing_state=v.failing_state)
    result.detail = v.detail if v.where is None else f"{v.where}: error: {v.detail}"
    return [result]


# --------------------------------------------------- spec -> model (behaviours)

#: Replays one transition into the model: (config, source mappings in the
#: model's encoding, action, args) -> the model's abstract state after it.
Replayer = Callable[[Mapping[str, Any], Sequence[Sequence[Any]], str, Mapping[str, Any]],
                    dict[str, Any]]


def model_step(config: Mapping[str, Any], src: Sequence[Sequence[Any]], action: str,
               args: Mapping[str, Any]) -> dict[str, Any]:
    """The model's state after ``action(args)`` from the mappings ``src``."""
    vm = vm_from_config(config)
    for v in src:
        vm.insert(Va(v[0], v[1], v[2], v[3]))
    rec = Recorder(vm)
    try:
        perform(vm, action, args, "transition")
        check_vaspace(vm)
    except AssertionError as bad:  # an InvariantViolation, or an assert in the model
        return {"vas": None, "lastOps": None, "lastErr": f"assertion failed: {bad}"}
    return rec.trace.steps[-1].state


@dataclass
class Replay:
    """What replaying every transition of one model gave."""

    model: str
    outcome: Outcome
    seconds: float
    transitions: int = 0
    states: int = 0
    divergences: int = 0
    first: Trace | None = None
    detail: str = ""
    where: str | None = None
    generated: int | None = None


@dataclass
class _Graph:
    """First arrival at each source layout, to rebuild a path from Init."""

    parent: dict[str, tuple[str, str, dict[str, Any], dict[str, Any]]] = field(
        default_factory=dict)
    layouts: dict[str, list[list[Any]]] = field(default_factory=dict)

    def path(self, key: str) -> list[tuple[str, dict[str, Any], dict[str, Any]]]:
        """(action, args, state) from Init to the layout ``key``."""
        steps: list[tuple[str, dict[str, Any], dict[str, Any]]] = []
        seen: set[str] = set()
        while key in self.parent and key not in seen:
            seen.add(key)
            prev, action, args, state = self.parent[key]
            steps.append((action, args, state))
            key = prev
        return list(reversed(steps))


def replay_model(model: Model, *, workers: int = 2, out_dir: Path | None = None,
                 replayer: Replayer = model_step, timeout: float = REPLAY_TIMEOUT,
                 err: TextIO | None = None) -> Replay:
    """Spec -> model: replay every transition of an exhaustive model into the model."""
    start = time.monotonic()
    constants = cfg_constants(model.cfg_path)
    null_gem = str(constants.get("NullGem", NULL_GEM))
    config = vm_config_of(constants)
    rep = Replay(model.name, Outcome.PASS, 0.0)
    graph = _Graph()
    init_key = "[]"
    graph.layouts[init_key] = []

    def on_print(line: str) -> None:
        if not line.startswith("@step"):
            return
        try:
            src_raw, act, dst_raw, ops, errno = tla_value(line[len("@step"):])
            action, args = abstract_act(act, null_gem)
            dst = abstract_state(dst_raw, ops, errno, null_gem)
            src = abstract_state(src_raw, [], "OK", null_gem)["vas"]
        except (ValueError, TypeError, KeyError) as e:
            raise ToolError(f"cannot read a transition TLC printed: {e}") from None
        rep.transitions += 1
        src_key, dst_key = json.dumps(src), json.dumps(dst["vas"])
        if dst_key not in graph.layouts:
            graph.layouts[dst_key] = dst["vas"]
            graph.parent[dst_key] = (src_key, action, args, dst)
        got = replayer(config, src, action, args)
        if any(got.get(k) != dst[k] for k in ("vas", "lastOps", "lastErr")):
            rep.divergences += 1
            if rep.first is None:
                rep.first = _divergence_trace(model, config, graph, src_key, action, args,
                                              dst, got)
        if err is not None and rep.transitions % 20000 == 0:
            progress(err, f"conform {model.name}: {rep.transitions} transitions replayed")

    work = Path(tempfile.mkdtemp(prefix="gpuvm-check-conform-"))
    try:
        for name in ("GpuVm.tla", model.module):
            shutil.copy(SPECS_DIR / name, work / name)
        cfg = work / model.cfg
        cfg.write_text(_print_cfg(model.cfg_path.read_text()))
        run = run_tlc(work / model.module, cfg, workers=workers, timeout=timeout,
                      on_print=on_print, label=f"{model.name} (printing transitions)",
                      err=err)
    finally:
        shutil.rmtree(work, ignore_errors=True)
        if err is not None:
            progress_done(err)
    rep.seconds = time.monotonic() - start
    rep.states = run.distinct or 0
    rep.generated = run.total
    if run.outcome != Outcome.PASS:
        rep.outcome = run.outcome
        rep.detail, rep.where = run.message, run.where
        return rep
    initial = 1
    if run.total is None or rep.transitions != run.total - initial:
        rep.outcome = Outcome.TOOL_ERROR
        rep.detail = (f"TLC generated {run.total} states but printed {rep.transitions} "
                      "transitions: not every transition was replayed")
        return rep
    if rep.divergences:
        rep.outcome = Outcome.VIOLATION
        assert rep.first is not None
        rep.detail = f"{rep.divergences} transition(s) diverge; first: {rep.first.description}"
    return rep


def _print_cfg(text: str) -> str:
    """A model's cfg with NEXT MCPrintNext and without invariants and properties.

    ``gpuvm-check tlc`` checks those; here only the transitions matter.
    """
    out = []
    for line in text.splitlines():
        word = line.strip().split(" ")[0] if line.strip() else ""
        if word in ("INVARIANT", "INVARIANTS", "PROPERTY", "PROPERTIES"):
            continue
        out.append("NEXT MCPrintNext" if word == "NEXT" else line)
    return "\n".join(out) + "\n"


def _divergence_trace(model: Model, config: Mapping[str, Any], graph: _Graph, src_key: str,
                      action: str, args: dict[str, Any], dst: dict[str, Any],
                      got: dict[str, Any]) -> Trace:
    """The spec's behaviour from Init through the diverging transition, as ITF."""
    trace = Trace(spec="GpuVm", config=dict(config), source="tlc",
                  description=(f"conform gpuvm {model.name}: the model diverges from the "
                               f"spec at {action} {json.dumps(args)}: expected "
                               f"{json.dumps(dst)}, the model gives {json.dumps(got)}"))
    trace.steps.append(Step(0, "Init", {}, {"vas": [], "lastOps": [], "lastErr": "OK"}))
    for act, a, state in [*graph.path(src_key), (action, args, dst)]:
        trace.steps.append(Step(len(trace.steps), act, a, state))
    return trace


def replay_results(names: Sequence[str], workers: int, out_dir: Path,
                   err: TextIO | None, replayer: Replayer = model_step) -> list[Result]:
    by_name = {m.name: m for m in load_manifest()}
    results = []
    for name in names:
        rep = replay_model(by_name[name], workers=workers, out_dir=out_dir,
                           replayer=replayer, err=err)
        figures: dict[str, Any] = {"behaviours_replayed": rep.transitions,
                                   "spec_states": rep.states, "divergences": rep.divergences}
        r = Result(f"gpuvm:spec->model:{name}", rep.outcome, rep.seconds, figures=figures,
                   detail=rep.detail if rep.where is None else f"{rep.where}: error: {rep.detail}")
        if rep.first is not None:
            r.trace = rep.first.write(out_dir / f"conform-gpuvm-{name}.itf.json")
        results.append(r)
    return results


# ----------------------------------------------------------------- commands

FIGURES = ("traces_validated", "behaviours_replayed", "divergences")


def conform(runs: int, seed: int, models: Sequence[str], workers: int, out_dir: Path,
            err: TextIO | None) -> list[Result]:
    return [*trace_results(runs, seed, out_dir, err),
            *replay_results(models, workers, out_dir, err)]


def _totals(results: Sequence[Result]) -> dict[str, Any]:
    return {k: sum(int(r.figures.get(k) or 0) for r in results) for k in FIGURES}


def cmd_conform(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    """``gpuvm-check conform [gpuvm] [--runs N]``: both directions, at the default budget."""
    unknown = [s for s in args.specs if s.lower() not in SPECS]
    if unknown:
        raise ToolError(f"unknown spec(s) {', '.join(unknown)} (known: {', '.join(SPECS)})")
    default_runs, models = BUDGETS["default"]
    runs = default_runs if args.runs is None else args.runs
    if runs < 1:
        raise ToolError("--runs must be at least 1")
    results = conform(runs, args.seed, models, args.workers, Path(args.out), err)
    code = emit(results, args.json, out, figures=FIGURES, extra=_totals(results))
    broken = [r for r in results if r.outcome in (Outcome.TOOL_ERROR, Outcome.TIMEOUT)]
    for r in broken:
        err.write(f"gpuvm-check: {r.detail.splitlines()[0] if r.detail else r.outcome}\n")
    return 2 if broken else code


def results_for_run(budget: str, out_dir: Path, workers: int) -> list[Result]:
    runs, models = BUDGETS.get(budget, BUDGETS["default"])
    return conform(runs, 0, models, workers, out_dir, None)
