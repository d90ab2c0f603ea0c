"""State machines of the xe front end: every field, both profiles, injection everywhere.

A device with VM 1 (async bind mode, its worker) and VM 2 (sync), BO 1 (64
KiB, external), BO 2 (4 MiB, VM 1's own), BO 3 (64 KiB, VM 2's), bind engine
5 and a non-bind engine 6, syncobjs 10 and 11, two tiles, memory regions 0
and 1.  Rules draw valid VM_BINDs of one to three ops (MAP, UNMAP,
MAP_USERPTR, PREFETCH, UNMAP_ALL; read-only, immediate, tile masks) near one
another on either VM, with out-syncs; VM_BINDs with *one* field wrong (every
field of both structs, the op/flag/object/region combinations, alignment,
the VM's size, tiles, handles, engines, syncs, the async rules); RESTART
with and without syncs; an injected failure at the nth point of the next
ioctl or worker step (:data:`model.xe.POINTS`); and the worker's steps.
After every step:

``errno_inv``   the errno of ``checks.systems.xe.oracle.expect`` (with an
                injection pending, the errno of the point instead); a
                rejection leaves ``abstract()`` equal (``AllOrNothingInv``:
                the model's own unwind, not a snapshot);
``step_inv``    an accepted VM_BIND's per-page contract;
``model_inv``   notes B5 (``model.xe_check.check_xe``).

The machine's class records which injection points fired (``coverage``);
``gpuvm-check fuzz`` reports it.
"""

from __future__ import annotations

from typing import Any, ClassVar

import hypothesis.strategies as st
from hypothesis.stateful import invariant, rule

from checks.machines.base import Args
from checks.machines.front_end import FrontEndMachine
from checks.systems.xe.oracle import check_xe_step, expect
from model.xe import POINTS, VOCABULARY, XeSystem
from model.xe_check import check_xe

P = 1 << 12
RO, ASYNC, IMM, FORCE = 1 << 16, 1 << 17, 1 << 18, 1 << 31
BOS = {"1": (0x10000, 0), "2": (0x400000, 1), "3": (0x10000, 2)}
BASES = (0x100000, 0x104000, 0x108000, 0x200000, 0x3ff000)
BAD = ("pad", "reserved", "extensions", "op", "flag", "force", "map_no_obj", "unmap_obj",
       "unmap_all_addr", "region", "region_bad", "addr", "offset", "range", "range0",
       "past_vm", "past_vm_addr", "gt_mask", "obj", "past_bo", "sync_type", "sync_unknown",
       "in_no_fence", "second_sync", "restart_later", "sync_unmap_all", "engine",
       "engine_not_vm", "vm", "async_on_sync_vm", "u32", "u64")
_REACHED: set[str] = set()


def config(profile: str) -> dict[str, Any]:
    return XeSystem(BOS, engines={5: True, 6: False}, syncobjs=(10, 11), tiles=2,
                    region_mask=0b11, threads={"t1": []}, profile=profile).config()


def op(kind: int, addr: int = 0x100000, rng: int = 0x4000, obj: int = 0, off: int = 0,
       flags: int = ASYNC, gt: int = 0, region: int = 0) -> list[int]:
    return [obj, 0, off, rng, addr, gt, kind | flags, region, 0, 0]


