"""The VA-space state machines: bound here, defined in checks/machines/."""

from __future__ import annotations

import io
import json
import sys
import types
from pathlib import Path
from typing import Any

import pytest

import checks.machines.vaspace as machine_module
from checks.cli import main
from checks.fuzz import run_machine
from checks.machines.vaspace import (
    LAYOUTS,
    CheckFailed,
    Layout,
    Oracle,
    RegionsMachine,
    VaSpaceMachine,
    check_ops,
    record_runs,
)
from checks.outcome import Outcome
from checks.traces import read_trace, replay
from model import Map, Op, Remap, Unmap, Va
from model.gpuva import U64_MAX
from tests.conftest import Z3_EVERY


class CheckedVaSpace(VaSpaceMachine):
    z3_every = Z3_EVERY


class CheckedRegions(RegionsMachine):
    z3_every = Z3_EVERY


TestVaSpaceMachine = CheckedVaSpace.TestCase
TestRegionsMachine = CheckedRegions.TestCase


def run(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(list(argv), out, err)
    return code, out.getvalue(), err.getvalue()


def machine(layout: Layout = LAYOUTS[0], cls: type[VaSpaceMachine] = VaSpaceMachine
            ) -> VaSpaceMachine:
    m = cls()
    m._setup(layout)
    return m


# ------------------------------------------------------------- the command

def test_fuzz_command_reports_steps(tmp_path: Path) -> None:
    code, out, _ = run("fuzz", "vaspace", "--seconds", "0.5", "--seed", "3", "--json",
                       "--out", str(tmp_path))
    doc = json.loads(out)
    assert code == 0 and doc["ok"]
    (r,) = doc["results"]
    assert r["name"] == "vaspace" and r["outcome"] == "pass"
    assert r["steps"] > 0 and r["examples"] > 0 and r["steps_per_s"] > 0


def test_unknown_machine_is_a_usage_error() -> None:
    code, out, err = run("fuzz", "nosuch", "--seconds", "1")
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and "nosuch" in err


def test_same_seed_same_examples(tmp_path: Path) -> None:
    a = run_machine("vaspace", 60, 7, tmp_path, max_batches=1)
    b = run_machine("vaspace", 60, 7, tmp_path, max_batches=1)
    c = run_machine("vaspace", 60, 8, tmp_path, max_batches=1)
    assert a.outcome == b.outcome == Outcome.PASS
    assert (a.figures["steps"], a.figures["examples"]) == (b.figures["steps"],
                                                           b.figures["examples"])
    assert a.figures["steps"] != c.figures["steps"]


class _OffByOne(Oracle):
    """A wrong oracle: maps every page one unit further into its GEM."""

    def apply(self, action: str, args: dict[str, Any]) -> None:
        if action == "Map":
            args = {**args, "offset": args["offset"] + 1}
        super().apply(action, args)


class _Broken(VaSpaceMachine):
    def _setup(self, layout: Layout) -> None:
        super()._setup(layout)
        self.oracle = _OffByOne(layout, self.regions_enabled)


def test_a_failure_is_shrunk_and_written_as_a_replayable_trace(tmp_path: Path) -> None:
    r = run_machine("broken", 30, 0, tmp_path, machine=_Broken)
    assert r.outcome == Outcome.VIOLATION
    assert r.figures["invariant"] == "TranslationInv"
    assert r.figures["cex_length"] == 1  # one map is enough
    assert r.trace is not None and r.trace.exists()
    trace = read_trace(r.trace)
    assert [s.action for s in trace.steps] == ["Init", "Map"]
    assert "TranslationInv" in trace.description
    assert replay(trace).clean  # the model did what the trace says
    code, _, _ = run("replay", str(r.trace))
    assert code == 0


# ------------------------------------------------------ the checks of a step

def test_rejected_requests_leave_both_profiles_unchanged() -> None:
    top = LAYOUTS[1]
    assert top.mm_end == U64_MAX
    m = machine(top)
    s = top.mm_start
    m.step("Map", {"addr": s + 2, "range": 3, "gem": "a", "offset": 0})
    before = {p: vm.abstract() for p, vm in m.vms.items()}
    for args in (
        {"addr": s + 4, "range": U64_MAX, "gem": "a", "offset": 0},  # wraps
        {"addr": s + 4, "range": (1 << 64) - 2, "gem": "a", "offset": 0},  # wraps below addr
        {"addr": s + 4, "range": 0, "gem": "a", "offset": 0},  # empty
        {"addr": s, "range": 2, "gem": "b", "offset": 0},  # touches the kernel node
        {"addr": s + 4, "range": 1, "gem": "a", "offset": U64_MAX},  # offset wraps
        {"addr": -1, "range": 2, "gem": "a", "offset": 0},  # not a u64
    ):
        assert m.oracle.expect("Map", args) == "EINVAL"
        m.step("Map", args)
    assert {p: vm.abstract() for p, vm in m.vms.items()} == before
    m.step("Map", {"addr": U64_MAX - 1, "range": 1, "gem": "b", "offset": 9})  # the last page


def test_an_unexpected_errno_fails_the_step() -> None:
    m = machine()
    m.oracle.expect = lambda action, args: "EEXIST"  # type: ignore[method-assign]
    with pytest.raises(CheckFailed) as e:
        m.step("Map", {"addr": 0, "range": 2, "gem": "a", "offset": 0})
    assert e.value.invariant == "ErrnoInv"


def test_region_free_of_a_region_with_mappings_is_busy() -> None:
    m = machine(cls=RegionsMachine)
    m.step("RegionAlloc", {"addr": 0, "range": 4, "sparse": False})
    m.step("Map", {"addr": 1, "range": 2, "gem": "a", "offset": 0})
    assert m.oracle.expect("RegionFree", {"addr": 0, "range": 4}) == "EBUSY"
    m.step("RegionFree", {"addr": 0, "range": 4})
    m.step("Map", {"addr": 3, "range": 2, "gem": "a", "offset": 0})  # crosses the region's end
    m.step("Unmap", {"addr": 0, "range": 8})
    m.step("RegionFree", {"addr": 0, "range": 4})
    assert m.vms["upstream"].regions == []


V = Va(0, 4, "a", 10)


@pytest.mark.parametrize(("ops", "invariant"), [
    # the next piece's offset taken from the request (10 + 2 is right)
    ([Remap(Unmap(V), Map(0, 1, "a", 10), Map(2, 2, "a", 7)), Map(1, 1, "b", 5)], "RemapInv"),
    # keep on an incompatible mapping
    ([Remap(Unmap(V, True), Map(0, 1, "a", 10), Map(2, 2, "a", 12)), Map(1, 1, "b", 5)],
     "KeepInv"),
    # an empty piece on the side that is not split
    ([Remap(Unmap(V), Map(0, 1, "a", 10), Map(2, 2, "a", 12)), Map(1, 1, "b", 5),
      Remap(Unmap(V), None, Map(0, 0, None, 0))], "OpBoundInv"),
    # the map before the remap
    ([Map(1, 1, "b", 5), Remap(Unmap(V), Map(0, 1, "a", 10), Map(2, 2, "a", 12))], "OpBoundInv"),
    # a mapping that is not there
    ([Unmap(Va(0, 4, "a", 11)), Map(1, 1, "b", 5)], "OpTargetInv"),
])
def test_check_ops_catches_wrong_op_lists(ops: list[Any], invariant: str) -> None:
    args = {"addr": 1, "range": 1, "gem": "b", "offset": 5}
    after = [Va(0, 1, "a", 10), Va(1, 1, "b", 5), Va(2, 2, "a", 12)]
    good: list[Op] = [Remap(Unmap(V), Map(0, 1, "a", 10), Map(2, 2, "a", 12)), Map(1, 1, "b", 5)]
    check_ops("upstream", "Map", args, [V], good, after)
    with pytest.raises(CheckFailed) as e:
        check_ops("upstream", "Map", args, [V], ops, after)
    assert e.value.invariant == invariant


def test_check_ops_catches_a_merge_across_a_gap() -> None:
    left = Va(0, 1, "a", 0)
    args = {"addr": 2, "range": 1, "gem": "a", "offset": 2}
    with pytest.raises(CheckFailed) as e:
        check_ops("rfc2023", "Map", args, [left], [Unmap(left, True), Map(0, 3, "a", 0)],
                  [Va(0, 3, "a", 0)])
    assert e.value.invariant == "MergeInv"


# ------------------------------------------------------------ the Z3 hook

def _fake_z3(monkeypatch: pytest.MonkeyPatch, answer: str | None) -> list[tuple[Any, ...]]:
    calls: list[tuple[Any, ...]] = []

    def check_step(profile: str, before: list[Va], action: str, args: dict[str, Any],
                   ops: list[Any], regions: object = None) -> str | None:
        calls.append((profile, before, action, args, ops))
        return answer

    module = types.ModuleType("checks.z3step")
    module.check_step = check_step  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "checks.z3step", module)
    return calls


