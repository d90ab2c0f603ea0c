"""nouveau's VM_INIT / VM_BIND / EXEC uAPI (seed 001, patches 07 and 15).

The argument structs as the seed's ``nouveau_drm.h`` declares them, their
constants, and the range checks every op goes through.  Values an ioctl
cannot carry (a field wider than its C type) are ``-EINVAL`` before
anything else (:func:`widths`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from model.errors import InvalidArgument

PAGE = 1 << 12
VA_BITS = 47                       # NOUVEAU_VA_SPACE_BITS
VA_END = 1 << VA_BITS
U64 = 1 << 64

VM_BIND_OP_ALLOC = 0x0             # reserve a region (SPARSE: sparse PTEs over it)
VM_BIND_OP_FREE = 0x1              # unmap everything in the region, free it
VM_BIND_OP_MAP = 0x2               # inside one region
VM_BIND_OP_UNMAP = 0x3             # anywhere but the kernel area
VM_BIND_SPARSE = 1 << 8
VM_BIND_KIND_MASK = 0xff           # op.flags bits 0..7: the PTE kind (undocumented)
VM_BIND_RUN_ASYNC = 0x1
SYNC_SYNCOBJ = 0x0
SYNC_TIMELINE_SYNCOBJ = 0x1
SYNC_TYPE_MASK = 0xf
GEM_MAX_PUSH = 512                 # NOUVEAU_GEM_MAX_PUSH
OP_NAMES = {VM_BIND_OP_ALLOC: "ALLOC", VM_BIND_OP_FREE: "FREE", VM_BIND_OP_MAP: "MAP",
            VM_BIND_OP_UNMAP: "UNMAP"}


@dataclass(frozen=True)
class BindOp:
    """``struct drm_nouveau_vm_bind_op``."""

    op: int          # u32
    flags: int       # u32: kind in bits 0..7, SPARSE
    handle: int      # u32
    pad: int         # u32, "should be 0"
    addr: int        # u64
    bo_offset: int   # u64
    range: int       # u64

    @staticmethod
    def of(raw: Any, where: str) -> BindOp:
        return BindOp(*_ints(raw, 7, where, "[op, flags, handle, pad, addr, bo_offset, range]"))

    def to_json(self) -> list[int]:
        return [self.op, self.flags, self.handle, self.pad, self.addr, self.bo_offset,
                self.range]

    def check_widths(self, where: str) -> None:
        widths((f"{where}.op", self.op, 32), (f"{where}.flags", self.flags, 32),
               (f"{where}.handle", self.handle, 32), (f"{where}.pad", self.pad, 32),
               (f"{where}.addr", self.addr, 64), (f"{where}.bo_offset", self.bo_offset, 64),
               (f"{where}.range", self.range, 64))


@dataclass(frozen=True)
class Sync:
    """``struct drm_nouveau_sync``."""

    flags: int            # u32: the type in bits 0..3
    handle: int           # u32: a syncobj
    timeline_value: int   # u64

    @staticmethod
    def of(raw: Any, where: str) -> Sync:
        return Sync(*_ints(raw, 3, where, "[flags, handle, timeline_value]"))

    @property
    def stype(self) -> int:
        return self.flags & SYNC_TYPE_MASK

    @property
    def point(self) -> int:
        return self.timeline_value if self.stype == SYNC_TIMELINE_SYNCOBJ else 0

    def to_json(self) -> list[int]:
        return [self.flags, self.handle, self.timeline_value]

    def check_widths(self, where: str) -> None:
        widths((f"{where}.flags", self.flags, 32), (f"{where}.handle", self.handle, 32),
               (f"{where}.timeline_value", self.timeline_value, 64))


@dataclass(frozen=True)
class Push:
    """``struct drm_nouveau_exec_push``."""

    va: int       # u64
    va_len: int   # u64

    @staticmethod
    def of(raw: Any, where: str) -> Push:
        return Push(*_ints(raw, 2, where, "[va, va_len]"))


def _ints(raw: Any, n: int, where: str, shape: str) -> list[int]:
    if not (isinstance(raw, list | tuple) and len(raw) == n
            and all(type(x) is int for x in raw)):
        raise InvalidArgument(f"{where}: {raw!r} is not {shape}")
    return list(raw)


def widths(*fields: tuple[str, int, int]) -> None:
    """A field's value must fit its C type: an ioctl cannot carry more."""
    for name, value, bits in fields:
        if not 0 <= value < 1 << bits:
            raise InvalidArgument(f"{name} = {value} does not fit a u{bits}")


def parse_list(raw: Any, what: str, make: Any) -> list[Any]:
    if not isinstance(raw, list):
        raise InvalidArgument(f"{what}: {raw!r} is not an array")
    return [make(x, f"{what}[{i}]") for i, x in enumerate(raw)]


def validate_range(addr: int, range_: int, kernel: Sequence[int]) -> None:
    """``nouveau_uvmm_validate_range``: each failure is ``-EINVAL``, in this order."""
    end = (addr + range_) % U64
    if addr % PAGE:
        raise InvalidArgument(f"addr {addr:#x} is not page aligned")
    if range_ % PAGE:
        raise InvalidArgument(f"range {range_:#x} is not page aligned")
    if end <= addr:
        raise InvalidArgument(f"[{addr:#x}, +{range_:#x}) is empty or wraps")
    if end > VA_END:
        raise InvalidArgument(f"[{addr:#x}, {end:#x}) ends past 2^47")
    ka, ks = kernel
    if addr < ka + ks and ka < end:
        raise InvalidArgument(f"[{addr:#x}, {end:#x}) meets the kernel area "
                              f"[{ka:#x}, {ka + ks:#x})")
