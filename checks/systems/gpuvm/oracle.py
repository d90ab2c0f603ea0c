"""The VA-space machines' oracle: what a request must do, from the seed's prose.

Nothing here calls the model's split/merge code.  :class:`Oracle` holds,
per page, what the page translates to -- ``(gem, offset, flags)`` with the
offset modulo 2^64 -- the regions, and the validity rules of
``model/vaspace.py``'s docstring, from which it predicts the errno of every
request.  :func:`check_ops` judges an op list against the request and the
mappings before it: the list bound; every op names a mapping present at
that point of the list; ``keep`` exactly on a compatible mapping (upstream:
same non-NULL GEM, same base; rfc2023: and the same flags); a split piece is
the old mapping cut at the request's edge, its offset moved along in u64 and
its flags kept; the ``Map`` is at the request's GEM, base and flags, exactly
the request (upstream) or the request widened by exactly the contiguous kept
mappings (rfc2023); a map that one mapping already satisfies (same GEM,
base and flags, covering the request) gives no ops at all (rfc2023's no-op
cases); prefetch names exactly the nodes met; and the ops applied to the
old mappings give exactly the new ones.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from checks.machines.base import CheckFailed
from checks.systems.gpuvm.domain import Layout
from model.errors import InvariantViolation
from model.gpuva import Va
from model.ops import Map, Op, Prefetch, Unmap, check_op_bounds

U64 = 1 << 64
U64_MAX = U64 - 1

Args = dict[str, Any]
Page = tuple[str | None, int, int]


def _is_u64(x: object) -> bool:
    return type(x) is int and 0 <= x <= U64_MAX


def _num(v: object) -> str:
    return f"{v:#x}" if type(v) is int and abs(v) >= 1 << 20 else repr(v)


def same_base(va: Va, gem: str | None, addr: int, offset: int) -> bool:
    """The oracle's compatibility rule: same non-NULL GEM, same base modulo 2^64."""
    return va.gem is not None and va.gem == gem and (va.offset - va.addr) % U64 == (
        offset - addr) % U64


def keeps(profile: str, va: Va, args: Args) -> bool:
    """Whether ``va`` must be marked ``keep`` in the answer to the map request ``args``."""
    compat = same_base(va, args.get("gem"), args["addr"], args["offset"])
    if profile == "rfc2023":
        return compat and va.flags == args.get("flags", 0)
    return compat


