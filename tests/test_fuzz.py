"""The VA-space state machines: bound here, defined in checks/systems/gpuvm/."""

from __future__ import annotations

import io
import json
import sys
import types
from pathlib import Path
from typing import Any

import pytest

import checks.systems.gpuvm.machine as machine_module
from checks.cli import main
from checks.fuzz import run_machine
from checks.machines.base import CheckFailed
from checks.outcome import Outcome
from checks.replay import replay
from checks.systems.gpuvm.domain import LAYOUTS, Layout
from checks.systems.gpuvm.machine import RegionsMachine, VaSpaceMachine, record_runs
from checks.systems.gpuvm.oracle import Oracle, check_ops
from checks.traces import read_trace
from model import Map, Op, Remap, Unmap, Va
from model.gpuva import U64_MAX
from tests.conftest import Z3_EVERY


class CheckedVaSpace(VaSpaceMachine):
    z3_every = Z3_EVERY


class CheckedRegions(RegionsMachine):
    z3_every = Z3_EVERY


TestVaSpaceMachine = CheckedVaSpace.TestCase
TestRegionsMachine = CheckedRegions.TestCase

INVARIANTS = ("errno_inv", "op_list_inv", "state_inv", "translation_inv", "gem_list_inv")


def run(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(list(argv), out, err)
    return code, out.getvalue(), err.getvalue()


def machine(layout: Layout = LAYOUTS[0], cls: type[VaSpaceMachine] = VaSpaceMachine
            ) -> VaSpaceMachine:
    m = cls()
    m._setup(layout)
    return m


def step(m: VaSpaceMachine, action: str, **args: Any) -> None:
    """One action and every invariant after it, as Hypothesis runs them."""
    m.act(action, **args)
    for name in INVARIANTS:
        getattr(m, name)()


# ------------------------------------------------------------- the command

def test_fuzz_command_reports_steps(tmp_path: Path) -> None:
    code, out, _ = run("fuzz", "vaspace", "--seconds", "0.5", "--seed", "3", "--json",
                       "--out", str(tmp_path))
    doc = json.loads(out)
    assert code == 0 and doc["ok"]
    (r,) = doc["results"]
    assert r["name"] == "vaspace" and r["outcome"] == "pass"
    assert r["steps"] > 0 and r["examples"] > 0 and r["steps_per_s"] > 0


def test_a_system_name_runs_its_machines(tmp_path: Path) -> None:
    code, out, _ = run("fuzz", "gpuvm", "--seconds", "0.3", "--json", "--out", str(tmp_path))
    assert code == 0
    assert [r["name"] for r in json.loads(out)["results"]] == ["vaspace", "vaspace-regions"]


@pytest.mark.parametrize("argv", [["fuzz", "nosuch", "--seconds", "1"],
                                  ["fuzz", "vaspace", "--seconds", "nan"],
                                  ["fuzz", "vaspace", "--seconds", "-1"],
                                  ["fuzz", "vaspace", "--seconds", "inf"]])
def test_bad_fuzz_arguments_are_usage_errors(argv: list[str]) -> None:
    code, out, err = run(*argv)
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and "Traceback" not in err


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


def test_a_failure_is_shrunk_printed_with_real_arguments_and_replayable(tmp_path: Path
                                                                       ) -> None:
    r = run_machine("broken", 30, 0, tmp_path, machine=_Broken)
    assert r.outcome == Outcome.VIOLATION
    assert r.figures["invariant"] == "TranslationInv"
    assert r.figures["cex_length"] == 1  # one map is enough
    # the falsifying program calls the actions with their real arguments
    assert "state.act('Map', addr=" in r.detail and "raw=" not in r.detail
    assert r.trace is not None and r.trace.exists()
    trace = read_trace(r.trace)
    assert [s.action for s in trace.steps] == ["Init", "Map"]
    assert "TranslationInv" in trace.description
    assert trace.meta["violation"]["invariant"] == "TranslationInv"
    assert replay(trace).clean  # the model did what the trace says
    code, _, _ = run("replay", str(r.trace))
    assert code == 0


def test_the_printed_program_runs() -> None:
    m = VaSpaceMachine()
    m.setup("low")
    m.act("Map", addr=0, range=2, gem="a", offset=0, flags=0)
    m.check_query("upstream", "find_prev", 2, 1)
    m.remove_absent(Va(0, 2, "a", 1))
    assert list(m.vms["upstream"]) == [Va(0, 2, "a", 0)]


# ------------------------------------------------------ the checks of a step

def test_rejected_requests_leave_both_profiles_unchanged() -> None:
    top = LAYOUTS[1]
    assert top.mm_end == U64_MAX
    m = machine(top)
    s = top.mm_start
    step(m, "Map", addr=s + 2, range=3, gem="a", offset=0, flags=0)
    before = {p: vm.abstract() for p, vm in m.vms.items()}
    for args in (
        {"addr": s + 4, "range": U64_MAX, "gem": "a", "offset": 0, "flags": 0},  # wraps
        {"addr": s + 4, "range": (1 << 64) - 2, "gem": "a", "offset": 0, "flags": 0},
        {"addr": s + 4, "range": 0, "gem": "a", "offset": 0, "flags": 0},  # empty
        {"addr": s, "range": 2, "gem": "b", "offset": 0, "flags": 0},  # the kernel node
        {"addr": s + 4, "range": 1, "gem": "a", "offset": 1 << 64, "flags": 0},  # not u64
        {"addr": -1, "range": 2, "gem": "a", "offset": 0, "flags": 0},  # not a u64
    ):
        assert m.oracle.expect("Map", args) == "EINVAL"
        step(m, "Map", **args)
    assert {p: vm.abstract() for p, vm in m.vms.items()} == before
    step(m, "Map", addr=U64_MAX - 2, range=1, gem="b", offset=U64_MAX, flags=0)  # near the end


def test_an_unexpected_errno_fails_the_step() -> None:
    m = machine()
    m.oracle.expect = lambda action, args: "EEXIST"  # type: ignore[method-assign]
    with pytest.raises(CheckFailed) as e:
        step(m, "Map", addr=0, range=2, gem="a", offset=0, flags=0)
    assert e.value.invariant == "ErrnoInv"


def test_region_free_of_a_region_with_mappings_is_busy() -> None:
    m = machine(cls=RegionsMachine)
    step(m, "RegionAlloc", addr=0, range=4, sparse=False)
    step(m, "Map", addr=1, range=2, gem="a", offset=0, flags=0)
    assert m.oracle.expect("RegionFree", {"addr": 0, "range": 4}) == "EBUSY"
    step(m, "RegionFree", addr=0, range=4)
    step(m, "Map", addr=3, range=2, gem="a", offset=0, flags=0)  # crosses the region's end
    step(m, "Unmap", addr=0, range=8)
    step(m, "RegionFree", addr=0, range=4)
    assert m.vms["upstream"].regions == []


def test_apply_with_a_fault_is_checked_all_or_nothing() -> None:
    m = machine()
    step(m, "Map", addr=0, range=4, gem="a", offset=0, flags=0)
    vm = m.vms["rfc2023"]
    ops = vm.sm_map(1, 2, "b", 0)
    for at in (1, 2, 3, 4):
        m.apply_failing("rfc2023", ops, at)
    with pytest.raises(CheckFailed) as e:
        m.apply_failing("rfc2023", ops, 9)  # never reached: the check says so
    assert e.value.invariant == "ApplyAtomicInv"


def test_query_checks_bite() -> None:
    m = machine()
    step(m, "Map", addr=0, range=2, gem="a", offset=0, flags=0)
    m.check_query("upstream", "find_prev", 2, 1)
    m.vms["upstream"].find_prev = lambda start: None  # type: ignore[method-assign]
    with pytest.raises(CheckFailed) as e:
        m.check_query("upstream", "find_prev", 2, 1)
    assert e.value.invariant == "FindInv"


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
    # a split piece that loses its flags (the old mapping has none here: give it some)
    ([Remap(Unmap(V), Map(0, 1, "a", 10, 1), Map(2, 2, "a", 12)), Map(1, 1, "b", 5)],
     "RemapInv"),
    # the map without the request's flags
    ([Remap(Unmap(V), Map(0, 1, "a", 10), Map(2, 2, "a", 12)), Map(1, 1, "b", 5, 3)],
     "FlagsInv"),
])
def test_check_ops_catches_wrong_op_lists(ops: list[Any], invariant: str) -> None:
    args = {"addr": 1, "range": 1, "gem": "b", "offset": 5, "flags": 0}
    after = [Va(0, 1, "a", 10), Va(1, 1, "b", 5), Va(2, 2, "a", 12)]
    good: list[Op] = [Remap(Unmap(V), Map(0, 1, "a", 10), Map(2, 2, "a", 12)), Map(1, 1, "b", 5)]
    check_ops("upstream", "Map", args, [V], good, after, LAYOUTS[0])
    with pytest.raises(CheckFailed) as e:
        check_ops("upstream", "Map", args, [V], ops, after, LAYOUTS[0])
    assert e.value.invariant == invariant


