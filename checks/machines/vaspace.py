"""Stateful fuzzing of the VA space against a page-granular oracle.

:class:`VaSpaceMachine` drives one :class:`~model.vaspace.VaSpace` per
profile (``upstream`` and ``rfc2023``) with the same requests -- ``Map``,
``Unmap``, ``Prefetch``; :class:`RegionsMachine` adds ``RegionAlloc`` and
``RegionFree`` in a VM with regions enabled.  The requests are overlapping,
adjacent or identical to live mappings, out of the VM, empty, overflowing
near ``2**64``, or touching the kernel-reserved node.

The oracle knows nothing of the model's code.  It holds, per page, the
``(gem, offset)`` the page translates to (or nothing), the regions, and the
validity rules of ``model/vaspace.py``'s docstring, from which it predicts
the errno of every request.  After every step, for each profile:

``ErrnoInv``
    a request the oracle rejects raises the :class:`~model.errors.GpuVmError`
    subclass of the predicted errno, both profiles give the same errno, and
    ``abstract()`` is exactly as before; one it accepts raises nothing;
``OpBoundInv``, ``OpTargetInv``, ``KeepInv``, ``RemapInv``, ``MapInv``, ``MergeInv``,
``OpEffectInv``
    the op list keeps the bound of :func:`model.ops.check_op_bounds`; every
    op names a mapping present at that point of the list; ``keep`` holds
    exactly for a mapping compatible with the request; a split piece is the
    old mapping cut at the request's edge, its offset moved along
    (``old offset + (piece addr - old addr)``); the ``Map`` covers the
    request at the request's GEM and base, is exactly the request under
    ``upstream`` and exactly the request widened by the contiguous kept
    mappings under ``rfc2023``; applying the ops to the old mappings gives
    exactly the new ones;
``NoOverlapInv``, ``RangeInv``, ``RegionInv``
    :func:`model.invariants.check_vaspace`, and the regions equal the oracle's;
``TranslationInv``
    every page translates as the oracle says (from the mapping list), and
    ``translate()`` agrees on the pages the request touched plus a sample;
``GemListInv``, ``FindInv``
    the GEM lists and (in :class:`VaSpaceMachine`) the queries ``find``,
    ``find_first`` and ``lookup`` agree with the mapping list.  ``find_prev``
    and ``find_next`` are checked through what they decide: ``rfc2023``'s
    merges (``MergeInv``, ``TranslationInv``), so that a wrong answer shows in
    a spec action and its counterexample replays.

Both profiles are checked against one oracle, so they also agree with each
other on the translation.  Every ``z3_every``-th accepted ``Map``/``Unmap``
step is also checked against the Z3 relation by ``checks.z3step.check_step``.

A failing run is turned into an ITF trace by :meth:`VaSpaceMachine.failure_trace`:
the shrunk example's actions replayed into a :class:`~checks.traces.Recorder`.
:func:`record_runs` records seeded random walks over a small domain, with the
same request generator, for trace validation against the TLA+ spec.
"""

from __future__ import annotations

import contextlib
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar, Protocol

import hypothesis.strategies as st
from hypothesis import note
from hypothesis.stateful import RuleBasedStateMachine, initialize, precondition, rule

from checks.traces import Recorder, Step, Trace, state_of
from model.errors import (
    AlreadyExists,
    Busy,
    GpuVmError,
    InvalidArgument,
    InvariantViolation,
    NotFound,
)
from model.gpuva import Region, Va
from model.invariants import check_vaspace
from model.ops import Map, Op, Prefetch, Remap, Unmap, check_op_bounds
from model.profiles import profile_by_name
from model.vaspace import VaSpace

U64 = 1 << 64
U64_MAX = U64 - 1

PROFILE_NAMES = ("upstream", "rfc2023")
#: the spec's VA-space actions; anything else in a machine's log is a direct API call
SPEC_ACTIONS = ("Map", "Unmap", "Prefetch", "RegionAlloc", "RegionFree")
ERRORS: dict[str, type[GpuVmError]] = {
    "EINVAL": InvalidArgument,
    "EEXIST": AlreadyExists,
    "ENOENT": NotFound,
    "EBUSY": Busy,
}

Args = dict[str, Any]
Span = tuple[int, int]


