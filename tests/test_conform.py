"""Conformance of the model and GpuVm.tla, both directions, and that it can fail.

Model -> spec: recorded runs validated by TLC; a tampered run is rejected
with its index and first failing state.  Spec -> model: every transition of
an exhaustive model replayed into the model; a wrong model diverges and the
divergence is an ITF trace that ``replay`` re-executes.
"""

from __future__ import annotations

import io
import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from checks import conform, tlc
from checks.cli import main
from checks.outcome import Outcome, ToolError
from checks.traces import Trace, read_trace, replay

SPECS = Path(__file__).resolve().parent.parent / "specs"


def runs(n: int = 40) -> list[Trace]:
    return conform.recorded_runs(n, 7, "upstream") + conform.recorded_runs(n, 8, "rfc2023")


def test_conform_command_both_directions(tmp_path: Path) -> None:
    out, err = io.StringIO(), io.StringIO()
    code = main(["conform", "gpuvm", "--runs", "30", "--json", "--out", str(tmp_path)], out, err)
    doc = json.loads(out.getvalue())
    assert code == 0 and doc["ok"], out.getvalue()
    assert doc["traces_validated"] == 60 and doc["divergences"] == 0
    replayed = {r["name"]: r["behaviours_replayed"] for r in doc["results"]
                if "behaviours_replayed" in r}
    # every transition of the two small exhaustive models: states generated - 1
    small = {m.name: m for m in tlc.load_manifest()}
    for name in ("MCGpuVmSmall", "MCGpuVmSmallRfc2023"):
        total = small[name].total_states
        assert total is not None
        assert replayed[f"gpuvm:spec->model:{name}"] == total - 1
    assert list(tmp_path.iterdir()) == []


def test_unknown_spec_and_bad_runs() -> None:
    out, err = io.StringIO(), io.StringIO()
    assert main(["conform", "nosuchspec"], out, err) == 2
    assert "unknown spec(s) nosuchspec" in err.getvalue()
    err = io.StringIO()
    assert main(["conform", "--runs", "0"], out, err) == 2
    assert "--runs must be at least 1" in err.getvalue()


def test_recorded_runs_validate() -> None:
    traces = runs()
    v = conform.validate_traces(traces)
    assert v.outcome == Outcome.PASS
    assert v.traces == 80 and v.states == sum(len(t.steps) for t in traces)


@pytest.mark.parametrize("tamper, step", [
    (lambda s: s.state.update(lastErr="EEXIST"), 3),
    (lambda s: s.state.update(vas=[*s.state["vas"], [5, 1, "b", 0]]), 4),
    (lambda s: s.state.update(lastOps=[*reversed(s.state["lastOps"]),
                                       {"op": "prefetch", "va": [0, 1, "a", 0]}]), 2),
    (lambda s: setattr(s, "action", "RegionAlloc"), 5),
])
def test_a_tampered_run_is_rejected_with_its_index_and_step(tamper: Any, step: int,
                                                            tmp_path: Path) -> None:
    traces = runs()
    bad = 53
    tamper(traces[bad].steps[step])
    v = conform.validate_traces(traces)
    assert v.outcome == Outcome.VIOLATION
    assert (v.failing_trace, v.failing_state) == (bad, step), v.detail
    assert v.detail.startswith(f"run {bad} (rfc2023): GpuVm does not allow state {step}")


def test_a_run_not_starting_at_init_is_rejected() -> None:
    traces = runs(5)
    traces[2].steps[0].state["vas"] = [[0, 1, "a", 0]]
    v = conform.validate_traces(traces)
    assert (v.outcome, v.failing_trace, v.failing_state) == (Outcome.VIOLATION, 2, 0)


def test_runs_the_spec_cannot_hold_are_tool_errors() -> None:
    traces = runs(2)
    traces[1].config["regions"] = True
    with pytest.raises(ToolError, match="regions, which GpuVm does not model"):
        conform.validate_traces(traces)
    traces = runs(2)
    traces[0].steps[1].args["addr"] = 1 << 40
    with pytest.raises(ToolError, match="beyond what the TLA"):
        conform.validate_traces(traces)


