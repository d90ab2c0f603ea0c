"""The Z3 split/merge relation applied to one concrete step.

:func:`check_step` takes one ``Map`` or ``Unmap`` step of the VA space (the
mappings before it, the action and its arguments, the ops the model
returned) and checks the ops against the relation of ``specs.z3.splitmerge``
over ``BitVec(64)``: ``None`` when they agree, else a message.  The state
machine calls it on a sample of its steps.

How: the relation for ``k`` slots is built once per (relation, ``k``,
variant) and its outputs packed into one bit-vector term (validity, then
per slot the op and its pieces, then the map); a step substitutes its
concrete values for the inputs and lets Z3 simplify the term to one
constant, which is cut back into the fields.  Only the mappings the
relation consults take slots: those the request overlaps and, for ``Map``,
the neighbours ending at its start and starting at its end.  GEM names
are compared for equality only, so they become 0 (NULL), 1 (the request's
GEM) and 2 (any other).

:func:`spec_ops` returns the op list the relation (or a known-bad variant
of it) prescribes; :func:`signature` the path a concrete input takes (see
``specs.z3.paths``).
"""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import z3

from model.gpuva import U64_MAX, Region, Va
from model.ops import Map, Op, Remap, Unmap, ops_to_json
from specs.z3 import paths
from specs.z3.layout import map_request_ok, unmap_request_ok
from specs.z3.splitmerge import Spec, sm_map, sm_unmap
from specs.z3.u64 import GEM_WIDTH, NULL_GEM, Term

GEM_REQUEST = 1
GEM_OTHER = 2
_SLOT_FIELDS = 13


@dataclass(frozen=True)
class Prediction:
    """What the relation prescribes for one step: ``error`` (``"EINVAL"``) or ``ops``."""

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
            parts.append(z3.If(t, z3.BitVecVal(1, 1), z3.BitVecVal(0, 1)))
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
    spec = (sm_unmap(k, ar="bv") if relation == "unmap"
            else sm_map(relation, k, variant, ar="bv"))
    req_ok = (unmap_request_ok(spec.vm, spec.req) if relation == "unmap"
              else map_request_ok(spec.vm, spec.req,
                                  check_wrap=variant != "range-check-no-overflow"))
    outs: list[Term] = [spec.vm.valid(), spec.layout.valid(spec.vm), req_ok]
    for s in spec.ops.slots:
        outs += [s.unmap, s.remap, s.keep,
                 s.prev.present, s.prev.addr, s.prev.range, s.prev.offset,
                 s.next.present, s.next.addr, s.next.range, s.next.offset,
                 s.merge_prev, s.merge_next]
    m = spec.ops.map
    outs += [m.present, m.addr, m.range, m.offset]
    ops, widths = _concat(outs)
    slot_labels = paths.labels(spec)
    names = [list(d) for d in slot_labels]
    flags = [c for d in slot_labels for c in d.values()]
    labels, _ = _concat(flags) if flags else (z3.BitVecVal(0, 1), ())
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
        return z3.BitVecVal(x, 64)

    cfg = inp.config
    ra, rend = inp.region if inp.region is not None else (0, 0)
    pairs = [(vm.mm_start, bv(int(cfg.get("mm_start", 0)))),
             (vm.mm_range, bv(int(cfg.get("mm_range", U64_MAX)))),
             (vm.reserve_offset, bv(int(cfg.get("reserve_offset", 0)))),
             (vm.reserve_range, bv(int(cfg.get("reserve_range", 0)))),
             (vm.regions, z3.BoolVal(inp.region is not None)),
             (vm.region_addr, bv(ra)), (vm.region_end, bv(rend)),
             (req.addr, bv(inp.addr)), (req.range, bv(inp.range)),
             (req.gem, z3.BitVecVal(NULL_GEM if inp.gem is None else GEM_REQUEST, GEM_WIDTH)),
             (req.offset, bv(inp.offset))]
    for m, va in zip(spec.layout.slots, inp.slots, strict=True):
        pairs += [(m.present, z3.BoolVal(True)), (m.addr, bv(va.addr)), (m.range, bv(va.range)),
                  (m.gem, z3.BitVecVal(_gem_id(va.gem, inp.gem), GEM_WIDTH)),
                  (m.offset, bv(va.offset))]
    return pairs


def _constant(term: Term) -> int:
    value = z3.simplify(term)
    if not z3.is_bv_value(value):  # pragma: no cover - every input is a constant
        raise AssertionError(f"relation did not evaluate to a constant: {value}")
    return int(value.as_long())


def _evaluate(inp: Inputs, variant: str | None) -> list[Any]:
    p = _packed(inp.relation, len(inp.slots), variant)
    packed = z3.substitute(p.ops, *_substitutions(p, inp))
    return _split(_constant(packed), p.ops_widths)


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
    gem, offset = args.get("gem"), args.get("offset", 0)
    if not (_is_u64(addr) and _is_u64(range_)) or (action == "Map" and not _is_u64(offset)):
        return "EINVAL"
    if gem is not None and not isinstance(gem, str):
        return "EINVAL"
    assert isinstance(addr, int) and isinstance(range_, int) and isinstance(offset, int)
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
    return Inputs(relation, cfg, region, _relevant(before, action, addr, end), addr, range_,
                  gem, offset)


def predict(inp: Inputs, variant: str | None = None) -> Prediction:
    """The ops (or the error) the relation prescribes for ``inp``."""
    values = _evaluate(inp, variant)
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
    for i, va in enumerate(inp.slots):
        f = values[3 + i * _SLOT_FIELDS: 3 + (i + 1) * _SLOT_FIELDS]
        unmap, remap, keep = f[0], f[1], f[2]
        prev = Map(f[4], f[5], va.gem, f[6], va.flags) if f[3] else None
        nxt = Map(f[8], f[9], va.gem, f[10], va.flags) if f[7] else None
        if unmap:
            walk.append(Unmap(va, keep))
        if remap:
            walk.append(Remap(Unmap(va, keep), prev, nxt))
        if f[11]:
            merges.append(Unmap(va, True))
        if f[12]:
            merges_next.append(Unmap(va, True))
    m = values[3 + k * _SLOT_FIELDS: 3 + k * _SLOT_FIELDS + 4]
    ops: list[Op] = walk + merges + merges_next
    if m[0]:
        ops.append(Map(m[1], m[2], inp.gem, m[3]))
    return Prediction(ops, None, inp.relation)


def signature(inp: Inputs) -> tuple[str, ...]:
    """The path ``inp`` takes: one label per slot (see ``specs.z3.paths``)."""
    p = _packed(inp.relation, len(inp.slots), None)
    if not p.label_names:
        return ()
    widths = [1] * sum(len(names) for names in p.label_names)
    flags = _split(_constant(z3.substitute(p.labels, *_substitutions(p, inp))), widths)
    out = []
    for names in p.label_names:
        mine, flags = flags[:len(names)], flags[len(names):]
        (label,) = [n for n, f in zip(names, mine, strict=True) if f]
        out.append(label)
    return tuple(out)


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

    ``before``: the mappings before the step; ``ops``: what the model
    returned.  Returns ``None`` when they agree, else a message naming the
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
