"""Split/merge as a declarative relation over 64-bit values.

``sm_map(profile, k)`` and ``sm_unmap(k)`` return a :class:`Spec`: the inputs
(a VM, a layout of ``k`` slots, a request), the condition under which the
model accepts them, and the op list as *terms of the inputs*.  The relation
is ``ops == f(inputs)``; ``f`` is written per existing mapping, by the case
its edges and compatibility put it in, not as a walk:

``upstream``
    every overlapped mapping ``X = [a, e)`` is removed: ``Unmap(X, keep)`` if
    it lies inside the request, else ``Remap(Unmap(X, keep), P', N')`` with the
    left piece ``P' = [a, ra)`` at ``X.offset`` when ``a < ra`` and the right
    piece ``N' = [re, e)`` at ``X.offset + (re - a)`` (in u64) when ``e > re``;
    pieces keep ``X``'s flags; ``keep`` = compatible (flags not compared);
    then ``Map`` of exactly the request, with the request's flags.

``rfc2023`` (seed 001 v2; the case table of ``model/profiles.py``)
    *mergeable* is compatible with equal flags.  *No-op* when one mergeable
    mapping contains the request: no ops at all.  Otherwise an overlapped
    mapping is ``Unmap(X, keep)`` if it lies inside the request or is
    mergeable (a mergeable one sticking out widens the map to its edge:
    cases B2, C3), else ``Remap(Unmap(X), P', N')``.  The left neighbour
    (ending at the request's start) merges if it is mergeable, in the
    request's region, and the walk allowed it (no overlap, or exactly one, a
    C case); the right neighbour (starting at the end) likewise when there
    was no overlap or the last one was A2 or C2.  Merged neighbours are
    ``Unmap(keep)`` after the walk's ops; the ``Map`` comes last and covers
    the request widened by every mapping it absorbed, at the leftmost one's
    offset, with the request's flags.

``sm_unmap``
    every overlapped mapping inside the request is ``Unmap``, one sticking out
    is ``Remap`` with the piece(s) that stick out; never a ``Map``.

Compatibility is computed as the kernel computes it, in u64
(``X.offset + ra == roff + X.addr``, i.e. the same base modulo ``2**64``).

Every value goes through an :class:`~specs.z3.u64.Arith` (``ar=``): ``"bv"``
(``BitVec(64)``) or ``"int"`` (integers with explicit u64 wrap-around).  Both
are the same relation; ``u64-int-matches-bitvec`` proves the two forms of
each operation equal.

*Known-bad variants* (``variant=``, :data:`VARIANTS`) change one rule, to
show that the obligations bite; each is the relation of the model mutant
of the same name (``MUTANT_OF`` in ``specs.z3.obligations``):

``next-offset-from-request``
    the right piece's offset is taken from the request (``roff + (re - ra)``);
``keep-ignores-offset``
    compatibility compares the GEM only, not the base;
``range-check-no-overflow``
    a request whose end wraps past ``2**64`` is accepted (its end computed
    modulo ``2**64``), for ``Map`` and ``Unmap``;
``upstream-never-keep``
    ``upstream`` never sets ``keep``;
``rfc2023-nothing-compatible``
    ``rfc2023`` finds no mapping mergeable: no no-op, no merge, no keep;
``rfc2023-merge-always``
    ``rfc2023`` drops the walk's skip rules: it always tries both neighbours
    (those adjacent to the widened request), still only mergeable ones in
    the request's region;
``rfc2023-noop-as-remap``
    a no-op case (a mergeable mapping contains the request) is handled as if
    the mapping were not mergeable: ``Unmap`` (A1) or ``Remap`` (A3, B1, B3)
    of it, marked ``keep`` (it is compatible), then the ``Map`` of the
    request;
``merge-ignores-flags``
    ``rfc2023`` merges and skips as seed 001 does, comparing no flags (C13);
``merge-across-regions``
    ``rfc2023``'s neighbour merges drop the region test (R1);
``doc-case15-offset``
    the right piece's offset is the seed's case-15 diagram taken literally,
    ``X.offset + re`` (n + 2 there) instead of ``X.offset + (re - a)`` (C16).
"""

