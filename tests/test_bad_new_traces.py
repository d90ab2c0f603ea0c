"""Bad input to replay for the drmexec and i915 systems: one clear line and exit 2, or a
divergence (exit 1) -- never a traceback, never a pass."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import pytest

from checks.cli import main
from checks.replay import recorder
from checks.systems import get
from model.drmexec import VOCABULARY, DrmExecSystem


def run(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(list(argv), out, err)
    return code, out.getvalue(), err.getvalue()


def drmexec_trace(tmp_path: Path) -> dict[str, Any]:
    s = DrmExecSystem({"t1": ["a", "b"], "t2": ["b", "a"]})
    rec = recorder(get("drmexec"), s)
    while acts := s.next_actions():
        VOCABULARY.perform(s, acts[0][0], {"thread": acts[0][1]})
    path = rec.trace.write(tmp_path / "run.itf.json")
    doc: dict[str, Any] = json.loads(path.read_text())
    return doc


def replay(tmp_path: Path, doc: dict[str, Any]) -> tuple[int, str, str]:
    p = tmp_path / "bad.itf.json"
    p.write_text(json.dumps(doc))
    return run("replay", str(p))


def test_a_recorded_run_replays(tmp_path: Path) -> None:
    doc = drmexec_trace(tmp_path)
    code, out, _ = replay(tmp_path, doc)
    assert code == 0 and "follows the trace" in out


def test_a_loop_no_step_closes_diverges(tmp_path: Path) -> None:
    doc = drmexec_trace(tmp_path)
    doc["loop"] = 1  # every thread has ended: nothing leads back to state 1
    code, out, err = replay(tmp_path, doc)
    assert code == 1 and "diverges" in out and "Traceback" not in err


@pytest.mark.parametrize(("breaks", "message"), [
    (lambda d: d["#meta"]["config"].pop("want"), "it lacks 'want'"),
    (lambda d: d["#meta"]["config"].update(algorithm="nope"), "ww algorithm 'nope'"),
    (lambda d: d["states"][0]["held"].update(t1=["zz"]), "not a state of the loop"),
    (lambda d: d["states"][1]["#meta"]["args"].update(thread=3), "is not a name"),
])
def test_bad_drmexec_input_is_one_line(tmp_path: Path, breaks: Any, message: str) -> None:
    doc = drmexec_trace(tmp_path)
    breaks(doc)
    code, _, err = replay(tmp_path, doc)
    assert code == 2 and message in err and len(err.strip().splitlines()) == 1, err


def test_bad_i915_config_is_one_line(tmp_path: Path) -> None:
    from model.i915 import VOCABULARY as I915
    from model.i915 import I915System

    s = I915System({1: True}, {1: (0x10000, 0x1000)})
    rec = recorder(get("i915"), s)
    I915.perform(s, "VmRelease", {"vm": "1"})
    doc = json.loads(rec.trace.write(tmp_path / "i.itf.json").read_text())
    doc["#meta"]["config"]["vms"] = [1]
    code, _, err = replay(tmp_path, doc)
    assert code == 2 and "not a i915 configuration" in err and "Traceback" not in err
