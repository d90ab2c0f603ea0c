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

from checks.machines import MACHINES
from checks.machines.vaspace import STATS, VaSpaceMachine
from checks.outcome import Outcome, Result, ToolError
from checks.report import emit, progress, progress_done

#: set (by ``checks.mutants``) when the ``model`` package is a mutant's copy
MUTANT_ENV = "GPUVM_CHECK_MUTANT"
BATCH = 20
STEPS = 40
FIGURES = ("steps", "steps_per_s", "examples", "cex_length", "invariant")

#: seconds of fuzzing per budget, shared out between the machines
BUDGET_SECONDS = {"quick": 5.0, "default": 30.0, "thorough": 300.0}
SHARE = {"vaspace": 2 / 3, "vaspace-regions": 1 / 3}


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
                machine: type[VaSpaceMachine] | None = None,
                max_batches: int | None = None, err: TextIO | None = None) -> Result:
    """Run one machine for ``seconds`` (or ``max_batches`` batches); one :class:`Result`."""
    cls = machine if machine is not None else MACHINES[name]
    STATS.steps = STATS.examples = 0
    start = time.monotonic()
    batch = 0
    printed: list[str] = []

    def figures() -> dict[str, object]:
        elapsed = max(time.monotonic() - start, 1e-9)
        return {"steps": STATS.steps, "steps_per_s": round(STATS.steps / elapsed, 1),
                "examples": STATS.examples, "seed": seed}

    while True:
        def factory() -> VaSpaceMachine:
            return cls()

        hypothesis_seed(derive_seed(seed, name, batch))(factory)
        printed.clear()
        try:
            with with_reporter(lambda line: printed.append(str(line))):
                run_state_machine_as_test(  # type: ignore[no-untyped-call]
                    factory, settings=fuzz_settings())
        except Flaky as e:
            return Result(name, Outcome.VIOLATION, time.monotonic() - start,
                          detail=f"a failure that does not reproduce: {e}", figures=figures())
        except HypothesisException as e:
            return Result(name, Outcome.TOOL_ERROR, time.monotonic() - start,
                          detail=f"Hypothesis: {type(e).__name__}: {e}", figures=figures())
        except Exception as failure:
            if err is not None:
                progress_done(err)
            return _violation(name, cls, seed, out_dir, failure, printed,
                              time.monotonic() - start, figures())
        batch += 1
        elapsed = time.monotonic() - start
        if err is not None:
            progress(err, f"fuzz {name}: {STATS.steps} steps, {elapsed:.0f}/{seconds:.0f} s")
        if elapsed >= seconds or (max_batches is not None and batch >= max_batches):
            break
    if err is not None:
        progress_done(err)
    return Result(name, Outcome.PASS, time.monotonic() - start, figures=figures())


def _violation(name: str, cls: type[VaSpaceMachine], seed: int, out_dir: Path,
               failure: Exception, printed: list[str], seconds: float,
               figures: dict[str, object]) -> Result:
    message = f"{type(failure).__name__}: {failure}".splitlines()[0]
    shrunk = VaSpaceMachine.latest.get(cls)
    trace_path = None
    if shrunk is not None:
        trace = shrunk.failure_trace(message)
        trace_path = out_dir / f"fuzz-{name}-seed{seed}.itf.json"
        try:
            mutant = os.environ.get(MUTANT_ENV)
            if mutant:  # a counterexample of a known-bad variant says which one
                trace.meta["mutant"] = mutant
            trace.write(trace_path)
        except OSError as e:
            raise ToolError(f"cannot write the counterexample: {e.strerror}",
                            str(trace_path)) from None
        figures["cex_length"] = len(shrunk.log)
    figures["invariant"] = str(getattr(failure, "invariant", type(failure).__name__))
    program = "\n".join([*printed, *(str(n) for n in getattr(failure, "__notes__", ()))])
    return Result(name, Outcome.VIOLATION, seconds, detail=f"{message}\n{program}".rstrip(),
                  trace=trace_path, figures=figures)


def cmd_fuzz(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    """``gpuvm-check fuzz [MACHINE ...] --seconds S --seed N``: each machine for S seconds."""
    names = list(args.machines) or list(MACHINES)
    unknown = [n for n in names if n not in MACHINES]
    if unknown:
        raise ToolError(f"unknown machine(s) {', '.join(unknown)} (known: {', '.join(MACHINES)})")
    if not args.seconds > 0:
        raise ToolError(f"--seconds must be positive, not {args.seconds}")
    out_dir = Path(args.out)
    results = [run_machine(n, args.seconds, args.seed, out_dir, err=err) for n in names]
    return emit(results, args.json, out, figures=FIGURES)


def results_for_run(budget: str, out_dir: Path, workers: int) -> list[Result]:
    """Every machine, sharing the budget's seconds (quick 5, default 30, thorough 300)."""
    total = BUDGET_SECONDS[budget]
    return [run_machine(name, total * SHARE.get(name, 1 / len(MACHINES)), 0, out_dir)
            for name in MACHINES]
