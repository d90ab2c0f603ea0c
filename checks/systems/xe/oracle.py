"""The xe front end's errnos from the notes' and the driver's check order, and one
step's per-page contract.

Written from ``../shared/notes/i915-xe-gpuvm-bo.md`` B2-B3 and the xe of the
seed's day (``vm_bind_ioctl_check_args``, then the VM, the engine, RESTART,
the VM's mode, the ranges and tiles, the objects, the syncs), not from the
model: :func:`expect` gives the first errno, ``None`` for success, or
``False`` where the oracle does not judge (an injection pending, a program
step).  :func:`check_xe_step` checks that after an accepted VM_BIND every
page of the VM's tree translates as the ops applied one page at a time in
order say (MAP: the new object, offset, read-only bit and tile mask; UNMAP:
nothing; UNMAP_ALL: nothing where the object was; PREFETCH: unchanged), and
every other page as before.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from model.errors import InvariantViolation

P = 1 << 12
MAP, UNMAP, USERPTR, RESTART, UNMAP_ALL, PREFETCH = range(6)
RO, ASYNC, IMMEDIATE, FORCE = 1 << 16, 1 << 17, 1 << 18, 1 << 31
CHECKED_PAGES = 1 << 12


def _fits(x: Any, bits: int) -> bool:
    return type(x) is int and 0 <= x < 1 << bits


def expect(profile: str, config: Mapping[str, Any], state: Mapping[str, Any], action: str,
           args: Mapping[str, Any]) -> str | bool | None:
    if action != "VmBind" or state["inject"]:
        return False
    fixed = profile == "fixed"
    ops, syncs = args["ops"], args["syncs"]
    widths = (32, 32, 64, 64, 64, 64, 32, 32, 64, 64)
    if not (isinstance(ops, list) and isinstance(syncs, list)) or any(
            not (isinstance(o, list) and len(o) == 10 and all(map(_fits, o, widths)))
            for o in ops) or any(not (isinstance(x, list) and len(x) == 3
                                      and all(map(_fits, x, (32, 32, 64)))) for x in syncs):
        return "EINVAL"
    if args["extensions"] or args["reserved_0"] or args["reserved_1"] or not ops:
        return "EINVAL"
    flags_ok = RO | ASYNC | IMMEDIATE | (0 if fixed else FORCE)
    asynch = bool(ops[0][6] & ASYNC)
    for i, (obj, pad, off, rng, addr, _, op, region, r0, r1) in enumerate(ops):
        kind = op & 0xffff
        if i and (not asynch or not op & ASYNC or kind == RESTART):
            return "EINVAL"
        if not asynch and kind in (UNMAP_ALL, PREFETCH):
            return "EINVAL"
        if kind > PREFETCH or op & ~0xffff & ~flags_ok or (not obj and kind in (MAP, UNMAP_ALL)) \
                or ((addr or rng) and kind == UNMAP_ALL) \
                or (obj and kind in (USERPTR, PREFETCH, UNMAP)) \
                or (region and kind != PREFETCH) or not (1 << region) & config["region_mask"]:
            return "EINVAL"
        if fixed and (pad or r0 or r1):
            return "EINVAL"
        if off % P or addr % P or rng % P or (not rng and kind not in (RESTART, UNMAP_ALL)):
            return "EINVAL"
    if args["vm_id"] not in (1, 2):
        return "EINVAL"
    eng = config["engines"].get(str(args["engine_id"])) if args["engine_id"] else True
    if eng is None:
        return "ENOENT"
    if not eng:
        return "EINVAL"
    vm_async = args["vm_id"] == 1
    error = state["error"] if vm_async else "OK"
    if ops[0][6] & 0xffff == RESTART:
        if not vm_async:
            return "EOPNOTSUPP"
        if syncs:
            return "EINVAL" if fixed else None
        return "EPROTO" if error == "OK" else None
    if error == "OK" and asynch != vm_async:
        return "EOPNOTSUPP"
    size = config["vm_size"]
    for _, _, _, rng, addr, gt, *_ in ops:
        if rng > size or addr > size - rng or gt & ~((1 << config["tiles"]) - 1):
            return "EINVAL"
    for obj, _, off, rng, *_ in ops:
        if obj:
            bo = config["bos"].get(str(obj))
            if bo is None:
                return "ENOENT"
            if rng > bo[0] or off > bo[0] - rng:
                return "EINVAL"
    for flags, handle, _ in syncs:
        if flags & 0xf not in (0, 1):
            return "EINVAL"
        fences = state["syncs"].get(str(handle))
        if fences is None:
            return "ENOENT"
        if not flags & 0x10 and not fences:
            return "EINVAL"
    return None


def _pages(tree: list[list[Any]]) -> dict[int, tuple[Any, ...]]:
    out = {}
    for a, n, gem, off, flags in tree:
        for k in range(n // P):
            out[a // P + k] = (gem, off + k * P, flags)
    return out


def check_xe_step(config: Mapping[str, Any], before: Mapping[str, Any], action: str,
                  args: Mapping[str, Any], result: Any, after: Mapping[str, Any]) -> None:
    if action != "VmBind" or after["oops"] or args["ops"][0][6] & 0xffff == RESTART:
        return
    key = "tree" if args["vm_id"] == 1 else None
    tb = before[key] if key else before["sync_vm"]["tree"]
    ta = after[key] if key else after["sync_vm"]["tree"]
    ops = args["ops"]
    if sum(o[3] // P for o in ops) > CHECKED_PAGES or sum(v[1] // P for v in tb) > CHECKED_PAGES:
        return
    want = _pages(tb)
    for obj, _, off, rng, addr, gt, op, *_ in ops:
        kind = op & 0xffff
        if kind in (MAP, USERPTR, UNMAP):
            for k in range(rng // P):
                want.pop(addr // P + k, None)
        if kind in (MAP, USERPTR):
            gem = str(obj) if kind == MAP else "userptr"
            for k in range(rng // P):
                want[addr // P + k] = (gem, off + k * P, int(bool(op & RO)) | gt << 1)
        if kind == UNMAP_ALL:
            want = {p: v for p, v in want.items() if v[0] != str(obj)}
    got = _pages(ta)
    if got != want:
        diff = sorted(set(got.items()) ^ set(want.items()))[:3]
        raise InvariantViolation("BindPagesInv", f"the tree after VM_BIND differs per page from "
                                 f"the ops applied in order: {diff}")