class Oracle:
    """Page -> (gem, offset, flags), the regions, and the errno of every request."""

    def __init__(self, layout: Layout, regions: bool) -> None:
        self.layout = layout
        self.regions_enabled = regions
        self.pages: dict[int, Page] = {}
        self.regions: list[tuple[int, int, bool]] = []

    def range_ok(self, addr: object, range_: object) -> bool:
        if not (_is_u64(addr) and _is_u64(range_)):
            return False
        assert isinstance(addr, int) and isinstance(range_, int)
        end = addr + range_
        lay = self.layout
        if range_ == 0 or end > U64_MAX or addr < lay.mm_start or end > lay.mm_end:
            return False
        return not (lay.reserve_range and addr < lay.reserve_end and lay.reserve_offset < end)

    def _enclosing_region(self, addr: int, end: int) -> bool:
        return any(a <= addr and end <= a + r for a, r, _ in self.regions)

    def expect(self, action: str, args: Args) -> str | None:
        """The errno name the model must return, or ``None`` if it must accept."""
        a, r = args["addr"], args["range"]
        if action == "Map":
            if not self.range_ok(a, r):
                return "EINVAL"
            if self.regions_enabled and not self._enclosing_region(a, a + r):
                return "EINVAL"
            ok = _is_u64(args["offset"]) and _is_u64(args.get("flags", 0))
            return None if ok else "EINVAL"
        if action == "Unmap":
            return None if self.range_ok(a, r) else "EINVAL"
        if action == "Prefetch":  # validates nothing but that the values are u64
            return None if _is_u64(a) and _is_u64(r) else "EINVAL"
        if action == "RegionAlloc":
            if not self.regions_enabled or not self.range_ok(a, r):
                return "EINVAL"
            if any(ra < a + r and a < ra + rr for ra, rr, _ in self.regions):
                return "EEXIST"
            return None
        if action == "RegionFree":
            if not self.regions_enabled:
                return "EINVAL"
            if not any(ra == a and rr == r for ra, rr, _ in self.regions):
                return "ENOENT"
            if any(p in self.pages for p in range(a, a + r)):
                return "EBUSY"
            return None
        raise ValueError(f"unknown action {action!r}")

    def apply(self, action: str, args: Args) -> None:
        """Update the oracle for an accepted request."""
        a, r = args["addr"], args["range"]
        if action == "Map":
            gem, off, flags = args["gem"], args["offset"], args.get("flags", 0)
            for i in range(r):
                self.pages[a + i] = (gem, (off + i) % U64, flags)
        elif action == "Unmap":
            for p in range(a, a + r):
                self.pages.pop(p, None)
        elif action == "RegionAlloc":
            self.regions.append((a, r, bool(args["sparse"])))
            self.regions.sort()
        elif action == "RegionFree":
            self.regions = [x for x in self.regions if not (x[0] == a and x[1] == r)]

    def translation(self, page: int) -> Page | str | None:
        """What ``page`` must translate to: a page, ``"sparse"`` in a sparse region, or None."""
        if page in self.pages:
            return self.pages[page]
        for a, r, sparse in self.regions:
            if a <= page < a + r:
                return "sparse" if sparse else None
        return None

    def nodes(self, vas: Sequence[Va]) -> list[Va]:
        """The mappings and the kernel node, ascending."""
        lay = self.layout
        out = list(vas)
        if lay.reserve_range:
            out.append(Va(lay.reserve_offset, lay.reserve_range))
        return sorted(out)


