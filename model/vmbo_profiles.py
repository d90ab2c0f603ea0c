"""drm_gpuvm_bo profiles: how a VM/GEM combination is found, linked and counted.

Two strategy objects; the core (``model.vmbo``) never tests which one runs.

:class:`Rfc2023` is seed 003 (drm_gpuvm_bo v2, Sep 2023) as posted:

1. ``obtain`` finds (+1) or creates (kref 1, +1 on the GEM) a vm_bo and does
   **not** publish it: it joins the GEM's list at its first ``link``;
2. a VA has no back-pointer: ``unlink`` searches the GEM's list for the
   first vm_bo of the VA's VM, removes the VA from whatever list holds it,
   unpublishes the vm_bo found if its list is now empty, and puts it;
3. a REMAP (nouveau's ``bind_link_gpuvas``) finds the old VA's vm_bo (+1),
   links the new pieces, unlinks the old VA, then puts the found reference;
4. a vm_bo holds no reference on its VM; there are no extobj or evict lists,
   no deferred cleanup.

Its known flaws are findings, not fixes: two obtains before the first link
give two vm_bos for one (VM, GEM) (notes C6 Y1), and destroying a VM that
still has vm_bos leaves them pointing at a freed VM (Y5).

:class:`Upstream` is later drm_gpuvm:

1. ``obtain`` and ``obtain_prealloc`` publish a new vm_bo on the GEM's list
   at once; creating one takes a VM reference and a GEM reference;
2. every inserted VA holds a VM reference; a linked VA holds a vm_bo
   reference and a back-pointer to its vm_bo, which ``unlink`` and REMAP use;
3. per-VM extobj and evict lists, protected by internal spinlocks or, with
   ``list_mode="resv"`` (``DRM_GPUVM_RESV_PROTECTED``), by the VM's resv;
4. with ``immediate=True``, a deferred put leaves a vm_bo at refcount 0 on
   the VM's deferred list (still on extobj/evict in resv mode) until
   ``deferred_cleanup`` frees it; walkers skip it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

from model.errors import InvariantViolation, NotSupported
from model.gpuva import Va

if TYPE_CHECKING:
    from model.vmbo import Vm, VmBo, VmBoSystem


class VmBoProfile(Protocol):
    name: str

    def on_obtain(self, core: VmBoSystem, b: VmBo) -> None:
        """A vm_bo was just created by obtain (under the GEM's resv)."""
        ...

    def on_link(self, core: VmBoSystem, b: VmBo) -> None:
        """A VA was just linked to ``b``."""
        ...

    def unlink(self, core: VmBoSystem, vm: str, va: Va) -> None:
        """``drm_gpuva_unlink(va)`` (under the GEM's resv)."""
        ...

    def remap(self, core: VmBoSystem, vm: str, old: Va, pieces: list[Va]) -> None:
        """Link the split pieces of ``old`` and unlink ``old`` (under the GEM's resv)."""
        ...

    def vm_ref(self, core: VmBoSystem, v: Vm, delta: int) -> None:
        """A reference on the VM was taken (+1) or dropped (-1)."""
        ...

    def vm_put(self, core: VmBoSystem, v: Vm) -> None:
        """The user dropped the VM."""
        ...

    def check_lists(self) -> None:
        """``-EOPNOTSUPP`` unless the profile has extobj/evict lists."""
        ...


class Rfc2023:
    """Seed 003 v2 as posted."""

    name = "rfc2023"

    def on_obtain(self, core: VmBoSystem, b: VmBo) -> None:
        return None  # not published: the first link does it

    def on_link(self, core: VmBoSystem, b: VmBo) -> None:
        if not b.listed:
            core.publish(b)

    def unlink(self, core: VmBoSystem, vm: str, va: Va) -> None:
        assert va.gem is not None
        found = core.search(vm, va.gem)
        if found is None:
            raise InvariantViolation("VmBoLinkInv", f"unlink of {va} in {vm}: no vm_bo of "
                                     f"({vm}, {va.gem}) on the GEM's list (seed: WARN)")
        core.detach(vm, va)
        if not found.vas:
            found.listed = False
        core.put_ref(found)

    def remap(self, core: VmBoSystem, vm: str, old: Va, pieces: list[Va]) -> None:
        assert old.gem is not None
        b = core.find(vm, old.gem)
        if b is None:
            raise InvariantViolation("VmBoLinkInv", f"remap of {old} in {vm}: no vm_bo "
                                     "(nouveau: BUG_ON)")
        for piece in pieces:
            core.link(vm, piece, b)
        self.unlink(core, vm, old)
        core.put_ref(b)

    def vm_ref(self, core: VmBoSystem, v: Vm, delta: int) -> None:
        return None  # no VM references

    def vm_put(self, core: VmBoSystem, v: Vm) -> None:
        v.user = False
        v.freed = True  # whatever still points at it

    def check_lists(self) -> None:
        raise NotSupported("no extobj/evict lists in this profile")


class Upstream:
    """Later drm_gpuvm: publish at obtain, back-pointers, VM references, lists."""

    name = "upstream"

    def on_obtain(self, core: VmBoSystem, b: VmBo) -> None:
        core.publish(b)

    def on_link(self, core: VmBoSystem, b: VmBo) -> None:
        return None  # published at obtain

    def unlink(self, core: VmBoSystem, vm: str, va: Va) -> None:
        b = core.detach(vm, va)  # the back-pointer
        if b is None:
            raise InvariantViolation("VmBoLinkInv", f"unlink of {va} in {vm}: it is linked "
                                     "to no vm_bo")
        core.put_ref(b)

    def remap(self, core: VmBoSystem, vm: str, old: Va, pieces: list[Va]) -> None:
        ident = core.holder.get((vm, old))
        if ident is None:
            raise InvariantViolation("VmBoLinkInv", f"remap of {old} in {vm}: it is linked "
                                     "to no vm_bo")
        b = core.live(ident, "remap")
        for piece in pieces:
            core.link(vm, piece, b)
        self.unlink(core, vm, old)

    def vm_ref(self, core: VmBoSystem, v: Vm, delta: int) -> None:
        if v.freed:
            raise InvariantViolation("NoUseAfterFreeInv", f"a reference on the freed VM {v.name}")
        v.ref += delta
        if v.ref == 0:
            core.free_vm(v)

    def vm_put(self, core: VmBoSystem, v: Vm) -> None:
        v.user = False
        self.vm_ref(core, v, -1)

    def check_lists(self) -> None:
        return None


VMBO_PROFILES: dict[str, VmBoProfile] = {p.name: p for p in (Upstream(), Rfc2023())}


def vmbo_profile(name: str) -> VmBoProfile:
    try:
        return VMBO_PROFILES[name]
    except KeyError:
        raise ValueError(f"unknown vm_bo profile {name!r} "
                         f"(known: {', '.join(VMBO_PROFILES)})") from None
