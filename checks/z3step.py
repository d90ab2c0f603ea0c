"""The Z3 split/merge relation applied to one concrete step.

:func:`check_step` takes one ``Map`` or ``Unmap`` step of the VA space (the
mappings before it, the action and its arguments, the ops the model
returned) and checks the ops against the relation of ``specs.z3.splitmerge``
over ``BitVec(64)``: ``None`` when they agree, else a message.  The state
machine calls it on a sample of its steps.

How: the relation for ``k`` slots is built once per (relation, ``k``,
variant), in a Z3 context of this module's own, and its outputs packed into
one bit-vector term (validity, then per slot the op and its pieces, then
the map); a step substitutes its concrete values for the inputs and lets
Z3 simplify the term to one constant, which is cut back into the fields.
Only the mappings the relation consults take slots: those the request
overlaps and, for ``Map``, the neighbours ending at its start and starting
at its end.  GEM names are compared for equality only, so they become 0
(NULL), 1 (the request's GEM) and 2 (any other); offsets and flags are the
step's 64-bit values, and every op's offset and flags come out of the
relation.

:func:`spec_ops` returns the op list the relation (or a known-bad variant
of it) prescribes; :func:`signature` the path a concrete input takes (see
``specs.z3.paths``).  :func:`inputs_from_model` reads the concrete input out
of a solver's model of a relation, and :func:`gpuvm_trace` writes what the
relation prescribes for a concrete input as a trace that ``gpuvm-check
replay`` re-executes on the model: state 0 holds the layout (and regions),
state 1 is the request with the op list and layout the relation gives.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import z3

from checks.traces import Step, Trace
from model.gpuva import U64_MAX, Region, Va
from model.ops import Map, Op, Remap, Unmap, ops_to_json
from specs.z3 import paths
from specs.z3.layout import insert_ok
from specs.z3.splitmerge import Piece, Spec, relation_spec
from specs.z3.u64 import GEM_WIDTH, NULL_GEM, Term, arith

GEM_REQUEST = 1
GEM_OTHER = 2
_SLOT_FIELDS = 17
_MAP_FIELDS = 6
#: the context every term of this module lives in (independent of the caller's)
_CTX = z3.Context()


@dataclass(frozen=True)
class Prediction:
    """What the relation prescribes for one step: ``error`` (``"EINVAL"``: the request
    is refused, or applying its ops fails) or ``ops``."""

    ops: list[Op]
    error: str | None = None
    relation: str = ""


@dataclass(frozen=True)
class _Packed:
    """The relation's outputs as one bit-vector: each Boolean one bit, each value 64."""

    spec: Spec
    ops: Term
    ops_widths: tuple[int, ...]
    labels: Term
    label_names: list[list[str]]


def _concat(terms: Sequence[Term]) -> tuple[Term, tuple[int, ...]]:
    parts, widths = [], []
    for t in terms:
        if z3.is_bool(t):
            parts.append(z3.If(t, z3.BitVecVal(1, 1, t.ctx), z3.BitVecVal(0, 1, t.ctx)))
            widths.append(1)
        else:
            parts.append(t)
            widths.append(t.size())
    return (z3.Concat(*parts) if len(parts) > 1 else parts[0]), tuple(widths)


def _split(value: int, widths: Sequence[int]) -> list[Any]:
    """Undo :func:`_concat` on a constant: the first term is in the top bits."""
    out: list[Any] = []
    shift = sum(widths)
    for w in widths:
        shift -= w
        part = (value >> shift) & ((1 << w) - 1)
        out.append(bool(part) if w == 1 else part)
    return out


def relation_of(profile: str, action: str) -> str:
    if action == "Unmap":
        return "unmap"
    if action == "Map":
        return profile
    raise ValueError(f"the split/merge relation covers Map and Unmap, not {action!r}")


