"""Mappings (gpuvas) and regions of one GPU VA space.

Both are frozen values.  A :class:`Va` is identified by its fields: the VA
space never holds two mappings that overlap, so ``addr`` alone names one.
Addresses, ranges and offsets are unsigned 64-bit values in arbitrary units
(bytes or pages, as the driver chooses).
"""

from __future__ import annotations

from dataclasses import dataclass

U64_MAX = (1 << 64) - 1

#: Flag: the backing GEM object is evicted (``DRM_GPUVA_EVICTED``).
VA_EVICTED = 1 << 0


@dataclass(frozen=True, slots=True, order=True)
class Va:
    """One GPU VA mapping: ``[addr, addr + range)`` -> ``gem`` at ``offset``.

    ``gem`` is the GEM object's name, or ``None`` for a NULL (sparse) mapping,
    which is never compatible with anything and never merged.
    """

    addr: int
    range: int
    gem: str | None = None
    offset: int = 0
    flags: int = 0

    @property
    def end(self) -> int:
        """One past the last address."""
        return self.addr + self.range

    def overlaps(self, addr: int, end: int) -> bool:
        """True if ``[self.addr, self.end)`` and ``[addr, end)`` share an address."""
        return self.addr < end and addr < self.end

    def piece(self, addr: int, end: int) -> Va:
        """The part ``[addr, end)`` of this mapping, its offset moved along.

        A piece cut from ``X`` at ``s`` has ``offset = X.offset + (s - X.addr)``.
        """
        assert self.addr <= addr < end <= self.end, (self, addr, end)
        return Va(addr, end - addr, self.gem, self.offset + (addr - self.addr), self.flags)

    def to_json(self) -> list[object]:
        return [self.addr, self.range, self.gem, self.offset]


@dataclass(frozen=True, slots=True, order=True)
class Region:
    """A VA region (seed 001 v2): mappings live only inside one; may be sparse."""

    addr: int
    range: int
    sparse: bool = False

    @property
    def end(self) -> int:
        return self.addr + self.range

    def contains(self, addr: int, end: int) -> bool:
        return self.addr <= addr and end <= self.end

    def to_json(self) -> list[object]:
        return [self.addr, self.range, self.sparse]
