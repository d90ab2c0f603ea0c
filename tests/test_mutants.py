"""Known-bad variants: the diff applier, patched copies, and that the checks bite."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from pathlib import Path

import pytest

from checks.cli import main
from checks.mutants import (
    CHECKS_ROOT,
    MODEL_DIR,
    Mutant,
    apply_hunks,
    bench_mutants,
    load_mutants,
    mutant_env,
    parse_patch,
    patched_model,
    python_command,
    run_checker,
    run_command,
    run_on_mutant,
)
from checks.outcome import ToolError
from checks.replay import replay
from checks.traces import read_trace

GPUVM = {
    "next-offset-from-request", "keep-ignores-offset", "range-check-no-overflow",
    "sm-unmap-always-prev-next", "remap-prev-overunmap", "find-prev-across-gap",
    "find-range-only", "merge-across-regions", "remove-no-identity", "doc-case15-offset",
    "upstream-never-keep", "rfc2023-nothing-compatible", "rfc2023-merge-always",
    "rfc2023-noop-as-remap", "merge-ignores-flags", "range-check-no-kernel-node",
    "offset-no-wrap", "in-mm-range-overlap", "apply-no-undo",
}
VMBO = {
    "vmbo-destroy-keeps-extobj", "vmbo-iter-leaks-ref", "vmbo-link-no-get", "vmbo-no-vm-ref",
    "vmbo-obtain-no-publish", "vmbo-remap-unlink-first", "vmbo-resv-mode-unlocked",
    "vmbo-walker-no-skip-zombie", "vmbo-evict-list-under-vm-resv",
}
DRMEXEC = {
    "drmexec-no-backoff", "drmexec-no-contended-first", "drmexec-stale-stamp",
    "drmexec-prepare-extra-ref", "drmexec-backoff-keeps-ref", "drmexec-seed001-first-locked",
}
I915 = {
    "i915-fixed-rsvd2-unchecked", "i915-fixed-point-overlap", "i915-fixed-unbind-containment",
    "i915-fixed-enoent-hides-einval", "i915-fixed-args-written-back", "i915-release-keeps-refs",
    "i915-bind-no-ref", "i915-bind-list-only", "i915-unbind-size-unchecked",
    "i915-overflow-check-wraps", "i915-unbind-frees-node-first",
}
NOUVEAU = {
    "nouveau-kind-logical-and", "nouveau-free-unknown-returns-0", "nouveau-pad-unchecked",
    "nouveau-sync-returns-early", "nouveau-exec-ignores-in-fences",
    "nouveau-piece-takes-new-kind", "nouveau-ptref-whole-range",
    "nouveau-bind-queue-per-thread",
}
XE = {
    "xe-unwind-leaks-remap-pieces", "xe-pieces-take-new-gt-mask", "xe-remap-repeats-unbind",
    "xe-worker-ignores-error", "xe-insert-failure-ignored", "xe-empty-bind-signals-at-once",
    "xe-reserved-unchecked", "xe-sync-executes-last-op-only",
}
USERPTR = {
    "userptr-callback-no-wait", "userptr-commit-unfenced", "userptr-check-inverted",
    "userptr-zap-one-gt", "userptr-pt-run-keeps-tlb", "userptr-map-no-read-retry",
    "userptr-check-unlocked", "userptr-fence-after-unlock", "userptr-fault-initial-no-check",
    "userptr-destroy-keeps-list",
}
BY_SYSTEM = {"gpuvm": GPUVM, "vmbo": VMBO, "drmexec": DRMEXEC, "i915": I915,
             "nouveau": NOUVEAU, "xe": XE, "userptr": USERPTR}
NAMES = GPUVM | VMBO | DRMEXEC | I915 | NOUVEAU | XE | USERPTR


def run(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(list(argv), out, err)
    return code, out.getvalue(), err.getvalue()


# ---------------------------------------------------------------- the list

def test_every_named_mutant_is_listed_with_its_source_and_checker() -> None:
    mutants = load_mutants()
    assert set(mutants) == NAMES
    for m in mutants.values():
        assert m.source and m.description and m.patch.is_file()
        assert m.patch.parent.parent.name == m.system
        assert m.name in BY_SYSTEM[m.system]
        kinds = {c.split(":")[0] for c in m.checkers}
        assert kinds <= {"fuzz", "tlc", "prove", "conform", "sched", "unit"}
        # every mutant has a state machine (or, for a bug only interleavings show,
        # the schedule search) and at least one other checker family
        assert ("fuzz" in kinds or "sched" in kinds) and len(kinds) >= 2, m.name


@pytest.mark.parametrize("name", sorted(NAMES))
def test_each_patch_applies_to_the_current_model(name: str) -> None:
    with patched_model(name) as d:
        changed = [p.name for p in sorted((d / "model").glob("*.py"))
                   if p.read_text() != (MODEL_DIR / p.name).read_text()]
        assert changed, "the patch changed nothing"
        assert len(changed) == 1
        for p in (d / "model").glob("*.py"):
            compile(p.read_text(), str(p), "exec")
    assert not d.exists()


# ------------------------------------------------------------- the applier

ORIGINAL = "".join(f"line {i}\n" for i in range(1, 21))
PATCH = """--- a/model/x.py
+++ b/model/x.py
@@ -3,3 +3,3 @@
 line 3
