"""i915 VM_BIND (seed 000, "[v6,05/20] drm/i915/vm_bind: Implement bind and unbind").

The front end binds whole GEM objects (or a page-aligned part of one) at a
fixed GPU VA of a VM created in vm_bind mode; each such *persistent* VMA
holds one GEM reference until it is unbound or the VM is released.  The
ioctl argument structs are the seed's uAPI (:class:`VmBindArgs`,
:class:`VmUnbindArgs`), and each profile checks them in its own order:

``seed`` -- the seed's code exactly (notes A2; the seed's
``i915_gem_vm_is_vm_bind_mode()`` is a stub returning false, so a VM's
vm_bind mode is the configuration's stand-in for what later patches add):

VM_BIND
  1. ``rsvd[0..2]`` or ``extensions`` nonzero: ``-EINVAL`` (``rsvd2[]`` is
     never checked, B1);
  2. no such VM: ``-ENOENT``; 3. not in vm_bind mode: ``-EOPNOTSUPP``;
  4. ``length == 0`` or ``start`` not 4 KiB aligned: ``-EINVAL`` *pending*;
  5. no such handle: ``-ENOENT`` at once (it hides 4's ``-EINVAL``, B4);
     then 4's ``-EINVAL`` if pending;
  6. ``offset | length`` not aligned to the object's largest page size:
     ``-EINVAL``; 7. ``range_overflows_t(offset, length, size)``: ``-EINVAL``;
  8. ``start`` made non-canonical (the low 48 bits) and written back into the
     caller's arguments (B8);
  9. the interval tree queried at the *point* ``start`` only (B2): a hit is
     ``-EEXIST``;
  10. the fixed-offset pin: any overlap with a node, or a range past the
      48-bit VM, is ``-ENOSPC`` ("the VA range can't be reserved").

VM_UNBIND
  1. ``rsvd`` or ``rsvd2[0..2]`` or ``extensions`` nonzero: ``-EINVAL``;
  2. no such VM: ``-ENOENT``; 3. ``start`` made non-canonical;
  4. the VMA *covering* ``start`` (B3: any one, not only one starting
     there): none is ``-ENOENT``, a size other than ``length`` ``-EINVAL``;
  5. off the tree and the bound list, the object's reference put.

``fixed`` -- what the review asked: every reserved field checked (B1), the
pending ``-EINVAL`` returned at once (B4), a range past the VM ``-EINVAL``,
the tree queried over the whole range (B2, ``-EEXIST``), unbind only of the
VMA starting at ``start`` (B3), the caller's arguments left alone (B8).

``VmRelease`` is ``__i915_vm_release``'s ``i915_gem_vm_unbind_all``: every
VMA leaves the tree and the list and puts its object; the VM is gone (not
while an unbind is in flight: that ioctl holds a VM reference, A4).

VM_UNBIND has two phases (A3), which ``UnbindBegin`` and ``UnbindEnd`` take
one at a time for a thread (``VmUnbind`` is both at once): under
``vm_bind_lock`` the checks and the logical removal (off the tree and the
bound list), then, once the lock is dropped, the destroy under the object's
lock (the drm_mm node freed, the GEM reference put).  Between them the
range is off the tree but still reserved: a VM_BIND of it passes the tree
check and fails the pin with ``-ENOSPC`` (B7; ``checks/sched/i915_programs.py``).

Every rejection raises the errno as a typed exception and changes nothing.
Diagram: a 64 KiB object (handle 1) in VM 1; each row is a call, the
profile and what it gives (``tests/test_i915.py`` replays the rows)::

    both   VmBind    start=0x800000010000 length=0x10000   ok
    both   VmBind    start=0xffff800000010000 length=0x10000   EEXIST
    seed   VmUnbind  start=0x800000018000 length=0x10000   ok
    fixed  VmUnbind  start=0x800000018000 length=0x10000   ENOENT
    fixed  VmUnbind  start=0xffff800000010000 length=0x10000   ok

(the second is the canonical form of the first's VA; the third unbinds the
VMA that merely covers ``start``, B3.)
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Self

from model.actions import INT, NAME, U64, Action, Param, Vocabulary
from model.errors import (
    AlreadyExists,
    Busy,
    GpuVmError,
    InvalidArgument,
    InvariantViolation,
    NoSpace,
    NotFound,
    NotSupported,
)
from model.trace import NOP, Event, Tracer

SYSTEM = "i915"
PAGE = 4096
VA_BITS = 48
U64_MAX = (1 << 64) - 1
PROFILES = ("seed", "fixed")

_BIND = (Param("vm_id", INT), Param("handle", INT), Param("start", U64), Param("offset", U64),
         Param("length", U64), Param("rsvd_0", U64), Param("rsvd_1", U64),
         Param("rsvd_2", U64), Param("rsvd2_0", U64), Param("rsvd2_1", U64),
         Param("extensions", U64))
_UNBIND = (Param("vm_id", INT), Param("rsvd", INT), Param("start", U64), Param("length", U64),
           Param("rsvd2_0", U64), Param("rsvd2_1", U64), Param("rsvd2_2", U64),
           Param("extensions", U64))
VOCABULARY = Vocabulary(SYSTEM, (
    Action("VmBind", "vm_bind", _BIND, ("EINVAL", "ENOENT", "EOPNOTSUPP", "EEXIST", "ENOSPC"),
           doc="DRM_IOCTL_I915_GEM_VM_BIND"),
    Action("VmUnbind", "vm_unbind", _UNBIND, ("EINVAL", "ENOENT"),
           doc="DRM_IOCTL_I915_GEM_VM_UNBIND"),
    Action("VmRelease", "vm_release", (Param("vm", NAME),), ("ENOENT", "EBUSY"),
           doc="the last VM reference: i915_gem_vm_unbind_all"),
    Action("UnbindBegin", "unbind_begin", (Param("thread", NAME), *_UNBIND),
           ("EINVAL", "ENOENT", "EBUSY"),
           doc="VM_UNBIND's first phase (under vm_bind_lock): the VMA leaves the tree"),
    Action("UnbindEnd", "unbind_end", (Param("thread", NAME),), ("EBUSY",),
           doc="VM_UNBIND's second phase (under the object lock): the VMA is destroyed"),
))


@dataclass(frozen=True)
class VmBindArgs:
    """``struct drm_i915_gem_vm_bind`` (seed 000)."""

    vm_id: int           # u32
    handle: int          # u32
    start: int           # u64, GPU VA (canonical or not)
    offset: int          # u64, into the object
    length: int          # u64
    rsvd: tuple[int, int, int] = (0, 0, 0)   # u64[3], MBZ
    rsvd2: tuple[int, int] = (0, 0)          # u64[2], "reserved for timeline fence"
    extensions: int = 0  # u64


@dataclass(frozen=True)
class VmUnbindArgs:
    """``struct drm_i915_gem_vm_unbind`` (seed 000)."""

    vm_id: int           # u32
    rsvd: int            # u32, MBZ
    start: int           # u64
    length: int          # u64
    rsvd2: tuple[int, int, int] = (0, 0, 0)  # u64[3], MBZ
    extensions: int = 0  # u64


@dataclass
class Vma:
    """A persistent VMA: ``[start, start + length)`` of object ``handle`` from ``offset``."""

    start: int
    length: int
    handle: int
    offset: int

    @property
    def last(self) -> int:
        return self.start + self.length - 1  # the seed's inclusive ``vma->last``


@dataclass
class Vm:
    vm_bind: bool
    #: the interval tree ``va`` of persistent VMAs, by start
    tree: list[Vma] = field(default_factory=list)
    #: ``vm_bound_list`` ("completed"); ``vm_bind_list`` stays empty in this seed
    bound: list[Vma] = field(default_factory=list)
    #: VMAs an unbind took off the tree and has not destroyed yet, by thread: their
    #: drm_mm node (the range reserved) and their GEM reference are still held
    unbinding: dict[str, Vma] = field(default_factory=dict)

    def reserved(self) -> list[Vma]:
        """The drm_mm nodes: every VMA in the tree and every one still being unbound."""
        return [*self.tree, *self.unbinding.values()]


@dataclass
class Gem:
    size: int
    #: ``i915_gem_object_max_page_size(placements)``
    page: int = PAGE
    #: references: the user's handle (1) and one per persistent VMA
    refs: int = 1


def noncanonical(addr: int) -> int:
    """``gen8_noncanonical_addr``: the low 48 bits."""
    return addr & ((1 << VA_BITS) - 1)


def canonical(addr: int) -> int:
    """``gen8_canonical_addr``: bit 47 copied into bits 48..63."""
    addr = noncanonical(addr)
    return addr | (U64_MAX ^ ((1 << VA_BITS) - 1)) if addr >> (VA_BITS - 1) & 1 else addr


class I915System:
    """VMs and GEM objects of one i915 device, under one profile."""

    def __init__(self, vms: Mapping[int, bool], gems: Mapping[int, tuple[int, int]],
                 profile: str = "seed", tracer: Tracer = NOP) -> None:
        if profile not in PROFILES:
            raise InvalidArgument(f"profile {profile!r} (profiles: {', '.join(PROFILES)})")
        for h, (size, page) in gems.items():
            if size <= 0 or page < PAGE or page & (page - 1):
                raise InvalidArgument(f"GEM {h}: size {size:#x}, page size {page:#x} "
                                      "(a power of two of at least 4 KiB)")
        self.profile = profile
        self.vms = {int(v): Vm(bool(mode)) for v, mode in vms.items()}
        self.gems = {int(h): Gem(int(s), int(p)) for h, (s, p) in gems.items()}
        self._config = {"vms": {str(v): bool(m) for v, m in vms.items()},
                        "gems": {str(h): [int(s), int(p)] for h, (s, p) in gems.items()},
                        "profile": profile}
        self.tracer = tracer
        #: what the last VmBind wrote back into the caller's arguments
        self.written_back: VmBindArgs | None = None

    # ------------------------------------------------------------ component

    def config(self) -> dict[str, Any]:
        return {k: (dict(v) if isinstance(v, dict) else v) for k, v in self._config.items()}

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> Self:
        return cls({int(v): bool(m) for v, m in config["vms"].items()},
                   {int(h): (int(sp[0]), int(sp[1])) for h, sp in config["gems"].items()},
                   str(config.get("profile", "seed")))

    def abstract(self) -> dict[str, Any]:
        return {
            "vms": {str(v): {"vm_bind": vm.vm_bind,
                             "vmas": [[x.start, x.length, x.handle, x.offset] for x in vm.tree],
                             "bound": [[x.start, x.length, x.handle, x.offset]
                                       for x in vm.bound],
                             "unbinding": {t: [x.start, x.length, x.handle, x.offset]
                                           for t, x in sorted(vm.unbinding.items())}}
                    for v, vm in sorted(self.vms.items())},
            "gems": {str(h): {"size": g.size, "page": g.page, "refs": g.refs}
                     for h, g in sorted(self.gems.items())},
        }

    def restore(self, abstract: Mapping[str, Any]) -> None:
        try:
            vms = {int(v): Vm(bool(d["vm_bind"]), [Vma(*map(int, x)) for x in d["vmas"]],
                              [Vma(*map(int, x)) for x in d["bound"]],
                              {str(t): Vma(*map(int, x))
                               for t, x in d.get("unbinding", {}).items()})
                   for v, d in abstract["vms"].items()}
            gems = {int(h): Gem(int(d["size"]), int(d["page"]), int(d["refs"]))
                    for h, d in abstract["gems"].items()}
        except (KeyError, TypeError, ValueError, AttributeError) as e:
            raise InvalidArgument(f"not an i915 state: {e!r}") from None
        self.vms, self.gems = vms, gems

    # -------------------------------------------------------------- actions

    def _act(self, name: str, args: dict[str, Any], body: Any) -> Any:
        """All or nothing: a rejection leaves every object as it was."""
        saved = self.abstract()
        try:
            result = body()
        except GpuVmError as err:
            self.restore(saved)
            self.tracer.event(Event(SYSTEM, name, args, None, err.errno_name))
            raise
        self.tracer.event(Event(SYSTEM, name, args, result))
        return result

    def vm_bind(self, vm_id: int, handle: int, start: int, offset: int, length: int,
                rsvd_0: int = 0, rsvd_1: int = 0, rsvd_2: int = 0, rsvd2_0: int = 0,
                rsvd2_1: int = 0, extensions: int = 0) -> VmBindArgs:
        """``i915_gem_vm_bind_ioctl``: the arguments as the caller sees them afterwards."""
        a = VmBindArgs(vm_id, handle, start, offset, length, (rsvd_0, rsvd_1, rsvd_2),
                       (rsvd2_0, rsvd2_1), extensions)
        return self._act("VmBind", _flat_bind(a), lambda: self._bind(a))  # type: ignore[no-any-return]

    def _bind(self, a: VmBindArgs) -> VmBindArgs:
        fixed = self.profile == "fixed"
        _widths(("vm_id", a.vm_id, 32), ("handle", a.handle, 32), ("start", a.start, 64),
                ("offset", a.offset, 64), ("length", a.length, 64),
                *((f"rsvd[{i}]", x, 64) for i, x in enumerate(a.rsvd)),
                *((f"rsvd2[{i}]", x, 64) for i, x in enumerate(a.rsvd2)),
                ("extensions", a.extensions, 64))
        if any(a.rsvd) or a.extensions or (fixed and any(a.rsvd2)):
            raise InvalidArgument("a reserved field or extensions is nonzero")
        vm = self.vms.get(a.vm_id)
        if vm is None:
            raise NotFound(f"no VM {a.vm_id}")
        if not vm.vm_bind:
            raise NotSupported(f"VM {a.vm_id} is not in vm_bind mode")
        pending = a.length == 0 or a.start % PAGE != 0
        if pending and fixed:
            raise InvalidArgument("length 0 or start not 4 KiB aligned")
        obj = self.gems.get(a.handle)
        if obj is None:
            raise NotFound(f"no GEM handle {a.handle}")
        if pending:
            raise InvalidArgument("length 0 or start not 4 KiB aligned")
        if (a.offset | a.length) % obj.page != 0:
            raise InvalidArgument(f"offset or length not aligned to {obj.page:#x}")
        if a.offset >= obj.size or a.length > obj.size - a.offset:
            raise InvalidArgument("range_overflows_t(offset, length, object size)")
        start = noncanonical(a.start)
        past = start + a.length > 1 << VA_BITS
        if fixed and past:
            raise InvalidArgument("the range ends past the 48-bit VM")
        if fixed:
            hit = next((x for x in vm.tree if x.start < start + a.length
                        and start < x.start + x.length), None)
        else:
            hit = next((x for x in vm.tree if x.start <= start <= x.last), None)
        if hit is not None:
            raise AlreadyExists(f"[{start:#x}, ...) meets the VMA at {hit.start:#x}")
        if past or any(x.start < start + a.length and start < x.start + x.length
                       for x in vm.reserved()):
            raise NoSpace("the fixed-offset pin cannot reserve the range")
        vma = Vma(start, a.length, a.handle, a.offset)
        vm.bound.append(vma)
        vm.tree.append(vma)
        vm.tree.sort(key=lambda x: x.start)
        obj.refs += 1
        out = a if fixed else VmBindArgs(a.vm_id, a.handle, start, a.offset, a.length,
                                         a.rsvd, a.rsvd2, a.extensions)
        self.written_back = out
        return out

    def vm_unbind(self, vm_id: int, rsvd: int, start: int, length: int, rsvd2_0: int = 0,
                  rsvd2_1: int = 0, rsvd2_2: int = 0, extensions: int = 0) -> None:
        """``i915_gem_vm_unbind_ioctl``."""
        a = VmUnbindArgs(vm_id, rsvd, start, length, (rsvd2_0, rsvd2_1, rsvd2_2), extensions)
        self._act("VmUnbind", _flat_unbind(a), lambda: self._unbind(a))

    def unbind_begin(self, thread: str, vm_id: int, rsvd: int, start: int, length: int,
                     rsvd2_0: int = 0, rsvd2_1: int = 0, rsvd2_2: int = 0,
                     extensions: int = 0) -> None:
        """VM_UNBIND's first phase, under ``vm_bind_lock``: the checks, then the VMA off
        the tree and the bound list (notes A3: the logical removal)."""
        a = VmUnbindArgs(vm_id, rsvd, start, length, (rsvd2_0, rsvd2_1, rsvd2_2), extensions)

        def body() -> None:
            for vm in self.vms.values():
                if thread in vm.unbinding:
                    raise Busy(f"{thread} is unbinding already")
            vm, vma = self._unbind_find(a)
            vm.unbinding[thread] = vma
        self._act("UnbindBegin", {"thread": thread, **_flat_unbind(a)}, body)

    def unbind_end(self, thread: str) -> None:
        """VM_UNBIND's second phase, under the object lock once ``vm_bind_lock`` is
        dropped: the VMA destroyed -- its drm_mm node freed, its GEM reference put."""
        def body() -> None:
            vm = next((v for v in self.vms.values() if thread in v.unbinding), None)
            if vm is None:
                raise Busy(f"{thread} has no unbind in flight")
            vma = vm.unbinding.pop(thread)
            self.gems[vma.handle].refs -= 1
        self._act("UnbindEnd", {"thread": thread}, body)

    def _unbind(self, a: VmUnbindArgs) -> None:
        _, vma = self._unbind_find(a)
        self.gems[vma.handle].refs -= 1

    def _unbind_find(self, a: VmUnbindArgs) -> tuple[Vm, Vma]:
        """The checks of VM_UNBIND and the logical removal: the VM and the VMA."""
        _widths(("vm_id", a.vm_id, 32), ("rsvd", a.rsvd, 32), ("start", a.start, 64),
                ("length", a.length, 64), *((f"rsvd2[{i}]", x, 64) for i, x in enumerate(a.rsvd2)),
                ("extensions", a.extensions, 64))
        if a.rsvd or any(a.rsvd2) or a.extensions:
            raise InvalidArgument("a reserved field or extensions is nonzero")
        vm = self.vms.get(a.vm_id)
        if vm is None:
            raise NotFound(f"no VM {a.vm_id}")
        start = noncanonical(a.start)
        if self.profile == "fixed":
            vma = next((x for x in vm.tree if x.start == start), None)
        else:
            vma = next((x for x in vm.tree if x.start <= start <= x.last), None)
        if vma is None:
            raise NotFound(f"no VMA at {start:#x}")
        if vma.length != a.length:
            raise InvalidArgument(f"the VMA at {vma.start:#x} is {vma.length:#x} long, "
                                  f"not {a.length:#x}")
        vm.bound.remove(vma)
        vm.tree.remove(vma)
        return vm, vma

    def vm_release(self, vm: str) -> None:
        """The VM's last reference: ``i915_gem_vm_unbind_all`` then the VM is gone."""
        def body() -> None:
            v = self.vms.get(int(vm)) if vm.isascii() and vm.isdigit() and str(int(vm)) == vm \
                else None
            if v is None:
                raise NotFound(f"no VM {vm}")
            if v.unbinding:
                raise Busy(f"VM {vm}: an unbind in flight holds a VM reference")
            for vma in list(v.bound):
                v.tree.remove(vma)
                self.gems[vma.handle].refs -= 1
            v.bound.clear()
            del self.vms[int(vm)]
        self._act("VmRelease", {"vm": vm}, body)