from __future__ import annotations

from dataclasses import dataclass

import z3

from specs.z3.layout import Layout, Mapping, Request, Vm, map_request_ok, unmap_request_ok
from specs.z3.u64 import NULL_GEM, Arith, Term, Wraps, arith

PROFILES = ("upstream", "rfc2023")
RELATIONS = ("upstream", "rfc2023", "unmap")
#: Known-bad variant -> the relations it applies to.
VARIANT_RELATIONS: dict[str, tuple[str, ...]] = {
    "next-offset-from-request": ("upstream", "rfc2023"),
    "keep-ignores-offset": ("upstream", "rfc2023"),
    "range-check-no-overflow": ("upstream", "rfc2023", "unmap"),
    "upstream-never-keep": ("upstream",),
    "rfc2023-nothing-compatible": ("rfc2023",),
    "rfc2023-merge-always": ("rfc2023",),
    "rfc2023-noop-as-remap": ("rfc2023",),
    "merge-ignores-flags": ("rfc2023",),
    "merge-across-regions": ("rfc2023",),
    "doc-case15-offset": ("upstream", "rfc2023", "unmap"),
}
VARIANTS = tuple(VARIANT_RELATIONS)


@dataclass(frozen=True)
class Piece(Mapping):
    """A mapping the op list creates (a split piece or the ``Map``), if ``present``."""


@dataclass(frozen=True)
class SlotOps:
    """What the op list does to one existing mapping.

    At most one of ``unmap`` (an ``Unmap`` of the walk), ``remap`` (a
    ``Remap`` of the walk), ``merge_prev`` / ``merge_next`` (an
    ``Unmap(keep=True)`` after the walk, for a merged neighbour) holds.
    """

    unmap: Term
    remap: Term
    keep: Term
    prev: Piece
    next: Piece
    merge_prev: Term
    merge_next: Term

    @property
    def removed(self) -> Term:
        return z3.Or(self.unmap, self.remap, self.merge_prev, self.merge_next)


@dataclass(frozen=True)
class OpList:
    """The op list as terms, in list order.

    The walk's ops in slot (= address) order, then the left neighbour's merge
    ``Unmap``, then the right neighbour's, then the ``Map`` (if present).
    """

    slots: tuple[SlotOps, ...]
    map: Piece

    def survivor(self, m: Mapping, s: SlotOps) -> Piece:
        """``m`` itself, present after the ops if it was present and not removed."""
        return Piece(m.ar, z3.And(m.present, z3.Not(s.removed)), m.addr, m.range, m.gem,
                     m.offset, m.flags)

    def from_slot(self, layout: Layout) -> list[tuple[Piece, Piece, Piece]]:
        """Per existing mapping, what is left of it after the ops: itself (if not
        removed), its left piece, its right piece (each present or not)."""
        return [(self.survivor(m, s), s.prev, s.next)
                for m, s in zip(layout.slots, self.slots, strict=True)]

    def after(self, layout: Layout) -> list[Piece]:
        """Every mapping of the resulting layout: survivors, pieces, the map."""
        out: list[Piece] = [p for trio in self.from_slot(layout) for p in trio]
        out.append(self.map)
        return out

    def empty(self) -> Term:
        """No op at all."""
        return z3.And(z3.Not(self.map.present), *[z3.Not(s.removed) for s in self.slots])


