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


def _front_end_trace(tmp_path: Path, system: str) -> dict[str, Any]:
    if system == "nouveau":
        from model.nouveau import VOCABULARY as VOC
        from model.nouveau import NouveauSystem

        s: Any = NouveauSystem({"1": 0x8000}, syncobjs=(10,), channels={1: "ok"},
                               threads={"t1": []}, init=(1 << 32, 1 << 20),
                               regions=((0x10000, 0x8000, False),))
        steps: list[tuple[str, dict[str, Any]]] = [
            ("VmBind", {"thread": "t1", "op_count": 1, "flags": 1,
                        "ops": [[2, 0, 1, 0, 0x10000, 0, 0x2000]], "waits": [],
                        "sigs": [[0, 10, 0]]}),
            ("Run", {"entity": "bind"}),
            ("Exec", {"thread": "t1", "channel": 1, "push": [[0x10000, 0x1000]],
                      "waits": [[0, 10, 0]], "sigs": []})]
    else:
        from model.xe import VOCABULARY as VOC
        from model.xe import XeSystem

        s = XeSystem({"1": (0x4000, 0)}, syncobjs=(10,))
        bind = {"thread": "t1", "vm_id": 1, "engine_id": 0, "syncs": [], "extensions": 0,
                "reserved_0": 0, "reserved_1": 0}
        steps = [("VmBind", bind | {"ops": [[1, 0, 0, 0x4000, 0x10000, 0, 1 << 17, 0, 0, 0]]}),
                 ("Work", {}),
                 ("VmBind", bind | {"ops": [[0, 0, 0, 0x1000, 0x11000, 0, 1 | 1 << 17,
                                             0, 0, 0]]})]
    rec = recorder(get(system), s)
    for action, args in steps:
        VOC.perform(s, action, args)
    doc: dict[str, Any] = json.loads(rec.trace.write(tmp_path / "run.itf.json").read_text())
    return doc


def _paths(doc: Any, pre: tuple[Any, ...] = ()) -> Any:
    yield pre
    items = doc.items() if isinstance(doc, dict) else enumerate(doc) \
        if isinstance(doc, list) else ()
    for k, v in items:
        yield from _paths(v, (*pre, k))


@pytest.mark.parametrize("system", ["nouveau", "xe"])
def test_any_value_of_a_front_end_trace_replaced_is_exit_0_1_or_one_line(
        tmp_path: Path, system: str) -> None:
    """Every value of a recorded trace (its configuration, each state's variables,
    each step's arguments) replaced by a value of another shape: replay follows,
    diverges or refuses it in one line -- never a traceback, never an internal error."""
    import copy

    doc = _front_end_trace(tmp_path, system)
    assert replay(tmp_path, doc)[0] == 0
    tried = 0
    for path in list(_paths(doc))[1:]:
        if path[0] != "#meta" and path[0] != "states":
            continue
        for bad in (None, [1, "a"], 2 ** 70):
            d = copy.deepcopy(doc)
            node = d
            for k in path[:-1]:
                node = node[k]
            node[path[-1]] = bad
            code, _out, err = replay(tmp_path, d)
            tried += 1
            assert code in (0, 1) or (code == 2 and len(err.strip().splitlines()) == 1), \
                (path, bad, code, err)
            assert "Traceback" not in err and "internal error" not in err, (path, bad, err)
    assert tried > 500