def _widths(*fields: tuple[str, int, int]) -> None:
    """A field's value must fit its C type (``u32``/``u64``): an ioctl cannot carry more."""
    for name, value, bits in fields:
        if not 0 <= value < 1 << bits:
            raise InvalidArgument(f"{name} = {value} does not fit a u{bits}")


def _flat_bind(a: VmBindArgs) -> dict[str, Any]:
    return {"vm_id": a.vm_id, "handle": a.handle, "start": a.start, "offset": a.offset,
            "length": a.length, "rsvd_0": a.rsvd[0], "rsvd_1": a.rsvd[1], "rsvd_2": a.rsvd[2],
            "rsvd2_0": a.rsvd2[0], "rsvd2_1": a.rsvd2[1], "extensions": a.extensions}


def _flat_unbind(a: VmUnbindArgs) -> dict[str, Any]:
    return {"vm_id": a.vm_id, "rsvd": a.rsvd, "start": a.start, "length": a.length,
            "rsvd2_0": a.rsvd2[0], "rsvd2_1": a.rsvd2[1], "rsvd2_2": a.rsvd2[2],
            "extensions": a.extensions}


def check_i915(s: I915System) -> None:
    """Notes A5, after every step.

    DisjointInv (A5.1): a VM's VMAs are pairwise disjoint; DrmMmInv: so are
    its drm_mm nodes (the tree's VMAs and those still being unbound);
    BoundListInv (A5.2): a VMA is on the bound list iff it is in the tree;
    GemRefInv (A5.3): an object's references are 1 + its persistent VMAs,
    counting those still being unbound; InVmInv: every VMA lies inside the
    48-bit VM, 4 KiB aligned, inside its object.
    """
    per_gem: dict[int, int] = dict.fromkeys(s.gems, 0)
    for v, vm in s.vms.items():
        tree = sorted(vm.tree, key=lambda x: x.start)
        for x, y in itertools.pairwise(tree):
            if y.start <= x.last:
                raise InvariantViolation("DisjointInv", f"VM {v}: [{x.start:#x}, "
                                         f"{x.last:#x}] and [{y.start:#x}, {y.last:#x}] overlap")
        key = lambda x: (x.start, x.length, x.handle, x.offset)  # noqa: E731
        if sorted(map(key, vm.tree)) != sorted(map(key, vm.bound)):
            raise InvariantViolation("BoundListInv", f"VM {v}: the tree holds "
                                     f"{len(vm.tree)} VMA(s), the bound list {len(vm.bound)}")
        for x in vm.tree:
            g = s.gems.get(x.handle)
            if g is None or x.length == 0 or x.start % PAGE or x.last >= 1 << VA_BITS \
                    or x.offset + x.length > g.size:
                raise InvariantViolation("InVmInv", f"VM {v}: the VMA [{x.start:#x}, "
                                         f"+{x.length:#x}) of {x.handle} at {x.offset:#x}")
            per_gem[x.handle] += 1
        nodes = sorted(vm.reserved(), key=lambda x: x.start)
        for x, y in itertools.pairwise(nodes):
            if y.start <= x.last:
                raise InvariantViolation("DrmMmInv", f"VM {v}: the drm_mm nodes [{x.start:#x}, "
                                         f"{x.last:#x}] and [{y.start:#x}, {y.last:#x}] overlap")
        for x in vm.unbinding.values():
            per_gem[x.handle] = per_gem.get(x.handle, 0) + 1
    for h, g in s.gems.items():
        if g.refs != 1 + per_gem[h]:
            raise InvariantViolation("GemRefInv", f"GEM {h}: {g.refs} reference(s), expected "
                                     f"{1 + per_gem[h]} (the handle + {per_gem[h]} VMA(s))")
