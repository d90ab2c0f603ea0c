"""Userptr.tla under TLC: the small model's counts and the five failure configs the
userptr issue names, each violated within 20 steps."""

from __future__ import annotations

import io
import json

from checks.cli import main
from checks.manifest import load_manifest
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