class CheckFailed(AssertionError):
    """A check of the machine failed; the message names the invariant."""

    def __init__(self, invariant: str, detail: str) -> None:
        super().__init__(f"{invariant}: {detail}")
        self.invariant = invariant
        self.detail = detail


def _is_u64(x: object) -> bool:
    return type(x) is int and 0 <= x <= U64_MAX


def _num(v: object) -> str:
    return f"{v:#x}" if type(v) is int and abs(v) >= 1 << 20 else repr(v)


def fmt_args(args: Args) -> str:
    return ", ".join(f"{k}={_num(v)}" for k, v in args.items())


def compatible(va: Va, gem: str | None, addr: int, offset: int) -> bool:
    """The oracle's own compatibility rule: same non-NULL GEM, same base."""
    return va.gem is not None and va.gem == gem and va.offset - va.addr == offset - addr


# ------------------------------------------------------------------ domain

@dataclass(frozen=True)
class Layout:
    """A VM: ``[mm_start, mm_start + mm_range)`` with an optional kernel node."""

    name: str
    mm_start: int
    mm_range: int
    reserve_offset: int = 0
    reserve_range: int = 0

    @property
    def mm_end(self) -> int:
        return self.mm_start + self.mm_range

    @property
    def reserve_end(self) -> int:
        return self.reserve_offset + self.reserve_range

    def make(self, profile: str, regions: bool = False) -> VaSpace:
        return VaSpace(self.mm_start, self.mm_range, self.reserve_offset, self.reserve_range,
                       profile=profile_by_name(profile), regions=regions)

    def chunks(self, size: int) -> list[Span]:
        """``[start, +size)`` pieces of the VM that do not touch the kernel node."""
        out = []
        for a in range(self.mm_start, self.mm_end - size + 1, size):
            if not (self.reserve_range and a < self.reserve_end and self.reserve_offset < a + size):
                out.append((a, size))
        return out

    def __repr__(self) -> str:
        return f"Layout({self.name})"


#: The VMs the machines run in.  Twelve pages are few enough for requests to
#: collide often and many enough for three mappings side by side.
LAYOUTS = (
    # a kernel node inside the VM, as nouveau's kernel-managed area
    Layout("low", 0, 12, 8, 2),
    # the VM ends at 2**64 - 1, the kernel node is its first page: u64 wrap territory
    Layout("top", U64_MAX - 12, 12, U64_MAX - 12, 1),
    # straddles 2**32: truncating addresses to 32 bits would alias pages
    Layout("4g", (1 << 32) - 6, 12),
)

_EXTREME_ADDRS = (0, 1, (1 << 32) - 1, 1 << 63, U64_MAX - 1, U64_MAX, U64, -1)
_EXTREME_OFFSETS = (U64_MAX, U64_MAX - 2, U64, -1)
_BASES = (0, 4)


class Chooser(Protocol):
    """Where a request generator gets its choices: Hypothesis data or a seeded RNG."""

    def integer(self, lo: int, hi: int) -> int:
        """An integer in ``[lo, hi]``; ``lo`` is the simplest."""
        ...


class RandomChooser:
    def __init__(self, rng: random.Random) -> None:
        self._randint = rng.randint

    def integer(self, lo: int, hi: int) -> int:
        return self._randint(lo, hi)


#: choices per request: enough for the longest request the generator makes
RAW_CHOICES = 16
#: the strategy of a rule's raw choices: one draw per step keeps Hypothesis cheap
RAW = st.binary(min_size=RAW_CHOICES, max_size=RAW_CHOICES)


class BytesChooser:
    """Choices read from a byte string drawn by Hypothesis (zero bytes = simplest).

    Hypothesis shrinks the bytes towards zero, which shrinks every choice
    towards ``lo``; past the end of the bytes every choice is ``lo``.
    """

    def __init__(self, raw: bytes) -> None:
        self._raw = raw
        self._i = 0

    def _byte(self) -> int:
        i = self._i
        if i >= len(self._raw):
            return 0
        self._i = i + 1
        return self._raw[i]

    def integer(self, lo: int, hi: int) -> int:
        span = hi - lo + 1
        x = self._byte()
        if span > 256:
            x = x << 8 | self._byte()
        return lo + x % span


def pick(c: Chooser, n: int) -> int:
    return c.integer(0, n - 1)


