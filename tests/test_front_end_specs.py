"""NouveauBind and XeBind under TLC: the small models' counts, every failure config's
outcome, and what its counterexample does on the model and on its mutant."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

from checks.cli import main
from checks.manifest import load_manifest
from checks.outcome import Outcome
from checks.replay import replay
from checks.systems import get
from checks.traces import read_trace

SYSTEMS = [get("nouveau"), get("xe")]
SMALL = {"nouveau": "MCNouveauBindSmall", "xe": "MCXeBindSmall"}
MODELS = [(s, m) for s in SYSTEMS for m in load_manifest(s).models if m.runtime == "small"]


def run_cli(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(list(argv), out, err)
    return code, out.getvalue(), err.getvalue()


@pytest.fixture(scope="module")
def results(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, object]]:
    out_dir = tmp_path_factory.mktemp("tlc-front-ends")
    code, out, _ = run_cli("tlc", *(m.name for _, m in MODELS), "--json", "--out", str(out_dir))
    doc = json.loads(out)
    assert code == 0 and doc["ok"], out
    return {str(r["name"]): r for r in doc["results"]}


def test_every_small_model_gives_its_outcome(results: dict[str, dict[str, object]]) -> None:
    for _, m in MODELS:
        r = results[m.name]
        assert r["outcome"] == m.expected.value, m.name
        if m.expected == Outcome.PASS:
            assert (r["distinct_states"], r["total_states"]) == (m.distinct_states,
                                                                 m.total_states), m.name
        else:
            assert r.get("violated") == m.violated, m.name


def test_each_counterexample_replays_on_the_model_or_its_mutant(
        results: dict[str, dict[str, object]]) -> None:
    from checks import mutants

    for system, m in MODELS:
        if m.expected == Outcome.PASS:
            continue
        path = Path(str(results[m.name]["trace"]))
        trace = read_trace(path)
        assert trace.steps[0].action == "Init"
        assert all(s.action in system.vocabulary for s in trace.steps[1:]), m.name
        code, text, _ = run_cli("show", str(path))
        assert code == 0 and "^" in text, m.name
        if m.mutant:
            # the spec's bad variant is not the model: replaying it breaks or diverges
            assert not replay(trace).clean, m.name
            proc = mutants.run_on_mutant(m.mutant, ["replay", str(path), "--json"], 120.0)
            doc = json.loads(proc.stdout)["results"][0]
            assert doc.get("divergence_step") is None, (m.name, proc.stdout)
            assert doc["reproduced"], (m.name, proc.stdout)
        elif trace.config.get("profile") == "seed" or m.expected == Outcome.LIVENESS:
            # a seed-profile failure, or a program that never restarts the worker:
            # the model follows it (a liveness lasso closes on the model too)
            assert replay(trace).divergence is None, m.name
        else:
            # a bad variant the real model does not have
            assert not replay(trace).clean, m.name
