"""Conformance vectors: concrete inputs of the Z3 relation, run through the model.

The vectors tie the relation of ``specs.z3.splitmerge`` to ``model.VaSpace``:

*paths*
    for every feasible path of ``sm_map`` of a profile and of ``sm_unmap``
    (one case per existing mapping, ``specs.z3.paths``), over ``VECTOR_K``
    slots, Z3 yields one concrete input with small addresses and one with
    values near ``2**64``; flags are never 0 (small: 1 to 3; high: near
    ``2**64``), so every path meets flags the relation must carry along;
*rejections*
    for each validity test of the request, an input that fails it alone
    (the ``-EINVAL`` paths), small and high;
*edges*
    inputs the paths alone need not contain (:data:`EDGES`): a request
    ending exactly at ``2**64 - 1``; requests touching only the kernel node's
    first or last address (rejected) or ending at its start or starting at
    its end (accepted); neighbours and overlapped mappings of another GEM
    (or NULL) at the same base and flags, and compatible ones with other
    flags; split pieces whose offsets wrap past ``2**64``, and a request
    whose ``offset + range`` does.

:func:`run_vector` runs one vector through the model and requires the
relation's ops and resulting layout (or its error and the layout
unchanged); anything else the model does -- another answer, another
errno, any exception at all -- is a failure naming it.  The obligations
``upstream.vectors`` and ``rfc2023.vectors`` run them all, and write the
first failing vector as a trace (state 0 the layout, state 1 the request
as the relation answers it) that ``gpuvm-check replay`` re-executes.  Every
solver check that finds vectors has a timeout (:data:`CHECK_TIMEOUT_MS`);
one that gives up makes the result a timeout or unknown, never a pass.
"""

from __future__ import annotations

import functools
import json
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import z3

from checks.outcome import Outcome, Result
from checks.z3step import (
    Inputs,
    apply_ops,
    gpuvm_trace,
    inputs_from_model,
    model_value,
    predict_path,
    regions_for,
    request_args,
    signature,
    trace_config,
)
from model.errors import GpuVmError
from model.gpuva import Va
from model.ops import ops_to_json
from model.profiles import profile_by_name
from model.vaspace import VaSpace
from specs.z3 import paths
from specs.z3.layout import map_request_checks, unmap_request_checks
from specs.z3.splitmerge import Spec, relation_spec
from specs.z3.u64 import MOD, U64_MAX, Term, arith

#: Vectors: a layout of this many slots; small values stay below SMALL, high ones
#: above MOD - HIGH (ranges stay small in both).
VECTOR_K = 3
SMALL = 63
HIGH = 256
PROFILES = ("upstream", "rfc2023")
#: cap on one solver check while finding vectors (each takes milliseconds)
CHECK_TIMEOUT_MS = 60_000


class SolverGaveUp(Exception):
    """A solver check while finding vectors ended in ``unknown`` (or its timeout)."""


def _solver(ctx: Any) -> z3.Solver:
    solver = z3.Solver(ctx=ctx)
    solver.set("timeout", CHECK_TIMEOUT_MS)
    return solver


def _check(solver: z3.Solver) -> bool:
    """``sat`` -> True, ``unsat`` -> False; anything else raises :class:`SolverGaveUp`."""
    answer = solver.check()
    if answer == z3.unknown:
        raise SolverGaveUp(solver.reason_unknown())
    return bool(answer == z3.sat)


def _spec(relation: str, k: int, ctx: Any) -> Spec:
    """The integer form of a relation, in ``ctx``: vectors are found in a fresh Z3
    context, so the same code yields the same vectors whatever ran before."""
    return relation_spec(relation, k, ar=arith("int", ctx))


