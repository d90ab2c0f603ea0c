"""The CPU side of a userptr (``model.mm``), pinning (``model.hmm``) and the GPU's page
table and TLBs (``model.gpu``): the docstrings' protocols, step by step."""

from __future__ import annotations

import pytest

from model.errors import Busy, Fault, InvariantViolation
from model.gpu import Gpu
from model.hmm import DmaMap, hmm_range_fault
from model.mm import Mm


def test_the_seq_protocol_of_an_interval_notifier() -> None:
    mm = Mm.with_pages(3)
    mm.insert("u1", 0, 2)
    s = mm.read_begin("u1")
    assert s % 2 == 1 and not mm.invalidating and not mm.read_retry("u1", s)
    inv = mm.begin("migrate", (1,))
    assert mm.invalidating and inv.pending == ["u1"]
    assert not mm.read_retry("u1", s)          # the callback has not run yet
    mm.set_seq("u1", mm.seq)                   # ... now it has
    assert mm.read_retry("u1", s)
    with pytest.raises(Busy):
        mm.read_begin("u1")                    # waits the invalidation out
    with pytest.raises(Busy):
        mm.change()                            # a callback is still to return
    mm.called("u1")
    old = mm.change()
    mm.end()
    assert not mm.invalidating and mm.read_begin("u1") == mm.seq - 1
    assert old[0] in mm.freed and mm.pte[1] not in old and mm.cpu_read(1) == 101


def test_a_notifier_inserted_during_an_invalidation_waits_for_it() -> None:
    mm = Mm.with_pages(2)
    mm.begin("clear", (0,))
    mm.insert("u", 0, 2)
    with pytest.raises(Busy):
        mm.read_begin("u")
    mm.change()
    mm.end()
    assert mm.read_begin("u") == mm.seq - 1


def test_munmap_cuts_the_vma_and_hmm_gives_efault() -> None:
    mm = Mm.with_pages(3)
    mm.insert("u", 0, 3)
    mm.begin("unmap", (1,))
    mm.called("u")
    mm.change()
    mm.end()
    assert mm.vmas == [(0, 1), (2, 3)] and 1 not in mm.pte
    s = mm.read_begin("u")
    with pytest.raises(Fault):
        hmm_range_fault(mm, "u", s, range(3), mmap_locked=True)


def test_hmm_needs_mmap_lock_and_a_current_seq() -> None:
    mm = Mm.with_pages(2)
    mm.insert("u", 0, 2)
    s = mm.read_begin("u")
    with pytest.raises(InvariantViolation, match="MmapLockInv"):
        hmm_range_fault(mm, "u", s, range(2), mmap_locked=False)
    assert hmm_range_fault(mm, "u", s, range(2), mmap_locked=True) == {0: 1, 1: 2}
    mm.begin("migrate", (0,))
    mm.set_seq("u", mm.seq)
    with pytest.raises(Busy):
        hmm_range_fault(mm, "u", s, range(2), mmap_locked=True)


def test_dma_mappings_balance() -> None:
    d = DmaMap()
    d.map("u", [1, 2])
    with pytest.raises(InvariantViolation, match="DmaInv"):
        d.map("u", [2])
    d.unmap("u", [1])
    with pytest.raises(InvariantViolation, match="DmaInv"):
        d.unmap("u", [1])
    assert d.of("u") == {2}


def test_the_gpu_diagram() -> None:
    g = Gpu()
    g.write_pte(5, 7)
    assert g.translate(0, 5) == 7 and g.tlb[0] == {5: 7} and g.tlb[1] == {}
    g.zap((5,))
    assert g.translate(0, 5) == 7              # stale until the TLB is invalidated
    g.invalidate(0, (5,))
    assert g.translate(0, 5) is None and Gpu.from_json(g.to_json()) == g


def test_an_mm_round_trips_through_json() -> None:
    mm = Mm.with_pages(3)
    mm.insert("u", 1, 3)
    mm.begin("unmap", (2,))
    assert Mm.from_json(mm.to_json()) == mm
