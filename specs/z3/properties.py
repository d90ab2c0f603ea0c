"""What the split/merge relations must satisfy, as claims over their inputs.

Each function takes a :class:`~specs.z3.splitmerge.Spec` and returns a
claim (a Boolean term, with a free address ``x`` where it speaks of every
address); an obligation holds when ``spec.valid -> claim`` is valid, i.e.
``spec.valid and not claim`` is unsatisfiable.  The claims restate the
rules semantically (translation at every address, the offset rule, the
correct compatibility) rather than as the relation writes them, so that a
wrong rule shows up as a counterexample.

The claims use u64 arithmetic.  Two obligations carry them over to exact
integers, as Python's model computes: :func:`no_overflow` (no sum or
difference the relation computes wraps, so each equals its exact value) and
:func:`compat_u64_exact` (the u64 compatibility test equals the exact one on
every mapping it is applied to).
"""

from __future__ import annotations

import z3

from specs.z3.layout import Mapping, Request, insert_ok, range_ok
from specs.z3.splitmerge import Piece, Spec
from specs.z3.u64 import NULL_GEM, Term, in_range, umax, umin


def _all(spec: Spec, terms: list[Term]) -> Term:
    return spec.ar.all(terms)


def _count(spec: Spec, flags: list[Term]) -> Term:
    return z3.Sum([z3.If(f, 1, 0) for f in flags] or [z3.IntVal(0, spec.ar.ctx)])


def compatible_exact(m: Mapping, req: Request) -> Term:
    """Same non-NULL GEM and the same base, ``offset - addr``, in exact integers."""
    ar = m.ar
    return z3.And(m.gem != NULL_GEM, m.gem == req.gem,
                  ar.exact(m.offset) + ar.exact(req.addr) == ar.exact(req.offset)
                  + ar.exact(m.addr))


def compatible(m: Mapping, req: Request) -> Term:
    """Compatibility as the kernel computes it, in u64 (the correct rule, whatever
    variant the relation uses)."""
    ar = m.ar
    return z3.And(m.gem != NULL_GEM, m.gem == req.gem,
                  ar.add(m.offset, req.addr) == ar.add(req.offset, m.addr))


def translation(spec: Spec) -> Term:
    """Applying the ops gives exactly the override of the request.

    ``Map``: every address in the request translates to the request's GEM at
    ``offset + (x - addr)``; ``Unmap``: it translates to nothing.  Every other
    address translates as before.
    """
    ar = spec.ar
    x = ar.var("x")
    req, layout = spec.req, spec.layout
    in_req = in_range(ar, x, req.addr, req.end)
    pre_cov = layout.covered(x)
    pre_gem, pre_off = layout.translate(x)
    if spec.action == "Map":
        exp_cov = z3.Or(in_req, pre_cov)
        exp_gem = z3.If(in_req, req.gem, pre_gem)
        exp_off = z3.If(in_req, req.value(x), pre_off)
    else:
        exp_cov, exp_gem, exp_off = z3.And(z3.Not(in_req), pre_cov), pre_gem, pre_off
    after = spec.ops.after(layout)
    post_cov = z3.Or([p.covers(x) for p in after])
    agree = [z3.Implies(p.covers(x), z3.And(p.gem == exp_gem, p.value(x) == exp_off))
             for p in after]
    return z3.And(post_cov == exp_cov, *agree)


def no_overlap(spec: Spec) -> Term:
    """The resulting mappings are pairwise disjoint."""
    ar = spec.ar
    after = spec.ops.after(spec.layout)
    conds = []
    for i, p in enumerate(after):
        for q in after[i + 1:]:
            conds.append(z3.Implies(z3.And(p.present, q.present),
                                    z3.Or(ar.le(p.end, q.addr), ar.le(q.end, p.addr))))
    return _all(spec, conds)


def op_bounds(spec: Spec) -> Term:
    """Any number of unmaps, at most two remaps, at most one map, map last.

    One map at most and the map last hold by construction of the op list
    (:class:`~specs.z3.splitmerge.OpList`); claimed here: at most two
    ``Remap``, each with at least one non-empty piece; each existing mapping
    touched by at most one op; at most one merged neighbour per side; no
    ``Map`` for ``Unmap``, always one for ``upstream``.
    """
    ops, zero = spec.ops, spec.ar.const(0)
    conds = [_count(spec, [s.remap for s in ops.slots]) <= 2,
             _count(spec, [s.merge_prev for s in ops.slots]) <= 1,
             _count(spec, [s.merge_next for s in ops.slots]) <= 1]
    for s in ops.slots:
        conds.append(_count(spec, [s.unmap, s.remap, s.merge_prev, s.merge_next]) <= 1)
        conds.append(z3.Implies(s.remap, z3.Or(s.prev.present, s.next.present)))
        for piece in (s.prev, s.next):
            conds.append(z3.Implies(piece.present, z3.And(s.remap, piece.range != zero)))
    if spec.action == "Unmap":
        conds.append(z3.Not(ops.map.present))
    elif spec.profile == "upstream":
        conds.append(ops.map.present)
    conds.append(z3.Implies(ops.map.present, ops.map.range != zero))
    return _all(spec, conds)


