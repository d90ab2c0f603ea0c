"""The split/merge rules as seed 001's prose states them, apart from the relation.

A spec that restates the model's algorithm can only agree with it, so the
claims here do not reuse the relation's definitions: compatibility,
containment, adjacency and the pieces are written again below, from the
"Split and Merge" documentation and its sixteen diagrams, and the ends of
ranges are computed in exact arithmetic (``Arith.exact``, two bits wider than
u64) where the relation computes them in u64.  All a claim reads of the
relation is its inputs and its op list (what is removed, with ``keep`` or
not, and the mappings created).

*compatible* (the seed: "physically contiguous with the original mapping
request"): the same non-NULL GEM and the same base, ``X.offset - X.addr ==
roff - ra`` modulo ``2**64``.  *mergeable* (``rfc2023``): compatible with
the same flags.  *absorbed*: removed with ``keep`` (an ``Unmap(keep)``).

``keep-iff-compatible`` (``upstream``)
    every mapping the ops remove is marked ``keep`` if and only if it is
    compatible -- both directions.
``no-merge`` (``upstream``)
    the op list always ends in the ``Map`` of exactly the request.
``noop-iff-covered`` (``rfc2023``)
    no ops at all if and only if one mergeable mapping already covers the
    whole request ("the requested mapping already exists in the exact same
    way", cases 1, 6, 8, 12).
``merge-widening`` (``rfc2023``)
    otherwise there is a ``Map`` of the request's GEM, base and flags,
    spanning exactly the request and the mappings it absorbs; every absorbed
    mapping is mergeable, every mergeable mapping the request overlaps is
    absorbed, the span has no gap, and with regions it lies inside the
    request's region ("never merges mappings across the boundaries").
``merge-skips`` (``rfc2023``)
    the seed's walk's rules for the neighbours (the mappings ending exactly
    at the request's start, starting exactly at its end), on their own: the
    left one is absorbed iff it is mergeable, in the request's region, and
    the request overlaps no mapping or exactly one, which starts after the
    request does; the right one iff mergeable, in the region, and the
    request overlaps no mapping or the highest one it overlaps starts at or
    after the request and ends before it.
``piece-offsets`` (all)
    a mapping split by the ops leaves its left piece ``[a, ra)`` exactly
    when it starts before the request, at its own offset, and its right
    piece ``[re, e)`` exactly when it ends after it, at ``offset + (re - a)``
    modulo ``2**64`` (case 5: ``a'.bo_offset = n + 1``); both keep its GEM
    and flags.
``range-validity`` (all)
    the relation accepts the request iff the range is non-empty, its end
    ``addr + range`` is at most ``2**64 - 1`` (exactly, not modulo), it lies
    in the VM, it shares no address with the kernel node and, for ``Map``
    with regions, lies inside a region.  Premise: the VM and the layout
    only, not the relation's guard.
"""

from __future__ import annotations

import z3

from specs.z3.layout import Mapping, Request
from specs.z3.splitmerge import Spec
from specs.z3.u64 import NULL_GEM, U64_MAX, Term, umax, umin


def _x(spec: Spec, t: Term) -> Term:
    return spec.ar.exact(t)


def _xend(spec: Spec, addr: Term, range_: Term) -> Term:
    """``addr + range`` exactly."""
    return spec.ar.exact(addr) + spec.ar.exact(range_)


def compatible(spec: Spec, x: Mapping, req: Request) -> Term:
    """Same non-NULL GEM, same base modulo ``2**64``."""
    ar = spec.ar
    return z3.And(x.gem != NULL_GEM, x.gem == req.gem,
                  ar.sub(x.offset, x.addr) == ar.sub(req.offset, req.addr))


def mergeable(spec: Spec, x: Mapping, req: Request) -> Term:
    """Compatible, with the request's flags."""
    return z3.And(compatible(spec, x, req), x.flags == req.flags)


def overlaps(spec: Spec, x: Mapping) -> Term:
    ar, req = spec.ar, spec.req
    return z3.And(x.present, ar.lt(_x(spec, x.addr), _xend(spec, req.addr, req.range)),
                  ar.lt(_x(spec, req.addr), _xend(spec, x.addr, x.range)))


