"""State machines of the nouveau front end: every field, both profiles, injection, threads.

A client after VM_INIT (kernel area at 4 GiB) with a plain region
``[0x100000, +0x40000)`` and a sparse one ``[0x200000, +0x400000)`` (two
huge pages, so splits inside a 2 MiB leaf happen), objects 1 (256 KiB), 2
(4 MiB) and 3 (16 KiB), a binary syncobj 10 and a timeline one 11, channels
1 (good), 2 (killed), 3 (no IB ring) and two threads calling the ioctls
directly.  Rules draw valid VM_BINDs of one to three ops near one another
(MAPs that overwrite and split, UNMAPs across mappings and regions,
ALLOC/FREE), sync and async, with syncs; VM_BINDs and EXECs with *one*
field wrong -- every field of every struct, reserved bits, flags, alignment,
wrap near 2^64, the 2^47 limit, the kernel area, unknown handles, syncobjs
and channels; an injected allocation failure before a VM_BIND; and the
scheduler's steps (run, free, the sync bind's return).  After every step:

``errno_inv``   the errno of ``checks.systems.nouveau.oracle.expect`` (the
                notes' order, per profile); with an injection pending,
                ``-ENOMEM`` is allowed too; a rejection leaves
                ``abstract()`` equal (``AllOrNothingInv``);
``step_inv``    an accepted VM_BIND's per-page contract;
``model_inv``   notes §6 (``model.nouveau_check.check_nouveau``).
"""

from __future__ import annotations

from typing import Any, ClassVar

import hypothesis.strategies as st
from hypothesis.stateful import invariant, rule

from checks.machines.base import Args
from checks.machines.front_end import FrontEndMachine
from checks.systems.nouveau.oracle import check_nouveau_step, expect
from model.nouveau import VOCABULARY, NouveauSystem
from model.nouveau_check import check_nouveau

P = 1 << 12
KERNEL = (1 << 32, 1 << 20)
PLAIN = (0x100000, 0x40000)
SPARSE_REGION = (0x200000, 0x400000)
GEMS = {"1": 0x40000, "2": 0x400000, "3": 0x4000}
BASES = (0x100000, 0x104000, 0x110000, 0x200000, 0x3ff000, 0x400000)
BAD_BIND = ("pad", "op_flags", "bind_flags", "op", "handle", "bo_offset_misaligned",
            "bo_offset_past", "range_past_object", "addr_misaligned", "range_misaligned",
            "range0", "wrap", "past_2_47", "kernel", "outside_region", "free_unknown",
            "alloc_overlap", "sync_with_syncs", "wait_type", "wait_unknown", "wait_no_fence",
            "timeline_point", "sig_type", "sig_unknown", "u32_overflow", "u64_overflow",
            "op_count_short", "op_count_overflow")
BAD_EXEC = ("channel", "killed", "noib", "too_many", "no_push", "wait_type", "sig_unknown")


def config(profile: str) -> dict[str, Any]:
    return NouveauSystem(GEMS, syncobjs=(10, 11), channels={1: "ok", 2: "killed", 3: "noib"},
                         threads={"t1": [], "t2": []}, init=KERNEL,
                         regions=((*PLAIN, False), (*SPARSE_REGION, True)),
                         profile=profile).config()


def _map(addr: int, rng: int, h: int = 1, off: int = 0, kind: int = 0) -> list[int]:
    return [2, kind, h, 0, addr, off, rng]