@functools.lru_cache(maxsize=256)
def _packed(relation: str, k: int, variant: str | None) -> _Packed:
    spec = relation_spec(relation, k, variant, ar=arith("bv", _CTX))
    vm = spec.vm
    wrap = variant != "range-check-no-overflow"

    def ins(piece: Piece) -> Term:
        return insert_ok(vm, piece, check_wrap=wrap)

    outs: list[Term] = [vm.valid(), spec.layout.valid(vm), spec.accepts]
    for s in spec.ops.slots:
        outs += [s.unmap, s.remap, s.keep,
                 s.prev.present, s.prev.addr, s.prev.range, s.prev.offset, s.prev.flags,
                 ins(s.prev),
                 s.next.present, s.next.addr, s.next.range, s.next.offset, s.next.flags,
                 ins(s.next), s.merge_prev, s.merge_next]
    m = spec.ops.map
    outs += [m.present, m.addr, m.range, m.offset, m.flags, ins(m)]
    ops, widths = _concat(outs)
    slot_labels = paths.labels(spec)
    names = [list(d) for d in slot_labels]
    flags = [c for d in slot_labels for c in d.values()]
    labels, _ = _concat(flags) if flags else (z3.BitVecVal(0, 1, _CTX), ())
    return _Packed(spec, ops, widths, labels, names)


@dataclass(frozen=True)
class Inputs:
    """One concrete input of a relation (what a vector or a step supplies)."""

    relation: str
    config: Mapping[str, Any]
    region: tuple[int, int] | None  # the region enclosing the request, if regions are on
    slots: tuple[Va, ...]
    addr: int
    range: int
    gem: str | None = None
    offset: int = 0
    flags: int = 0


def _is_u64(x: object) -> bool:
    return type(x) is int and 0 <= x <= U64_MAX


def _gem_id(gem: str | None, req_gem: str | None) -> int:
    if gem is None:
        return NULL_GEM
    return GEM_REQUEST if gem == req_gem else GEM_OTHER


def _substitutions(p: _Packed, inp: Inputs) -> list[tuple[Term, Term]]:
    spec = p.spec
    vm, req = spec.vm, spec.req

    def bv(x: int) -> Term:
        return z3.BitVecVal(x, 64, _CTX)

    def gem(x: int) -> Term:
        return z3.BitVecVal(x, GEM_WIDTH, _CTX)

    cfg = inp.config
    ra, rend = inp.region if inp.region is not None else (0, 0)
    pairs = [(vm.mm_start, bv(int(cfg.get("mm_start", 0)))),
             (vm.mm_range, bv(int(cfg.get("mm_range", U64_MAX)))),
             (vm.reserve_offset, bv(int(cfg.get("reserve_offset", 0)))),
             (vm.reserve_range, bv(int(cfg.get("reserve_range", 0)))),
             (vm.regions, z3.BoolVal(inp.region is not None, _CTX)),
             (vm.region_addr, bv(ra)), (vm.region_end, bv(rend)),
             (req.addr, bv(inp.addr)), (req.range, bv(inp.range)),
             (req.gem, gem(NULL_GEM if inp.gem is None else GEM_REQUEST)),
             (req.offset, bv(inp.offset)), (req.flags, bv(inp.flags))]
    for m, va in zip(spec.layout.slots, inp.slots, strict=True):
        pairs += [(m.present, z3.BoolVal(True, _CTX)), (m.addr, bv(va.addr)),
                  (m.range, bv(va.range)), (m.gem, gem(_gem_id(va.gem, inp.gem))),
                  (m.offset, bv(va.offset)), (m.flags, bv(va.flags))]
    return pairs


def _substitute(term: Term, pairs: Sequence[tuple[Term, Term]]) -> Term:
    """``z3.substitute(term, *pairs)`` without its per-pair sort checks (the pairs
    are made here, variable and value of one sort each): the vectors substitute
    into the same large term some thousands of times."""
    n = len(pairs)
    old, new = (z3.Ast * n)(), (z3.Ast * n)()
    for i, (a, b) in enumerate(pairs):
        old[i], new[i] = a.as_ast(), b.as_ast()
    return z3.ExprRef(z3.Z3_substitute(_CTX.ref(), term.as_ast(), n, old, new), _CTX)


def _constant(term: Term) -> int:
    value = z3.simplify(term)
    if not z3.is_bv_value(value):  # pragma: no cover - every input is a constant
        raise AssertionError(f"relation did not evaluate to a constant: {value}")
    return int(value.as_long())