def _bounds(spec: Spec, high: bool, *, high_offsets: bool = False) -> list[Term]:
    ar, vm, req = spec.ar, spec.vm, spec.req
    values = [vm.mm_start, vm.reserve_offset, vm.region_addr, vm.region_end, req.addr]
    offsets = [req.offset, *[m.offset for m in spec.layout.slots]]
    flags = [req.flags, *[m.flags for m in spec.layout.slots]]
    ranges = [vm.mm_range, vm.reserve_range, req.range]
    for m in spec.layout.slots:
        values.append(m.addr)
        ranges.append(m.range)
    gems = [req.gem, *[m.gem for m in spec.layout.slots]]
    out = [z3.ULE(g, 3) for g in gems] + [ar.le(r, ar.const(SMALL)) for r in ranges]
    if high:
        out += [ar.ge(v, ar.const(MOD - HIGH)) for v in values + offsets + flags]
    else:
        out += [ar.le(v, ar.const(SMALL)) for v in values]
        out += [z3.And(ar.ge(f, ar.const(1)), ar.le(f, ar.const(3))) for f in flags]
        out += [(ar.ge(o, ar.const(MOD - HIGH)) if high_offsets else ar.le(o, ar.const(SMALL)))
                for o in offsets]
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
    solver = _solver(ctx)
    solver.add(spec.valid)
    for i, per_slot in enumerate(labels):
        for j, cond in enumerate(per_slot.values()):
            solver.add(cond == (idx[i] == j))
    solver.add(spec.ar.domain())
    sigs: list[tuple[str, ...]] = []
    small: list[Inputs] = []

    def enumerate_paths() -> None:
        """Add one witness per path the solver still allows, blocking each after it."""
        while _check(solver):
            model = solver.model()
            chosen = [model_value(model, v) for v in idx]
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
    complete = not _check(solver)
    solver.pop()
    high: list[Inputs | None] = []
    for sig in sigs:
        solver.push()
        solver.add(_path_condition(labels, sig), *_bounds(spec, high=True))
        high.append(inputs_from_model(spec, solver.model()) if _check(solver) else None)
        solver.pop()
    return PathWitnesses(relation, k, tuple(sigs), tuple(small), tuple(high), complete)


def _first(solver: z3.Solver, spec: Spec, extra: Sequence[Term]) -> Inputs | None:
    solver.push()
    solver.add(*extra)
    found = inputs_from_model(spec, solver.model()) if _check(solver) else None
    solver.pop()
    return found


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
    solver = _solver(ctx)
    solver.add(spec.context, spec.ar.domain())
    out = []
    for i, (label, cond) in enumerate(checks):
        solver.push()
        solver.add(z3.Not(cond), *[c for j, (_, c) in enumerate(checks) if j != i])
        if label == "region":  # no mapping's own region may hold the request either
            ar = spec.ar
            solver.add(*[z3.Not(z3.And(m.present, ar.le(m.addr, req.addr),
                                       ar.le(req.end, m.end))) for m in layout.slots])
        found = [_first(solver, spec, _bounds(spec, high)) for high in (False, True)]
        solver.pop()
        out.append((label, found[0], found[1]))
    return tuple(out)


# ------------------------------------------------------------------ edges

#: An edge: (name, relations, accepted?, wants high values?, wants high offsets?,
#: constraints on the spec).
Edge = tuple[str, tuple[str, ...], bool, bool, bool, Callable[[Spec], list[Term]]]


def _any_slot(spec: Spec, cond: Callable[[Any, Any], Term]) -> Term:
    return spec.ar.any([cond(m, s) for m, s in zip(spec.layout.slots, spec.ops.slots,
                                                    strict=True)])


def _exact_end(spec: Spec) -> Term:
    return spec.req.addr + spec.req.range  # integers: the exact sum


def _node(spec: Spec) -> list[Term]:
    return [spec.vm.reserve_range >= 2]


def _no_overlap_neighbours(gem_rule: Callable[[Spec, Any], Term]) -> Callable[[Spec], list[Term]]:
    """A request meeting no mapping, with a neighbour on each side that ``gem_rule``
    says is not the request's GEM, at the request's base and flags."""
    def build(spec: Spec) -> list[Term]:
        ar, req = spec.ar, spec.req
        out = []
        for m in spec.layout.slots:
            out.append(z3.Not(z3.And(m.present, ar.lt(m.addr, req.end),
                                     ar.lt(req.addr, m.end))))
        left, right = spec.layout.slots[0], spec.layout.slots[1]
        for m, touch in ((left, _ends_at(left, req.addr)), (right, right.addr == req.end)):
            out += [m.present, touch, gem_rule(spec, m), m.flags == req.flags,
                    ar.add(m.offset, req.addr) == ar.add(req.offset, m.addr)]
        return out
    return build


def _ends_at(m: Any, x: Term) -> Term:
    return m.ar.add(m.addr, m.range) == x