def weighted(c: Chooser, weights: Sequence[int]) -> int:
    """An index into ``weights`` chosen in proportion; shrinks towards index 0."""
    x = c.integer(0, sum(weights) - 1)
    for i, w in enumerate(weights):
        if x < w:
            return i
        x -= w
    raise AssertionError("unreachable")


Hints = Callable[[], Sequence[Span]]

# span categories, in shrinking order
_PLAIN, _NEAR, _WIDE, _KERNEL, _OVERFLOW, _EXTREME = range(6)
_SPAN_WEIGHTS = (8, 5, 2, 2, 1, 1)
_ACTION_WEIGHTS = {"Map": 5, "Unmap": 3, "Prefetch": 2}


@dataclass(frozen=True)
class Domain:
    """The request generator.

    ``bounded``: every ``addr`` and ``range`` in ``0..mm_range`` (relative
    to ``mm_start``), offsets in ``0..max_offset``, GEMs from ``gems`` -- the
    small domain the TLA+ spec checks.  Otherwise the full mix described in
    the module docstring.
    """

    layout: Layout
    gems: tuple[str | None, ...] = ("a", "b", None)
    max_offset: int = 7
    bounded: bool = False

    def action(self, c: Chooser, actions: Sequence[str]) -> str:
        return actions[weighted(c, [_ACTION_WEIGHTS.get(a, 1) for a in actions])]

    def request(self, c: Chooser, action: str, hints: Hints) -> Args:
        """The arguments of one request for ``action``."""
        addr, range_ = self.span(c, hints, big=action == "RegionAlloc")
        args: Args = {"addr": addr, "range": range_}
        if action == "Map":
            args["gem"] = self.gem(c)
            args["offset"] = self.offset(c, addr)
        elif action == "RegionAlloc":
            args["sparse"] = bool(pick(c, 2))
        return args

    def gem(self, c: Chooser) -> str | None:
        if self.bounded or len(self.gems) != 3:
            return self.gems[pick(c, len(self.gems))]
        return self.gems[weighted(c, (4, 3, 1))]

    def offset(self, c: Chooser, addr: int) -> int:
        if self.bounded:
            return c.integer(0, self.max_offset)
        cat = weighted(c, (6, 3, 1))
        if cat == 0:  # the same base for every request: compatible neighbours
            return max(0, addr - self.layout.mm_start) + _BASES[pick(c, len(_BASES))]
        if cat == 1:
            return c.integer(0, self.max_offset)
        return _EXTREME_OFFSETS[pick(c, len(_EXTREME_OFFSETS))]

    def span(self, c: Chooser, hints: Hints, big: bool = False) -> Span:
        lay = self.layout
        s, p = lay.mm_start, lay.mm_range
        if self.bounded:
            if weighted(c, (3, 1)) == 1:
                hs = hints()
                if hs:
                    a, r = self._near(c, hs)
                    return min(max(a, s), s + p), min(max(r, 0), p)
            return s + c.integer(0, p), c.integer(0, p)
        cat = weighted(c, _SPAN_WEIGHTS)
        if cat == _NEAR:
            hs = hints()
            if hs:
                return self._near(c, hs)
        elif cat == _WIDE:
            return s + c.integer(-2, p + 1), c.integer(0, p + 2)
        elif cat == _KERNEL:
            if lay.reserve_range:
                return lay.reserve_offset + c.integer(-2, lay.reserve_range + 1), c.integer(0, 3)
            return (s, lay.mm_end)[pick(c, 2)] + c.integer(-2, 1), c.integer(0, 3)
        elif cat == _OVERFLOW:
            addr = s + c.integer(0, p - 1)
            kind = pick(c, 4)
            if kind == 0:  # end = 2**64 + 0..2: wraps to just above zero
                return addr, U64 - addr + c.integer(0, 2)
            if kind == 1:  # wraps to just below addr
                return addr, U64 - c.integer(1, 4)
            if kind == 2:  # ends exactly at 2**64 - 1
                return addr, U64_MAX - addr
            return addr, (U64_MAX, U64)[pick(c, 2)]
        elif cat == _EXTREME:
            return _EXTREME_ADDRS[pick(c, len(_EXTREME_ADDRS))], c.integer(0, 4)
        return s + c.integer(0, p - 1), c.integer(1, 6 if big else 4)

    @staticmethod
    def _near(c: Chooser, hs: Sequence[Span]) -> Span:
        """A span related to a live one: identical, adjacent, inside, overlapping."""
        a, r = hs[pick(c, len(hs))]
        kind = pick(c, 6)
        if kind == 0:
            return a, r
        if kind == 1:
            return a + r, c.integer(1, 3)
        if kind == 2:
            d = c.integer(1, 3)
            return a - d, d
        if kind == 3:
            start = a + c.integer(0, r - 1)
            return start, c.integer(1, a + r - start)
        if kind == 4:
            d = c.integer(1, 2)
            return a - d, d + c.integer(1, r)
        return a + c.integer(0, r - 1), r + c.integer(1, 2)