@dataclass(frozen=True)
class Spec:
    """One op-list relation, its inputs and the condition under which it applies.

    ``context`` is what the VM and the layout must satisfy (the model can
    hold them), ``accepts`` the relation's test of the request, ``valid``
    both.  None includes the arithmetic's domain constraints; add
    ``ar.domain()`` last, after every claim has made its variables.
    """

    name: str
    action: str  # "Map" or "Unmap"
    profile: str | None
    variant: str | None
    ar: Arith
    vm: Vm
    layout: Layout
    req: Request
    context: Term
    accepts: Term
    ops: OpList
    #: per slot, the relation's own test: compatible (upstream) or mergeable (rfc2023)
    compat: tuple[Term, ...]
    noop: Term
    wraps: Wraps

    @property
    def k(self) -> int:
        return len(self.layout.slots)

    @property
    def valid(self) -> Term:
        return z3.And(self.context, self.accepts)

    @property
    def relation(self) -> str:
        return "unmap" if self.action == "Unmap" else str(self.profile)


def _compatible(m: Mapping, req: Request, ignore_offset: bool) -> Term:
    same_gem = z3.And(m.gem != NULL_GEM, m.gem == req.gem)
    if ignore_offset:
        return same_gem
    ar = m.ar
    return z3.And(same_gem, ar.add(m.offset, req.addr) == ar.add(req.offset, m.addr))


def _absent(ar: Arith) -> Piece:
    zero = ar.const(0)
    return Piece(ar, ar.boolean(False), zero, zero, ar.gem_const(NULL_GEM), zero, zero)


def _pieces(m: Mapping, req: Request, remap: Term, wraps: Wraps, i: int,
            variant: str | None) -> tuple[Piece, Piece]:
    """``P' = [a, ra)`` at ``offset`` and ``N' = [re, e)`` at ``offset + (re - a)``."""
    ar = m.ar
    has_prev = z3.And(remap, ar.lt(m.addr, req.addr))
    has_next = z3.And(remap, ar.gt(m.end, req.end))
    prev = Piece(ar, has_prev, m.addr, wraps.sub(req.addr, m.addr, f"x{i}.prev.range", has_prev),
                 m.gem, m.offset, m.flags)
    shift = wraps.sub(req.end, m.addr, f"x{i}.next.shift", has_next)
    if variant == "next-offset-from-request":
        noff = ar.add(req.offset, ar.sub(req.end, req.addr))
    elif variant == "doc-case15-offset":
        noff = ar.add(m.offset, req.end)
    else:
        noff = ar.add(m.offset, shift)  # a GEM offset: wraps modulo 2**64 by design
    nxt = Piece(ar, has_next, req.end, wraps.sub(m.end, req.end, f"x{i}.next.range", has_next),
                m.gem, noff, m.flags)
    return prev, nxt


def _inputs(ar: Arith, k: int, prefix: str) -> tuple[Vm, Layout, Request, Wraps]:
    vm, layout, req = Vm.fresh(ar, prefix), Layout.fresh(ar, k, prefix), Request.fresh(ar, prefix)
    wraps = Wraps(ar)
    for i, m in enumerate(layout.slots):
        wraps.add(m.addr, m.range, f"x{i}.end", m.present)
    wraps.add(req.addr, req.range, "req.end")
    return vm, layout, req, wraps


def _check_variant(relation: str, variant: str | None) -> None:
    if variant is not None and relation not in VARIANT_RELATIONS.get(variant, ()):
        known = ", ".join(v for v, rs in VARIANT_RELATIONS.items() if relation in rs)
        raise ValueError(f"unknown variant {variant!r} of {relation} (known: {known})")


