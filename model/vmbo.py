"""drm_gpuvm_bo: the VM/GEM combination, over several VMs and GEM objects.

:class:`VmBoSystem` is one component holding some VMs (each a
:class:`~model.vaspace.VaSpace`, upstream split/merge), some GEM objects and
some jobs (nouveau-style bind jobs that hold vm_bo handles), and the vm_bos
that tie them together.  A vm_bo is named ``(vm, gem, n)``: ``n`` is the
lowest number no existing vm_bo of that VM and GEM has, so two vm_bos of one
pair (which one profile can make) are told apart, and the names are the
same in the model and the spec.

References (C5 of the notes):

- a vm_bo's ``kref`` is one per VA on its list plus one per handle a job
  holds; it is destroyed when that reaches 0 (or, after a deferred put, when
  the VM's cleanup runs);
- each vm_bo holds one reference on its GEM (``gems[g].ref`` is 1 for the
  user's handle plus one per vm_bo);
- with the upstream profile, each vm_bo and each inserted VA holds one on
  its VM (``vms[v].ref`` is 1 for the user's handle plus those); the VM is
  freed at the last one.

Freed objects stay in the model, marked freed: touching one -- a put, a
link, a list walk -- raises :class:`~model.errors.InvariantViolation`
``NoUseAfterFreeInv`` naming it, never a Python error.  Destroying a vm_bo
whose VA list is not empty or that is still listed is ``VmBoDestroyInv``
(seed 003's destroy checks nothing; the model does).  Locks are tracked
(the GEM's resv, the VM's resv): the list operations assert the one the
kernel asserts, ``LockHeldInv`` when it is not held.

Actions (:data:`VOCABULARY`): ``Obtain``, ``ObtainPrealloc``, ``Map``,
``Unmap``, ``Put``, ``PutDeferred``, ``UnmapOpsCreate``, ``ExtobjAdd``,
``Evict``, ``Validate``, ``VmPut``, and the internal ``DeferredCleanup``
(a worker's step no trace logs).  Every rejected call leaves the whole
state exactly as it was.
"""

from __future__ import annotations

import copy
import dataclasses
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Self

from model.actions import BOOL, NAME, U64, Action, Param, Vocabulary
from model.errors import GpuVmError, InvalidArgument, InvariantViolation, NotFound, NotSupported
from model.gpuva import Va
from model.ops import Map, Op, Remap, Unmap
from model.trace import NOP, Event, Tracer
from model.vaspace import VaSpace
from model.vmbo_profiles import VmBoProfile, vmbo_profile

SYSTEM = "vmbo"

_JOB, _VM, _GEM = Param("job", NAME), Param("vm", NAME), Param("gem", NAME)
_ADDR, _RANGE = Param("addr", U64), Param("range", U64, py="range_")