def piece_offsets(spec: Spec) -> Term:
    """A piece ``[s, t)`` cut from ``X`` lies in ``X``, has ``X``'s GEM and
    ``offset - X.offset = s - X.addr``."""
    ar = spec.ar
    conds = []
    for m, s in zip(spec.layout.slots, spec.ops.slots, strict=True):
        for piece in (s.prev, s.next):
            conds.append(z3.Implies(piece.present, z3.And(
                ar.le(m.addr, piece.addr), ar.le(piece.end, m.end), piece.gem == m.gem,
                ar.sub(piece.offset, m.offset) == ar.sub(piece.addr, m.addr))))
    return _all(spec, conds)


def keep_compatible(spec: Spec) -> Term:
    """``keep`` on an op iff its mapping is compatible with the request; merged
    neighbours are compatible; ``Unmap`` never keeps."""
    conds = []
    for m, s in zip(spec.layout.slots, spec.ops.slots, strict=True):
        if spec.action == "Unmap":
            conds.append(z3.Implies(s.removed, z3.Not(s.keep)))
            continue
        conds.append(z3.Implies(s.removed, s.keep == compatible(m, spec.req)))
        conds.append(z3.Implies(z3.Or(s.merge_prev, s.merge_next), s.keep))
    return _all(spec, conds)


def compat_u64_exact(spec: Spec) -> Term:
    """The kernel's u64 test ``offset + ra == roff + addr`` equals the exact one on
    every mapping the relation consults: overlapped by or adjacent to the
    request.  (A property of one mapping and the request: ``k = 1`` proves it
    for every slot of every layout.)"""
    ar = spec.ar
    conds = []
    req = spec.req
    for m in spec.layout.slots:
        consulted = z3.And(m.present, ar.le(m.addr, req.end), ar.le(req.addr, m.end))
        conds.append(z3.Implies(consulted, compatible(m, req) == compatible_exact(m, req)))
    return _all(spec, conds)


def _ops_empty(spec: Spec) -> Term:
    return z3.And(z3.Not(spec.ops.map.present), *[z3.Not(s.removed) for s in spec.ops.slots])


def noop_rule(spec: Spec) -> Term:
    """``rfc2023``: no ops at all iff one compatible mapping contains the request.
    ``upstream``: never empty, and the map is exactly the request (no merging)."""
    ar, req, the_map = spec.ar, spec.req, spec.ops.map
    if spec.profile == "upstream":
        return z3.And(the_map.present, the_map.addr == req.addr, the_map.range == req.range,
                      the_map.gem == req.gem, the_map.offset == req.offset)
    contains = z3.Or([z3.And(m.present, ar.le(m.addr, req.addr), ar.le(req.end, m.end),
                             compatible(m, req))
                      for m in spec.layout.slots] or [ar.boolean(False)])
    return _ops_empty(spec) == contains


def merge_rule(spec: Spec) -> Term:
    """``rfc2023``: the map has the request's GEM and base, covers the request
    widened by exactly the mappings unmapped with ``keep``, stays in one region;
    a merged neighbour is adjacent to the request."""
    ar, req, the_map = spec.ar, spec.req, spec.ops.map
    lo, hi = req.addr, req.end
    conds = []
    for m, s in zip(spec.layout.slots, spec.ops.slots, strict=True):
        kept = z3.And(s.removed, s.keep)
        lo, hi = z3.If(kept, umin(ar, lo, m.addr), lo), z3.If(kept, umax(ar, hi, m.end), hi)
        conds.append(z3.Implies(s.merge_prev, m.end == req.addr))
        conds.append(z3.Implies(s.merge_next, m.addr == req.end))
    conds.append(z3.Implies(the_map.present, z3.And(
        the_map.gem == req.gem,
        ar.sub(the_map.offset, the_map.addr) == ar.sub(req.offset, req.addr),
        the_map.addr == lo, the_map.end == hi,
        spec.vm.same_region(the_map.addr, the_map.end))))
    return _all(spec, conds)


def _created(spec: Spec) -> list[tuple[Piece, bool]]:
    """Every mapping the ops create, and whether it must lie in the request's region."""
    out: list[tuple[Piece, bool]] = []
    for s in spec.ops.slots:
        out.extend(((s.prev, False), (s.next, False)))
    out.append((spec.ops.map, True))
    return out


def no_overflow(spec: Spec) -> Term:
    """No computed address, range or offset wraps, and every mapping the ops
    create is one ``VaSpace.insert`` accepts (non-empty, no wrap, in the VM,
    clear of the kernel node, offset + range no wrap, in a region)."""
    conds = [spec.wraps.all()]
    vm, ar = spec.vm, spec.ar
    for piece, in_request_region in _created(spec):
        m = Mapping(ar, piece.present, piece.addr, piece.range, piece.gem, piece.offset)
        ok = (z3.And(range_ok(vm, m.addr, m.range), vm.in_region(m.addr, m.end),
                     ar.add_fits(m.offset, m.range))
              if in_request_region else insert_ok(vm, m))
        conds.append(z3.Implies(piece.present, ok))
    return _all(spec, conds)


#: Claim name -> the function that states it for a relation.
CLAIMS = {
    "translation": translation,
    "no-overlap": no_overlap,
    "op-bounds": op_bounds,
    "piece-offsets": piece_offsets,
    "keep-compatible": keep_compatible,
    "noop-rule": noop_rule,
    "merge-rule": merge_rule,
    "no-overflow": no_overflow,
}