def sm_map(profile: str, k: int, variant: str | None = None, *, ar: Arith | str = "int",
           prefix: str = "") -> Spec:
    """The ``Map`` relation of ``profile`` over a layout of ``k`` slots."""
    if profile not in PROFILES:
        raise ValueError(f"unknown profile {profile!r}")
    _check_variant(profile, variant)
    a = arith(ar) if isinstance(ar, str) else ar
    vm, layout, req, wraps = _inputs(a, k, prefix)
    context = z3.And(vm.valid(), layout.valid(vm))
    accepts = map_request_ok(vm, req, check_wrap=variant != "range-check-no-overflow")
    compat = tuple(_compatible(m, req, variant == "keep-ignores-offset") for m in layout.slots)
    if profile == "upstream":
        keep = compat if variant != "upstream-never-keep" else tuple(
            a.boolean(False) for _ in compat)
        ops, noop = _upstream(layout, req, keep, wraps, variant)
    else:
        if variant == "rfc2023-nothing-compatible":
            mergeable = tuple(a.boolean(False) for _ in compat)
        elif variant == "merge-ignores-flags":
            mergeable = compat
        else:
            mergeable = tuple(z3.And(c, m.flags == req.flags)
                              for m, c in zip(layout.slots, compat, strict=True))
        compat = mergeable
        ops, noop = _rfc2023(vm, layout, req, mergeable, wraps, variant)
    name = f"sm_map[{profile}]" + (f"<{variant}>" if variant else "")
    return Spec(name, "Map", profile, variant, a, vm, layout, req, context, accepts, ops, compat,
                noop, wraps)


def _overlap(m: Mapping, req: Request) -> Term:
    return z3.And(m.present, m.ar.lt(m.addr, req.end), m.ar.lt(req.addr, m.end))


def _inside(m: Mapping, req: Request) -> Term:
    return z3.And(m.ar.ge(m.addr, req.addr), m.ar.le(m.end, req.end))


def _upstream(layout: Layout, req: Request, keep: tuple[Term, ...], wraps: Wraps,
              variant: str | None) -> tuple[OpList, Term]:
    ar = req.ar
    no = ar.boolean(False)
    slots = []
    for i, (m, c) in enumerate(zip(layout.slots, keep, strict=True)):
        ov = _overlap(m, req)
        unmap = z3.And(ov, _inside(m, req))
        remap = z3.And(ov, z3.Not(_inside(m, req)))
        prev, nxt = _pieces(m, req, remap, wraps, i, variant)
        slots.append(SlotOps(unmap, remap, c, prev, nxt, no, no))
    the_map = Piece(ar, ar.boolean(True), req.addr, req.range, req.gem, req.offset, req.flags)
    return OpList(tuple(slots), the_map), no