class _EveryStep(VaSpaceMachine):
    z3_every = 1


def test_z3_hook_sees_every_nth_step(monkeypatch: pytest.MonkeyPatch) -> None:
    calls = _fake_z3(monkeypatch, None)
    m = machine(cls=_EveryStep)
    m.step("Map", {"addr": 0, "range": 2, "gem": "a", "offset": 0})
    m.step("Prefetch", {"addr": 0, "range": 2})
    m.step("Unmap", {"addr": 1, "range": 1})
    assert [(c[0], c[2]) for c in calls] == [("upstream", "Map"), ("rfc2023", "Map"),
                                            ("upstream", "Unmap"), ("rfc2023", "Unmap")]
    _, before, _, args, ops = calls[2]
    assert before == [Va(0, 2, "a", 0)] and args == {"addr": 1, "range": 1}
    assert ops == [Remap(Unmap(Va(0, 2, "a", 0)), Map(0, 1, "a", 0), None)]


class _EverySecondStep(VaSpaceMachine):
    z3_every = 2


def test_z3_hook_checks_both_profiles_of_every_nth_step(monkeypatch: pytest.MonkeyPatch) -> None:
    calls = _fake_z3(monkeypatch, None)
    m = machine(cls=_EverySecondStep)
    for addr in range(5):
        m.step("Map", {"addr": addr, "range": 1, "gem": "a", "offset": 0})
    m.step("Map", {"addr": 0, "range": 0, "gem": "a", "offset": 0})  # rejected: not counted
    m.step("Unmap", {"addr": 0, "range": 2})
    assert [(c[0], c[3].get("addr"), c[2]) for c in calls] == [
        ("upstream", 1, "Map"), ("rfc2023", 1, "Map"),
        ("upstream", 3, "Map"), ("rfc2023", 3, "Map"),
        ("upstream", 0, "Unmap"), ("rfc2023", 0, "Unmap")]


