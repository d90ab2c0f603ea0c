"""xe VM_BIND on GPUVA (seed 002): parse -> commit -> execute, the async worker, unwind.

One xe device: VM 1 in async bind mode (its bind worker, the error state,
RESTART), VM 2 in sync mode, BOs private to a VM or external, bind engines,
syncobjs.  A ``VmBind`` is ``xe_vm_bind_ioctl`` (notes B2-B3): the argument
checks (:func:`model.xe_uapi.check_args`, then the VM, the engine, the
ranges, the tiles, the objects, the syncs), then for each user op in array
order:

1. **create** -- the GPUVA op list of the op (``drm_gpuva_sm_map`` /
   ``sm_unmap`` over the VM's :class:`~model.vaspace.VaSpace`: UNMAP or REMAP
   of every VMA the range meets, then MAP; PREFETCH one op per VMA;
   UNMAP_ALL one UNMAP per VMA of the object in this VM);
2. **parse** -- the new VMAs: the MAP's, and a REMAP's ``prev`` and
   ``next``, which keep the old VMA's object, offset, read-only bit and tile
   mask (B5.2); an external object joins the VM's extobj list;
3. **commit** -- the tree is rewritten at once (the old VMAs out, the new
   ones in), so the next op and the next ioctl see the new layout.

Then, sync (one op, or VM 2): **execute** every GPUVA op now -- each
sub-step (a MAP's *bind*; an UNMAP's *unbind*; a REMAP's *unbind*, *prev*,
*next*) writes the VM's :class:`~model.pagetable.PageTable`; async: the ops
join ``pending``, the last carries the ioctl's out-fence, and the worker
(``Work``, one sub-step a step) executes them in order.  A failing
sub-step in the worker sets the VM's error: the op stays at the head, the
worker stops, ``RESTART`` resumes it at that op, and a REMAP resumes at
the sub-step that failed (B5.5, B5.6).

**Injection** (``Inject(nth)``): the nth injection point of the next ioctl
or worker step fails (-ENOMEM; -EINTR for the BO lock).  The points, in the
order an ioctl meets them, are :data:`POINTS`.  In the ``fixed`` profile a
failure anywhere in create, parse, commit or a sync execute unwinds exactly
(every VMA created freed, every tree change and page-table write undone,
the extobj list as it was); ``seed`` is the posted code: validation done,
then the bugs of notes B6 -- a sync op producing more than one GPUVA op or
none hits ``XE_BUG_ON`` (X1, X4), an ops-create or VMA-create failure is
used unchecked (X3, X13), a tree-insert failure only warned about (X5), a
REMAP's pieces take the new op's tile mask (X12), the extobj list decided
per VMA at parse (X14), ``munmap_rebind_inflight`` set before the unbind
(X16), ``FORCE_ASYNC_OP_ERROR`` accepted from user space (X20) and RESTART
with syncs returning a positive ``EINVAL`` (22).  A ``XE_BUG_ON`` is the
``oops`` state: the model stops there.

Diagram (fixed; VM 1 async; BO 1 of 16 KiB; ``tests/test_xe.py`` replays)::

    VmBind  MAP [0x10000, +0x4000) 1@0            ok  pending: map
    Work                                          ok  PTEs written, fence 1 signals
    Inject  1                                     ok
    VmBind  UNMAP [0x11000, +0x1000)              ok  tree: [0x10000,+0x1000) [0x12000,+0x2000)
    Work                                          ok  (the injection is the ioctl's: none hit)
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Self

from model.actions import DATA, INT, NAME, U64, Action, Param, Vocabulary
from model.errors import (
    Busy,
    GpuVmError,
    Interrupted,
    InvalidArgument,
    NoMemory,
    NotFound,
    NotSupported,
    ProtocolError,
)
from model.gpuva import Va
from model.ops import Map, Op, Remap, Unmap
from model.pagetable import PageTable, Target
from model.trace import NOP, Event, Tracer
from model.vaspace import VaSpace
from model.xe_uapi import (
    FLAG_IMMEDIATE,
    FLAG_READONLY,
    FORCE_ASYNC_OP_ERROR,
    OP_MAP,
    OP_MAP_USERPTR,
    OP_PREFETCH,
    OP_RESTART,
    OP_UNMAP,
    OP_UNMAP_ALL,
    XeBindOp,
    XeSync,
    check_args,
)

SYSTEM = "xe"
PROFILES = ("seed", "fixed")
ASYNC_VM, SYNC_VM = 1, 2
RO = 1                       # XE_VMA_READ_ONLY in Va.flags; the tile mask sits above it
#: every injection point, in the order an ioctl (or the worker) meets them
POINTS = ("ioctl:bos", "ioctl:syncs", "create:ops", "parse:vma", "parse:bo_lock",
          "commit:insert", "async:fence", "execute:bind", "execute:unbind", "execute:prev",
          "execute:next", "worker:bind", "worker:unbind", "worker:prev", "worker:next")
SUBSTEPS = ("bind", "unbind", "prev", "next")

_BIND = (Param("thread", NAME), Param("vm_id", INT), Param("engine_id", INT),
         Param("ops", DATA), Param("syncs", DATA), Param("extensions", U64),
         Param("reserved_0", U64), Param("reserved_1", U64))
VOCABULARY = Vocabulary(SYSTEM, (
    Action("VmBind", "vm_bind", _BIND, ("EINVAL", "ENOENT", "EOPNOTSUPP", "EPROTO", "ENOMEM",
                                        "EINTR"), doc="DRM_IOCTL_XE_VM_BIND"),
    Action("Bind", "bind", (Param("thread", NAME),), ("EBUSY", "EINVAL", "ENOMEM"),
           doc="the thread's next program entry, a VM_BIND of async ops on VM 1"),
    Action("Restart", "restart", (Param("thread", NAME),), ("EBUSY", "EPROTO"),
           doc="the thread's next program entry, a RESTART of VM 1's bind worker"),
    Action("Work", "work", (), ("EBUSY",), doc="VM 1's async worker executes one sub-step"),
    Action("Inject", "inject", (Param("nth", INT),), ("EINVAL",),
           doc="the nth injection point of the next ioctl or worker step fails"),
))


@dataclass
class GOp:
    """One ``xe_vma_op``: a GPUVA op and where its execution is."""

    id: int
    kind: str                    # "map", "unmap", "remap", "prefetch"
    vma: Va                      # map: the new VMA; the others: the old one
    prev: Va | None = None
    next: Va | None = None
    unmap_done: bool = False
    prev_done: bool = False
    next_done: bool = False
    fail: list[str] = field(default_factory=list)
    fence: int = 0

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id, "kind": self.kind, "vma": self.vma.to_json(),
                "prev": None if self.prev is None else self.prev.to_json(),
                "next": None if self.next is None else self.next.to_json(),
                "unmap_done": self.unmap_done, "prev_done": self.prev_done,
                "next_done": self.next_done, "fail": sorted(self.fail), "fence": self.fence}

    @staticmethod
    def from_json(d: Mapping[str, Any]) -> GOp:
        return GOp(int(d["id"]), str(d["kind"]), Va.from_json(d["vma"]),
                   None if d["prev"] in (None, "none") else Va.from_json(d["prev"]),
                   None if d["next"] in (None, "none") else Va.from_json(d["next"]),
                   bool(d["unmap_done"]), bool(d["prev_done"]), bool(d["next_done"]),
                   sorted(str(x) for x in d["fail"]), int(d["fence"]))

    def next_step(self) -> str | None:
        """The sub-step to run next (a map, unmap or prefetch has one, and is done
        after it; a remap's flags say which of its three is next)."""
        if self.kind in ("map", "prefetch"):
            return "bind"
        if self.kind == "unmap":
            return "unbind"
        if not self.unmap_done:
            return "unbind"
        if self.prev is not None and not self.prev_done:
            return "prev"
        if self.next is not None and not self.next_done:
            return "next"
        return None



@dataclass
class XeVm:
    """One VM: its tree, page tables, extobj list and (async) worker state."""

    async_: bool
    vs: VaSpace
    pt: PageTable = field(default_factory=PageTable)
    pending: list[GOp] = field(default_factory=list)
    error: str = "OK"
    inflight: bool = False
    extobj: list[list[Any]] = field(default_factory=list)   # [bo, the VMA addr listing it]


class XeSystem:
    """One xe device under one profile."""

    def __init__(self, bos: Mapping[str, tuple[int, int]], *, vm_size: int = 1 << 48,
                 engines: Mapping[int, bool] | None = None, syncobjs: tuple[int, ...] = (),
                 tiles: int = 2, region_mask: int = 0b11,
                 threads: Mapping[str, list[dict[str, Any]]] | None = None,
                 profile: str = "fixed", tracer: Tracer = NOP) -> None:
        if profile not in PROFILES:
            raise InvalidArgument(f"profile {profile!r} (profiles: {', '.join(PROFILES)})")
        for h, (size, vm) in bos.items():
            if not (h.isdigit() and 0 < int(h) < 1 << 32) or size <= 0 or size % 4096 \
                    or vm not in (0, ASYNC_VM, SYNC_VM):
                raise InvalidArgument(f"BO {h!r}: size {size!r}, VM {vm!r}")
        self.profile = profile
        self.tracer = tracer
        self.vm_size = int(vm_size)
        self.bos = {str(h): (int(s), int(v)) for h, (s, v) in bos.items()}
        self.engines = {int(e): bool(f) for e, f in (engines or {}).items()}
        self.syncobjs = tuple(int(x) for x in syncobjs)
        self.tiles, self.region_mask = int(tiles), int(region_mask)
        self.programs = {str(t): list(p) for t, p in (threads or {"t1": []}).items()}
        self._config = {"bos": {h: list(v) for h, v in self.bos.items()}, "vm_size": vm_size,
                        "engines": {str(e): f for e, f in self.engines.items()},
                        "syncobjs": list(self.syncobjs), "tiles": tiles,
                        "region_mask": region_mask,
                        "threads": {t: list(p) for t, p in self.programs.items()},
                        "profile": profile}
        self._reset()

    def _reset(self) -> None:
        self.vms = {v: XeVm(v == ASYNC_VM, VaSpace(0, self.vm_size)) for v in (ASYNC_VM, SYNC_VM)}
        self.fences: list[str] = []
        self.syncs: dict[int, list[int]] = {s: [] for s in self.syncobjs}   # the fences attached
        self.execd: list[list[Any]] = []
        self.oops = ""
        self.nextop = 1
        self.pc = dict.fromkeys(self.programs, 1)
        self.fail_at = 0
        self._points = 0
        self.fired: set[str] = set()

    # ------------------------------------------------------------ component

    def config(self) -> dict[str, Any]:
        return dict(self._config)

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> Self:
        return cls({str(h): (int(v[0]), int(v[1])) for h, v in config["bos"].items()},
                   vm_size=int(config.get("vm_size", 1 << 48)),
                   engines={int(e): bool(f) for e, f in config.get("engines", {}).items()},
                   syncobjs=tuple(int(s) for s in config.get("syncobjs", ())),
                   tiles=int(config.get("tiles", 2)),
                   region_mask=int(config.get("region_mask", 0b11)),
                   threads={str(t): list(p) for t, p in config.get("threads", {"t1": []}).items()},
                   profile=str(config.get("profile", "fixed")))

    def abstract(self) -> dict[str, Any]:
        a, b = self.vms[ASYNC_VM], self.vms[SYNC_VM]
        return {
            "pc": dict(sorted(self.pc.items())),
            "tree": [v.to_json() for v in a.vs],
            "pte": a.pt.abstract(),
            "pending": [o.to_json() for o in a.pending],
            "fences": list(self.fences),
            "error": a.error,
            "inflight": a.inflight,
            "execd": [list(x) for x in self.execd],
            "oops": self.oops,
            "nextop": self.nextop,
            "sync_vm": {"tree": [v.to_json() for v in b.vs], "pte": b.pt.abstract()},
            "extobj": {str(v): sorted(vm.extobj) for v, vm in self.vms.items()},
            "syncs": {str(s): list(f) for s, f in sorted(self.syncs.items())},
            "inject": self.fail_at,
        }

    def restore(self, abstract: Mapping[str, Any]) -> None:
        """Put the device in ``abstract`` (keys it lacks keep their values)."""
        saved = self.abstract()
        try:
            self._load({**saved, **abstract})
            if "extobj" not in abstract:   # a spec's state: the lists as the tree says
                for vm in self.vms.values():
                    self._derive_extobj(vm)
        except (KeyError, TypeError, ValueError, IndexError, GpuVmError) as e:
            self._load(saved)
            raise InvalidArgument(f"not an xe state: {e!r}") from None

    def _load(self, d: Mapping[str, Any]) -> None:
        a = XeVm(True, VaSpace(0, self.vm_size))
        for v in d["tree"]:
            a.vs.insert(Va.from_json(v))
        a.pt = PageTable.from_abstract(d["pte"])
        a.pending = [GOp.from_json(o) for o in d["pending"]]
        a.error, a.inflight = str(d["error"]), bool(d["inflight"])
        b = XeVm(False, VaSpace(0, self.vm_size))
        for v in d["sync_vm"]["tree"]:
            b.vs.insert(Va.from_json(v))
        b.pt = PageTable.from_abstract(d["sync_vm"]["pte"])
        a.extobj = [[str(x), int(y)] for x, y in d["extobj"][str(ASYNC_VM)]]
        b.extobj = [[str(x), int(y)] for x, y in d["extobj"][str(SYNC_VM)]]
        self.vms = {ASYNC_VM: a, SYNC_VM: b}
        self.fences = [str(f) for f in d["fences"]]
        self.execd = [[int(i), str(s)] for i, s in d["execd"]]
        self.oops = str(d["oops"])
        self.nextop = int(d["nextop"])
        self.pc = {str(t): int(n) for t, n in d["pc"].items()}
        self.syncs = {int(s): [int(x) for x in f] for s, f in d["syncs"].items()}
        self.fail_at = int(d["inject"])

    # -------------------------------------------------------------- helpers

    def _act(self, name: str, args: dict[str, Any], body: Callable[[], Any]) -> Any:
        """Report the step.  A rejection's undo is the model's own (the fixed profile
        unwinds exactly; the seed as posted); anything but an errno restores the state."""
        saved = self.abstract()
        self._points = 0
        try:
            if self.oops and name != "Inject":
                raise Busy(f"the kernel hit XE_BUG_ON ({self.oops})")
            result = body()
        except GpuVmError as err:
            self.tracer.event(Event(SYSTEM, name, args, None, err.errno_name))
            raise
        except Exception:
            self._load(saved)
            raise
        finally:
            if name != "Inject":
                self.fail_at = 0
        self.tracer.event(Event(SYSTEM, name, args, result))
        return result

    def _point(self, name: str) -> None:
        """One injection point; the injected one fails."""
        self._points += 1
        if self.fail_at and self._points == self.fail_at:
            self.fail_at = 0
            self.fired.add(name)
            if name == "parse:bo_lock":
                raise Interrupted(f"injected: {name} (point {self._points})")
            raise NoMemory(f"injected: {name} (point {self._points})")

    def inject(self, nth: int) -> None:
        def body() -> None:
            if nth < 0:
                raise InvalidArgument(f"nth = {nth}")
            self.fail_at = nth
        self._act("Inject", {"nth": nth}, body)

    # ------------------------------------------------------------ VM_BIND

    def vm_bind(self, thread: str, vm_id: int, engine_id: int, ops: Any, syncs: Any,
                extensions: int = 0, reserved_0: int = 0, reserved_1: int = 0) -> int:
        """``xe_vm_bind_ioctl``: the ioctl's out-fence number (0: none)."""
        args = {"thread": thread, "vm_id": vm_id, "engine_id": engine_id, "ops": ops,
                "syncs": syncs, "extensions": extensions, "reserved_0": reserved_0,
                "reserved_1": reserved_1}
        return self._act("VmBind", args, lambda: self._ioctl(  # type: ignore[no-any-return]
            vm_id, engine_id, ops, syncs, (extensions, reserved_0, reserved_1), None))

    def bind(self, thread: str) -> int:
        """The thread's next program entry: a VM_BIND of its ops on VM 1."""
        def body() -> int:
            e = self._entry(thread, "bind")
            return self._ioctl(ASYNC_VM, 0, e["ops"], e.get("syncs", []), (0, 0, 0),
                               e.get("fail"))
        return self._act("Bind", {"thread": thread}, body)  # type: ignore[no-any-return]

    def restart(self, thread: str) -> int:
        """The thread's next program entry: RESTART of VM 1's worker."""
        def body() -> int:
            self._entry(thread, "restart")
            return self._ioctl(ASYNC_VM, 0, [[0, 0, 0, 0, 0, 0, OP_RESTART, 0, 0, 0]], [],
                               (0, 0, 0), None)
        return self._act("Restart", {"thread": thread}, body)  # type: ignore[no-any-return]

    def _entry(self, thread: str, kind: str) -> dict[str, Any]:
        prog = self.programs.get(thread)
        if prog is None:
            raise InvalidArgument(f"no thread {thread!r}")
        k = self.pc[thread]
        if k > len(prog) or prog[k - 1].get("kind") != kind:
            raise Busy(f"{thread}'s next entry is not a {kind}")
        self.pc[thread] = k + 1
        return dict(prog[k - 1])

    def _ioctl(self, vm_id: int, engine_id: int, raw_ops: Any, raw_syncs: Any,
               ext: tuple[int, int, int], fails: Any) -> int:
        fixed = self.profile == "fixed"
        if not isinstance(raw_ops, list) or not isinstance(raw_syncs, list):
            raise InvalidArgument("ops and syncs are arrays")
        ops = [XeBindOp.of(o, f"ops[{i}]") for i, o in enumerate(raw_ops)]
        for i, o in enumerate(ops):
            o.check_widths(f"ops[{i}]")
        syncs = [XeSync.of(x, f"syncs[{i}]") for i, x in enumerate(raw_syncs)]
        for name, value in zip(("extensions", "reserved[0]", "reserved[1]"), ext, strict=True):
            if not 0 <= value < 1 << 64:
                raise InvalidArgument(f"{name} = {value} does not fit a u64")
            if value:
                raise InvalidArgument(f"{name} is nonzero")
        async_ = check_args(ops, self.region_mask, fixed)
        vm = self.vms.get(vm_id)
        if vm is None:
            raise InvalidArgument(f"no VM {vm_id}")
        if engine_id:
            if engine_id not in self.engines:
                raise NotFound(f"no engine {engine_id}")
            if not self.engines[engine_id]:
                raise InvalidArgument(f"engine {engine_id} is not a bind engine")
        if ops[0].kind == OP_RESTART:
            return self._restart(vm, bool(syncs))
        if vm.error == "OK" and async_ != vm.async_:
            raise NotSupported(f"VM {vm_id} is {'async' if vm.async_ else 'sync'}")
        valid_gts = (1 << self.tiles) - 1
        for i, o in enumerate(ops):
            if o.range > self.vm_size or o.addr > self.vm_size - o.range:
                raise InvalidArgument(f"ops[{i}]: [{o.addr:#x}, +{o.range:#x}) is past the VM")
            if o.gt_mask & ~valid_gts:
                raise InvalidArgument(f"ops[{i}]: gt_mask {o.gt_mask:#x}")
        self._point("ioctl:bos")
        for i, o in enumerate(ops):
            if o.obj:
                bo = self.bos.get(str(o.obj))
                if bo is None:
                    raise NotFound(f"ops[{i}]: no BO {o.obj}")
                if o.range > bo[0] or o.obj_offset > bo[0] - o.range:
                    raise InvalidArgument(f"ops[{i}]: past the end of BO {o.obj}")
        if syncs:
            self._point("ioctl:syncs")
        for i, x in enumerate(syncs):
            if x.flags & 0xf not in (0, 1):
                raise InvalidArgument(f"syncs[{i}]: type {x.flags & 0xf}")
            if x.handle not in self.syncs:
                raise NotFound(f"syncs[{i}]: no syncobj {x.handle}")
            if not x.signal and not self.syncs[x.handle]:
                raise InvalidArgument(f"syncs[{i}]: syncobj {x.handle} has no fence")
        undo: list[tuple[str, Callable[[], None]]] = []
        saved_extobj = [list(e) for e in vm.extobj]
        try:
            return self._run_ops(vm, ops, syncs, async_, fails, undo)
        except GpuVmError:
            for tag, fn in reversed(undo):
                if fixed or tag != "remap":   # X10: the seed's unwind leaves REMAPs alone
                    fn()
            if fixed:
                vm.extobj = saved_extobj
            raise

    def _restart(self, vm: XeVm, with_syncs: bool) -> int:
        if not vm.async_:
            raise NotSupported("RESTART of a VM not in async mode")
        if with_syncs:
            if self.profile == "seed":
                return 22      # `err = EINVAL`: a positive value, returned as is
            raise InvalidArgument("RESTART takes no syncs")
        if vm.error == "OK":
            raise ProtocolError("RESTART of a VM not in the error state")
        vm.error = "OK"
        return 0

    def _run_ops(self, vm: XeVm, ops: list[XeBindOp], syncs: list[XeSync], async_: bool,
                 fails: Any, undo: list[tuple[str, Callable[[], None]]]) -> int:
        fixed = self.profile == "fixed"
        gops: list[GOp] = []
        for i, o in enumerate(ops):
            try:
                self._point("create:ops")
            except NoMemory:
                if fixed:
                    raise
                self.oops = "X3: an ERR_PTR op list iterated"
                return 0
            mine = self._parse(vm, o, self._create(vm, o))
            if self.oops:
                return 0
            if fails is not None:
                for g in mine:
                    g.fail = sorted(str(x) for x in fails[i])
            elif o.flags & FORCE_ASYNC_OP_ERROR and mine:     # seed only: X20
                step = mine[0].next_step()
                mine[0].fail = [step] if step else []
            if not async_ and len(gops) + len(mine) > 1 and not fixed:
                self.oops = "X1: XE_BUG_ON(!first && !async)"
                return 0
            self._commit(vm, mine, undo)
            gops += mine
        if not gops and not fixed:
            self.oops = "X4: XE_BUG_ON(!last_op)"
            return 0
        if async_ and vm.async_ and gops:
            self._point("async:fence")
        first = self.nextop
        for g in gops:
            g.id, self.nextop = self.nextop, self.nextop + 1
        undo.append(("", lambda: setattr(self, "nextop", first)))
        if async_ and vm.async_ and gops:
            self.fences.append("pending")
            gops[-1].fence = len(self.fences)
            vm.pending += gops
            undo.append(("", lambda: self._unqueue(vm, len(gops))))
        else:
            for g in gops:
                while True:
                    step = str(g.next_step())
                    self._point(f"execute:{step}")
                    self._substep(vm, g, step, undo)
                    if g.kind != "remap" or g.next_step() is None:
                        break
        if async_ and vm.async_ and not gops:   # an empty async ioctl: its fence signals
            self.fences.append("pending")          # once every earlier one has
            undo.append(("", lambda: self._unqueue(vm, 0)))
            self._settle(vm)
        fence = len(self.fences) if async_ and vm.async_ else 0   # 0: a signalled stub
        for x in syncs:
            if x.signal:
                self.syncs[x.handle].append(fence)
        return fence

    def _unqueue(self, vm: XeVm, n: int) -> None:
        """Undo queueing ``n`` ops and their ioctl's fence."""
        if n:
            del vm.pending[-n:]
        self.fences.pop()

    def _create(self, vm: XeVm, o: XeBindOp) -> list[Op]:
        """``vm_bind_ioctl_ops_create``: the GPUVA op list of one user op."""
        flags = (RO if o.op & FLAG_READONLY else 0) | o.gt_mask << 1
        if o.kind == OP_MAP:
            return vm.vs.sm_map(o.addr, o.range, str(o.obj), o.obj_offset, flags)
        if o.kind == OP_MAP_USERPTR:    # the userptr stub: the CPU address as the offset
            return vm.vs.sm_map(o.addr, o.range, "userptr", o.obj_offset, flags)
        if o.kind == OP_UNMAP:
            return vm.vs.sm_unmap(o.addr, o.range)
        if o.kind == OP_PREFETCH:
            return vm.vs.prefetch_ops(o.addr, o.range)
        assert o.kind == OP_UNMAP_ALL
        return vm.vs.gem_unmap_ops(str(o.obj))

    def _parse(self, vm: XeVm, o: XeBindOp, ops: list[Op]) -> list[GOp]:
        """``vm_bind_ioctl_ops_parse``: the new VMAs of each op."""
        fixed = self.profile == "fixed"
        out: list[GOp] = []
        for op in ops:
            if isinstance(op, Map):
                g = GOp(0, "map", self._new_vma(vm, op.va()))
            elif isinstance(op, Remap):
                old = op.unmap.va
                gt = old.flags & ~RO if fixed else o.gt_mask << 1    # X12
                pieces = [None if p is None else self._new_vma(
                    vm, Va(p.addr, p.range, p.gem, p.offset, (old.flags & RO) | gt))
                    for p in (op.prev, op.next)]
                g = GOp(0, "remap", old, pieces[0], pieces[1])
            elif isinstance(op, Unmap):
                g = GOp(0, "unmap", op.va)
            else:
                g = GOp(0, "prefetch", op.va)
            if self.oops:
                return []
            out.append(g)
        return out

    def _new_vma(self, vm: XeVm, v: Va) -> Va:
        try:
            self._point("parse:vma")
        except NoMemory:
            if self.profile == "fixed":
                raise
            self.oops = "X13: xe_vma_create's NULL used"
            return v
        if v.gem != "userptr":
            self._point("parse:bo_lock")
        if self.profile == "seed" and v.gem in self.bos and self.bos[v.gem][1] == 0 \
                and not any(x.gem == v.gem for x in vm.vs):   # X14: decided per VMA, here
            vm.extobj.append([v.gem, v.addr])
        return v

    def _commit(self, vm: XeVm, gops: list[GOp], undo: list[tuple[str, Callable[[], None]]]
                ) -> None:
        """``vm_bind_ioctl_ops_commit``: the tree now has the new layout."""
        fixed = self.profile == "fixed"
        for g in gops:
            tag = g.kind if g.kind == "remap" else ""
            if g.kind in ("unmap", "remap"):
                self._remove(vm, g.vma, tag, undo)
            for v in ([g.vma] if g.kind == "map" else [g.prev, g.next] if g.kind == "remap"
                      else []):
                if v is None:
                    continue
                try:
                    self._point("commit:insert")
                except NoMemory:
                    if fixed:
                        raise
                    continue      # X5: only warned about; the VMA is in no tree
                vm.vs.insert(v)
                undo.append((tag, lambda v=v: vm.vs.remove(v)))   # type: ignore[misc]
        if fixed:
            self._derive_extobj(vm)

    def _derive_extobj(self, vm: XeVm) -> None:
        """The extobj list as drm_gpuvm_bo keeps it: each external BO with a VMA in the
        VM once (listed by its lowest VMA)."""
        ext = {v.gem: v.addr for v in reversed(list(vm.vs))
               if v.gem in self.bos and self.bos[v.gem][1] == 0}
        vm.extobj = [[b, a] for b, a in sorted(ext.items())]

    def _remove(self, vm: XeVm, v: Va, tag: str, undo: list[tuple[str, Callable[[], None]]]
                ) -> None:
        vm.vs.remove(v)
        undo.append((tag, lambda: vm.vs.insert(v)))
        if self.profile == "seed":
            listed = [e for e in vm.extobj if e == [v.gem, v.addr]]
            for e in listed:
                vm.extobj.remove(e)
                undo.append((tag, lambda e=e: vm.extobj.append(e)))  # type: ignore[misc]

    # ------------------------------------------------------------- execute

    def _substep(self, vm: XeVm, g: GOp, step: str,
                 undo: list[tuple[str, Callable[[], None]]] | None) -> None:
        """One sub-step of ``xe_vma_op_execute``: the page tables follow."""
        before = vm.pt.abstract()
        if step == "unbind":
            if g.kind == "remap":
                g.unmap_done = True
                vm.inflight = True
            vm.pt.clear(g.vma.addr, g.vma.range)
        elif g.kind == "map":
            vm.pt.write(g.vma.addr, g.vma.range, _target(g.vma))
        elif step in ("prev", "next"):
            v = g.prev if step == "prev" else g.next
            assert v is not None
            vm.pt.write(v.addr, v.range, _target(v))
            if step == "prev":
                g.prev_done = True
            else:
                g.next_done = True
        if g.kind == "remap" and g.next_step() is None:
            vm.inflight = False
        if undo is not None:
            undo.append(("", lambda: _set_pt(vm, before)))

    def work(self) -> int:
        """VM 1's bind worker: one sub-step of the head op (its id)."""
        def body() -> int:
            vm = self.vms[ASYNC_VM]
            if not vm.pending or vm.error != "OK":
                raise Busy("the worker has nothing to do" if not vm.pending else
                           f"the VM is in error ({vm.error}): the worker waits for RESTART")
            g = vm.pending[0]
            step = g.next_step()
            assert step is not None
            failed = step in g.fail
            if failed:
                g.fail.remove(step)
            else:
                try:
                    self._point(f"worker:{step}")
                except NoMemory:
                    failed = True
            if failed:
                vm.error = "ENOMEM"
                if self.profile == "seed" and g.kind == "remap" and step == "unbind":
                    vm.inflight = True          # X16: set before the unbind is tried
                return g.id
            self._substep(vm, g, step, None)
            self.execd.append([g.id, step])
            if g.kind != "remap" or g.next_step() is None:
                vm.pending.pop(0)
                self._settle(vm)
            return g.id
        return self._act("Work", {}, body)  # type: ignore[no-any-return]

    def _settle(self, vm: XeVm) -> None:
        """Fence k signals once no pending op carries a fence up to k (in order)."""
        carried = [g.fence for g in vm.pending if g.fence]
        low = min(carried) if carried else len(self.fences) + 1
        for k in range(1, low):
            self.fences[k - 1] = "signalled"

    def enabled(self) -> list[tuple[str, dict[str, Any]]]:
        """The steps that can happen now (program entries and the worker)."""
        out: list[tuple[str, dict[str, Any]]] = []
        if self.oops:
            return out
        for t, prog in self.programs.items():
            k = self.pc[t]
            if k <= len(prog):
                out.append(("Bind" if prog[k - 1].get("kind") == "bind" else "Restart",
                            {"thread": t}))
        vm = self.vms[ASYNC_VM]
        if vm.pending and vm.error == "OK":
            out.append(("Work", {}))
        return out


def _target(v: Va) -> Target:
    return Target(str(v.gem), v.offset, v.flags)


def _set_pt(vm: XeVm, raw: list[list[Any]]) -> None:
    vm.pt = PageTable.from_abstract(raw)


__all__ = ["FLAG_IMMEDIATE", "POINTS", "SUBSTEPS", "VOCABULARY", "XeSystem"]
