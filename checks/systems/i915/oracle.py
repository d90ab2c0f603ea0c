"""What each i915 call must give, read from the notes (A2, A5, B1-B4, B8), not the model.

:func:`expect` is the errno table: the checks of each profile as an ordered
list of (errno, "does this call fail it?"), the first failing one wins --
for ``seed`` with the one exception the seed's code has: a bad length or
start is remembered and returned only once the handle is found, so an
unknown handle's ``-ENOENT`` hides it.  :func:`check_i915_step` is the
contract of an accepted call over the abstract states before and after.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from model.errors import InvariantViolation

PAGE, VM_SIZE = 4096, 1 << 48


def _low48(x: int) -> int:
    return x % VM_SIZE


def _meets(vmas: list[list[int]], start: int, end: int) -> bool:
    return any(v[0] < end and start < v[0] + v[1] for v in vmas)


def _covers(vmas: list[list[int]], addr: int) -> list[int] | None:
    return next((v for v in vmas if v[0] <= addr < v[0] + v[1]), None)


def expect(profile: str, st: Mapping[str, Any], action: str, a: Mapping[str, Any]) -> str | None:
    """The errno the call must return (None: it must succeed)."""
    fixed = profile == "fixed"
    u32 = ("vm_id", "handle", "rsvd")
    if any(not 0 <= v < 1 << (32 if k in u32 else 64) for k, v in a.items()
           if k not in ("vm", "thread")):
        return "EINVAL"  # a value no ioctl struct can carry
    vm = st["vms"].get(str(a.get("vm_id", a.get("vm"))))
    if action == "VmRelease":
        gone = st["vms"].get(str(a["vm"]))
        if gone is None:
            return "ENOENT"
        # an unbind in flight holds a VM reference (notes A4): not the last one yet
        return "EBUSY" if gone.get("unbinding") else None
    if action == "UnbindEnd":
        busy = not any(a["thread"] in v.get("unbinding", {}) for v in st["vms"].values())
        return "EBUSY" if busy else None
    if action in ("VmUnbind", "UnbindBegin"):
        s = _low48(a["start"])
        hit = None if vm is None else (
            next((v for v in vm["vmas"] if v[0] == s), None) if fixed
            else _covers(vm["vmas"], s))
        checks: list[tuple[str, Callable[[], bool]]] = [
            ("EINVAL", lambda: bool(a["rsvd"] or a["rsvd2_0"] or a["rsvd2_1"] or a["rsvd2_2"]
                                    or a["extensions"])),
            ("ENOENT", lambda: vm is None),
            ("ENOENT", lambda: hit is None),
            ("EINVAL", lambda: hit is not None and hit[1] != a["length"]),
        ]
        if action == "UnbindBegin":  # one unbind in flight per thread, before any check
            checks.insert(0, ("EBUSY", lambda: any(a["thread"] in v.get("unbinding", {})
                                                    for v in st["vms"].values())))
        return next((e for e, bad in checks if bad()), None)
    gem = st["gems"].get(str(a["handle"]))
    s = _low48(a["start"])
    shape_bad = a["length"] == 0 or a["start"] % PAGE != 0
    checks = [
        ("EINVAL", lambda: bool(a["rsvd_0"] or a["rsvd_1"] or a["rsvd_2"] or a["extensions"]
                                or (fixed and (a["rsvd2_0"] or a["rsvd2_1"])))),
        ("ENOENT", lambda: vm is None),
        ("EOPNOTSUPP", lambda: not vm["vm_bind"]),
    ]
    if fixed:
        checks.append(("EINVAL", lambda: shape_bad))
    checks += [
        ("ENOENT", lambda: gem is None),
        ("EINVAL", lambda: shape_bad),
        ("EINVAL", lambda: (a["offset"] | a["length"]) % gem["page"] != 0),
        ("EINVAL", lambda: a["offset"] >= gem["size"] or a["length"] > gem["size"] - a["offset"]),
    ]
    if fixed:
        checks += [("EINVAL", lambda: s + a["length"] > VM_SIZE),
                   ("EEXIST", lambda: _meets(vm["vmas"], s, s + a["length"]))]
    else:
        checks.append(("EEXIST", lambda: _covers(vm["vmas"], s) is not None))
    # drm_mm still holds the node of a VMA whose unbind has not destroyed it (A3, B7)
    checks.append(("ENOSPC", lambda: s + a["length"] > VM_SIZE or _meets(
        [*vm["vmas"], *vm.get("unbinding", {}).values()], s, s + a["length"])))
    return next((e for e, bad in checks if bad()), None)


def check_i915_step(config: Mapping[str, Any], before: Mapping[str, Any], action: str,
                    args: Mapping[str, Any], result: Any, after: Mapping[str, Any]) -> None:
    """An accepted call's contract (notes A5.3, A5.5, A5.7, B8)."""
    fixed = config.get("profile") == "fixed"
    if action == "VmRelease":
        if str(args["vm"]) in after["vms"]:
            raise InvariantViolation("ReleaseInv", f"VM {args['vm']} still exists")
        return
    if action == "UnbindEnd":
        vm = next(v for v, d in before["vms"].items() if args["thread"] in d["unbinding"])
        vma = before["vms"][vm]["unbinding"][args["thread"]]
        h = str(vma[2])
        if args["thread"] in after["vms"][vm]["unbinding"] or \
                after["vms"][vm]["vmas"] != before["vms"][vm]["vmas"] or \
                before["gems"][h]["refs"] - after["gems"][h]["refs"] != 1:
            raise InvariantViolation("UnbindInv", f"UnbindEnd of {vma} did not destroy just it")
        return
    vm = str(args["vm_id"])
    old, new = before["vms"][vm]["vmas"], after["vms"][vm]["vmas"]
    gone = [v for v in old if v not in new]
    added = [v for v in new if v not in old]
    if action == "VmBind":
        want = [_low48(args["start"]), args["length"], args["handle"], args["offset"]]
        if gone or added != [want]:
            raise InvariantViolation("BindInv", f"VmBind added {added} and removed {gone}, "
                                     f"expected to add {want}")
        seen = getattr(result, "start", None)
        if seen != (args["start"] if fixed else want[0]):
            raise InvariantViolation("ArgsInv", f"the caller reads start {seen!r} back, "
                                     f"expected {args['start'] if fixed else want[0]:#x}")
        h = str(args["handle"])
        delta = after["gems"][h]["refs"] - before["gems"][h]["refs"]
    else:  # VmUnbind, UnbindBegin
        if added or len(gone) != 1 or gone[0][1] != args["length"] or (
                fixed and gone[0][0] != _low48(args["start"])):
            raise InvariantViolation("UnbindInv", f"{action} removed {gone} and added {added}")
        h = str(gone[0][2])
        delta = before["gems"][h]["refs"] - after["gems"][h]["refs"]
        if action == "UnbindBegin":   # the reference goes with the destroy
            if after["vms"][vm]["unbinding"].get(args["thread"]) != gone[0] or delta:
                raise InvariantViolation("UnbindInv", f"UnbindBegin took {gone[0]} off the "
                                         f"tree but did not hold it for the destroy")
            return
    if delta != 1:
        raise InvariantViolation("GemRefInv", f"{action} moved GEM {h}'s references by "
                                 f"{delta}, expected 1")