def _evaluate(inp: Inputs, variant: str | None) -> list[Any]:
    p = _packed(inp.relation, len(inp.slots), variant)
    packed = _substitute(p.ops, _substitutions(p, inp))
    return _split(_constant(packed), p.ops_widths)


def _labels_of(p: _Packed, flags: list[Any]) -> tuple[str, ...]:
    out = []
    for names in p.label_names:
        mine, flags = flags[:len(names)], flags[len(names):]
        (label,) = [n for n, f in zip(names, mine, strict=True) if f]
        out.append(label)
    return tuple(out)


def _relevant(before: Sequence[Va], action: str, addr: int, end: int) -> tuple[Va, ...]:
    """The mappings the relation consults, ascending."""
    out = []
    for va in sorted(before):
        overlapped = va.addr < end and addr < va.end
        neighbour = action == "Map" and (va.end == addr or va.addr == end)
        if overlapped or neighbour:
            out.append(va)
    return tuple(out)


def inputs_of(relation: str, before: Sequence[Va], action: str, args: Mapping[str, Any],
              config: Mapping[str, Any] | None = None,
              regions: Sequence[Region] | None = None) -> Inputs | str:
    """The relation's input for a step, or ``"EINVAL"`` when an argument is not a u64."""
    addr, range_ = args.get("addr"), args.get("range")
    gem, offset, flags = args.get("gem"), args.get("offset", 0), args.get("flags", 0)
    if not (_is_u64(addr) and _is_u64(range_)) or (
            action == "Map" and not (_is_u64(offset) and _is_u64(flags))):
        return "EINVAL"
    if gem is not None and not isinstance(gem, str):
        return "EINVAL"
    assert isinstance(addr, int) and isinstance(range_, int)
    assert isinstance(offset, int) and isinstance(flags, int)
    end = addr + range_
    cfg = dict(config or {})
    region: tuple[int, int] | None = None
    if action == "Map" and (regions is not None or cfg.get("regions")):
        if regions is None:
            raise ValueError("regions are enabled: pass the VM's regions")
        enclosing = [r for r in regions if r.addr <= addr and end <= r.end]
        if not enclosing:
            return "EINVAL"  # a map request must lie inside one region
        region = (enclosing[0].addr, enclosing[0].end)
    if action != "Map":
        gem, offset, flags = None, 0, 0
    return Inputs(relation, cfg, region, _relevant(before, action, addr, end), addr, range_,
                  gem, offset, flags)


def predict(inp: Inputs, variant: str | None = None) -> Prediction:
    """The ops (or the error) the relation prescribes for ``inp``."""
    return _prediction(inp, _evaluate(inp, variant))


def predict_path(inp: Inputs) -> tuple[Prediction, tuple[str, ...]]:
    """:func:`predict` and :func:`signature` of ``inp`` in one evaluation."""
    p = _packed(inp.relation, len(inp.slots), None)
    if not p.label_names:
        return predict(inp), ()
    both = z3.Concat(p.ops, p.labels)
    label_count = sum(len(names) for names in p.label_names)
    value = _constant(_substitute(both, _substitutions(p, inp)))
    values = _split(value >> label_count, p.ops_widths)
    flags = _split(value & ((1 << label_count) - 1), [1] * label_count)
    return _prediction(inp, values), _labels_of(p, flags)


def _prediction(inp: Inputs, values: list[Any]) -> Prediction:
    vm_ok, layout_ok, req_ok = values[:3]
    if not (vm_ok and layout_ok):
        raise ValueError(f"the state before the step is not one the model can hold: "
                         f"{inp.config}, {list(inp.slots)}")
    if not req_ok:
        return Prediction([], "EINVAL", inp.relation)
    k = len(inp.slots)
    walk: list[Op] = []
    merges: list[Op] = []
    merges_next: list[Op] = []
    insertable = True
    for i, va in enumerate(inp.slots):
        f = values[3 + i * _SLOT_FIELDS: 3 + (i + 1) * _SLOT_FIELDS]
        unmap, remap, keep = f[0], f[1], f[2]
        prev = Map(f[4], f[5], va.gem, f[6], f[7]) if f[3] else None
        nxt = Map(f[10], f[11], va.gem, f[12], f[13]) if f[9] else None
        insertable &= (not f[3] or f[8]) and (not f[9] or f[14])
        if unmap:
            walk.append(Unmap(va, keep))
        if remap:
            walk.append(Remap(Unmap(va, keep), prev, nxt))
        if f[15]:
            merges.append(Unmap(va, True))
        if f[16]:
            merges_next.append(Unmap(va, True))
    m = values[3 + k * _SLOT_FIELDS: 3 + k * _SLOT_FIELDS + _MAP_FIELDS]
    ops: list[Op] = walk + merges + merges_next
    if m[0]:
        ops.append(Map(m[1], m[2], inp.gem, m[3], m[4]))
        insertable &= m[5]
    if not insertable:
        # Applying the ops fails (all or nothing): a mapping they create is not one
        # the VA space can hold.  Only a known-bad variant gets here; for the
        # relation itself the obligations *.no-overflow prove it never happens.
        return Prediction([], "EINVAL", inp.relation)
    return Prediction(ops, None, inp.relation)


