"""drm_gpuvm_bo and drm_exec under concurrency: the ``vmbo`` and ``drmexec`` suites of
``gpuvm-check sched``, with the lock checker on in every run."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

from checks.cli import main
from checks.sched import finding, replay_trace
from checks.sched.suites import check_program, select
from checks.sched.vmbo_programs import vmbo_program
from checks.traces import read_trace
from model.explore import explore


@pytest.mark.parametrize("mode", ["spinlock", "resv"])
def test_vm_bo_under_bind_exec_evict_is_clean_in_both_list_modes(mode: str) -> None:
    ex = explore(vmbo_program(mode), preemptions=2, stop_at_first=False, limit=20_000)
    assert ex.complete and not ex.failures, ex.first.detail if ex.first else ""
    assert ex.schedules > 100


@pytest.mark.parametrize(("kwargs", "want"), [
    ({"validate_under_spinlock": True}, "SleepInAtomicInv"),
    ({"bind_without_vm_resv": True}, "RecursiveLockInv"),
])
def test_a_bad_path_is_flagged(kwargs: dict[str, bool], want: str) -> None:
    mode = "spinlock" if "validate_under_spinlock" in kwargs else "resv"
    ex = explore(vmbo_program(mode, **kwargs), preemptions=2)
    assert ex.first is not None and finding(ex.first) == want, ex.first


def test_every_suite_program_is_as_expected_and_its_finding_replays(tmp_path: Path) -> None:
    for name, entry in select(["vmbo", "drmexec"]):
        r = check_program(name, entry, tmp_path)
        assert r.ok, (name, r.detail)
        if r.trace is not None:
            trace = read_trace(r.trace)
            assert trace.spec == "Sched" and all(s.thread for s in trace.steps[1:])
            report = replay_trace(trace, str(r.trace))
            assert report.divergence is None and report.violation is not None
            assert report.violation.invariant == entry[1]


def test_the_sched_command(tmp_path: Path) -> None:
    out, err = io.StringIO(), io.StringIO()
    code = main(["sched", "vmbo", "golden:ABBA", "--json", "--out", str(tmp_path)], out, err)
    doc = json.loads(out.getvalue())
    assert code == 0 and doc["ok"], out.getvalue()
    names = [r["name"] for r in doc["results"]]
    assert names[-1] == "golden:ABBA" and "vmbo:spinlock" in names
    out, err = io.StringIO(), io.StringIO()
    assert main(["sched", "nosuch"], out, err) == 2
    assert "unknown suite 'nosuch'" in err.getvalue() and "Traceback" not in err.getvalue()
