"""``gpuvm-check replay`` and ``gpuvm-check show``."""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import TextIO

from checks.outcome import Outcome, Result
from checks.render import page, text
from checks.replay import replay
from checks.report import emit
from checks.traces import ReplayReport, Trace, read_trace, write_text_atomic
from checks.witness import spec_line


def replay_any(trace: Trace, where: str) -> ReplayReport:
    """Replay a trace of any system (or a front end's one-call counterexample)."""
    if trace.spec.endswith("-vm-bind-args"):  # a front end's call: replayed on its model
        from checks.prove import replay_args

        report: ReplayReport = replay_args(trace, where)
        return report
    if trace.spec == "Sched":  # a scheduled run of a concurrent program: its schedule again
        from checks.sched import replay_trace

        return replay_trace(trace, where)
    return replay(trace, where)


def cmd_replay(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    """Re-execute a trace on the model (or on a mutant of it).

    Exit 0 if the model follows every step and keeps its invariants, 1 if it
    diverges or breaks an invariant (printed, with the step), 2 on bad input.
    """
    path = Path(args.trace)
    if args.mutant:
        from checks.mutants import run_on_mutant

        trace = read_trace(path)  # bad input is refused here, not in the subprocess
        argv = ["replay", str(path.resolve())] + (["--json"] if args.json else [])
        proc = run_on_mutant(args.mutant, argv, timeout=300.0, spec=trace.spec)
        out.write(proc.stdout)
        err.write(proc.stderr)
        return int(proc.returncode)
    start = time.monotonic()
    trace = read_trace(path)
    report = replay_any(trace, str(path))
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
        where = spec_line(trace.spec, v.invariant) if trace.spec != "Sched" else "schedule"
        result = Result(str(path), Outcome.VIOLATION, seconds, detail=(
            f"{where}: error: invariant {v.invariant} violated at step {v.step}{last}: "
            f"{v.detail}"), figures=figures)
    else:
        result = Result(str(path), Outcome.PASS, seconds, figures=figures)
    if args.json:
        return emit([result], True, out)
    if result.outcome == Outcome.PASS:
        loop = (f" and its loop (back to state {trace.loop}, for ever)"
                if trace.loop is not None else "")
        out.write(f"{path}: replayed {report.steps} state(s): the model follows the trace"
                  f"{loop}, and keeps its invariants\n")
        return 0
    out.write(f"{path}: {result.detail}\n")
    return 1


def cmd_show(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    """Render a trace as text, or as one self-contained HTML page."""
    path = Path(args.trace)
    trace = read_trace(path)
    if args.html:
        dest = Path(args.html)
        write_text_atomic(dest, page(trace), "HTML page")
        out.write(f"wrote {dest} ({len(trace.steps)} states)\n")
    else:
        out.write(text(trace))
    return 0