#: The actions of the vm_bo system, in the spec's argument order (``specs/VmBo``).
VOCABULARY = Vocabulary(SYSTEM, (
    Action("Obtain", "obtain", (_JOB, _VM, _GEM), ("ENOENT",),
           "find (+1) or create the vm_bo of (vm, gem); the job holds the handle"),
    Action("ObtainPrealloc", "obtain_prealloc", (_JOB, _VM, _GEM), ("ENOENT",),
           "create one, then keep the existing vm_bo (+1) and drop it, or keep it"),
    Action("Map", "map", (_JOB, _VM, _ADDR, _RANGE, _GEM, Param("offset", U64)),
           ("EINVAL", "ENOENT"),
           "sm_map in the VM, linking the new VA to the job's vm_bo of (vm, gem)"),
    Action("Unmap", "unmap", (_VM, _ADDR, _RANGE), ("EINVAL", "ENOENT"),
           "sm_unmap in the VM, unlinking what it removes"),
    Action("Put", "put_handle", (_JOB, _VM, _GEM), ("EINVAL", "ENOENT"),
           "the job drops its (first) handle of (vm, gem)"),
    Action("PutDeferred", "put_deferred", (_JOB, _VM, _GEM),
           ("EINVAL", "ENOENT", "EOPNOTSUPP"),
           "the same in immediate mode: at refcount 0 the vm_bo waits for cleanup"),
    Action("UnmapOpsCreate", "unmap_ops_create", (_VM, _GEM), ("ENOENT",),
           "the UNMAP ops of every VA of gem in vm (bo_unmap_ops_create)"),
    Action("ExtobjAdd", "extobj_add", (_JOB, _VM, _GEM), ("EINVAL", "ENOENT", "EOPNOTSUPP"),
           "put the job's vm_bo of (vm, gem) on the VM's extobj list if gem is external"),
    Action("Evict", "evict", (_GEM, Param("evict", BOOL)), ("ENOENT", "EOPNOTSUPP"),
           "the GEM moves out of (or back into) its placement: bo_evict on its vm_bos"),
    Action("Validate", "validate", (_VM,), ("ENOENT", "EOPNOTSUPP"),
           "exec: lock the VM's objects (prepare_objects) and revalidate the evicted"),
    Action("VmPut", "vm_put", (_VM,), ("ENOENT",), "the user drops the VM"),
    Action("DeferredCleanup", "deferred_cleanup", (_VM,), ("ENOENT", "EOPNOTSUPP"),
           "a worker frees the VM's vm_bos that reached refcount 0", internal=True),
))

VmBoId = tuple[str, str, int]



def _no_hook(lock: str, taken: bool) -> None:
    return None

@dataclass
class Gem:
    name: str
    #: the VM whose resv this GEM shares (a private GEM of that VM), or None: its own
    resv_of: str | None
    ref: int = 1
    evicted: bool = False

    @property
    def resv(self) -> str:
        return f"resv:{self.resv_of or self.name}"


@dataclass
class Vm:
    name: str
    space: VaSpace
    ref: int = 1
    user: bool = True
    freed: bool = False
    extobj: list[VmBoId] = field(default_factory=list)
    evict: list[VmBoId] = field(default_factory=list)
    deferred: list[VmBoId] = field(default_factory=list)

    @property
    def resv(self) -> str:
        return f"resv:{self.name}"


@dataclass
class VmBo:
    vm: str
    gem: str
    n: int
    kref: int = 1
    vas: list[Va] = field(default_factory=list)  # the linked VAs, in link order
    listed: bool = False  # on the GEM's list
    evicted: bool = False
    freed: bool = False

    @property
    def ident(self) -> VmBoId:
        return (self.vm, self.gem, self.n)