def test_failing_run_is_written_as_a_trace(tmp_path: Path,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    real = conform.recorded_runs

    def tampered(n: int, seed: int, profile: str) -> list[Trace]:
        traces = real(n, seed, profile)
        if profile == "upstream":
            traces[3].steps[2].state["lastErr"] = "ENOENT"
        return traces

    monkeypatch.setattr(conform, "recorded_runs", tampered)
    [r] = conform.trace_results(10, 0, tmp_path, None)
    assert r.outcome == Outcome.VIOLATION and r.figures["failing_run"] == 3
    assert r.trace is not None
    written = read_trace(r.trace)
    assert written.steps[2].state["lastErr"] == "ENOENT"
    divergence = replay(written).divergence
    assert divergence is not None and divergence.step == 2


@pytest.fixture
def tiny_specs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tlc.Model:
    """A three-page exhaustive GpuVm model in a private specs/ (about 1 s of TLC)."""
    for name in ("GpuVm.tla", "MCGpuVm.tla"):
        shutil.copy(SPECS / name, tmp_path / name)
    cfg = (SPECS / "MCGpuVmSmallRfc2023.cfg").read_text()
    cfg = cfg.replace("MmRange = 5", "MmRange = 4").replace("KernelAddr = 4", "KernelAddr = 3")
    (tmp_path / "MCGpuVmTiny.cfg").write_text(cfg)
    monkeypatch.setattr(tlc, "SPECS_DIR", tmp_path)
    monkeypatch.setattr(conform, "SPECS_DIR", tmp_path)
    return tlc.Model("MCGpuVmTiny", "MCGpuVm.tla", "MCGpuVmTiny.cfg", "exhaustive",
                     Outcome.PASS, "small")


def test_every_transition_replays(tiny_specs: tlc.Model, tmp_path: Path) -> None:
    rep = conform.replay_model(tiny_specs, out_dir=tmp_path)
    assert rep.outcome == Outcome.PASS and rep.divergences == 0
    assert rep.generated is not None and rep.transitions == rep.generated - 1 > 1000


def test_a_wrong_model_diverges_and_the_divergence_replays(tiny_specs: tlc.Model,
                                                          tmp_path: Path) -> None:
    def wrong(config: Any, src: Any, action: str, args: Any) -> dict[str, Any]:
        state = conform.model_step(config, src, action, args)
        if action == "Unmap" and len(state["lastOps"]) == 2:  # the model "forgets" one op
            state["lastOps"] = state["lastOps"][:1]
        return state

    rep = conform.replay_model(tiny_specs, out_dir=tmp_path, replayer=wrong)
    assert rep.outcome == Outcome.VIOLATION and rep.divergences > 0
    assert rep.first is not None
    path = rep.first.write(tmp_path / "divergence.itf.json")
    trace = read_trace(path)
    last = trace.steps[-1]
    assert last.action == "Unmap" and len(last.state["lastOps"]) == 2
    # the trace is the spec's behaviour from Init: the real model follows it
    assert replay(trace).clean


@pytest.mark.slow
def test_a_model_mutant_fails_conformance_both_ways(tmp_path: Path) -> None:
    mutants = pytest.importorskip("checks.mutants")
    proc = mutants.run_on_mutant("next-offset-from-request",
                                 ["conform", "gpuvm", "--runs", "100", "--json",
                                  "--out", str(tmp_path)], 600.0)
    assert proc.returncode == 1, proc.stderr
    doc = json.loads(proc.stdout)
    assert not doc["ok"] and doc["divergences"] > 0
    assert all(r["outcome"] == "violation" for r in doc["results"])
    for r in doc["results"]:
        trace = read_trace(Path(r["trace"]))
        if r["name"] == "gpuvm:model->spec":  # the mutant's run: the real model differs
            assert replay(trace).divergence is not None
        else:  # the spec's behaviour: the real model follows it
            assert replay(trace).clean
