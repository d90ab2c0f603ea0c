"""The i915 VM_BIND front end (seed 000): the docstring's rows, each profile's check
order, all-or-nothing rejections, references, canonical aliasing, release."""

from __future__ import annotations

import re
from typing import Any

import pytest

import model.i915 as i915
from model.errors import GpuVmError
from model.i915 import I915System, canonical, check_i915, noncanonical

OBJ = 0x10000


def system(profile: str) -> I915System:
    # VM 1 in vm_bind mode, VM 2 not; handle 1 a 64 KiB object of 64 KiB pages,
    # handle 2 a 1 MiB object of 4 KiB pages
    return I915System({1: True, 2: False}, {1: (OBJ, OBJ), 2: (1 << 20, 4096)}, profile)


def call(s: I915System, action: str, **args: Any) -> str:
    before = s.abstract()
    try:
        i915.VOCABULARY.perform(s, action, args)
    except GpuVmError as e:
        assert s.abstract() == before, f"{action} -{e.errno_name} changed the state"
        check_i915(s)
        return e.errno_name
    check_i915(s)
    return "ok"


def bind(s: I915System, start: int, length: int = OBJ, handle: int = 1, offset: int = 0,
         vm_id: int = 1, **extra: int) -> str:
    args = {"vm_id": vm_id, "handle": handle, "start": start, "offset": offset,
            "length": length, "rsvd_0": 0, "rsvd_1": 0, "rsvd_2": 0, "rsvd2_0": 0,
            "rsvd2_1": 0, "extensions": 0} | extra
    return call(s, "VmBind", **args)


def unbind(s: I915System, start: int, length: int = OBJ, vm_id: int = 1, **extra: int) -> str:
    args = {"vm_id": vm_id, "rsvd": 0, "start": start, "length": length, "rsvd2_0": 0,
            "rsvd2_1": 0, "rsvd2_2": 0, "extensions": 0} | extra
    return call(s, "VmUnbind", **args)


@pytest.mark.parametrize("profile", i915.PROFILES)
def test_the_docstring_rows_replay(profile: str) -> None:
    text = i915.__doc__ or ""
    rows = re.findall(r"^    (both|seed|fixed)\s+(VmBind|VmUnbind)\s+start=(\S+) "
                      r"length=(\S+)\s+(\S+)$", text, re.MULTILINE)
    assert len(rows) == 5
    s = system(profile)
    for who, action, start, length, want in rows:
        if who not in ("both", profile):
            continue
        f = bind if action == "VmBind" else unbind
        assert f(s, int(start, 16), int(length, 16)) == want, (who, action, start)


# each row: the fields wrong at once, and what seed / fixed return (notes A2, B1, B4)
PRECEDENCE = [
    ({"rsvd_1": 1, "vm_id": 9}, "EINVAL", "EINVAL"),
    ({"extensions": 1}, "EINVAL", "EINVAL"),
    ({"rsvd2_0": 1}, "ok", "EINVAL"),                      # B1: rsvd2 unchecked
    ({"vm_id": 9, "handle": 9}, "ENOENT", "ENOENT"),
    ({"vm_id": 2, "length": 0}, "EOPNOTSUPP", "EOPNOTSUPP"),
    ({"length": 0, "handle": 9}, "ENOENT", "EINVAL"),      # B4: ENOENT hides EINVAL
    ({"start": 0x800, "handle": 9}, "ENOENT", "EINVAL"),
    ({"start": 0x800}, "EINVAL", "EINVAL"),
    ({"length": 0x1000}, "EINVAL", "EINVAL"),              # not a 64 KiB multiple
    ({"offset": OBJ, "length": OBJ}, "EINVAL", "EINVAL"),  # range_overflows_t
    ({"offset": (1 << 64) - OBJ, "length": 2 * OBJ}, "EINVAL", "EINVAL"),  # ... that wraps
    ({"start": (1 << 48) - 0x1000}, "ENOSPC", "EINVAL"),  # runs past the 48-bit VM
]


@pytest.mark.parametrize(("fields", "seed", "fixed"), PRECEDENCE)
def test_the_check_order_of_each_profile(fields: dict[str, int], seed: str, fixed: str) -> None:
    for profile, want in (("seed", seed), ("fixed", fixed)):
        args = {"start": 0x100000} | fields
        assert bind(system(profile), **args) == want, (profile, fields)


@pytest.mark.parametrize("profile", i915.PROFILES)
def test_overlap_is_checked_at_the_point_only_in_the_seed(profile: str) -> None:
    s = system(profile)
    assert bind(s, 0x110000, 0x10000, handle=2) == "ok"
    # starts in the hole before [0x110000, 0x120000) and runs into it (B2)
    assert bind(s, 0x100000, 0x20000, handle=2) == ("ENOSPC" if profile == "seed"
                                                     else "EEXIST")


def test_references_aliasing_and_release() -> None:
    s = system("fixed")
    assert bind(s, 0x100000) == "ok" and bind(s, 0x200000) == "ok"
    assert s.gems[1].refs == 3
    x = 0x800000000000
    assert bind(s, x) == "ok" and bind(s, canonical(x)) == "EEXIST"
    assert noncanonical(canonical(x)) == x and canonical(x) >> 48 == 0xffff
    assert call(s, "VmRelease", vm="1") == "ok"
    assert s.gems[1].refs == 1 and 1 not in s.vms
    assert bind(s, 0x100000) == "ENOENT" and call(s, "VmRelease", vm="1") == "ENOENT"


def test_the_seed_writes_the_noncanonical_start_back() -> None:
    x = canonical(0x800000000000)
    for profile, want in (("seed", 0x800000000000), ("fixed", x)):
        s = system(profile)
        out = s.vm_bind(1, 1, x, 0, OBJ)
        assert out.start == want, profile  # B8: the caller's arguments changed


@pytest.mark.parametrize("field", ["rsvd", "rsvd2_0", "rsvd2_1", "rsvd2_2", "extensions"])
def test_every_unbind_reserved_field_is_checked(field: str) -> None:
    s = system("seed")
    assert bind(s, 0x100000) == "ok"
    assert unbind(s, 0x100000, **{field: 1}) == "EINVAL"
    assert unbind(s, 0x100000, length=2 * OBJ) == "EINVAL"
    assert unbind(s, 0x100000) == "ok" and s.gems[1].refs == 1


def test_restore_round_trips() -> None:
    s = system("seed")
    bind(s, 0x100000)
    bind(s, 0x300000, 0x2000, handle=2)
    a = s.abstract()
    t = I915System.from_config(s.config())
    t.restore(a)
    assert t.abstract() == a
    with pytest.raises(GpuVmError):
        t.restore({"vms": {"x": {}}})
    assert t.abstract() == a


@pytest.mark.parametrize("profile", i915.PROFILES)
def test_values_no_ioctl_can_carry_are_refused_unchanged(profile: str) -> None:
    s = system(profile)
    assert bind(s, 0x100000, length=-0x1000) == "EINVAL"
    assert bind(s, 0x100000, offset=-OBJ) == "EINVAL"
    assert bind(s, 1 << 64) == "EINVAL" and bind(s, 0x100000, vm_id=1 << 32) == "EINVAL"
    assert unbind(s, 0x100000, rsvd=1 << 32) == "EINVAL"
    assert call(s, "VmRelease", vm="01") == "ENOENT" and call(s, "VmRelease", vm="²") == "ENOENT"
    with pytest.raises(GpuVmError):
        I915System({1: True}, {1: (OBJ, 0)})
