"""``gpuvm-check prove``: the Z3 obligations, and the conformance vectors.

Each obligation of ``specs.z3.obligations`` is one solver call: ``unsat``
is a proof (``pass``), ``sat`` a counterexample (``violation``), anything
else ``unknown`` or ``timeout`` -- never a pass.  A counterexample is written
as an ITF trace under ``--out``: for the split/merge relations (and xe's
range check) the ``Map``/``Unmap`` steps that build the layout and issue the
request, each state as the relation (or its bad variant) prescribes, which
``gpuvm-check replay`` re-executes on the model; for the ioctl front ends,
the one call with its arguments.

The *conformance vectors* tie the relation to the model: for every feasible
path of ``sm_map`` of a profile and of ``sm_unmap`` (one case per existing
mapping, ``specs.z3.paths``), Z3 yields one concrete input with small values
and one with values near ``2**64``; and for each validity test of the
request, an input that fails it alone (the ``-EINVAL`` paths).
:func:`run_vector` runs a vector through ``model.VaSpace`` and requires the
relation's ops and resulting layout (or its error and the layout unchanged).
The obligations ``upstream.vectors`` and ``rfc2023.vectors`` run them all.
"""

from __future__ import annotations

import argparse
import fnmatch
import functools
import json
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

import z3

from checks.outcome import Outcome, Result, ToolError
from checks.report import emit, progress, progress_done
from checks.traces import Divergence, ReplayReport, Step, Trace, Violation
from checks.z3step import Inputs, apply_ops, predict, signature, spec_ops
from model.errors import GpuVmError
from model.gpuva import Region, Va
from model.ops import Op, ops_to_json
from model.profiles import profile_by_name
from model.vaspace import VaSpace
from specs.z3 import paths
from specs.z3.goal import Goal
from specs.z3.layout import map_request_checks, unmap_request_checks
from specs.z3.obligations import PROVED, Obligation, obligations
from specs.z3.splitmerge import Spec, sm_map, sm_unmap
from specs.z3.u64 import MOD, Term, arith

#: Existing mappings per split/merge proof, by budget.
K_BY_BUDGET = {"quick": 2, "default": 3, "thorough": 5}
DEFAULT_K = 3
DEFAULT_TIMEOUT = 120.0
#: Vectors: a layout of this many slots; small values stay below SMALL, high ones
#: above MOD - HIGH (ranges stay small in both).
VECTOR_K = 3
SMALL = 63
HIGH = 256
PROFILES = ("upstream", "rfc2023")
FIGURES = ("group", "k")


# ------------------------------------------------------------------- solving

@dataclass
class Verdict:
    outcome: Outcome
    seconds: float
    model: Any = None
    reason: str = ""


def solve(goal: Goal, timeout: float) -> Verdict:
    """Decide ``premise and not claim``; on ``sat``, add the preferred constraints
    one by one while they keep it satisfiable, for a readable counterexample."""
    start = time.monotonic()
    if goal.intblast:
        solver = z3.Tactic("smt").solver()
        solver.set("smt.bv.solver", 2)
    else:
        solver = z3.Solver()
    solver.set("timeout", max(1, int(timeout * 1000)))
    solver.add(goal.premise, z3.Not(goal.claim))
    answer = solver.check()
    if answer == z3.unsat:
        return Verdict(Outcome.PASS, time.monotonic() - start)
    if answer == z3.unknown:
        reason = solver.reason_unknown()
        timed_out = "timeout" in reason or "canceled" in reason
        return Verdict(Outcome.TIMEOUT if timed_out else Outcome.UNKNOWN,
                       time.monotonic() - start, reason=reason)
    for c in goal.prefer:
        solver.push()
        solver.add(c)
        if solver.check() != z3.sat:
            solver.pop()
    if solver.check() != z3.sat:  # pragma: no cover - the base query was sat
        return Verdict(Outcome.UNKNOWN, time.monotonic() - start, reason="lost the model")
    return Verdict(Outcome.VIOLATION, time.monotonic() - start, model=solver.model())


def _value(model: Any, term: Term) -> Any:
    v = model.eval(term, model_completion=True)
    if z3.is_true(v):
        return True
    if z3.is_false(v):
        return False
    return v.as_long()


