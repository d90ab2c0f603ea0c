"""Invariants of the vm_bo system (the notes' C5), checked on the live state.

Each raises :class:`~model.errors.InvariantViolation` named like the spec's
invariant, with the object that breaks it, expected against actual.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from typing import Any

from model.errors import InvariantViolation
from model.vmbo import VmBo, VmBoSystem


def check_vmbo(s: VmBoSystem) -> None:
    """Every invariant of ``s``: uniqueness, references, links, lists, lifetimes."""
    live = {i: b for i, b in s.vmbos.items() if not b.freed}
    # C5.1: one vm_bo per (VM, GEM): at most one alive (a zombie at 0 waiting for
    # the deferred cleanup is not) and at most one on the GEM's list
    def alive(b: VmBo) -> bool:
        return b.kref > 0

    def listed(b: VmBo) -> bool:
        return b.listed

    for what, keep in (("alive", alive), ("on the GEM's list", listed)):
        count = Counter((b.vm, b.gem) for b in live.values() if keep(b))
        for pair, n in count.items():
            if n > 1:
                raise InvariantViolation(
                    "VmBoUniqueInv", f"{n} vm_bos of {pair} {what}, expected at most 1: "
                    + ", ".join(str(i) for i, b in live.items()
                                if (b.vm, b.gem) == pair and keep(b)))
    handles = Counter(h for hs in s.jobs.values() for h in hs)
    for ident, n in handles.items():
        if ident not in live:
            raise InvariantViolation("NoUseAfterFreeInv", f"a job holds {n} handle(s) of "
                                     f"vm_bo {ident}, which does not exist")
    for ident, b in live.items():
        # C5.4: kref = linked VAs + outstanding handles
        want = len(b.vas) + handles.get(ident, 0)
        if b.kref != want:
            raise InvariantViolation("KrefInv", f"vm_bo {ident}: kref {b.kref}, expected "
                                     f"{want} ({len(b.vas)} VA(s) + {handles.get(ident, 0)} "
                                     "handle(s))")
        vm = s.vms[b.vm]
        if vm.freed:
            raise InvariantViolation("NoUseAfterFreeInv", f"vm_bo {ident} belongs to the freed "
                                     f"VM {b.vm}")
        if ident in vm.extobj and s.gems[b.gem].resv == vm.resv:
            raise InvariantViolation("ExtobjInv", f"vm_bo {ident} is on {b.vm}'s extobj list "
                                     f"but {b.gem} shares {b.vm}'s resv")
    # C5.3: every VA of a GEM in a VM is on exactly one vm_bo's list, of (VM, GEM)
    for v, vm in s.vms.items():
        for va in vm.space:
            holders = [i for i, b in live.items() if b.vm == v and va in b.vas]
            if len(holders) != 1 or holders[0][1] != va.gem:
                raise InvariantViolation("VaLinkInv", f"VA {va.to_json()} of {v} is on the "
                                         f"lists of {holders or 'no vm_bo'}")
        for lst, name in ((vm.extobj, "extobj"), (vm.evict, "evict"), (vm.deferred, "deferred")):
            for ident in lst:
                if ident not in live:
                    raise InvariantViolation("NoUseAfterFreeInv", f"{v}'s {name} list holds "
                                             f"vm_bo {ident}, which does not exist")
        if vm.freed and len(vm.space):
            raise InvariantViolation("VmFreeInv", f"the freed VM {v} still holds "
                                     f"{len(vm.space)} VA(s)")
    for ident, b in live.items():
        for va in b.vas:
            if va not in set(s.vms[b.vm].space):
                raise InvariantViolation("VaLinkInv", f"vm_bo {ident} lists {va.to_json()}, "
                                         f"which is not a mapping of {b.vm}")
    # C5.6: the GEM's references
    per_gem = Counter(b.gem for b in live.values())
    for g, obj in s.gems.items():
        if obj.ref != 1 + per_gem.get(g, 0):
            raise InvariantViolation("GemRefInv", f"GEM {g}: ref {obj.ref}, expected "
                                     f"{1 + per_gem.get(g, 0)} (its handle + "
                                     f"{per_gem.get(g, 0)} vm_bo(s))")
    if s.profile.name == "upstream":
        for v, vm in s.vms.items():
            if vm.freed:
                continue
            want = int(vm.user) + sum(1 for b in live.values() if b.vm == v) + len(vm.space)
            if vm.ref != want:
                raise InvariantViolation("VmRefInv", f"VM {v}: ref {vm.ref}, expected {want}")


def check_vmbo_step(before: Mapping[str, Any], action: str, args: Mapping[str, Any],
                    result: Any, after: Mapping[str, Any]) -> None:
    """The contract of one accepted step, where it is more than the invariants.

    ``UnmapOpsCreate`` (C5.9): no reference count changes, and the ops name
    exactly the VAs of (vm, gem) on that vm_bo's list, in link order.
    ``Validate``: afterwards no vm_bo of the VM is evicted, and every external
    GEM with a mapping in the VM was locked.  A vm_bo whose last reference is
    gone but whose cleanup is deferred is dying: the list walkers skip it
    (they take a reference only if the count is not zero), so it is on the
    evict list afterwards exactly if it was before.
    """
    if action == "UnmapOpsCreate":
        counts = ("vmbos", "gems", "vms")
        if any(before[k] != after[k] for k in counts):
            raise InvariantViolation("UnmapOpsNoRefInv", f"UnmapOpsCreate{dict(args)} changed "
                                     "the reference counts")
        vas = [b["vas"] for b in before["vmbos"]
               if b["vm"] == args["vm"] and b["gem"] == args["gem"] and b["listed"]]
        want = vas[0] if vas else []
        got = [op.va.addr for op in result or []]
        if got != want:
            raise InvariantViolation("UnmapOpsInv", f"UnmapOpsCreate{dict(args)} named {got}, "
                                     f"the vm_bo lists {want}")
    elif action == "Validate":
        vm = args["vm"]
        bad = [b for b in after["vmbos"] if b["vm"] == vm and b["kref"] > 0 and b["evicted"]]
        if bad:
            raise InvariantViolation("ValidateInv", f"after Validate({vm}) {len(bad)} vm_bo(s) "
                                     f"are still evicted: {bad[0]}")
        if any(b["vm"] == vm and b["kref"] > 0 and b["evict"] for b in after["vmbos"]):
            raise InvariantViolation("ValidateInv", f"after Validate({vm}) its evict list is "
                                     "not empty")
        now = {(b["vm"], b["gem"], b["n"]): b for b in after["vmbos"]}
        for b in before["vmbos"]:
            key = (b["vm"], b["gem"], b["n"])
            if b["vm"] == vm and b["kref"] == 0 and key in now and now[key]["evict"] != b["evict"]:
                raise InvariantViolation("ValidateSkipsDyingInv", (
                    f"Validate({vm}) took dying vm_bo {key} (refcount 0) "
                    f"{'off' if b['evict'] else 'onto'} the evict list"))
