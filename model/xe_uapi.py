"""xe's VM_BIND uAPI (seed 002 and the xe of its day): the structs and ``check_args``.

``struct drm_xe_vm_bind_op`` is written ``[obj, pad, obj_offset, range,
addr, gt_mask, op, region, reserved_0, reserved_1]``: ``op`` holds the
operation in its low 16 bits and the flags above.  :func:`check_args` is
``vm_bind_ioctl_check_args``: each op in array order, each test ``-EINVAL``,
in the driver's order (the first op decides whether the ioctl is async;
every later one must be async too and not RESTART; sync UNMAP_ALL and sync
PREFETCH are refused; then the op/flag/object/region combinations; then
alignment and a zero range).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from model.errors import InvalidArgument

PAGE = 1 << 12
OP_MAP, OP_UNMAP, OP_MAP_USERPTR, OP_RESTART, OP_UNMAP_ALL, OP_PREFETCH = range(6)
OP_NAMES = ("MAP", "UNMAP", "MAP_USERPTR", "RESTART", "UNMAP_ALL", "PREFETCH")
OP_MASK = 0xffff
FLAG_READONLY = 1 << 16
FLAG_ASYNC = 1 << 17
FLAG_IMMEDIATE = 1 << 18
FORCE_ASYNC_OP_ERROR = 1 << 31     # TEST_VM_ASYNC_OPS_ERROR, compiled in by the seed (X20)
SUPPORTED_FLAGS = FLAG_READONLY | FLAG_ASYNC | FLAG_IMMEDIATE
SYNC_SYNCOBJ, SYNC_TIMELINE_SYNCOBJ = 0, 1
SYNC_TYPE_MASK = 0xf
SYNC_SIGNAL = 0x10


@dataclass(frozen=True)
class XeBindOp:
    """``struct drm_xe_vm_bind_op``."""

    obj: int            # u32: a GEM handle, 0 for none
    pad: int            # u32, MBZ
    obj_offset: int     # u64: offset into obj, or the CPU address of a userptr
    range: int          # u64
    addr: int           # u64
    gt_mask: int        # u64: tiles to bind on, 0 = all
    op: int             # u32: operation | flags
    region: int         # u32: PREFETCH's memory region
    reserved: tuple[int, int] = (0, 0)   # u64[2], MBZ

    @staticmethod
    def of(raw: Any, where: str) -> XeBindOp:
        if not (isinstance(raw, list | tuple) and len(raw) == 10
                and all(type(x) is int for x in raw)):
            raise InvalidArgument(f"{where}: {raw!r} is not [obj, pad, obj_offset, range, addr, "
                                  "gt_mask, op, region, reserved_0, reserved_1]")
        o, pad, off, rng, addr, gt, op, region, r0, r1 = raw
        return XeBindOp(o, pad, off, rng, addr, gt, op, region, (r0, r1))

    @property
    def kind(self) -> int:
        return self.op & OP_MASK

    @property
    def flags(self) -> int:
        return self.op & ~OP_MASK

    @property
    def name(self) -> str:
        return OP_NAMES[self.kind] if self.kind < len(OP_NAMES) else f"op {self.kind}"

    def check_widths(self, where: str) -> None:
        for name, value, bits in (("obj", self.obj, 32), ("pad", self.pad, 32),
                                  ("obj_offset", self.obj_offset, 64),
                                  ("range", self.range, 64), ("addr", self.addr, 64),
                                  ("gt_mask", self.gt_mask, 64), ("op", self.op, 32),
                                  ("region", self.region, 32),
                                  ("reserved[0]", self.reserved[0], 64),
                                  ("reserved[1]", self.reserved[1], 64)):
            if not 0 <= value < 1 << bits:
                raise InvalidArgument(f"{where}.{name} = {value} does not fit a u{bits}")


@dataclass(frozen=True)
class XeSync:
    """``struct drm_xe_sync``, as ``[flags, handle, timeline_value]``."""

    flags: int
    handle: int
    timeline_value: int

    @staticmethod
    def of(raw: Any, where: str) -> XeSync:
        if not (isinstance(raw, list | tuple) and len(raw) == 3
                and all(type(x) is int for x in raw)):
            raise InvalidArgument(f"{where}: {raw!r} is not [flags, handle, timeline_value]")
        s = XeSync(*raw)
        for name, value, bits in (("flags", s.flags, 32), ("handle", s.handle, 32),
                                  ("timeline_value", s.timeline_value, 64)):
            if not 0 <= value < 1 << bits:
                raise InvalidArgument(f"{where}.{name} = {value} does not fit a u{bits}")
        return s

    @property
    def signal(self) -> bool:
        return bool(self.flags & SYNC_SIGNAL)


def check_args(ops: Sequence[XeBindOp], region_mask: int, fixed: bool) -> bool:
    """``vm_bind_ioctl_check_args``: whether the ioctl is async; ``-EINVAL`` otherwise."""
    if not ops:
        raise InvalidArgument("num_binds is 0")
    supported = SUPPORTED_FLAGS | (0 if fixed else FORCE_ASYNC_OP_ERROR)
    async_ = False
    for i, o in enumerate(ops):
        w = f"ops[{i}] ({o.name})"
        if i == 0:
            async_ = bool(o.op & FLAG_ASYNC)
        elif not async_ or not o.op & FLAG_ASYNC or o.kind == OP_RESTART:
            raise InvalidArgument(f"{w}: every op after the first must be async, none RESTART")
        if not async_ and o.kind in (OP_UNMAP_ALL, OP_PREFETCH):
            raise InvalidArgument(f"{w}: not supported synchronously")
        if o.kind > OP_PREFETCH or o.flags & ~supported \
                or (not o.obj and o.kind in (OP_MAP, OP_UNMAP_ALL)) \
                or ((o.addr or o.range) and o.kind == OP_UNMAP_ALL) \
                or (o.obj and o.kind in (OP_MAP_USERPTR, OP_PREFETCH, OP_UNMAP)) \
                or (o.region and o.kind != OP_PREFETCH) or not (1 << o.region) & region_mask:
            raise InvalidArgument(f"{w}: op, flags, object and region do not go together")
        if fixed and (o.pad or any(o.reserved)):
            raise InvalidArgument(f"{w}: a reserved field is nonzero")
        if o.obj_offset % PAGE or o.addr % PAGE or o.range % PAGE \
                or (not o.range and o.kind not in (OP_RESTART, OP_UNMAP_ALL)):
            raise InvalidArgument(f"{w}: not page aligned, or an empty range")
    return async_