def gem_name(gem_id: int) -> str | None:
    """GEM identifiers of the encodings as names: 0 is NULL, then ``a``, ``b``, ..."""
    return None if gem_id == 0 else chr(ord("a") + gem_id - 1)


def inputs_from_model(spec: Spec, model: Any) -> Inputs:
    """The concrete input a model of ``spec`` assigns."""
    vm, req = spec.vm, spec.req
    regions_on = bool(_value(model, vm.regions)) and spec.action == "Map"
    config = {
        "mm_start": _value(model, vm.mm_start), "mm_range": _value(model, vm.mm_range),
        "reserve_offset": _value(model, vm.reserve_offset),
        "reserve_range": _value(model, vm.reserve_range), "regions": regions_on,
    }
    if config["reserve_range"] == 0:
        config["reserve_offset"] = 0
    region = ((_value(model, vm.region_addr), _value(model, vm.region_end))
              if regions_on else None)
    slots = tuple(Va(_value(model, m.addr), _value(model, m.range),
                     gem_name(_value(model, m.gem)), _value(model, m.offset))
                  for m in spec.layout.slots if _value(model, m.present))
    relation = "unmap" if spec.action == "Unmap" else str(spec.profile)
    return Inputs(relation, config, region, slots, _value(model, req.addr),
                  _value(model, req.range), gem_name(_value(model, req.gem)) if
                  spec.action == "Map" else None,
                  _value(model, req.offset) if spec.action == "Map" else 0)


def regions_for(inp: Inputs) -> list[Region]:
    """Regions a VM needs to hold ``inp``: the request's, and one per mapping outside it."""
    if inp.region is None:
        return []
    ra, re = inp.region
    out = [Region(ra, re - ra)]
    out += [Region(va.addr, va.range) for va in inp.slots if va.end <= ra or va.addr >= re]
    return sorted(out)


# -------------------------------------------------------------------- traces

def _config(inp: Inputs, profile: str) -> dict[str, Any]:
    cfg = {k: inp.config.get(k, 0) for k in ("mm_start", "mm_range", "reserve_offset",
                                              "reserve_range")}
    return {**cfg, "regions": inp.region is not None, "profile": profile}


def _request_args(inp: Inputs) -> dict[str, Any]:
    if inp.relation == "unmap":
        return {"addr": inp.addr, "range": inp.range}
    return {"addr": inp.addr, "range": inp.range, "gem": inp.gem, "offset": inp.offset}


def gpuvm_trace(inp: Inputs, profile: str, variant: str | None, description: str,
                source: str = "z3") -> Trace:
    """The steps that build ``inp``'s layout and issue its request, each state as the
    relation (or ``variant``) prescribes it: a trace ``gpuvm-check replay`` runs."""
    regions = regions_for(inp)
    variables = ("vas", "regions", "lastOps", "lastErr") if regions else (
        "vas", "lastOps", "lastErr")
    trace = Trace(spec="GpuVm", config=_config(inp, profile), source=source,
                  description=description, variables=variables)
    vas: list[Va] = []
    held: list[Region] = []

    def add(action: str, args: dict[str, Any], ops: Sequence[Op], err: str | None) -> None:
        state: dict[str, Any] = {"vas": [va.to_json() for va in vas]}
        if regions:
            state["regions"] = [r.to_json() for r in held]
        state["lastOps"] = ops_to_json(ops)
        state["lastErr"] = err or "OK"
        trace.steps.append(Step(len(trace.steps), action, args, state))

    add("Init", {}, [], None)
    for r in regions:
        held.append(r)
        held.sort()
        add("RegionAlloc", {"addr": r.addr, "range": r.range, "sparse": False}, [], None)
    steps = [("Map", {"addr": va.addr, "range": va.range, "gem": va.gem, "offset": va.offset})
             for va in inp.slots]
    steps.append(("Unmap" if inp.relation == "unmap" else "Map", _request_args(inp)))
    for action, args in steps:
        pred = spec_ops(profile, vas, action, args, config=inp.config,
                        regions=held if regions else None, variant=variant)
        if pred.error is None:
            vas = apply_ops(vas, pred.ops)
        add(action, args, pred.ops, pred.error)
    return trace