class XeMachine(FrontEndMachine):
    system_name = "xe"
    component = XeSystem
    vocabulary = VOCABULARY
    config_of = staticmethod(config)
    check_state = staticmethod(check_xe)
    check_step = staticmethod(check_xe_step)
    profile: ClassVar[str] = "fixed"
    coverage_of: ClassVar[tuple[str, ...]] = POINTS

    @staticmethod
    def coverage() -> set[str]:
        return _REACHED

    def expect(self, before: dict[str, Any], action: str, args: Args) -> Any:
        return expect(self.profile, self.sys.config(), before, action, args)

    def after_action(self) -> None:
        _REACHED.update(self.sys.fired)

    def bind_call(self, vm: int, ops: list[list[int]], syncs: list[list[int]] | None = None,
                  engine: int = 0, **extra: int) -> None:
        a = {"thread": "t1", "vm_id": vm, "engine_id": engine, "ops": ops,
             "syncs": syncs or [], "extensions": 0, "reserved_0": 0, "reserved_1": 0}
        self.act("VmBind", **(a | extra))

    # ---------------------------------------------------------------- rules

    @rule(vm=st.sampled_from((1, 1, 2)),
          ops=st.lists(st.tuples(st.sampled_from((0, 0, 1, 2, 5, 4)), st.sampled_from(BASES),
                                 st.integers(1, 6), st.booleans(), st.integers(0, 3),
                                 st.integers(0, 2)), min_size=1, max_size=3),
          sig=st.booleans())
    def bind(self, vm: int, ops: list[tuple[int, int, int, bool, int, int]], sig: bool) -> None:
        raw = []
        flags0 = ASYNC if vm == 1 else 0
        for i, (kind, base, pages, ro, gt, offp) in enumerate(ops):
            if vm == 2 and i:
                break
            if vm == 2 and kind in (4, 5):
                kind = 1
            flags = flags0 | (RO if ro else 0) | (IMM if offp == 2 else 0)
            rng = pages * P
            if kind == 0:
                obj = (1, 2)[offp % 2] if vm == 1 else 3
                size = BOS[str(obj)][0]
                raw.append(op(0, base, min(rng, size), obj, min(offp * P, size - min(rng, size)),
                              flags, gt))
            elif kind == 2:
                raw.append(op(2, base, rng, 0, 0x7000_0000 + offp * P, flags, gt))
            elif kind == 4:
                raw.append(op(4, 0, 0, (1, 2)[offp % 2], 0, flags))
            elif kind == 5:
                raw.append(op(5, base, rng, 0, 0, flags, 0, offp % 2))
            else:
                raw.append(op(1, base, rng, 0, 0, flags))
        syncs = [[0x10 | (1 if sig else 0), 11, len(self.sys.fences) + 1]] if sig else []
        self.bind_call(vm, raw, syncs)

    @rule(field=st.sampled_from(BAD), base=st.sampled_from(BASES))
    def bind_one_field_wrong(self, field: str, base: int) -> None:
        o = op(0, base, 0x4000, 1)
        ops, syncs, vm, engine, extra = [o], [], 1, 0, {}
        idx = {"pad": (1, 7), "reserved": (8, 1), "op": (6, 9 | ASYNC),
               "flag": (6, ASYNC | 1 << 20), "force": (6, ASYNC | FORCE),
               "map_no_obj": (0, 0), "region": (7, 1), "region_bad": (7, 5),
               "addr": (4, base + 8), "offset": (2, 0x800), "range": (3, 0x4001),
               "range0": (3, 0), "past_vm": (3, 1 << 49), "past_vm_addr": (4, (1 << 48) - P),
               "gt_mask": (5, 4), "obj": (0, 99), "past_bo": (2, 0xf000),
               "u32": (0, 1 << 32), "u64": (2, 1 << 64)}.get(field)
        if idx is not None:
            o[idx[0]] = idx[1]
        if field == "unmap_obj":
            o[6] = 1 | ASYNC
        elif field == "unmap_all_addr":
            o[6], o[3] = 4 | ASYNC, 0
        elif field == "extensions":
            extra = {"extensions": 1}
        elif field == "sync_type":
            syncs = [[0x13, 10, 0]]
        elif field == "sync_unknown":
            syncs = [[0x10, 77, 0]]
        elif field == "in_no_fence":
            syncs = [[0, 11, 0]] if not self.sys.syncs[11] else [[0, 77, 0]]
        elif field == "second_sync":
            ops = [o, op(1, base + 0x10000, 0x1000, 0, 0, 0)]
        elif field == "restart_later":
            ops = [o, op(3, 0, 0, 0, 0, ASYNC)]
        elif field == "sync_unmap_all":
            ops = [op(4, 0, 0, 1, 0, 0)]
        elif field == "engine":
            engine = 9
        elif field == "engine_not_vm":
            engine = 6
        elif field == "vm":
            vm = 7
        elif field == "async_on_sync_vm":
            vm = 2
        self.bind_call(vm, ops, syncs, engine, **extra)

    @rule(with_syncs=st.booleans(), vm=st.sampled_from((1, 1, 2)))
    def restart(self, with_syncs: bool, vm: int) -> None:
        self.bind_call(vm, [op(3, 0, 0, 0, 0, ASYNC)], [[0x10, 10, 0]] if with_syncs else [])

    @rule(nth=st.integers(1, 20))
    def inject(self, nth: int) -> None:
        self.act("Inject", nth=nth)

    @rule(nth=st.integers(1, 12), base=st.sampled_from(BASES))
    def sync_split_fails(self, nth: int, base: int) -> None:
        """A sync unmap inside a mapping of the sync VM, its nth point failing: the
        REMAP's pieces, their inserts and every execute sub-step get their turn."""
        self.bind_call(2, [op(0, base, 0x4000, 3, 0, 0)])
        self.act("Inject", nth=nth)
        self.bind_call(2, [op(1, base + 0x1000, 0x1000, 0, 0, 0)])

    @rule(skip=st.integers(0, 3))
    def worker_fails(self, skip: int) -> None:
        """A few of the worker's sub-steps, then one that fails (whichever it is)."""
        for _ in range(skip):
            self.act("Work")
        self.act("Inject", nth=1)
        self.act("Work")

    @rule()
    def work(self) -> None:
        self.act("Work")

    # ----------------------------------------------------------- invariants

    @invariant()
    def errno_inv(self) -> None:
        if self.last is None:
            return
        action, before, got, want = (self.last.action, self.last.before, self.last.errno,
                                     self.last.want)
        if want is not False and got != want:
            raise self.fail("ErrnoInv", f"{action} gave {got or 'success'}, the order "
                            f"gives {want or 'success'}")
        after = self.sys.abstract()
        if got is not None and got != "EBUSY" and {k: v for k, v in after.items()
                                                    if k != "inject"} != \
                {k: v for k, v in before.items() if k != "inject"}:
            changed = sorted(k for k in after if after[k] != before[k])
            raise self.fail("AllOrNothingInv", f"{action} -{got} changed {', '.join(changed)}")


class SeedMachine(XeMachine):
    profile = "seed"


class FixedMachine(XeMachine):
    profile = "fixed"


MACHINES = {"xe-seed": SeedMachine, "xe-fixed": FixedMachine}
