"""A driver's page-table view: 4 KiB and 2 MiB leaves, each with a target.

The front ends (nouveau, xe) write page tables when a bind *runs*, not when
the VA tree changes, so the page tables are a state of their own.  This is a
small model of them: a leaf maps a 4 KiB page or a 2 MiB huge page to a
*target* -- a GEM object at an offset with the driver's attributes (nouveau's
PTE ``kind``, xe's read-only bit), or the *sparse* PTE of a sparse region.
A run of leaves of one size whose targets follow one another is kept as one
:class:`Segment`, so a 1 GiB mapping is a handful of segments, not 2^18
leaves.

Rules (``tests/test_pagetable.py`` checks each):

1. A huge leaf covers a 2 MiB-aligned 2 MiB of VA whose target offset is
   2 MiB aligned too; everything else is 4 KiB leaves.
2. Writing or clearing part of a huge leaf *demotes* it: its 2 MiB becomes
   512 small leaves (the part not written keeps its target), so a split
   inside a huge page is visible.
3. Targets are kept per address: after any sequence of writes the view
   (:meth:`runs`) equals "the last write covering each address", whatever
   the leaf sizes.

Diagram: a 4 MiB mapping at 2 MiB, then a 4 KiB unmap in its middle::

    write [0x200000, +0x400000) -> a@0        huge 0x200000  huge 0x400000
    clear [0x300000, +0x1000)                 4K 0x200000..0x300000,
                                              4K 0x301000..0x400000,
                                              huge 0x400000
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from model.errors import InvalidArgument

SMALL = 1 << 12
HUGE = 1 << 21


@dataclass(frozen=True, slots=True)
class Target:
    """What a leaf points at: ``gem`` at ``offset`` with ``attrs``; ``gem`` None is sparse."""

    gem: str | None
    offset: int = 0
    attrs: int = 0

    @property
    def sparse(self) -> bool:
        return self.gem is None

    def at(self, delta: int) -> Target:
        """The target ``delta`` bytes further on."""
        return self if self.gem is None else Target(self.gem, self.offset + delta, self.attrs)

    def follows(self, other: Target, delta: int) -> bool:
        """True if this target is ``other`` moved ``delta`` bytes on."""
        return self == other.at(delta)

    def to_json(self) -> Any:
        return "sparse" if self.gem is None else [self.gem, self.offset, self.attrs]

    @staticmethod
    def from_json(raw: Any) -> Target:
        if raw == "sparse":
            return SPARSE
        if isinstance(raw, list | tuple) and len(raw) == 3 and type(raw[0]) is str \
                and type(raw[1]) is int and type(raw[2]) is int:
            return Target(raw[0], raw[1], raw[2])
        raise InvalidArgument(f"{raw!r} is not a page-table target ([gem, offset, attrs] "
                              "or \"sparse\")")


SPARSE = Target(None)


@dataclass(frozen=True, slots=True)
class Segment:
    """``[addr, addr + size)`` as leaves of ``leaf`` bytes, the first at ``target``."""

    addr: int
    size: int
    leaf: int
    target: Target

    @property
    def end(self) -> int:
        return self.addr + self.size

    def cut(self, lo: int, hi: int) -> Segment:
        """The part ``[lo, hi)`` of this segment (same leaf size)."""
        return Segment(lo, hi - lo, self.leaf, self.target.at(lo - self.addr))

    def to_json(self) -> list[Any]:
        return [self.addr, self.size, self.leaf, self.target.to_json()]


class PageTable:
    """One VM's page tables, as segments sorted by address (disjoint)."""

    def __init__(self) -> None:
        self.segs: list[Segment] = []

    # ----------------------------------------------------------------- state

    def abstract(self) -> list[list[Any]]:
        return [s.to_json() for s in self.segs]

    @classmethod
    def from_abstract(cls, raw: Sequence[Any]) -> PageTable:
        pt = cls()
        try:
            pt.segs = [Segment(int(a), int(n), int(leaf), Target.from_json(t))
                       for a, n, leaf, t in raw]
        except (TypeError, ValueError) as e:
            raise InvalidArgument(f"not a page table: {e}") from None
        pt.check()
        return pt

    def check(self) -> None:
        """Rule 1 and disjointness; ``InvalidArgument`` naming the first bad segment."""
        last = -1
        for s in self.segs:
            if s.leaf not in (SMALL, HUGE) or s.size <= 0 or s.addr % s.leaf or s.size % s.leaf:
                raise InvalidArgument(f"segment {s.to_json()}: leaves must be 4 KiB or "
                                      "2 MiB, aligned, a whole number of them")
            if s.leaf == HUGE and not s.target.sparse and s.target.offset % HUGE:
                raise InvalidArgument(f"segment {s.to_json()}: a huge leaf's offset is "
                                      "not 2 MiB aligned")
            if s.addr < last:
                raise InvalidArgument(f"segment {s.to_json()} overlaps the one before")
            last = s.end

    # --------------------------------------------------------------- queries

    def lookup(self, addr: int) -> Target | None:
        for s in self.segs:
            if s.addr <= addr < s.end:
                return s.target.at(addr - s.addr)
        return None

    def leaf_at(self, addr: int) -> int:
        """The size of the leaf covering ``addr`` (0 if none)."""
        return next((s.leaf for s in self.segs if s.addr <= addr < s.end), 0)

    def runs(self) -> list[tuple[int, int, Target]]:
        """The view whatever the leaf sizes: maximal ``(addr, end, first target)`` runs."""
        out: list[tuple[int, int, Target]] = []
        for s in self.segs:
            if out and out[-1][1] == s.addr and s.target.follows(out[-1][2],
                                                                 s.addr - out[-1][0]):
                out[-1] = (out[-1][0], s.end, out[-1][2])
            else:
                out.append((s.addr, s.end, s.target))
        return out

    def touching(self, addr: int, end: int) -> Iterator[Segment]:
        return (s for s in self.segs if s.addr < end and addr < s.end)

    # --------------------------------------------------------------- updates

    def clear(self, addr: int, range_: int) -> None:
        """No leaf in ``[addr, addr + range_)`` (rule 2 around the edges)."""
        self._split(addr)
        self._split(addr + range_)
        self.segs = [s for s in self.segs if not (addr <= s.addr and s.end <= addr + range_)]

    def write(self, addr: int, range_: int, target: Target) -> None:
        """``[addr, addr + range_)`` now reads ``target`` onwards (4 KiB aligned)."""
        if addr % SMALL or range_ % SMALL or range_ <= 0:
            raise InvalidArgument(f"[{addr:#x}, +{range_:#x}) is not whole 4 KiB pages")
        self.clear(addr, range_)
        end = addr + range_
        lo = -(-addr // HUGE) * HUGE
        hi = end // HUGE * HUGE
        congruent = target.sparse or (target.offset - addr) % HUGE == 0
        new: list[Segment] = []
        if congruent and lo < hi:
            if addr < lo:
                new.append(Segment(addr, lo - addr, SMALL, target))
            new.append(Segment(lo, hi - lo, HUGE, target.at(lo - addr)))
            if hi < end:
                new.append(Segment(hi, end - hi, SMALL, target.at(hi - addr)))
        else:
            new.append(Segment(addr, range_, SMALL, target))
        self.segs = sorted(self.segs + new, key=lambda s: s.addr)
        self._coalesce()

    def _split(self, at: int) -> None:
        """Make ``at`` a segment boundary, demoting the huge leaf it falls in."""
        for i, s in enumerate(self.segs):
            if s.addr < at < s.end:
                if s.leaf == HUGE and at % HUGE:
                    lo = at // HUGE * HUGE
                    parts = [s.cut(s.addr, lo)] if s.addr < lo else []
                    small = s.cut(lo, lo + HUGE)
                    parts.append(Segment(lo, at - lo, SMALL, small.target))
                    parts.append(Segment(at, lo + HUGE - at, SMALL, small.target.at(at - lo)))
                    if lo + HUGE < s.end:
                        parts.append(s.cut(lo + HUGE, s.end))
                else:
                    parts = [s.cut(s.addr, at), s.cut(at, s.end)]
                self.segs[i:i + 1] = parts
                return

    def _coalesce(self) -> None:
        out: list[Segment] = []
        for s in self.segs:
            p = out[-1] if out else None
            if p is not None and p.end == s.addr and p.leaf == s.leaf \
                    and s.target.follows(p.target, s.addr - p.addr):
                out[-1] = Segment(p.addr, p.size + s.size, p.leaf, p.target)
            else:
                out.append(s)
        self.segs = out


class RunCounts:
    """A count per 4 KiB page (page-table references), as ``[addr, end, count]`` runs."""

    def __init__(self, runs: Sequence[Sequence[int]] = ()) -> None:
        self.runs: list[list[int]] = [[int(a), int(e), int(c)] for a, e, c in runs]

    def abstract(self) -> list[list[int]]:
        return [list(r) for r in self.runs]

    def get(self, addr: int) -> int:
        return next((c for a, e, c in self.runs if a <= addr < e), 0)

    def add(self, addr: int, end: int, delta: int) -> None:
        if addr >= end or delta == 0:
            return
        cuts = sorted({addr, end, *(x for r in self.runs for x in r[:2])})
        out: list[list[int]] = []
        for lo, hi in itertools.pairwise(cuts):
            c = self.get(lo) + (delta if addr <= lo and hi <= end else 0)
            if c:
                if out and out[-1][1] == lo and out[-1][2] == c:
                    out[-1][1] = hi
                else:
                    out.append([lo, hi, c])
        self.runs = out

    def negative(self) -> list[int] | None:
        return next((r for r in self.runs if r[2] < 0), None)


def view_of(mappings: Sequence[tuple[int, int, Target]],
            sparse: Sequence[tuple[int, int]] = ()) -> list[tuple[int, int, Target]]:
    """What a page table should read: ``mappings`` (addr, range, target) over
    the ``sparse`` ranges (addr, range), as maximal runs (compare with
    :meth:`PageTable.runs`)."""
    pt = PageTable()
    for a, n in sparse:
        pt.write(a, n, SPARSE)
    for a, n, t in mappings:
        pt.write(a, n, t)
    return pt.runs()

