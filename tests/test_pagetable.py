"""The page-table model: leaf sizes, demotion of a huge leaf, the per-address view."""

from __future__ import annotations

import random

import pytest

from model.errors import InvalidArgument
from model.pagetable import HUGE, SMALL, SPARSE, PageTable, RunCounts, Target, view_of

A = Target("a", 0, 0)


def test_the_docstring_diagram() -> None:
    pt = PageTable()
    pt.write(0x200000, 0x400000, A)
    assert [(s.addr, s.leaf) for s in pt.segs] == [(0x200000, HUGE)]
    assert pt.leaf_at(0x400000) == HUGE
    pt.clear(0x300000, 0x1000)
    assert [(s.addr, s.end, s.leaf) for s in pt.segs] == [
        (0x200000, 0x300000, SMALL), (0x301000, 0x400000, SMALL), (0x400000, 0x600000, HUGE)]
    assert pt.lookup(0x301000) == Target("a", 0x101000, 0)
    assert pt.lookup(0x300000) is None


def test_huge_leaves_need_an_aligned_offset_too() -> None:
    pt = PageTable()
    pt.write(0x200000, 0x200000, Target("a", 0x1000, 3))
    assert {s.leaf for s in pt.segs} == {SMALL}
    pt.write(0x600000, 0x200000, SPARSE)
    assert pt.leaf_at(0x600000) == HUGE
    pt.check()


def test_writes_keep_attributes_and_offsets_per_address() -> None:
    rng = random.Random(7)
    for _ in range(200):
        pt = PageTable()
        want: dict[int, Target | None] = {}
        for _ in range(6):
            a = rng.randrange(0, 1024) * SMALL
            n = rng.randrange(1, 1100) * SMALL
            if rng.random() < 0.3:
                pt.clear(a, n)
                for p in range(a, a + n, SMALL):
                    want[p] = None
            else:
                t = Target(rng.choice("ab"), rng.randrange(0, 8) * HUGE // 2, rng.randrange(3))
                pt.write(a, n, t)
                for p in range(a, a + n, SMALL):
                    want[p] = t.at(p - a)
        pt.check()
        for p, w in want.items():
            assert pt.lookup(p) == w, hex(p)


def test_runs_ignore_the_leaf_sizes() -> None:
    pt = PageTable()
    pt.write(0x1ff000, 0x202000, A)
    assert pt.runs() == [(0x1ff000, 0x401000, A)]
    assert view_of([(0x1ff000, 0x202000, A)]) == pt.runs()


def test_bad_input() -> None:
    with pytest.raises(InvalidArgument):
        PageTable().write(0x800, 0x1000, A)
    with pytest.raises(InvalidArgument):
        PageTable.from_abstract([[0x1000, 0x200000, HUGE, ["a", 0, 0]]])
    with pytest.raises(InvalidArgument):
        Target.from_json(["a", "0", 0])


def test_run_counts() -> None:
    rc = RunCounts()
    rc.add(0, 0x3000, 1)
    rc.add(0x1000, 0x2000, 1)
    assert rc.abstract() == [[0, 0x1000, 1], [0x1000, 0x2000, 2], [0x2000, 0x3000, 1]]
    rc.add(0x1000, 0x2000, -1)
    assert rc.abstract() == [[0, 0x3000, 1]]
    rc.add(0, 0x3000, -2)
    assert rc.negative() == [0, 0x3000, -1]
