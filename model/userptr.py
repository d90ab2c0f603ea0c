"""xe userptr invalidation (seed 004): the mm, the notifier, the binders, the GPU.

One VM of one device (one page table, a TLB per GT) with userptr VMAs over
the pages of one mm (:class:`~model.mm.Mm`).  A GPU VA is ``(u, p)``: page
``p`` of userptr ``u``.  Each thread of the protocol (notes 2.8) is a
sequence of atomic steps, one action each; a step that cannot happen now
raises :class:`~model.errors.Busy` and changes nothing, so ``enabled()``
lists the steps of every thread that can, and a scheduler path
(``checks/sched/userptr_programs.py``) takes the kernel's locks around them.

Threads and their steps:

``mm``
    an invalidation of page ``p`` (``unmap`` or ``migrate``):
    ``InvStart`` (``invalidate_range_start``: the seq goes odd), then for
    each userptr covering ``p`` in address order its callback
    (``vma_userptr_invalidate``, notes 2.2): ``Notify`` (down_write of the
    notifier lock, ``set_seq``, a userptr bound once goes on the
    invalidated list -- not in fault mode --, up_write), ``FenceWait``
    (signalling enabled on the VM's BOOKKEEP fences -- the LR job is
    preempted -- and all waited for), ``Zap`` (fault mode: PTEs zapped and
    every GT's TLB invalidated); then ``CpuUpdate`` (the CPU PTE changes,
    the old frame is freed) and ``InvEnd`` (the seq goes even);
``bind``
    the VM_BIND of each userptr in address order, under ``vm->lock``:
    populate (``PinBegin`` read_begin; ``PinFault`` hmm_range_fault,
    ``-EBUSY`` back to read_begin, ``PinTimeout`` when the loop times out;
    ``PinMap`` the sg built and DMA-mapped), then ``NlRead`` (down_read
    of the notifier lock), ``Check`` (pre_commit's ``vma_check_userptr``),
    ``Commit`` (the PT job queued, its fence in the VM's resv,
    ``initial_bind``), ``NlUnlock`` (up_read; the ioctl returns); with
    ``destroy``, then ``Destroy`` of each userptr (VM_UNBIND and the VMA's
    destroy: off the lists, PTEs and TLB entries gone, the sg unmapped, the
    notifier removed);
``worker`` (lr)
    ``WorkerStart`` once the job is preempted (the invalidated list onto
    the repin list), populate of each, ``Rebind`` of each, ``Resume``
    (under the notifier lock: nothing invalidated -> the job runs again);
``exec`` (dmafence)
    ``ExecBegin`` (repin if a list is not empty), populate and ``Rebind``,
    ``Arm`` (under the notifier lock: nothing invalidated -> the job is
    armed behind the PT jobs queued so far, its fence in the resv);
``fault`` (fault mode)
    ``FaultBegin(u)`` for a GPU access with no translation, populate if the
    seq moved, the bind steps, ``FaultDone(u)`` once its PT job ran (the
    unlocked ``check_repin``: stale -> retry);
``pt``
    ``PtRun``: the head PT job writes its PTEs (invalidating their TLB
    entries) and signals;
``gpu``
    ``GpuAccess(g, u, p, rw)`` through GT ``g``'s TLB; ``JobStart`` and
    ``JobDone`` of the dmafence job.

Profiles: ``upstream`` (a fault-mode bind whose seq moved is ``-EAGAIN``
and is retried, R13; a failed repin puts the userptrs back on the
invalidated list, A2; the sg is built under the notifier lock after a
``read_retry``, A10) and ``seed`` (the code as posted: fault mode skips the
pre_commit check, a failed repin leaves the userptr on no list, the sg is
built from whatever frames ``hmm_range_fault`` returned).

Data: every frame holds 0 or 1; a GPU write writes the complement of the
value last written at that CPU address (``expect``), so a lost write or a
stale read shows (``badRead``); a freed frame is reset to 0.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Self

from model.actions import INT, NAME, Action, Param, Vocabulary
from model.errors import Busy, GpuVmError, InvalidArgument
from model.gpu import Gpu
from model.hmm import DmaMap
from model.mm import Mm
from model.trace import NOP, Event, Tracer
from model.userptr_kernel import KernelSteps

SYSTEM = "userptr"
MODES = ("fault", "lr", "dmafence")
PROFILES = ("seed", "upstream")
KTHREADS = ("bind", "worker", "fault", "exec")
PIN_ERRORS = ("EBUSY", "ENOMEM")   # populate's -EBUSY (hmm timeout), -ENOMEM (the sg, DMA)
NEVER = -2                   # userptr->notifier_seq before any populate (LONG_MAX)

_T, _U = Param("t", NAME), Param("u", NAME)
VOCABULARY = Vocabulary(SYSTEM, (
    Action("InvStart", "inv_start", (Param("p", INT), Param("ev", NAME)), ("EBUSY",)),
    Action("Notify", "notify", (_U,), ("EBUSY",)),
    Action("FenceWait", "fence_wait", (_U,), ("EBUSY",)),
    Action("Zap", "zap", (_U,), ("EBUSY",)),
    Action("CpuUpdate", "cpu_update", (Param("p", INT),), ("EBUSY",)),
    Action("InvEnd", "inv_end", (Param("p", INT),), ("EBUSY",)),
    Action("PinBegin", "pin_begin", (_T, _U), ("EBUSY",)),
    Action("PinFault", "pin_fault", (_T, _U), ("EBUSY",)),
    Action("PinTimeout", "pin_timeout", (_T, _U), ("EBUSY",)),
    Action("PinNoMem", "pin_nomem", (_T, _U), ("EBUSY",)),
    Action("PinMap", "pin_map", (_T, _U), ("EBUSY",)),
    Action("RepinZap", "repin_zap", (_T, _U), ("EBUSY",)),
    Action("NlRead", "nl_read", (_T, _U), ("EBUSY",)),
    Action("Check", "check", (_T, _U), ("EBUSY",)),
    Action("Commit", "commit", (_T, _U), ("EBUSY",)),
    Action("NlUnlock", "nl_unlock", (_T, _U), ("EBUSY",)),
    Action("AddFence", "add_fence", (_T, _U), ("EBUSY",)),
    Action("Rebind", "rebind_", (_T, _U), ("EBUSY",)),
    Action("Destroy", "destroy_", (_T, _U), ("EBUSY",)),
    Action("WorkerStart", "worker_start", (), ("EBUSY",)),
    Action("Resume", "resume", (), ("EBUSY",)),
    Action("ExecBegin", "exec_begin", (), ("EBUSY",)),
    Action("Arm", "arm", (), ("EBUSY",)),
    Action("FaultBegin", "fault_begin", (_U,), ("EBUSY",)),
    Action("FaultDone", "fault_done", (_U,), ("EBUSY",)),
    Action("PtRun", "pt_run", (), ("EBUSY",)),
    Action("JobStart", "job_start", (), ("EBUSY",)),
    Action("JobDone", "job_done", (), ("EBUSY",)),
    Action("GpuAccess", "gpu_access", (Param("g", INT), _U, Param("p", INT),
                                       Param("rw", NAME)), ("EBUSY",)),
))


#: where a kernel thread must be for each of its steps
_AT = {"PinBegin": ("start", "pin"), "PinFault": ("hmm",), "PinTimeout": ("hmm",),
       "PinNoMem": ("map",), "PinMap": ("map",), "RepinZap": ("zap",), "NlRead": ("nlread",),
       "Check": ("check",), "Commit": ("commit",), "NlUnlock": ("unlock",),
       "AddFence": ("fence",), "Rebind": ("rebind",), "Destroy": ("destroy",)}
#: the callback stage each of the mm's callback steps runs from
_CB_AT = {"Notify": "todo", "FenceWait": "wait", "Zap": "zap"}


def _va(key: object) -> list[Any]:
    """A GPU VA key ``(u, p)`` as a list."""
    assert isinstance(key, tuple)
    return list(key)


@dataclass
class PtJob:
    """A queued page-table job: what it writes and what was true at its commit."""

    u: str
    map: dict[int, int]
    fenced: bool
    seq: int                 # the notifier_seq of the pages it writes
    at: int                  # the notifier's seq at the commit
    listed: bool             # u on the invalidated list at the commit
    by: str

    def to_json(self) -> dict[str, Any]:
        return {"u": self.u, "map": sorted([p, f] for p, f in self.map.items()),
                "fenced": self.fenced, "seq": self.seq, "at": self.at,
                "listed": self.listed, "by": self.by}

    @staticmethod
    def from_json(d: Mapping[str, Any]) -> PtJob:
        return PtJob(str(d["u"]), {int(p): int(f) for p, f in d["map"]}, bool(d["fenced"]),
                     int(d["seq"]), int(d["at"]), bool(d["listed"]), str(d["by"]))


@dataclass
class Thread:
    """A kernel thread's place in its path."""

    pc: str = "idle"
    cur: str = ""
    seq: int = 0
    got: dict[int, int] = field(default_factory=dict)