def _xe_trace(values: Mapping[str, Any], description: str) -> Trace:
    """xe's seed range check accepted a ``Map``: the VA-space step as the seed does it."""
    cfg = {k: values[k] for k in ("mm_start", "mm_range", "reserve_offset", "reserve_range")}
    trace = Trace(spec="GpuVm", config={**cfg, "regions": False, "profile": "upstream"},
                  source="z3", description=description)
    args = {"addr": values["addr"], "range": values["range"], "gem": "a", "offset": 0}
    trace.steps.append(Step(0, "Init", {}, {"vas": [], "lastOps": [], "lastErr": "OK"}))
    op = {"op": "map", **args}
    trace.steps.append(Step(1, "Map", args, {
        "vas": [[args["addr"], args["range"], "a", 0]], "lastOps": [op], "lastErr": "OK"}))
    return trace


def _args_trace(ob: Obligation, goal: Goal, values: Mapping[str, Any]) -> Trace:
    """One ioctl call that the front end accepts although the claim fails."""
    ioctl = str(goal.about.get("ioctl", ob.group))
    trace = Trace(spec=f"{ob.group}-vm-bind-args", config=dict(goal.about), source="z3",
                  description=f"{ob.name}: {ob.about}", variables=("accepted", "claim"))
    trace.meta["obligation"] = ob.name
    trace.steps.append(Step(0, "Init", {}, {"accepted": False, "claim": True}))
    trace.steps.append(Step(1, ioctl, dict(values), {"accepted": True, "claim": False}))
    return trace


def _evaluate(goal: Goal, args: Mapping[str, Any], where: str) -> tuple[bool, bool]:
    """``(premise, claim)`` of ``goal`` for the concrete ioctl arguments ``args``."""
    pairs = []
    for name, term in goal.inputs.items():
        if name not in args:
            raise ToolError(f"the call lacks argument {name!r}", where)
        value = args[name]
        if z3.is_bool(term):
            pairs.append((term, z3.BoolVal(bool(value), term.ctx)))
        elif z3.is_bv(term):
            pairs.append((term, z3.BitVecVal(int(value), term.size(), term.ctx)))
        else:
            pairs.append((term, z3.IntVal(int(value), term.ctx)))
    premise = z3.simplify(z3.substitute(goal.premise, *pairs))
    claim = z3.simplify(z3.substitute(goal.claim, *pairs))
    if not (z3.is_true(premise) or z3.is_false(premise)) or not (
            z3.is_true(claim) or z3.is_false(claim)):
        raise ToolError("the call does not assign every input of the obligation", where)
    return z3.is_true(premise), z3.is_true(claim)


def replay_args(trace: Trace, where: str) -> ReplayReport:
    """Re-check a front end's one-call counterexample against its obligation.

    The model has no ioctl front ends, so such a trace is replayed against the
    specification it came from: the seed version's checks are evaluated on the
    recorded arguments (they must accept them, and the claim must fail, as the
    trace says), and so are the corrected version's (reported: they must
    reject them).  ``reproduced`` when both hold.
    """
    name = str(trace.meta.get("obligation") or trace.description.split(":")[0])
    by_name = {ob.name: ob for ob in obligations()}
    if name not in by_name:
        raise ToolError(f"no obligation {name!r} to replay this trace against", where)
    if len(trace.steps) != 2:
        raise ToolError("a front-end counterexample is one call", where)
    step = trace.steps[1]
    accepted, claim = _evaluate(by_name[name].build(), step.args, f"{where}: state 1")
    actual = {"accepted": accepted, "claim": claim}
    expected = {k: step.state.get(k) for k in actual}
    if actual != expected:
        return ReplayReport(2, Divergence(1, step.action, step.args, expected, actual))
    fixed = by_name.get(name.removesuffix(".seed") + ".fixed")
    note = ""
    if fixed is not None:
        fixed_accepts, _ = _evaluate(fixed.build(), step.args, f"{where}: state 1")
        note = (f"; the corrected checks ({fixed.name}) "
                f"{'also accept' if fixed_accepts else 'reject'} it")
    if accepted and not claim:
        return ReplayReport(2, None, Violation(1, name, f"the seed's checks accept the call "
                                               f"and the claim fails{note}"))
    return ReplayReport(2)