-line 4
+LINE FOUR
 line 5
@@ -15,2 +15,3 @@
 line 15
+inserted
 line 16
"""


def test_apply_hunks_at_their_lines_and_after_the_file_moved() -> None:
    (fp,) = parse_patch(PATCH, "p.patch")
    want = ORIGINAL.replace("line 4\n", "LINE FOUR\n").replace("line 16\n", "inserted\nline 16\n")
    assert apply_hunks(ORIGINAL, fp, "p.patch") == want
    moved = "new first line\nnew second line\n" + ORIGINAL
    assert apply_hunks(moved, fp, "p.patch") == "new first line\nnew second line\n" + want


def test_a_hunk_that_does_not_match_names_the_patch_line() -> None:
    (fp,) = parse_patch(PATCH, "p.patch")
    with pytest.raises(ToolError) as e:
        apply_hunks(ORIGINAL.replace("line 15\n", "line fifteen\n"), fp, "p.patch")
    assert e.value.where == "p.patch:8"


@pytest.mark.parametrize(("text", "where"), [
    ("just text\n", "p.patch"),
    ("@@ -1,1 +1,1 @@\n-a\n+b\n", "p.patch:1"),
    ("--- a/model/x.py\n+++ b/model/x.py\n@@ -1,3 +1,3 @@\n-a\n+b\n", "p.patch:3"),
])
def test_malformed_patches_are_tool_errors(text: str, where: str) -> None:
    with pytest.raises(ToolError) as e:
        parse_patch(text, "p.patch")
    assert e.value.where == where


# ------------------------------------------------------- the subprocess

def test_a_subprocess_imports_the_patched_model_even_from_the_project_root() -> None:
    probe = ("import inspect, model, model.profiles, checks; print(model.__file__); "
             "print(checks.__file__); print(inspect.getsource(model.profiles.compatible))")
    with patched_model("keep-ignores-offset") as d:
        proc = run_command([*python_command(), "-c", probe], mutant_env(d), 60, cwd=CHECKS_ROOT)
        model_file, checks_file, source = proc.stdout.split("\n", 2)
        assert proc.returncode == 0, proc.stderr
        assert Path(model_file).is_relative_to(d)
        assert Path(checks_file).is_relative_to(CHECKS_ROOT)
        assert "va.offset + addr" not in source
    # without -P the working directory (the real model/) comes first
    with patched_model("keep-ignores-offset") as d:
        plain = subprocess.run([sys.executable, "-c", "import model; print(model.__file__)"],
                               env=mutant_env(d), cwd=CHECKS_ROOT, capture_output=True,
                               text=True, timeout=60)
        assert not Path(plain.stdout.strip()).is_relative_to(d)


def test_run_on_mutant_times_out_with_a_typed_result(tmp_path: Path) -> None:
    # without regions this mutant is never caught: the run outlives its cap
    proc = run_on_mutant("merge-across-regions",
                         ["fuzz", "vaspace", "--seconds", "30", "--out", str(tmp_path)],
                         timeout=1.0)
    assert proc.returncode == 124 and "timed out" in proc.stderr


def test_next_offset_from_request_is_killed_with_at_most_4_steps(tmp_path: Path) -> None:
    """Issue 2: the machine fails on this mutant with a shrunk counterexample of <= 4 steps."""
    proc = run_on_mutant("next-offset-from-request",
                         ["fuzz", "vaspace", "--seconds", "60", "--seed", "0", "--json",
                          "--out", str(tmp_path)], timeout=180)
    (r,) = json.loads(proc.stdout)["results"]
    assert proc.returncode == 1 and r["outcome"] == "violation"
    assert r["cex_length"] <= 4
    trace = read_trace(Path(r["trace"]))
    assert 2 <= len(trace.steps) <= 5
    assert json.loads(Path(r["trace"]).read_text())["#meta"]["mutant"] == "next-offset-from-request"
    # the real model disagrees with the mutant's trace; the mutant follows it
    # up to its last step, where the request's translation contract breaks
    assert replay(trace).divergence is not None
    again = run_on_mutant("next-offset-from-request", ["replay", r["trace"], "--json"],
                          timeout=60)
    (res,) = json.loads(again.stdout)["results"]
    assert res["reproduced"] and res["invariant"] == "TranslationInv", again.stdout


# ------------------------------------------------------------ kill matrix

def test_kill_matrix_for_two_mutants(tmp_path: Path) -> None:
    code, out, _ = run("mutants", "keep-ignores-offset", "remove-no-identity", "--json",
                       "--out", str(tmp_path))
    doc = json.loads(out)
    assert code == 0 and doc["ok"]
    killers = {r["name"]: r["killed_by"] for r in doc["results"]}
    assert set(killers["keep-ignores-offset"].split(",")) == {
        "fuzz:vaspace", "prove:upstream.vectors", "tlc:MCGpuVmKeepOffset",
        "prove:bad.keep-ignores-offset"}
    for r in doc["results"]:
        assert r["outcome"] == "violation" and r["killed"] is True
        assert "fuzz:vaspace" in r["killed_by"].split(",") and r["seconds_to_kill"] > 0
        assert 1 <= r["cex_length"] <= 4
        assert r["source"].startswith("seed 001") and r["system"] == "gpuvm"


def test_a_bad_spec_variant_kills_only_the_mutant_of_its_bug(tmp_path: Path) -> None:
    """tlc:MODEL replays the bad variant's counterexample on the mutant."""
    mutants = load_mutants()
    own = run_checker(mutants["keep-ignores-offset"], "tlc:MCGpuVmKeepOffset", 0, tmp_path, 5.0)
    assert own.verdict == "killed" and own.trace and own.cex_length == 2, own
    other = run_checker(mutants["remove-no-identity"], "tlc:MCGpuVmKeepOffset", 0, tmp_path,
                        5.0)
    assert other.verdict == "survived" and "does not reproduce" in other.detail, other
    passing = run_checker(mutants["keep-ignores-offset"], "tlc:MCGpuVmSmall", 0, tmp_path, 5.0)
    assert passing.verdict == "tool_error" and "not a failure model" in passing.detail