# ------------------------------------------------------------------ oracle

class Oracle:
    """Page -> (gem, offset), the regions, and the errno of every request."""

    def __init__(self, layout: Layout, regions: bool) -> None:
        self.layout = layout
        self.regions_enabled = regions
        self.pages: dict[int, tuple[str | None, int]] = {}
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
            off = args["offset"]
            return None if _is_u64(off) and off + r <= U64_MAX else "EINVAL"
        if action in ("Unmap", "Prefetch"):
            return None if self.range_ok(a, r) else "EINVAL"
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
            gem, off = args["gem"], args["offset"]
            for i in range(r):
                self.pages[a + i] = (gem, off + i)
        elif action == "Unmap":
            for p in range(a, a + r):
                self.pages.pop(p, None)
        elif action == "RegionAlloc":
            self.regions.append((a, r, bool(args["sparse"])))
            self.regions.sort()
        elif action == "RegionFree":
            self.regions = [x for x in self.regions if not (x[0] == a and x[1] == r)]


def perform(vm: VaSpace, action: str, args: Args) -> list[Op]:
    """Run one spec action on ``vm``; ``GpuVmError`` propagates."""
    if action == "Map":
        return vm.map(args["addr"], args["range"], args["gem"], args["offset"])
    if action == "Unmap":
        return vm.unmap(args["addr"], args["range"])
    if action == "Prefetch":
        return vm.prefetch(args["addr"], args["range"])
    if action == "RegionAlloc":
        return vm.region_alloc(args["addr"], args["range"], args["sparse"])
    if action == "RegionFree":
        return vm.region_free(args["addr"], args["range"])
    raise ValueError(f"unknown action {action!r}")


# ----------------------------------------------------------- op-list check

def check_ops(profile: str, action: str, args: Args, before: Sequence[Va],
              ops: Sequence[Op], after: Sequence[Va]) -> None:
    """Raise :class:`CheckFailed` unless ``ops`` is a correct answer to the request.

    ``before``/``after`` are the mappings around the step, ascending.
    """
    try:
        check_op_bounds(ops)
    except InvariantViolation as bad:
        raise CheckFailed(bad.invariant, bad.detail) from None
    ra, rr = args["addr"], args["range"]
    re_ = ra + rr
    is_map = action == "Map"
    gem, off = args.get("gem"), args.get("offset", 0)
    cur = {va.addr: va for va in before}
    maps: list[Map] = []
    kept: list[Va] = []
    for i, op in enumerate(ops):
        if isinstance(op, Prefetch):
            continue  # checked as a whole below
        if isinstance(op, Map):
            if not is_map:
                raise CheckFailed("MapInv", f"op {i} {op} in the answer to {action}")
            if op.gem != gem or op.offset - op.addr != off - ra:
                raise CheckFailed("MapInv", f"op {i} {op} is not at the request's GEM and base")
            if not (op.addr <= ra and re_ <= op.end):
                raise CheckFailed("MapInv", f"op {i} {op} does not cover the request")
            clash = [va for va in cur.values() if va.overlaps(op.addr, op.end)]
            if clash:
                raise CheckFailed("NoOverlapInv", f"op {i} {op} maps over {clash[0]}")
            maps.append(op)
            cur[op.addr] = op.va()
            continue
        if action == "Prefetch":
            raise CheckFailed("OpTargetInv", f"op {i} {op} in the answer to Prefetch")
        unmap = op if isinstance(op, Unmap) else op.unmap
        va = unmap.va
        if cur.get(va.addr) != va:
            raise CheckFailed("OpTargetInv", f"op {i} {op} names {va}, which is not there")
        want_keep = is_map and compatible(va, gem, ra, off)
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
        want_next = (Map(re_, va.end - re_, va.gem, va.offset + (re_ - va.addr), va.flags)
                     if va.end > re_ else None)
        if op.prev != want_prev or op.next != want_next:
            raise CheckFailed("RemapInv", f"op {i} {op}: the pieces of {va} cut at "
                              f"[{_num(ra)}, {_num(re_)}) are prev={want_prev} next={want_next}")
        for piece in (op.prev, op.next):
            if piece is not None:
                cur[piece.addr] = piece.va()
    if action == "Prefetch":
        want = [Prefetch(va) for va in before if va.overlaps(ra, re_)]
        if list(ops) != want:
            raise CheckFailed("OpTargetInv", f"prefetch ops {list(ops)}, expected {want}")
    if is_map:
        if profile == "upstream" and (not ops or ops[-1] != Map(ra, rr, gem, off)):
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
    got = [cur[k] for k in sorted(cur)]
    if got != list(after):
        raise CheckFailed("OpEffectInv", f"the ops applied to the old mappings give {got}, "
                          f"the VA space holds {list(after)}")