def counterexample_trace(ob: Obligation, goal: Goal, model: Any) -> Trace:
    if goal.spec is not None:
        spec: Spec = goal.spec
        inp = inputs_from_model(spec, model)
        profile = spec.profile or "upstream"
        return gpuvm_trace(inp, profile, spec.variant, f"{ob.name}: {ob.about}")
    values = {k: _value(model, t) for k, t in goal.inputs.items()}
    if goal.trace == "gpuvm":
        return _xe_trace(values, f"{ob.name}: {ob.about}")
    return _args_trace(ob, goal, values)


def describe(goal: Goal, model: Any) -> str:
    if goal.spec is not None:
        inp = inputs_from_model(goal.spec, model)
        layout = ", ".join(f"[{va.addr:#x}, +{va.range:#x}) {va.gem}@{va.offset:#x}"
                           for va in inp.slots) or "empty"
        cfg = inp.config
        return (f"VM [{cfg['mm_start']:#x}, +{cfg['mm_range']:#x}) node "
                f"[{cfg['reserve_offset']:#x}, +{cfg['reserve_range']:#x}) region "
                f"{inp.region}; layout {layout}; request "
                f"{'Unmap' if inp.relation == 'unmap' else 'Map'}({_request_args(inp)})")
    return ", ".join(f"{k}={_fmt(_value(model, t))}" for k, t in goal.inputs.items())


def _fmt(v: Any) -> str:
    return f"{v:#x}" if isinstance(v, int) and not isinstance(v, bool) and v > 9 else str(v)


def _safe(name: str) -> str:
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in name)


def run_obligation(ob: Obligation, timeout: float, out_dir: Path | None, k: int) -> Result:
    goal = ob.build()
    verdict = solve(goal, timeout)
    expected = Outcome.PASS if ob.expect == PROVED else Outcome.VIOLATION
    figures: dict[str, Any] = {"group": ob.group, "k": k if ob.group in (
        "upstream", "rfc2023", "unmap", "bad") else ""}
    if ob.mutant:
        figures["mutant"] = ob.mutant
    result = Result(ob.name, verdict.outcome, verdict.seconds, expected, detail=ob.about,
                    figures=figures)
    if verdict.outcome in (Outcome.UNKNOWN, Outcome.TIMEOUT):
        result.detail = f"{ob.about}: solver gave {verdict.outcome} ({verdict.reason})"
    if verdict.outcome == Outcome.VIOLATION:
        result.detail = f"{ob.about}\ncounterexample: {describe(goal, verdict.model)}"
        if out_dir is not None:
            trace = counterexample_trace(ob, goal, verdict.model)
            result.trace = trace.write(out_dir / "prove" / f"{_safe(ob.name)}.itf.json")
    return result


# ------------------------------------------------------------------- vectors

def _spec(relation: str, k: int, ctx: Any = None) -> Spec:
    """The integer form of a relation, in ``ctx``: vectors are found in a fresh Z3
    context, so the same code yields the same vectors whatever ran before."""
    ar = arith("int", ctx)
    return sm_unmap(k, ar=ar) if relation == "unmap" else sm_map(relation, k, ar=ar)


def _bounds(spec: Spec, high: bool) -> list[Term]:
    ar, vm, req = spec.ar, spec.vm, spec.req
    values = [vm.mm_start, vm.reserve_offset, vm.region_addr, vm.region_end, req.addr,
              req.offset]
    ranges = [vm.mm_range, vm.reserve_range, req.range]
    for m in spec.layout.slots:
        values += [m.addr, m.offset]
        ranges.append(m.range)
    gems = [req.gem, *[m.gem for m in spec.layout.slots]]
    out = [z3.ULE(g, 3) for g in gems] + [ar.le(r, ar.const(SMALL)) for r in ranges]
    if high:
        out += [ar.ge(v, ar.const(MOD - HIGH)) for v in values]
    else:
        out += [ar.le(v, ar.const(SMALL)) for v in values]
    return out


def _path_condition(labels: list[dict[str, Term]], sig: Sequence[str]) -> Term:
    conds = [per_slot[name] for per_slot, name in zip(labels, sig, strict=True)]
    return z3.And(conds) if len(conds) > 1 else conds[0]


@dataclass(frozen=True)
class PathWitnesses:
    relation: str
    k: int
    signatures: tuple[tuple[str, ...], ...]
    small: tuple[Inputs, ...]
    high: tuple[Inputs | None, ...]
    complete: bool


