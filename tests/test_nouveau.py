"""The nouveau front end (seed 001): the docstring's rows, the profiles, all-or-nothing
under an injected failure at every allocation, the job stages, page tables, syncs."""

from __future__ import annotations

from typing import Any

import pytest

from model.errors import GpuVmError
from model.nouveau import VOCABULARY, NouveauSystem
from model.nouveau_check import check_nouveau
from model.pagetable import HUGE, SMALL

P = SMALL
KERNEL = (1 << 32, 1 << 20)


def client(profile: str = "fixed", sparse: bool = False) -> NouveauSystem:
    return NouveauSystem({"1": 0x8000, "2": 0x400000}, syncobjs=(10, 11),
                         channels={1: "ok", 2: "killed"}, threads={"t1": [], "t2": []},
                         init=KERNEL, regions=((0x10000, 0x8000, False),
                                               (0x200000, 0x400000, sparse)),
                         profile=profile)


def call(s: NouveauSystem, action: str, **args: Any) -> Any:
    before = s.abstract()
    try:
        out = VOCABULARY.perform(s, action, args)
    except GpuVmError as e:
        after = s.abstract()
        if action != "Submit":
            assert after == before | {"inject": after["inject"]}, f"{action} changed the state"
        check_nouveau(s)
        return e.errno_name
    check_nouveau(s)
    return out


def map_(addr: int, rng: int, h: int = 1, off: int = 0, flags: int = 0) -> list[int]:
    return [2, flags, h, 0, addr, off, rng]


def unmap(addr: int, rng: int) -> list[int]:
    return [3, 0, 0, 0, addr, 0, rng]


def bind(s: NouveauSystem, ops: list[list[int]], asynch: bool = True, waits: Any = (),
         sigs: Any = (), thread: str = "t1") -> Any:
    return call(s, "VmBind", thread=thread, op_count=len(ops), flags=int(asynch), ops=ops,
                waits=list(waits),
                sigs=list(sigs))


def drain(s: NouveauSystem) -> None:
    while True:
        acts = [a for a in s.enabled() if a[0] != "Submit"]
        if not acts:
            return
        call(s, acts[0][0], **acts[0][1])


def test_the_docstring_rows() -> None:
    s = client()
    assert bind(s, [map_(0x10000, 0x4000)], sigs=[[0, 10, 0]]) == 1
    assert bind(s, [unmap(0x12000, 0x1000)], asynch=False) == 2
    assert s.wait["t1"] == 2
    assert call(s, "Return", thread="t1") == "EBUSY"
    assert call(s, "Run", entity="bind") == 1
    assert s.pt.lookup(0x12000) is not None
    assert call(s, "Run", entity="bind") == 2
    assert s.pt.lookup(0x12000) is None and s.pt.lookup(0x13000) is not None
    assert call(s, "Return", thread="t1") is None


@pytest.mark.parametrize(("what", "seed", "fixed"), [
    ("pad", None, "EINVAL"), ("flags", None, "EINVAL"), ("free_unknown", None, "ENOENT"),
    ("vm_bind_flags", None, "EINVAL"), ("vm_init_misaligned", None, "EINVAL"),
])
def test_what_each_profile_checks(what: str, seed: str | None, fixed: str | None) -> None:
    got = {}
    for profile in ("seed", "fixed"):
        s = client(profile)
        if what == "pad":
            op = map_(0x10000, 0x1000)
            op[3] = 1
            r = bind(s, [op])
        elif what == "flags":
            r = bind(s, [map_(0x10000, 0x1000, flags=1 << 12)])
        elif what == "free_unknown":
            r = bind(s, [[1, 0, 0, 0, 0x10000, 0, 0x1000]])
        elif what == "vm_bind_flags":
            r = call(s, "VmBind", thread="t1", op_count=1, flags=3, ops=[map_(0x10000, 0x1000)],
                     waits=[],
                     sigs=[])
        else:
            s = NouveauSystem({"1": 0x1000}, profile=profile)
            r = call(s, "VmInit", unmanaged_addr=0x1800, unmanaged_size=0x1000)
        got[profile] = r if isinstance(r, str) else None
    assert got == {"seed": seed, "fixed": fixed}


def test_the_seed_takes_the_kind_as_a_logical_and() -> None:
    for profile, kind in (("seed", 1), ("fixed", 0x7)):
        s = client(profile)
        bind(s, [map_(0x10000, 0x1000, flags=0x7)])
        drain(s)
        assert s.pt.lookup(0x10000).attrs == kind   # type: ignore[union-attr]


def test_a_sync_bind_returns_early_only_on_the_seed() -> None:
    for profile, early in (("seed", True), ("fixed", False)):
        s = client(profile)
        bind(s, [map_(0x10000, 0x1000)], asynch=False)
        assert (call(s, "Return", thread="t1") is None) == early


def test_an_exec_without_pushes_signals_only_when_fixed() -> None:
    for profile, signalled in (("seed", False), ("fixed", True)):
        s = client(profile)
        call(s, "Exec", thread="t2", channel=1, push=[], waits=[], sigs=[[0, 10, 0]])
        drain(s)
        assert bool(s.syncs[10]) == signalled and s.promised == [(10, 0)]