def _rfc2023(vm: Vm, layout: Layout, req: Request, mergeable: tuple[Term, ...], wraps: Wraps,
             variant: str | None) -> tuple[OpList, Term]:
    ar = req.ar
    ms = layout.slots
    ov = [_overlap(m, req) for m in ms]
    contains = [z3.And(o, ar.le(m.addr, req.addr), ar.ge(m.end, req.end))
                for m, o in zip(ms, ov, strict=True)]
    # No-op: one mergeable mapping contains the request (cases A1, A3, B1, B3).
    noop_case = ar.any([z3.And(c, mc) for c, mc in zip(contains, mergeable, strict=True)])
    if variant == "rfc2023-noop-as-remap":
        walk_c = tuple(z3.And(mc, z3.Not(c)) for c, mc in zip(contains, mergeable, strict=True))
        noop: Term = ar.boolean(False)
    else:
        walk_c, noop = mergeable, noop_case
    live = z3.Not(noop)
    # Widening by mergeable mappings that stick out: B2 to the left, C3 to the right.
    ra1, ro1, re1 = req.addr, req.offset, req.end
    for m, o, c in zip(ms, ov, walk_c, strict=True):
        b2 = z3.And(live, o, c, ar.lt(m.addr, req.addr))
        c3 = z3.And(live, o, c, ar.gt(m.end, req.end))
        ra1, ro1 = z3.If(b2, m.addr, ra1), z3.If(b2, m.offset, ro1)
        re1 = z3.If(c3, m.end, re1)
    if variant == "rfc2023-merge-always":
        left_ok = right_ok = live
    else:
        no_overlap = ar.all([z3.Not(o) for o in ov])
        only_c = ar.any([z3.And(o, ar.gt(m.addr, req.addr),
                                *[z3.Not(ov[j]) for j in range(len(ms)) if j != i])
                         for i, (m, o) in enumerate(zip(ms, ov, strict=True))])
        last_a2_c2 = ar.any([z3.And(o, ar.ge(m.addr, req.addr), ar.lt(m.end, req.end),
                                    *[z3.Not(ov[j]) for j in range(i + 1, len(ms))])
                             for i, (m, o) in enumerate(zip(ms, ov, strict=True))])
        left_ok = z3.And(live, z3.Or(no_overlap, only_c))
        right_ok = z3.And(live, z3.Or(no_overlap, last_a2_c2))

    def region(addr: Term, end: Term) -> Term:
        return ar.boolean(True) if variant == "merge-across-regions" else vm.same_region(addr, end)

    merge_prev = [z3.And(left_ok, m.present, m.end == ra1, c, region(m.addr, re1))
                  for m, c in zip(ms, mergeable, strict=True)]
    ra2, ro2 = ra1, ro1
    for m, mp in zip(ms, merge_prev, strict=True):
        ra2, ro2 = z3.If(mp, m.addr, ra2), z3.If(mp, m.offset, ro2)
    merge_next = [z3.And(right_ok, m.present, m.addr == re1, c, region(ra2, m.end))
                  for m, c in zip(ms, mergeable, strict=True)]
    re2 = re1
    for m, mn in zip(ms, merge_next, strict=True):
        re2 = z3.If(mn, m.end, re2)
    slots = []
    for i, (m, o, c) in enumerate(zip(ms, ov, walk_c, strict=True)):
        inside = _inside(m, req)
        unmap = z3.And(live, o, z3.Or(inside, c))
        remap = z3.And(live, o, z3.Not(inside), z3.Not(c))
        prev, nxt = _pieces(m, req, remap, wraps, i, variant)
        # the no-op-as-remap variant still marks a compatible mapping keep
        keep = mergeable[i] if variant == "rfc2023-noop-as-remap" else c
        slots.append(SlotOps(unmap, remap, keep, prev, nxt, merge_prev[i], merge_next[i]))
    the_map = Piece(ar, live, ra2, wraps.sub(re2, ra2, "map.range", live), req.gem, ro2,
                    req.flags)
    return OpList(tuple(slots), the_map), noop


def sm_unmap(k: int, variant: str | None = None, *, ar: Arith | str = "int",
             prefix: str = "") -> Spec:
    """The ``Unmap`` relation over a layout of ``k`` slots (profile independent)."""
    _check_variant("unmap", variant)
    a = arith(ar) if isinstance(ar, str) else ar
    vm, layout, req, wraps = _inputs(a, k, prefix)
    context = z3.And(vm.valid(), layout.valid(vm))
    accepts = unmap_request_ok(vm, req, check_wrap=variant != "range-check-no-overflow")
    slots = []
    no = a.boolean(False)
    for i, m in enumerate(layout.slots):
        ov = _overlap(m, req)
        inside = _inside(m, req)
        remap = z3.And(ov, z3.Not(inside))
        prev, nxt = _pieces(m, req, remap, wraps, i, variant)
        slots.append(SlotOps(z3.And(ov, inside), remap, no, prev, nxt, no, no))
    ops = OpList(tuple(slots), _absent(a))
    compat = tuple(no for _ in layout.slots)
    name = "sm_unmap" + (f"<{variant}>" if variant else "")
    return Spec(name, "Unmap", None, variant, a, vm, layout, req, context, accepts, ops, compat,
                no, wraps)


def relation_spec(relation: str, k: int, variant: str | None = None, *,
                  ar: Arith | str = "int", prefix: str = "") -> Spec:
    """``sm_unmap`` for ``"unmap"``, else ``sm_map`` of the profile."""
    if relation == "unmap":
        return sm_unmap(k, variant, ar=ar, prefix=prefix)
    return sm_map(relation, k, variant, ar=ar, prefix=prefix)
