"""State machines of the i915 front end: every field of both ioctls, both profiles.

A device with VM 1 (vm_bind mode), VM 2 (not) and three objects: 64 KiB of
64 KiB pages (handle 1), 1 MiB of 4 KiB pages (2), 16 KiB (3).  Rules draw
valid calls near one another (so they overlap, alias canonically and unbind
from inside) and calls with *one* field wrong -- each reserved word, the
extensions, an unknown VM or handle, a VM not in vm_bind mode, length 0, a
misaligned start, offset or length, an offset or a range near 2^64, a range
past the 48-bit VM -- and the VM's release.  After every step:

``errno_inv``
    the errno of ``checks.systems.i915.oracle.expect`` (the notes' check
    order for the profile), and a rejection leaves ``abstract()`` equal;
``step_inv``
    an accepted call's contract (one VMA added at the non-canonical start
    or removed, one GEM reference moved, the start the caller reads back);
``model_inv``
    notes A5 (``model.i915.check_i915``).
"""

from __future__ import annotations

from typing import Any, ClassVar

import hypothesis.strategies as st
from hypothesis.stateful import invariant, rule

from checks.machines.base import Args
from checks.machines.front_end import FrontEndMachine
from checks.systems.i915.oracle import check_i915_step, expect
from model.i915 import VOCABULARY, I915System, canonical, check_i915

OBJECTS = {1: (0x10000, 0x10000), 2: (1 << 20, 0x1000), 3: (0x4000, 0x1000)}
TOP = (1 << 48) - 0x20000
#: VAs the valid calls start at: low ones, near the top of the VM, in the upper half
BASES = (0x100000, 0x110000, 0x120000, TOP, 0x800000000000)
BAD_FIELDS = ("rsvd_0", "rsvd_1", "rsvd_2", "rsvd2_0", "rsvd2_1", "extensions", "vm_id",
              "vm_mode", "handle", "length0", "start_misaligned", "offset_misaligned",
              "length_misaligned", "offset_wrap", "length_wrap", "past_vm", "hidden_einval",
              "several")


def config(profile: str) -> dict[str, Any]:
    return I915System({1: True, 2: False}, OBJECTS, profile).config()


class I915Machine(FrontEndMachine):
    system_name = "i915"
    component = I915System
    vocabulary = VOCABULARY
    config_of = staticmethod(config)
    check_state = staticmethod(check_i915)
    check_step = staticmethod(check_i915_step)
    profile: ClassVar[str] = "seed"

    def expect(self, before: dict[str, Any], action: str, args: Args) -> Any:
        return expect(self.profile, before, action, args)

    # ---------------------------------------------------------------- rules

    @rule(base=st.sampled_from(BASES), pages=st.integers(0, 3), handle=st.sampled_from((1, 2, 3)),
          length=st.sampled_from((0x4000, 0x10000, 0x20000)), canon=st.booleans())
    def bind(self, base: int, pages: int, handle: int, length: int, canon: bool) -> None:
        start = base + pages * 0x4000
        self.act("VmBind", **_bind_args(canonical(start) if canon else start, length, handle))

    @rule(base=st.sampled_from(BASES), field=st.sampled_from(BAD_FIELDS))
    def bind_one_field_wrong(self, base: int, field: str) -> None:
        a = _bind_args(base, 0x10000, 1)
        wrong: dict[str, Any] = {
            "vm_id": {"vm_id": 7}, "vm_mode": {"vm_id": 2}, "handle": {"handle": 99},
            "length0": {"length": 0}, "start_misaligned": {"start": base + 0x800},
            "offset_misaligned": {"offset": 0x1000}, "length_misaligned": {"length": 0x11000},
            "offset_wrap": {"offset": (1 << 64) - 0x10000},
            "length_wrap": {"length": (1 << 64) - 0x10000},
            "past_vm": {"start": (1 << 48) - 0x10000, "length": 0x20000, "handle": 2},
            "hidden_einval": {"length": 0, "handle": 99},  # B4: which errno wins
            "several": {"length": 0, "handle": 99, "rsvd2_1": 1},
        }.get(field, {field: 1 << 40})
        self.act("VmBind", **(a | wrong))

    @rule(base=st.sampled_from(BASES), pages=st.integers(0, 3), canon=st.booleans(),
          length=st.sampled_from((0x4000, 0x10000, 0x20000)),
          bad=st.sampled_from(("", "rsvd", "rsvd2_0", "rsvd2_1", "rsvd2_2", "extensions",
                               "vm_id")))
    def unbind(self, base: int, pages: int, canon: bool, length: int, bad: str) -> None:
        start = base + pages * 0x4000
        a = {"vm_id": 1, "rsvd": 0, "start": canonical(start) if canon else start,
             "length": length, "rsvd2_0": 0, "rsvd2_1": 0, "rsvd2_2": 0, "extensions": 0}
        if bad:
            a[bad] = 5
        self.act("VmUnbind", **a)

    @rule(thread=st.sampled_from(("t1", "t2")), base=st.sampled_from(BASES),
          pages=st.integers(0, 3), length=st.sampled_from((0x4000, 0x10000, 0x20000)))
    def unbind_begin(self, thread: str, base: int, pages: int, length: int) -> None:
        """The two-phase unbind (notes A3): the first phase alone; a bind of the range
        before the second must meet the drm_mm node still held (B7)."""
        self.act("UnbindBegin", thread=thread, vm_id=1, rsvd=0, start=base + pages * 0x4000,
                 length=length, rsvd2_0=0, rsvd2_1=0, rsvd2_2=0, extensions=0)

    @rule(thread=st.sampled_from(("t1", "t2")))
    def unbind_end(self, thread: str) -> None:
        self.act("UnbindEnd", thread=thread)

    @rule(vm=st.sampled_from(("1", "2", "7")))
    def release(self, vm: str) -> None:
        self.act("VmRelease", vm=vm)

    # ----------------------------------------------------------- invariants

    @invariant()
    def errno_inv(self) -> None:
        if self.last is None:
            return
        action, before, got, want = (self.last.action, self.last.before, self.last.errno,
                                     self.last.want)
        if got != want:
            raise self.fail("ErrnoInv", f"{action} gave {got or 'success'}, the notes' order "
                            f"gives {want or 'success'}")
        if got is not None and self.sys.abstract() != before:
            raise self.fail("AllOrNothingInv", f"{action} -{got} changed the state")




def _bind_args(start: int, length: int, handle: int) -> dict[str, int]:
    return {"vm_id": 1, "handle": handle, "start": start, "offset": 0, "length": length,
            "rsvd_0": 0, "rsvd_1": 0, "rsvd_2": 0, "rsvd2_0": 0, "rsvd2_1": 0,
            "extensions": 0}


class SeedMachine(I915Machine):
    profile = "seed"


class FixedMachine(I915Machine):
    profile = "fixed"


MACHINES = {"i915-seed": SeedMachine, "i915-fixed": FixedMachine}