def test_check_ops_catches_a_merge_across_a_gap() -> None:
    left = Va(0, 1, "a", 0)
    args = {"addr": 2, "range": 1, "gem": "a", "offset": 2, "flags": 0}
    with pytest.raises(CheckFailed) as e:
        check_ops("rfc2023", "Map", args, [left], [Unmap(left, True), Map(0, 3, "a", 0)],
                  [Va(0, 3, "a", 0)], LAYOUTS[0])
    assert e.value.invariant == "MergeInv"


def test_check_ops_catches_a_wrong_prefetch() -> None:
    a = Va(0, 2, "a", 0)
    layout = LAYOUTS[0]  # the kernel node is [8, 10)
    m = machine()
    step(m, "Map", addr=0, range=2, gem="a", offset=0, flags=0)
    ops = m.vms["upstream"].prefetch_ops(0, 12)
    check_ops("upstream", "Prefetch", {"addr": 0, "range": 12}, [a], ops, [a], layout)
    with pytest.raises(CheckFailed) as e:
        check_ops("upstream", "Prefetch", {"addr": 7, "range": 2}, [a], [], [a], layout)
    assert e.value.invariant == "PrefetchInv"  # the kernel node was met


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
    step(m, "Map", addr=0, range=2, gem="a", offset=0, flags=0)
    step(m, "Prefetch", addr=0, range=2)
    step(m, "Unmap", addr=1, range=1)
    assert [(c[0], c[2]) for c in calls] == [("upstream", "Map"), ("rfc2023", "Map"),
                                            ("upstream", "Unmap"), ("rfc2023", "Unmap")]
    _, before, _, args, ops = calls[2]
    assert before == [Va(0, 2, "a", 0)] and args == {"addr": 1, "range": 1}
    assert ops == [Remap(Unmap(Va(0, 2, "a", 0)), Map(0, 1, "a", 0), None)]