@functools.lru_cache(maxsize=16)
def path_witnesses(relation: str, k: int = VECTOR_K) -> PathWitnesses:
    """Every feasible path of ``relation`` over ``k`` slots, with one small and (where
    feasible) one high witness each; ``complete`` says the paths cover every input."""
    ctx = z3.Context()
    spec = _spec(relation, k, ctx)
    labels = paths.labels(spec)
    names = [list(d) for d in labels]
    idx = [z3.Int(f"path.{i}", ctx) for i in range(k)]
    solver = z3.Solver(ctx=ctx)
    solver.add(spec.valid)
    for i, per_slot in enumerate(labels):
        for j, cond in enumerate(per_slot.values()):
            solver.add(cond == (idx[i] == j))
    solver.add(spec.ar.domain())
    sigs: list[tuple[str, ...]] = []
    small: list[Inputs] = []

    def enumerate_paths() -> None:
        """Add one witness per path the solver still allows, blocking each after it."""
        while solver.check() == z3.sat:
            model = solver.model()
            chosen = [_value(model, v) for v in idx]
            sigs.append(tuple(names[i][j] for i, j in enumerate(chosen)))
            small.append(inputs_from_model(spec, model))
            solver.add(z3.Or([v != j for v, j in zip(idx, chosen, strict=True)]))

    solver.push()
    solver.add(*_bounds(spec, high=False))
    enumerate_paths()
    solver.pop()
    # Paths feasible only outside the small bounds, if any, join with a free witness.
    everything = spec.ar.any([_path_condition(labels, s) for s in sigs])
    solver.push()
    solver.add(z3.Not(everything))
    enumerate_paths()
    complete = solver.check() == z3.unsat
    solver.pop()
    high: list[Inputs | None] = []
    for sig in sigs:
        solver.push()
        solver.add(_path_condition(labels, sig), *_bounds(spec, high=True))
        high.append(inputs_from_model(spec, solver.model()) if solver.check() == z3.sat
                    else None)
        solver.pop()
    return PathWitnesses(relation, k, tuple(sigs), tuple(small), tuple(high), complete)


@functools.lru_cache(maxsize=16)
def rejection_witnesses(relation: str, k: int = VECTOR_K
                        ) -> tuple[tuple[str, Inputs | None, Inputs | None], ...]:
    """For each test of the request's validity, an input failing that test alone
    (small and high values, where feasible): the relation's ``-EINVAL`` paths."""
    ctx = z3.Context()
    spec = _spec(relation, k, ctx)
    vm, layout, req = spec.vm, spec.layout, spec.req
    checks = (unmap_request_checks(vm, req) if relation == "unmap"
              else map_request_checks(vm, req))
    solver = z3.Solver(ctx=ctx)
    solver.add(vm.valid(), layout.valid(vm), spec.ar.domain())
    out = []
    for i, (label, cond) in enumerate(checks):
        solver.push()
        solver.add(z3.Not(cond), *[c for j, (_, c) in enumerate(checks) if j != i])
        if label == "region":  # no mapping's own region may hold the request either
            ar = spec.ar
            solver.add(*[z3.Not(z3.And(m.present, ar.le(m.addr, req.addr),
                                       ar.le(req.end, m.end))) for m in layout.slots])
        found: list[Inputs | None] = []
        for high in (False, True):
            solver.push()
            solver.add(*_bounds(spec, high))
            found.append(inputs_from_model(spec, solver.model())
                         if solver.check() == z3.sat else None)
            solver.pop()
        solver.pop()
        out.append((label, found[0], found[1]))
    return tuple(out)


def _vector(inp: Inputs, profile: str, sig: tuple[str, ...], kind: str) -> dict[str, Any]:
    pred = predict(inp)
    rejected = sig[0].startswith("reject:")
    assert (pred.error is None) != rejected, (inp, pred)
    action = "Unmap" if inp.relation == "unmap" else "Map"
    v: dict[str, Any] = {
        "name": f"{inp.relation}:{','.join(sig)}:{kind}",
        "relation": inp.relation,
        "profile": profile,
        "path": list(sig),
        "values": kind,
        "bv_path": (list(sig) if rejected else
                    [*signature(inp), *["-"] * (len(sig) - len(inp.slots))]),
        "config": _config(inp, profile),
        "regions": [r.to_json() for r in regions_for(inp)],
        "layout": [va.to_json() for va in inp.slots],
        "action": action,
        "args": _request_args(inp),
        "ops": ops_to_json(pred.ops),
        "vas": [va.to_json() for va in apply_ops(inp.slots, pred.ops)],
    }
    if rejected:
        v["error"] = pred.error
    return v


