"""Conformance of the model and each system's spec, both directions, and that it can fail.

Model -> spec: recorded runs validated by TLC; a tampered run is rejected
with its index and first failing state, exactly and in the partial mode
(only some variables logged, internal steps unlogged).  Spec -> model:
every transition of an exhaustive model replayed into the model; a wrong
model diverges and the divergence is an ITF trace that ``replay``
re-executes.
"""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import pytest

from checks.cli import main
from checks.conform import partial_view, recorded
from checks.conform.behaviours import model_step, replay_model
from checks.conform.validate import validate
from checks.manifest import load_manifest
from checks.outcome import Outcome
from checks.replay import replay
from checks.systems import get
from checks.traces import Trace, read_trace

GPUVM, VMBO = get("gpuvm"), get("vmbo")


def runs(n: int = 20) -> list[Trace]:
    return recorded(GPUVM, n, 7)


@pytest.mark.slow  # the main job runs the command; the fast tier checks its parts below
def test_conform_command_both_directions(tmp_path: Path) -> None:
    out, err = io.StringIO(), io.StringIO()
    code = main(["conform", "gpuvm", "--runs", "15", "--json", "--out", str(tmp_path)], out, err)
    doc = json.loads(out.getvalue())
    assert code == 0 and doc["ok"], out.getvalue()
    assert doc["traces_validated"] == 15 * len(GPUVM.run_variants) and doc["divergences"] == 0
    replayed = {r["name"]: r["behaviours_replayed"] for r in doc["results"]
                if "behaviours_replayed" in r}
    manifest = load_manifest(GPUVM)
    for name in ("MCGpuVmSmall", "MCGpuVmSmallRfc2023"):
        total = manifest.model(name).total_states
        assert total is not None
        assert replayed[f"gpuvm:spec->model:{name}"] == total - 1  # every transition
    assert list(tmp_path.iterdir()) == []


def test_recorded_runs_validate_with_the_invariants_along_them() -> None:
    traces = runs()
    v = validate(GPUVM, traces)
    assert v.outcome == Outcome.PASS
    assert v.traces == len(traces) and v.states == sum(len(t.steps) for t in traces)


@pytest.mark.parametrize("tamper, step", [
    (lambda s: s.state.update(lastErr="EEXIST"), 3),
    (lambda s: s.state.update(vas=[*s.state["vas"], [5, 1, "b", 0, 0]]), 4),
    (lambda s: s.state.update(lastOps=[*reversed(s.state["lastOps"]),
                                       {"op": "prefetch", "va": [0, 1, "a", 0, 0]}]), 2),
    (lambda s: s.__dict__.update(action="Prefetch", args={"addr": 0, "range": 1}), 5),
])
def test_a_tampered_run_is_rejected_with_its_index_and_step(tamper: Any, step: int) -> None:
    traces = runs()
    bad = 13
    tamper(traces[bad].steps[step])
    v = validate(GPUVM, traces)
    assert v.outcome == Outcome.VIOLATION
    assert (v.failing_trace, v.failing_state) == (bad, step), v.detail
    assert v.detail.startswith(f"run {bad}: GpuVm does not allow state {step}")


def test_a_run_not_starting_at_init_is_rejected() -> None:
    traces = runs(5)
    traces[2].steps[0].state["vas"] = [[0, 1, "a", 0, 0]]
    v = validate(GPUVM, traces)
    assert (v.outcome, v.failing_trace, v.failing_state) == (Outcome.VIOLATION, 2, 0)


def test_vmbo_runs_validate_exactly_and_partially() -> None:
    traces = recorded(VMBO, 15, 3)
    assert validate(VMBO, traces).outcome == Outcome.PASS
    logged = VMBO.extra["logged"]
    # the deferred cleanups (the unlogged internal steps) happen in immediate mode
    immediate = [t for t in traces if t.config["immediate"]]
    thin = [partial_view(t, logged, VMBO) for t in immediate]
    assert any(len(a.steps) < len(b.steps) for a, b in zip(thin, immediate, strict=True))
    v = validate(VMBO, thin, mode="partial", logged=logged)
    assert v.outcome == Outcome.PASS, v.detail
    # a hidden step may not explain a logged state that no step reaches
    bad = next(i for i, t in enumerate(thin) if len(t.steps) > 3)
    thin[bad].steps[2].state["handles"] = {"j1": [["v1", "e", 7]], "j2": []}
    v = validate(VMBO, thin, mode="partial", logged=logged)
    assert (v.outcome, v.failing_trace, v.failing_state) == (Outcome.VIOLATION, bad, 2)


def test_failing_run_is_written_as_a_trace(tmp_path: Path) -> None:
    from checks.conform import trace_result

    entry = next(c for c in load_manifest(GPUVM).conform if c.kind == "traces")
    traces = runs(5)
    traces[3].steps[2].state["lastErr"] = "ENOENT"
    import checks.conform as conform

    original = conform.recorded
    conform.recorded = lambda system, n, seed: traces  # type: ignore[assignment]
    try:
        r = trace_result(GPUVM, entry, 5, 0, tmp_path, None)
    finally:
        conform.recorded = original
    assert r.outcome == Outcome.VIOLATION and r.figures["failing_run"] == 3
    assert r.trace is not None
    written = read_trace(r.trace)
    assert written.steps[2].state["lastErr"] == "ENOENT"
    divergence = replay(written).divergence
    assert divergence is not None and divergence.step == 2


def test_every_transition_replays_and_a_wrong_model_diverges(tmp_path: Path) -> None:
    model = load_manifest(GPUVM).model("MCGpuVmSmall")

    def wrong(system: Any, config: Any, src: Any, action: str, args: Any) -> dict[str, Any]:
        state = model_step(system, config, src, action, args)
        if action == "Unmap" and len(state.get("lastOps", [])) == 2:  # "forgets" one op
            state["lastOps"] = state["lastOps"][:1]
        return state

    rep = replay_model(GPUVM, model, replayer=wrong)
    assert model.total_states is not None
    assert rep.transitions == model.total_states - 1  # every transition, none skipped
    assert rep.outcome == Outcome.VIOLATION and rep.divergences > 0
    assert rep.first is not None
    path = rep.first.write(tmp_path / "divergence.itf.json")
    trace = read_trace(path)
    last = trace.steps[-1]
    assert last.action == "Unmap" and len(last.state["lastOps"]) == 2
    assert replay(trace).clean  # the spec's behaviour from Init: the real model follows it


@pytest.mark.slow
def test_a_model_mutant_fails_conformance_both_ways(tmp_path: Path) -> None:
    from checks import mutants

    proc = mutants.run_on_mutant("next-offset-from-request",
                                 ["conform", "gpuvm", "--runs", "100", "--json",
                                  "--out", str(tmp_path)], 600.0)
    assert proc.returncode == 1, proc.stderr
    doc = json.loads(proc.stdout)
    assert not doc["ok"] and doc["divergences"] > 0
    for r in doc["results"]:
        if r["outcome"] != "violation":
            continue
        trace = read_trace(Path(r["trace"]))
        if r["name"] == "gpuvm:model->spec":  # the mutant's run: the real model differs
            assert not replay(trace).clean
        else:  # the spec's behaviour: the real model follows it
            assert replay(trace).clean