def signature(inp: Inputs) -> tuple[str, ...]:
    """The path ``inp`` takes: one label per slot (see ``specs.z3.paths``)."""
    p = _packed(inp.relation, len(inp.slots), None)
    if not p.label_names:
        return ()
    widths = [1] * sum(len(names) for names in p.label_names)
    return _labels_of(p, _split(_constant(_substitute(p.labels, _substitutions(p, inp))),
                                widths))


def spec_ops(profile: str, before: Sequence[Va], action: str, args: Mapping[str, Any], *,
             config: Mapping[str, Any] | None = None, regions: Sequence[Region] | None = None,
             variant: str | None = None) -> Prediction:
    """What the relation of ``profile`` (or a known-bad ``variant``) prescribes for a step."""
    relation = relation_of(profile, action)
    inp = inputs_of(relation, before, action, args, config, regions)
    if isinstance(inp, str):
        return Prediction([], inp, relation)
    return predict(inp, variant)


def apply_ops(before: Sequence[Va], ops: Sequence[Op]) -> list[Va]:
    """The layout after ``ops`` (as the relation reads them), ascending."""
    out = {va.addr: va for va in before}
    for op in ops:
        if isinstance(op, Unmap):
            out.pop(op.va.addr, None)
        elif isinstance(op, Remap):
            out.pop(op.unmap.va.addr, None)
            for piece in (op.prev, op.next):
                if piece is not None:
                    out[piece.addr] = piece.va()
        elif isinstance(op, Map):
            out[op.addr] = op.va()
    return sorted(out.values())


def check_step(profile_name: str, before: list[Va], action: str, args: dict[str, Any],
               ops: list[Op], *, config: Mapping[str, Any] | None = None,
               regions: Sequence[Region] | None = None, error: str | None = None) -> str | None:
    """Check one ``Map``/``Unmap`` step's ops against the Z3 relation.

    ``before``: the mappings before the step; ``args``: the action's
    arguments (``Map``: ``addr``, ``range``, ``gem``, ``offset``, ``flags`` --
    no flags means 0); ``ops``: what the model returned, offsets and flags
    included.  Returns ``None`` when they agree, else a message naming the
    step and both op lists.  ``regions`` (the VM's regions, when enabled)
    lets the check follow the region rule of merges; ``config`` (the VM
    configuration, as in a trace's ``#meta.config``) and ``error`` (the
    errno name the model returned, if it rejected the step) let it check
    rejections too.  Without ``config`` the VM is taken as all of u64, so a
    rejection is not checked.
    """
    pred = spec_ops(profile_name, before, action, args, config=config, regions=regions)
    step = f"{action}({', '.join(f'{k}={v!r}' for k, v in args.items())})"
    if error is not None:
        if config is None and pred.error is None:
            return None
        if pred.error != error:
            return (f"{step}: the model returned -{error}; the Z3 relation {pred.relation} "
                    f"{'returns -' + pred.error if pred.error else 'accepts it'}")
        return None
    if pred.error is not None:
        return (f"{step}: the Z3 relation {pred.relation} rejects it (-{pred.error}), "
                f"the model returned ops {ops_to_json(ops)}")
    want, got = ops_to_json(pred.ops), ops_to_json(ops)
    if want != got:
        return (f"{step}: the ops disagree with the Z3 relation {pred.relation}\n"
                f"  relation: {want}\n  model:    {got}")
    return None


