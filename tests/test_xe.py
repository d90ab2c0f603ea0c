"""The xe front end (seed 002): the docstring's rows, check order, the worker's error
state and RESTART, exact unwind at every injection point, and the seed's bugs."""

from __future__ import annotations

from typing import Any

from model.errors import GpuVmError
from model.xe import POINTS, VOCABULARY, XeSystem
from model.xe_check import check_xe

P = 1 << 12
ASYNC, RO, FORCE = 1 << 17, 1 << 16, 1 << 31


def device(profile: str = "fixed") -> XeSystem:
    return XeSystem({"1": (0x4000, 0), "2": (0x400000, 1), "3": (0x10000, 2)},
                    engines={5: True, 6: False}, syncobjs=(10, 11), profile=profile)


def op(kind: int, addr: int, rng: int, obj: int = 0, off: int = 0, flags: int = ASYNC,
       gt: int = 0) -> list[int]:
    return [obj, 0, off, rng, addr, gt, kind | flags, 0, 0, 0]


def call(s: XeSystem, action: str, **args: Any) -> Any:
    try:
        out = VOCABULARY.perform(s, action, args)
    except GpuVmError as e:
        return e.errno_name
    return out


def bind(s: XeSystem, ops: list[list[int]], vm: int = 1, syncs: Any = (), **extra: int) -> Any:
    a = {"thread": "t1", "vm_id": vm, "engine_id": 0, "ops": ops, "syncs": list(syncs),
         "extensions": 0, "reserved_0": 0, "reserved_1": 0} | extra
    return call(s, "VmBind", **a)


def drain(s: XeSystem) -> None:
    while call(s, "Work") != "EBUSY":
        pass


def test_the_docstring_rows() -> None:
    s = device()
    assert bind(s, [op(0, 0x10000, 0x4000, 1)]) == 1
    assert [o["kind"] for o in s.abstract()["pending"]] == ["map"]
    assert call(s, "Work") == 1 and s.fences == ["signalled"]
    assert call(s, "Inject", nth=1) is None
    assert bind(s, [op(1, 0x11000, 0x1000)]) == "ENOMEM"   # point 1: the ioctl's bos array
    assert bind(s, [op(1, 0x11000, 0x1000)]) == 2
    assert s.abstract()["tree"] == [[0x10000, 0x1000, "1", 0, 0], [0x12000, 0x2000, "1", 0x2000, 0]]
    drain(s)
    check_xe(s)


def test_the_check_order() -> None:
    s = device()
    assert bind(s, [op(0, 0x10000, 0x4000, 1)]) == 1
    assert bind(s, [op(0, 0x10000, 0x4000, 1), op(1, 0, 0x1000, flags=0)]) == "EINVAL"
    assert bind(s, [op(4, 0, 0, 1, flags=0)], vm=2) == "EINVAL"     # sync UNMAP_ALL
    assert bind(s, [op(0, 0x10000, 0x4000, 0)]) == "EINVAL"         # MAP without a BO
    assert bind(s, [op(0, 0x10000, 0x4000, 9)]) == "ENOENT"
    assert bind(s, [op(0, 0x10000, 0x4000, 1)], vm=7) == "EINVAL"
    assert bind(s, [op(0, 0x10000, 0x4000, 1, flags=0)]) == "EOPNOTSUPP"   # sync on async VM
    assert bind(s, [op(0, 0x10000, 0x4000, 1, gt=4)]) == "EINVAL"
    assert bind(s, [op(0, 0x10000, 0x8000, 1)]) == "EINVAL"         # past the BO
    assert bind(s, [op(1, 0x10000, 0x1000)], syncs=[[0, 11, 0]]) == "EINVAL"   # no fence yet
    assert bind(s, [op(3, 0, 0)]) == "EPROTO"                       # RESTART without an error
    check_xe(s)


def test_restart_resumes_the_remap_at_the_sub_step_that_failed() -> None:
    s = XeSystem({"1": (0x4000, 0), "2": (0x4000, 0)}, threads={"t1": [
        {"kind": "bind", "ops": [op(0, 0, 0x3000, 1)], "fail": [[]]},
        {"kind": "bind", "ops": [op(0, 0x1000, 0x1000, 2)], "fail": [["prev"]]},
        {"kind": "restart"}]})
    assert call(s, "Bind", thread="t1") == 1
    assert call(s, "Bind", thread="t1") == 2
    drain(s)
    assert s.vms[1].error == "ENOMEM" and s.vms[1].pending[0].unmap_done
    assert call(s, "Restart", thread="t1") == 0
    drain(s)
    assert s.execd == [[1, "bind"], [2, "unbind"], [2, "prev"], [2, "next"], [3, "bind"]]
    assert s.fences == ["signalled", "signalled"]
    check_xe(s)


