"""``gpuvm-check replay`` and ``gpuvm-check show``."""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import TextIO

from checks.outcome import Outcome, Result, ToolError
from checks.render import page, text
from checks.report import emit
from checks.traces import read_trace, replay


def cmd_replay(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    """Re-execute a trace on the model (or on a mutant of it).

    Exit 0 if the model follows every step and keeps its invariants, 1 if it
    diverges or breaks an invariant (printed, with the step), 2 on bad input.
    """
    path = Path(args.trace)
    if args.mutant:
        from checks.mutants import run_on_mutant

        argv = ["replay", str(path.resolve())] + (["--json"] if args.json else [])
        proc = run_on_mutant(args.mutant, argv, timeout=300.0)
        out.write(proc.stdout)
        err.write(proc.stderr)
        return int(proc.returncode)
    start = time.monotonic()
    trace = read_trace(path)
    if trace.spec.endswith("-vm-bind-args"):  # a front end's call: replayed on its spec
        from checks.prove import replay_args

        report = replay_args(trace, str(path))
    else:
        report = replay(trace, str(path))
    seconds = time.monotonic() - start
    figures: dict[str, object] = {"steps": report.steps, "reproduced": report.reproduced}
    if report.divergence is not None:
        d = report.divergence
        figures["divergence_step"] = d.step
        result = Result(str(path), Outcome.VIOLATION, seconds, detail=(
            f"the model diverges from the trace\n{d.describe()}"), figures=figures)
    elif report.violation is not None:
        v = report.violation
        figures.update(violation_step=v.step, invariant=v.invariant)
        last = " (the trace's last step: reproduced)" if report.reproduced else ""
        result = Result(str(path), Outcome.VIOLATION, seconds, detail=(
            f"invariant {v.invariant} violated at step {v.step}{last}: {v.detail}"),
            figures=figures)
    else:
        result = Result(str(path), Outcome.PASS, seconds, figures=figures)
    if args.json:
        return emit([result], True, out)
    if result.outcome == Outcome.PASS:
        out.write(f"{path}: replayed {report.steps} state(s): the model follows the trace "
                  "and keeps its invariants\n")
        return 0
    out.write(f"{path}: {result.detail}\n")
    return 1


def cmd_show(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    """Render a trace as text, or as one self-contained HTML page."""
    path = Path(args.trace)
    trace = read_trace(path)
    if args.html:
        dest = Path(args.html)
        try:
            dest.write_text(page(trace))
        except OSError as e:
            raise ToolError(f"cannot write {dest}: {e.strerror}", str(dest)) from None
        out.write(f"wrote {dest} ({len(trace.steps)} states)\n")
    else:
        out.write(text(trace))
    return 0