def _other_gem(spec: Spec, m: Any) -> Term:
    """``m`` has a GEM, not the request's (which has one)."""
    return z3.And(m.gem != 0, spec.req.gem != 0, m.gem != spec.req.gem)


def _null_gem(spec: Spec, m: Any) -> Term:
    """``m`` is a NULL mapping; the request has a GEM."""
    return z3.And(m.gem == 0, spec.req.gem != 0)


def _compatible_other_flags(where: str) -> Callable[[Spec], list[Term]]:
    def build(spec: Spec) -> list[Term]:
        ar, req = spec.ar, spec.req
        m = spec.layout.slots[0]
        out = [m.present, m.gem == req.gem, m.gem != 0, m.flags != req.flags,
               ar.add(m.offset, req.addr) == ar.add(req.offset, m.addr)]
        if where == "contains":
            out += [ar.le(m.addr, req.addr), ar.ge(m.end, req.end)]
        else:
            out.append(m.end == req.addr)
        return out
    return build


def _overlap_other_gem(spec: Spec) -> list[Term]:
    req = spec.req
    m = spec.layout.slots[0]
    return [m.present, m.addr == req.addr, m.end == req.end, _other_gem(spec, m),
            m.flags == req.flags, m.offset == req.offset]


EDGES: tuple[Edge, ...] = (
    ("end-at-u64-max", ("upstream", "rfc2023", "unmap"), True, True, False,
     lambda s: [_exact_end(s) == U64_MAX,
                _any_slot(s, lambda m, o: z3.And(m.present, s.ar.lt(m.addr, s.req.end),
                                                 s.ar.lt(s.req.addr, m.end)))]),
    ("kernel-first", ("upstream", "rfc2023", "unmap"), False, False, False,
     lambda s: [*_node(s), _exact_end(s) == s.vm.reserve_offset + 1]),
    ("kernel-last", ("upstream", "rfc2023", "unmap"), False, False, False,
     lambda s: [*_node(s), s.req.addr == s.vm.reserve_offset + s.vm.reserve_range - 1]),
    ("kernel-before", ("upstream", "rfc2023", "unmap"), True, False, False,
     lambda s: [*_node(s), _exact_end(s) == s.vm.reserve_offset]),
    ("kernel-after", ("upstream", "rfc2023", "unmap"), True, False, False,
     lambda s: [*_node(s), s.req.addr == s.vm.reserve_offset + s.vm.reserve_range]),
    ("neighbours-other-gem", ("upstream", "rfc2023"), True, False, False,
     _no_overlap_neighbours(_other_gem)),
    ("neighbours-null-gem", ("upstream", "rfc2023"), True, False, False,
     _no_overlap_neighbours(_null_gem)),
    ("overlap-other-gem", ("upstream", "rfc2023"), True, False, False, _overlap_other_gem),
    ("neighbour-other-flags", ("upstream", "rfc2023"), True, False, False,
     _compatible_other_flags("neighbour")),
    ("contains-other-flags", ("upstream", "rfc2023"), True, False, False,
     _compatible_other_flags("contains")),
    ("next-offset-wraps", ("upstream", "rfc2023", "unmap"), True, False, True,
     lambda s: [_any_slot(s, lambda m, o: z3.And(
         o.next.present, m.offset + (s.req.addr + s.req.range - m.addr) > U64_MAX))]),
    ("map-offset-wraps", ("upstream", "rfc2023"), True, False, True,
     lambda s: [s.req.offset + s.req.range > U64_MAX + 1,
                _any_slot(s, lambda m, o: o.remap)]),
)


@functools.lru_cache(maxsize=16)
def edge_witnesses(relation: str, k: int = VECTOR_K
                   ) -> tuple[tuple[str, bool, Inputs | None], ...]:
    """One input per edge of :data:`EDGES` that applies to ``relation`` (``None``
    where the edge is infeasible, which the tests treat as a failure)."""
    ctx = z3.Context()
    spec = _spec(relation, k, ctx)
    checks = dict(unmap_request_checks(spec.vm, spec.req) if relation == "unmap"
                  else map_request_checks(spec.vm, spec.req))
    # a rejected edge fails the kernel-node test alone
    rejected = z3.And(z3.Not(checks["kernel-node"]),
                      *[c for label, c in checks.items() if label != "kernel-node"])
    solver = _solver(ctx)
    solver.add(spec.context, spec.ar.domain())
    out = []
    for name, relations, accepted, high, high_offsets, build in EDGES:
        if relation not in relations:
            continue
        guard = spec.accepts if accepted else rejected
        bounds = _bounds(spec, high, high_offsets=high_offsets)
        out.append((name, accepted, _first(solver, spec, [guard, *build(spec), *bounds])))
    return tuple(out)