def test_sync_binds_go_on_while_the_vm_is_in_error_and_async_ones_wait() -> None:
    s = device()
    bind(s, [op(0, 0x10000, 0x4000, 1)])
    call(s, "Inject", nth=1)
    call(s, "Work")
    assert s.vms[1].error == "ENOMEM"
    assert bind(s, [op(1, 0x20000, 0x1000, flags=0)]) == 0    # sync: allowed, runs now
    assert bind(s, [op(0, 0x30000, 0x1000, 1)]) == 2          # async: queued behind
    assert call(s, "Work") == "EBUSY"
    assert bind(s, [op(3, 0, 0)]) == 0
    drain(s)
    assert s.fences == ["signalled", "signalled"]
    check_xe(s)


def test_every_injection_point_unwinds_exactly() -> None:
    """Fail the nth point of a sync split on VM 2 and of an async array on VM 1, for
    every n until the ioctl goes through: nothing changes; every point is met."""
    met: set[str] = set()
    for vm, setup, ops in (
        (2, [op(0, 0x10000, 0x8000, 3, flags=0)], [op(0, 0x12000, 0x1000, 3, flags=0)]),
        (1, [op(0, 0x10000, 0x8000, 2, flags=ASYNC | RO, gt=1)],
         [op(0, 0x11000, 0x1000, 1), op(1, 0x14000, 0x1000), op(2, 0x16000, 0x4000, 0,
                                                                 0x7000_0000)]),
    ):
        n = 1
        while True:
            s = device()
            bind(s, setup, vm=vm)
            drain(s)
            call(s, "Inject", nth=n)
            before = s.abstract()
            r = bind(s, ops, vm=vm, syncs=[[0x10, 10, 0]])
            met |= s.fired
            if r not in ("ENOMEM", "EINTR"):
                assert isinstance(r, int)
                break
            assert s.abstract() == before | {"inject": 0}, f"point {n}"
            n += 1
        drain(s)
        check_xe(s)
    for n in range(1, 6):   # the worker's points: a REMAP's three, then a MAP's
        s = device()
        bind(s, [op(0, 0x10000, 0x8000, 2)])
        drain(s)
        bind(s, [op(0, 0x12000, 0x1000, 1)])
        for _ in range(n - 1):
            call(s, "Work")
        call(s, "Inject", nth=1)
        call(s, "Work")
        met |= s.fired
    assert met == set(POINTS)


def test_the_seeds_bugs() -> None:
    s = device("seed")
    bind(s, [op(0, 0x10000, 0x8000, 3, flags=0)], vm=2)
    assert bind(s, [op(0, 0x12000, 0x1000, 3, flags=0)], vm=2) == 0
    assert s.oops.startswith("X1")                       # a REMAP and a MAP: two ops
    s = device("seed")
    assert bind(s, [op(1, 0x10000, 0x1000)]) == 0 and s.oops.startswith("X4")
    s = device("seed")
    assert bind(s, [op(3, 0, 0)], syncs=[[0x10, 10, 0]]) == 22          # a positive EINVAL
    assert device().vm_bind("t1", 1, 0, [op(0, 0, 0x1000, 1, flags=ASYNC | FORCE)], []) \
        if False else bind(device(), [op(0, 0, 0x1000, 1, flags=ASYNC | FORCE)]) == "EINVAL"
    s = device("seed")
    bind(s, [op(0, 0, 0x1000, 1, flags=ASYNC | FORCE)])
    call(s, "Work")
    assert s.vms[1].error == "ENOMEM"                  # X20: user space injects
    s = device("seed")
    bind(s, [op(0, 0x10000, 0x4000, 1)])
    bind(s, [op(0, 0x10000, 0x2000, 2)])              # the old VMA listed BO 1 (X14)
    try:
        check_xe(s)
        raise AssertionError("X14 not seen")
    except AssertionError as e:
        assert "ExtObjInv" in str(e)


def test_remap_pieces_keep_the_old_tile_mask_and_read_only_bit() -> None:
    """B5.2 (X12): a REMAP's prev and next are the old VMA's, tile mask included."""
    for profile, gt in (("fixed", 1), ("seed", 2)):
        s = device(profile)
        bind(s, [op(0, 0x10000, 0x3000, 2, 0, ASYNC | RO, gt=1)])
        bind(s, [op(0, 0x11000, 0x1000, 1, 0, ASYNC, gt=2)])
        drain(s)
        pieces = [v for v in s.abstract()["tree"] if v[2] == "2"]
        assert [v[4] for v in pieces] == [1 | gt << 1] * 2, profile


def test_reserved_words_are_checked_only_when_fixed() -> None:
    for profile, want in (("fixed", "EINVAL"), ("seed", 1)):
        o = op(0, 0x10000, 0x1000, 1)
        o[1] = 1          # pad
        assert bind(device(profile), [o]) == want
        o[1], o[9] = 0, 7  # reserved[1]
        assert bind(device(profile), [o]) == want
