"""xe VM_BIND under concurrency: two binding threads, exec and the bind fences.

One xe device (``model.xe.XeSystem``): VM 1 in async bind mode, BO 1
external (its own resv), BO 2 private to VM 1 (it shares the VM's resv).
The threads take the kernel's locks as scheduler points around the model's
actions (notes B4 and seed 004's lock document: ``vm->lock -> mmap_lock ->
xe_vm.resv``; every create, parse, commit and execute asserts ``vm->lock``):

``t1``
    VM_BIND of MAP ``[0x10000, +0x4000)`` of BO 1: ``down_write(vm->lock)``,
    the BO's resv around the VMA's creation (it guards the GEM's gpuva
    list), the ioctl (create, parse, commit), then the execution of its ops:
    drm_exec over the VM's resv and BO 1's, a page-table write
    (``pt.entries``, guarded by the VM's resv) and one worker sub-step
    (``Work``) at a time until nothing is pending, then ``up_write`` and
    the job that signals the ioctl's out-fence is pushed;
``t2``
    the same for UNMAP ``[0x11000, +0x1000)`` (a REMAP of three sub-steps
    when ``t1``'s mapping is there);
``exec``
    ``down_read(vm->lock)``, drm_exec over the VM's resv and the resv of
    every object on the VM's extobj list (read under ``vm->lock``), the
    job fence added -- every object then on the list must be locked --
    ``up_read``;
``gpu``
    the page-table jobs: each pushed bind job's out-fence signalled in a
    fence-signalling section that takes no lock.

This is the upstream shape (binds executed in the ioctl, only the fence's
signalling deferred).  The model's invariants (``check_xe``: tree, page
tables, fences in order, the extobj list, the REMAP pieces) run after every
step.

Bad variants:

``seed_worker``
    seed 002's bind worker: the ioctl installs the out-fence and queues
    the ops; the worker -- the path that must run for that fence to signal,
    so a fence-signalling section -- takes ``down_write(vm->lock)`` and
    the resvs (``FenceSignallingInv``: any ``vm->lock`` holder waiting on a
    bind fence deadlocks against it);
``no_vm_resv``
    the page tables written with only ``vm->lock`` held (``LockHeldInv``,
    the protection table's ``pt.entries``);
``no_vm_lock``
    the ioctl's create/parse/commit without ``vm->lock`` (``LockHeldInv``
    at the assertion of notes B4);
``exec_resv_first``
    exec locking the VM's resv before ``vm->lock`` (``LockOrderInv``
    against the declared order);
``list_unlocked``
    exec reading the extobj list before ``down_read(vm->lock)``: a bind
    between the read and the lock adds an object exec then fences without
    locking (``ExecLocksExtobjInv``: every object on the list is locked
    when exec adds its fence; notes B5, missing resv locking).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from checks.sched.model_program import Gen, ModelProgram
from model.drm_exec import DrmExec
from model.errors import InvariantViolation
from model.locks import (
    DmaResv,
    Fence,
    RwSemaphore,
    WwClass,
    down_read,
    down_write,
    fence_signal,
    fence_wait,
    up_read,
    up_write,
    ww_lock,
    ww_unlock,
)
from model.program import KernelProgram, World
from model.sched import Point
from model.xe import ASYNC_VM, VOCABULARY, XeSystem
from model.xe_check import check_xe
from model.xe_uapi import OP_MAP, OP_UNMAP

ASYNC = 1 << 17
CLASSES = {"vm.lock": "xe_vm.lock", "resv:vm": "xe_vm.resv", "resv:1": "dma_resv"}
#: (thread, its op): BO 1 external, BO 2 private to VM 1
BINDS = (("t1", [1, 0, 0, 0x4000, 0x10000, 0, OP_MAP | ASYNC, 0, 0, 0]),
         ("t2", [0, 0, 0, 0x1000, 0x11000, 0, OP_UNMAP | ASYNC, 0, 0, 0]))


def _resv(bo: int, sys: XeSystem) -> str:
    return "resv:vm" if sys.bos[str(bo)][1] == ASYNC_VM else f"resv:{bo}"


def xe_program(*, seed_worker: bool = False, no_vm_resv: bool = False,
               no_vm_lock: bool = False, exec_resv_first: bool = False,
               list_unlocked: bool = False) -> ModelProgram:
    """The four threads over one device; the keywords select a bad variant."""
    def make(p: ModelProgram) -> World:
        sys = XeSystem({"1": (0x4000, 0), "2": (0x4000, ASYNC_VM)},
                       threads={t: [] for t, _ in BINDS})
        k = WwClass("reservation_ww_class")
        fences = {n: Fence(n) for n in ("pushed:1", "pushed:2", "bind:1", "bind:2")}
        res: dict[str, Any] = dict(fences)
        res["vm.lock"] = RwSemaphore("vm.lock")
        res.update({r: DmaResv(r, k, fences) for r in ("resv:vm", "resv:1")})
        w = World(vars={"system": sys}, resources=res)
        ioctls: list[int] = []

        def execute(thread: str) -> Gen:
            """Every pending op, one sub-step at a time, under the VM's and BOs' resvs."""
            vm = sys.vms[ASYNC_VM]
            while vm.pending:
                head = vm.pending[0]
                objs = ["resv:vm"] if not no_vm_resv else []
                if head.vma.gem is not None:
                    objs.append(_resv(int(head.vma.gem), sys))
                objs = list(dict.fromkeys(objs))
                ex = DrmExec(w, thread, k)
                while (yield from ex.cleanup()):
                    r = yield from ex.prepare_array(objs, 1)
                    if r == "EDEADLK":
                        continue
                yield Point("write", "pt.entries", "w", label=f"write the PTEs of op {head.id}")
                r = yield from p.act(thread, "Work", held=("vm.lock",))
                assert isinstance(r, int), f"{thread}: execute failed: {r}"
                yield from ex.fini()

        def bind(thread: str, op: list[int]) -> Gen:
            if not no_vm_lock:
                yield from down_write("vm.lock")
            bo = op[0]
            if bo:
                yield from ww_lock(_resv(bo, sys), None)
            fence = yield from p.act(thread, "VmBind", held=("vm.lock",), thread=thread,
                                     vm_id=ASYNC_VM, engine_id=0, ops=[op], syncs=[],
                                     extensions=0, reserved_0=0, reserved_1=0)
            assert isinstance(fence, int), f"{thread}'s VM_BIND failed: {fence}"
            if bo:
                yield from ww_unlock(_resv(bo, sys))
            if not seed_worker:
                yield from execute(thread)
            ioctls.append(fence)
            n = len(ioctls)
            if not no_vm_lock:
                yield from up_write("vm.lock")
            yield from fence_signal(f"pushed:{n}")

        def worker() -> Gen:
            """Seed 002's bind worker, once per queued ioctl."""
            for n in (1, 2):
                yield from fence_wait(f"pushed:{n}")
                yield Point("begin_signalling", label="the ops' out-fences are published")
                yield from down_write("vm.lock")
                yield from execute("worker")
                yield from up_write("vm.lock")
                yield from fence_signal(f"bind:{n}")
                yield Point("end_signalling", label="dma_fence_end_signalling()")

        def gpu() -> Gen:
            for n in (1, 2):
                yield from fence_wait(f"pushed:{n}")
                yield Point("begin_signalling", label="dma_fence_begin_signalling()")
                yield from fence_signal(f"bind:{n}")
                yield Point("end_signalling", label="dma_fence_end_signalling()")

        def exec_() -> Gen:
            if exec_resv_first:
                ex = DrmExec(w, "exec", k)
                while (yield from ex.cleanup()):
                    r = yield from ex.prepare_obj("resv:vm", 1)
                    if r == "EDEADLK":
                        continue
                yield from down_read("vm.lock")
                yield from ex.fini()
                yield from up_read("vm.lock")
                return
            if not list_unlocked:
                yield from down_read("vm.lock")
            yield Point("read", "xe state", "r", label="read VM 1's extobj list")
            ext = [_resv(int(e[0]), sys) for e in sys.vms[ASYNC_VM].extobj]
            if list_unlocked:
                yield from down_read("vm.lock")
            ex = DrmExec(w, "exec", k)
            while (yield from ex.cleanup()):
                r = yield from ex.prepare_array(["resv:vm", *dict.fromkeys(ext)], 1)
                if r == "EDEADLK":
                    continue
            yield Point("read", "xe state", "r", label="add the exec job's fence to the "
                        "locked resvs")
            missed = sorted({_resv(int(e[0]), sys) for e in sys.vms[ASYNC_VM].extobj}
                            - set(ex.locked))
            if missed:
                raise InvariantViolation("ExecLocksExtobjInv", f"exec fences the VM's objects "
                                         f"without {', '.join(missed)} locked (an extobj it "
                                         f"did not see)")
            yield from ex.fini()
            yield from up_read("vm.lock")

        w.threads = {t: bind(t, op) for t, op in BINDS}
        w.threads["exec"] = exec_()
        w.threads["worker" if seed_worker else "gpu"] = worker() if seed_worker else gpu()
        return w

    flags = [n for n, on in (("seed-worker", seed_worker), ("no-vm-resv", no_vm_resv),
                             ("no-vm-lock", no_vm_lock), ("exec-resv-first", exec_resv_first),
                             ("extobj-list-unlocked", list_unlocked)) if on]
    return ModelProgram("-".join(["xe", *flags]), make, check_xe, VOCABULARY, ("xe",),
                        CLASSES)


#: name -> (program factory, the finding expected: None for none)
XE: dict[str, tuple[Callable[[], KernelProgram], str | None]] = {
    "fixed": (xe_program, None),
    "seed-worker": (lambda: xe_program(seed_worker=True), "FenceSignallingInv"),
    "execute-without-vm-resv": (lambda: xe_program(no_vm_resv=True), "LockHeldInv"),
    "bind-without-vm-lock": (lambda: xe_program(no_vm_lock=True), "LockHeldInv"),
    "exec-resv-before-vm-lock": (lambda: xe_program(exec_resv_first=True), "LockOrderInv"),
    "exec-reads-extobj-unlocked": (lambda: xe_program(list_unlocked=True),
                                   "ExecLocksExtobjInv"),
}
