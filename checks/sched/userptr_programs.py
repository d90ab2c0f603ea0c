"""xe userptr under concurrency: the mm, the binder, the rebind worker or fault handler,
the PT jobs and the GPU, with the kernel's locks and the lock checker (seed 004).

One VM with userptrs ``u1`` (pages 0-1) and ``u2`` (pages 1-2) over an mm
of three pages (``model.userptr.UserptrSystem``, upstream profile).  Each
model step is a scheduler point on the resource ``model``
(:class:`ModelSteps`): it can be taken exactly when the model can take it,
so a step that waits (``read_begin`` during an invalidation, the callback's
fence wait, the worker waiting for the preemption) blocks the thread, and
the model's invariants (``check_userptr``) run after every step.  Around
the steps each thread takes the locks of notes 4.1-4.3 (order ``vm->lock ->
mmap_lock -> VM resv -> notifier_lock -> invalidated_lock``):

``mm``
    an unmap of page 1 under ``mmap_lock`` (write), or (``reclaim``) a
    migration from reclaim (no ``mmap_lock``, inside ``fs_reclaim``); the
    callbacks run inside the mmu-notifier section and take only the
    notifier lock (write) and ``invalidated_lock``, and wait on fences;
``bind``
    VM_BIND of each userptr: ``vm->lock`` (write), populate under
    ``mmap_lock`` (read; ``hmm_range_fault`` asserts it), the VM's resv,
    the notifier lock (read) around the check and the commit;
``worker`` (lr) / ``fault`` (fault mode)
    the rebind worker once the job is preempted (``vm->lock``, populate,
    the rebinds under the resv and the notifier lock, the resume check), or
    the GPU fault handler for each userptr the GPU faults on;
``pt``
    the PT jobs, each run in a fence-signalling section;
``gpu``
    a write and a read of page 1 through each userptr.

Bad variants: ``profile="seed"`` (populate builds the sg from the frames
``hmm_range_fault`` returned, which the unmap may have freed by then --
``SgLiveInv``, A10: the model's invariant, reached by an interleaving); and
each a rule of notes 4.3 or R20, found by the lock checker:
``no_mmap_lock`` (R20: populate calls ``hmm_range_fault`` without
``mmap_lock`` -- ``LockHeldInv``), ``callback_takes_resv`` (the callback
locks the VM's resv inside the notifier section -- ``LockOrderInv``),
``alloc_under_nl`` (a GFP_KERNEL allocation while holding the notifier lock,
with an invalidation from reclaim -- ``ReclaimInv``), ``pt_job_takes_nl``
(a PT job taking the notifier lock in its signalling section --
``FenceSignallingInv``).
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

from checks.sched.model_program import Gen, ModelProgram
from model.errors import GpuVmError
from model.lock_table import MMU_NOTIFIER
from model.locks import (
    DmaResv,
    RwSemaphore,
    Spinlock,
    WwClass,
    down_read,
    down_write,
    spin_lock,
    spin_unlock,
    up_read,
    up_write,
    ww_lock,
    ww_unlock,
)
from model.program import KernelProgram, World
from model.sched import Point, Result
from model.trace import NOP
from model.userptr import VOCABULARY, UserptrSystem
from model.userptr_check import check_userptr

CLASSES = {"vm.lock": "xe_vm.lock", "mmap_lock": "mmap_lock", "resv:vm": "xe_vm.resv",
           "notifier_lock": "userptr.notifier_lock",
           "invalidated_lock": "userptr.invalidated_lock"}


class ModelSteps:
    """The resource ``model``: a step point is enabled iff the model can take it now."""

    sleeping = True

    def __init__(self, system: UserptrSystem) -> None:
        self.name = "model"
        self.system = system
        self.version = 0                      # bumped by every step taken
        self._known: dict[tuple[int, str, str], bool] = {}

    def _try(self, point: Point) -> bool:
        action, args = point.arg[:2]
        if action == "":          # a wait for a condition of the program's state
            return bool(args())
        if len(point.arg) == 3 and point.arg[2]():
            return True           # a step to take if it can be, given up once this holds
        return self._can(action, args)

    def _can(self, action: str, args: dict[str, Any]) -> bool:
        key = (self.version, action, repr(sorted(args.items())))
        if key not in self._known:
            self._known = {k: v for k, v in self._known.items() if k[0] == self.version}
            self._known[key] = self._try_on_copy(action, args)
        return self._known[key]

    def _try_on_copy(self, action: str, args: dict[str, Any]) -> bool:
        trial = copy.deepcopy(self.system)   # tried on a copy: the threads' view stays
        trial.tracer = NOP
        try:
            VOCABULARY.perform(trial, action, dict(args))
        except GpuVmError:
            return False
        except Exception:         # an invariant the step breaks: it can happen
            pass
        return True

    def enabled(self, thread: str, point: Point) -> tuple[bool, Result]:
        return self._try(point), 0

    def perform(self, thread: str, point: Point, result: Result) -> None:
        action, args = point.arg[:2]
        if action and (len(point.arg) == 2 or self._can(action, args)):
            self.version += 1
            VOCABULARY.perform(self.system, action, dict(args))

    def waits_for(self, thread: str, point: Point) -> list[str]:
        return []


def step(action: str, **args: Any) -> Gen:
    """One model step, taken once the model can take it."""
    shown = ", ".join(f"{v}" for v in args.values())
    yield Point("write", "model", "w", (action, args), label=f"{action}({shown})")


def step_unless(action: str, give_up: Callable[[], bool], **args: Any) -> Gen:
    """The step once the model can take it, or nothing once ``give_up()`` holds."""
    shown = ", ".join(f"{v}" for v in args.values())
    yield Point("write", "model", "w", (action, args, give_up),
                label=f"{action}({shown}) unless nothing more comes")


def until(why: str, cond: Callable[[], bool]) -> Gen:
    """Wait until ``cond()`` holds (a condition of the model and the threads)."""
    yield Point("read", "model", "r", ("", cond), label=f"wait: {why}")


def userptr_program(mode: str = "lr", *, profile: str = "upstream", reclaim: bool = False,
                    no_mmap_lock: bool = False,
                    callback_takes_resv: bool = False, alloc_under_nl: bool = False,
                    pt_job_takes_nl: bool = False) -> ModelProgram:
    """The threads over one VM in ``mode``; the keywords select a bad variant."""
    def make(p: ModelProgram) -> World:
        sys = UserptrSystem(3, {"u1": [0, 2], "u2": [1, 3]}, mode=mode, max_inv=1,
                            profile=profile)
        k = WwClass("reservation_ww_class")
        w = World(vars={"system": sys}, resources={
            "model": ModelSteps(sys), "vm.lock": RwSemaphore("vm.lock"),
            "mmap_lock": RwSemaphore("mmap_lock"), "resv:vm": DmaResv("resv:vm", k, {}),
            "notifier_lock": RwSemaphore("notifier_lock"),
            "invalidated_lock": Spinlock("invalidated_lock")})
        page, event = 1, ("migrate" if reclaim else "unmap")
        done: set[str] = set()
        kernel = {"mm", "bind", "worker" if mode == "lr" else "fault"}

        def mm() -> Gen:
            if reclaim:
                yield Point("begin_reclaim", label="fs_reclaim_acquire(): kswapd migrates")
            else:
                yield from down_write("mmap_lock")
            yield from step("InvStart", p=page, ev=event)
            yield Point("map_acquire", MMU_NOTIFIER, label="invalidate_range_start")
            for u in sys.order:
                if u not in sys.mm.inv.pending:  # type: ignore[union-attr]
                    continue
                if callback_takes_resv:
                    yield from ww_lock("resv:vm", None)
                    yield from ww_unlock("resv:vm")
                yield from down_write("notifier_lock")
                yield from spin_lock("invalidated_lock")
                yield from step("Notify", u=u)
                yield from spin_unlock("invalidated_lock")
                yield from up_write("notifier_lock")
                if sys.cb[u] == "wait":
                    yield Point("wait", "model", "x", ("FenceWait", {"u": u}),
                                label=f"dma_resv_wait_timeout(BOOKKEEP) for {u}")
                if sys.cb[u] == "zap":
                    yield from step("Zap", u=u)
            yield Point("map_release", MMU_NOTIFIER, label="the callbacks returned")
            yield from step("CpuUpdate", p=page)
            yield from step("InvEnd", p=page)
            if reclaim:
                yield Point("end_reclaim", label="fs_reclaim_release()")
            else:
                yield from up_write("mmap_lock")
            done.add("mm")

        def populate(t: str, u: str) -> Gen:
            """PinBegin .. PinMap until populate has returned."""
            th = sys.threads[t]
            while th.cur == u and th.pc in ("pin", "start", "hmm", "map"):
                if th.pc in ("pin", "start"):
                    if not no_mmap_lock:
                        yield from down_read("mmap_lock")
                    yield from step("PinBegin", t=t, u=u)
                    if th.pc == "hmm":
                        yield Point("assert_held", "mmap_lock",
                                    label="mmap_assert_locked() in hmm_range_fault")
                        yield from step("PinFault", t=t, u=u)
                    if not no_mmap_lock:
                        yield from up_read("mmap_lock")
                elif th.pc == "hmm":
                    yield from step("PinTimeout", t=t, u=u)
                else:
                    yield from down_read("notifier_lock")
                    yield from step("PinMap", t=t, u=u)
                    yield from up_read("notifier_lock")

        def commit(t: str, u: str, steps: tuple[str, ...]) -> Gen:
            yield from ww_lock("resv:vm", None)
            yield from down_read("notifier_lock")
            if alloc_under_nl:
                yield Point("alloc", "", "GFP_KERNEL", label="kmalloc(GFP_KERNEL) under the "
                            "notifier lock")
            for s in steps:
                if s == "Commit":
                    yield Point("write", "pt.entries", "w", label=f"xe_pt_commit({u})")
                yield from step(s, t=t, u=u)
                if sys.threads[t].pc in ("start", "retry"):     # -EAGAIN from the check
                    break
            yield from up_read("notifier_lock")
            yield from ww_unlock("resv:vm")

        def bind() -> Gen:
            th = sys.threads["bind"]
            for u in sys.order:
                while th.cur == u and th.pc != "done":      # -EAGAIN: the user calls again
                    yield from down_write("vm.lock")
                    yield from populate("bind", u)
                    if th.cur == u:                         # else the ioctl failed
                        yield from commit("bind", u, ("NlRead", "Check", "Commit",
                                                      "NlUnlock"))
                    yield from up_write("vm.lock")
            done.add("bind")

        def quiet() -> bool:
            """No more invalidations or binds: the kernel's triggers are over."""
            return {"mm", "bind"} <= done

        def worker() -> Gen:
            for _ in range(3):
                yield from until("the job preempted, or nothing more to do",
                                 lambda: sys.job == "preempted" or quiet())
                if sys.job != "preempted":
                    break
                yield from down_write("vm.lock")
                yield from step("WorkerStart")
                th = sys.threads["worker"]
                while th.pc in ("pin", "rebind", "zap"):
                    if th.pc == "pin":
                        yield from populate("worker", th.cur)
                    elif th.pc == "rebind":
                        yield from commit("worker", th.cur, ("Rebind",))
                    else:
                        yield from step("RepinZap", t="worker", u=th.cur)
                if th.pc == "resume":
                    yield from down_read("notifier_lock")
                    yield from step("Resume")
                    yield from up_read("notifier_lock")
                yield from up_write("vm.lock")
            done.add("worker")

        def faulting(u: str) -> bool:
            return sys.faults(u) and u in sys.vm_bound and u not in sys.failed

        def fault() -> Gen:
            for u in sys.order:
                yield from until(f"a GPU fault on {u}, or nothing more to do",
                                 lambda u=u: faulting(u) or quiet())  # type: ignore[misc]
                if not faulting(u):
                    continue
                yield from down_write("vm.lock")
                yield from step("FaultBegin", u=u)
                th = sys.threads["fault"]
                while th.cur == u and th.pc != "idle":
                    if th.pc == "retry":                # -EAGAIN: the fault starts over
                        yield from up_write("vm.lock")
                        yield from down_write("vm.lock")
                        yield from step("FaultBegin", u=u)
                    yield from populate("fault", u)
                    if th.pc == "nlread":
                        yield from commit("fault", u, ("NlRead", "Check", "Commit",
                                                       "NlUnlock"))
                    if th.pc == "wait":
                        yield from step("FaultDone", u=u)
                yield from up_write("vm.lock")
            done.add("fault")

        def pt() -> Gen:
            while True:
                yield from until("a PT job queued, or no kernel thread left",
                                 lambda: bool(sys.ptq) or kernel <= done)
                if not sys.ptq:
                    return
                yield Point("begin_signalling", label="run_job of a PT job")
                if pt_job_takes_nl:
                    yield from down_read("notifier_lock")
                    yield from up_read("notifier_lock")
                yield from step("PtRun")
                yield Point("end_signalling", label="its fence signalled")

        def gpu() -> Gen:
            for u in sys.order:
                for rw in ("w", "r"):
                    yield from step_unless("GpuAccess", lambda: kernel <= done, g=0, u=u,
                                           p=1, rw=rw)

        w.threads = {"mm": mm(), "bind": bind(), "pt": pt(), "gpu": gpu()}
        if mode == "lr":
            w.threads["worker"] = worker()
        if mode == "fault":
            w.threads["fault"] = fault()
        return w

    flags = [n for n, on in (("seed", profile == "seed"), ("reclaim", reclaim),
                             ("no-mmap-lock", no_mmap_lock),
                             ("callback-takes-resv", callback_takes_resv),
                             ("alloc-under-nl", alloc_under_nl),
                             ("pt-job-takes-nl", pt_job_takes_nl)) if on]
    return ModelProgram("-".join(["userptr", mode, *flags]), make, check_userptr, VOCABULARY,
                        ("xe",), CLASSES)


#: name -> (program factory, the finding expected: None for none)
USERPTR: dict[str, tuple[Callable[[], KernelProgram], str | None]] = {
    "lr": (lambda: userptr_program("lr"), None),
    "fault": (lambda: userptr_program("fault"), None),
    "lr-reclaim": (lambda: userptr_program("lr", reclaim=True), None),
    "seed-lr": (lambda: userptr_program("lr", profile="seed"), "SgLiveInv"),
    "no-mmap-lock": (lambda: userptr_program("lr", no_mmap_lock=True), "LockHeldInv"),
    "callback-takes-resv": (lambda: userptr_program("lr", callback_takes_resv=True),
                            "LockOrderInv"),
    "alloc-under-notifier-lock": (lambda: userptr_program("lr", reclaim=True,
                                                          alloc_under_nl=True), "ReclaimInv"),
    "pt-job-takes-notifier-lock": (lambda: userptr_program("lr", pt_job_takes_nl=True),
                                   "FenceSignallingInv"),
}