# ---------------------------------------------------------------- vectors

def _vector(inp: Inputs, profile: str, sig: tuple[str, ...], kind: str,
            edge: str | None = None) -> dict[str, Any]:
    pred, bv_sig = predict_path(inp)
    rejected = sig[0].startswith("reject:")
    assert (pred.error is None) != rejected, (inp, pred)
    action = "Unmap" if inp.relation == "unmap" else "Map"
    bv_path = [*bv_sig, *["-"] * (VECTOR_K - len(inp.slots))]
    name = f"{inp.relation}:{','.join(sig)}:{kind}"
    v: dict[str, Any] = {
        "name": f"{inp.relation}:edge:{edge}:{kind}" if edge else name,
        "relation": inp.relation,
        "profile": profile,
        "path": list(sig),
        "values": kind,
        "bv_path": list(sig) if rejected else bv_path,
        "config": trace_config(inp, profile),
        "regions": [r.to_json() for r in regions_for(inp)],
        "layout": [va.to_json() for va in inp.slots],
        "action": action,
        "args": request_args(inp),
        "ops": ops_to_json(pred.ops),
        "vas": [va.to_json() for va in apply_ops(inp.slots, pred.ops)],
    }
    if edge:
        v["edge"] = edge
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
        for edge, accepted, inp in edge_witnesses(relation):
            if inp is None:
                continue
            kind = "high" if inp.addr >= MOD - HIGH else "small"
            sig = (signature(inp) + ("-",) * (VECTOR_K - len(inp.slots))
                   if accepted else ("reject:kernel-node",))
            out.append(_vector(inp, profile, sig, kind, edge))
    return tuple(out)


def vectors(profile: str) -> list[dict[str, Any]]:
    """The conformance vectors of ``profile``: every path of its ``sm_map`` and of
    ``sm_unmap`` (a small and a near-``2**64`` input each), the rejections, the
    edges; each with the ops and resulting layout the relation prescribes (or
    ``"error": "EINVAL"`` and the layout unchanged).  Plain JSON-able dicts."""
    return [json.loads(json.dumps(v)) for v in _vectors(profile)]


def clear_vector_cache() -> None:
    """Forget the vectors found so far (the next call finds them again)."""
    path_witnesses.cache_clear()
    rejection_witnesses.cache_clear()
    edge_witnesses.cache_clear()
    _vectors.cache_clear()


def _model_vm(v: Mapping[str, Any]) -> VaSpace:
    cfg = v["config"]
    vm = VaSpace(cfg["mm_start"], cfg["mm_range"], cfg["reserve_offset"], cfg["reserve_range"],
                 profile=profile_by_name(v["profile"]), regions=bool(cfg["regions"]))
    for addr, range_, sparse in v["regions"]:
        vm.region_alloc(addr, range_, sparse)
    for raw in v["layout"]:
        vm.insert(Va.from_json(raw))
    return vm