class VmBoSystem:
    """VMs, GEMs, jobs and their vm_bos, under one vm_bo profile."""

    def __init__(self, vms: Mapping[str, tuple[int, int]], gems: Mapping[str, str | None],
                 jobs: tuple[str, ...], *, profile: VmBoProfile | None = None,
                 list_mode: str = "spinlock", immediate: bool = False,
                 tracer: Tracer = NOP) -> None:
        if list_mode not in ("spinlock", "resv"):
            raise InvalidArgument(f"list_mode {list_mode!r} is spinlock or resv")
        self.profile: VmBoProfile = profile if profile is not None else vmbo_profile("upstream")
        self.list_mode = list_mode
        self.immediate = immediate
        self.tracer = tracer
        self.vms = {v: Vm(v, VaSpace(start, size)) for v, (start, size) in vms.items()}
        for g, owner in gems.items():
            if owner is not None and owner not in self.vms:
                raise InvalidArgument(f"GEM {g} shares the resv of {owner}, which is not a VM")
        self.gems = {g: Gem(g, owner) for g, owner in gems.items()}
        self.jobs: dict[str, list[VmBoId]] = {j: [] for j in jobs}
        self.vmbos: dict[VmBoId, VmBo] = {}
        #: (vm, va) -> the vm_bo whose list holds that VA
        self.holder: dict[tuple[str, Va], VmBoId] = {}
        #: the locks held around the current action (a sequential caller: none)
        self.held: set[str] = set()
        #: told of every lock an action takes that its caller did not hold: (lock,
        #: taken?) -- a concurrent program forwards it to the lock checker
        self.lock_hook: Callable[[str, bool], None] = _no_hook
        self._config = {"vms": {v: list(r) for v, r in vms.items()}, "gems": dict(gems),
                        "jobs": list(jobs), "profile": self.profile.name,
                        "list_mode": list_mode, "immediate": immediate}

    # ------------------------------------------------------ component protocol

    def config(self) -> dict[str, Any]:
        return copy.deepcopy(self._config)

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> Self:
        """A fresh system from :meth:`config`'s data; ``-EINVAL`` for a bad one."""
        known = {"vms", "gems", "jobs", "profile", "list_mode", "immediate"}
        if set(config) - known or not {"vms", "gems", "jobs"} <= set(config):
            raise InvalidArgument(f"a vm_bo config has {sorted(known)}, not {sorted(config)}")
        vms, gems, jobs = config["vms"], config["gems"], config["jobs"]
        ok = (isinstance(vms, dict) and isinstance(gems, dict) and isinstance(jobs, list)
              and all(type(k) is str and isinstance(r, list) and len(r) == 2
                      and all(type(x) is int for x in r) for k, r in vms.items())
              and all(type(k) is str and (o is None or type(o) is str) for k, o in gems.items())
              and all(type(j) is str for j in jobs)
              and type(config.get("immediate", False)) is bool)
        if not ok:
            raise InvalidArgument("vms: {name: [mm_start, mm_range]}, gems: {name: vm|null}, "
                                  "jobs: [name], immediate: bool")
        profile = config.get("profile", "upstream")
        mode = config.get("list_mode", "spinlock")
        if type(profile) is not str or type(mode) is not str:
            raise InvalidArgument("profile and list_mode are names")
        return cls({v: (r[0], r[1]) for v, r in vms.items()}, gems, tuple(jobs),
                   profile=vmbo_profile(profile), list_mode=mode,
                   immediate=config.get("immediate", False))

    def abstract(self) -> dict[str, Any]:
        """``vmbos``, ``vas``, ``handles``, ``gems``, ``vms`` (freed objects are gone)."""
        return {
            "vmbos": [{"vm": b.vm, "gem": b.gem, "n": b.n, "kref": b.kref,
                       "vas": [va.addr for va in b.vas],
                       "listed": b.listed, "extobj": b.ident in self.vms[b.vm].extobj,
                       "evict": b.ident in self.vms[b.vm].evict, "evicted": b.evicted}
                      for _, b in sorted(self.vmbos.items()) if not b.freed],
            "vas": {v: [va.to_json() for va in vm.space] for v, vm in self.vms.items()},
            "handles": {j: [list(h) for h in hs] for j, hs in self.jobs.items()},
            "gems": {g: {"ref": o.ref, "evicted": o.evicted} for g, o in self.gems.items()},
            "vms": {v: {"ref": vm.ref, "user": vm.user, "alive": not vm.freed}
                    for v, vm in self.vms.items()},
        }

    def restore(self, abstract: Mapping[str, Any]) -> None:
        """Make the system hold exactly ``abstract``; ``-EINVAL`` (nothing changes)
        if it is not a state of this configuration."""
        fresh = type(self).from_config(self._config)
        try:
            fresh._load(abstract)
        except (KeyError, TypeError, ValueError, IndexError) as e:
            raise InvalidArgument(f"not a vm_bo state: {type(e).__name__}: {e}") from None
        self.vms, self.gems, self.jobs = fresh.vms, fresh.gems, fresh.jobs
        self.vmbos, self.holder, self.held = fresh.vmbos, fresh.holder, set()

    def _load(self, a: Mapping[str, Any]) -> None:
        if set(a) != {"vmbos", "vas", "handles", "gems", "vms"}:
            raise ValueError(f"variables {sorted(a)}")
        for v, raw in a["vms"].items():
            vm = self.vms[v]
            vm.ref, vm.user, vm.freed = int(raw["ref"]), bool(raw["user"]), not raw["alive"]
        for v, vas in a["vas"].items():
            self.vms[v].space.restore({"vas": vas})
        for g, raw in a["gems"].items():
            self.gems[g].ref, self.gems[g].evicted = int(raw["ref"]), bool(raw["evicted"])
        for raw in a["vmbos"]:
            vm = self.vms[raw["vm"]]
            vas = [self._va_at(vm, int(addr)) for addr in raw["vas"]]
            b = VmBo(raw["vm"], raw["gem"], int(raw["n"]), int(raw["kref"]), vas,
                     bool(raw["listed"]), bool(raw["evicted"]))
            if b.gem not in self.gems or b.ident in self.vmbos:
                raise ValueError(f"vm_bo {raw}")
            self.vmbos[b.ident] = b
            for va in b.vas:
                self.holder[(b.vm, va)] = b.ident
            if raw["extobj"]:
                self.vms[b.vm].extobj.append(b.ident)
            if raw["evict"]:
                self.vms[b.vm].evict.append(b.ident)
            if b.kref == 0:
                self.vms[b.vm].deferred.append(b.ident)
        for j, hs in a["handles"].items():
            self.jobs[j] = [(h[0], h[1], int(h[2])) for h in hs]

    # ------------------------------------------------------------- helpers

    @contextmanager
    def locked(self, *locks: str) -> Iterator[None]:
        """Hold ``locks`` (resv names) for the body: a sequential model's lock scope."""
        taken = [lk for lk in locks if lk not in self.held]
        self.held.update(taken)
        for lk in taken:
            self.lock_hook(lk, True)
        try:
            yield
        finally:
            self.held.difference_update(taken)
            for lk in reversed(taken):
                self.lock_hook(lk, False)

    def list_lock(self, vm: Vm) -> str:
        """What guards ``vm``'s extobj and evict lists: its resv
        (``DRM_GPUVM_RESV_PROTECTED``) or the lists' spinlock."""
        return vm.resv if self.list_mode == "resv" else f"list_lock:{vm.name}"

    def assert_held(self, lock: str, what: str) -> None:
        if lock not in self.held:
            raise InvariantViolation("LockHeldInv", f"{what} without holding {lock}")

    def live(self, ident: VmBoId, what: str) -> VmBo:
        b = self.vmbos.get(ident)
        if b is None:
            raise InvariantViolation("NoUseAfterFreeInv", f"{what}: vm_bo {ident} never existed")
        if b.freed:
            raise InvariantViolation("NoUseAfterFreeInv", f"{what}: vm_bo {ident} is freed")
        return b

    def _vm(self, name: str) -> Vm:
        vm = self.vms.get(name)
        if vm is None:
            raise NotFound(f"no VM {name!r}")
        if vm.freed or not vm.user:
            raise NotFound(f"VM {name} is no longer the user's")
        return vm

    def _gem(self, name: str) -> Gem:
        if name not in self.gems:
            raise NotFound(f"no GEM {name!r}")
        return self.gems[name]

    def _job(self, name: str) -> list[VmBoId]:
        if name not in self.jobs:
            raise NotFound(f"no job {name!r}")
        return self.jobs[name]

    def _handle(self, job: str, vm: str, gem: str) -> int:
        """The index of the job's first handle of (vm, gem); ``-EINVAL`` if it has none."""
        for i, h in enumerate(self._job(job)):
            if h[0] == vm and h[1] == gem:
                return i
        raise InvalidArgument(f"job {job} holds no vm_bo of ({vm}, {gem})")

    def vm_ref(self, vm: str, delta: int) -> None:
        """A reference on the VM taken or dropped (the profile says if it counts)."""
        self.profile.vm_ref(self, self.vms[vm], delta)

    def free_vm(self, v: Vm) -> None:
        """The VM's last reference went: it must hold no VA and be on no list."""
        if len(v.space) or v.extobj or v.evict or v.deferred:
            raise InvariantViolation("VmFreeInv", f"VM {v.name} freed with "
                                     f"{len(v.space)} VA(s) and lists "
                                     f"{v.extobj}, {v.evict}, {v.deferred}")
        v.freed = True

    # ----------------------------------------------------- vm_bo primitives

    def search(self, vm: str, gem: str) -> VmBo | None:
        """The first vm_bo of ``vm`` on ``gem``'s list (``__drm_gpuvm_bo_find``)."""
        self.assert_held(self.gems[gem].resv, "searching the GEM's vm_bo list")
        for b in self.vmbos.values():
            if b.listed and b.vm == vm and b.gem == gem and not b.freed and b.kref > 0:
                return b
        return None

    def published(self, gem: str) -> list[VmBo]:
        return [b for b in self.vmbos.values() if b.listed and b.gem == gem and not b.freed]

    def find(self, vm: str, gem: str) -> VmBo | None:
        """``drm_gpuvm_bo_find``: the vm_bo, +1, or None."""
        b = self.search(vm, gem)
        if b is not None:
            b.kref += 1
        return b

    def create(self, vm: str, gem: str) -> VmBo:
        """A new vm_bo (kref 1) on no list; +1 on its GEM (and, upstream, its VM)."""
        n = 1
        while (vm, gem, n) in self.vmbos and not self.vmbos[(vm, gem, n)].freed:
            n += 1
        b = VmBo(vm, gem, n)
        self.vmbos[b.ident] = b
        self.gems[gem].ref += 1
        self.vm_ref(vm, +1)
        return b

    def publish(self, b: VmBo) -> None:
        self.assert_held(self.gems[b.gem].resv, "adding to the GEM's vm_bo list")
        b.listed = True

    def get(self, b: VmBo) -> None:
        self.live(b.ident, "get").kref += 1

    def put_ref(self, b: VmBo, deferred: bool = False) -> None:
        """Drop one reference; destroy at zero (or, deferred, leave it for cleanup)."""
        self.live(b.ident, "put")
        if b.kref <= 0:
            raise InvariantViolation("KrefInv", f"put of {b.ident} at refcount {b.kref}")
        b.kref -= 1
        if b.kref:
            return
        if deferred:
            self.assert_held(self.gems[b.gem].resv, "a deferred put")
            b.listed = False  # off the GEM's list at once: find no longer sees it
            vm = self.vms[b.vm]
            if self.list_mode == "spinlock":
                self._list_del(vm, b)
            vm.deferred.append(b.ident)
            return
        self.destroy(b)

    def _list_del(self, vm: Vm, b: VmBo) -> None:
        if self.list_mode == "resv":
            self.assert_held(vm.resv, "changing the VM's extobj/evict lists")
        for lst in (vm.extobj, vm.evict):
            if b.ident in lst:
                lst.remove(b.ident)

    def destroy(self, b: VmBo) -> None:
        """``drm_gpuvm_bo_destroy``: off every list, freed, its VM and GEM put."""
        if b.vas:
            raise InvariantViolation("VmBoDestroyInv", f"vm_bo {b.ident} destroyed with VAs "
                                     f"{b.vas} still on its list")
        vm = self.vms[b.vm]
        if vm.freed:
            raise InvariantViolation("NoUseAfterFreeInv", f"destroying vm_bo {b.ident} reads "
                                     f"its VM {b.vm}, which is freed")
        self._list_del(vm, b)
        if b.ident in vm.deferred:
            vm.deferred.remove(b.ident)
        if b.listed:
            self.assert_held(self.gems[b.gem].resv, "removing from the GEM's vm_bo list")
            b.listed = False
        b.freed = True
        self.vm_ref(b.vm, -1)
        self.gems[b.gem].ref -= 1

    def link(self, vm: str, va: Va, b: VmBo) -> None:
        """``drm_gpuva_link``: +1 on the vm_bo, the VA on its list."""
        self.live(b.ident, "link")
        self.assert_held(self.gems[b.gem].resv, "linking a VA")
        b.kref += 1
        b.vas.append(va)
        self.holder[(vm, va)] = b.ident
        self.profile.on_link(self, b)

    def detach(self, vm: str, va: Va) -> VmBo | None:
        """Take ``va`` off whatever vm_bo list holds it; that vm_bo (or None)."""
        ident = self.holder.pop((vm, va), None)
        if ident is None:
            return None
        b = self.live(ident, "unlink")
        b.vas.remove(va)
        return b

    # -------------------------------------------------------------- actions

    def _act(self, name: str, args: dict[str, Any], body: Any) -> Any:
        """Run ``body`` all or nothing: on an errno every object is as before."""
        saved = self._snapshot()
        try:
            result = body()
        except GpuVmError as err:
            self._rollback(saved)
            self.held.clear()
            self.tracer.event(Event(SYSTEM, name, args, None, err.errno_name))
            raise
        self.tracer.event(Event(SYSTEM, name, args, result))
        return result

    def _snapshot(self) -> tuple[Any, ...]:
        """Everything an action may change, copied (VAs and names are values)."""
        vms = {v: (dataclasses.replace(vm, extobj=list(vm.extobj), evict=list(vm.evict),
                                       deferred=list(vm.deferred)), vm.space.abstract())
               for v, vm in self.vms.items()}
        return (vms, {g: dataclasses.replace(o) for g, o in self.gems.items()},
                {j: list(hs) for j, hs in self.jobs.items()},
                {i: dataclasses.replace(b, vas=list(b.vas)) for i, b in self.vmbos.items()},
                dict(self.holder))

    def _rollback(self, saved: tuple[Any, ...]) -> None:
        vms, self.gems, self.jobs, self.vmbos, self.holder = saved
        for v, (vm, space) in vms.items():
            vm.space.restore(space)
            self.vms[v] = vm

    def obtain(self, job: str, vm: str, gem: str) -> VmBoId:
        """Action ``Obtain``: under the GEM's resv, find (+1) or create the vm_bo."""
        def body() -> VmBoId:
            handles, g = self._job(job), self._gem(gem)
            self._vm(vm)
            with self.locked(g.resv):
                b = self.find(vm, gem)
                if b is None:
                    b = self.create(vm, gem)
                    self.profile.on_obtain(self, b)
            handles.append(b.ident)
            return b.ident
        return self._act("Obtain", {"job": job, "vm": vm, "gem": gem}, body)  # type: ignore[no-any-return]

    def obtain_prealloc(self, job: str, vm: str, gem: str) -> VmBoId:
        """Action ``ObtainPrealloc``: allocate first, then keep the found one or this."""
        def body() -> VmBoId:
            handles, g = self._job(job), self._gem(gem)
            self._vm(vm)
            pre = self.create(vm, gem)
            with self.locked(g.resv, self.vms[vm].resv):
                b = self.find(vm, gem)
                if b is not None:
                    self.put_ref(pre)
                else:
                    b = pre
                    self.profile.on_obtain(self, b)
            handles.append(b.ident)
            return b.ident
        return self._act("ObtainPrealloc", {"job": job, "vm": vm, "gem": gem}, body)  # type: ignore[no-any-return]

    def map(self, job: str, vm: str, addr: int, range_: int, gem: str, offset: int) -> list[Op]:
        """Action ``Map``: sm_map in ``vm``, the new VA linked to the job's vm_bo."""
        args = {"job": job, "vm": vm, "addr": addr, "range": range_, "gem": gem,
                "offset": offset}

        def body() -> list[Op]:
            v, g = self._vm(vm), self._gem(gem)
            handle = self.jobs[job][self._handle(job, vm, gem)]
            target = self.live(handle, "map")
            ops = v.space.sm_map(addr, range_, gem, offset)
            self._apply(v, ops, target, g)
            return ops
        return self._act("Map", args, body)  # type: ignore[no-any-return]

    def unmap(self, vm: str, addr: int, range_: int) -> list[Op]:
        """Action ``Unmap``: sm_unmap in ``vm``, unlinking what it removes."""
        def body() -> list[Op]:
            v = self._vm(vm)
            ops = v.space.sm_unmap(addr, range_)
            self._apply(v, ops, None, None)
            return ops
        return self._act("Unmap", {"vm": vm, "addr": addr, "range": range_}, body)  # type: ignore[no-any-return]

    def _apply(self, v: Vm, ops: list[Op], target: VmBo | None, gem: Gem | None) -> None:
        """Apply an op list to the VM and its vm_bos (nouveau's bind_link_gpuvas order),
        holding the VM's resv as a bind job does (a last put may destroy a vm_bo)."""
        with self.locked(v.resv):
            self._apply_locked(v, ops, target, gem)

    def _apply_locked(self, v: Vm, ops: list[Op], target: VmBo | None, gem: Gem | None
                      ) -> None:
        for op in ops:
            if isinstance(op, Map):
                assert target is not None and gem is not None
                va = op.va()
                v.space.apply([op])
                self.vm_ref(v.name, +1)
                with self.locked(gem.resv):
                    self.link(v.name, va, target)
            elif isinstance(op, Remap):
                old = op.unmap.va
                assert old.gem is not None
                pieces = [p.va() for p in (op.prev, op.next) if p is not None]
                v.space.apply([op])
                self.vm_ref(v.name, len(pieces) - 1)
                with self.locked(self.gems[old.gem].resv):
                    self.profile.remap(self, v.name, old, pieces)
            elif isinstance(op, Unmap):
                va = op.va
                assert va.gem is not None
                v.space.apply([op])
                with self.locked(self.gems[va.gem].resv):
                    self.profile.unlink(self, v.name, va)
                self.vm_ref(v.name, -1)

    def put_handle(self, job: str, vm: str, gem: str) -> None:
        """Action ``Put``: the job drops its first handle of (vm, gem)."""
        self._put_action(job, vm, gem, False)

    def put_deferred(self, job: str, vm: str, gem: str) -> None:
        """Action ``PutDeferred``: the same; at refcount 0 the vm_bo waits for cleanup."""
        self._put_action(job, vm, gem, True)

    def _put_action(self, job: str, vm: str, gem: str, deferred: bool) -> None:
        name = "PutDeferred" if deferred else "Put"

        def body() -> None:
            if deferred:
                self._immediate()
            self._gem(gem)
            if vm not in self.vms:  # a job may put its handle after the user put the VM
                raise NotFound(f"no VM {vm!r}")
            i = self._handle(job, vm, gem)
            ident = self.jobs[job].pop(i)
            b = self.live(ident, name)
            with self.locked(self.gems[gem].resv, self.vms[vm].resv):
                self.put_ref(b, deferred)
        self._act(name, {"job": job, "vm": vm, "gem": gem}, body)

    def unmap_ops_create(self, vm: str, gem: str) -> list[Op]:
        """Action ``UnmapOpsCreate``: one UNMAP per VA of ``gem`` in ``vm``, in link order.

        Walks the vm_bo through ``drm_gem_for_each_gpuva`` (a find, +1) and puts
        that reference after the walk: no refcount changes.
        """
        def body() -> list[Op]:
            self._vm(vm)  # -ENOENT for an unknown VM
            g = self._gem(gem)
            with self.locked(g.resv):
                b = self.find(vm, gem)
                if b is None:
                    return []
                ops: list[Op] = [Unmap(va) for va in b.vas]
                self.put_ref(b)
            return ops
        return self._act("UnmapOpsCreate", {"vm": vm, "gem": gem}, body)  # type: ignore[no-any-return]

    @staticmethod
    def _va_at(v: Vm, addr: int) -> Va:
        va = v.space.find(addr, next((x.range for x in v.space if x.addr == addr), 0))
        if va is None:
            raise ValueError(f"a vm_bo of {v.name} lists the VA at {addr}, not in the VM")
        return va

    def extobj_add(self, job: str, vm: str, gem: str) -> bool:
        """Action ``ExtobjAdd``: the job's vm_bo joins the VM's extobj list if ``gem`` is
        external to ``vm`` (not sharing its resv) and is not on it yet."""
        def body() -> bool:
            self._lists(vm)
            b = self.live(self.jobs[job][self._handle(job, vm, gem)], "extobj_add")
            v, g = self.vms[vm], self.gems[gem]
            with self.locked(self.list_lock(v)):
                if self.list_mode == "resv":
                    self.assert_held(v.resv, "adding to the extobj list")
                if g.resv != v.resv and b.ident not in v.extobj:
                    v.extobj.append(b.ident)
                    return True
            return False
        return self._act("ExtobjAdd", {"job": job, "vm": vm, "gem": gem}, body)  # type: ignore[no-any-return]

    def evict(self, gem: str, evict: bool) -> None:
        """Action ``Evict``: ``gem`` leaves (or regains) its placement; every vm_bo of it
        is marked, and joins (or leaves) its VM's evict list -- except, in resv mode,
        an external one, which ``Validate``'s ``prepare_objects`` lists later."""
        def body() -> None:
            self.profile.check_lists()
            g = self._gem(gem)
            with self.locked(g.resv):
                g.evicted = evict
                for b in self.published(gem):
                    if b.kref == 0:
                        continue
                    self.assert_held(g.resv, "bo_evict")
                    b.evicted = evict
                    v = self.vms[b.vm]
                    if self.list_mode == "resv" and b.ident in v.extobj:
                        continue
                    with self.locked(self.list_lock(v)):
                        if evict and b.ident not in v.evict:
                            v.evict.append(b.ident)
                        elif not evict and b.ident in v.evict:
                            v.evict.remove(b.ident)
        self._act("Evict", {"gem": gem, "evict": evict}, body)

    def validate(self, vm: str) -> list[str]:
        """Action ``Validate``: exec's ``drm_gpuvm_exec_lock`` + ``drm_gpuvm_validate``.

        Locks the VM's resv and every extobj's (skipping vm_bos at refcount 0),
        lists the evicted extobjs (resv mode), then revalidates every vm_bo on
        the evict list: its GEM is placed again and it leaves the list.  The
        result is the objects locked, sorted.
        """
        def body() -> list[str]:
            v = self._lists(vm)
            locked = {v.resv}
            with self.locked(v.resv):
                for ident in list(v.extobj):
                    b = self.live(ident, "prepare_objects")
                    if b.kref == 0:
                        continue
                    g = self.gems[b.gem]
                    locked.add(g.resv)
                    if self.list_mode == "resv" and b.evicted and ident not in v.evict:
                        v.evict.append(ident)
                for ident in list(v.evict):
                    b = self.live(ident, "validate")
                    if b.kref == 0:
                        continue
                    g = self.gems[b.gem]
                    with self.locked(g.resv):
                        g.evicted = False
                        for other in self.published(b.gem):
                            other.evicted = False
                    v.evict.remove(ident)
            return sorted(locked)
        return self._act("Validate", {"vm": vm}, body)  # type: ignore[no-any-return]

    def _lists(self, vm: str) -> Vm:
        self.profile.check_lists()
        return self._vm(vm)

    def _immediate(self) -> None:
        self.profile.check_lists()
        if not self.immediate:
            raise NotSupported("deferred vm_bo cleanup needs immediate mode")

    def vm_put(self, vm: str) -> None:
        """Action ``VmPut``: the user drops the VM.  Upstream, it is freed at its last
        reference; seed 003 frees it now, whatever still points at it."""
        def body() -> None:
            self.profile.vm_put(self, self._vm(vm))
        self._act("VmPut", {"vm": vm}, body)

    def deferred_cleanup(self, vm: str) -> None:
        """Action ``DeferredCleanup`` (internal): free the VM's vm_bos at refcount 0."""
        def body() -> None:
            self._immediate()
            if vm not in self.vms or self.vms[vm].freed:
                raise NotFound(f"no VM {vm!r}")
            v = self.vms[vm]
            with self.locked(v.resv):
                for ident in list(v.deferred):
                    b = self.live(ident, "deferred cleanup")
                    with self.locked(self.gems[b.gem].resv):
                        self.destroy(b)
        self._act("DeferredCleanup", {"vm": vm}, body)