class UserptrSystem(KernelSteps):
    """One VM's userptrs under one mode and profile."""

    def __init__(self, pages: int, userptrs: Mapping[str, Sequence[int]],
                 order: Sequence[str] | None = None, *, gts: Sequence[int] = (0, 1),
                 mode: str = "lr", max_inv: int = 1, max_exec: int = 1,
                 pin_errors: Sequence[str] = (), write_pages: Sequence[int] | None = None,
                 destroy: bool = False, profile: str = "upstream",
                 tracer: Tracer = NOP) -> None:
        if mode not in MODES or profile not in PROFILES:
            raise InvalidArgument(f"mode {mode!r}, profile {profile!r} (modes: "
                                  f"{', '.join(MODES)}; profiles: {', '.join(PROFILES)})")
        ranges = {str(u): (int(r[0]), int(r[1])) for u, r in userptrs.items()}
        if pages < 1 or not ranges or any(not 0 <= a < b <= pages for a, b in ranges.values()):
            raise InvalidArgument(f"userptrs {dict(userptrs)} over {pages} page(s)")
        self.order = [str(u) for u in (order if order is not None else sorted(ranges))]
        if sorted(self.order) != sorted(ranges):
            raise InvalidArgument(f"order {self.order} is not the userptrs {sorted(ranges)}")
        self.pages, self.ranges, self.gts = int(pages), ranges, [int(g) for g in gts]
        self.mode, self.profile = mode, profile
        if set(pin_errors) - set(PIN_ERRORS):
            raise InvalidArgument(f"pin errors {list(pin_errors)} (known: {', '.join(PIN_ERRORS)})")
        self.max_inv, self.max_exec = int(max_inv), int(max_exec)
        self.destroy = bool(destroy)
        self.pin_errors = sorted(set(pin_errors))
        self.write_pages = sorted(set(range(self.pages) if write_pages is None
                                      else (int(p) for p in write_pages)))
        if any(not 0 <= p < self.pages for p in self.write_pages):
            raise InvalidArgument(f"write pages {self.write_pages} over {pages} page(s)")
        self.tracer = tracer
        self._config = {"pages": self.pages, "userptrs": {u: list(r) for u, r in ranges.items()},
                        "order": list(self.order), "gts": list(self.gts), "mode": mode,
                        "max_inv": self.max_inv, "max_exec": self.max_exec,
                        "pin_errors": list(self.pin_errors),
                        "write_pages": list(self.write_pages), "destroy": self.destroy,
                        "profile": profile}
        self._reset()

    def _reset(self) -> None:
        self.mm = Mm.with_pages(self.pages, first_frame=0, value=0, seq=0)
        for u in self.order:
            self.mm.insert(u, *self.ranges[u])
        self.cb: dict[str, str] = dict.fromkeys(self.order, "none")
        self.inv_count = 0
        self.doomed: set[int] = set()       # old frames whose callbacks all returned
        self.expect = dict.fromkeys(range(self.pages), 0)
        self.useq = dict.fromkeys(self.order, NEVER)
        self.pinned: dict[str, dict[int, int]] = {u: {} for u in self.order}
        self.dma = DmaMap()
        self.freed_touch = False
        self.initial_bind = dict.fromkeys(self.order, False)
        self.bind_seq = dict.fromkeys(self.order, NEVER)
        self.vm_bound: set[str] = set()
        self.failed: set[str] = set()
        self.zapped: set[str] = set()
        self.invalidated: set[str] = set()
        self.repin: set[str] = set()
        self.rebind: set[str] = set()
        self.ptq: list[PtJob] = []
        self.job = "idle" if self.mode == "dmafence" else "running"
        self.deps = 0
        self.job_uses: set[str] = set()
        self.nexec = 0
        self.gpu = Gpu(len(self.gts))
        self.bad_read = False
        self.destroyed: set[str] = set()
        self.gone: dict[str, int] = {}      # a destroyed userptr's notifier seq at removal
        self.stale: list[str] = []          # GPU accesses that reached a doomed frame
        self.threads = {t: Thread() for t in KTHREADS}
        self.threads["bind"] = Thread("start", self.order[0])
        self.vm_lock = ""
        self.nl = ""

    # ------------------------------------------------------------ component

    def config(self) -> dict[str, Any]:
        return {k: (dict(v) if isinstance(v, dict) else list(v) if isinstance(v, list) else v)
                for k, v in self._config.items()}

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> Self:
        return cls(int(config["pages"]), {str(u): list(r) for u, r in config["userptrs"].items()},
                   list(config.get("order") or sorted(config["userptrs"])),
                   gts=list(config.get("gts", (0, 1))), mode=str(config.get("mode", "lr")),
                   max_inv=int(config.get("max_inv", 1)),
                   max_exec=int(config.get("max_exec", 1)),
                   pin_errors=[str(e) for e in config.get("pin_errors", ())],
                   write_pages=config.get("write_pages"),
                   destroy=bool(config.get("destroy", False)),
                   profile=str(config.get("profile", "upstream")))

    def abstract(self) -> dict[str, Any]:
        inv = self.mm.inv
        return {
            "pc": {t: th.pc for t, th in self.threads.items()},
            "cur": {t: th.cur for t, th in self.threads.items()},
            "tseq": {t: th.seq for t, th in self.threads.items()},
            "got": {t: sorted([p, f] for p, f in th.got.items())
                    for t, th in self.threads.items()},
            "vmLock": self.vm_lock, "nl": self.nl,
            "mm": {"st": "idle" if inv is None else "end" if self.cb_over() and
                   self.mm_changed else "cb",
                   "page": -1 if inv is None else inv.pages[0],
                   "ev": "" if inv is None else inv.event, "cb": dict(self.cb)},
            "mmSeq": self.mm.seq, "invCount": self.inv_count,
            "nseq": {u: self.mm.notifiers[u].seq if u in self.mm.notifiers else self.gone[u]
                     for u in self.order},
            "cpuPte": {str(p): self.mm.pte.get(p, -1) for p in range(self.pages)},
            "nextFrame": self.mm.next_frame,
            "mem": {str(f): self.mm.mem.get(f, 0) for f in range(self.frames())},
            "expect": {str(p): v for p, v in self.expect.items()},
            "useq": dict(self.useq),
            "pinned": {u: sorted([p, f] for p, f in m.items()) for u, m in self.pinned.items()},
            "dma": sorted([o, f, 1] for o, f in self.dma.mapped),
            "freedTouch": self.freed_touch, "initialBind": dict(self.initial_bind),
            "bindSeq": dict(self.bind_seq), "vmBound": sorted(self.vm_bound),
            "failed": sorted(self.failed), "zapped": sorted(self.zapped),
            "invalidated": sorted(self.invalidated), "repin": sorted(self.repin),
            "rebind": sorted(self.rebind), "ptq": [j.to_json() for j in self.ptq],
            "job": self.job, "deps": self.deps, "jobUses": sorted(self.job_uses),
            "nexec": self.nexec,
            "gpuPte": sorted([*_va(k), f] for k, f in self.gpu.pte.items()),
            "tlb": sorted([self.gts[g], *_va(k), f] for g, t in self.gpu.tlb.items()
                          for k, f in t.items() if self.gpu.pte.get(k) != f),
            "badRead": self.bad_read, "destroyed": sorted(self.destroyed),
            "extra": {"doomed": sorted(self.doomed), "stale": list(self.stale),
                      "mm": self.mm.to_json(), "changed": self.mm_changed,
                      "tlb": sorted([g, *_va(k), f] for g, t in self.gpu.tlb.items()
                                    for k, f in t.items())},
        }

    def restore(self, a: Mapping[str, Any]) -> None:
        saved = self.abstract()
        try:
            self._load(a)
        except (KeyError, TypeError, ValueError, AttributeError, IndexError) as e:
            self._load(saved)
            raise InvalidArgument(f"not a userptr state: {type(e).__name__}: {e}") from None

    def frames(self) -> int:
        """The frames a run can use: one per page, one more per invalidation."""
        return self.pages + self.max_inv

    def _load(self, a: Mapping[str, Any]) -> None:
        x = a["extra"] if "extra" in a else self._derived(a)
        self.mm = Mm.from_json(x["mm"])
        self.mm_changed = bool(x["changed"])
        self.doomed = {int(f) for f in x["doomed"]}
        self.stale = [str(s) for s in x["stale"]]
        self.threads = {t: Thread(str(a["pc"][t]), str(a["cur"][t]), int(a["tseq"][t]),
                                  {int(p): int(f) for p, f in a["got"][t]}) for t in KTHREADS}
        self.vm_lock, self.nl = str(a["vmLock"]), str(a["nl"])
        self.cb = {u: str(a["mm"]["cb"][u]) for u in self.order}
        self.inv_count = int(a["invCount"])
        self.expect = {int(p): int(v) for p, v in a["expect"].items()}
        self.useq = {u: int(a["useq"][u]) for u in self.order}
        self.pinned = {u: {int(p): int(f) for p, f in a["pinned"][u]} for u in self.order}
        self.dma = DmaMap({(str(o), int(f)) for o, f, _ in a["dma"]})
        self.freed_touch = bool(a["freedTouch"])
        self.initial_bind = {u: bool(a["initialBind"][u]) for u in self.order}
        self.bind_seq = {u: int(a["bindSeq"][u]) for u in self.order}
        self.vm_bound, self.failed, self.zapped = (set(map(str, a[k])) for k in
                                                   ("vmBound", "failed", "zapped"))
        self.invalidated, self.repin, self.rebind = (set(map(str, a[k])) for k in
                                                     ("invalidated", "repin", "rebind"))
        self.ptq = [PtJob.from_json(j) for j in a["ptq"]]
        self.job, self.deps = str(a["job"]), int(a["deps"])
        self.job_uses, self.nexec = set(map(str, a["jobUses"])), int(a["nexec"])
        self.gpu = Gpu(len(self.gts), {(str(u), int(p)): int(f) for u, p, f in a["gpuPte"]},
                       {g: {} for g in range(len(self.gts))})
        for g, u, p, f in x["tlb"]:
            self.gpu.tlb[int(g)][(str(u), int(p))] = int(f)
        self.bad_read = bool(a["badRead"])
        self.destroyed = set(map(str, a.get("destroyed", ())))
        self.gone = {u: int(a["nseq"][u]) for u in self.destroyed}
        self._validate()

    def _derived(self, a: Mapping[str, Any]) -> dict[str, Any]:
        """``extra`` from the variables the spec has: the mm (its VMAs the runs of
        mapped pages; a frame allocated and no longer mapped is freed), the old frame
        once every callback returned, the whole TLB (an entry equal to its PTE reaches
        what a walk does, so none is one)."""
        pte = {int(p): int(f) for p, f in a["cpuPte"].items() if int(f) != -1}
        nxt = int(a["nextFrame"])
        vmas: list[list[int]] = []
        for p in sorted(pte):
            if vmas and vmas[-1][1] == p:
                vmas[-1][1] = p + 1
            else:
                vmas.append([p, p + 1])
        m = a["mm"]
        st, page, cb = str(m["st"]), int(m["page"]), {str(u): str(v) for u, v in m["cb"].items()}
        inv = None if st == "idle" else {
            "event": str(m["ev"]), "pages": [page], "blockable": True,
            "pending": [u for u in sorted(cb) if cb[u] in ("todo", "wait", "zap")],
            "called": [u for u in sorted(cb) if cb[u] == "done"]}
        over = all(v in ("none", "done") for v in cb.values())
        mem = {str(f): int(v) for f, v in a["mem"].items() if int(f) < nxt}
        mm = {"vmas": vmas, "pte": {str(p): f for p, f in pte.items()}, "mem": mem,
              "freed": sorted(set(range(nxt)) - set(pte.values())), "next": nxt,
              "seq": int(a["mmSeq"]),
              "notifiers": {u: [*self.ranges[u], int(a["nseq"][u])] for u in self.order
                            if u not in a.get("destroyed", ())},
              "inv": inv, "users": 1,
              "count": 1 + len(set(self.order) - set(a.get("destroyed", ())))}
        gt = {g: i for i, g in enumerate(self.gts)}
        return {"mm": mm, "changed": st == "end",
                "doomed": [pte[page]] if st == "cb" and over else [], "stale": [],
                "tlb": [[gt[int(g)], u, p, f] for g, u, p, f in a["tlb"]]}

    def _validate(self) -> None:
        """Names the state holds must be names of this configuration."""
        if {self.vm_lock, self.nl} - {"", *KTHREADS}:
            raise ValueError(f"lock holders {self.vm_lock!r}, {self.nl!r} are not threads")
        named = (self.vm_bound | self.failed | self.zapped | self.invalidated | self.repin
                 | self.rebind | self.job_uses | {j.u for j in self.ptq}
                 | {_va(k)[0] for k in self.gpu.pte} | {th.cur for th in self.threads.values()}
                 | self.destroyed)
        unknown = named - {"", *self.order}
        if unknown:
            raise ValueError(f"no userptr(s) {sorted(unknown)}")

    # -------------------------------------------------------------- steps

    mm_changed = False
    _trying = False

    def _act(self, name: str, args: dict[str, Any], body: Callable[[], Any]) -> Any:
        """One step; a step that cannot happen now is -EBUSY and changes nothing."""
        if self._trying:          # enabled() restores the state after every try
            return body()
        saved = self.abstract()
        try:
            result = body()
        except GpuVmError as err:
            self._load(saved)
            self.tracer.event(Event(SYSTEM, name, args, None, err.errno_name))
            raise
        except Exception:
            self._load(saved)
            raise
        self.tracer.event(Event(SYSTEM, name, args, result))
        return result

    def cb_over(self) -> bool:
        return all(s in ("none", "done") for s in self.cb.values())

    def _cb_current(self, u: str, stage: str) -> None:
        if self.mm.inv is None or self.cb.get(u) != stage:
            raise Busy(f"{u}'s callback is not at {stage!r}")

    def inv_start(self, p: int, ev: str) -> None:
        def body() -> None:
            if self.mm.inv is not None or self.inv_count >= self.max_inv:
                raise Busy("an invalidation runs, or the last one was made")
            if ev not in ("unmap", "migrate") or p not in self.mm.pte:
                raise Busy(f"no {ev} of page {p}")
            inv = self.mm.begin(ev, (p,))
            self.mm_changed = False
            self.inv_count += 1
            for u in self.order:
                self.cb[u] = "todo" if u in inv.pending else "none"
        self._act("InvStart", {"p": p, "ev": ev}, body)

    def notify(self, u: str) -> None:
        """The callback's write section: down_write, set_seq, the list, up_write."""
        def body() -> None:
            self._cb_current(u, "todo")
            todo = [v for v in self.order if self.cb[v] == "todo"]
            if todo[0] != u or any(s in ("wait", "zap") for s in self.cb.values()):
                raise Busy(f"{u}'s callback is not the one due")
            if self.nl:
                raise Busy(f"down_write(notifier_lock): {self.nl} holds it for read")
            self.mm.set_seq(u, self.mm.seq)
            if not self.initial_bind[u]:
                self._cb_return(u)       # never bound: the binder's seq check sees it
                return
            if self.mode != "fault":
                self.invalidated.add(u)
            self.cb[u] = "wait"
        self._act("Notify", {"u": u}, body)

    def _cb_return(self, u: str) -> None:
        self.cb[u] = "done"
        self.mm.called(u)
        if self.cb_over():
            inv = self.mm.inv
            assert inv is not None
            self.doomed |= {self.mm.pte[p] for p in inv.pages}

    def fence_wait(self, u: str) -> None:
        """Signalling enabled on the VM's BOOKKEEP fences (the LR job preempted), all
        waited for."""
        def body() -> None:
            self._cb_current(u, "wait")
            if any(j.fenced for j in self.ptq):
                raise Busy("a fenced PT job has not run")
            if self.mode == "dmafence" and self.job in ("armed", "running"):
                raise Busy("the exec job's fence has not signalled")
            if self.mode == "lr" and self.job == "running":
                self.job = "preempted"
            if self.mode == "fault":
                self.cb[u] = "zap"
            else:
                self._cb_return(u)
        self._act("FenceWait", {"u": u}, body)

    def zap(self, u: str) -> None:
        """Fault mode: u's PTEs zapped, every GT's TLB invalidated and waited for."""
        def body() -> None:
            self._cb_current(u, "zap")
            vas = [(u, p) for p in range(*self.ranges[u])]
            self.gpu.zap(vas)
            for g in range(len(self.gts)):
                self.gpu.invalidate(g, vas)
            self.zapped.add(u)
            self._cb_return(u)
        self._act("Zap", {"u": u}, body)

    def cpu_update(self, p: int) -> None:
        def body() -> None:
            inv = self.mm.inv
            if inv is None or inv.pages != (p,) or not self.cb_over() or self.mm_changed:
                raise Busy(f"page {p}'s change is not due")
            self.mm.change()
            self.mm_changed = True
        self._act("CpuUpdate", {"p": p}, body)

    def inv_end(self, p: int) -> None:
        def body() -> None:
            inv = self.mm.inv
            if inv is None or inv.pages != (p,) or not self.mm_changed:
                raise Busy(f"page {p}'s invalidation cannot end")
            self.mm.end()
            self.mm_changed = False
            self.cb = dict.fromkeys(self.order, "none")
        self._act("InvEnd", {"p": p}, body)

    # ------------------------------------------------------------ the GPU

    def pt_run(self) -> None:
        """The head PT job: its PTEs written (their TLB entries invalidated), signalled."""
        def body() -> None:
            if not self.ptq:
                raise Busy("no PT job queued")
            j = self.ptq.pop(0)
            for p, f in j.map.items():
                self.gpu.write_pte((j.u, p), f)
                for g in range(len(self.gts)):
                    self.gpu.invalidate(g, [(j.u, p)])
            if self.job == "armed" and self.deps:
                self.deps -= 1
        self._act("PtRun", {}, body)

    def job_start(self) -> None:
        def body() -> None:
            if self.job != "armed" or self.deps:
                raise Busy("no armed job whose PT jobs all ran")
            self.job = "running"
        self._act("JobStart", {}, body)

    def job_done(self) -> None:
        def body() -> None:
            if self.mode != "dmafence" or self.job != "running":
                raise Busy("no exec job running")
            self.job = "idle"
        self._act("JobDone", {}, body)

    def in_use(self) -> set[str]:
        return self.job_uses if self.mode == "dmafence" else self.vm_bound

    def gpu_access(self, g: int, u: str, p: int, rw: str) -> int:
        """The engine reads or writes VA (u, p) through GT g: the frame it reached."""
        def body() -> int:
            if self.mode != "fault" and self.job != "running":
                raise Busy("the engine does not run")
            if u not in self.in_use() or u in self.failed or rw not in ("r", "w") \
                    or not self.ranges[u][0] <= p < self.ranges[u][1] or g not in self.gts \
                    or (rw == "w" and p not in self.write_pages):
                raise Busy(f"the GPU does not {rw} ({u}, {p}) on GT {g}")
            f = self.gpu.translate(self.gts.index(g), (u, p))
            if f is None:
                raise Busy(f"({u}, {p}) has no translation on GT {g}: a GPU fault")
            if f in self.doomed or f in self.mm.freed:
                self.stale.append(f"GT {g} {'read' if rw == 'r' else 'wrote'} ({u}, {p}) "
                                  f"through frame {f}, which an invalidation took away")
            if rw == "r":
                if self.mm.mem[f] != self.expect[p]:
                    self.bad_read = True
            else:
                v = 1 - self.expect[p]
                self.mm.mem[f] = v
                self.expect[p] = v
            return f
        return self._act("GpuAccess", {"g": g, "u": u, "p": p, "rw": rw},  # type: ignore[no-any-return]
                         body)

    # ------------------------------------------------------------ enabled

    def candidates(self) -> list[tuple[str, dict[str, Any]]]:
        """Every step with every argument that could be enabled."""
        out: list[tuple[str, dict[str, Any]]] = []
        for p in range(self.pages):
            out += [("InvStart", {"p": p, "ev": ev}) for ev in ("unmap", "migrate")]
            out += [("CpuUpdate", {"p": p}), ("InvEnd", {"p": p})]
        for u in self.order:
            out += [(a, {"u": u}) for a in ("Notify", "FenceWait", "Zap", "FaultBegin",
                                            "FaultDone")]
            for t in KTHREADS:
                out += [(a, {"t": t, "u": u}) for a in (
                    "PinBegin", "PinFault", "PinTimeout", "PinNoMem", "PinMap", "RepinZap",
                    "NlRead", "Check", "Commit", "NlUnlock", "AddFence", "Rebind",
                    "Destroy")
                    if self.threads[t].cur == u]
            for g in self.gts:
                for p in range(*self.ranges[u]):
                    out += [("GpuAccess", {"g": g, "u": u, "p": p, "rw": rw})
                            for rw in ("r", "w")]
        out += [(a, {}) for a in ("WorkerStart", "Resume", "ExecBegin", "Arm", "PtRun",
                                  "JobStart", "JobDone")]
        return out

    def _may(self, action: str, args: Mapping[str, Any]) -> bool:
        """A necessary condition of ``action(args)``: where its thread must be (a cheap
        filter before the step is tried)."""
        if action in _AT:
            th = self.threads[args["t"]]
            return th.pc in _AT[action] and th.cur == args["u"]
        if action in ("Notify", "FenceWait", "Zap"):
            return self.mm.inv is not None and self.cb[args["u"]] == _CB_AT[action]
        if action == "InvStart":
            return self.mm.inv is None and self.inv_count < self.max_inv
        if action in ("CpuUpdate", "InvEnd"):
            return self.mm.inv is not None and self.mm.inv.pages == (args["p"],)
        if action == "GpuAccess":
            return (self.mode == "fault" or self.job == "running") \
                and args["u"] in self.in_use()
        return True

    def enabled(self) -> list[tuple[str, dict[str, Any]]]:
        """The steps that can happen now (each tried, and undone)."""
        out = []
        saved = self.abstract()
        self._trying = True
        try:
            for action, args in self.candidates():
                if not self._may(action, args):
                    continue
                try:
                    VOCABULARY.perform(self, action, args)
                    out.append((action, args))
                except GpuVmError:
                    pass
                except Exception:   # an invariant the step broke: it is enabled
                    out.append((action, args))
                self._load(saved)
        finally:
            self._trying = False
        return out