@functools.lru_cache(maxsize=4)
def _vectors(profile: str) -> tuple[dict[str, Any], ...]:
    if profile not in PROFILES:
        raise ValueError(f"unknown profile {profile!r} (known: {', '.join(PROFILES)})")
    out = []
    for relation in (profile, "unmap"):
        w = path_witnesses(relation)
        for sig, small, high in zip(w.signatures, w.small, w.high, strict=True):
            out.append(_vector(small, profile, sig, "small"))
            if high is not None:
                out.append(_vector(high, profile, sig, "high"))
        for label, *witnesses in rejection_witnesses(relation):
            for inp, kind in zip(witnesses, ("small", "high"), strict=True):
                if inp is not None:
                    out.append(_vector(inp, profile, (f"reject:{label}",), kind))
    return tuple(out)


def vectors(profile: str) -> list[dict[str, Any]]:
    """The conformance vectors of ``profile``: every path of its ``sm_map`` and of
    ``sm_unmap``, a small and a near-``2**64`` input each, with the ops and the
    resulting layout the relation prescribes; then, per validity test of the
    request, an input that fails it alone (``"error": "EINVAL"``, layout
    unchanged).  Plain JSON-able dicts."""
    return [json.loads(json.dumps(v)) for v in _vectors(profile)]


def clear_vector_cache() -> None:
    """Forget the vectors found so far (the next call finds them again)."""
    path_witnesses.cache_clear()
    rejection_witnesses.cache_clear()
    _vectors.cache_clear()


def run_vector(v: Mapping[str, Any]) -> str | None:
    """Run one vector through ``model.VaSpace``: ``None`` if the model gives the
    vector's ops and layout, else what differs."""
    cfg = v["config"]
    try:
        vm = VaSpace(cfg["mm_start"], cfg["mm_range"], cfg["reserve_offset"],
                     cfg["reserve_range"], profile=profile_by_name(v["profile"]),
                     regions=bool(cfg["regions"]))
        for addr, range_, sparse in v["regions"]:
            vm.region_alloc(addr, range_, sparse)
        for addr, range_, gem, offset in v["layout"]:
            vm.insert(Va(addr, range_, gem, offset))
    except GpuVmError as e:
        return f"{v['name']}: the model cannot hold the vector's layout: {e}"
    args = v["args"]
    try:
        if v["action"] == "Map":
            ops = vm.map(args["addr"], args["range"], args["gem"], args["offset"])
        else:
            ops = vm.unmap(args["addr"], args["range"])
    except GpuVmError as e:
        if e.errno_name == v.get("error") and vm.abstract()["vas"] == v["vas"]:
            return None
        return f"{v['name']}: the model rejects the request: {e}"
    except AssertionError as e:
        return f"{v['name']}: the model breaks an invariant: {e}"
    if v.get("error"):
        return (f"{v['name']}: {v['action']}({args}) on {v['layout']}: the relation "
                f"rejects it (-{v['error']}), the model returns ops {ops_to_json(ops)}")
    got_ops, got_vas = ops_to_json(ops), vm.abstract()["vas"]
    if got_ops != v["ops"] or got_vas != v["vas"]:
        return (f"{v['name']}: {v['action']}({args}) on {v['layout']}\n"
                f"  relation: ops {v['ops']}\n            vas {v['vas']}\n"
                f"  model:    ops {got_ops}\n            vas {got_vas}")
    return None


