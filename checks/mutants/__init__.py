"""Known-bad variants of the model and the kill matrix (``gpuvm-check mutants``).

A mutant is a small unified diff against ``model/``, taken from a review
point of the seeds.  Each system's manifest lists its mutants (the source,
the bug, the patch in ``checks/systems/<system>/mutants/``, the checkers
expected to kill it).  A mutant is never a flag in the real code:
:func:`patched_model` copies ``model/`` to a temporary directory and
applies the patch there, with the small diff applier below, and
:func:`run_on_mutant` runs ``python3 -m checks ...`` in a subprocess whose
``model`` package is the patched copy.

The subprocess runs ``python3 -P -m checks`` with ``PYTHONPATH`` starting
with the copy: ``-P`` keeps the working directory (which may hold the real
``model/``) off the front of ``sys.path``, and ``PYTHONPATH`` comes before
site-packages, so an installed (editable or not) ``model`` cannot shadow it.
It runs in its own process group, which is killed -- and the copy removed --
when it runs past its time or the parent is interrupted (SIGINT, SIGTERM).

A checker is ``fuzz[:MACHINE]``, ``prove:OBLIGATION``, ``conform:SYSTEM``,
``sched:SUITE`` (the matching subcommand with ``--json``, run on the
mutant), ``tlc:MODEL``
or ``unit:TEST`` (a pytest node id under ``tests/``: the unit tests are a
checker family too).  It *kills* the mutant when a result comes back as a
violation (or deadlock, liveness failure), the command exits 1, or the test
fails.  A ``tlc:MODEL`` checker (a failure model) and a ``prove:`` checker
naming an obligation that must be violated are bad variants of a spec: they
do not read the model, so they kill the mutant only when their
counterexample, which the real model refuses, replays on the mutant -- the
spec's bad variant and the model's mutant are then the same bug.  Output
that is not the JSON document, or exit code 2, is a tool error; running
past its time cap is a timeout; neither is a kill.
``seconds_to_kill`` is the wall time of the killing subprocess (start-up,
patching and shrinking included), ``cex_length`` the number of steps of its
counterexample.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

import model
from checks import budget as budgets
from checks.manifest import MutantEntry, load_manifest
from checks.outcome import Outcome, Result, ToolError
from checks.report import emit, progress, progress_done
from checks.systems import SYSTEMS, System, select

HERE = Path(__file__).resolve().parent
#: the directory holding the ``checks`` package (put on the subprocess's path)
CHECKS_ROOT = HERE.parent.parent
MODEL_DIR = Path(model.__file__).resolve().parent

#: return code of :func:`run_on_mutant` when the subprocess ran out of time
TIMEOUT_RETURNCODE = 124
#: cap on a non-fuzz checker run
CHECKER_TIMEOUT = 600.0
MATRIX_FIGURES = ("system", "source", "killed", "killed_by", "seconds_to_kill", "cex_length")
KILLING_OUTCOMES = ("violation", "deadlock", "liveness")

Mutant = MutantEntry


def load_mutants(systems: list[System] | None = None) -> dict[str, Mutant]:
    """Every mutant of the systems' manifests, in manifest order."""
    out: dict[str, Mutant] = {}
    for system in systems if systems is not None else list(SYSTEMS.values()):
        for m in load_manifest(system).mutants:
            if m.name in out:
                raise ToolError(f"mutant {m.name} is in two manifests", str(system.manifest_path))
            out[m.name] = m
    return out


def get_mutant(name: str) -> Mutant:
    mutants = load_mutants()
    if name not in mutants:
        raise ToolError(f"unknown mutant {name!r} (known: {', '.join(mutants)})")
    return mutants[name]


# -------------------------------------------------------- unified diffs

@dataclass
class Hunk:
    old_start: int
    old: list[str]
    new: list[str]
    line: int  # of the @@ header in the patch file


@dataclass
class FilePatch:
    path: str
    line: int
    hunks: list[Hunk]


_HUNK = re.compile(r"^@@ -(\d+)(?:,(\d+))? \+(\d+)(?:,(\d+))? @@")


