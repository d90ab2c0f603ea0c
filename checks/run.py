"""``gpuvm-check run``: the main job.

Runs every checker over every system at one budget -- the TLC models of the
manifests, the Z3 obligations, the state machines, conformance in both
directions and the known-bad variants -- and prints one table.  The items
run are those of the budget's runtime classes (``checks.budget``).
Counterexamples are written under ``--out``.  Exit 1 if anything gives an
outcome other than the one expected of it.
"""

from __future__ import annotations

import argparse
import importlib
import time
from pathlib import Path
from typing import TextIO

from checks.outcome import Outcome, Result, ToolError
from checks.report import emit, progress, progress_done
from checks.systems import select

#: (label, module) in the order they run; each module has ``results_for_run``.
STAGES = (
    ("tlc", "checks.tlc"),
    ("prove", "checks.prove"),
    ("fuzz", "checks.fuzz"),
    ("conform", "checks.conform"),
    ("sched", "checks.sched.suites"),
    ("mutants", "checks.mutants"),
)


def cmd_run(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    out_dir = Path(args.out)
    systems = select(list(getattr(args, "systems", []) or []))
    results: list[Result] = []
    started = time.monotonic()
    for label, module in STAGES:
        progress(err, f"{label} ...")
        t0 = time.monotonic()
        try:
            stage = importlib.import_module(module).results_for_run(
                systems, args.budget, out_dir, args.workers)
        except ToolError as e:
            stage = [Result(label, Outcome.TOOL_ERROR, time.monotonic() - t0, detail=str(e))]
        except Exception as e:  # a crashed checker is a tool error, never a pass
            stage = [Result(label, Outcome.TOOL_ERROR, time.monotonic() - t0,
                            detail=f"{type(e).__name__}: {e}")]
        for r in stage:
            if not r.name.startswith(f"{label}:"):
                r.name = f"{label}:{r.name}"
        results.extend(stage)
    progress_done(err)
    total = time.monotonic() - started
    extra = {"budget": args.budget, "seconds": round(total, 1), "out": str(out_dir),
             "systems": [s.name for s in systems]}
    code = emit(results, args.json, out, extra=extra)
    if not args.json:
        out.write(f"budget {args.budget}: {total:.0f} s; counterexamples under {out_dir}/\n")
    return code