def vector_result(profile: str) -> Result:
    """The ``<profile>.vectors`` result: every vector of ``profile`` through the model."""
    start = time.monotonic()
    vs = vectors(profile)
    failures = [msg for v in vs if (msg := run_vector(v)) is not None]
    split = [v for v in vs if v["path"] != v["bv_path"]]
    figures: dict[str, Any] = {"group": "vectors", "k": VECTOR_K}
    for relation in (profile, "unmap"):
        w = path_witnesses(relation)
        figures[f"paths_{relation}"] = len(w.signatures)
        if not w.complete:
            failures.insert(0, f"the paths of {relation} do not cover every input")
    figures["rejection_vectors"] = sum(1 for v in vs if v.get("error"))
    figures["vectors"] = len(vs)
    figures["failures"] = len(failures)
    for v in split:
        failures.insert(0, f"{v['name']}: the bit-vector relation puts it on path "
                           f"{v['bv_path']}")
    outcome = Outcome.VIOLATION if failures else Outcome.PASS
    detail = "\n".join(failures[:5]) + (f"\n... {len(failures) - 5} more"
                                          if len(failures) > 5 else "")
    return Result(f"{profile}.vectors", outcome, time.monotonic() - start, Outcome.PASS,
                  detail=detail, figures=figures)


# ----------------------------------------------------------------- commands

def _select(names: Sequence[str], k: int) -> tuple[list[Obligation], list[str]]:
    """Obligations and vector profiles matching ``names`` (exact names or globs)."""
    obs = obligations(k)
    vector_names = [f"{p}.vectors" for p in PROFILES]
    if not names:
        return obs, list(PROFILES)
    chosen: list[Obligation] = []
    profiles: list[str] = []
    for pattern in names:
        hit_obs = [o for o in obs if fnmatch.fnmatchcase(o.name, pattern)]
        hit_vec = [n for n in vector_names if fnmatch.fnmatchcase(n, pattern)]
        if not hit_obs and not hit_vec:
            known = ", ".join(o.name for o in obs)
            raise ToolError(f"no obligation named {pattern!r} (known: {known}, "
                            f"{', '.join(vector_names)})")
        chosen += [o for o in hit_obs if o not in chosen]
        profiles += [n.split(".")[0] for n in hit_vec if n.split(".")[0] not in profiles]
    return chosen, profiles


def run(names: Sequence[str] = (), *, k: int = DEFAULT_K, timeout: float = DEFAULT_TIMEOUT,
        out_dir: Path | None = None, err: TextIO | None = None,
        with_vectors: bool = True) -> list[Result]:
    obs, profiles = _select(names, k)
    results: list[Result] = []
    for i, ob in enumerate(obs):
        if err is not None:
            progress(err, f"prove {i + 1}/{len(obs)} {ob.name}")
        results.append(run_obligation(ob, timeout, out_dir, k))
    if with_vectors:
        for p in profiles:
            if err is not None:
                progress(err, f"prove {p}.vectors")
            results.append(vector_result(p))
    if err is not None:
        progress_done(err)
    return results


def cmd_prove(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    """``gpuvm-check prove [OBLIGATION ...] [--json] [--timeout S] [--out DIR]``."""
    timeout = args.timeout if args.timeout is not None else DEFAULT_TIMEOUT
    if timeout <= 0:
        raise ToolError(f"--timeout must be positive, not {timeout}")
    results = run(args.obligations, timeout=timeout, out_dir=Path(args.out), err=err)
    total = sum(r.seconds for r in results)
    return emit(results, args.json, out, figures=FIGURES,
                extra={"k": DEFAULT_K, "seconds": round(total, 3)})


def bench_prove(k: int = DEFAULT_K) -> list[Result]:
    """Seconds per obligation at ``k`` existing mappings, and their total."""
    results = run((), k=k, with_vectors=False)
    proofs = [r for r in results if r.figures.get("group") in ("upstream", "rfc2023", "unmap")]
    total = Result(f"total (k={k})", Outcome.PASS, sum(r.seconds for r in results),
                   figures={"group": "total", "k": k, "obligations": len(results),
                            "split_merge_seconds": round(sum(r.seconds for r in proofs), 3)})
    if any(not r.ok for r in results):
        total.outcome = Outcome.VIOLATION
        total.detail = "some obligation did not give its expected outcome"
    return [*results, total]


def results_for_run(budget: str, out_dir: Path, workers: int) -> list[Result]:
    """The obligations at the budget's ``k`` (2, 3, 5) and both profiles' vectors."""
    k = K_BY_BUDGET.get(budget, DEFAULT_K)
    return run((), k=k, out_dir=out_dir)


__all__ = ["bench_prove", "clear_vector_cache", "cmd_prove", "path_witnesses",
           "rejection_witnesses", "results_for_run", "run", "run_vector", "vector_result",
           "vectors"]
