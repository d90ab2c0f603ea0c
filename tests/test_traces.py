"""Traces: ITF round trip, replay, show, and bad input (one line, exit 2)."""

from __future__ import annotations

import io
import json
import shutil
import subprocess
from pathlib import Path

import pytest

from checks.cli import main
from checks.replay import recorder, replay
from checks.systems import get
from checks.traces import Trace, decode, encode, read_trace
from model import GpuVmError, Rfc2023, VaSpace
from model.gpuva import U64_MAX

GPUVM = get("gpuvm")


def record(tmp_path: Path) -> Path:
    vm = VaSpace(0, 16, 14, 2, profile=Rfc2023())
    rec = recorder(GPUVM, vm)
    vm.map(0, 2, "a", 100)
    vm.map(1, 2, "a", 101)
    vm.map(4, 4, None, 0)
    with pytest.raises(GpuVmError):
        vm.map(13, 2, "a", 0)
    vm.unmap(1, 4)
    return rec.trace.write(tmp_path / "t.itf.json")


def run(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(list(argv), out, err)
    return code, out.getvalue(), err.getvalue()


def test_bigint_round_trip() -> None:
    value = {"x": [U64_MAX, 3, None, "a", True]}
    assert encode(value) == {"x": [{"#bigint": str(U64_MAX)}, 3, None, "a", True]}
    assert decode(encode(value)) == value


def test_record_write_read_replay(tmp_path: Path) -> None:
    path = record(tmp_path)
    trace = read_trace(path)
    assert [s.action for s in trace.steps] == ["Init", "Map", "Map", "Map", "Map", "Unmap"]
    assert trace.steps[4].state["lastErr"] == "EINVAL"
    assert trace.steps[2].state["vas"] == [[0, 3, "a", 100, 0]]
    report = replay(trace)
    assert report.clean and report.steps == 6
    assert run("replay", str(path)) [0] == 0


def test_replay_reports_the_first_divergence(tmp_path: Path) -> None:
    path = record(tmp_path)
    doc = json.loads(path.read_text())
    doc["states"][3]["vas"][1][3] = 7  # the NULL mapping's offset
    doc["states"][5]["lastErr"] = "OK"
    path.write_text(json.dumps(doc))
    code, out, _ = run("replay", str(path))
    assert code == 1
    assert "step 3" in out and "expected" in out and "actual" in out
    code, out, _ = run("replay", str(path), "--json")
    res = json.loads(out)
    assert not res["ok"] and res["results"][0]["divergence_step"] == 3


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('{"#meta": {"spec": "GpuVm"}, "vars": ["vas"],\n "states": [', "JSON"),
        ("[1, 2]", "object"),
        ('{"vars": [], "states": [{}]}', "#meta"),
        ('{"#meta": {"spec": "GpuVm"}, "vars": ["vas"], "states": []}', "states"),
        ('{"#meta": {"spec": "GpuVm"}, "vars": ["vas"], "states": [{"lastErr": 1}]}',
         "#meta"),
    ],
)
def test_malformed_trace_is_one_line_exit_2(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "bad.json"
    path.write_text(text)
    for cmd in ("replay", "show"):
        code, out, err = run(cmd, str(path))
        assert code == 2 and out == ""
        assert err.count("\n") == 1 and message in err and str(path) in err
        assert "Traceback" not in err


def test_a_trace_that_compares_nothing_is_refused(tmp_path: Path) -> None:
    doc = json.loads(record(tmp_path).read_text())
    doc["vars"] = ["lastErr"]
    for st in doc["states"]:
        del st["vas"], st["lastOps"]
    path = tmp_path / "thin.json"
    path.write_text(json.dumps(doc))
    code, _, err = run("replay", str(path))
    assert code == 2 and "does not record vas, lastOps" in err


def test_booleans_are_not_integers(tmp_path: Path) -> None:
    path = record(tmp_path)
    doc = json.loads(path.read_text())
    doc["states"][1]["vas"][0][4] = False  # flags 0 written as false: a divergence
    path.write_text(json.dumps(doc))
    code, out, _ = run("replay", str(path))
    assert code == 1 and "step 1" in out
    doc["states"][1]["vas"][0][4] = 0
    doc["states"][1]["#meta"]["args"]["range"] = True  # an argument of the wrong kind
    path.write_text(json.dumps(doc))
    code, _, err = run("replay", str(path))
    assert code == 2 and "state 1" in err and "is not a u64" in err


def test_truncated_trace_names_file_and_line(tmp_path: Path) -> None:
    good = record(tmp_path).read_text()
    path = tmp_path / "cut.json"
    path.write_text(good[: len(good) // 2])
    code, _, err = run("replay", str(path))
    assert code == 2
    assert err.startswith(f"gpuvm-check: {path}:")  # file:line
    assert int(err.split(":")[2]) > 1


def test_unknown_action_is_a_tool_error(tmp_path: Path) -> None:
    path = record(tmp_path)
    doc = json.loads(path.read_text())
    doc["states"][2]["#meta"]["action"] = "Frobnicate"
    path.write_text(json.dumps(doc))
    code, _, err = run("replay", str(path))
    assert code == 2 and "no action 'Frobnicate'" in err and "state 2" in err


def test_missing_trace_file() -> None:
    code, _, err = run("replay", "/nonexistent/t.json")
    assert code == 2 and "/nonexistent/t.json" in err and err.count("\n") == 1


def test_usage_error_exit_2() -> None:
    code, _, err = run("replay")
    assert code == 2 and "error" in err


def test_show_text_has_every_step(tmp_path: Path) -> None:
    code, out, _ = run("show", str(record(tmp_path)))
    assert code == 0
    for i in range(1, 6):
        assert f"step {i}:" in out
    assert "old: |--a--------|" in out and "-> -EINVAL" in out


def test_show_html_is_self_contained(tmp_path: Path) -> None:
    html = tmp_path / "t.html"
    code, _, _ = run("show", str(record(tmp_path)), "--html", str(html))
    assert code == 0
    page = html.read_text()
    assert page.count('class="step') == 6
    assert "http://" not in page and "https://" not in page and "<link" not in page


def test_show_html_loads_in_chromium(tmp_path: Path) -> None:
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        pytest.skip("chromium is not installed (Debian package: chromium)")
    html = tmp_path / "t.html"
    run("show", str(record(tmp_path)), "--html", str(html))
    proc = subprocess.run(
        [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         f"--user-data-dir={tmp_path / 'profile'}", "--enable-logging=stderr", "--v=0",
         "--dump-dom", html.as_uri()],
        capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    # the page's script ran (it fills in the step count) and raised nothing
    assert '<span id="count">6</span>' in proc.stdout
    assert "Uncaught" not in proc.stderr
    assert proc.stdout.count('class="step') == 6


def test_trace_to_itf_shape() -> None:
    vm = VaSpace(0, 8)
    rec = recorder(GPUVM, vm)
    vm.map(0, 1, "a", 0)
    doc = rec.trace.to_itf()
    assert set(doc) == {"#meta", "vars", "states"}
    assert doc["vars"] == ["vas", "lastOps", "lastErr"]
    assert doc["states"][1]["#meta"] == {
        "index": 1, "action": "Map",
        "args": {"addr": 0, "range": 1, "gem": "a", "offset": 0, "flags": 0}}
    assert isinstance(rec.trace, Trace)


def test_a_failed_html_write_leaves_no_file(tmp_path: Path) -> None:
    trace = record(tmp_path)
    (tmp_path / "dir").mkdir()
    dest = tmp_path / "dir"  # a directory: the write fails
    code, out, err = run("show", str(trace), "--html", str(dest))
    assert code == 2 and out == "" and err.count("\n") == 1
    assert list(dest.iterdir()) == []
    blocked = tmp_path / "file"
    blocked.write_text("x")
    code, _, err = run("show", str(trace), "--html", str(blocked / "t.html"))
    assert code == 2 and str(blocked / "t.html") in err
    assert not list(tmp_path.glob("**/.t.html*"))
