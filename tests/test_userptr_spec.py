"""Userptr.tla under TLC: the small model's counts and the five failure configs the
userptr issue names, each violated within 20 steps; each counterexample renders with
``show`` (a thread timeline), leaves the real model, and replays on its model mutant,
which breaks an invariant at the trace's last step."""

from __future__ import annotations

import io
import json

from checks import mutants
from checks.cli import main
from checks.manifest import load_manifest
from checks.replay import replay
from checks.systems import get
from checks.traces import read_trace

NAMED = ("MCUserptrRetryInverted", "MCUserptrCheckUnlocked", "MCUserptrFenceAfterUnlock",
         "MCUserptrCallbackNoWait", "MCUserptrFaultInitialNoCheck")


def test_the_small_model_and_the_named_failure_configs(tmp_path: object) -> None:
    out, err = io.StringIO(), io.StringIO()
    code = main(["tlc", "MCUserptrSmall", *NAMED, "--json", "--out", str(tmp_path)], out, err)
    doc = json.loads(out.getvalue())
    assert code == 0 and doc["ok"], out.getvalue()
    by_name = {r["name"]: r for r in doc["results"]}
    manifest = load_manifest(get("userptr"))
    for name in NAMED:
        r = by_name[name]
        assert r["outcome"] == "violation" and r["trace"], r
        trace = read_trace(r["trace"])
        assert len(trace.steps) - 1 <= 20, (name, len(trace.steps))
        assert manifest.model(name).violated in r["detail"], r["detail"]
        out = io.StringIO()
        assert main(["show", r["trace"]], out, io.StringIO()) == 0
        text = out.getvalue()
        assert "mm" in text and "bind" in text and "^ " in text, (name, text)
        assert not replay(trace).clean, name     # the spec's bad variant is not the model
        mutant = manifest.model(name).mutant
        assert mutant is not None, name
        proc = mutants.run_on_mutant(mutant, ["replay", r["trace"], "--json"], 120.0)
        doc = json.loads(proc.stdout)["results"][0]
        assert doc.get("divergence_step") is None and doc["reproduced"], (name, proc.stdout)
