"""``gpuvm-check fuzz``: run the Hypothesis state machines for a time budget.

Each machine runs in batches of :data:`BATCH` examples of up to
:data:`STEPS` steps.  Batch ``i`` of a run with ``--seed N`` uses a
Hypothesis seed derived from ``(machine, N, i)``, so the same seed runs the
same examples in the same order; the budget only decides how many batches
run.  The first failure stops the machine: Hypothesis shrinks it, and the
shrunk example is replayed into a recorder and written as an ITF trace under
``--out`` (``python3 -m checks replay FILE`` re-executes it).

Figures per machine: ``steps`` (rules executed, shrinking included),
``steps_per_s``, ``examples``; for a failure also ``cex_length`` (steps of
the shrunk example) and the ``invariant`` that broke.  A trace written while
the ``model`` package is a mutant's copy names the mutant in ``#meta.mutant``.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import time
from pathlib import Path
from typing import TextIO

from hypothesis import HealthCheck, Phase, settings
from hypothesis import seed as hypothesis_seed
from hypothesis.errors import Flaky, HypothesisException
from hypothesis.reporting import with_reporter
from hypothesis.stateful import run_state_machine_as_test

from checks import budget as budgets
from checks.machines import machines
from checks.machines.base import STATS, SystemMachine
from checks.manifest import load_manifest
from checks.outcome import Outcome, Result, ToolError
from checks.pool import run_forked
from checks.report import emit, progress, progress_done
from checks.systems import System, select
from checks.witness import annotate

#: set (by ``checks.mutants``) when the ``model`` package is a mutant's copy
MUTANT_ENV = "GPUVM_CHECK_MUTANT"
BATCH = 20
STEPS = 40
FIGURES = ("steps", "steps_per_s", "examples", "coverage", "cex_length", "invariant")



def fuzz_settings(max_examples: int = BATCH, steps: int = STEPS) -> settings:
    return settings(
        max_examples=max_examples,
        stateful_step_count=steps,
        deadline=None,
        database=None,
        derandomize=False,
        report_multiple_bugs=False,
        print_blob=False,
        phases=(Phase.generate, Phase.shrink),
        suppress_health_check=list(HealthCheck),
    )


def derive_seed(seed: int, name: str, batch: int) -> int:
    digest = hashlib.sha256(f"{name}/{seed}/{batch}".encode()).digest()
    return int.from_bytes(digest[:8], "big")


def run_machine(name: str, seconds: float, seed: int, out_dir: Path, *,
                machine: type[SystemMachine] | None = None,
                max_batches: int | None = None, err: TextIO | None = None,
                expected: Outcome = Outcome.PASS) -> Result:
    """Run one machine for ``seconds`` (or ``max_batches`` batches); one :class:`Result`."""
    cls = machine if machine is not None else machines()[name][1]
    STATS.steps = STATS.examples = 0
    start = time.monotonic()
    batch = 0
    printed: list[str] = []

    coverage = getattr(cls, "coverage", None)
    if coverage is not None:
        coverage().clear()

    def figures() -> dict[str, object]:
        elapsed = max(time.monotonic() - start, 1e-9)
        out: dict[str, object] = {"steps": STATS.steps,
                                  "steps_per_s": round(STATS.steps / elapsed, 1),
                                  "examples": STATS.examples, "seed": seed}
        if coverage is not None:   # a machine that reports what it reached (xe: injections)
            reached, every = coverage(), getattr(cls, "coverage_of", ())
            out["coverage"] = f"{len(reached & set(every))}/{len(every)}"
            missed = [p for p in every if p not in reached]
            if missed:
                out["not_reached"] = ", ".join(missed)
        return out

    while True:
        def factory() -> SystemMachine:
            return cls()

        hypothesis_seed(derive_seed(seed, name, batch))(factory)
        printed.clear()
        try:
            with with_reporter(lambda line: printed.append(str(line))):
                run_state_machine_as_test(  # type: ignore[no-untyped-call]
                    factory, settings=fuzz_settings())
        except Flaky as e:
            return Result(name, Outcome.VIOLATION, time.monotonic() - start, expected,
                          detail=f"a failure that does not reproduce: {e}", figures=figures())
        except HypothesisException as e:
            return Result(name, Outcome.TOOL_ERROR, time.monotonic() - start, expected,
                          detail=f"Hypothesis: {type(e).__name__}: {e}", figures=figures())
        except Exception as failure:
            if err is not None:
                progress_done(err)
            return _violation(name, cls, seed, out_dir, failure, printed,
                              time.monotonic() - start, figures(), expected)
        batch += 1
        elapsed = time.monotonic() - start
        if err is not None:
            progress(err, f"fuzz {name}: {STATS.steps} steps, {elapsed:.0f}/{seconds:.0f} s")
        if elapsed >= seconds or (max_batches is not None and batch >= max_batches):
            break
    if err is not None:
        progress_done(err)
    return Result(name, Outcome.PASS, time.monotonic() - start, expected, figures=figures())


def _violation(name: str, cls: type[SystemMachine], seed: int, out_dir: Path,
               failure: Exception, printed: list[str], seconds: float,
               figures: dict[str, object], expected: Outcome) -> Result:
    message = f"{type(failure).__name__}: {failure}".splitlines()[0]
    shrunk = SystemMachine.latest.get(cls)
    trace_path = None
    minimised = False
    invariant = str(getattr(failure, "invariant", type(failure).__name__))
    if shrunk is not None:
        smaller = shrunk.minimise(invariant)
        minimised = smaller is not None
        if smaller is not None:  # the same finding in fewer steps
            failure = smaller
            message = f"{type(failure).__name__}: {failure}".splitlines()[0]
        trace = shrunk.failure_trace(message)
        trace_path = out_dir / f"fuzz-{name}-seed{seed}.itf.json"
        mutant = os.environ.get(MUTANT_ENV)
        if mutant:  # a counterexample of a known-bad variant says which one
            trace.meta["mutant"] = mutant
        annotate(trace, invariant, len(trace.steps) - 1,
                 str(getattr(failure, "detail", message)))
        trace.write(trace_path)
        figures["cex_length"] = len(shrunk.log)
    figures["invariant"] = invariant
    program = "\n".join([*printed, *(str(n) for n in getattr(failure, "__notes__", ()))])
    if shrunk is not None and minimised:
        program = f"minimised to {len(shrunk.log)} step(s):\n{shrunk.program()}"
    return Result(name, Outcome.VIOLATION, seconds, expected,
                  detail=f"{message}\n{program}".rstrip(), trace=trace_path, figures=figures)


def _entries(systems: list[System]) -> dict[str, tuple[str, Outcome]]:
    """Machine name -> (runtime class, expected outcome), from the manifests."""
    out: dict[str, tuple[str, Outcome]] = {}
    for s in systems:
        for m in load_manifest(s).machines:
            out[m.name] = (m.runtime, m.expected)
    return out


def _names(requested: list[str]) -> list[str]:
    """Machine names from names of machines or systems (every machine when none)."""
    known = machines()
    if not requested:
        return list(known)
    out: list[str] = []
    for n in requested:
        if n in known:
            out.append(n)
        elif any(system == n.lower() for system, _ in known.values()):
            out += [m for m, (system, _) in known.items() if system == n.lower()]
        else:
            raise ToolError(f"unknown machine or system {n!r} (machines: {', '.join(known)})")
    return out


def cmd_fuzz(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    """``gpuvm-check fuzz [MACHINE|SYSTEM ...] --seconds S --seed N``: each machine for S s."""
    names = _names(list(args.machines))
    try:
        seconds = budgets.positive_seconds(args.seconds, "--seconds")
    except ValueError as e:
        raise ToolError(str(e)) from None
    entries = _entries(select([]))
    out_dir = Path(args.out)
    results = [run_machine(n, seconds, args.seed, out_dir, err=err,
                           expected=entries.get(n, ("small", Outcome.PASS))[1]) for n in names]
    return emit(results, args.json, out, figures=FIGURES)


def results_for_run(systems: list[System], budget: str, out_dir: Path,
                    workers: int) -> list[Result]:
    """Every machine of the budget's runtime classes, for its class's seconds."""
    entries = _entries(systems)
    mine = {m for m, (system, _) in machines().items() if system in {s.name for s in systems}}
    tasks = []
    for name in sorted(mine & set(entries)):
        runtime, expected = entries[name]
        if budgets.selected(runtime, budget):
            tasks.append((_run_in_child, (name, budgets.fuzz_seconds(runtime, budget), out_dir,
                                          expected)))
    # each machine fuzzes for its seconds of wall time: two at a time on two cores
    return run_forked(tasks, max(1, workers))


def _run_in_child(name: str, seconds: float, out_dir: Path, expected: Outcome) -> Result:
    return run_machine(name, seconds, 0, out_dir, expected=expected)