# ---------------------------------------------------------------- machines


def z3_step_function() -> Callable[..., str | None]:
    """``checks.z3step.check_step``, imported on first use (it loads Z3)."""
    from checks.z3step import check_step

    return check_step


@dataclass
class Stats:
    """Counters across machine instances (read by ``gpuvm-check fuzz``)."""

    steps: int = 0
    examples: int = 0


STATS = Stats()


class VaSpaceMachine(RuleBasedStateMachine):
    """Map/Unmap/Prefetch against both profiles and the page oracle."""

    regions_enabled: ClassVar[bool] = False
    #: check every n-th accepted Map/Unmap step with ``checks.z3step`` (0 = never)
    z3_every: ClassVar[int] = 0
    #: check the queries (``find`` ...) after every step
    query_checks: ClassVar[bool] = True
    #: the latest instance of each machine class: after a failed run, the
    #: shrunk example (Hypothesis runs it last)
    latest: ClassVar[dict[type[VaSpaceMachine], VaSpaceMachine]] = {}

    def __init__(self) -> None:
        super().__init__()
        VaSpaceMachine.latest[type(self)] = self
        STATS.examples += 1
        self.layout = LAYOUTS[0]
        self.domain = Domain(self.layout)
        self.oracle = Oracle(self.layout, self.regions_enabled)
        self.vms: dict[str, VaSpace] = {}
        self.log: list[tuple[str, Args]] = []
        self.stale: list[Va] = []
        self.current = PROFILE_NAMES[0]
        self.steps = 0
        self.z3_count = 0

    # ------------------------------------------------------------ set-up

    def _setup(self, layout: Layout) -> None:
        self.layout = layout
        self.domain = Domain(layout)
        self.oracle = Oracle(layout, self.regions_enabled)
        self.vms = {p: layout.make(p, self.regions_enabled) for p in PROFILE_NAMES}

    @initialize(layout=st.sampled_from(LAYOUTS))
    def init_vm(self, layout: Layout) -> None:
        note(f"VM {layout.name}: [{_num(layout.mm_start)}, +{layout.mm_range}), kernel node "
             f"[{_num(layout.reserve_offset)}, +{layout.reserve_range})")
        self._setup(layout)

    # ------------------------------------------------------------- rules

    def _hints(self) -> list[Span]:
        vm = self.vms[PROFILE_NAMES[0]]
        hs = [(va.addr, va.range) for va in vm]
        if self.regions_enabled:
            hs.extend((r.addr, r.range) for r in vm.regions)
        return hs

    def _request(self, raw: bytes, action: str) -> Args:
        args = self.domain.request(BytesChooser(raw), action, self._hints)
        note(f"{action}({fmt_args(args)})")
        return args

    @rule(raw=RAW)
    def map(self, raw: bytes) -> None:
        self.step("Map", self._request(raw, "Map"))

    @rule(raw=RAW)
    def unmap(self, raw: bytes) -> None:
        self.step("Unmap", self._request(raw, "Unmap"))

    @rule(raw=RAW)
    def prefetch(self, raw: bytes) -> None:
        self.step("Prefetch", self._request(raw, "Prefetch"))

    @precondition(lambda self: bool(self.stale) or any(len(vm) for vm in self.vms.values()))
    @rule(raw=RAW)
    def remove_stale(self, raw: bytes) -> None:
        """``remove()`` of a mapping that is not there: ``-ENOENT``, nothing changes."""
        live = [set(vm) for vm in self.vms.values()]
        cands = [va for va in self.stale if not any(va in s for s in live)]
        for va in self.vms[PROFILE_NAMES[0]]:
            other = "b" if va.gem == "a" else "a"
            for v in (Va(va.addr, va.range + 1, va.gem, va.offset),
                      Va(va.addr, va.range, other, va.offset),
                      Va(va.addr, va.range, va.gem, va.offset + 1)):
                if not any(v in s for s in live):
                    cands.append(v)
        if not cands:
            note("remove(): no stale mapping to try")
            return
        va = cands[pick(BytesChooser(raw), len(cands))]
        note(f"remove({va}), which is not in the VA space")
        self.log.append(("remove", {"va": va.to_json()}))
        self.steps += 1
        STATS.steps += 1
        for name, vm in self.vms.items():
            self.current = name
            before = list(vm)
            try:
                vm.remove(va)
            except NotFound:
                pass
            except GpuVmError as e:
                raise self._fail("ErrnoInv", f"remove({va}) gave -{e.errno_name}, "
                                 "expected -ENOENT") from None
            else:
                raise self._fail("ErrnoInv", f"remove({va}) succeeded; that mapping is not there")
            if list(vm) != before:
                raise self._fail("ErrnoInv", f"the failed remove({va}) changed the mappings "
                                 f"from {before} to {list(vm)}")
            self._check_gem_lists(vm, before)

    # ------------------------------------------------------------- steps

    def _fail(self, invariant: str, detail: str) -> CheckFailed:
        action, args = self.log[-1] if self.log else ("Init", {})
        return CheckFailed(invariant, f"[{self.current}] step {len(self.log)} "
                           f"{action}({fmt_args(args)}): {detail}")

    def step(self, action: str, args: Args) -> None:
        """Run one request on every profile and check everything."""
        self.log.append((action, args))
        self.steps += 1
        STATS.steps += 1
        expected = self.oracle.expect(action, args)
        if expected is None:
            self.oracle.apply(action, args)
        z3_now = False
        if self.z3_every > 0 and expected is None and action in ("Map", "Unmap"):
            self.z3_count += 1
            z3_now = self.z3_count % self.z3_every == 0
        errnos: dict[str, str] = {}
        for name, vm in self.vms.items():
            self.current = name
            before = list(vm)
            before_abs = vm.abstract() if expected is not None else None
            try:
                ops = perform(vm, action, args)
            except GpuVmError as e:
                errnos[name] = e.errno_name
                want = ERRORS.get(expected or "")
                if want is None or type(e) is not want:
                    raise self._fail("ErrnoInv", f"raised {type(e).__name__} (-{e.errno_name}), "
                                     f"expected {'success' if want is None else want.__name__}"
                                     ) from None
                if vm.abstract() != before_abs:
                    raise self._fail("ErrnoInv", f"the rejected request changed the state from "
                                     f"{before_abs} to {vm.abstract()}") from None
            else:
                errnos[name] = "OK"
                if expected is not None:
                    raise self._fail("ErrnoInv", f"accepted with ops {ops}, expected -{expected}")
                after = list(vm)
                try:
                    check_ops(name, action, args, before, ops, after)
                except CheckFailed as bad:
                    raise self._fail(bad.invariant, bad.detail) from None
                if z3_now:
                    self._z3_check(name, before, action, args, ops,
                                   vm.regions if vm.regions_enabled else None)
                if action in ("Map", "Unmap"):
                    self.stale.extend(op.va if isinstance(op, Unmap) else op.unmap.va
                                      for op in ops if isinstance(op, Unmap | Remap))
            self._check_state(vm, args, before)
        if len(set(errnos.values())) > 1:
            raise self._fail("ErrnoInv", f"the profiles disagree: {errnos}")
        del self.stale[:-16]

    def _z3_check(self, name: str, before: list[Va], action: str, args: Args,
                  ops: list[Op], regions: list[Region] | None) -> None:
        check_step = z3_step_function()
        answer = check_step(name, before, action, dict(args), list(ops), regions=regions)
        if answer is not None:
            raise self._fail("Z3StepInv", f"ops {ops}: {answer}")

    def _check_gem_lists(self, vm: VaSpace, vas: Sequence[Va]) -> None:
        for g in ("a", "b"):
            want = [va for va in vas if va.gem == g]
            if vm.gem_vas(g) != want:
                raise self._fail("GemListInv", f"GEM {g}'s list is {vm.gem_vas(g)}, "
                                 f"its mappings are {want}")

    def _check_state(self, vm: VaSpace, args: Args, before: Sequence[Va]) -> None:
        try:
            check_vaspace(vm)
        except InvariantViolation as bad:
            raise self._fail(bad.invariant, bad.detail) from None
        pages = self.oracle.pages
        vas = list(vm)
        n = 0
        for va in vas:
            for i in range(va.range):
                if pages.get(va.addr + i) != (va.gem, va.offset + i):
                    raise self._fail("TranslationInv", f"page {_num(va.addr + i)} maps to "
                                     f"{(va.gem, va.offset + i)} through {va}, the oracle says "
                                     f"{pages.get(va.addr + i)}")
            n += va.range
        if n != len(pages):
            lost = sorted(p for p in pages if vm.lookup(p) is None)
            raise self._fail("TranslationInv", f"page {_num(lost[0])} should map to "
                             f"{pages[lost[0]]} but is unmapped" if lost else
                             f"{n} pages mapped, the oracle has {len(pages)}")
        for p in self._probes(args):
            if vm.translate(p) != pages.get(p):
                raise self._fail("TranslationInv", f"translate({_num(p)}) = {vm.translate(p)}, "
                                 f"the oracle says {pages.get(p)}")
        self._check_gem_lists(vm, vas)
        if self.query_checks:
            self._check_queries(vm, vas, args)
        if self.regions_enabled:
            got = [(r.addr, r.range, r.sparse) for r in vm.regions]
            if got != self.oracle.regions:
                raise self._fail("RegionInv", f"regions {got}, the oracle has "
                                 f"{self.oracle.regions}")

    def _probes(self, args: Args) -> list[int]:
        lay = self.layout
        a, r = args["addr"], args["range"]
        lo = max(a - 1, lay.mm_start)
        out = list(range(lo, min(a + r + 1, lay.mm_end, lo + 8)))
        out.append(lay.mm_start + (self.steps * 5) % lay.mm_range)
        out.append(lay.mm_start + (self.steps * 7 + 3) % lay.mm_range)
        return out

    def _check_queries(self, vm: VaSpace, vas: Sequence[Va], args: Args) -> None:
        a, r = args["addr"], args["range"]
        if not (_is_u64(a) and _is_u64(r)):
            return
        end = a + r

        def first(pred: Callable[[Va], bool]) -> Va | None:
            return next((va for va in vas if pred(va)), None)

        checks: list[tuple[str, int, int, Va | None, Va | None]] = [
            ("find", a, r, vm.find(a, r), first(lambda va: va.addr == a and va.range == r)),
            ("lookup", a, -1, vm.lookup(a), first(lambda va: va.addr <= a < va.end)),
        ]
        if r > 0:
            checks.append(("find_first", a, r, vm.find_first(a, r),
                           first(lambda va: va.overlaps(a, end))))
        for what, x, y, got, want in checks:
            if got != want:
                call = f"{what}({_num(x)}{'' if y < 0 else f', {_num(y)}'})"
                raise self._fail("FindInv", f"{call} = {got}, the mapping list says {want}")

    # -------------------------------------------------------------- traces

    def failure_trace(self, message: str) -> Trace:
        """This run's actions replayed into a :class:`Recorder`: the ITF counterexample.

        The trace is for the profile that failed.  A step at which the model
        itself raised (not a ``GpuVmError``) ends the trace with the state it
        left; a final direct API call that is not a spec action is named in
        the description.
        """
        profile = self.current
        vm = self.layout.make(profile, self.regions_enabled)
        rec = Recorder(vm, source="hypothesis")
        notes = [message]
        for i, (action, args) in enumerate(self.log, 1):
            if action not in SPEC_ACTIONS:
                notes.append(f"step {i} is a direct call, not a spec action: "
                             f"{action}({fmt_args(args)})")
                continue
            try:
                perform(vm, action, args)
            except GpuVmError:
                pass
            except Exception as e:  # the model broke at this step
                rec.trace.steps.append(Step(len(rec.trace.steps), action, dict(args),
                                            state_of(vm, (), None)))
                notes.append(f"at step {i} the model raised {type(e).__name__}: {e}")
                break
        rec.trace.description = "\n".join(notes)
        return rec.trace


