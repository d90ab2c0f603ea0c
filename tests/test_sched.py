"""The scheduler, the locks, the lock checker and the schedule sources."""

from __future__ import annotations

import io
from collections.abc import Generator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from checks.cli import main
from checks.sched import finding, hypothesis_chooser, replay_trace, run_trace, search
from checks.sched.programs import CLASSIC, GOLDEN
from checks.traces import read_trace
from model.explore import explore, pct_chooser, random_chooser
from model.locks import (
    DmaResv,
    Fence,
    RwSemaphore,
    WwClass,
    WwMutex,
    down_read,
    down_write,
    resv_add_fence,
    resv_reserve,
    resv_wait,
    up_read,
    up_write,
    ww_lock,
    ww_unlock,
)
from model.program import KernelProgram, World
from model.sched import Point, Scheduler, first_chooser, format_schedule, parse_schedule

Gen = Generator[Point, Any, Any]


@pytest.mark.parametrize("name", list(GOLDEN))
def test_golden_patterns_are_flagged_and_their_safe_twins_are_clean(name: str) -> None:
    make, expected = GOLDEN[name]
    ex = search(make(), preemptions=2)
    got = finding(ex.first) if ex.first is not None else None
    assert got == expected, ex.first.detail if ex.first else "no finding"
    if expected is None:
        assert ex.complete and not ex.failures


@pytest.mark.parametrize("name", list(CLASSIC))
def test_classic_bugs_are_found_within_two_preemptions(name: str) -> None:
    make, expected = CLASSIC[name]
    ex = search(make(), preemptions=2)
    if expected is None:
        assert ex.first is None and ex.complete
        return
    assert ex.first is not None and finding(ex.first) == expected
    # iterative bounding: nothing with fewer preemptions fails
    if ex.first.preemptions > 0:
        fewer = explore(make(), preemptions=ex.first.preemptions - 1, iterative=False)
        assert fewer.first is None


def test_a_lock_order_report_names_both_chains() -> None:
    make, _ = GOLDEN["ABBA-threads"]
    run = search(make()).first
    assert run is not None
    assert "t2 takes A" in run.detail and "while holding B" in run.detail
    assert "A -> B (step" in run.detail and "t1" in run.detail


def test_a_deadlock_names_its_wait_for_cycle() -> None:
    make, _ = CLASSIC["abba-deadlock"]
    run = search(make()).first
    assert run is not None and run.verdict == "deadlock"
    assert run.cycle[0] == run.cycle[-1] and set(run.cycle) >= {"t1", "t2", "A", "B"}


def test_schedule_strings_round_trip_and_replay_exactly(tmp_path: Path) -> None:
    assert format_schedule(["a", "a", "a", "b", "a"]) == "a*3 b a"
    assert parse_schedule("a*3 b a") == ["a", "a", "a", "b", "a"]
    with pytest.raises(ValueError):
        parse_schedule("a*x")
    make, _ = CLASSIC["lost-update"]
    run = search(make()).first
    assert run is not None
    trace = run_trace("classic:lost-update", make(), run)
    path = trace.write(tmp_path / "lost.itf.json")
    back = read_trace(path)
    assert [s.thread for s in back.steps[1:]] == run.schedule
    report = replay_trace(back, str(path))
    assert report.violation is not None and report.reproduced
    out, err = io.StringIO(), io.StringIO()
    assert main(["replay", str(path)], out, err) == 1 and "reproduced" in out.getvalue()
    assert main(["show", str(path)], io.StringIO(), io.StringIO()) == 0


def test_show_draws_threads_and_the_locks_they_hold(tmp_path: Path) -> None:
    make, _ = GOLDEN["ABBA-threads"]
    run = search(make()).first
    assert run is not None
    path = run_trace("golden:ABBA-threads", make(), run).write(tmp_path / "abba.itf.json")
    out = io.StringIO()
    assert main(["show", str(path)], out, io.StringIO()) == 0
    text = out.getvalue()
    assert "[t1] acquire" in text and "[t2] acquire" in text
    assert "held: t1 {A}" in text and "LockOrderInv" in text
    page = tmp_path / "abba.html"
    assert main(["show", str(path), "--html", str(page)], io.StringIO(), io.StringIO()) == 0
    doc = page.read_text()
    assert '<span class="lock"' in doc and ">A</span>" in doc and "<b>t2</b>" in doc
    assert 'class="step violation"' in doc