def test_unknown_mutant_is_a_usage_error() -> None:
    code, _, err = run("mutants", "no-such-mutant")
    assert code == 2 and "no-such-mutant" in err


def test_a_checker_that_cannot_run_is_a_tool_error_not_a_kill(tmp_path: Path) -> None:
    m = load_mutants()["keep-ignores-offset"]
    fake = Mutant(m.system, m.name, m.source, m.description, m.patch,
                  ("prove:NoSuchObligationAtAll",))
    r = run_checker(fake, fake.checkers[0], 0, tmp_path, 5.0)
    assert r.verdict == "tool_error"


def test_a_bad_checker_spec_is_a_tool_error(tmp_path: Path) -> None:
    m = load_mutants()["keep-ignores-offset"]
    with pytest.raises(ToolError):
        run_checker(m, "lint", 0, tmp_path, 5.0)


@pytest.mark.slow
def test_every_mutant_is_killed(tmp_path: Path) -> None:
    code, out, _ = run("mutants", "--json", "--out", str(tmp_path))
    doc = json.loads(out)
    assert code == 0, out
    assert {r["name"] for r in doc["results"] if r["killed"]} == NAMES


@pytest.mark.slow
def test_bench_mutants_reports_medians() -> None:
    rows = bench_mutants()
    summary = rows[-1]
    assert summary.name == "median" and summary.figures["killed"] == len(NAMES)
    assert summary.figures["median_seconds_to_kill"] > 0
    assert summary.figures["median_cex_length"] >= 1