class RegionsMachine(VaSpaceMachine):
    """The same, in a VM with regions: mappings only inside one region."""

    regions_enabled: ClassVar[bool] = True
    # The plain machine checks the queries.  Here a wrong lookup has to show
    # through RegionFree, a spec action, so its counterexample is a trace
    # that replays.
    query_checks: ClassVar[bool] = False

    @initialize(layout=st.sampled_from(LAYOUTS), regions=st.integers(0, 3))
    def init_vm(self, layout: Layout, regions: int) -> None:
        note(f"VM {layout.name} with regions; {regions} region(s) of 4 pages to start")
        self._setup(layout)
        for a, r in layout.chunks(4)[:regions]:
            note(f"RegionAlloc(addr={_num(a)}, range={r}, sparse=False)")
            self.step("RegionAlloc", {"addr": a, "range": r, "sparse": False})

    def _request(self, raw: bytes, action: str) -> Args:
        regions = self.vms[PROFILE_NAMES[0]].regions
        c = BytesChooser(raw)
        if action != "Map" or not regions or not pick(c, 4):
            return super()._request(raw, action)
        # mostly a map inside one region, so that maps are not all rejected
        reg = regions[pick(c, len(regions))]
        start = reg.addr + c.integer(0, reg.range - 1)
        args: Args = {"addr": start, "range": c.integer(1, reg.end - start),
                      "gem": self.domain.gem(c), "offset": self.domain.offset(c, start)}
        note(f"{action}({fmt_args(args)})")
        return args

    @rule(raw=RAW)
    def region_alloc(self, raw: bytes) -> None:
        self.step("RegionAlloc", self._request(raw, "RegionAlloc"))

    @rule(raw=RAW)
    def region_free(self, raw: bytes) -> None:
        vm = self.vms[PROFILE_NAMES[0]]
        spans = [(r.addr, r.range) for r in vm.regions]
        c = BytesChooser(raw)
        if spans and pick(c, 4):
            args: Args = dict(zip(("addr", "range"), spans[pick(c, len(spans))], strict=True))
        else:
            args = dict(zip(("addr", "range"), self.domain.span(c, self._hints), strict=True))
        note(f"RegionFree({fmt_args(args)})")
        self.step("RegionFree", args)


