"""The userptr model and Userptr.tla, both directions, and that the check can fail.

Model -> spec: recorded random schedules validated by TLC on every variable
the spec has; a run whose state is tampered with is rejected at that state.
Spec -> model: every transition of the small lr model replays into the
model, which restores each source state from the spec's variables alone
(its own bookkeeping derived), so a state restored that way must behave as
the state the model reached itself.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest

from checks.conform import partial_view, recorded
from checks.conform.behaviours import replay_model
from checks.conform.validate import validate
from checks.manifest import load_manifest
from checks.outcome import Outcome
from checks.systems import get
from model.userptr import UserptrSystem

USERPTR = get("userptr")
LOGGED = USERPTR.extra["logged"]


def logged_runs(n: int, seed: int = 3) -> list:  # type: ignore[type-arg]
    return [partial_view(t, LOGGED, USERPTR) for t in recorded(USERPTR, n, seed)]


def test_recorded_runs_of_every_layout_validate() -> None:
    traces = logged_runs(7)          # one per layout
    assert len({json.dumps(t.config, sort_keys=True) for t in traces}) == 7
    v = validate(USERPTR, traces, mode="partial", logged=LOGGED, max_hidden=0)
    assert v.outcome == Outcome.PASS, v.detail
    assert v.states == sum(len(t.steps) for t in traces)


@pytest.mark.parametrize("var, change", [
    ("invalidated", lambda v: sorted({*v, "u2"})),
    ("tlb", lambda v: [*v, [1, "u1", 0, 4]]),
    ("nseq", lambda v: {**v, "u1": v["u1"] + 2}),
])
def test_a_tampered_run_is_rejected_at_the_tampered_state(var: str, change: object) -> None:
    trace = logged_runs(1)[0]
    k = len(trace.steps) // 2
    bad = copy.deepcopy(trace)
    bad.steps[k].state[var] = change(bad.steps[k].state[var])  # type: ignore[operator]
    v = validate(USERPTR, [bad], mode="partial", logged=LOGGED, max_hidden=0)
    assert v.outcome == Outcome.VIOLATION and v.failing_state == k, v.detail


def test_every_transition_of_the_small_model_replays() -> None:
    model = load_manifest(USERPTR).model("MCUserptrSmall")
    rep = replay_model(USERPTR, model, workers=1)
    assert rep.outcome == Outcome.PASS, rep.detail
    assert model.total_states is not None and rep.transitions == model.total_states - 1


def test_a_state_restored_from_the_spec_variables_behaves_as_the_original() -> None:
    """``restore`` without ``extra`` (as spec -> model replays it) gives the same state
    and the same enabled steps."""
    for tr in recorded(USERPTR, 5, 11):
        for step in tr.steps:
            orig = UserptrSystem.from_config(tr.config)
            orig.restore(step.state)
            spec_only = {k: v for k, v in step.state.items() if k in LOGGED}
            derived = UserptrSystem.from_config(tr.config)
            derived.restore(spec_only)
            want = {k: v for k, v in orig.abstract().items() if k != "extra"}
            assert {k: v for k, v in derived.abstract().items() if k != "extra"} == want
            assert derived.enabled() == orig.enabled(), (tr.description, step.index)


@pytest.mark.slow
def test_a_model_mutant_fails_conformance_both_ways(tmp_path: Path) -> None:
    from checks import mutants

    proc = mutants.run_on_mutant("userptr-check-inverted",
                                 ["conform", "userptr", "--runs", "100", "--json",
                                  "--out", str(tmp_path)], 600.0)
    assert proc.returncode == 1, proc.stderr
    doc = json.loads(proc.stdout)
    assert not doc["ok"] and doc["divergences"] > 0
    by_name = {r["name"]: r for r in doc["results"]}
    assert by_name["userptr:model->spec"]["outcome"] == "violation"
    small = by_name["userptr:spec->model:MCUserptrSmall"]
    assert small["outcome"] == "violation" and small["divergences"] > 0