def parse_patch(text: str, where: str) -> list[FilePatch]:
    """The file patches of a unified diff; :class:`ToolError` at ``where:line`` if malformed."""
    lines = text.split("\n")
    files: list[FilePatch] = []
    i = 0
    while i < len(lines):
        line = lines[i]
        if line.startswith("--- ") and i + 1 < len(lines) and lines[i + 1].startswith("+++ "):
            path = lines[i + 1][4:].split("\t")[0].strip()
            if path.startswith("b/"):
                path = path[2:]
            files.append(FilePatch(path, i + 2, []))
            i += 2
            continue
        m = _HUNK.match(line)
        if m is None:
            i += 1
            continue
        if not files:
            raise ToolError("hunk before any '--- a/... +++ b/...' header", f"{where}:{i + 1}")
        old_n = 1 if m.group(2) is None else int(m.group(2))
        new_n = 1 if m.group(4) is None else int(m.group(4))
        hunk = Hunk(int(m.group(1)), [], [], i + 1)
        i += 1
        while len(hunk.old) < old_n or len(hunk.new) < new_n:
            if i >= len(lines) or (lines[i] == "" and i == len(lines) - 1):
                raise ToolError(f"hunk ends early: expected {old_n} old and {new_n} new lines",
                                f"{where}:{hunk.line}")
            body = lines[i]
            tag, rest = (body[:1], body[1:]) if body else (" ", "")
            if tag == " ":
                hunk.old.append(rest)
                hunk.new.append(rest)
            elif tag == "-":
                hunk.old.append(rest)
            elif tag == "+":
                hunk.new.append(rest)
            elif tag != "\\":
                raise ToolError(f"unexpected line in a hunk: {body[:40]!r}", f"{where}:{i + 1}")
            i += 1
        files[-1].hunks.append(hunk)
    if not files or not all(f.hunks for f in files):
        raise ToolError("no hunks: not a unified diff", where)
    return files


def apply_hunks(text: str, fp: FilePatch, where: str) -> str:
    """``text`` with every hunk of ``fp`` applied.

    A hunk's old lines must match exactly; it is placed at the line its
    header names or, if the file has moved, at the nearest place below the
    previous hunk where they match.
    """
    ends_nl = text.endswith("\n")
    lines = text.split("\n")
    if ends_nl:
        lines.pop()
    delta = 0
    floor = 0
    for h in fp.hunks:
        n = len(h.old)
        want = (h.old_start if n == 0 else h.old_start - 1) + delta
        top = len(lines) - n
        found = None
        for dist in range(0, len(lines) + 1):
            for pos in (want - dist, want + dist):
                if floor <= pos <= top and lines[pos:pos + n] == h.old:
                    found = pos
                    break
            if found is not None or (want - dist < floor and want + dist > top):
                break
        if found is None:
            raise ToolError(f"hunk does not apply to {fp.path}", f"{where}:{h.line}")
        lines[found:found + n] = h.new
        delta += len(h.new) - n
        floor = found + len(h.new)
    return "\n".join(lines) + ("\n" if ends_nl else "")


def apply_patch(patch: Path, root: Path) -> list[Path]:
    """Apply ``patch`` to the copy of ``model/`` under ``root``; the files changed."""
    where = str(patch)
    try:
        text = patch.read_text()
    except OSError as e:
        raise ToolError(f"cannot read the patch: {e.strerror}", where) from None
    changed = []
    for fp in parse_patch(text, where):
        parts = Path(fp.path).parts
        if len(parts) < 2 or parts[0] != "model" or ".." in parts:
            raise ToolError(f"a mutant patches only model/, not {fp.path}", f"{where}:{fp.line}")
        target = root.joinpath(*parts)
        if not target.is_file():
            raise ToolError(f"{fp.path} does not exist", f"{where}:{fp.line}")
        target.write_text(apply_hunks(target.read_text(), fp, where))
        changed.append(target)
    return changed


# ------------------------------------------------------- patched copies