def contains(spec: Spec, x: Mapping) -> Term:
    """``x`` covers every address of the request."""
    ar, req = spec.ar, spec.req
    return z3.And(x.present, ar.le(_x(spec, x.addr), _x(spec, req.addr)),
                  ar.le(_xend(spec, req.addr, req.range), _xend(spec, x.addr, x.range)))


def ends_at_start(spec: Spec, x: Mapping) -> Term:
    return z3.And(x.present, _xend(spec, x.addr, x.range) == _x(spec, spec.req.addr))


def starts_at_end(spec: Spec, x: Mapping) -> Term:
    return z3.And(x.present, _x(spec, x.addr) == _xend(spec, spec.req.addr, spec.req.range))


def in_request_region(spec: Spec, addr: Term, range_: Term) -> Term:
    """``[addr, addr + range)`` lies inside the request's region (true without regions)."""
    ar, vm = spec.ar, spec.vm
    return z3.Or(z3.Not(vm.regions), z3.And(ar.le(_x(spec, vm.region_addr), _x(spec, addr)),
                                            ar.le(_xend(spec, addr, range_),
                                                  _x(spec, vm.region_end))))


def _absorbed(spec: Spec) -> list[Term]:
    return [z3.And(s.removed, s.keep) for s in spec.ops.slots]


def keep_iff_compatible(spec: Spec) -> Term:
    conds = [z3.Implies(s.removed, s.keep == compatible(spec, x, spec.req))
             for x, s in zip(spec.layout.slots, spec.ops.slots, strict=True)]
    return spec.ar.all(conds)


def no_merge(spec: Spec) -> Term:
    m, req = spec.ops.map, spec.req
    return z3.And(m.present, m.addr == req.addr, m.range == req.range, m.gem == req.gem,
                  m.offset == req.offset, m.flags == req.flags,
                  *[z3.Not(z3.Or(s.merge_prev, s.merge_next)) for s in spec.ops.slots])


def noop_iff_covered(spec: Spec) -> Term:
    covered = spec.ar.any([z3.And(contains(spec, x), mergeable(spec, x, spec.req))
                           for x in spec.layout.slots])
    return spec.ops.empty() == covered


def merge_widening(spec: Spec) -> Term:
    ar, req, m = spec.ar, spec.req, spec.ops.map
    absorbed = _absorbed(spec)
    lo, hi = _x(spec, req.addr), _xend(spec, req.addr, req.range)
    for x, a in zip(spec.layout.slots, absorbed, strict=True):
        lo = z3.If(a, umin(ar, lo, _x(spec, x.addr)), lo)
        hi = z3.If(a, umax(ar, hi, _xend(spec, x.addr, x.range)), hi)
    # No gap: every address of the span is the request's or an absorbed mapping's.
    p = ar.var("p")
    xp = _x(spec, p)
    in_span = z3.And(ar.le(lo, xp), ar.lt(xp, hi))
    in_req = z3.And(ar.le(_x(spec, req.addr), xp), ar.lt(xp, _xend(spec, req.addr, req.range)))
    by_absorbed = [z3.And(a, ar.le(_x(spec, x.addr), xp), ar.lt(xp, _xend(spec, x.addr, x.range)))
                   for x, a in zip(spec.layout.slots, absorbed, strict=True)]
    nonempty = z3.Not(spec.ops.empty())
    conds = [
        z3.Implies(nonempty, m.present),
        z3.Implies(m.present, z3.And(
            m.gem == req.gem, m.flags == req.flags,
            ar.sub(m.offset, m.addr) == ar.sub(req.offset, req.addr),
            _x(spec, m.addr) == lo, _xend(spec, m.addr, m.range) == hi,
            in_request_region(spec, m.addr, m.range))),
        z3.Implies(z3.And(m.present, in_span), z3.Or(in_req, *by_absorbed)),
    ]
    for x, a in zip(spec.layout.slots, absorbed, strict=True):
        conds.append(z3.Implies(a, mergeable(spec, x, req)))
        conds.append(z3.Implies(z3.And(nonempty, overlaps(spec, x), mergeable(spec, x, req)), a))
    return ar.all(conds)


