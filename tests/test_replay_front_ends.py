"""Front-end counterexamples (one ioctl call) replay against their obligation."""

from __future__ import annotations

import io
import json
from pathlib import Path

from checks.cli import main


def run(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(list(argv), out, err)
    return code, out.getvalue(), err.getvalue()


def _counterexample(tmp_path: Path, name: str) -> Path:
    code, out, _ = run("prove", name, "--json", "--out", str(tmp_path))
    (result,) = json.loads(out)["results"]
    assert code == 0 and result["outcome"] == "violation"
    return Path(result["trace"])


def test_nouveau_counterexamples_run_on_the_model(tmp_path: Path) -> None:
    """Each nouveau counterexample is a VM_BIND the seed profile accepts (breaking the
    claim) and the fixed profile refuses with the review's errno."""
    for name, errno in (("nouveau.op-reserved.seed", "EINVAL"),
                        ("nouveau.op-flags.seed", "EINVAL"),
                        ("nouveau.op-copy-size.seed", "EOVERFLOW")):
        trace = _counterexample(tmp_path, name)
        code, out, _ = run("replay", str(trace), "--json")
        (r,) = json.loads(out)["results"]
        assert code == 1 and r["reproduced"] and r["invariant"] == name
        assert f"fixed profile gives -{errno}" in r["detail"]


def test_tampered_call_diverges(tmp_path: Path) -> None:
    trace = _counterexample(tmp_path, "nouveau.op-reserved.seed")
    doc = json.loads(trace.read_text())
    doc["states"][1]["#meta"]["args"]["pad"] = 0  # now the claim holds
    trace.write_text(json.dumps(doc))
    code, out, _ = run("replay", str(trace), "--json")
    (r,) = json.loads(out)["results"]
    assert code == 1 and not r["reproduced"] and r["divergence_step"] == 1


def test_call_missing_an_argument_is_a_tool_error(tmp_path: Path) -> None:
    trace = _counterexample(tmp_path, "i915.bind-reserved.seed")
    doc = json.loads(trace.read_text())
    doc["states"][1]["#meta"]["args"].pop("start")
    trace.write_text(json.dumps(doc))
    code, _, err = run("replay", str(trace))
    assert code == 2 and "lacks argument 'start'" in err


def test_i915_counterexamples_run_on_the_model(tmp_path: Path) -> None:
    """Seed profile reproduces each one; the fixed profile rejects it with its errno."""
    for name, fixed in (("i915.bind-overlap.seed", "EEXIST"), ("i915.bind-range.seed", "EINVAL"),
                        ("i915.bind-reserved.seed", "EINVAL"),
                        ("i915.unbind-exact.seed", "ENOENT")):
        trace = _counterexample(tmp_path, name)
        code, out, _ = run("replay", str(trace), "--json")
        (r,) = json.loads(out)["results"]
        assert code == 1 and r["reproduced"] and r["invariant"] == name, out
        assert f"the fixed profile gives -{fixed}" in r["detail"], r["detail"]


def test_an_i915_call_the_seed_rejects_diverges(tmp_path: Path) -> None:
    trace = _counterexample(tmp_path, "i915.bind-reserved.seed")
    doc = json.loads(trace.read_text())
    args = doc["states"][1]["#meta"]["args"]
    args["rsvd2[0]"] = args["rsvd2[1]"] = 0  # now nothing reserved is set: no flaw shown
    trace.write_text(json.dumps(doc))
    code, out, _ = run("replay", str(trace), "--json")
    (r,) = json.loads(out)["results"]
    assert code == 1 and not r["reproduced"] and r["divergence_step"] == 1


def test_an_i915_pin_refusal_alone_is_not_the_flaw(tmp_path: Path) -> None:
    """A call only the pin refuses does not reproduce bind-reserved unless a reserved
    word is really set."""
    trace = _counterexample(tmp_path, "i915.bind-reserved.seed")
    doc = json.loads(trace.read_text())
    args = doc["states"][1]["#meta"]["args"]
    args.update({"rsvd2[0]": 0, "rsvd2[1]": 0, "start": (1 << 48) - 0x1000, "length": 0x2000,
                 "offset": 0})
    trace.write_text(json.dumps(doc))
    code, out, _ = run("replay", str(trace), "--json")
    (r,) = json.loads(out)["results"]
    assert code == 1 and not r["reproduced"] and r["divergence_step"] == 1
