"""The request generator of the VA-space machines: VMs, choices, spans.

Requests are drawn from raw choices (a byte string Hypothesis shrinks, or a
seeded RNG for recorded runs) so that they can depend on the live state:
overlapping, adjacent or identical to live mappings, out of the VM, empty,
overflowing near ``2**64``, touching the kernel-reserved node, with offsets
near ``2**64`` (split pieces then wrap) and with flags.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

import hypothesis.strategies as st

from model.profiles import profile_by_name
from model.vaspace import VaSpace

U64 = 1 << 64
U64_MAX = U64 - 1

Args = dict[str, object]
Span = tuple[int, int]


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
    flags: tuple[int, ...] = (0, 1, 2)

    def action(self, c: Chooser, actions: Sequence[str]) -> str:
        return actions[weighted(c, [_ACTION_WEIGHTS.get(a, 1) for a in actions])]

    def request(self, c: Chooser, action: str, hints: Hints) -> Args:
        """The arguments of one request for ``action``."""
        addr, range_ = self.span(c, hints, big=action == "RegionAlloc")
        args: Args = {"addr": addr, "range": range_}
        if action == "Map":
            args["gem"] = self.gem(c)
            args["offset"] = self.offset(c, addr)
            args["flags"] = self.flags_value(c)
        elif action == "RegionAlloc":
            args["sparse"] = bool(pick(c, 2))
        return args

    def flags_value(self, c: Chooser) -> int:
        """Mostly no flags; sometimes one of two attribute values (a merge or a
        no-op must not mix them)."""
        if self.bounded:
            return self.flags[pick(c, len(self.flags))]
        return self.flags[weighted(c, (6, 2, 1)[:len(self.flags)])]

    def gem(self, c: Chooser) -> str | None:
        if self.bounded or len(self.gems) != 3:
            return self.gems[pick(c, len(self.gems))]
        return self.gems[weighted(c, (4, 3, 1))]

    def offset(self, c: Chooser, addr: int) -> int:
        if self.bounded:  # half the time the same base as the others: keeps and merges
            if pick(c, 2):
                return max(0, addr - self.layout.mm_start) + pick(c, 2)
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