def merge_skips(spec: Spec) -> Term:
    ar, req = spec.ar, spec.req
    xs = spec.layout.slots
    ov = [overlaps(spec, x) for x in xs]
    start, end = _x(spec, req.addr), _xend(spec, req.addr, req.range)
    none = ar.all([z3.Not(o) for o in ov])
    one_after_start = ar.any([
        z3.And(o, ar.lt(start, _x(spec, x.addr)),
               *[z3.Not(ov[j]) for j in range(len(xs)) if j != i])
        for i, (x, o) in enumerate(zip(xs, ov, strict=True))])
    highest_inner = ar.any([
        z3.And(o, ar.le(start, _x(spec, x.addr)), ar.lt(_xend(spec, x.addr, x.range), end),
               *[z3.Implies(ov[j], ar.lt(_x(spec, xs[j].addr), _x(spec, x.addr)))
                 for j in range(len(xs)) if j != i])
        for i, (x, o) in enumerate(zip(xs, ov, strict=True))])
    conds = []
    for x, a in zip(xs, _absorbed(spec), strict=True):
        may = z3.And(mergeable(spec, x, req), in_request_region(spec, x.addr, x.range))
        conds.append(z3.Implies(ends_at_start(spec, x), a == z3.And(may, z3.Or(none,
                                                                            one_after_start))))
        conds.append(z3.Implies(starts_at_end(spec, x), a == z3.And(may, z3.Or(none,
                                                                            highest_inner))))
    return ar.all(conds)


def piece_offsets(spec: Spec) -> Term:
    ar, req = spec.ar, spec.req
    start, end = _x(spec, req.addr), _xend(spec, req.addr, req.range)
    conds = []
    for x, s in zip(spec.layout.slots, spec.ops.slots, strict=True):
        left, right = s.prev, s.next
        conds += [
            z3.Implies(s.remap, z3.And(left.present == ar.lt(_x(spec, x.addr), start),
                                       right.present == ar.lt(end, _xend(spec, x.addr, x.range)))),
            z3.Implies(left.present, z3.And(
                s.remap, left.addr == x.addr, _xend(spec, left.addr, left.range) == start,
                left.gem == x.gem, left.offset == x.offset, left.flags == x.flags)),
            z3.Implies(right.present, z3.And(
                s.remap, _x(spec, right.addr) == end,
                _xend(spec, right.addr, right.range) == _xend(spec, x.addr, x.range),
                right.gem == x.gem, right.flags == x.flags,
                right.offset == ar.add(x.offset, ar.sub(right.addr, x.addr)))),
        ]
    return ar.all(conds)


def request_valid(spec: Spec) -> Term:
    """Range validity of the request, written out (exact ends)."""
    ar, vm, req = spec.ar, spec.vm, spec.req
    end = _xend(spec, req.addr, req.range)
    node_end = _xend(spec, vm.reserve_offset, vm.reserve_range)
    conds = [
        req.range != ar.const(0),
        ar.le(end, ar.exact_const(U64_MAX)),
        ar.le(_x(spec, vm.mm_start), _x(spec, req.addr)),
        ar.le(end, _xend(spec, vm.mm_start, vm.mm_range)),
        z3.Or(vm.reserve_range == ar.const(0), ar.le(end, _x(spec, vm.reserve_offset)),
              ar.le(node_end, _x(spec, req.addr))),
    ]
    if spec.action == "Map":
        conds.append(in_request_region(spec, req.addr, req.range))
    return ar.all(conds)


def range_validity(spec: Spec) -> Term:
    """The relation's guard equals :func:`request_valid` (premise: ``spec.context``)."""
    return spec.accepts == request_valid(spec)


#: Claim name -> the function that states it for a relation.
CLAIMS = {
    "keep-iff-compatible": keep_iff_compatible,
    "no-merge": no_merge,
    "noop-iff-covered": noop_iff_covered,
    "merge-widening": merge_widening,
    "merge-skips": merge_skips,
    "piece-offsets": piece_offsets,
    "range-validity": range_validity,
}
#: Claims whose premise is the VM and layout only (they speak of the guard itself).
CONTEXT_ONLY = ("range-validity",)
