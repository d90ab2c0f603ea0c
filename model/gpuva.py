"""Mappings (gpuvas) and regions of one GPU VA space.

Both are frozen values.  A :class:`Va` is identified by its fields: the VA
space never holds two mappings that overlap, so ``addr`` alone names one.
Addresses, ranges and offsets are unsigned 64-bit values in arbitrary units
(bytes or pages, as the driver chooses).  A mapping's GEM offset is the
driver's business: drm_gpuvm never checks ``offset + range`` against 2^64,
and the offset of a piece cut from a mapping is computed in u64, so it
wraps modulo 2^64 (:meth:`Va.piece`).

``flags`` are the mapping's driver attributes (read-only, cache level,
kind, ...; ``DRM_GPUVA_USERBITS`` and up).  A piece cut from a mapping keeps
them; whether two mappings with different flags may merge is the profile's
rule (``model.profiles``).
"""

from __future__ import annotations

from dataclasses import dataclass

from model.errors import InvalidArgument

U64 = 1 << 64
U64_MAX = U64 - 1


def u64(x: int) -> int:
    """``x`` modulo 2^64: the value a C ``u64`` holds after the arithmetic."""
    return x & U64_MAX


def is_u64(x: object) -> bool:
    """True for an ``int`` (not a ``bool``) in ``[0, 2^64)``."""
    return type(x) is int and 0 <= x <= U64_MAX


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

        A piece cut from ``X`` at ``s`` has ``offset = X.offset + (s - X.addr)``
        (in u64: it wraps past 2^64) and ``X``'s flags.
        """
        assert self.addr <= addr < end <= self.end, (self, addr, end)
        return Va(addr, end - addr, self.gem, u64(self.offset + (addr - self.addr)), self.flags)

    def to_json(self) -> list[object]:
        return [self.addr, self.range, self.gem, self.offset, self.flags]

    @staticmethod
    def from_json(raw: object) -> Va:
        """The mapping ``[addr, range, gem, offset, flags]``; ``-EINVAL`` if it is not one."""
        if not (isinstance(raw, list | tuple) and len(raw) == 5):
            raise InvalidArgument(f"{raw!r} is not a mapping [addr, range, gem, offset, flags]")
        addr, range_, gem, offset, flags = raw
        if not (type(addr) is int and type(range_) is int and type(offset) is int
                and type(flags) is int and (gem is None or type(gem) is str)):
            raise InvalidArgument(f"{raw!r}: addr, range, offset and flags are integers, "
                                  "gem a name or null")
        return Va(addr, range_, gem, offset, flags)


@dataclass(frozen=True, slots=True, order=True)
class Region:
    """A VA region (seed 001 v2): mappings live only inside one; may be sparse.

    In a sparse region an address that no mapping covers reads as *sparse*
    (seed 001: the region holds a sparse reference on its whole range, so
    unbacked pages read as sparse instead of faulting); unmapping inside a
    sparse region leaves sparse pages behind.
    """

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
