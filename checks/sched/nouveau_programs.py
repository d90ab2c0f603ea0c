"""nouveau VM_BIND under concurrency: two submitters, EXEC and the two schedulers.

One nouveau client (``model.nouveau.NouveauSystem``, VM_BIND mode, a region
``[0x10000, +0x10000)``, objects 1 and 2) and five threads, each taking the
kernel's locks as scheduler points around the model's ioctl-level actions
(notes, nouveau locking: ``entity->job.mutex -> uvmm->mutex -> dma_resv ->
gem.gpuva.mutex``):

``t1``
    an async VM_BIND: MAP ``[0x10000, +0x4000)`` of object 1, signalling
    syncobj 10.  The bind entity's ``job.mutex``, ``uvmm->mutex``, drm_exec
    over the MAP objects' resvs (one fence slot each), the submit stage
    (asserting ``uvmm->mutex``), the job's fence added to each resv
    (BOOKKEEP), ``drm_exec_fini``, ``uvmm`` unlocked, the job pushed;
``t2``
    a sync VM_BIND: UNMAP ``[0x11000, +0x1000)``, the same path, then
    ``dma_fence_wait`` on its job's fence and the ioctl returns;
``exec``
    EXEC on channel 1 waiting for syncobj 10: the exec entity's
    ``job.mutex``, ``uvmm->mutex``, drm_exec over the resv of every object
    the VA tree maps, the submit, the job's fence on them (WRITE);
``sched``
    the bind entity's scheduler: for each pushed job, its dependencies'
    fences, then ``run_job`` in a fence-signalling section (each op under
    its object's ``gpuva.mutex``; no allocation, no fence wait, no resv),
    the job's fence signalled, then ``free_job``;
``sched_exec``
    the exec entity's scheduler, the same for the exec job.

The model's invariants (``check_nouveau``: tree, page tables once the
queue drained, page-table references, GEM references, in-order run,
exec after its binds, sync waits) run after every step.

Bad variants, each from the seed's review (notes section 7):

``exec_error`` with ``leak_uvmm``
    C8: EXEC's submit returns a drm_exec error (a signal interrupting a
    resv lock) from inside the loop with ``uvmm->mutex`` still held; the
    next submitter blocks on it forever (``deadlock``).  Without
    ``leak_uvmm`` the error path unlocks and the program is clean.
``alloc_in_run``
    R9: page tables allocated in ``run_job`` instead of at submit -- a
    GFP_KERNEL allocation in the fence-signalling section
    (``FenceSignallingInv``).
``exec_unlocked``
    R8: EXEC's submit walks the VA tree without ``uvmm->mutex``
    (``LockHeldInv`` at the submit stage's assertion).
``interrupted``
    C19, on the seed profile: the sync bind's interruptible
    ``dma_fence_wait`` is interrupted and the error ignored, so the ioctl
    returns before its job ran (``SyncWaitInv``, the ioctl's contract
    checked when it returns: the seed profile's model permits the state);
``reads_after_push``
    C19's second half: the sync bind reads its job's ``sync`` and
    ``done_fence`` after ``push_job``, when ``free_job`` may have freed it
    (``UseAfterFreeInv``).
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
    Mutex,
    WwClass,
    fence_signal,
    fence_wait,
    mutex_lock,
    mutex_unlock,
    resv_add_fence,
)
from model.nouveau import VOCABULARY, NouveauSystem
from model.nouveau_check import check_nouveau
from model.nouveau_uapi import VM_BIND_OP_MAP, VM_BIND_RUN_ASYNC
from model.program import KernelProgram, World
from model.sched import Point

REGION = 0x10000
KERNEL = (1 << 32, 1 << 20)
GEMS = ("1", "2")
CLASSES = {"job_mutex:bind": "nouveau.job_mutex", "job_mutex:exec": "nouveau.job_mutex",
           "uvmm": "nouveau.uvmm_mutex",
           **{f"resv:{g}": "dma_resv" for g in GEMS},
           **{f"gpuva:{g}": "gem.gpuva_lock" for g in GEMS}}
MAP = [VM_BIND_OP_MAP, 0, 1, 0, REGION, 0, 0x4000]
UNMAP = [3, 0, 0, 0, REGION + 0x1000, 0, 0x1000]


def nouveau_program(*, exec_error: bool = False, leak_uvmm: bool = False,
                    alloc_in_run: bool = False, exec_unlocked: bool = False,
                    interrupted: bool = False, reads_after_push: bool = False) -> ModelProgram:
    """The five threads over one client; the keywords select a bad variant."""
    profile = "seed" if interrupted else "fixed"

    def make(p: ModelProgram) -> World:
        sys = NouveauSystem(dict.fromkeys(GEMS, 0x8000), syncobjs=(10,), channels={1: "ok"},
                            threads={"t1": [], "t2": [], "exec": []}, init=KERNEL,
                            regions=((REGION, 0x10000, False),), profile=profile)
        k = WwClass("reservation_ww_class")
        fences = {n: Fence(n) for n in ("pushed:bind:1", "pushed:bind:2", "submitted:exec",
                                        "done:1", "done:2", "done:3")}
        res: dict[str, Any] = dict(fences)
        res.update({"job_mutex:bind": Mutex("job_mutex:bind"),
                    "job_mutex:exec": Mutex("job_mutex:exec"), "uvmm": Mutex("uvmm")})
        res.update({f"resv:{g}": DmaResv(f"resv:{g}", k, fences) for g in GEMS})
        res.update({f"gpuva:{g}": Mutex(f"gpuva:{g}") for g in GEMS})
        w = World(vars={"system": sys}, resources=res)

        def bind(thread: str, ops: list[list[int]], asynch: bool,
                 sigs: list[list[int]]) -> Gen:
            gems = [f"resv:{o[2]}" for o in ops if o[0] == VM_BIND_OP_MAP]
            yield from mutex_lock("job_mutex:bind")
            yield from mutex_lock("uvmm")
            ex = DrmExec(w, thread, k)
            while (yield from ex.cleanup()):
                r = yield from ex.prepare_array(gems, 1)
                if r == "EDEADLK":
                    continue
            jid = yield from p.act(thread, "VmBind", held=("uvmm",), thread=thread,
                                   op_count=len(ops), flags=VM_BIND_RUN_ASYNC if asynch else 0,
                                   ops=ops, waits=[], sigs=sigs)
            assert isinstance(jid, int), f"{thread}'s VM_BIND failed: {jid}"
            for g in gems:
                yield from resv_add_fence(g, f"done:{jid}", "BOOKKEEP")
            yield from ex.fini()
            yield from mutex_unlock("uvmm")
            pushed = sum(1 for j in sys.jobs if j.e == "bind")
            yield from fence_signal(f"pushed:bind:{pushed}")
            yield from mutex_unlock("job_mutex:bind")
            if not asynch:
                if reads_after_push:
                    yield Point("read", "nouveau state", "r", label=f"read job {jid}'s sync "
                                "and done_fence after push_job (C19)")
                    if sys.jobs[jid - 1].st == "freed":
                        raise InvariantViolation("UseAfterFreeInv", f"{thread} reads job "
                                                 f"{jid} after free_job freed it")
                if interrupted:
                    yield Point("yield", label="dma_fence_wait() interrupted; the error "
                                "is ignored (C19)")
                else:
                    yield from fence_wait(f"done:{jid}")
                yield from p.act(thread, "Return", thread=thread)
                if sys.jobs[jid - 1].st == "queued":   # the ioctl's contract (notes inv 38)
                    raise InvariantViolation("SyncWaitInv", f"{thread}'s sync VM_BIND returned "
                                             f"before its job {jid} ran")

        def exec_() -> Gen:
            yield from mutex_lock("job_mutex:exec")
            if not exec_unlocked:
                yield from mutex_lock("uvmm")
            yield Point("read", "nouveau state", "r", label="walk the VA tree for its objects")
            vs = sys.vs
            assert vs is not None
            objs = sorted({f"resv:{v.gem}" for v in vs if v.gem is not None})
            ex = DrmExec(w, "exec", k)
            error: str | None = None
            while (yield from ex.cleanup()):
                if exec_error and objs:
                    yield Point("yield", label=f"a signal interrupts the lock of {objs[0]}")
                    error = "EINTR"
                    break
                r = yield from ex.prepare_array(objs, 1)
                if r == "EDEADLK":
                    continue
            if error is not None:
                if not leak_uvmm:
                    yield from ex.fini()
                    yield from mutex_unlock("uvmm")
                yield from fence_signal("submitted:exec")
                yield from mutex_unlock("job_mutex:exec")
                return
            jid = yield from p.act("exec", "Exec", held=("uvmm",), thread="exec", channel=1,
                                   push=[[REGION, 0x1000]], waits=[[0, 10, 0]], sigs=[])
            if isinstance(jid, int):
                for o in objs:
                    yield from resv_add_fence(o, f"done:{jid}", "WRITE")
            yield from ex.fini()
            if not exec_unlocked:
                yield from mutex_unlock("uvmm")
            yield from fence_signal("submitted:exec")
            yield from mutex_unlock("job_mutex:exec")

        def run_head(thread: str, entity: str) -> Gen:
            """drm_sched: the head job's dependencies, run_job, its fence, free_job."""
            yield Point("read", "nouveau state", "r", label=f"{entity}'s head job")
            job = sys.jobs[sys.queue[entity][0] - 1]
            for d in job.deps:
                yield from fence_wait(f"done:{d}")
            yield Point("begin_signalling", label="dma_fence_begin_signalling()")
            if alloc_in_run:
                yield Point("alloc", "", "GFP_KERNEL", label="nvif_vmm_raw_get() in run_job")
            locks = sorted({f"gpuva:{v.gem}" for v in job.added + job.removed
                            if v.gem is not None})
            assert len(locks) <= 1, "one object per job in this program"
            for lock in locks:
                yield from mutex_lock(lock)
            r = yield from p.act(thread, "Run", held=tuple(locks), entity=entity)
            assert r == job.id, f"run_job of job {job.id}: {r}"
            for lock in reversed(locks):
                yield from mutex_unlock(lock)
            yield from fence_signal(f"done:{job.id}")
            yield Point("end_signalling", label="dma_fence_end_signalling()")
            yield from p.act(thread, "Free", entity=entity)

        def sched() -> Gen:
            for n in (1, 2):
                yield from fence_wait(f"pushed:bind:{n}")
                yield from run_head("sched", "bind")

        def sched_exec() -> Gen:
            yield from fence_wait("submitted:exec")
            yield Point("read", "nouveau state", "r", label="exec:1's queue")
            if sys.queue["exec:1"]:
                yield from run_head("sched_exec", "exec:1")

        w.threads = {"t1": bind("t1", [MAP], True, [[0, 10, 0]]),
                     "t2": bind("t2", [UNMAP], False, []),
                     "exec": exec_(), "sched": sched(), "sched_exec": sched_exec()}
        return w

    flags = [n for n, on in (("exec-error", exec_error), ("leaks-uvmm", leak_uvmm),
                             ("alloc-in-run-job", alloc_in_run),
                             ("exec-unlocked", exec_unlocked),
                             ("interrupted-sync-bind", interrupted),
                             ("reads-job-after-push", reads_after_push)) if on]
    return ModelProgram("-".join(["nouveau", *flags]), make, check_nouveau, VOCABULARY,
                        ("nouveau",), CLASSES)


#: name -> (program factory, the finding expected: None for none)
NOUVEAU: dict[str, tuple[Callable[[], KernelProgram], str | None]] = {
    "fixed": (nouveau_program, None),
    "exec-error": (lambda: nouveau_program(exec_error=True), None),
    "exec-error-keeps-uvmm": (lambda: nouveau_program(exec_error=True, leak_uvmm=True),
                              "deadlock"),
    "alloc-in-run-job": (lambda: nouveau_program(alloc_in_run=True), "FenceSignallingInv"),
    "exec-walks-tree-unlocked": (lambda: nouveau_program(exec_unlocked=True), "LockHeldInv"),
    "seed-interrupted-sync-bind": (lambda: nouveau_program(interrupted=True), "SyncWaitInv"),
    "seed-reads-job-after-push": (lambda: nouveau_program(reads_after_push=True),
                                  "UseAfterFreeInv"),
}
