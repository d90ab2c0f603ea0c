"""The kernel threads' steps of the userptr model: populate, bind, rebind worker, exec,
GPU fault handler (notes 2.3-2.7).  :class:`KernelSteps` is mixed into
:class:`model.userptr.UserptrSystem`, which holds the state named here.

Populate (``xe_vma_userptr_pin_pages``, notes 2.3) of userptr ``u`` by
kernel thread ``t``, which holds ``vm->lock``:

1. ``PinBegin``: ``read_begin`` (not while an invalidation whose callback
   for ``u`` ran is in progress); the seq already pinned -> done; else the
   old sg is DMA-unmapped;
2. ``PinFault``: ``hmm_range_fault`` -- the seq moved: ``-EBUSY``, back to
   1 (``PinTimeout`` instead, once the loop's timeout expired: populate
   fails ``-EBUSY``); a page unmapped: ``-EFAULT``; else the frames;
3. ``PinMap``: the sg built from them and DMA-mapped, ``notifier_seq`` set
   -- upstream under the notifier lock after a ``read_retry`` (moved: back
   to 1); the seed from the frames as they were, perhaps freed since (A10).

What populate's result leads to:

======  ==========================  =================================
thread  ok                          -EFAULT / -EBUSY
======  ==========================  =================================
bind    the bind steps              the ioctl fails, next userptr
fault   the bind steps              the fault fails (``failed``)
worker  repin -> rebind list        ``RepinZap`` / seed: on no list (A2),
exec                                upstream: back on invalidated;
                                    the worker kills the VM's job
======  ==========================  =================================

The bind steps (bind thread, fault handler): ``NlRead`` (down_read of the
notifier lock), ``Check`` (``vma_check_userptr``: a first bind outside fault
mode whose seq moved goes on the invalidated list -- lr: the job preempted
--; fault mode: skipped in the seed, ``-EAGAIN`` and a new populate
upstream), ``Commit`` (the PT job with the pinned frames queued, its fence
in the VM's resv before the unlock, ``initial_bind``), ``NlUnlock``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from model.errors import Busy

if TYPE_CHECKING:
    from model.userptr import PtJob, Thread


class KernelSteps:
    """The kernel threads' steps (mixed into ``UserptrSystem``)."""

    if TYPE_CHECKING:  # the state UserptrSystem holds
        from model.gpu import Gpu
        from model.hmm import DmaMap
        from model.mm import Mm

        mm: Mm
        gpu: Gpu
        dma: DmaMap
        mode: str
        profile: str
        pin_errors: list[str]
        destroy: bool
        destroyed: set[str]
        gone: dict[str, int]
        max_exec: int
        order: list[str]
        ranges: dict[str, tuple[int, int]]
        gts: list[int]
        threads: dict[str, Thread]
        vm_lock: str
        nl: str
        useq: dict[str, int]
        pinned: dict[str, dict[int, int]]
        freed_touch: bool
        initial_bind: dict[str, bool]
        bind_seq: dict[str, int]
        vm_bound: set[str]
        failed: set[str]
        zapped: set[str]
        invalidated: set[str]
        repin: set[str]
        rebind: set[str]
        ptq: list[PtJob]
        job: str
        deps: int
        job_uses: set[str]
        nexec: int

        def _act(self, name: str, args: dict[str, Any], body: Callable[[], Any]) -> Any: ...

    # ------------------------------------------------------------ helpers

    def _at(self, t: str, u: str, *pcs: str) -> Thread:
        th = self.threads.get(t)
        if th is None or th.cur != u or th.pc not in pcs:
            raise Busy(f"{t} is not at {'/'.join(pcs)} of {u}")
        return th

    def _first(self, s: set[str]) -> str:
        return next(u for u in self.order if u in s)

    def _release(self, t: str) -> None:
        if self.vm_lock == t:
            self.vm_lock = ""

    def _next_phase(self, t: str) -> None:
        """A worker or exec: the next userptr to pin, else to rebind, else the last check."""
        th = self.threads[t]
        if self.repin:
            th.pc, th.cur = "pin", self._first(self.repin)
        elif self.rebind:
            th.pc, th.cur = "rebind", self._first(self.rebind)
        else:
            th.pc, th.cur = ("resume" if t == "worker" else "arm"), ""

    def _populated(self, t: str, u: str, r: str) -> None:
        """Populate of u by t returned r ("OK", "EFAULT", "EBUSY", "ENOMEM")."""
        th = self.threads[t]
        if t in ("bind", "fault"):
            if r == "OK":
                th.pc = "nlread"
                return
            self._release(t)
            if t == "fault":
                self.failed.add(u)
                th.pc, th.cur = "idle", ""
            else:
                self._next_bind()
            return
        if r == "OK":
            self.repin.discard(u)
            self.rebind.add(u)
            self._next_phase(t)
        elif r == "EFAULT":
            th.pc = "zap"
        else:
            if self.profile == "seed":          # A2: off the repin list, on no list
                self.repin.discard(u)
            else:
                self.invalidated |= self.repin
                self.repin.clear()
            self._release(t)
            th.pc, th.cur = "idle", ""
            if t == "worker":
                self.job = "killed"             # xe_vm_kill
            else:
                self.nexec += 1

    def _next_bind(self) -> None:
        th = self.threads["bind"]
        k = self.order.index(th.cur) + 1
        if k < len(self.order):
            th.pc, th.cur = "start", self.order[k]
        elif self.destroy:
            th.pc, th.cur = "destroy", self.order[0]    # then VM_UNBIND and destroy each
        else:
            th.pc, th.cur = "done", ""

    # ----------------------------------------------------------- populate

    def pin_begin(self, t: str, u: str) -> None:
        def body() -> None:
            th = self._at(t, u, "start", "pin")
            if th.pc == "start":
                if self.vm_lock:
                    raise Busy(f"vm->lock is held by {self.vm_lock}")
                self.vm_lock = t
            seq = self.mm.read_begin(u)
            th.seq = seq
            if seq == self.useq[u]:
                self._populated(t, u, "OK")
                return
            self.dma.unmap(u, self.pinned[u].values())
            self.pinned[u] = {}
            th.pc = "hmm"
        self._act("PinBegin", {"t": t, "u": u}, body)

    def pin_fault(self, t: str, u: str) -> None:
        def body() -> None:
            th = self._at(t, u, "hmm")
            if self.mm.read_retry(u, th.seq):
                th.pc = "pin"                   # -EBUSY: read_begin again
                return
            lo, hi = self.ranges[u]
            if any(p not in self.mm.pte for p in range(lo, hi)):
                self._populated(t, u, "EFAULT")
                return
            th.got = {p: self.mm.pte[p] for p in range(lo, hi)}
            th.pc = "map"
        self._act("PinFault", {"t": t, "u": u}, body)

    def pin_timeout(self, t: str, u: str) -> None:
        def body() -> None:
            th = self._at(t, u, "hmm")
            if "EBUSY" not in self.pin_errors or not self.mm.read_retry(u, th.seq):
                raise Busy("no -EBUSY whose timeout expired")
            self._populated(t, u, "EBUSY")
        self._act("PinTimeout", {"t": t, "u": u}, body)

    def pin_nomem(self, t: str, u: str) -> None:
        """Building or DMA-mapping the sg fails: populate returns -ENOMEM."""
        def body() -> None:
            th = self._at(t, u, "map")
            if "ENOMEM" not in self.pin_errors:
                raise Busy("no -ENOMEM in this configuration")
            th.got = {}
            self._populated(t, u, "ENOMEM")
        self._act("PinNoMem", {"t": t, "u": u}, body)

    def pin_map(self, t: str, u: str) -> None:
        def body() -> None:
            th = self._at(t, u, "map")
            if self.profile == "upstream":
                if self.nl:
                    raise Busy(f"the notifier lock is held by {self.nl}")
                if self.mm.read_retry(u, th.seq):
                    th.pc = "pin"               # the pfns are stale: populate again
                    return
            if any(f in self.mm.freed for f in th.got.values()):
                self.freed_touch = True         # A10: the pages may be gone
            self.dma.map(u, th.got.values())
            self.pinned[u] = dict(th.got)
            self.useq[u] = th.seq
            th.got = {}
            self._populated(t, u, "OK")
        self._act("PinMap", {"t": t, "u": u}, body)

    def repin_zap(self, t: str, u: str) -> None:
        """A repin's -EFAULT: ``xe_vm_invalidate_vma`` (P03), u on no list.  Upstream
        first waits for the VM's pending binds (BOOKKEEP); the seed does not, so a PT
        job queued before it writes the zapped PTEs again (A3)."""
        def body() -> None:
            self._at(t, u, "zap")
            if self.profile == "upstream" and any(j.fenced for j in self.ptq):
                raise Busy("the VM's pending binds have not signalled")   # A3
            vas = [(u, p) for p in range(*self.ranges[u])]
            self.gpu.zap(vas)
            for g in range(len(self.gts)):
                self.gpu.invalidate(g, vas)
            self.zapped.add(u)
            self.repin.discard(u)
            self._next_phase(t)
        self._act("RepinZap", {"t": t, "u": u}, body)

    # -------------------------------------------------------------- bind

    def nl_read(self, t: str, u: str) -> None:
        def body() -> None:
            th = self._at(t, u, "nlread")
            if self.nl:
                raise Busy(f"the notifier lock is held by {self.nl}")
            self.nl, th.pc = t, "check"
        self._act("NlRead", {"t": t, "u": u}, body)

    def check(self, t: str, u: str) -> None:
        def body() -> None:
            th = self._at(t, u, "check")
            moved = self.mm.read_retry(u, self.useq[u])
            if self.mode == "fault":
                if self.profile == "upstream" and moved:
                    # R13: -EAGAIN; a user bind returns it (the user retries), the
                    # fault handler starts the fault over
                    self.nl = ""
                    self._release(t)
                    th.pc = "start" if t == "bind" else "retry"
                    return
            elif not self.initial_bind[u] and moved:
                self.invalidated.add(u)
                if self.mode == "lr" and self.job == "running":
                    self.job = "preempted"
            th.pc = "commit"
        self._act("Check", {"t": t, "u": u}, body)

    def _queue(self, t: str, u: str) -> None:
        from model.userptr import PtJob

        self.ptq.append(PtJob(u, dict(self.pinned[u]), True, self.useq[u],
                              self.mm.notifiers[u].seq, u in self.invalidated, t))
        self.bind_seq[u] = self.useq[u]
        self.zapped.discard(u)

    def commit(self, t: str, u: str) -> None:
        def body() -> None:
            th = self._at(t, u, "commit")
            if self.nl != t:
                raise Busy(f"{t} does not hold the notifier lock")
            self._queue(t, u)
            self.initial_bind[u] = True
            th.pc = "unlock"
        self._act("Commit", {"t": t, "u": u}, body)

    def nl_unlock(self, t: str, u: str) -> None:
        def body() -> None:
            self._at(t, u, "unlock")
            self.nl = ""
            self._bind_over(t, u)
        self._act("NlUnlock", {"t": t, "u": u}, body)

    def _bind_over(self, t: str, u: str) -> None:
        """The bind thread's VM_BIND returns 0: u is the GPU's to use, the next userptr;
        the fault handler waits for its bind's fence."""
        if t == "bind":
            self.vm_bound.add(u)
            self._release(t)
            self._next_bind()
        else:
            self.threads[t].pc = "wait"

    def add_fence(self, t: str, u: str) -> None:
        """The bind's fence added to the VM's resv after up_read: a step of the bad
        order only (A23); the bind here adds it in ``Commit``, under the lock."""
        def body() -> None:
            self._at(t, u, "fence")
            for j in self.ptq:
                if j.by == t:
                    j.fenced = True
            self._bind_over(t, u)
        self._act("AddFence", {"t": t, "u": u}, body)

    def rebind_(self, t: str, u: str) -> None:
        """A worker's or exec's rebind of u: under the notifier lock, its PT job queued
        with the fence in the resv (no seq check: u was bound before)."""
        def body() -> None:
            self._at(t, u, "rebind")
            if self.nl:
                raise Busy(f"the notifier lock is held by {self.nl}")
            self._queue(t, u)
            self.rebind.discard(u)
            self._next_phase(t)
        self._act("Rebind", {"t": t, "u": u}, body)

    # ------------------------------------------------- worker and exec

    def _collect(self, t: str) -> None:
        if self.vm_lock:
            raise Busy(f"vm->lock is held by {self.vm_lock}")
        self.vm_lock = t
        self.repin |= self.invalidated
        self.invalidated.clear()
        self._next_phase(t)

    def worker_start(self) -> None:
        def body() -> None:
            th = self.threads["worker"]
            if self.mode != "lr" or self.job != "preempted" or th.pc != "idle":
                raise Busy("the LR job is not preempted, or the worker runs")
            self._collect("worker")
        self._act("WorkerStart", {}, body)

    def resume(self) -> None:
        def body() -> None:
            th = self.threads["worker"]
            if th.pc != "resume" or self.nl or any(j.by == "worker" for j in self.ptq):
                raise Busy("the worker's rebinds have not all signalled")
            th.pc = "idle"
            self._release("worker")
            if not self.invalidated:
                self.job = "running"           # else -EAGAIN: the worker starts over
        self._act("Resume", {}, body)

    def exec_begin(self) -> None:
        def body() -> None:
            th = self.threads["exec"]
            if self.mode != "dmafence" or th.pc != "idle" or self.nexec >= self.max_exec \
                    or self.job != "idle":
                raise Busy("no exec ioctl now")
            self._collect("exec")
        self._act("ExecBegin", {}, body)

    def arm(self) -> None:
        def body() -> None:
            th = self.threads["exec"]
            if th.pc != "arm" or self.nl:
                raise Busy("exec is not at its last check")
            th.pc = "idle"
            self._release("exec")
            if self.invalidated:
                return                          # -EAGAIN: exec retries
            self.job, self.deps = "armed", len(self.ptq)
            self.job_uses = set(self.vm_bound)
            self.nexec += 1
        self._act("Arm", {}, body)

    # --------------------------------------------------------- faults

    def faults(self, u: str) -> bool:
        """A VA of u has no translation on some GT."""
        return any(self.gpu.translate_peek(g, (u, p)) is None
                   for g in range(len(self.gts)) for p in range(*self.ranges[u]))

    def fault_begin(self, u: str) -> None:
        def body() -> None:
            th = self.threads["fault"]
            retry = th.pc == "retry" and th.cur == u
            if self.mode != "fault" or (not retry and (
                    th.pc != "idle" or u not in self.vm_bound or u in self.failed
                    or not self.faults(u))):
                raise Busy(f"no GPU fault on {u}")
            if self.vm_lock:
                raise Busy(f"vm->lock is held by {self.vm_lock}")
            self.vm_lock, th.cur = "fault", u
            th.pc = "pin" if self.mm.read_retry(u, self.useq[u]) else "nlread"
        self._act("FaultBegin", {"u": u}, body)

    def fault_done(self, u: str) -> None:
        def body() -> None:
            th = self._at("fault", u, "wait")
            if any(j.by == "fault" for j in self.ptq):
                raise Busy("the fault's bind has not signalled")
            self._release("fault")
            if self.mm.read_retry(u, self.useq[u]):
                th.pc = "retry"                # check_repin: -EAGAIN, the fault starts over
                return
            th.pc, th.cur = "idle", ""
        self._act("FaultDone", {"u": u}, body)

    # --------------------------------------------------------- destroy

    def destroy_(self, t: str, u: str) -> None:
        """The bind thread's VM_UNBIND of u and the VMA's destroy, under ``vm->lock``:
        u off every list, its PTEs and TLB entries gone, its sg DMA-unmapped and freed,
        its notifier removed (``mmu_interval_notifier_remove`` waits out a running
        invalidation; here, any).  The unbind's PT job runs after the VM's queued ones
        and, in dma-fence mode, after the exec job: both are waited for."""
        def body() -> None:
            th = self._at(t, u, "destroy")
            if self.vm_lock or self.nl:
                raise Busy("vm->lock or the notifier lock is held")
            if self.mm.inv is not None:
                raise Busy("mmu_interval_notifier_remove waits for the invalidation")
            if any(j.u == u for j in self.ptq):
                raise Busy(f"a PT job of {u} has not run")
            if self.mode == "dmafence" and self.job in ("armed", "running"):
                raise Busy("the exec job has not signalled")
            for lst in (self.invalidated, self.repin, self.rebind, self.vm_bound,
                        self.job_uses, self.zapped, self.failed):
                lst.discard(u)
            vas = [(u, p) for p in range(*self.ranges[u])]
            self.gpu.zap(vas)
            for g in range(len(self.gts)):
                self.gpu.invalidate(g, vas)
            self.dma.unmap(u, self.pinned[u].values())
            self.pinned[u] = {}
            self.gone[u] = self.mm.notifiers[u].seq
            self.mm.remove(u)
            self.destroyed.add(u)
            k = self.order.index(u) + 1
            th.pc, th.cur = ("destroy", self.order[k]) if k < len(self.order) else ("done", "")
        self._act("Destroy", {"t": t, "u": u}, body)
