"""nouveau VM_BIND (seed 001): VM_INIT, regions, bind jobs, EXEC, one bind queue.

One DRM client.  ``VmInit`` makes the client a VM_BIND client (the
kernel-managed area is ``[unmanaged_addr, +unmanaged_size)``); ``Legacy``
calls (``GEM_NEW``, ``CHANNEL_ALLOC`` before VM_INIT) make it a legacy one.
A ``VmBind`` is one *job* of ops applied in three stages (notes §2.5):

1. **submit** (the ioctl): for each op in array order -- look up the MAP's
   handle (``-ENOENT``), check the op (``-EINVAL``), then change the
   *logical* VA tree at once: ALLOC adds a region (a sparse one takes a
   page-table reference over it and writes sparse PTEs), FREE unmaps the
   region and removes it, MAP and UNMAP split and replace mappings
   (:class:`~model.vaspace.VaSpace`, mmap semantics; split pieces keep
   their object, offset and kind).  A MAP takes a page-table reference on
   every page of its range no mapping covered; every new mapping holds a
   GEM reference, and the job one per MAP op.  Then the in-syncs become the
   job's dependencies and the out-syncs get the job's fence; the job is
   pushed to the client's one bind entity.  Any failure undoes every op
   before it: the state is as before the ioctl (all or nothing).
2. **run** (``Run``, the scheduler, in queue order once the dependencies
   have signalled): the page tables (:class:`~model.pagetable.PageTable`)
   are written -- removed mappings' pages cleared (sparse again inside a
   sparse region), new mappings' pages written -- and the GEM lists
   follow; the job's fence signals.
3. **free** (``Free``, in order): the page-table references of the pages
   the job unmapped and the GEM references of the mappings it removed and
   of its MAP ops are put; a freed sparse region drops its reference and
   its sparse PTEs.

A sync VM_BIND (no ``RUN_ASYNC``) takes no syncs and returns (``Return``)
only after its job has run.  ``Exec`` pushes a job on the channel's entity
that waits for its in-syncs.  Threads may run fixed programs (``Submit``
takes the thread's next ioctl) or call the ioctls directly.

Profiles: ``seed`` is the posted code's uAPI behaviour -- ``pad`` and
unknown flag bits unchecked (C25), the kind taken as ``flags && 0xff``
(C4), FREE of an unknown region returning 0 (C5), a sync bind returning
before its job ran when the wait is interrupted (C19), EXEC with no pushes
returning 0 without signalling (C24), VM_INIT without an alignment check;
``fixed`` is what the review and the bug list ask.  The seed's bugs that
corrupt state (C7, C10, C21, the unwind ones) are mutants of this model.

Diagram (fixed; a region [0x10000, +0x8000), object 1 of 0x8000 bytes;
``tests/test_nouveau.py`` replays the rows)::

    VmBind  async MAP [0x10000, +0x4000) 1@0 sig s10   ok    queue: 1
    VmBind  sync  UNMAP [0x12000, +0x1000)             ok    queue: 1 2, t1 waits 2
    Return  t1                                         EBUSY (job 2 has not run)
    Run     bind                                       ok    job 1 ran: PTEs written
    Run     bind                                       ok    job 2 ran: page 0x12000 cleared
    Return  t1                                         ok
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Self

from model.actions import DATA, INT, NAME, U64, Action, Param, Vocabulary
from model.errors import (
    AlreadyExists,
    Busy,
    Fault,
    GpuVmError,
    InvalidArgument,
    NoDevice,
    NoMemory,
    NoSys,
    NotFound,
    NotSupported,
    Overflow,
)
from model.gpuva import Region, Va
from model.nouveau_uapi import (
    GEM_MAX_PUSH,
    PAGE,
    SYNC_SYNCOBJ,
    SYNC_TIMELINE_SYNCOBJ,
    VA_END,
    VM_BIND_KIND_MASK,
    VM_BIND_OP_ALLOC,
    VM_BIND_OP_FREE,
    VM_BIND_OP_MAP,
    VM_BIND_OP_UNMAP,
    VM_BIND_RUN_ASYNC,
    VM_BIND_SPARSE,
    BindOp,
    Push,
    Sync,
    parse_list,
    validate_range,
    widths,
)
from model.pagetable import SPARSE, PageTable, RunCounts, Target
from model.trace import NOP, Event, Tracer
from model.vaspace import VaSpace

SYSTEM = "nouveau"
PROFILES = ("seed", "fixed")
LEGACY_CALLS = ("GEM_NEW", "CHANNEL_ALLOC", "GEM_PUSHBUF")
BIND_ENTITY = "bind"
BIND_OP_SIZE = 40          # sizeof(struct drm_nouveau_vm_bind_op)

_SYNCS = (Param("waits", DATA), Param("sigs", DATA))
VOCABULARY = Vocabulary(SYSTEM, (
    Action("VmInit", "vm_init", (Param("unmanaged_addr", U64), Param("unmanaged_size", U64)),
           ("EINVAL", "ENOSYS", "EEXIST"), doc="DRM_IOCTL_NOUVEAU_VM_INIT"),
    Action("Legacy", "legacy", (Param("call", NAME),), ("ENOSYS", "EINVAL"),
           doc="a pre-VM_BIND ioctl: GEM_NEW, CHANNEL_ALLOC or GEM_PUSHBUF"),
    Action("VmBind", "vm_bind", (Param("thread", NAME), Param("op_count", INT),
                                 Param("flags", INT), Param("ops", DATA), *_SYNCS),
           ("EINVAL", "ENOENT", "ENOSYS", "EOPNOTSUPP", "ENOMEM", "EBUSY", "EEXIST",
            "EFAULT", "EOVERFLOW"),
           doc="DRM_IOCTL_NOUVEAU_VM_BIND: submit one job"),
    Action("Exec", "exec_", (Param("thread", NAME), Param("channel", INT),
                             Param("push", DATA), *_SYNCS),
           ("EINVAL", "ENOENT", "ENOSYS", "ENODEV", "EOPNOTSUPP", "ENOMEM"),
           doc="DRM_IOCTL_NOUVEAU_EXEC"),
    Action("Submit", "submit", (Param("thread", NAME),),
           ("EINVAL", "ENOENT", "ENOSYS", "EOPNOTSUPP", "ENOMEM", "EBUSY", "EEXIST", "ENODEV"),
           doc="the thread's next ioctl from its program"),
    Action("Run", "run", (Param("entity", NAME),), ("EBUSY",),
           doc="drm_sched runs the entity's head job (its dependencies signalled)"),
    Action("Free", "free", (Param("entity", NAME),), ("EBUSY",),
           doc="drm_sched's free_job for the entity's oldest job that ran"),
    Action("Return", "return_", (Param("thread", NAME),), ("EBUSY",),
           doc="a sync VM_BIND's wait ends and the ioctl returns"),
    Action("Inject", "inject", (Param("nth", INT),), ("EINVAL",),
           doc="the nth allocation of the next ioctl fails with -ENOMEM (0: none)"),
))


@dataclass
class Job:
    """One scheduler job (bind or exec) and what its later stages need."""

    id: int
    t: str
    k: int                      # the program entry it came from (0: a direct call)
    e: str                      # its entity
    kind: str                   # "bind" or "exec"
    sync: bool = False
    st: str = "queued"          # "queued" -> "run" -> "freed"
    deps: list[int] = field(default_factory=list)
    added: list[Va] = field(default_factory=list)
    removed: list[Va] = field(default_factory=list)
    put: list[tuple[int, int]] = field(default_factory=list)
    maprefs: list[str] = field(default_factory=list)
    regions: list[Region] = field(default_factory=list)   # FREEd, released at free_job

    def to_json(self) -> dict[str, Any]:
        """What the job is and where it is (the spec's job record)."""
        return {"t": self.t, "k": self.k, "e": self.e, "st": self.st,
                "deps": sorted(self.deps), "added": sorted(v.to_json() for v in self.added),
                "removed": sorted(v.to_json() for v in self.removed),
                "put": [list(p) for p in self.put]}

    def info_json(self) -> dict[str, Any]:
        """What its stages need that a spec does not hold (``jobinfo``)."""
        return {"kind": self.kind, "sync": self.sync, "maprefs": list(self.maprefs),
                "regions": [r.to_json() for r in self.regions]}

    @staticmethod
    def from_json(jid: int, d: Mapping[str, Any], info: Mapping[str, Any]) -> Job:
        return Job(jid, str(d["t"]), int(d["k"]), str(d["e"]), str(info["kind"]),
                   bool(info["sync"]), str(d["st"]), [int(x) for x in d["deps"]],
                   [Va.from_json(v) for v in d["added"]],
                   [Va.from_json(v) for v in d["removed"]],
                   [(int(a), int(n)) for a, n in d["put"]], [str(x) for x in info["maprefs"]],
                   [Region(int(a), int(n), bool(sp)) for a, n, sp in info["regions"]])


class NouveauSystem:
    """One nouveau client: its VM, objects, syncobjs, channels, queues, threads."""

    def __init__(self, gems: Mapping[str, int], *, syncobjs: tuple[int, ...] = (),
                 channels: Mapping[int, str] | None = None,
                 threads: Mapping[str, list[dict[str, Any]]] | None = None,
                 init: tuple[int, int] | None = None,
                 regions: tuple[tuple[int, int, bool], ...] = (),
                 profile: str = "fixed", tracer: Tracer = NOP) -> None:
        if profile not in PROFILES:
            raise InvalidArgument(f"profile {profile!r} (profiles: {', '.join(PROFILES)})")
        for h, size in gems.items():
            if not (h.isdigit() and 0 < int(h) < 1 << 32) or size <= 0 or size % PAGE:
                raise InvalidArgument(f"GEM {h!r} of {size!r} bytes (a u32 handle, whole pages)")
        self.profile = profile
        self.tracer = tracer
        self.sizes = {str(h): int(s) for h, s in gems.items()}
        self.syncobjs = tuple(int(s) for s in syncobjs)
        self.channels = {int(c): str(st) for c, st in (channels or {}).items()}
        self.programs = {str(t): list(p) for t, p in (threads or {"t1": []}).items()}
        self._config = {"gems": dict(self.sizes), "syncobjs": list(self.syncobjs),
                        "channels": {str(c): s for c, s in self.channels.items()},
                        "threads": {t: list(p) for t, p in self.programs.items()},
                        "init": list(init) if init else None,
                        "regions": [list(r) for r in regions], "profile": profile}
        self._reset()
        if init is not None:
            self.vm_init(*init)
            for a, n, sparse in regions:
                self._region_create(a, n, bool(sparse))

    def _reset(self) -> None:
        self.mode = "uninit"
        self.kernel: tuple[int, int] | None = None
        self.vs: VaSpace | None = None
        self.pt = PageTable()
        self.ptref = RunCounts()
        self.linked: dict[str, list[Va]] = {}
        self.refs = dict.fromkeys(self.sizes, 1)
        self.queue: dict[str, list[int]] = {BIND_ENTITY: []}
        self.queue.update({f"exec:{c}": [] for c in self.channels})
        self.jobs: list[Job] = []
        self.syncs: dict[int, list[tuple[int, int]]] = {s: [] for s in self.syncobjs}
        self.promised: list[tuple[int, int]] = []
        self.pc = dict.fromkeys(self.programs, 1)
        self.wait = dict.fromkeys(self.programs, 0)
        self.fail_at = 0
        self._allocs = 0
        self.oops = ""

    # ------------------------------------------------------------ component

    def config(self) -> dict[str, Any]:
        return dict(self._config)

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> Self:
        init = config.get("init")
        return cls({str(h): int(s) for h, s in config["gems"].items()},
                   syncobjs=tuple(int(s) for s in config.get("syncobjs", ())),
                   channels={int(c): str(s) for c, s in config.get("channels", {}).items()},
                   threads={str(t): list(p)
                            for t, p in config.get("threads", {"t1": []}).items()},
                   init=(int(init[0]), int(init[1])) if init else None,
                   regions=tuple((int(a), int(n), bool(sp))
                                 for a, n, sp in config.get("regions", ())),
                   profile=str(config.get("profile", "fixed")))

    def abstract(self) -> dict[str, Any]:
        vs = self.vs
        return {
            "mode": self.mode,
            "kernel": list(self.kernel) if self.kernel else None,
            "regions": [r.to_json() for r in vs.regions] if vs is not None else [],
            "tree": [v.to_json() for v in vs] if vs is not None else [],
            "pte": self.pt.abstract(),
            "ptref": self.ptref.abstract(),
            "linked": {h: sorted(v.to_json() for v in vas)
                       for h, vas in sorted(self.linked.items()) if vas},
            "refs": dict(sorted(self.refs.items())),
            "queue": {e: list(q) for e, q in sorted(self.queue.items())},
            "jobs": [j.to_json() for j in self.jobs],
            "jobinfo": [j.info_json() for j in self.jobs],
            "syncs": {str(s): sorted([p, j] for p, j in pairs)
                      for s, pairs in sorted(self.syncs.items())},
            "promised": sorted([s, p] for s, p in set(self.promised)),
            "pc": dict(sorted(self.pc.items())),
            "wait": dict(sorted(self.wait.items())),
            "inject": self.fail_at,
            "oops": self.oops,
        }

    def restore(self, abstract: Mapping[str, Any]) -> None:
        """Put the client in ``abstract`` (keys it lacks keep their values)."""
        saved = self.abstract()
        merged = {**saved, **abstract}
        try:
            self._load(merged)
        except (KeyError, TypeError, ValueError, IndexError, GpuVmError) as e:
            self._load(saved)
            raise InvalidArgument(f"not a nouveau state: {e!r}") from None

    def _load(self, a: Mapping[str, Any]) -> None:
        self.mode = str(a["mode"])
        self.kernel = (int(a["kernel"][0]), int(a["kernel"][1])) if a["kernel"] else None
        self.vs = None
        if self.kernel is not None:
            self.vs = self._new_vaspace(self.kernel)
            for r in a["regions"]:
                self.vs._regions.insert(Region(int(r[0]), int(r[1]), bool(r[2])))
            for v in a["tree"]:
                self.vs.insert(Va.from_json(v))
        self.pt = PageTable.from_abstract(a["pte"])
        self.ptref = RunCounts(a["ptref"])
        self.linked = {str(h): [Va.from_json(v) for v in vas] for h, vas in a["linked"].items()}
        self.refs = {str(h): int(n) for h, n in a["refs"].items()}
        self.queue = {str(e): [int(x) for x in q] for e, q in a["queue"].items()}
        self.queue = {self._entity(e): q for e, q in self.queue.items()}
        infos = a.get("jobinfo")
        if not isinstance(infos, list) or len(infos) != len(a["jobs"]):
            infos = [self._job_info(j) for j in a["jobs"]]   # a spec's state: from the programs
        self.jobs = [Job.from_json(i + 1, {**j, "e": self._entity(str(j["e"]))}, info)
                     for i, (j, info) in enumerate(zip(a["jobs"], infos, strict=True))]
        self.syncs = {int(s): [(int(p), int(j)) for p, j in pairs]
                      for s, pairs in a["syncs"].items()}
        self.promised = [(int(s), int(p)) for s, p in a["promised"]]
        self.pc = {str(t): int(n) for t, n in a["pc"].items()}
        self.wait = {str(t): int(n) for t, n in a["wait"].items()}
        self.fail_at = int(a["inject"])
        self._allocs = 0
        self.oops = str(a.get("oops", ""))

    def _entity(self, e: str) -> str:
        """``"exec"`` (a spec's one exec entity) is the one channel's."""
        if e == "exec" and len(self.channels) == 1:
            return f"exec:{next(iter(self.channels))}"
        return e

    def _job_info(self, j: Mapping[str, Any]) -> dict[str, Any]:
        """A job's ``jobinfo`` from the program entry it came from."""
        e = self.programs[str(j["t"])][int(j["k"]) - 1]
        bind = e.get("ioctl", "bind") == "bind"
        return {"kind": "bind" if bind else "exec",
                "sync": bind and not int(e["flags"]) & VM_BIND_RUN_ASYNC,
                "maprefs": [str(op[2]) for op in e.get("ops", []) if op[0] == VM_BIND_OP_MAP],
                "regions": []}

    def enabled(self) -> list[tuple[str, dict[str, Any]]]:
        """The steps that can happen now (``Submit``, ``Run``, ``Free``, ``Return``)."""
        out: list[tuple[str, dict[str, Any]]] = []
        for t, prog in self.programs.items():
            if self.pc[t] <= len(prog) and not self.wait[t]:
                out.append(("Submit", {"thread": t}))
            jid = self.wait[t]
            if jid and (self.profile == "seed" or self._job(jid).st != "queued"):
                out.append(("Return", {"thread": t}))
        for e, q in self.queue.items():
            if q and all(self._job(d).st != "queued" for d in self._job(q[0]).deps):
                out.append(("Run", {"entity": e}))
            mine = [j for j in self.jobs if j.e == e and j.st != "freed"]
            if mine and mine[0].st == "run":
                out.append(("Free", {"entity": e}))
        return out

    @staticmethod
    def _new_vaspace(kernel: tuple[int, int]) -> VaSpace:
        return VaSpace(0, VA_END, kernel[0], kernel[1], regions=True)

    # -------------------------------------------------------------- helpers

    def _act(self, name: str, args: dict[str, Any], body: Callable[[], Any]) -> Any:
        """All or nothing: a rejection leaves every object as it was."""
        saved = self.abstract()
        ioctl = name in ("VmInit", "Legacy", "VmBind", "Exec", "Submit")
        self._allocs = 0
        try:
            if self.oops and name != "Inject":
                raise Busy(f"the kernel is past a memory-safety bug ({self.oops})")
            result = body()
        except GpuVmError as err:
            keep_pc = dict(self.pc)
            self._load(saved)
            if name == "Submit":   # the program moves on past a failed ioctl
                self.pc = keep_pc
            if ioctl:              # an injection is for the next ioctl only
                self.fail_at = 0
            self.tracer.event(Event(SYSTEM, name, args, None, err.errno_name))
            raise
        finally:
            self._allocs = 0
        if ioctl:
            self.fail_at = 0
        self.tracer.event(Event(SYSTEM, name, args, result))
        return result

    def _alloc(self, what: str) -> None:
        """One allocation of the ioctl; the injected one fails."""
        self._allocs += 1
        if self.fail_at and self._allocs == self.fail_at:
            self.fail_at = 0
            raise NoMemory(f"injected: allocation {self._allocs} ({what}) fails")

    def _uvmm(self) -> VaSpace:
        if self.mode != "vm" or self.vs is None:
            raise NoSys("the client is not a VM_BIND client")
        return self.vs

    def _thread(self, thread: str) -> None:
        if thread not in self.programs:
            raise InvalidArgument(f"no thread {thread!r} (threads: {', '.join(self.programs)})")
        if self.wait[thread]:
            raise Busy(f"{thread} is blocked in a sync VM_BIND (job {self.wait[thread]})")

    # ------------------------------------------------------- VM_INIT, legacy

    def vm_init(self, unmanaged_addr: int, unmanaged_size: int) -> None:
        """``nouveau_uvmm_init``."""
        def body() -> None:
            widths(("unmanaged_addr", unmanaged_addr, 64), ("unmanaged_size", unmanaged_size, 64))
            if self.mode == "legacy":
                raise NoSys("the client already used the legacy uAPI")
            end = unmanaged_addr + unmanaged_size
            if end <= unmanaged_addr or end >= 1 << 64:
                raise InvalidArgument("the kernel area is empty or wraps")
            if end > VA_END:
                raise InvalidArgument("the kernel area ends past 2^47")
            if self.profile == "fixed":
                if self.mode == "vm":
                    raise AlreadyExists("VM_INIT twice (C21)")
                if unmanaged_addr % PAGE or unmanaged_size % PAGE:
                    raise InvalidArgument("the kernel area is not page aligned (C21)")
            elif self.mode == "vm":
                raise AlreadyExists("VM_INIT twice: re-initialising over live mappings is "
                                    "the mutant nouveau-vm-init-twice")
            self.kernel = (unmanaged_addr, unmanaged_size)
            self.vs = self._new_vaspace(self.kernel)
            self.mode = "vm"
        self._act("VmInit", {"unmanaged_addr": unmanaged_addr,
                             "unmanaged_size": unmanaged_size}, body)

    def legacy(self, call: str) -> None:
        """The uAPI mode switch (notes §3 "UAPI mixing")."""
        def body() -> None:
            if call not in LEGACY_CALLS:
                raise InvalidArgument(f"unknown call {call!r} ({', '.join(LEGACY_CALLS)})")
            if call == "GEM_PUSHBUF":
                if self.mode == "vm":
                    raise NoSys("GEM_PUSHBUF on a VM_BIND client")
            elif self.mode == "uninit":
                self.mode = "legacy"
        self._act("Legacy", {"call": call}, body)

    def inject(self, nth: int) -> None:
        def body() -> None:
            if nth < 0:
                raise InvalidArgument(f"nth = {nth}")
            self.fail_at = nth
        self._act("Inject", {"nth": nth}, body)

    # ------------------------------------------------------------ VM_BIND

    def vm_bind(self, thread: str, op_count: int, flags: int, ops: Any, waits: Any,
                sigs: Any) -> int:
        """``nouveau_uvmm_ioctl_vm_bind``: the job's id (0: none was made).

        ``ops`` is what user memory holds at ``op_ptr``; ``op_count`` is how many
        ops the ioctl says are there.  The copy (``u_memcpya``) takes
        ``op_count * sizeof(op)`` bytes: computed in 32 bits by the seed (C20),
        so a huge count copies a few bytes and the job reads ops past them --
        the model records that over-read in ``oops`` and stops; ``fixed``
        refuses the count (``-EOVERFLOW``).  More ops than the array holds is
        ``-EFAULT``; fewer, only the first ``op_count`` are the job's.
        """
        args = {"thread": thread, "op_count": op_count, "flags": flags, "ops": ops,
                "waits": waits, "sigs": sigs}
        return self._act("VmBind", args,  # type: ignore[no-any-return]
                         lambda: self._bind(thread, 0, flags, ops, waits, sigs, op_count))

    def _bind(self, thread: str, k: int, flags: int, raw_ops: Any, raw_waits: Any,
              raw_sigs: Any, op_count: int | None = None) -> int:
        self._thread(thread)
        widths(("flags", flags, 32), ("op_count", len(raw_ops) if op_count is None
                                      and isinstance(raw_ops, list) else op_count or 0, 32))
        vs = self._uvmm()
        if op_count is not None and isinstance(raw_ops, list):
            nbytes = op_count * BIND_OP_SIZE
            if nbytes >= 1 << 32:
                if self.profile == "fixed":
                    raise Overflow(f"op_count {op_count} x {BIND_OP_SIZE} bytes overflows")
                self.oops = (f"C20: u_memcpya copied {nbytes % (1 << 32)} bytes for "
                             f"{op_count} ops; the job reads past them")
                return 0
            if op_count > len(raw_ops):
                raise Fault(f"op_count {op_count}, but user memory holds {len(raw_ops)} ops")
            raw_ops = raw_ops[:op_count]
        ops = parse_list(raw_ops, "ops", BindOp.of)
        waits = parse_list(raw_waits, "waits", Sync.of)
        sigs = parse_list(raw_sigs, "sigs", Sync.of)
        for i, op in enumerate(ops):
            op.check_widths(f"ops[{i}]")
        for name, lst in (("waits", waits), ("sigs", sigs)):
            for i, s in enumerate(lst):
                s.check_widths(f"{name}[{i}]")
        fixed = self.profile == "fixed"
        if fixed and flags & ~VM_BIND_RUN_ASYNC:
            raise InvalidArgument(f"unknown vm_bind flags {flags:#x} (C25)")
        sync = not flags & VM_BIND_RUN_ASYNC
        self._alloc("the bind job")
        for _ in ops:
            self._alloc("a bind_job_op")
        self._base_job_init(sync, waits, sigs)
        job = Job(len(self.jobs) + 1, thread, k, BIND_ENTITY, "bind", sync)
        if fixed:   # the dependencies and out-syncs are checked before the VA changes
            deps = self._deps(waits)
            self._prepare_sigs(sigs)
        for i, op in enumerate(ops):
            self._bind_op(vs, job, i, op)
        if not fixed:
            deps = self._deps(waits)
            self._prepare_sigs(sigs)
        job.deps = sorted(set(deps))
        self._push(job, sigs)
        if sync:
            self.wait[thread] = job.id
        return job.id

    def _base_job_init(self, sync: bool, waits: list[Sync], sigs: list[Sync]) -> None:
        if waits:
            if sync:
                raise InvalidArgument("a sync job takes no in-syncs")
            self._alloc("the in-sync copy")
        if sigs:
            if sync:
                raise InvalidArgument("a sync job takes no out-syncs")
            for what in ("the out-sync copy", "the out-sync objects", "the out-sync chains"):
                self._alloc(what)

    def _bind_op(self, vs: VaSpace, job: Job, i: int, op: BindOp) -> None:
        fixed = self.profile == "fixed"
        where = f"ops[{i}]"
        if fixed and op.pad:
            raise InvalidArgument(f"{where}.pad = {op.pad} (C25)")
        if fixed and op.flags & ~(VM_BIND_KIND_MASK | VM_BIND_SPARSE):
            raise InvalidArgument(f"{where}.flags = {op.flags:#x}: unknown bits (C25)")
        handle = str(op.handle)
        if op.op == VM_BIND_OP_MAP:
            if handle not in self.sizes:
                raise NotFound(f"{where}: no GEM handle {op.handle}")
            size = self.sizes[handle]
            if op.bo_offset % PAGE:
                raise InvalidArgument(f"{where}: bo_offset {op.bo_offset:#x} not page aligned")
            if size <= op.bo_offset:
                raise InvalidArgument(f"{where}: bo_offset {op.bo_offset:#x} past the object")
            if op.range > size - op.bo_offset:
                raise InvalidArgument(f"{where}: range {op.range:#x} past the object's end")
        assert self.kernel is not None
        validate_range(op.addr, op.range, self.kernel)
        end = op.addr + op.range
        if op.op == VM_BIND_OP_ALLOC:
            self._region_create(op.addr, op.range, bool(op.flags & VM_BIND_SPARSE))
        elif op.op == VM_BIND_OP_FREE:
            reg = next((r for r in vs.regions if r.addr == op.addr and r.range == op.range), None)
            if reg is None:
                if fixed:
                    raise NotFound(f"{where}: no region [{op.addr:#x}, +{op.range:#x}) (C5)")
                return   # C5: `goto unwind` with ret = 0 -- the ioctl succeeds
            self._alloc("the FREE's op list")
            self._unmap(vs, job, op.addr, end)
            vs._regions.remove(reg.addr)
            job.regions.append(reg)
        elif op.op == VM_BIND_OP_MAP:
            kind = op.flags & VM_BIND_KIND_MASK if fixed else int(op.flags != 0)  # C4
            self._alloc("the MAP's op list")
            vs.check_range(op.addr, op.range, need_region=True)
            gaps = self._gaps(vs, op.addr, end)
            self._replace(vs, job, op.addr, end, Va(op.addr, op.range, handle, op.bo_offset, kind))
            for a, e in gaps:
                self._alloc("page tables (vmm_get)")
                self.ptref.add(a, e, 1)
            job.maprefs.append(handle)
            self.refs[handle] += 1
        elif op.op == VM_BIND_OP_UNMAP:
            self._alloc("the UNMAP's op list")
            self._unmap(vs, job, op.addr, end)
        else:
            raise InvalidArgument(f"{where}: unknown op {op.op}")

    def _region_create(self, addr: int, range_: int, sparse: bool) -> None:
        vs = self._uvmm()
        if any(r.addr < addr + range_ and addr < r.end for r in vs.regions):
            raise AlreadyExists(f"region [{addr:#x}, +{range_:#x}) overlaps another (C10)")
        self._alloc("the region")
        vs._regions.insert(Region(addr, range_, sparse))
        if sparse:
            self._alloc("sparse page tables")
            self.ptref.add(addr, addr + range_, 1)
            self.pt.write(addr, range_, SPARSE)

    @staticmethod
    def _gaps(vs: VaSpace, addr: int, end: int) -> list[tuple[int, int]]:
        """The parts of ``[addr, end)`` no mapping covers (the vmm_get bookkeeping)."""
        out, at = [], addr
        for v in vs.overlapping(addr, end):
            if v.addr > at:
                out.append((at, v.addr))
            at = max(at, v.end)
        if at < end:
            out.append((at, end))
        return out

    def _unmap(self, vs: VaSpace, job: Job, addr: int, end: int) -> None:
        for v in vs.overlapping(addr, end):
            lo, hi = max(v.addr, addr), min(v.end, end)
            if job.put and sum(job.put[-1]) == lo:   # one run of pages, as the spec's put
                job.put[-1] = (job.put[-1][0], hi - job.put[-1][0])
            else:
                job.put.append((lo, hi - lo))
        self._replace(vs, job, addr, end, None)

    def _replace(self, vs: VaSpace, job: Job, addr: int, end: int, new: Va | None) -> None:
        """Remove what meets ``[addr, end)``, keep the pieces outside, add ``new``."""
        for v in vs.overlapping(addr, end):
            vs.remove(v)
            if v in job.added:
                job.added.remove(v)
                self.refs[str(v.gem)] -= 1
            else:
                job.removed.append(v)
            for lo, hi in ((v.addr, addr), (end, v.end)):
                if lo < hi:
                    self._alloc("a split piece (uvma)")
                    self._add(vs, job, v.piece(lo, hi))
        if new is not None:
            self._alloc("the new uvma")
            self._add(vs, job, new)

    def _add(self, vs: VaSpace, job: Job, v: Va) -> None:
        vs.insert(v)
        job.added.append(v)
        self.refs[str(v.gem)] += 1

    # ------------------------------------------------------------- syncs

    def _deps(self, waits: list[Sync]) -> list[int]:
        """``nouveau_job_add_deps``: the jobs each in-sync waits for."""
        deps: list[int] = []
        for i, s in enumerate(waits):
            if s.stype not in (SYNC_SYNCOBJ, SYNC_TIMELINE_SYNCOBJ):
                raise NotSupported(f"waits[{i}]: sync type {s.stype}")
            if s.handle not in self.syncs:
                raise NotFound(f"waits[{i}]: no syncobj {s.handle}")
            pairs = self.syncs[s.handle]
            if not pairs:
                raise InvalidArgument(f"waits[{i}]: syncobj {s.handle} has no fence")
            if s.point == 0:
                deps += [j for _, j in pairs]
                continue
            later = [p for p, _ in pairs if p >= s.point and p > 0]
            if not later:
                raise InvalidArgument(f"waits[{i}]: syncobj {s.handle} has no point "
                                      f">= {s.point}")
            q = min(later)
            deps += [j for p, j in pairs if p <= q]
        return deps

    def _prepare_sigs(self, sigs: list[Sync]) -> None:
        """``nouveau_job_fence_attach_prepare``."""
        for i, s in enumerate(sigs):
            if s.stype not in (SYNC_SYNCOBJ, SYNC_TIMELINE_SYNCOBJ):
                raise InvalidArgument(f"sigs[{i}]: sync type {s.stype}")
            if s.handle not in self.syncs:
                raise NotFound(f"sigs[{i}]: no syncobj {s.handle}")
            if s.stype == SYNC_TIMELINE_SYNCOBJ:
                self._alloc("a fence chain")

    def _push(self, job: Job, sigs: list[Sync]) -> None:
        """Arm, attach the out-fence to the syncobjs, push to the entity."""
        self.jobs.append(job)
        for s in sigs:
            if s.stype == SYNC_TIMELINE_SYNCOBJ:
                self.syncs[s.handle].append((s.point, job.id))
            else:
                self.syncs[s.handle] = [(0, job.id)]
            self.promised.append((s.handle, s.point))
        self.queue[job.e].append(job.id)

    # ---------------------------------------------------------------- EXEC

    def exec_(self, thread: str, channel: int, push: Any, waits: Any, sigs: Any) -> int:
        """``nouveau_exec_ioctl_exec``: the job's id, 0 when no job is made."""
        args = {"thread": thread, "channel": channel, "push": push, "waits": waits,
                "sigs": sigs}
        return self._act("Exec", args,  # type: ignore[no-any-return]
                         lambda: self._exec(thread, 0, channel, push, waits, sigs))

    def _exec(self, thread: str, k: int, channel: int, raw_push: Any, raw_waits: Any,
              raw_sigs: Any) -> int:
        self._thread(thread)
        widths(("channel", channel, 32))
        pushes = parse_list(raw_push, "push", Push.of)
        waits = parse_list(raw_waits, "waits", Sync.of)
        sigs = parse_list(raw_sigs, "sigs", Sync.of)
        for name, lst in (("waits", waits), ("sigs", sigs)):
            for i, s in enumerate(lst):
                s.check_widths(f"{name}[{i}]")
        self._uvmm()
        state = self.channels.get(channel)
        if state is None:
            raise NotFound(f"no channel {channel}")
        if state == "killed":
            raise NoDevice(f"channel {channel} was killed")
        if state == "noib":
            raise NoSys(f"channel {channel} has no IB ring")
        if len(pushes) > GEM_MAX_PUSH:
            raise InvalidArgument(f"{len(pushes)} pushes (at most {GEM_MAX_PUSH})")
        if not pushes and self.profile == "seed":
            self.promised += [(s.handle, s.point) for s in sigs]   # C24: nothing signals them
            return 0
        self._alloc("the exec job")
        self._base_job_init(False, waits, sigs)
        job = Job(len(self.jobs) + 1, thread, k, f"exec:{channel}", "exec")
        job.deps = sorted(set(self._deps(waits)))
        self._prepare_sigs(sigs)
        self._push(job, sigs)
        return job.id

    # ------------------------------------------------------------ programs

    def submit(self, thread: str) -> int:
        """The thread's next program entry, as its ioctl."""
        def body() -> int:
            if thread not in self.programs:
                raise InvalidArgument(f"no thread {thread!r}")
            k = self.pc[thread]
            prog = self.programs[thread]
            if k > len(prog) or self.wait[thread]:
                raise Busy(f"{thread} has nothing to submit now")
            self.pc[thread] = k + 1
            e = prog[k - 1]
            if e.get("ioctl") == "exec":
                return self._exec(thread, k, int(e["channel"]), e["push"], e.get("waits", []),
                                  e.get("sigs", []))
            return self._bind(thread, k, int(e["flags"]), e["ops"], e.get("waits", []),
                              e.get("sigs", []))
        return self._act("Submit", {"thread": thread}, body)  # type: ignore[no-any-return]

    # ------------------------------------------------------- run, free, return

    def _job(self, jid: int) -> Job:
        return self.jobs[jid - 1]

    def run(self, entity: str) -> int:
        """``run_job`` of the entity's head job: the page tables follow the job."""
        def body() -> int:
            q = self.queue.get(entity)
            if not q:
                raise Busy(f"entity {entity!r} has no queued job")
            job = self._job(q[0])
            waiting = [d for d in job.deps if self._job(d).st == "queued"]
            if waiting:
                raise Busy(f"job {job.id} waits for job(s) {waiting}")
            q.pop(0)
            job.st = "run"
            if job.kind == "bind":
                sparse = [r for r in (self.vs.regions if self.vs is not None else []) + job.regions
                          if r.sparse]
                for v in job.removed:
                    self.pt.clear(v.addr, v.range)
                    linked = self.linked.get(str(v.gem), [])
                    if v in linked:   # one never linked (run out of order) stays off the list
                        linked.remove(v)
                    if not linked:
                        self.linked.pop(str(v.gem), None)
                    for r in sparse:
                        lo, hi = max(r.addr, v.addr), min(r.end, v.end)
                        if lo < hi:
                            self.pt.write(lo, hi - lo, SPARSE)
                for v in job.added:
                    self.pt.write(v.addr, v.range, Target(v.gem, v.offset, v.flags))
                    self.linked.setdefault(str(v.gem), []).append(v)
            return job.id
        return self._act("Run", {"entity": entity}, body)  # type: ignore[no-any-return]

    def free(self, entity: str) -> int:
        """``free_job`` of the entity's oldest job that ran (in order)."""
        def body() -> int:
            mine = [j for j in self.jobs if j.e == entity and j.st != "freed"]
            if not mine or mine[0].st != "run":
                raise Busy(f"entity {entity!r} has no job to free")
            job = mine[0]
            job.st = "freed"
            for a, n in job.put:
                self.ptref.add(a, a + n, -1)
            for v in job.removed:
                self.refs[str(v.gem)] -= 1
            for h in job.maprefs:
                self.refs[h] -= 1
            for r in job.regions:
                if r.sparse:
                    self.ptref.add(r.addr, r.end, -1)
                    self.pt.clear(r.addr, r.range)
            return job.id
        return self._act("Free", {"entity": entity}, body)  # type: ignore[no-any-return]

    def return_(self, thread: str) -> None:
        """A sync VM_BIND's ``dma_fence_wait`` ends (seed: also when interrupted, C19)."""
        def body() -> None:
            jid = self.wait.get(thread, 0)
            if not jid:
                raise Busy(f"{thread!r} is not waiting")
            if self.profile == "fixed" and self._job(jid).st == "queued":
                raise Busy(f"job {jid} has not run")
            self.wait[thread] = 0
        self._act("Return", {"thread": thread}, body)
