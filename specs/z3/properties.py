"""What every split/merge relation must satisfy: translation and well-formedness.

Each function takes a :class:`~specs.z3.splitmerge.Spec` and returns a
claim (a Boolean term); an obligation holds when ``spec.valid -> claim`` is
valid, i.e. ``spec.valid and not claim`` is unsatisfiable.

:func:`translation` is per address: it speaks of one address ``p``, a free
variable of the negated goal (so the proof is for every ``p``), and says
what ``p`` translates to before and after the ops -- for ``Map``, the
request's GEM at ``roff + (p - ra)`` (mod ``2**64``) with the request's
flags inside the request, and exactly what it translated to before outside
it; for ``Unmap``, nothing inside, as before outside.  It compares
translations as *sets* of ``(gem, offset, flags)`` (what the mappings
covering ``p`` give), so it needs no disjointness to be meaningful (that is
:func:`no_overlap`), and it names, for each mapping after the ops, the
mapping before them that must agree with it: a survivor or a piece of ``X``
with ``X``, the ``Map`` with any mapping it absorbed.  Each claim then
speaks of one old mapping at a time, which is what lets plain bit-vector
reasoning decide it at ``k = 8``.  For ``upstream`` and ``Unmap``, whose
requests never leave an old mapping over the request, it says so: the
request's addresses belong to the ``Map`` alone (or to nothing).

The declarative rules written from the seed's prose (``keep``, no-op,
merge, pieces, range validity) are in ``specs.z3.declarative``.
"""

from __future__ import annotations

import z3

from specs.z3.layout import Mapping, insert_ok, range_ok
from specs.z3.splitmerge import Piece, Spec
from specs.z3.u64 import Term, in_range


def _all(spec: Spec, terms: list[Term]) -> Term:
    return spec.ar.all(terms)


def _count(spec: Spec, flags: list[Term]) -> Term:
    return z3.Sum([z3.If(f, 1, 0) for f in flags] or [z3.IntVal(0, spec.ar.ctx)])


def _agree(a: Mapping, b: Mapping, p: Term) -> Term:
    """``a`` and ``b`` translate ``p`` alike (both taken as covering it)."""
    return a.translates(p, *b.at(p))


def translation(spec: Spec) -> Term:
    """Applying the ops overrides exactly the request's addresses (see the module doc)."""
    ar, req, layout, ops = spec.ar, spec.req, spec.layout, spec.ops
    p = ar.var("p")
    in_req = in_range(ar, p, req.addr, req.end)
    out_req = z3.Not(in_req)
    the_map = ops.map
    is_map = spec.action == "Map"
    noop_possible = spec.profile == "rfc2023"
    conds: list[Term] = []
    covering: list[Term] = [the_map.covers(p)]
    if is_map:
        # The Map translates the request's addresses as the request does; outside
        # the request it covers only addresses that were mapped (it absorbed them).
        conds.append(z3.Implies(z3.And(the_map.covers(p), in_req),
                                the_map.translates(p, *req.at(p))))
        conds.append(z3.Implies(z3.And(the_map.covers(p), out_req), layout.covered(p)))
    else:
        conds.append(z3.Not(the_map.present))
    for x, left in zip(layout.slots, ops.from_slot(layout), strict=True):
        for y in left:
            # What is left of x covers only x's addresses and translates them as x
            # did.  Of the request's addresses it covers none -- except, where a
            # relation may leave the request to a mapping already translating it as
            # the request does (the rfc2023 no-op), those.
            if noop_possible:
                where = z3.If(in_req, y.translates(p, *req.at(p)), _agree(y, x, p))
            else:
                where = z3.And(out_req, _agree(y, x, p))
            conds.append(z3.Implies(y.covers(p), z3.And(x.covers(p), where)))
            covering.append(y.covers(p))
        # Every address of x outside the request is still covered: by what is left
        # of x, or by the Map that absorbed it, translating it as x did.
        kept = [y.covers(p) for y in left]
        if is_map:
            kept.append(the_map.covers(p))
            conds.append(z3.Implies(z3.And(the_map.covers(p), out_req, x.covers(p)),
                                    _agree(the_map, x, p)))
        conds.append(z3.Implies(z3.And(x.covers(p), out_req), z3.Or(kept)))
    if is_map:  # every address of the request is mapped after the ops
        conds.append(z3.Implies(in_req, z3.Or(covering)))
    return _all(spec, conds)


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
    ``Map`` and no ``keep`` for ``Unmap``, always a ``Map`` for ``upstream``.
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
        conds += [z3.Implies(s.removed, z3.Not(s.keep)) for s in ops.slots]
    elif spec.profile == "upstream":
        conds.append(ops.map.present)
    conds.append(z3.Implies(ops.map.present, ops.map.range != zero))
    return _all(spec, conds)


def _created(spec: Spec) -> list[tuple[Piece, bool]]:
    """Every mapping the ops create, and whether it must lie in the request's region."""
    out: list[tuple[Piece, bool]] = []
    for s in spec.ops.slots:
        out.extend(((s.prev, False), (s.next, False)))
    out.append((spec.ops.map, True))
    return out


def no_overflow(spec: Spec) -> Term:
    """No computed *address* (an end, a piece's range, the map's range) wraps, and
    every mapping the ops create is one ``VaSpace.insert`` accepts (non-empty, no
    wrap, in the VM, clear of the kernel node, in a region).  GEM offsets are not
    among them: a piece's offset is computed modulo ``2**64`` by design."""
    conds = [spec.wraps.all()]
    vm = spec.vm
    for piece, in_request_region in _created(spec):
        ok = (z3.And(range_ok(vm, piece.addr, piece.range), vm.in_region(piece.addr, piece.end))
              if in_request_region else insert_ok(vm, piece))
        conds.append(z3.Implies(piece.present, ok))
    return _all(spec, conds)


#: Claim name -> the function that states it for a relation.
CLAIMS = {
    "translation": translation,
    "no-overlap": no_overlap,
    "op-bounds": op_bounds,
    "no-overflow": no_overflow,
}
