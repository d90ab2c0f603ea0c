"""Split/merge as a declarative relation over 64-bit values.

``sm_map(profile, k)`` and ``sm_unmap(k)`` return a :class:`Spec`: the inputs
(a VM, a layout of ``k`` slots, a request), the precondition under which the
model accepts them, and the op list as *terms of the inputs*.  The relation
is ``ops == f(inputs)``; ``f`` is written per existing mapping, by the case
its edges and compatibility put it in, not as a walk:

``upstream``
    every overlapped mapping ``X = [a, e)`` is removed: ``Unmap(X, keep)`` if
    it lies inside the request, else ``Remap(Unmap(X, keep), P', N')`` with the
    left piece ``P' = [a, ra)`` at ``X.offset`` when ``a < ra`` and the right
    piece ``N' = [re, e)`` at ``X.offset + (re - a)`` when ``e > re``;
    ``keep`` = compatible; then ``Map`` of exactly the request.

``rfc2023`` (seed 001 v2; the case table of ``model/profiles.py``)
    *no-op* when one compatible mapping contains the request: no ops at all.
    Otherwise an overlapped mapping is ``Unmap(X, keep)`` if it lies inside the
    request or is compatible (a compatible one sticking out widens the map to
    its edge: cases B2, C3), else ``Remap(Unmap(X), P', N')``.  The left
    neighbour (ending at ``ra``) merges if it is compatible, in the request's
    region, and the walk allowed it (no overlap, or exactly one, a C case); the
    right neighbour (starting at ``re``) likewise when there was no overlap or
    the last one was A2 or C2.  Merged neighbours are ``Unmap(keep)`` after
    the walk's ops; the ``Map`` comes last and covers the request widened by
    every compatible mapping it absorbed, at the leftmost one's offset.

``sm_unmap``
    every overlapped mapping inside the request is ``Unmap``, one sticking out
    is ``Remap`` with the piece(s) that stick out; never a ``Map``.

Compatibility is computed as the kernel computes it, in u64
(``X.offset + ra == roff + X.addr``); the obligation ``compat-u64-exact``
shows that this agrees with exact integer arithmetic (Python's) on every
mapping the relation consults.

Every value goes through an :class:`~specs.z3.u64.Arith` (``ar=``): ``"int"``
(integers with explicit u64 wrap-around; what the proofs use) or ``"bv"``
(``BitVec(64)``; what the conformance vectors and the per-step check use).
Both are the same relation; ``u64-int-matches-bitvec`` proves the two forms
of each operation equal.

*Known-bad variants* (``variant=``) change one rule, to show that the
obligations bite: ``next-offset-from-request`` takes the right piece's offset
from the request (``roff + (re - ra)``); ``keep-ignores-offset`` drops the
base from compatibility; ``range-check-no-overflow`` accepts a request whose
end wraps past ``2**64``.
"""

from __future__ import annotations

from dataclasses import dataclass

import z3

from specs.z3.layout import Layout, Mapping, Request, Vm, map_request_ok, unmap_request_ok
from specs.z3.u64 import NULL_GEM, Arith, Term, Wraps, arith

PROFILES = ("upstream", "rfc2023")
VARIANTS = ("next-offset-from-request", "keep-ignores-offset", "range-check-no-overflow")

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

    def after(self, layout: Layout) -> list[Piece]:
        """Every mapping of the resulting layout: survivors, pieces, the map."""
        out: list[Piece] = []
        for m, s in zip(layout.slots, self.slots, strict=True):
            out.append(Piece(m.ar, z3.And(m.present, z3.Not(s.removed)), m.addr, m.range,
                             m.gem, m.offset))
            out.extend((s.prev, s.next))
        out.append(self.map)
        return out