def check_ops(profile: str, action: str, args: Args, before: Sequence[Va],
              ops: Sequence[Op], after: Sequence[Va], layout: Layout) -> None:
    """Raise :class:`CheckFailed` unless ``ops`` is a correct answer to the request.

    ``before``/``after`` are the user mappings around the step, ascending.
    """
    try:
        check_op_bounds(ops)
    except InvariantViolation as bad:
        raise CheckFailed(bad.invariant, bad.detail) from None
    ra, rr = args["addr"], args["range"]
    if action == "Prefetch":
        _check_prefetch(ra, rr, before, ops, layout)
        return
    re_ = ra + rr
    is_map = action == "Map"
    gem, off, flags = args.get("gem"), args.get("offset", 0), args.get("flags", 0)
    if is_map and profile == "rfc2023":
        cover = [va for va in before if va.addr <= ra and re_ <= va.end and keeps(profile, va,
                                                                                  args)]
        if cover and ops:
            raise CheckFailed("NoopInv", f"{cover[0]} already maps the request as asked: "
                              f"rfc2023 gives no ops, not {list(ops)}")
    cur = {va.addr: va for va in before}
    maps: list[Map] = []
    kept: list[Va] = []
    for i, op in enumerate(ops):
        if isinstance(op, Prefetch):
            raise CheckFailed("OpTargetInv", f"op {i} {op} in the answer to {action}")
        if isinstance(op, Map):
            if not is_map:
                raise CheckFailed("MapInv", f"op {i} {op} in the answer to {action}")
            if op.gem != gem or (op.offset - op.addr) % U64 != (off - ra) % U64:
                raise CheckFailed("MapInv", f"op {i} {op} is not at the request's GEM and base")
            if op.flags != flags:
                raise CheckFailed("FlagsInv", f"op {i} {op} does not carry the request's "
                                  f"flags {flags}")
            if not (op.addr <= ra and re_ <= op.end):
                raise CheckFailed("MapInv", f"op {i} {op} does not cover the request")
            clash = [va for va in cur.values() if va.overlaps(op.addr, op.end)]
            if clash:
                raise CheckFailed("NoOverlapInv", f"op {i} {op} maps over {clash[0]}")
            maps.append(op)
            cur[op.addr] = op.va()
            continue
        unmap = op if isinstance(op, Unmap) else op.unmap
        va = unmap.va
        if cur.get(va.addr) != va:
            raise CheckFailed("OpTargetInv", f"op {i} {op} names {va}, which is not there")
        want_keep = is_map and keeps(profile, va, args)
        if unmap.keep != want_keep:
            raise CheckFailed("KeepInv", f"op {i} {op}: keep must be {want_keep} "
                              f"(compatible with the request: {want_keep})")
        del cur[va.addr]
        if isinstance(op, Unmap):
            if unmap.keep:
                kept.append(va)
            elif not (ra <= va.addr and va.end <= re_):
                raise CheckFailed("RemapInv", f"op {i} {op} removes pages outside the request; "
                                  "it must be a remap")
            continue
        if not (va.addr < re_ and ra < va.end):
            raise CheckFailed("RemapInv", f"op {i} {op} splits a mapping the request "
                              "does not overlap")
        want_prev = (Map(va.addr, ra - va.addr, va.gem, va.offset, va.flags)
                     if va.addr < ra else None)
        want_next = (Map(re_, va.end - re_, va.gem, (va.offset + (re_ - va.addr)) % U64,
                         va.flags) if va.end > re_ else None)
        if op.prev != want_prev or op.next != want_next:
            raise CheckFailed("RemapInv", f"op {i} {op}: the pieces of {va} cut at "
                              f"[{_num(ra)}, {_num(re_)}) are prev={want_prev} next={want_next}")
        for piece in (op.prev, op.next):
            if piece is not None:
                cur[piece.addr] = piece.va()
    if is_map:
        _check_map(profile, args, ops, maps, kept)
    got = [cur[k] for k in sorted(cur)]
    if got != list(after):
        raise CheckFailed("OpEffectInv", f"the ops applied to the old mappings give {got}, "
                          f"the VA space holds {list(after)}")


def _check_map(profile: str, args: Args, ops: Sequence[Op], maps: list[Map],
               kept: list[Va]) -> None:
    ra, rr = args["addr"], args["range"]
    re_ = ra + rr
    req = Map(ra, rr, args["gem"], args["offset"], args.get("flags", 0))
    if profile == "upstream" and (not ops or ops[-1] != req):
        raise CheckFailed("MapInv", f"upstream must end with exactly the request's map: {ops}")
    if maps:
        spans = sorted([(ra, re_)] + [(va.addr, va.end) for va in kept])
        hi = spans[0][1]
        for a, e in spans[1:]:
            if a > hi:
                raise CheckFailed("MergeInv", f"the map {maps[0]} merges across the hole "
                                  f"[{_num(hi)}, {_num(a)})")
            hi = max(hi, e)
        lo = spans[0][0]
        if profile == "rfc2023" and (maps[0].addr, maps[0].end) != (lo, hi):
            raise CheckFailed("MergeInv", f"the map {maps[0]} is not the request widened by "
                              f"the kept mappings [{_num(lo)}, {_num(hi)})")
    elif ops:
        raise CheckFailed("MapInv", f"ops without a map unmap the request's pages: {ops}")


def _check_prefetch(ra: int, rr: int, before: Sequence[Va], ops: Sequence[Op],
                    layout: Layout) -> None:
    end = (ra + rr) % U64
    nodes = list(before)
    if layout.reserve_range:
        nodes.append(Va(layout.reserve_offset, layout.reserve_range))
    want = [Prefetch(va) for va in sorted(nodes) if end > ra and va.overlaps(ra, end)]
    if list(ops) != want:
        raise CheckFailed("PrefetchInv", f"prefetch ops {list(ops)}, the nodes met are {want}")