def run_vector(v: Mapping[str, Any]) -> str | None:
    """Run one vector through ``model.VaSpace``: ``None`` if the model gives the
    vector's ops and layout (or its error, the layout unchanged), else what
    differs.  Whatever the model raises is such a difference, never a crash."""
    name, args = v["name"], v["args"]
    try:
        vm = _model_vm(v)
    except GpuVmError as e:
        return f"{name}: the model cannot hold the vector's layout: -{e.errno_name}: {e}"
    except Exception as e:  # a broken model (or mutant) is a finding, not a tool error
        return f"{name}: the model raised {type(e).__name__} holding the layout: {e}"
    try:
        if v["action"] == "Map":
            ops = vm.map(args["addr"], args["range"], args["gem"], args["offset"],
                         args["flags"])
        else:
            ops = vm.unmap(args["addr"], args["range"])
        got_vas = vm.abstract()["vas"]
    except GpuVmError as e:
        try:
            unchanged = vm.abstract()["vas"] == v["vas"]
        except Exception as inner:
            return f"{name}: the model raised {type(inner).__name__} after -{e.errno_name}"
        if e.errno_name == v.get("error") and unchanged:
            return None
        return f"{name}: the model rejects the request: -{e.errno_name}: {e}"
    except Exception as e:
        return (f"{name}: {v['action']}({args}) on {v['layout']}: the model raised "
                f"{type(e).__name__}: {e}")
    if v.get("error"):
        return (f"{name}: {v['action']}({args}) on {v['layout']}: the relation "
                f"rejects it (-{v['error']}), the model returns ops {ops_to_json(ops)}")
    got_ops = ops_to_json(ops)
    if got_ops != v["ops"] or got_vas != v["vas"]:
        return (f"{name}: {v['action']}({args}) on {v['layout']}\n"
                f"  relation: ops {v['ops']}\n            vas {v['vas']}\n"
                f"  model:    ops {got_ops}\n            vas {got_vas}")
    return None


def vector_trace(v: Mapping[str, Any], description: str) -> Any:
    """The vector as a two-state trace (layout, then the request as the relation
    answers it), replayable by ``gpuvm-check replay``."""
    cfg = v["config"]
    region = None
    if cfg["regions"] and v["regions"]:
        ra, rr, _ = next(r for r in v["regions"]
                         if r[0] <= v["args"]["addr"] < r[0] + r[1])
        region = (ra, ra + rr)
    a = v["args"]
    inp = Inputs(v["relation"], cfg, region, tuple(Va.from_json(raw) for raw in v["layout"]),
                 a["addr"], a["range"], a.get("gem"), a.get("offset", 0), a.get("flags", 0))
    return gpuvm_trace(inp, v["profile"], None, f"vector {v['name']}: {description}",
                       source="z3-vector", meta={"obligation": f"{v['profile']}.vectors"})


def vector_result(profile: str, out_dir: Path | None = None) -> Result:
    """The ``<profile>.vectors`` result: every vector of ``profile`` through the model;
    the first failing one is written as a trace under ``out_dir/prove``."""
    start = time.monotonic()
    try:
        vs = vectors(profile)
    except SolverGaveUp as e:  # never a pass
        timed_out = "timeout" in str(e) or "canceled" in str(e)
        return Result(f"{profile}.vectors", Outcome.TIMEOUT if timed_out else Outcome.UNKNOWN,
                      time.monotonic() - start, Outcome.PASS,
                      detail=f"finding the vectors, the solver gave up: {e}",
                      figures={"group": "vectors", "k": VECTOR_K})
    failing = [(v, msg) for v in vs if (msg := run_vector(v)) is not None]
    failures = [msg for _, msg in failing]
    split = [v for v in vs if v["path"] != v["bv_path"]]
    figures: dict[str, Any] = {"group": "vectors", "k": VECTOR_K}
    for relation in (profile, "unmap"):
        w = path_witnesses(relation)
        figures[f"paths_{relation}"] = len(w.signatures)
        if not w.complete:
            failures.insert(0, f"the paths of {relation} do not cover every input")
        missing = [e for e, _, inp in edge_witnesses(relation) if inp is None]
        if missing:
            failures.insert(0, f"no vector for the edge(s) {', '.join(missing)} of {relation}")
    figures["rejection_vectors"] = sum(1 for v in vs if v.get("error"))
    figures["edge_vectors"] = sum(1 for v in vs if v.get("edge"))
    figures["vectors"] = len(vs)
    figures["failures"] = len(failures)
    for v in split:
        failures.insert(0, f"{v['name']}: the bit-vector relation puts it on path "
                           f"{v['bv_path']}")
    outcome = Outcome.VIOLATION if failures else Outcome.PASS
    detail = "\n".join(failures[:5]) + (f"\n... {len(failures) - 5} more"
                                          if len(failures) > 5 else "")
    result = Result(f"{profile}.vectors", outcome, time.monotonic() - start, Outcome.PASS,
                    detail=detail, figures=figures)
    if failing and out_dir is not None:
        v, msg = failing[0]
        trace = vector_trace(v, f"{profile}.vectors: {msg.splitlines()[0]}")
        result.trace = trace.write(out_dir / "prove" / f"{profile}.vectors.itf.json")
    return result