@dataclass(frozen=True)
class Spec:
    """One op-list relation, its inputs and the precondition on them.

    ``valid`` does not include the arithmetic's domain constraints; add
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
    valid: Term
    ops: OpList
    compat: tuple[Term, ...]
    noop: Term
    wraps: Wraps

    @property
    def k(self) -> int:
        return len(self.layout.slots)


def _compatible(m: Mapping, req: Request, ignore_offset: bool) -> Term:
    same_gem = z3.And(m.gem != NULL_GEM, m.gem == req.gem)
    if ignore_offset:
        return same_gem
    ar = m.ar
    return z3.And(same_gem, ar.add(m.offset, req.addr) == ar.add(req.offset, m.addr))


def _absent(ar: Arith) -> Piece:
    zero = ar.const(0)
    return Piece(ar, ar.boolean(False), zero, zero, ar.gem_const(NULL_GEM), zero)


def _pieces(m: Mapping, req: Request, remap: Term, wraps: Wraps, i: int,
            next_from_request: bool) -> tuple[Piece, Piece]:
    """``P' = [a, ra)`` at ``offset`` and ``N' = [re, e)`` at ``offset + (re - a)``."""
    ar = m.ar
    has_prev = z3.And(remap, ar.lt(m.addr, req.addr))
    has_next = z3.And(remap, ar.gt(m.end, req.end))
    prev = Piece(ar, has_prev, m.addr,
                 wraps.sub(req.addr, m.addr, f"x{i}.prev.range", has_prev), m.gem, m.offset)
    shift = wraps.sub(req.end, m.addr, f"x{i}.next.shift", has_next)
    if next_from_request:
        noff = ar.add(req.offset, ar.sub(req.end, req.addr))
    else:
        noff = wraps.add(m.offset, shift, f"x{i}.next.offset", has_next)
    nxt = Piece(ar, has_next, req.end,
                wraps.sub(m.end, req.end, f"x{i}.next.range", has_next), m.gem, noff)
    return prev, nxt


def _inputs(ar: Arith, k: int, prefix: str) -> tuple[Vm, Layout, Request, Wraps]:
    vm, layout, req = Vm.fresh(ar, prefix), Layout.fresh(ar, k, prefix), Request.fresh(ar, prefix)
    wraps = Wraps(ar)
    for i, m in enumerate(layout.slots):
        wraps.add(m.addr, m.range, f"x{i}.end", m.present)
    wraps.add(req.addr, req.range, "req.end")
    return vm, layout, req, wraps


def sm_map(profile: str, k: int, variant: str | None = None, *, ar: Arith | str = "int",
           prefix: str = "") -> Spec:
    """The ``Map`` relation of ``profile`` over a layout of ``k`` slots."""
    if profile not in PROFILES:
        raise ValueError(f"unknown profile {profile!r}")
    if variant is not None and variant not in VARIANTS:
        raise ValueError(f"unknown variant {variant!r}")
    a = arith(ar) if isinstance(ar, str) else ar
    vm, layout, req, wraps = _inputs(a, k, prefix)
    valid = z3.And(vm.valid(), layout.valid(vm),
                   map_request_ok(vm, req, check_wrap=variant != "range-check-no-overflow"))
    compat = tuple(_compatible(m, req, variant == "keep-ignores-offset") for m in layout.slots)
    build = _upstream if profile == "upstream" else _rfc2023
    ops, noop = build(vm, layout, req, compat, wraps, variant == "next-offset-from-request")
    name = f"sm_map[{profile}]" + (f"<{variant}>" if variant else "")
    return Spec(name, "Map", profile, variant, a, vm, layout, req, valid, ops, compat, noop,
                wraps)


def _overlap(m: Mapping, req: Request) -> Term:
    return z3.And(m.present, m.ar.lt(m.addr, req.end), m.ar.lt(req.addr, m.end))


def _inside(m: Mapping, req: Request) -> Term:
    return z3.And(m.ar.ge(m.addr, req.addr), m.ar.le(m.end, req.end))


def _upstream(vm: Vm, layout: Layout, req: Request, compat: tuple[Term, ...], wraps: Wraps,
              next_from_request: bool) -> tuple[OpList, Term]:
    slots = []
    for i, (m, c) in enumerate(zip(layout.slots, compat, strict=True)):
        ov = _overlap(m, req)
        unmap = z3.And(ov, _inside(m, req))
        remap = z3.And(ov, z3.Not(_inside(m, req)))
        prev, nxt = _pieces(m, req, remap, wraps, i, next_from_request)
        slots.append(SlotOps(unmap, remap, c, prev, nxt, req.ar.boolean(False),
                             req.ar.boolean(False)))
    the_map = Piece(req.ar, req.ar.boolean(True), req.addr, req.range, req.gem, req.offset)
    return OpList(tuple(slots), the_map), req.ar.boolean(False)


def _rfc2023(vm: Vm, layout: Layout, req: Request, compat: tuple[Term, ...], wraps: Wraps,
             next_from_request: bool) -> tuple[OpList, Term]:
    ar = req.ar
    ms = layout.slots
    ov = [_overlap(m, req) for m in ms]
    # No-op: one compatible mapping contains the request (cases A1, A3, B1, B3).
    noop = ar.any([z3.And(o, ar.le(m.addr, req.addr), ar.ge(m.end, req.end), c)
                   for m, o, c in zip(ms, ov, compat, strict=True)])
    live = z3.Not(noop)
    # Widening by compatible mappings that stick out: B2 to the left, C3 to the right.
    ra1, ro1, re1 = req.addr, req.offset, req.end
    for m, o, c in zip(ms, ov, compat, strict=True):
        b2 = z3.And(live, o, c, ar.lt(m.addr, req.addr))
        c3 = z3.And(live, o, c, ar.gt(m.end, req.end))
        ra1, ro1 = z3.If(b2, m.addr, ra1), z3.If(b2, m.offset, ro1)
        re1 = z3.If(c3, m.end, re1)
    no_overlap = ar.all([z3.Not(o) for o in ov])
    only_c = ar.any([z3.And(o, ar.gt(m.addr, req.addr),
                            *[z3.Not(ov[j]) for j in range(len(ms)) if j != i])
                     for i, (m, o) in enumerate(zip(ms, ov, strict=True))])
    last_a2_c2 = ar.any([z3.And(o, ar.ge(m.addr, req.addr), ar.lt(m.end, req.end),
                                *[z3.Not(ov[j]) for j in range(i + 1, len(ms))])
                         for i, (m, o) in enumerate(zip(ms, ov, strict=True))])
    left_ok = z3.And(live, z3.Or(no_overlap, only_c))
    right_ok = z3.And(live, z3.Or(no_overlap, last_a2_c2))
    merge_prev = [z3.And(left_ok, m.present, m.end == req.addr, c, vm.same_region(m.addr, re1))
                  for m, c in zip(ms, compat, strict=True)]
    ra2, ro2 = ra1, ro1
    for m, mp in zip(ms, merge_prev, strict=True):
        ra2, ro2 = z3.If(mp, m.addr, ra2), z3.If(mp, m.offset, ro2)
    merge_next = [z3.And(right_ok, m.present, m.addr == req.end, c, vm.same_region(ra2, m.end))
                  for m, c in zip(ms, compat, strict=True)]
    re2 = re1
    for m, mn in zip(ms, merge_next, strict=True):
        re2 = z3.If(mn, m.end, re2)
    slots = []
    for i, (m, o, c) in enumerate(zip(ms, ov, compat, strict=True)):
        inside = _inside(m, req)
        unmap = z3.And(live, o, z3.Or(inside, c))
        remap = z3.And(live, o, z3.Not(inside), z3.Not(c))
        prev, nxt = _pieces(m, req, remap, wraps, i, next_from_request)
        slots.append(SlotOps(unmap, remap, c, prev, nxt, merge_prev[i], merge_next[i]))
    the_map = Piece(ar, live, ra2, wraps.sub(re2, ra2, "map.range", live), req.gem, ro2)
    return OpList(tuple(slots), the_map), noop


def sm_unmap(k: int, *, ar: Arith | str = "int", prefix: str = "") -> Spec:
    """The ``Unmap`` relation over a layout of ``k`` slots (profile independent)."""
    a = arith(ar) if isinstance(ar, str) else ar
    vm, layout, req, wraps = _inputs(a, k, prefix)
    valid = z3.And(vm.valid(), layout.valid(vm), unmap_request_ok(vm, req))
    slots = []
    for i, m in enumerate(layout.slots):
        ov = _overlap(m, req)
        inside = _inside(m, req)
        remap = z3.And(ov, z3.Not(inside))
        prev, nxt = _pieces(m, req, remap, wraps, i, False)
        no = a.boolean(False)
        slots.append(SlotOps(z3.And(ov, inside), remap, no, prev, nxt, no, no))
    ops = OpList(tuple(slots), _absent(a))
    compat = tuple(a.boolean(False) for _ in layout.slots)
    return Spec("sm_unmap", "Unmap", None, None, a, vm, layout, req, valid, ops, compat,
                a.boolean(False), wraps)