def test_hypothesis_shrinks_a_schedule_to_its_fewest_switches() -> None:
    make, _ = CLASSIC["lost-update"]
    found: list[int] = []

    @settings(max_examples=300, database=None, derandomize=True)
    @given(st.data())
    def schedules_never_lose_updates(data: st.DataObject) -> None:
        run = Scheduler(make(), 50).run(hypothesis_chooser(
            lambda n: data.draw(st.integers(0, n - 1))))
        if run.verdict != "ok":
            found.append(run.switches)
            raise AssertionError(run.detail)

    with pytest.raises(AssertionError):
        schedules_never_lose_updates()
    assert found[-1] == 2  # the shrunk one: switch in, switch back


def test_pct_and_random_sources_are_deterministic() -> None:
    make, expected = CLASSIC["lost-update"]
    a = [finding(Scheduler(make(), 50).run(pct_chooser(s, ["t1", "t2"], 2, 8)))
         for s in range(200)]
    b = [finding(Scheduler(make(), 50).run(pct_chooser(s, ["t1", "t2"], 2, 8)))
         for s in range(200)]
    assert a == b and expected in a and "ok" in a
    r = [Scheduler(make(), 50).run(random_chooser(7)).schedule for _ in range(2)]
    assert r[0] == r[1]


def _ww_world(algorithm: str) -> tuple[World, WwClass]:
    k = WwClass("reservation_ww_class", algorithm)
    return World(resources={"X": WwMutex("X", k), "Y": WwMutex("Y", k)}), k


def test_ww_mutex_already_and_wait_die() -> None:
    w, k = _ww_world("wait_die")
    results: list[Any] = []

    def old() -> Gen:
        k.init("old", "old")
        yield Point("ww_init", "old")
        yield from ww_lock("X", "old")
        results.append((yield from ww_lock("X", "old")))  # the same context: EALREADY
        yield Point("yield", label="let the young one try")
        yield from ww_unlock("X")

    def young() -> Gen:
        k.init("young", "young")
        yield Point("ww_init", "young")
        yield from ww_lock("Y", "young")
        # younger and holding Y: it dies; holding nothing, it would just wait
        results.append((yield from ww_lock("X", "young")))
        yield from ww_unlock("Y")

    w.threads = {"old": old(), "young": young()}
    run = Scheduler(KernelProgram("ww", lambda: w), 50).run(
        lambda step, en, r: "old" if step < 4 and any(n == "old" for n, _ in en)
        else en[-1][0])
    assert run.verdict == "ok" and results[0] == "EALREADY" and results[1] == "EDEADLK"


def test_ww_slow_path_only_with_nothing_held() -> None:
    w, k = _ww_world("wound_wait")

    def path() -> Gen:
        k.init("c", "t1")
        yield from ww_lock("X", "c")
        yield from ww_lock("Y", "c", slow=True)

    w.threads = {"t1": path()}
    run = Scheduler(KernelProgram("slow", lambda: w), 20).run(first_chooser)
    assert run.verdict == "violation" and "WwCtxInv" in run.detail


def test_rwsem_recursive_read_behind_a_waiting_writer_deadlocks() -> None:
    def make() -> World:
        w = World(resources={"sem": RwSemaphore("sem")})

        def reader() -> Gen:
            yield from down_read("sem")
            yield Point("yield", label="a writer may queue now")
            yield from down_read("sem")
            yield from up_read("sem")
            yield from up_read("sem")

        def writer() -> Gen:
            yield from down_write("sem")
            yield from up_write("sem")

        w.threads = {"reader": reader(), "writer": writer()}
        return w

    ex = explore(KernelProgram("rwsem", make), preemptions=2)
    assert ex.first is not None and ex.first.verdict == "deadlock"


def test_dma_resv_fence_slots_must_be_reserved_under_the_lock() -> None:
    def make(reserve: bool) -> World:
        k = WwClass("reservation_ww_class")
        fences = {"f": Fence("f")}
        w = World(resources={"resv": DmaResv("resv", k, fences), **fences})

        def path() -> Gen:
            k.init("c", "t1")
            yield from ww_lock("resv", "c")
            if reserve:
                yield from resv_reserve("resv", 1)
            yield from resv_add_fence("resv", "f", "BOOKKEEP")
            yield from ww_unlock("resv")
            yield Point("signal", "f")
            yield from resv_wait("resv", "BOOKKEEP")

        w.threads = {"t1": path()}
        return w

    good = Scheduler(KernelProgram("resv", lambda: make(True)), 20).run(first_chooser)
    bad = Scheduler(KernelProgram("resv", lambda: make(False)), 20).run(first_chooser)
    assert good.verdict == "ok"
    assert bad.verdict == "violation" and "ResvSlotInv" in bad.detail
