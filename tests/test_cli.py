"""The tool boundary: bad input is exit 2 with one line, never a traceback or a pass.

The project's malformed-trace generator (``tests/malformed_traces.py``)
runs through ``replay``, ``show`` and ``show --html``; bad arguments,
internal errors and signals are checked here too.
"""

from __future__ import annotations

import io
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

from checks import cli
from tests.malformed_traces import CannotSetUp, base_trace, cases, dump, materialise

ROOT = Path(__file__).resolve().parent.parent


def run(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = cli.main(list(argv), out, err)
    return code, out.getvalue(), err.getvalue()


def test_every_malformed_trace_is_refused_by_every_command(tmp_path: Path) -> None:
    refused = 0
    for case in cases():
        try:
            path = materialise(case, tmp_path)
        except CannotSetUp:
            continue
        html = tmp_path / "page.html"
        for argv in (["replay", str(path)], ["show", str(path)],
                     ["show", str(path), "--html", str(html)]):
            code, out, err = run(*argv)
            assert code == 2, (case.name, argv, out, err)
            assert out == "", (case.name, out)
            lines = err.splitlines()
            assert len(lines) == 1 and "Traceback" not in err, (case.name, err)
            assert "internal error" not in err, (case.name, err)
            assert not html.exists(), case.name
        refused += 1
    assert refused >= 400


def test_a_valid_trace_passes_and_a_tampered_one_is_a_finding(tmp_path: Path) -> None:
    path = tmp_path / "t.itf.json"
    path.write_text(dump(base_trace()))
    assert run("replay", str(path))[0] == 0
    doc = base_trace()
    doc["states"][2]["vas"][1][3] = 5  # the NULL mapping's offset
    path.write_text(dump(doc))
    code, out, err = run("replay", str(path))
    assert code == 1 and "step 2" in out and err == ""


@pytest.mark.parametrize("argv", [
    ["tlc", "MCGpuVmSmall", "--timeout", "nan"],
    ["tlc", "MCGpuVmSmall", "--timeout", "inf"],
    ["tlc", "MCGpuVmSmall", "--timeout", "0"],
    ["prove", "--timeout", "nan"],
    ["prove", "--timeout", "-3"],
    ["conform", "--runs", "0"],
    ["conform", "nosuchsystem"],
    ["run", "--workers", "0"],
    ["mutants", "no-such-mutant"],
    ["bench", "nothing"],
    ["nosuchcommand"],
])
def test_bad_arguments_are_one_line_exit_2(argv: list[str]) -> None:
    code, out, err = run(*argv)
    assert code == 2 and out == ""
    assert len(err.splitlines()) == 1 and "Traceback" not in err, err


def test_a_bad_out_directory_names_the_path(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    code, _out, err = run("tlc", "MCGpuVmUnmapPrevNext", "--out", str(blocker / "sub"))
    assert code == 2 and len(err.splitlines()) == 1 and str(blocker / "sub") in err, err


def test_an_internal_error_is_exit_2_with_one_line(monkeypatch: pytest.MonkeyPatch) -> None:
    import checks.systems_cmd

    def boom(*args: object) -> int:
        raise KeyError("the unexpected")

    monkeypatch.setattr(checks.systems_cmd, "cmd_systems", boom)
    code, out, err = run("systems")
    assert code == 2 and out == ""
    assert err.splitlines() == ["gpuvm-check: internal error in systems: KeyError: "
                                "'the unexpected'"]
    code, _, err = run("--debug", "systems")
    assert code == 2 and "Traceback" in err


def _children(pid: int) -> list[int]:
    """The processes whose parent is ``pid``."""
    out = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            out.append(int(stat.parent.name))
    return out


def _alive(pid: int) -> bool:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return False
    return fields[0] != "Z"


def _sigterm_leaves_nothing(argv: list[str], prefix: str) -> None:
    # a temporary directory of its own: other tests (other workers) make theirs elsewhere
    tmp = Path(tempfile.mkdtemp(prefix="sigterm-"))
    before = {p.name for p in tmp.glob(f"{prefix}*")}
    proc = subprocess.Popen([sys.executable, "-m", "checks", *argv], cwd=ROOT,
                            env={**os.environ, "TMPDIR": str(tmp)},
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    children: list[int] = []
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and not children:
        time.sleep(0.2)
        children = _children(proc.pid)
    assert children, "the command started no child process"
    time.sleep(1.0)
    created = {p.name for p in tmp.glob(f"{prefix}*")} - before
    assert created, "the command made no temporary directory"
    grandchildren = [g for c in children for g in _children(c)]
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 2 and "terminated" in err, err
    time.sleep(0.5)
    assert not [p for p in children + grandchildren if _alive(p)]
    assert not created & {p.name for p in tmp.glob(f"{prefix}*")}
    shutil.rmtree(tmp, ignore_errors=True)


def test_sigterm_kills_tlc_and_removes_its_directory() -> None:
    _sigterm_leaves_nothing(["tlc", "MCGpuVm", "--out", tempfile.mkdtemp()], "gpuvm-check-tlc-")


def test_sigterm_kills_a_mutant_run_and_removes_its_copy() -> None:
    _sigterm_leaves_nothing(["mutants", "keep-ignores-offset", "--out", tempfile.mkdtemp()],
                            "gpuvm-mutant-")


def test_systems_lists_every_system_with_its_checkers() -> None:
    code, out, _ = run("systems", "--json")
    doc = json.loads(out)
    assert code == 0 and doc["ok"]
    by_name = {s["name"]: s for s in doc["results"]}
    assert set(by_name) >= {"gpuvm", "vmbo", "drmexec", "i915"}
    for s in by_name.values():
        assert s["machines"] and s["mutants"] and s["actions"]
        assert s["models"] or s["name"] == "i915"  # a synchronous front end: no TLA+