# ------------------------------------------------------- models and traces

def model_value(model: Any, term: Term) -> Any:
    """The value a solver's model gives ``term``: a bool or an int."""
    v = model.eval(term, model_completion=True)
    if isinstance(v, z3.BoolRef):
        return z3.is_true(v)
    return v.as_long()


def gem_name(gem_id: int) -> str | None:
    """GEM identifiers of the encodings as names: 0 is NULL, then ``a``, ``b``, ..."""
    return None if gem_id == 0 else chr(ord("a") + gem_id - 1)


def inputs_from_model(spec: Spec, model: Any) -> Inputs:
    """The concrete input a model of ``spec`` assigns."""
    vm, req = spec.vm, spec.req

    def val(t: Term) -> Any:
        return model_value(model, t)

    regions_on = bool(val(vm.regions)) and spec.action == "Map"
    config = {"mm_start": val(vm.mm_start), "mm_range": val(vm.mm_range),
              "reserve_offset": val(vm.reserve_offset),
              "reserve_range": val(vm.reserve_range), "regions": regions_on}
    if config["reserve_range"] == 0:
        config["reserve_offset"] = 0
    region = (val(vm.region_addr), val(vm.region_end)) if regions_on else None
    slots = tuple(Va(val(m.addr), val(m.range), gem_name(val(m.gem)), val(m.offset),
                     val(m.flags))
                  for m in spec.layout.slots if val(m.present))
    if spec.action == "Map":
        return Inputs(spec.relation, config, region, slots, val(req.addr), val(req.range),
                      gem_name(val(req.gem)), val(req.offset), val(req.flags))
    return Inputs(spec.relation, config, region, slots, val(req.addr), val(req.range))


def regions_for(inp: Inputs) -> list[Region]:
    """Regions a VM needs to hold ``inp``: the request's, and one per mapping outside it."""
    if inp.region is None:
        return []
    ra, re = inp.region
    out = [Region(ra, re - ra)]
    out += [Region(va.addr, va.range) for va in inp.slots if va.end <= ra or va.addr >= re]
    return sorted(out)


def trace_config(inp: Inputs, profile: str) -> dict[str, Any]:
    """The VM configuration of ``inp`` as a trace's ``#meta.config``."""
    cfg = {k: inp.config.get(k, 0) for k in ("mm_start", "mm_range", "reserve_offset",
                                              "reserve_range")}
    return {**cfg, "regions": inp.region is not None, "profile": profile}


def request_args(inp: Inputs) -> dict[str, Any]:
    """The request's arguments, as the ``Map``/``Unmap`` action takes them."""
    if inp.relation == "unmap":
        return {"addr": inp.addr, "range": inp.range}
    return {"addr": inp.addr, "range": inp.range, "gem": inp.gem, "offset": inp.offset,
            "flags": inp.flags}


def gpuvm_trace(inp: Inputs, profile: str, variant: str | None, description: str, *,
                source: str = "z3", meta: Mapping[str, Any] | None = None) -> Trace:
    """``inp`` as a two-state trace: the layout, then the request with what the
    relation (or its known-bad ``variant``) prescribes."""
    regions = regions_for(inp)
    held: dict[str, Any] = {"regions": [r.to_json() for r in regions]} if regions else {}
    variables = ("vas", "regions", "lastOps", "lastErr") if regions else (
        "vas", "lastOps", "lastErr")
    trace = Trace(spec="GpuVm", config=trace_config(inp, profile), source=source,
                  description=description, variables=variables, meta=dict(meta or {}))
    before = sorted(inp.slots)
    trace.steps.append(Step(0, "Init", {}, {"vas": [va.to_json() for va in before], **held,
                                            "lastOps": [], "lastErr": "OK"}))
    pred = predict(inp, variant)
    after = before if pred.error is not None else apply_ops(before, pred.ops)
    action = "Unmap" if inp.relation == "unmap" else "Map"
    trace.steps.append(Step(1, action, request_args(inp), {
        "vas": [va.to_json() for va in after], **held, "lastOps": ops_to_json(pred.ops),
        "lastErr": pred.error or "OK"}))
    return trace
