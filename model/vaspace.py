"""The GPU VA space of one VM (``drm_gpuva_manager`` / ``drm_gpuvm``).

A VM manages ``[mm_start, mm_start + mm_range)``.  Inside it sits the
kernel-reserved node ``[reserve_offset, reserve_offset + reserve_range)``:
a real node of the VA space (NULL GEM, offset 0, no flags) that the lookups
``find``, ``find_first``, ``lookup`` and ``iter_range`` return and that a
prefetch may name, but that no request may touch and no action removes.
With ``regions=True`` (seed 001 v2), a mapping may only exist inside one
user region, and regions may be sparse.

Range validity of ``insert``, ``sm_map`` and ``sm_unmap``, in order (each
failure is ``-EINVAL``):

1. ``addr`` and ``range`` are u64 values, ``range > 0`` and ``addr + range``
   does not wrap past ``2**64 - 1``;
2. ``mm_start <= addr`` and ``addr + range <= mm_start + mm_range``;
3. ``[addr, addr + range)`` does not meet the kernel-reserved node;
4. with regions, and for inserts and map requests only: one user region
   encloses the whole range.

The GEM offset is not checked against 2^64 (drm_gpuvm leaves it to the
driver, and the front ends check it against the object's size); split
pieces compute their offsets in u64, wrapping.  Prefetch validates nothing:
it walks the nodes meeting ``[addr, addr + range)`` computed in u64.

Insertion over an existing mapping is ``-EEXIST``.  Every rejected call
leaves the VA space exactly as it was.

Actions (:data:`VOCABULARY`; each reports itself to the tracer):

- :meth:`VaSpace.map` -- ``sm_map`` then :meth:`VaSpace.apply`;
- :meth:`VaSpace.unmap` -- ``sm_unmap`` then apply;
- :meth:`VaSpace.prefetch` -- one ``Prefetch`` per node met;
- :meth:`VaSpace.region_alloc`, :meth:`VaSpace.region_free`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any, Literal, Self

from model.actions import BOOL, GEM, U64, Action, Param, Vocabulary
from model.errors import AlreadyExists, Busy, GpuVmError, InvalidArgument, NotFound
from model.gpuva import U64_MAX, Region, Va, is_u64, u64
from model.ops import Map, Op, Prefetch, Remap, Unmap, check_op_bounds
from model.profiles import Profile, Upstream, left_piece, profile_by_name, right_piece
from model.store import IntervalStore, SortedStore
from model.trace import NOP, Event, Tracer

SYSTEM = "gpuvm"

_ADDR = Param("addr", U64, doc="first address of the request")
_RANGE = Param("range", U64, py="range_", doc="size of the request")

#: The actions of the VA space, in the spec's argument order (``specs/GpuVm``).
VOCABULARY = Vocabulary(SYSTEM, (
    Action("Map", "map", (_ADDR, _RANGE, Param("gem", GEM), Param("offset", U64),
                          Param("flags", U64)),
           ("EINVAL",), "sm_map, then apply the op list"),
    Action("Unmap", "unmap", (_ADDR, _RANGE), ("EINVAL",), "sm_unmap, then apply"),
    Action("Prefetch", "prefetch", (_ADDR, _RANGE), ("EINVAL",),
           "one Prefetch op per node met; nothing changes"),
    Action("RegionAlloc", "region_alloc", (_ADDR, _RANGE, Param("sparse", BOOL)),
           ("EINVAL", "EEXIST"), "add a user region (seed 001 v2)"),
    Action("RegionFree", "region_free", (_ADDR, _RANGE), ("EINVAL", "ENOENT", "EBUSY"),
           "remove the region that is exactly the range"),
))

StoreFactory = Callable[[], IntervalStore[Any]]

#: What :meth:`VaSpace.translate` gives for an unmapped address of a sparse region.
SPARSE: Literal["sparse"] = "sparse"
Translation = tuple[str | None, int, int] | Literal["sparse"] | None


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
        if not (is_u64(mm_start) and is_u64(mm_range)) or mm_range == 0:
            raise InvalidArgument(f"VM [{mm_start!r}, +{mm_range!r}) is not a u64 range")
        if mm_start + mm_range > U64_MAX:
            raise InvalidArgument(f"VM [{mm_start:#x}, +{mm_range:#x}) wraps")
        self.mm_start = mm_start
        self.mm_range = mm_range
        self.profile: Profile = profile if profile is not None else Upstream()
        self.regions_enabled = regions
        self.tracer = tracer
        self._store = store
        self._vas: IntervalStore[Va] = store()
        self._regions: IntervalStore[Region] = store()
        self._gem_vas: dict[str, dict[int, Va]] = {}
        self.kernel_node: Va | None = None
        if reserve_range:
            self._check_u64_range(reserve_offset, reserve_range)
            if not (mm_start <= reserve_offset and reserve_offset + reserve_range <= self.mm_end):
                raise InvalidArgument("kernel-reserved node is outside the VM")
            self.kernel_node = Va(reserve_offset, reserve_range)

    # ------------------------------------------------------------------ queries

    @property
    def mm_end(self) -> int:
        return self.mm_start + self.mm_range

    def __len__(self) -> int:
        """The number of user mappings (the kernel node is not one)."""
        return len(self._vas)

    def __iter__(self) -> Iterator[Va]:
        """The user mappings, ascending (the kernel node is not one)."""
        return iter(self._vas)

    @property
    def regions(self) -> list[Region]:
        return list(self._regions)

    def overlapping(self, addr: int, end: int) -> list[Va]:
        """Every user mapping meeting ``[addr, end)``, ascending by address."""
        return self._vas.overlapping(addr, end)

    def _nodes(self, addr: int, end: int) -> list[Va]:
        """Every node meeting ``[addr, end)``, the kernel node included, ascending."""
        found = self._vas.overlapping(addr, end)
        k = self.kernel_node
        if k is not None and k.overlaps(addr, end):
            found.append(k)
            found.sort()
        return found

    def iter_range(self, addr: int, range_: int) -> Iterator[Va]:
        """Iterate the nodes meeting ``[addr, addr + range_)`` in address order."""
        return iter(self._nodes(addr, addr + range_))

    def find_first(self, addr: int, range_: int) -> Va | None:
        """The lowest node meeting ``[addr, addr + range_)`` (the kernel node too)."""
        found = self._nodes(addr, addr + range_)
        return found[0] if found else None

    def find(self, addr: int, range_: int) -> Va | None:
        """The node that is exactly ``[addr, addr + range_)``.

        Both the start and the range must match (seed 001 checked only the
        range, so it could return a mapping starting elsewhere).
        """
        k = self.kernel_node
        va = k if k is not None and k.addr == addr else self._vas.at(addr)
        return va if va is not None and va.range == range_ else None

    def find_prev(self, start: int) -> Va | None:
        """The user mapping ending exactly at ``start`` (adjacent, no gap).

        ``None`` unless ``start - 1`` is an address a request could hold
        (inside the VM, off the kernel node), as drm_gpuvm asks.
        """
        if not (self.mm_start < start <= self.mm_end) or self._in_kernel_node(start - 1):
            return None
        va = self._vas.covering(start - 1)
        return va if va is not None and va.end == start else None

    def find_next(self, end: int) -> Va | None:
        """The user mapping starting exactly at ``end`` (adjacent, no gap).

        ``None`` unless ``end`` is an address a request could hold.
        """
        if not (self.mm_start <= end < self.mm_end) or self._in_kernel_node(end):
            return None
        return self._vas.at(end)

    def _in_kernel_node(self, addr: int) -> bool:
        k = self.kernel_node
        return k is not None and k.addr <= addr < k.end

    def lookup(self, addr: int) -> Va | None:
        """The node covering ``addr`` (the kernel node too)."""
        if self._in_kernel_node(addr):
            return self.kernel_node
        return self._vas.covering(addr)

    def translate(self, addr: int) -> Translation:
        """What ``addr`` maps to: ``(gem, offset, flags)`` through a user mapping;
        :data:`SPARSE` for an unmapped address in a sparse region; else ``None``
        (unmapped, or the kernel node, which has no backing)."""
        va = self._vas.covering(addr)
        if va is not None:
            return (va.gem, u64(va.offset + (addr - va.addr)), va.flags)
        r = self._regions.covering(addr)
        return SPARSE if r is not None and r.sparse else None

    def gem_vas(self, gem: str) -> list[Va]:
        """The mappings of ``gem`` in this VM, in link order (the order they were
        inserted: what ``bo_unmap_ops_create`` walks)."""
        return list(self._gem_vas.get(gem, {}).values())

    def region_of(self, addr: int, end: int) -> Region | None:
        """The user region enclosing ``[addr, end)``, if any."""
        r = self._regions.covering(addr)
        return r if r is not None and end <= r.end else None

    def same_region(self, addr: int, end: int) -> bool:
        """True if ``[addr, end)`` may be one mapping as far as regions go."""
        return not self.regions_enabled or self.region_of(addr, end) is not None

    # ------------------------------------------------------ component protocol

    def abstract(self) -> dict[str, Any]:
        """The spec-level state: ``vas`` (and ``regions`` when enabled)."""
        state: dict[str, Any] = {"vas": [va.to_json() for va in self._vas]}
        if self.regions_enabled:
            state["regions"] = [r.to_json() for r in self._regions]
        return state

    def config(self) -> dict[str, Any]:
        """The constants of this VM: its range, kernel node, regions flag, profile."""
        k = self.kernel_node
        return {
            "mm_start": self.mm_start,
            "mm_range": self.mm_range,
            "reserve_offset": 0 if k is None else k.addr,
            "reserve_range": 0 if k is None else k.range,
            "regions": self.regions_enabled,
            "profile": self.profile.name,
        }

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> Self:
        """A fresh, empty VM from :meth:`config`'s data.

        ``InvalidArgument`` for a field that is missing, unknown or of the
        wrong type, or a VM the constructor rejects; ``ValueError`` for an
        unknown profile.
        """
        known = {"mm_start", "mm_range", "reserve_offset", "reserve_range", "regions",
                 "profile"}
        extra = sorted(set(config) - known)
        if extra:
            raise InvalidArgument(f"VM config has unknown field(s) {', '.join(extra)}")
        for key in ("mm_start", "mm_range"):
            if key not in config:
                raise InvalidArgument(f"VM config lacks {key}")
        ints = {k: config.get(k, 0) for k in ("mm_start", "mm_range", "reserve_offset",
                                               "reserve_range")}
        bad = [k for k, v in ints.items() if type(v) is not int]
        if bad:
            raise InvalidArgument(f"VM config: {', '.join(bad)} must be integers")
        regions = config.get("regions", False)
        profile = config.get("profile", "upstream")
        if type(regions) is not bool or type(profile) is not str:
            raise InvalidArgument("VM config: regions is a boolean, profile a name")
        return cls(ints["mm_start"], ints["mm_range"], ints["reserve_offset"],
                   ints["reserve_range"], profile=profile_by_name(profile), regions=regions)

    def restore(self, abstract: Mapping[str, Any]) -> None:
        """Make the VA space hold exactly ``abstract`` (as :meth:`abstract` gives it).

        Every mapping and region is checked as :meth:`insert` and
        :meth:`region_alloc` check them; on any error nothing changes.
        """
        known = {"vas", "regions"} if self.regions_enabled else {"vas"}
        if set(abstract) != known:
            raise InvalidArgument(f"a VA-space state has exactly {sorted(known)}, "
                                  f"not {sorted(abstract)}")
        k = self.kernel_node
        fresh = type(self)(self.mm_start, self.mm_range, 0 if k is None else k.addr,
                           0 if k is None else k.range, profile=self.profile,
                           regions=self.regions_enabled, store=self._store)
        regions, vas = abstract.get("regions", []), abstract["vas"]
        if not isinstance(regions, list) or not isinstance(vas, list):
            raise InvalidArgument("vas and regions are lists")
        for raw in regions:
            if not (isinstance(raw, list) and len(raw) == 3 and type(raw[2]) is bool):
                raise InvalidArgument(f"region {raw!r} is not [addr, range, sparse]")
            fresh.region_alloc(raw[0], raw[1], raw[2])
        for raw in vas:
            fresh.insert(Va.from_json(raw))
        self._vas, self._regions, self._gem_vas = fresh._vas, fresh._regions, fresh._gem_vas

    # --------------------------------------------------------------- validation

    @staticmethod
    def _check_u64_range(addr: object, range_: object) -> None:
        if not (is_u64(addr) and is_u64(range_)):
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
        if k is not None and k.overlaps(addr, end):
            raise InvalidArgument(
                f"[{addr:#x}, {end:#x}) touches the kernel node [{k.addr:#x}, {k.end:#x})"
            )
        if need_region and self.regions_enabled and self.region_of(addr, end) is None:
            raise InvalidArgument(f"[{addr:#x}, {end:#x}) is not inside one region")

    # ------------------------------------------------------- insert and remove

    def insert(self, va: Va) -> None:
        """Insert one mapping.  ``-EINVAL`` for a bad range or a field that is not
        a u64 (the offset is any u64), ``-EEXIST`` on overlap."""
        if not isinstance(va, Va):
            raise InvalidArgument(f"not a mapping: {va!r}")
        self.check_range(va.addr, va.range, need_region=True)
        if va.gem is not None and not isinstance(va.gem, str):
            raise InvalidArgument(f"gem {va.gem!r} is not a name")
        if not (is_u64(va.offset) and is_u64(va.flags)):
            raise InvalidArgument(f"offset {va.offset!r} or flags {va.flags!r} not a u64")
        clash = self._vas.overlapping(va.addr, va.end)
        if clash:
            raise AlreadyExists(f"{va} overlaps {clash[0]}")
        self._link(va)

    def remove(self, va: Va) -> None:
        """Remove exactly ``va``; ``-ENOENT`` if that very mapping is not present
        (the kernel node is never removed)."""
        if not isinstance(va, Va) or not is_u64(va.addr) or self._vas.at(va.addr) != va:
            raise NotFound(f"{va} is not a mapping of the VA space")
        self._unlink(va)

    def _link(self, va: Va) -> None:
        """Store ``va`` (already checked) in the tree and its GEM's list; cannot fail."""
        self._vas.insert(va)
        if va.gem is not None:
            self._gem_vas.setdefault(va.gem, {})[va.addr] = va

    def _unlink(self, va: Va) -> None:
        """Take the stored ``va`` out of the tree and its GEM's list; cannot fail."""
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
        """The op list that maps ``[addr, addr+range_)`` to ``gem@offset`` with ``flags``.

        Validates the range as :meth:`insert` does (without ``-EEXIST``), and
        that ``offset`` and ``flags`` are u64 values; the op list comes from
        the profile.  Bound: any number of ``Unmap``, at most two ``Remap``,
        at most one ``Map``, which is last.  Pure: changes nothing.
        """
        self.check_range(addr, range_, need_region=True)
        if not (is_u64(offset) and is_u64(flags)):
            raise InvalidArgument(f"offset {offset!r} or flags {flags!r} not a u64")
        if gem is not None and type(gem) is not str:
            raise InvalidArgument(f"gem {gem!r} is not a name")
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
        """One ``Prefetch`` per node meeting ``[addr, addr + range_)``, ascending.

        No validation, as in drm_gpuvm: the end is computed in u64, so a
        range that wraps past 2^64 ends below ``addr`` and meets nothing; the
        kernel node is a node like any other.  Only arguments that are not
        u64 values at all (which an ioctl cannot pass) are ``-EINVAL``.
        """
        if not (is_u64(addr) and is_u64(range_)):
            raise InvalidArgument(f"addr={addr!r} range={range_!r}: not u64 values")
        end = u64(addr + range_)
        if end <= addr:
            return []
        return [Prefetch(va) for va in self._nodes(addr, end)]

    def gem_unmap_ops(self, gem: str) -> list[Op]:
        """One ``Unmap`` per mapping of ``gem`` in this VM only, in link order."""
        return [Unmap(va, False) for va in self.gem_vas(gem)]

    # ------------------------------------------------------------------ apply

    def apply(self, ops: Sequence[Op]) -> None:
        """Execute an op list; all or nothing, whatever is raised.

        First every op is checked to be an op of the right shape
        (``-EINVAL`` otherwise, before anything changes).  Then the ops run
        in order; the first error an op hits (``-ENOENT`` for a mapping that
        is not there, ``-EEXIST``/``-EINVAL`` for a map that cannot be
        inserted) -- or any other exception -- undoes the ops before it and
        propagates.  The undo itself cannot fail: it only puts back what this
        call took out and takes out what it put in.
        """
        ops = list(ops)
        touched: set[str] = set()
        for op in ops:
            touched.update(va.gem for va in _check_op_shape(op) if va.gem is not None)
        saved = {g: dict(self._gem_vas[g]) for g in touched if g in self._gem_vas}
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
                elif op.va != self.find(op.va.addr, op.va.range):  # a Prefetch
                    raise NotFound(f"prefetch of {op.va}, which is not in the VA space")
        except BaseException:
            for inserted, va in reversed(undo):
                if inserted:
                    self._unlink(va)
                else:
                    self._link(va)
            for g in touched:  # the GEM lists in their old link order too
                if g in saved:
                    self._gem_vas[g] = saved[g]
                else:
                    self._gem_vas.pop(g, None)
            raise

    # ---------------------------------------------------------------- actions

    def _act(self, name: str, args: Mapping[str, object], make: Callable[[], list[Op]],
             apply: bool = True) -> list[Op]:
        try:
            ops = make()
            if apply:
                self.apply(ops)
        except GpuVmError as err:
            self.tracer.event(Event(SYSTEM, name, args, [], err.errno_name))
            raise
        self.tracer.event(Event(SYSTEM, name, args, ops))
        return ops

    def map(
        self, addr: int, range_: int, gem: str | None, offset: int, flags: int = 0
    ) -> list[Op]:
        """Action ``Map``: ``sm_map`` and apply.  Returns the ops executed."""
        args = {"addr": addr, "range": range_, "gem": gem, "offset": offset, "flags": flags}
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

        ``-EINVAL`` when regions are off, the range is bad or ``sparse`` is
        not a boolean; ``-EEXIST`` when it overlaps another region (seed 001
        silently overwrote it).
        """
        args = {"addr": addr, "range": range_, "sparse": sparse}

        def alloc() -> list[Op]:
            if not self.regions_enabled:
                raise InvalidArgument("regions are not enabled in this VM")
            self.check_range(addr, range_)
            if type(sparse) is not bool:
                raise InvalidArgument(f"sparse={sparse!r} is not a boolean")
            clash = self._regions.overlapping(addr, addr + range_)
            if clash:
                raise AlreadyExists(f"region [{addr:#x}, +{range_:#x}) overlaps {clash[0]}")
            self._regions.insert(Region(addr, range_, sparse))
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
            r = self._regions.at(addr) if is_u64(addr) else None
            if r is None or r.range != range_:
                raise NotFound(f"no region [{addr!r}, +{range_!r})")
            if self._vas.overlapping(r.addr, r.end):
                raise Busy(f"region {r} still holds mappings")
            self._regions.remove(r.addr)
            return []

        return self._act("RegionFree", args, free, apply=False)


def _check_op_shape(op: object) -> list[Va]:
    """The mappings ``op`` names; ``-EINVAL`` unless it is an op naming only
    :class:`Va` values."""
    if isinstance(op, Map):
        vas: list[object] = [op.va()]
    elif isinstance(op, Unmap):
        vas = [op.va]
    elif isinstance(op, Remap):
        if not isinstance(op.unmap, Unmap):
            raise InvalidArgument(f"remap without an unmap: {op!r}")
        vas = [op.unmap.va]
        vas += [p.va() if isinstance(p, Map) else p for p in (op.prev, op.next) if p is not None]
    elif isinstance(op, Prefetch):
        vas = [op.va]
    else:
        raise InvalidArgument(f"not an op: {op!r}")
    out: list[Va] = []
    for va in vas:
        if not isinstance(va, Va):
            raise InvalidArgument(f"{op!r} names {va!r}, which is not a mapping")
        out.append(va)
    return out