def test_z3_hook_disagreement_fails_the_step(monkeypatch: pytest.MonkeyPatch) -> None:
    _fake_z3(monkeypatch, "the spec gives other ops")
    m = machine(cls=_EveryStep)
    with pytest.raises(CheckFailed) as e:
        step(m, "Map", addr=0, range=2, gem="a", offset=0, flags=0)
    assert e.value.invariant == "Z3StepInv"


def test_z3_hook_runs_the_real_relation() -> None:
    m = machine(cls=_EveryStep)
    step(m, "Map", addr=0, range=3, gem="a", offset=0, flags=0)
    step(m, "Map", addr=1, range=1, gem="b", offset=0, flags=0)
    assert machine_module.z3_step_function().__module__ == "checks.z3step"


# ------------------------------------------------------------ random walks

def test_record_runs_is_deterministic_and_in_the_small_domain() -> None:
    a = record_runs(200, seed=5)
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
                assert s.args["gem"] in ("a", "b") and s.args["flags"] in (0, 1)
    assert actions == {"Map", "Unmap", "Prefetch"}
    assert errors == {"OK", "EINVAL"}
    assert all(replay(t).clean for t in a[:50])


def test_recorded_runs_reach_keeps_merges_and_many_overlaps() -> None:
    from checks.systems.gpuvm import _run_figures

    runs = record_runs(500, seed=1, variant="rfc2023") + record_runs(
        200, seed=2, variant="upstream-regions")
    figures = _run_figures(runs)
    assert figures["steps_with_keep"] > 0 and figures["steps_with_merge"] > 0
    assert figures["steps_3plus_overlaps"] > 0 and figures["runs_with_regions"] == 200
    assert any(len(s.state["lastOps"]) == 0 and s.state["lastErr"] == "OK"
               for t in runs for s in t.steps[1:] if s.action == "Map")  # a no-op map
    assert all(replay(t).clean for t in runs[-20:])


@pytest.mark.slow
def test_long_fuzz_finds_nothing(tmp_path: Path) -> None:
    code, out, _ = run("fuzz", "gpuvm", "--seconds", "120", "--seed", "11", "--json",
                       "--out", str(tmp_path))
    assert code == 0, out