class NouveauMachine(FrontEndMachine):
    system_name = "nouveau"
    component = NouveauSystem
    vocabulary = VOCABULARY
    config_of = staticmethod(config)
    check_state = staticmethod(check_nouveau)
    check_step = staticmethod(check_nouveau_step)
    profile: ClassVar[str] = "fixed"
    bad_bind: ClassVar[tuple[str, ...]] = BAD_BIND

    def expect(self, before: dict[str, Any], action: str, args: Args) -> Any:
        return expect(self.profile, self.sys.config(), before, action, args)

    # ---------------------------------------------------------------- rules

    @rule(thread=st.sampled_from(("t1", "t2")), asynch=st.booleans(),
          ops=st.lists(st.tuples(st.sampled_from((2, 2, 3, 0, 1)), st.sampled_from(BASES),
                                 st.integers(1, 8), st.sampled_from((1, 2, 3)),
                                 st.integers(0, 3), st.integers(0, 255)),
                       min_size=1, max_size=3),
          sig=st.sampled_from(("", "10", "11")))
    def bind(self, thread: str, asynch: bool, ops: list[tuple[int, ...]], sig: str) -> None:
        raw = []
        for op, base, pages, h, offp, kind in ops:
            rng = pages * P
            if op == 2:
                off = min(offp * P, GEMS[str(h)] - rng) if rng <= GEMS[str(h)] else 0
                raw.append(_map(base, min(rng, GEMS[str(h)]), h, off, kind))
            elif op == 0:
                raw.append([0, kind & 1 and 1 << 8, 0, 0, 0x800000 + base, 0, 0x10000])
            elif op == 1:
                raw.append([1, 0, 0, 0, 0x800000 + base, 0, 0x10000])
            else:
                raw.append([3, 0, 0, 0, base, 0, rng])
        sigs = [] if not asynch or not sig else [[int(sig == "11"), int(sig),
                                                  1 + len(self.sys.jobs)]]
        self.act("VmBind", thread=thread, op_count=len(raw), flags=int(asynch), ops=raw,
                 waits=[], sigs=sigs)

    @rule(k=st.integers(0, len(BAD_BIND) - 1), base=st.sampled_from(BASES))
    def bind_one_field_wrong(self, k: int, base: int) -> None:
        field = self.bad_bind[k % len(self.bad_bind)]
        op = _map(base, 0x4000)
        flags, waits, sigs = 1, [], []
        fix = {"pad": (3, 1), "op_flags": (1, 1 << 12), "op": (0, 9), "handle": (2, 99),
             "bo_offset_misaligned": (5, 0x800), "bo_offset_past": (5, 0x40000),
             "range_past_object": (6, 0x44000), "addr_misaligned": (4, base + 8),
             "range_misaligned": (6, 0x4001), "range0": (6, 0),
             "wrap": (4, (1 << 64) - 0x2000), "past_2_47": (4, (1 << 47) - 0x2000),
             "kernel": (4, KERNEL[0]), "outside_region": (4, 0x180000),
             "u32_overflow": (2, 1 << 32), "u64_overflow": (6, 1 << 64)}.get(field)
        if fix is not None:
            op[fix[0]] = fix[1]
        if field == "bind_flags":
            flags = 1 | 1 << 9
        elif field == "free_unknown":
            op = [1, 0, 0, 0, 0x100000, 0, 0x1000]
        elif field == "alloc_overlap":
            op = [0, 0, 0, 0, 0x120000, 0, 0x40000]
        elif field == "sync_with_syncs":
            flags, sigs = 0, [[0, 10, 0]]
        elif field == "wait_type":
            waits = [[7, 10, 0]]
        elif field == "wait_unknown":
            waits = [[0, 77, 0]]
        elif field == "wait_no_fence":
            waits = [[0, 10, 0]] if not self.sys.syncs[10] else [[1, 11, 1 << 40]]
        elif field == "timeline_point":
            waits = [[1, 11, 1 << 40]]
        elif field == "sig_type":
            sigs = [[5, 10, 0]]
        elif field == "sig_unknown":
            sigs = [[0, 78, 0]]
        count = {"op_count_short": 2, "op_count_overflow": 1 << 27}.get(field, 1)
        self.act("VmBind", thread="t1", op_count=count, flags=flags, ops=[op], waits=waits,
                 sigs=sigs)

    @rule(field=st.sampled_from(("", *BAD_EXEC)), wait=st.booleans())
    def exec_(self, field: str, wait: bool) -> None:
        channel, push = 1, [[0x100000, 0x1000]]
        waits = [[0, 10, 0]] if wait and self.sys.syncs[10] else []
        sigs = [[1, 11, 1 + len(self.sys.jobs)]]
        if field in ("channel", "killed", "noib"):
            channel = {"channel": 9, "killed": 2, "noib": 3}[field]
        elif field == "too_many":
            push = push * 513
        elif field == "no_push":
            push = []
        elif field == "wait_type":
            waits = [[9, 10, 0]]
        elif field == "sig_unknown":
            sigs = [[0, 79, 0]]
        self.act("Exec", thread="t2", channel=channel, push=push, waits=waits, sigs=sigs)

    @rule(nth=st.integers(1, 12))
    def inject(self, nth: int) -> None:
        self.act("Inject", nth=nth)

    @rule(which=st.sampled_from(("VmInit", "GEM_NEW", "GEM_PUSHBUF", "nonsense")))
    def other_ioctls(self, which: str) -> None:
        if which == "VmInit":
            self.act("VmInit", unmanaged_addr=KERNEL[0], unmanaged_size=KERNEL[1])
        else:
            self.act("Legacy", call=which)

    @rule(step=st.sampled_from(("Run", "Free", "Return")), k=st.integers(0, 3))
    def scheduler(self, step: str, k: int) -> None:
        if step == "Return":
            self.act("Return", thread=("t1", "t2")[k % 2])
        else:
            entities = sorted(self.sys.queue)   # the model's entities, whatever they are
            self.act(step, entity=entities[k % len(entities)])

    # ----------------------------------------------------------- invariants

    @invariant()
    def errno_inv(self) -> None:
        if self.last is None:
            return
        action, before, got, want, pending = (self.last.action, self.last.before,
                                              self.last.errno, self.last.want,
                                              self.last.pending)
        if want is not False and got != want and not (pending and got == "ENOMEM"):
            raise self.fail("ErrnoInv", f"{action} gave {got or 'success'}, the notes' order "
                            f"gives {want or 'success'}")
        after = self.sys.abstract()
        if got is not None and {k: v for k, v in after.items() if k not in ("inject", "pc")} \
                != {k: v for k, v in before.items() if k not in ("inject", "pc")}:
            raise self.fail("AllOrNothingInv", f"{action} -{got} changed the state")


class SeedMachine(NouveauMachine):
    """The seed: an op count whose copy size wraps is its memory-safety bug C20 (the
    unit tests and the Z3 counterexample replay show it), so it is not drawn here."""

    profile = "seed"
    bad_bind = tuple(f for f in BAD_BIND if f != "op_count_overflow")


class FixedMachine(NouveauMachine):
    profile = "fixed"


MACHINES = {"nouveau-seed": SeedMachine, "nouveau-fixed": FixedMachine}
