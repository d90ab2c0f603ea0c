"""The front ends under concurrency: the ``nouveau``, ``xe`` and ``i915`` suites of
``gpuvm-check sched`` -- the clean programs clean over every schedule within the
bound, each bad variant found with its finding, and each finding's trace replays."""

from __future__ import annotations

from pathlib import Path

from checks.sched.suites import check_program, select
from checks.traces import read_trace

#: findings no lock-order lint gives: the first schedule is clean, a later one fails
RACES = {"nouveau:exec-error-keeps-uvmm", "nouveau:seed-reads-job-after-push",
         "xe:exec-reads-extobj-unlocked", "i915:seed-bind-error-destroy-unlocked"}


def test_the_suites_are_as_expected_and_their_findings_replay(tmp_path: Path) -> None:
    from checks.sched import replay_trace

    seen = set()
    for name, entry in select(["nouveau", "xe", "i915"]):
        r = check_program(name, entry, tmp_path)
        assert r.ok, (name, r.detail)
        seen.add(entry[1])
        if entry[1] is None:
            assert r.trace is None and r.figures["schedules"] > 10, (name, r.figures)
            continue
        assert r.trace is not None, name
        if name in RACES:
            assert r.figures["schedules"] > 1, (name, r.figures)
        report = replay_trace(read_trace(r.trace), str(r.trace))
        assert report.divergence is None and report.violation is not None
        assert report.violation.invariant == entry[1], name
    assert len(seen) >= 8, seen


def test_the_userptr_suite_is_as_expected_and_its_findings_replay(tmp_path: Path) -> None:
    from checks.sched import replay_trace

    for name, entry in select(["userptr"]):
        r = check_program(name, entry, tmp_path)
        assert r.ok, (name, r.detail)
        if entry[1] is None:
            assert r.trace is None and r.figures["schedules"] > 100, (name, r.figures)
            continue
        assert r.trace is not None
        report = replay_trace(read_trace(r.trace), str(r.trace))
        assert report.divergence is None and report.violation is not None
        assert report.violation.invariant == entry[1], name
