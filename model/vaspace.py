"""The GPU VA space of one VM (``drm_gpuva_manager`` / ``drm_gpuvm``).

A VM manages ``[mm_start, mm_start + mm_range)``.  Inside it sits the
kernel-reserved node ``[reserve_offset, reserve_offset + reserve_range)``,
which no mapping or region may touch.  With ``regions=True`` (seed 001 v2),
a mapping may only exist inside one user region, and regions may be sparse.

Range validity, in order (each failure is ``-EINVAL``):

1. ``addr`` and ``range`` are u64 values, ``range > 0`` and ``addr + range``
   does not wrap past ``2**64 - 1``;
2. ``mm_start <= addr`` and ``addr + range <= mm_start + mm_range``;
3. ``[addr, addr + range)`` does not meet the kernel-reserved node;
4. with regions, and for inserts and map requests only: one user region
   encloses the whole range.

Insertion over an existing mapping is ``-EEXIST``.  Every rejected call
leaves the VA space exactly as it was.

Actions (the spec's action names; each reports itself to the tracer):

- :meth:`VaSpace.map` -- ``sm_map`` then :meth:`VaSpace.apply`;
- :meth:`VaSpace.unmap` -- ``sm_unmap`` then apply;
- :meth:`VaSpace.prefetch` -- one ``Prefetch`` per overlapped mapping;
- :meth:`VaSpace.region_alloc`, :meth:`VaSpace.region_free`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any

from model.errors import AlreadyExists, Busy, GpuVmError, InvalidArgument, NotFound
from model.gpuva import U64_MAX, Region, Va
from model.ops import Map, Op, Prefetch, Remap, Unmap, check_op_bounds
from model.profiles import Profile, Upstream, left_piece, right_piece
from model.store import IntervalStore, SortedStore
from model.trace import NOP, Tracer

StoreFactory = Callable[[], IntervalStore[Any]]


def _is_u64(x: object) -> bool:
    return type(x) is int and 0 <= x <= U64_MAX


class VaSpace:
    """One VM's GPU VA space: mappings, kernel node, optional regions."""

    def __init__(
        self,
        mm_start: int,
        mm_range: int,
        reserve_offset: int = 0,
        reserve_range: int = 0,
        *,
        profile: Profile | None = None,
        regions: bool = False,
        tracer: Tracer = NOP,
        store: StoreFactory = SortedStore,
    ) -> None:
        if not (_is_u64(mm_start) and _is_u64(mm_range)) or mm_range == 0:
            raise InvalidArgument(f"VM [{mm_start:#x}, +{mm_range:#x}) is not a u64 range")
        if mm_start + mm_range > U64_MAX:
            raise InvalidArgument(f"VM [{mm_start:#x}, +{mm_range:#x}) wraps")
        self.mm_start = mm_start
        self.mm_range = mm_range
        self.profile: Profile = profile if profile is not None else Upstream()
        self.regions_enabled = regions
        self.tracer = tracer
        self._vas: IntervalStore[Va] = store()
        self._regions: IntervalStore[Region] = store()
        self._gem_vas: dict[str, dict[int, Va]] = {}
        self.kernel_node: Region | None = None
        if reserve_range:
            self._check_u64_range(reserve_offset, reserve_range)
            if not (mm_start <= reserve_offset and reserve_offset + reserve_range <= self.mm_end):
                raise InvalidArgument("kernel-reserved node is outside the VM")
            self.kernel_node = Region(reserve_offset, reserve_range)

    # ------------------------------------------------------------------ queries

    @property
    def mm_end(self) -> int:
        return self.mm_start + self.mm_range

    def __len__(self) -> int:
        return len(self._vas)

    def __iter__(self) -> Iterator[Va]:
        return iter(self._vas)

    @property
    def regions(self) -> list[Region]:
        return list(self._regions)

    def overlapping(self, addr: int, end: int) -> list[Va]:
        """Every mapping meeting ``[addr, end)``, ascending by address."""
        return self._vas.overlapping(addr, end)

    def iter_range(self, addr: int, range_: int) -> Iterator[Va]:
        """Iterate the mappings meeting ``[addr, addr + range_)`` in address order."""
        return iter(self._vas.overlapping(addr, addr + range_))

    def find_first(self, addr: int, range_: int) -> Va | None:
        """The lowest mapping meeting ``[addr, addr + range_)``."""
        found = self._vas.overlapping(addr, addr + range_)
        return found[0] if found else None

    def find(self, addr: int, range_: int) -> Va | None:
        """The mapping that is exactly ``[addr, addr + range_)``.

        Both the start and the range must match (seed 001 checked only the
        range, so it could return a mapping starting elsewhere).
        """
        va = self._vas.at(addr)
        return va if va is not None and va.range == range_ else None

    def find_prev(self, start: int) -> Va | None:
        """The mapping ending exactly at ``start`` (adjacent, no gap)."""
        if start <= self.mm_start or start > self.mm_end:
            return None
        va = self._vas.covering(start - 1)
        return va if va is not None and va.end == start else None

    def find_next(self, end: int) -> Va | None:
        """The mapping starting exactly at ``end`` (adjacent, no gap)."""
        if end < self.mm_start or end >= self.mm_end:
            return None
        return self._vas.at(end)

    def lookup(self, addr: int) -> Va | None:
        """The mapping covering ``addr``."""
        return self._vas.covering(addr)

    def translate(self, addr: int) -> tuple[str | None, int] | None:
        """``(gem, offset)`` that ``addr`` maps to, or ``None`` if unmapped."""
        va = self._vas.covering(addr)
        if va is None:
            return None
        return (va.gem, va.offset + (addr - va.addr))

    def gem_vas(self, gem: str) -> list[Va]:
        """The mappings of ``gem`` in this VM (the GEM's gpuva list), ascending."""
        return sorted(self._gem_vas.get(gem, {}).values())

    def region_of(self, addr: int, end: int) -> Region | None:
        """The user region enclosing ``[addr, end)``, if any."""
        r = self._regions.covering(addr)
        return r if r is not None and end <= r.end else None

    def same_region(self, addr: int, end: int) -> bool:
        """True if ``[addr, end)`` may be one mapping as far as regions go."""
        return not self.regions_enabled or self.region_of(addr, end) is not None

    def abstract(self) -> dict[str, Any]:
        """The spec-level state: ``vas`` (and ``regions`` when enabled)."""
        state: dict[str, Any] = {"vas": [va.to_json() for va in self._vas]}
        if self.regions_enabled:
            state["regions"] = [r.to_json() for r in self._regions]
        return state

    # --------------------------------------------------------------- validation

    @staticmethod
    def _check_u64_range(addr: object, range_: object) -> None:
        if not (_is_u64(addr) and _is_u64(range_)):
            raise InvalidArgument(f"addr={addr!r} range={range_!r}: not u64 values")
        assert isinstance(addr, int) and isinstance(range_, int)
        if range_ == 0:
            raise InvalidArgument(f"[{addr:#x}, +0): empty range")
        if addr + range_ > U64_MAX:
            raise InvalidArgument(f"[{addr:#x}, +{range_:#x}): addr + range wraps past 2^64")

    def check_range(self, addr: int, range_: int, *, need_region: bool = False) -> None:
        """Raise ``-EINVAL`` unless ``[addr, addr + range_)`` may hold a mapping."""
        self._check_u64_range(addr, range_)
        end = addr + range_
        if addr < self.mm_start or end > self.mm_end:
            raise InvalidArgument(
                f"[{addr:#x}, {end:#x}) is outside the VM [{self.mm_start:#x}, {self.mm_end:#x})"
            )
        k = self.kernel_node
        if k is not None and addr < k.end and k.addr < end:
            raise InvalidArgument(
                f"[{addr:#x}, {end:#x}) touches the kernel node [{k.addr:#x}, {k.end:#x})"
            )
        if need_region and self.regions_enabled and self.region_of(addr, end) is None:
            raise InvalidArgument(f"[{addr:#x}, {end:#x}) is not inside one region")

    # ------------------------------------------------------- insert and remove

    def insert(self, va: Va) -> None:
        """Insert one mapping.  ``-EINVAL`` for a bad range, ``-EEXIST`` on overlap."""
        self.check_range(va.addr, va.range, need_region=True)
        if va.gem is not None and not isinstance(va.gem, str):
            raise InvalidArgument(f"gem {va.gem!r} is not a name")
        if not _is_u64(va.offset) or va.offset + va.range > U64_MAX:
            raise InvalidArgument(f"offset {va.offset!r} + range wraps")
        clash = self._vas.overlapping(va.addr, va.end)
        if clash:
            raise AlreadyExists(f"{va} overlaps {clash[0]}")
        self._vas.insert(va)
        if va.gem is not None:
            self._gem_vas.setdefault(va.gem, {})[va.addr] = va

    def remove(self, va: Va) -> None:
        """Remove exactly ``va``; ``-ENOENT`` if that very mapping is not present."""
        if self._vas.at(va.addr) != va:
            raise NotFound(f"{va} is not in the VA space")
        self._vas.remove(va.addr)
        if va.gem is not None:
            linked = self._gem_vas[va.gem]
            del linked[va.addr]
            if not linked:
                del self._gem_vas[va.gem]

    # ---------------------------------------------------------- op generation

    def sm_map(
        self, addr: int, range_: int, gem: str | None, offset: int, flags: int = 0
    ) -> list[Op]:
        """The op list that maps ``[addr, addr+range_)`` to ``gem@offset``.

        Validates as :meth:`insert` does (without ``-EEXIST``); the op list
        comes from the profile.  Bound: any number of ``Unmap``, at most two
        ``Remap``, at most one ``Map``, which is last.  Pure: changes nothing.
        """
        self.check_range(addr, range_, need_region=True)
        if not _is_u64(offset) or offset + range_ > U64_MAX:
            raise InvalidArgument(f"offset {offset!r} + range {range_:#x} wraps")
        ops = self.profile.sm_map(self, Map(addr, range_, gem, offset, flags))
        check_op_bounds(ops)
        return ops

    def sm_unmap(self, addr: int, range_: int) -> list[Op]:
        """The op list that unmaps ``[addr, addr+range_)``.

        Every mapping inside the range is unmapped; one that sticks out is
        split with a ``Remap`` whose ``prev``/``next`` is ``None`` on the side
        that does not stick out.  No ``Map``, at most two ``Remap``.  The
        range may cross regions and cover unmapped space.
        """
        self.check_range(addr, range_)
        end = addr + range_
        ops: list[Op] = []
        for va in self._vas.overlapping(addr, end):
            if va.addr < addr or va.end > end:
                prev = left_piece(va, addr) if va.addr < addr else None
                nxt = right_piece(va, end) if va.end > end else None
                ops.append(Remap(Unmap(va, False), prev, nxt))
            else:
                ops.append(Unmap(va, False))
        check_op_bounds(ops)
        return ops

    def prefetch_ops(self, addr: int, range_: int) -> list[Op]:
        """One ``Prefetch`` per mapping meeting the range (whole mappings)."""
        self.check_range(addr, range_)
        return [Prefetch(va) for va in self._vas.overlapping(addr, addr + range_)]

    def gem_unmap_ops(self, gem: str) -> list[Op]:
        """One ``Unmap`` per mapping of ``gem`` in this VM only."""
        return [Unmap(va, False) for va in self.gem_vas(gem)]

    # ------------------------------------------------------------------ apply

    def apply(self, ops: Sequence[Op]) -> None:
        """Execute an op list; all or nothing.

        Raises the first error an op hits (``-ENOENT`` for a mapping that is
        not there, ``-EEXIST``/``-EINVAL`` for a map that cannot be inserted),
        after undoing the ops before it.
        """
        undo: list[tuple[bool, Va]] = []  # (was_inserted, va)
        try:
            for op in ops:
                if isinstance(op, Map):
                    self.insert(op.va())
                    undo.append((True, op.va()))
                elif isinstance(op, Unmap):
                    self.remove(op.va)
                    undo.append((False, op.va))
                elif isinstance(op, Remap):
                    self.remove(op.unmap.va)
                    undo.append((False, op.unmap.va))
                    for piece in (op.prev, op.next):
                        if piece is not None:
                            self.insert(piece.va())
                            undo.append((True, piece.va()))
                elif isinstance(op, Prefetch):
                    if self._vas.at(op.va.addr) != op.va:
                        raise NotFound(f"prefetch of {op.va}, which is not in the VA space")
                else:  # pragma: no cover - closed type
                    raise TypeError(f"not an op: {op!r}")
        except GpuVmError:
            for inserted, va in reversed(undo):
                if inserted:
                    self.remove(va)
                else:
                    self.insert(va)
            raise

    # ---------------------------------------------------------------- actions

    def _act(self, name: str, args: Mapping[str, object], make: Callable[[], list[Op]],
             apply: bool = True) -> list[Op]:
        try:
            ops = make()
            if apply:
                self.apply(ops)
        except GpuVmError as err:
            self.tracer.action(name, args, (), err)
            raise
        self.tracer.action(name, args, ops, None)
        return ops

    def map(
        self, addr: int, range_: int, gem: str | None, offset: int, flags: int = 0
    ) -> list[Op]:
        """Action ``Map``: ``sm_map`` and apply.  Returns the ops executed."""
        args = {"addr": addr, "range": range_, "gem": gem, "offset": offset}
        return self._act("Map", args, lambda: self.sm_map(addr, range_, gem, offset, flags))

    def unmap(self, addr: int, range_: int) -> list[Op]:
        """Action ``Unmap``: ``sm_unmap`` and apply."""
        args = {"addr": addr, "range": range_}
        return self._act("Unmap", args, lambda: self.sm_unmap(addr, range_))

    def prefetch(self, addr: int, range_: int) -> list[Op]:
        """Action ``Prefetch``: the prefetch ops; the VA space does not change."""
        args = {"addr": addr, "range": range_}
        return self._act("Prefetch", args, lambda: self.prefetch_ops(addr, range_))

    def region_alloc(self, addr: int, range_: int, sparse: bool = False) -> list[Op]:
        """Action ``RegionAlloc``: add a user region.

        ``-EINVAL`` when regions are off or the range is bad; ``-EEXIST`` when
        it overlaps another region (seed 001 silently overwrote it).
        """
        args = {"addr": addr, "range": range_, "sparse": sparse}

        def alloc() -> list[Op]:
            if not self.regions_enabled:
                raise InvalidArgument("regions are not enabled in this VM")
            self.check_range(addr, range_)
            clash = self._regions.overlapping(addr, addr + range_)
            if clash:
                raise AlreadyExists(f"region [{addr:#x}, +{range_:#x}) overlaps {clash[0]}")
            self._regions.insert(Region(addr, range_, bool(sparse)))
            return []

        return self._act("RegionAlloc", args, alloc, apply=False)

    def region_free(self, addr: int, range_: int) -> list[Op]:
        """Action ``RegionFree``: remove the region that is exactly the range.

        ``-ENOENT`` unless a region starts at ``addr`` with that range (seed
        001's lookup matched the range only); ``-EBUSY`` if it holds mappings.
        """
        args = {"addr": addr, "range": range_}

        def free() -> list[Op]:
            if not self.regions_enabled:
                raise InvalidArgument("regions are not enabled in this VM")
            r = self._regions.at(addr) if _is_u64(addr) else None
            if r is None or r.range != range_:
                raise NotFound(f"no region [{addr!r}, +{range_!r})")
            if self._vas.overlapping(r.addr, r.end):
                raise Busy(f"region {r} still holds mappings")
            self._regions.remove(r.addr)
            return []

        return self._act("RegionFree", args, free, apply=False)
