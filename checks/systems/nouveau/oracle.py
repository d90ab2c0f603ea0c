"""The nouveau front end's errnos from the notes' check order (§3), and one step's contract.

Written from ``../shared/notes/gpuva-manager-and-nouveau.md`` §3 and §4, not
from the model: :func:`expect` walks a VM_BIND's ops in array order over
the *regions* alone (no mapping can make an op fail), with the syncobjs'
fences, and gives the first errno the notes' order reaches -- or ``None``.
:func:`check_nouveau_step` checks an accepted step's effect per page:
after a VM_BIND every page of the tree translates as the ops, applied one
page at a time in order, say (mmap semantics), and every page outside them
as before; after an ioctl the page tables are untouched (a sparse ALLOC
writes sparse PTEs).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from model.errors import InvariantViolation

P = 1 << 12
VA_END = 1 << 47
U32, U64 = 1 << 32, 1 << 64
ALLOC, FREE, MAP, UNMAP = 0, 1, 2, 3
KIND_MASK, SPARSE = 0xff, 1 << 8
CHECKED_PAGES = 1 << 12


def _fits(x: Any, bits: int) -> bool:
    return type(x) is int and 0 <= x < 1 << bits


def _syncs_ok(raw: Any) -> bool:
    return isinstance(raw, list) and all(
        isinstance(s, list) and len(s) == 3 and _fits(s[0], 32) and _fits(s[1], 32)
        and _fits(s[2], 64) for s in raw)


def _wait_errno(state: Mapping[str, Any], waits: list[list[int]]) -> str | None:
    for flags, handle, value in waits:
        stype = flags & 0xf
        if stype not in (0, 1):
            return "EOPNOTSUPP"
        pairs = state["syncs"].get(str(handle))
        if pairs is None:
            return "ENOENT"
        if not pairs:
            return "EINVAL"
        point = value if stype == 1 else 0
        if point and not any(p >= point and p > 0 for p, _ in pairs):
            return "EINVAL"
    return None


def _sig_errno(state: Mapping[str, Any], sigs: list[list[int]]) -> str | None:
    for flags, handle, _ in sigs:
        if flags & 0xf not in (0, 1):
            return "EINVAL"
        if str(handle) not in state["syncs"]:
            return "ENOENT"
    return None


def expect(profile: str, config: Mapping[str, Any], state: Mapping[str, Any], action: str,
           args: Mapping[str, Any]) -> str | bool | None:
    """The errno the notes' order gives, ``None`` for success, ``False`` when this
    oracle does not judge the step (scheduler steps, programs)."""
    fixed = profile == "fixed"
    if action == "VmInit":
        a, n = args["unmanaged_addr"], args["unmanaged_size"]
        if not (_fits(a, 64) and _fits(n, 64)):
            return "EINVAL"
        if state["mode"] == "legacy":
            return "ENOSYS"
        if a + n <= a or a + n >= U64 or a + n > VA_END:
            return "EINVAL"
        if state["mode"] == "vm":
            return "EEXIST"
        if fixed and (a % P or n % P):
            return "EINVAL"
        return None
    if action == "Legacy":
        if args["call"] not in ("GEM_NEW", "CHANNEL_ALLOC", "GEM_PUSHBUF"):
            return "EINVAL"
        return "ENOSYS" if args["call"] == "GEM_PUSHBUF" and state["mode"] == "vm" else None
    if action not in ("VmBind", "Exec"):
        return False
    if state["wait"].get(args["thread"]):
        return "EBUSY"
    if action == "Exec":
        return _exec(fixed, config, state, args)
    ops, flags, count = args["ops"], args["flags"], args["op_count"]
    if not (_fits(flags, 32) and _fits(count, 32) and isinstance(ops, list)):
        return "EINVAL"
    if state["mode"] != "vm":
        return "ENOSYS"
    if count * 40 >= U32:      # u_memcpya's size in 32 bits (C20)
        return "EOVERFLOW" if fixed else None
    if count > len(ops):
        return "EFAULT"
    ops = ops[:count]
    if not (_syncs_ok(args["waits"]) and _syncs_ok(args["sigs"])):
        return "EINVAL"
    for o in ops:
        if not (isinstance(o, list) and len(o) == 7 and all(_fits(x, 32) for x in o[:4])
                and all(_fits(x, 64) for x in o[4:])):
            return "EINVAL"
    if fixed and flags & ~1:
        return "EINVAL"
    sync = not flags & 1
    if sync and (args["waits"] or args["sigs"]):
        return "EINVAL"
    if fixed:
        bad = _wait_errno(state, args["waits"]) or _sig_errno(state, args["sigs"])
        if bad:
            return bad
    regions = [list(r) for r in state["regions"]]
    ka, ks = state["kernel"]
    for op, oflags, handle, pad, addr, off, rng in ops:
        if fixed and (pad or oflags & ~(KIND_MASK | SPARSE)):
            return "EINVAL"
        if op == MAP:
            size = config["gems"].get(str(handle))
            if size is None:
                return "ENOENT"
            if off % P or size <= off or rng > size - off:
                return "EINVAL"
        end = (addr + rng) % U64
        if addr % P or rng % P or end <= addr or end > VA_END or (addr < ka + ks and ka < end):
            return "EINVAL"
        if op == ALLOC:
            if any(r[0] < end and addr < r[0] + r[1] for r in regions):
                return "EEXIST"
            regions.append([addr, rng, bool(oflags & SPARSE)])
        elif op == FREE:
            hit = [r for r in regions if r[0] == addr and r[1] == rng]
            if hit:
                regions.remove(hit[0])
            elif fixed:
                return "ENOENT"
        elif op == MAP:
            if not any(r[0] <= addr and end <= r[0] + r[1] for r in regions):
                return "EINVAL"
        elif op != UNMAP:
            return "EINVAL"
    if not fixed:
        return _wait_errno(state, args["waits"]) or _sig_errno(state, args["sigs"])
    return None


def _exec(fixed: bool, config: Mapping[str, Any], state: Mapping[str, Any],
          args: Mapping[str, Any]) -> str | None:
    push = args["push"]
    if not (_fits(args["channel"], 32) and isinstance(push, list) and _syncs_ok(args["waits"])
            and _syncs_ok(args["sigs"]) and all(isinstance(x, list) and len(x) == 2
                                                and all(type(y) is int for y in x)
                                                for x in push)):
        return "EINVAL"
    if state["mode"] != "vm":
        return "ENOSYS"
    chan = config["channels"].get(str(args["channel"]))
    if chan is None:
        return "ENOENT"
    if chan == "killed":
        return "ENODEV"
    if chan == "noib":
        return "ENOSYS"
    if len(push) > 512:
        return "EINVAL"
    if not push and not fixed:
        return None
    return _wait_errno(state, args["waits"]) or _sig_errno(state, args["sigs"])


# ------------------------------------------------------------- the contract

def _pages(tree: list[list[Any]]) -> dict[int, tuple[Any, ...]]:
    out = {}
    for a, n, h, off, kind in tree:
        for k in range(n // P):
            out[a // P + k] = (h, off + k * P, kind)
    return out


def check_nouveau_step(config: Mapping[str, Any], before: Mapping[str, Any], action: str,
                       args: Mapping[str, Any], result: Any, after: Mapping[str, Any]) -> None:
    """The contract of one accepted direct ioctl (the page view of the tree)."""
    if action != "VmBind" or after.get("oops"):
        return
    ops = args["ops"][:args["op_count"]]
    if sum(o[6] // P for o in ops) > CHECKED_PAGES or \
            sum(v[1] // P for v in before["tree"]) > CHECKED_PAGES:
        return
    want = _pages(before["tree"])
    fixed = config.get("profile") == "fixed"
    regions = [list(r) for r in before["regions"]]
    for op, oflags, handle, _, addr, off, rng in ops:
        if op == ALLOC:
            regions.append([addr, rng, bool(oflags & SPARSE)])
        if op == FREE:
            hit = [r for r in regions if r[0] == addr and r[1] == rng]
            if not hit:
                continue   # the seed's FREE of an unknown region (C5) does nothing
            regions.remove(hit[0])
        if op in (MAP, UNMAP, FREE):
            for k in range(rng // P):
                want.pop(addr // P + k, None)
        if op == MAP:
            kind = oflags & KIND_MASK if fixed else int(oflags != 0)
            for k in range(rng // P):
                want[addr // P + k] = (str(handle), off + k * P, kind)
    got = _pages(after["tree"])
    if got != want:
        diff = sorted(set(got.items()) ^ set(want.items()))[:3]
        raise InvariantViolation("BindPagesInv", f"the tree after VM_BIND differs per page "
                                 f"from the ops applied in order: {diff}")
    jobs = after["jobs"]
    if len(jobs) != len(before["jobs"]) + 1 or len(jobs) != result \
            or jobs[-1]["st"] != "queued" or after["queue"]["bind"][-1:] != [result]:
        raise InvariantViolation("BindPagesInv", f"VM_BIND returned job {result}, but it is not "
                                 "the bind queue's new last job")
    sparse_alloc = any(o[0] == ALLOC and o[1] & SPARSE for o in ops)
    if not sparse_alloc and after["pte"] != before["pte"]:
        raise InvariantViolation("BindPagesInv", "VM_BIND changed the page tables at submit")