# ------------------------------------------------------------ random walks

def record_runs(n: int, seed: int, pages: int = 6, gems: tuple[str, ...] = ("a", "b"),
                max_offset: int = 3, profile: str = "upstream", steps: int = 8) -> list[Trace]:
    """``n`` recorded random walks of ``steps`` requests each, over a small domain.

    The VM is ``[0, pages)`` with no kernel node and no regions; every
    request has ``addr`` and ``range`` in ``0..pages`` (so some are
    rejected), a GEM from ``gems`` and an offset in ``0..max_offset``.  The
    requests come from the machine's generator driven by
    ``random.Random(seed)``: the same arguments give the same traces.
    """
    layout = Layout("small", 0, pages)
    dom = Domain(layout, gems=tuple(gems), max_offset=max_offset, bounded=True)
    c = RandomChooser(random.Random(seed))
    actions = ("Map", "Unmap", "Prefetch")
    traces = []
    for i in range(n):
        vm = layout.make(profile)
        rec = Recorder(vm, source="random-walk")

        def hints(vm: VaSpace = vm) -> list[Span]:
            return [(va.addr, va.range) for va in vm]

        for _ in range(steps):
            action = dom.action(c, actions)
            with contextlib.suppress(GpuVmError):
                perform(vm, action, dom.request(c, action, hints))
        rec.trace.description = f"random walk {i} of seed {seed}"
        traces.append(rec.trace)
    return traces