@contextmanager
def patched_model(name: str) -> Iterator[Path]:
    """A temporary directory ``D`` where ``D/model`` is the mutated package."""
    mutant = get_mutant(name)
    d = Path(tempfile.mkdtemp(prefix=f"gpuvm-mutant-{name}-"))
    try:
        shutil.copytree(MODEL_DIR, d / "model",
                        ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        apply_patch(mutant.patch, d)
        yield d
    finally:
        shutil.rmtree(d, ignore_errors=True)


def mutant_env(d: Path, name: str = "") -> dict[str, str]:
    """The environment of a subprocess that must import ``d/model``."""
    env = dict(os.environ)
    path = [str(d), str(CHECKS_ROOT)]
    if env.get("PYTHONPATH"):
        path.append(env["PYTHONPATH"])
    env["PYTHONPATH"] = os.pathsep.join(path)
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    env["GPUVM_CHECK_MUTANT"] = name  # checks.fuzz.MUTANT_ENV
    return env


def python_command() -> list[str]:
    """The interpreter, with ``-P``: the working directory is not put on ``sys.path``."""
    return [sys.executable, "-P"]


def run_command(cmd: list[str], env: dict[str, str], timeout: float,
                cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    """Run ``cmd`` with a hard timeout in its own process group.

    The whole group is killed when the timeout passes (the return code is
    then :data:`TIMEOUT_RETURNCODE`) or when this process is interrupted
    (the interruption then propagates).
    """
    proc = subprocess.Popen(cmd, env=env, cwd=cwd, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, start_new_session=True)
    try:
        stdout, stderr = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        with suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, signal.SIGKILL)
        stdout, stderr = proc.communicate()
        stderr += f"\ngpuvm-check: error: timed out after {timeout:g} s\n"
        return subprocess.CompletedProcess(cmd, TIMEOUT_RETURNCODE, stdout, stderr)
    except BaseException:
        with suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
        raise
    return subprocess.CompletedProcess(cmd, proc.returncode, stdout, stderr)


def run_on_mutant(name: str, argv: list[str], timeout: float,
                  spec: str | None = None) -> subprocess.CompletedProcess[str]:
    """``python3 -m checks *argv`` with the mutant ``name`` as the ``model`` package."""
    with patched_model(name) as d:
        return run_command([*python_command(), "-m", "checks", *argv], mutant_env(d, name),
                           timeout)


def run_tests_on_mutant(name: str, node: str, timeout: float
                        ) -> subprocess.CompletedProcess[str]:
    """``pytest NODE`` with the mutant ``name`` as the ``model`` package."""
    cmd = [*python_command(), "-m", "pytest", "-x", "-q", "-n", "0", "-p", "no:cacheprovider",
           "--import-mode=append", f"tests/{node}"]
    with patched_model(name) as d:
        return run_command(cmd, mutant_env(d, name), timeout, cwd=CHECKS_ROOT)


# ------------------------------------------------------------ kill matrix

@dataclass
class CheckerRun:
    """One checker on one mutant: ``killed``, ``survived``, ``timeout`` or ``tool_error``."""

    checker: str
    verdict: str
    seconds: float
    cex_length: int | None = None
    trace: str | None = None
    detail: str = ""


def _last_line(proc: subprocess.CompletedProcess[str]) -> str:
    lines = [ln for ln in (proc.stderr + "\n" + proc.stdout).splitlines() if ln.strip()]
    return lines[-1].strip() if lines else f"exit code {proc.returncode}, no output"


def _trace_length(path: str) -> int | None:
    try:
        states = json.loads(Path(path).read_text()).get("states")
    except (OSError, ValueError, AttributeError):
        return None
    return len(states) - 1 if isinstance(states, list) else None


def checker_argv(checker: str, seed: int, fuzz_seconds: float,
                 out: Path) -> tuple[list[str], float]:
    """The ``checks`` argv of a checker spec and its time cap."""
    kind, _, arg = checker.partition(":")
    if kind == "fuzz":
        argv = ["fuzz", *([arg] if arg else []), "--seconds", f"{fuzz_seconds:g}",
                "--seed", str(seed)]
        timeout = fuzz_seconds + 120.0
    elif kind in ("tlc", "prove", "conform", "sched") and arg:
        argv, timeout = [kind, arg], CHECKER_TIMEOUT
    else:
        raise ToolError(f"bad checker {checker!r} (fuzz[:MACHINE], tlc:MODEL, "
                        "prove:OBLIGATION, conform:SYSTEM, sched:SUITE, unit:TEST)")
    return [*argv, "--json", "--out", str(out)], timeout


def _unit_run(m: Mutant, checker: str) -> CheckerRun:
    node = checker.partition(":")[2]
    start = time.monotonic()
    proc = run_tests_on_mutant(m.name, node, CHECKER_TIMEOUT)
    seconds = time.monotonic() - start
    if proc.returncode == TIMEOUT_RETURNCODE:
        return CheckerRun(checker, "timeout", seconds, detail="no verdict in time")
    if proc.returncode == 1:
        failed = [ln for ln in proc.stdout.splitlines() if ln.startswith("FAILED")]
        return CheckerRun(checker, "killed", seconds,
                          detail=failed[0] if failed else "a test failed")
    if proc.returncode == 0:
        return CheckerRun(checker, "survived", seconds, detail="the tests pass")
    return CheckerRun(checker, "tool_error", seconds, detail=_last_line(proc))


def _bad_variant(checker: str) -> bool:
    """Whether ``checker`` is a bad variant of a spec: a TLC failure model or an
    obligation that must give a counterexample."""
    kind, _, name = checker.partition(":")
    if kind == "tlc":
        return True
    if kind != "prove" or not name:
        return False
    from checks import prove

    try:
        obs, _, _ = prove._select([name], prove.DEFAULT_K, None)
    except ToolError:  # no such obligation: running it says so
        return False
    return len(obs) == 1 and obs[0].expect != "proved"


def _counterexample(checker: str, out: Path) -> tuple[Path | None, str]:
    """Run a bad variant (in this process: it does not read the model) for its trace."""
    kind, _, name = checker.partition(":")
    res: Result
    if kind == "tlc":
        from checks.tlc import check_model, select_models

        (entry,) = select_models([name], False)
        if entry.expected not in (Outcome.VIOLATION, Outcome.DEADLOCK, Outcome.LIVENESS):
            return None, f"{name} is not a failure model: it kills nothing"
        res = check_model(entry, out_dir=out)
    else:
        from checks import prove

        (res,) = prove.run([name], out_dir=out, with_vectors=False)
    if not res.ok or res.trace is None:
        why = (res.detail or res.outcome.value).split("\n")[0]
        return None, why if not res.ok else f"{name} gives no trace to replay"
    return res.trace, ""


def _bad_variant_run(m: Mutant, checker: str, out_dir: Path) -> CheckerRun:
    """A bad variant of a spec kills a mutant when its counterexample replays on it.

    The bad variant (a TLC failure model, or a Z3 obligation that must be
    violated) must give its counterexample, the real model must refuse it,
    and the mutant must reproduce it: follow every step, or break an
    invariant at the last one.  A bad variant that is not the mutant's bug
    survives.
    """
    from checks.replay_cmd import replay_any
    from checks.traces import read_trace

    name = checker.partition(":")[2]
    start = time.monotonic()
    path, why = _counterexample(checker, (out_dir / "mutants" / m.name).resolve())
    if path is None:
        return CheckerRun(checker, "tool_error", time.monotonic() - start, detail=why)
    trace = read_trace(path)
    spec = SYSTEMS[m.system].spec
    if trace.spec != spec:
        return CheckerRun(checker, "tool_error", time.monotonic() - start, detail=(
            f"the counterexample of {name} is a {trace.spec} trace, not a {spec} one: "
            "the model cannot replay it"))
    if replay_any(trace, str(path)).clean:
        return CheckerRun(checker, "tool_error", time.monotonic() - start,
                          detail=f"the real model follows the counterexample of {name}")
    proc = run_on_mutant(m.name, ["replay", str(path), "--json"], CHECKER_TIMEOUT)
    seconds = time.monotonic() - start
    try:
        (r,) = json.loads(proc.stdout)["results"]
        outcome, reproduced = r["outcome"], r.get("reproduced")
    except (ValueError, KeyError, TypeError):
        return CheckerRun(checker, "tool_error", seconds, detail=_last_line(proc))
    if outcome == "pass" or reproduced is True:
        return CheckerRun(checker, "killed", seconds, len(trace.steps) - 1, str(path),
                          f"the mutant reproduces the counterexample of {name}")
    detail = str(r.get("detail", "")).split("\n")
    return CheckerRun(checker, "survived", seconds, detail=(
        f"the mutant does not reproduce the counterexample of {name}: "
        + " ".join(t.strip() for t in detail[:3])))


def run_checker(m: Mutant, checker: str, seed: int, out_dir: Path,
                fuzz_seconds: float) -> CheckerRun:
    if checker.startswith("unit:"):
        return _unit_run(m, checker)
    if _bad_variant(checker):
        return _bad_variant_run(m, checker, out_dir)
    argv, timeout = checker_argv(checker, seed, fuzz_seconds,
                                 (out_dir / "mutants" / m.name).resolve())
    start = time.monotonic()
    proc = run_on_mutant(m.name, argv, timeout)
    seconds = time.monotonic() - start
    if proc.returncode == TIMEOUT_RETURNCODE:
        return CheckerRun(checker, "timeout", seconds, detail=f"no verdict in {timeout:g} s")
    try:
        results = json.loads(proc.stdout)["results"]
        if not isinstance(results, list) or not all(isinstance(r, dict) for r in results):
            raise TypeError
    except (ValueError, KeyError, TypeError):
        return CheckerRun(checker, "tool_error", seconds, detail=_last_line(proc))
    found: list[dict[str, Any]] = [r for r in results if r.get("outcome") in KILLING_OUTCOMES]
    if found:
        r = found[0]
        trace = r.get("trace")
        length = r.get("cex_length")
        if not isinstance(length, int):
            length = _trace_length(trace) if isinstance(trace, str) else None
        return CheckerRun(checker, "killed", seconds, length,
                          trace if isinstance(trace, str) else None,
                          str(r.get("detail", "")).split("\n")[0])
    if proc.returncode == 2 or any(r.get("outcome") == "tool_error" for r in results):
        return CheckerRun(checker, "tool_error", seconds, detail=_last_line(proc))
    if proc.returncode != 0:
        return CheckerRun(checker, "killed", seconds, detail=f"exit code {proc.returncode}")
    return CheckerRun(checker, "survived", seconds, detail="every result as expected")


#: checker families, cheapest first (the order of a first-kill row)
_COST = {"unit": 0, "sched": 0, "tlc": 1, "prove": 2, "conform": 3, "fuzz": 4}


def mutant_result(m: Mutant, seed: int, out_dir: Path, fuzz_seconds: float,
                  first_kill: bool = False) -> Result:
    """Run every checker of ``m``: one row of the kill matrix.  With ``first_kill``
    (the main job's budgets) the checkers run cheapest first and the row stops at
    the first kill."""
    start = time.monotonic()
    runs: list[CheckerRun] = []
    order = (sorted(m.checkers, key=lambda c: _COST.get(c.split(":")[0], 5)) if first_kill
             else list(m.checkers))
    for c in order:
        runs.append(run_checker(m, c, seed, out_dir, fuzz_seconds))
        if first_kill and runs[-1].verdict == "killed":
            break
    killers = sorted((r for r in runs if r.verdict == "killed"), key=lambda r: r.seconds)
    figures: dict[str, Any] = {
        "system": m.system,
        "source": m.source,
        "killed": bool(killers),
        "killed_by": ",".join(r.checker for r in killers) or "-",
        "seconds_to_kill": round(killers[0].seconds, 2) if killers else None,
        # the shortest counterexample any killer wrote (a vector failure has none)
        "cex_length": min((r.cex_length for r in killers if r.cex_length is not None),
                          default=None),
    }
    if killers:
        outcome = Outcome.VIOLATION
    elif any(r.verdict == "tool_error" for r in runs):
        outcome = Outcome.TOOL_ERROR
    elif any(r.verdict == "timeout" for r in runs):
        outcome = Outcome.TIMEOUT
    else:
        outcome = Outcome.PASS
    lines = [f"{r.checker}: {r.verdict}" + (f" ({r.detail})" if r.detail else "") for r in runs]
    if outcome == Outcome.PASS:
        lines.insert(0, f"survived: {m.description}")
    traced = [r for r in killers if r.trace]
    trace = Path(traced[0].trace) if traced and traced[0].trace else None
    return Result(m.name, outcome, time.monotonic() - start, expected=Outcome.VIOLATION,
                  detail="\n".join(lines), trace=trace, figures=figures)


def _select(names: list[str], system: str | None = None) -> list[Mutant]:
    """Mutants by name or by system name (all of them when none are named)."""
    mutants = load_mutants(select([system]) if system else None)
    if not names:
        return list(mutants.values())
    out: list[Mutant] = []
    for n in names:
        if n in mutants:
            out.append(mutants[n])
        elif n.lower() in SYSTEMS:
            out += [m for m in mutants.values() if m.system == n.lower()]
        else:
            raise ToolError(f"unknown mutant or system {n!r} (mutants: {', '.join(mutants)})")
    return out


def kill_matrix(mutants: list[Mutant], seed: int, out_dir: Path, fuzz_seconds: float,
                workers: int = 1, err: TextIO | None = None,
                first_kill: bool = False) -> list[Result]:
    """One :class:`Result` per mutant, in order; ``workers`` mutants at a time."""
    if workers <= 1:
        results = []
        for i, m in enumerate(mutants):
            if err is not None:
                progress(err, f"mutant {i + 1}/{len(mutants)}: {m.name}")
            results.append(mutant_result(m, seed, out_dir, fuzz_seconds, first_kill))
        if err is not None:
            progress_done(err)
        return results
    with ThreadPoolExecutor(max_workers=workers) as pool:
        return list(pool.map(
            lambda m: mutant_result(m, seed, out_dir, fuzz_seconds, first_kill), mutants))


def cmd_mutants(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    """``gpuvm-check mutants [NAME|SYSTEM ...] [--system S]``: the kill matrix; exit 1 if
    one survives."""
    mutants = _select(list(args.names), args.system)
    results = kill_matrix(mutants, args.seed, Path(args.out), budgets.MUTANT_FUZZ_SECONDS,
                          err=err)
    return emit(results, args.json, out, figures=MATRIX_FIGURES)


def results_for_run(systems: list[System], budget: str, out_dir: Path,
                    workers: int) -> list[Result]:
    """The systems' mutants of the budget's classes, ``workers`` at a time; below the
    ``thorough`` budget each row stops at its first kill (``gpuvm-check mutants``
    runs every checker)."""
    seconds = budgets.MUTANT_FUZZ_SECONDS * budgets.budget(budget).fuzz_scale
    mutants = [m for m in load_mutants(systems).values()
               if budgets.selected(m.runtime, budget)]
    return kill_matrix(mutants, 0, out_dir, seconds, workers=max(1, workers),
                       first_kill=budget != "thorough")


def bench_mutants() -> list[Result]:
    """The kill matrix (one mutant at a time) and a summary row with the medians."""
    with tempfile.TemporaryDirectory(prefix="gpuvm-bench-mutants-") as tmp:
        start = time.monotonic()
        rows = kill_matrix(list(load_mutants().values()), 0, Path(tmp),
                           budgets.MUTANT_FUZZ_SECONDS)
        for r in rows:
            r.trace = None  # written under a directory that is about to go
        seconds = time.monotonic() - start
    times = [r.figures["seconds_to_kill"] for r in rows if r.figures["killed"]]
    lengths = [r.figures["cex_length"] for r in rows
               if r.figures["killed"] and r.figures["cex_length"] is not None]
    killed = len(times)
    summary = Result("median", Outcome.PASS if killed == len(rows) else Outcome.VIOLATION,
                     seconds, figures={
                         "mutants": len(rows),
                         "killed": killed,
                         "median_seconds_to_kill": round(statistics.median(times), 2)
                         if times else None,
                         "median_cex_length": statistics.median(lengths) if lengths else None,
                     })
    return [*rows, summary]