def test_z3_hook_disagreement_fails_the_step(monkeypatch: pytest.MonkeyPatch) -> None:
    _fake_z3(monkeypatch, "the spec gives other ops")
    m = machine(cls=_EveryStep)
    with pytest.raises(CheckFailed) as e:
        m.step("Map", {"addr": 0, "range": 2, "gem": "a", "offset": 0})
    assert e.value.invariant == "Z3StepInv"


def test_z3_hook_runs_the_real_relation() -> None:
    m = machine(cls=_EveryStep)
    m.step("Map", {"addr": 0, "range": 3, "gem": "a", "offset": 0})
    m.step("Map", {"addr": 1, "range": 1, "gem": "b", "offset": 0})
    assert machine_module.z3_step_function().__module__ == "checks.z3step"


# ------------------------------------------------------------ random walks

def test_record_runs_is_deterministic_and_in_the_small_domain() -> None:
    a = record_runs(200, seed=5, pages=6, gems=("a", "b"), max_offset=3)
    assert len(a) == 200
    assert [t.to_itf() for t in a] == [t.to_itf() for t in record_runs(200, seed=5)]
    assert [t.to_itf() for t in a] != [t.to_itf() for t in record_runs(200, seed=6)]
    actions: set[str] = set()
    errors: set[str] = set()
    for t in a:
        assert t.config["mm_start"] == 0 and t.config["mm_range"] == 6
        assert t.config["reserve_range"] == 0 and t.profile == "upstream"
        assert len(t.steps) == 9
        for s in t.steps[1:]:
            actions.add(s.action)
            errors.add(s.state["lastErr"])
            assert 0 <= s.args["addr"] <= 6 and 0 <= s.args["range"] <= 6
            if s.action == "Map":
                assert s.args["gem"] in ("a", "b") and 0 <= s.args["offset"] <= 3
    assert actions == {"Map", "Unmap", "Prefetch"}
    assert errors == {"OK", "EINVAL"}
    assert all(replay(t).clean for t in a[:50])


def test_record_runs_for_the_rfc2023_profile() -> None:
    traces = record_runs(1000, seed=1, profile="rfc2023", steps=8)
    assert len(traces) == 1000 and traces[0].profile == "rfc2023"
    assert any(len(s.state["lastOps"]) == 0 and s.state["lastErr"] == "OK"
               for t in traces for s in t.steps[1:] if s.action == "Map")  # a no-op map


@pytest.mark.slow
def test_long_fuzz_finds_nothing(tmp_path: Path) -> None:
    code, out, _ = run("fuzz", "--seconds", "120", "--seed", "11", "--json",
                       "--out", str(tmp_path))
    assert code == 0, out
