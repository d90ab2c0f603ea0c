"""The drmexec system's model: the docstring's diagram, the step rules, restore, and
drm_exec under the scheduler with the lock checker on."""

from __future__ import annotations

import re
from typing import Any

import pytest

import model.drmexec as drmexec
from model.drmexec import (
    VOCABULARY,
    DrmExecSystem,
    check_drmexec,
    check_drmexec_step,
    thread_path,
)
from model.errors import GpuVmError, InvariantViolation
from model.explore import explore
from model.lockdep import LockChecker
from model.program import KernelProgram, World

ABBA = {"t1": ["a", "b"], "t2": ["b", "a"]}
#: both tickets started, each holding its first object
START = [("t1", "AcquireInit"), ("t2", "AcquireInit"), ("t1", "Lock"), ("t2", "Lock")]


def diagram_rows() -> list[tuple[str, str, str, str]]:
    text = drmexec.__doc__ or ""
    block = text[text.index("returns (``tests/test_drmexec.py`` replays the rows)::"):]
    rows = []
    for line in block.splitlines()[1:]:
        m = re.match(r"^    (t\d)\s+(\w+)\s+(?:([a-z])\s+)?(\S+)", line)
        if m:
            rows.append((m[1], m[2], m[3] or "", m[4]))
        elif rows and not line.strip():
            break
    return rows


def run(s: DrmExecSystem, steps: list[tuple[str, str]]) -> list[Any]:
    out = []
    for t, action in steps:
        before = s.abstract()
        r = VOCABULARY.perform(s, action, {"thread": t})
        check_drmexec(s)
        check_drmexec_step(before, action, {"thread": t}, r, s.abstract())
        out.append(r)
    return out


def test_the_docstring_diagram_replays() -> None:
    rows = diagram_rows()
    assert len(rows) == 16
    s = DrmExecSystem(ABBA)
    for t, action, obj, want in rows:
        p = s.point(t)
        assert p is not None
        if obj:
            assert p.obj == obj, (t, action, p)
        (r,) = run(s, [(t, action)])
        assert str(r) == want, (t, action, r)
    assert s.threads["t2"].held == ["a", "b"] and s.threads["t2"].pre == "a"


def test_a_blocked_step_is_refused_and_changes_nothing() -> None:
    s = DrmExecSystem(ABBA)
    run(s, [*START, ("t1", "Lock")])
    before = s.abstract()
    for t, action in (("t1", "Lock"), ("t1", "Done"), ("t2", "AcquireInit")):
        with pytest.raises(GpuVmError) as e:
            s.step(t, action)
        assert e.value.errno_name == "EBUSY"
        assert s.abstract() == before
    assert s.next_actions() == [("Lock", "t2")]


def test_wait_die_a_context_holding_nothing_waits() -> None:
    s = DrmExecSystem({"t1": ["a"], "t2": ["a", "b"]}, algorithm="wait_die")
    run(s, [("t1", "AcquireInit"), ("t2", "AcquireInit"), ("t1", "Lock")])
    # t2 is younger but holds nothing: no -EDEADLK, it waits
    assert ("Lock", "t2") not in s.next_actions()
    s2 = DrmExecSystem({"t1": ["b", "a"], "t2": ["a", "b"]}, algorithm="wait_die")
    assert run(s2, [("t1", "AcquireInit"), ("t2", "AcquireInit"), ("t1", "Lock"), ("t2", "Lock"),
                    ("t2", "Lock")])[-1] == "EDEADLK"  # younger and holding a: it dies


@pytest.mark.parametrize(("dups", "want"), [(False, "EALREADY"), (True, 0)])
def test_a_duplicate_is_an_error_unless_ignored(dups: bool, want: object) -> None:
    s = DrmExecSystem({"t1": ["a", "b", "a"]}, dups=dups)
    r = run(s, [("t1", "AcquireInit"), ("t1", "Lock"), ("t1", "Lock"), ("t1", "Lock")])
    assert r[-1] == want
    assert s.threads["t1"].pc == ("unlock" if want else "done")


def test_only_the_prelocked_object_is_a_tolerated_duplicate() -> None:
    """Seed 001 took "the first locked object" for the contended one; upstream
    remembers the object it prelocked.  A genuine duplicate of the first object
    (not prelocked) is an error without IGNORE_DUPLICATES."""
    s = DrmExecSystem({"t1": ["a", "b", "a"]})
    assert run(s, [("t1", "AcquireInit"), ("t1", "Lock"), ("t1", "Lock"), ("t1", "Lock")]
               )[-1] == "EALREADY"


def test_the_retry_locks_the_contended_object_first() -> None:
    s = DrmExecSystem(ABBA)
    run(s, [*START, ("t1", "Lock"), ("t2", "Lock"), ("t2", "Backoff")])
    assert s.threads["t2"].pc == "slow" and s.threads["t2"].contended == "a"
    assert s.refs["a"] == 2 and s.refs["b"] == 0  # t1's lock and t2's contention


def test_references_return_to_baseline() -> None:
    s = DrmExecSystem({"t1": ["a", "b"], "t2": ["b", "c"], "t3": ["c", "a"]}, rounds=2)
    rows = 0
    while acts := s.next_actions():
        run(s, [acts[-1][::-1]])
        rows += 1
    assert all(th.pc == "end" for th in s.threads.values()) and rows > 20
    assert set(s.refs.values()) == {0}


def test_restore_round_trips_and_refuses_what_cannot_be() -> None:
    s = DrmExecSystem(ABBA, rounds=2)
    seen = []
    while acts := s.next_actions():
        seen.append(s.abstract())
        run(s, [acts[0][::-1]])
    for a in seen:
        s2 = DrmExecSystem.from_config(s.config())
        s2.restore(a)
        assert s2.abstract() == a
    bad = dict(seen[5])
    bad["owner"] = {"a": "t2", "b": ""}
    s3 = DrmExecSystem.from_config(s.config())
    fresh = s3.abstract()
    with pytest.raises(GpuVmError):
        s3.restore(bad)
    assert s3.abstract() == fresh


def test_a_deadlock_is_named_with_its_wait_for_chain() -> None:
    s = DrmExecSystem(ABBA)
    run(s, START)
    # two tickets that tie (a stamp not from the class counter): neither gives way
    s.klass.ctxs["ticket:t2"].stamp = s.threads["t2"].stamp = s.threads["t1"].stamp
    with pytest.raises(InvariantViolation) as e:
        check_drmexec(s)
    assert e.value.invariant == "DeadlockFreeInv"
    assert "t1 -> b -> t2" in e.value.detail and "t2 -> a -> t1" in e.value.detail


def _program(want: dict[str, list[str]], algorithm: str) -> KernelProgram:
    def make() -> World:
        s = DrmExecSystem(want, algorithm=algorithm)
        w = World(resources=dict(s.locks))
        w.vars["system"] = s
        w.threads = {t: thread_path(s, t) for t in want}
        return w

    def invariant(w: World) -> None:
        check_drmexec(w.vars["system"])

    classes = {o: "reservation_ww_class" for o in ("a", "b", "c")}
    return KernelProgram("drmexec", make, invariant,
                         checker=lambda: LockChecker(classes=classes))


@pytest.mark.parametrize("algorithm", ["wound_wait", "wait_die"])
def test_every_schedule_within_two_preemptions_is_clean(algorithm: str) -> None:
    ex = explore(_program({"t1": ["a", "b"], "t2": ["b", "c"], "t3": ["c", "a"]}, algorithm),
                 preemptions=2, stop_at_first=False, limit=20_000)
    assert not ex.failures, ex.first.detail if ex.first else ""
    assert ex.schedules > 50