def test_every_injected_allocation_failure_leaves_the_state_as_it_was() -> None:
    """Inv. 28: fail the nth allocation of a job that splits, overwrites, allocates a
    sparse region and frees one, for every n until the job goes through."""
    ops = [map_(0x11000, 0x2000), [0, 1 << 8, 0, 0, 0x800000, 0, 0x200000],
           unmap(0x10000, 0x3000), map_(0x12000, 0x1000, 1, 0x1000, 5),
           [1, 0, 0, 0, 0x800000, 0, 0x200000]]
    for profile in ("seed", "fixed"):
        n = 1
        while True:
            s = client(profile)
            bind(s, [map_(0x10000, 0x4000)], sigs=[[1, 11, 1]])
            call(s, "Inject", nth=n)
            before = s.abstract()
            r = bind(s, ops, waits=[[1, 11, 1]], sigs=[[1, 11, 2]])
            if r != "ENOMEM":
                assert isinstance(r, int)
                break
            assert s.abstract() == before | {"inject": 0}
            n += 1
        assert n > 10
        drain(s)
        assert all(j.st == "freed" for j in s.jobs)


def test_a_split_inside_a_huge_page_is_visible_once_the_job_runs() -> None:
    s = client()
    bind(s, [map_(0x200000, 0x400000, 2)])
    drain(s)
    assert s.pt.leaf_at(0x300000) == HUGE
    bind(s, [unmap(0x300000, 0x1000)])
    assert s.pt.leaf_at(0x300000) == HUGE       # the tree changed; the page tables not yet
    drain(s)
    assert s.pt.leaf_at(0x2ff000) == SMALL and s.pt.leaf_at(0x400000) == HUGE
    assert s.pt.lookup(0x301000).offset == 0x101000   # type: ignore[union-attr]


def test_a_sparse_region_reads_sparse_until_its_free_job() -> None:
    s = client(sparse=True)
    assert s.pt.lookup(0x200000) is not None and s.pt.lookup(0x200000).sparse  # type: ignore
    bind(s, [map_(0x200000, 0x1000, 2)])
    bind(s, [unmap(0x200000, 0x1000)])
    drain(s)
    assert s.pt.lookup(0x200000).sparse    # type: ignore[union-attr]
    bind(s, [[1, 0, 0, 0, 0x200000, 0, 0x400000]])
    call(s, "Run", entity="bind")
    assert s.pt.lookup(0x200000).sparse    # type: ignore[union-attr]
    call(s, "Free", entity="bind")
    assert s.pt.lookup(0x200000) is None and s.ptref.runs == []


def test_exec_waits_for_the_bind_fences_and_timeline_points() -> None:
    s = client()
    bind(s, [map_(0x10000, 0x1000)], sigs=[[1, 11, 1]])
    bind(s, [map_(0x11000, 0x1000)], sigs=[[1, 11, 2]])
    assert call(s, "Exec", thread="t2", channel=1, push=[[0x10000, 0x1000]],
                waits=[[1, 11, 2]], sigs=[]) == 3
    assert s.jobs[2].deps == [1, 2]
    assert call(s, "Run", entity="exec:1") == "EBUSY"
    assert call(s, "Exec", thread="t2", channel=1, push=[[0, 1]], waits=[[1, 11, 3]],
                sigs=[]) == "EINVAL"
    assert call(s, "Exec", thread="t2", channel=2, push=[[0, 1]], waits=[], sigs=[]) == "ENODEV"
    drain(s)


def test_the_uapi_mode_machine() -> None:
    s = NouveauSystem({"1": 0x1000})
    assert call(s, "VmBind", thread="t1", op_count=0, flags=1, ops=[], waits=[],
                sigs=[]) == "ENOSYS"
    assert call(s, "Legacy", call="GEM_NEW") is None
    assert call(s, "VmInit", unmanaged_addr=0, unmanaged_size=0x1000) == "ENOSYS"
    s = NouveauSystem({"1": 0x1000})
    assert call(s, "VmInit", unmanaged_addr=0, unmanaged_size=0x1000) is None
    assert call(s, "VmInit", unmanaged_addr=0, unmanaged_size=0x1000) == "EEXIST"
    assert call(s, "Legacy", call="GEM_PUSHBUF") == "ENOSYS"
    assert call(s, "Legacy", call="CHANNEL_ALLOC") is None


def test_refs_return_to_baseline() -> None:
    s = client()
    bind(s, [map_(0x10000, 0x8000), map_(0x12000, 0x1000, 1, 0x1000), unmap(0x14000, 0x2000)])
    bind(s, [unmap(0x10000, 0x8000)])
    drain(s)
    assert s.refs == {"1": 1, "2": 1} and s.ptref.runs == [] and s.linked == {}


def test_the_op_count_copy() -> None:
    """C20: the seed sizes the copy in 32 bits; fixed refuses the count."""
    op = [map_(0x10000, 0x1000)]
    for profile, want in (("seed", 0), ("fixed", "EOVERFLOW")):
        s = client(profile)
        assert call_raw(s, op_count=(1 << 32) // 40 + 1, ops=op) == want
        assert bool(s.oops) == (profile == "seed")
    s = client()
    assert call_raw(s, op_count=2, ops=op) == "EFAULT"
    assert call_raw(s, op_count=0, ops=op) == 1 and s.jobs[0].added == []


def call_raw(s: NouveauSystem, **args: Any) -> Any:
    try:
        return VOCABULARY.perform(s, "VmBind", {"thread": "t1", "flags": 1, "waits": [],
                                                "sigs": [], **args})
    except GpuVmError as e:
        return e.errno_name


def test_split_pieces_keep_their_kind() -> None:
    """C13: the pieces a MAP cuts off an old mapping keep the old mapping's kind."""
    s = client()
    bind(s, [map_(0x10000, 0x3000, flags=3)])
    bind(s, [map_(0x11000, 0x1000, 1, 0x1000, flags=5)])
    drain(s)
    assert [v[4] for v in s.abstract()["tree"]] == [3, 5, 3]
    assert [s.pt.lookup(a).attrs for a in (0x10000, 0x11000, 0x12000)] == [3, 5, 3]  # type: ignore[union-attr]
