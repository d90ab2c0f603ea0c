"""``gpuvm-check conform [SYSTEM ...] [--runs N]``: model and spec, in both directions.

For each system, its manifest's ``conform`` entries at the budget's runtime
classes:

``traces`` (model -> spec)
    ``N`` seeded recorded runs of the system's model per variant (the
    system's ``record_runs``; ``--runs`` or the budget's count), validated
    by TLC against the spec in one run per configuration
    (``checks.conform.validate``), exactly or -- for ``"mode": "partial"`` --
    on the logged variables with unlogged internal steps allowed;
``replay`` (spec -> model)
    every transition of an exhaustive TLC model replayed into the model
    (``checks.conform.behaviours``).

A run the spec does not allow, or a transition the model does not follow,
is written as an ITF trace under ``--out``.  Figures: ``traces_validated``,
``steps_validated``, ``behaviours_replayed`` (transitions), ``divergences``,
and what the system counts about the runs it recorded (e.g. how many steps
split three or more mappings).
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any, TextIO

from checks import budget as budgets
from checks.conform.behaviours import replay_model
from checks.conform.validate import validate
from checks.manifest import Item, load_manifest
from checks.outcome import Outcome, Result, ToolError
from checks.pool import run_forked
from checks.report import emit, exit_code
from checks.systems import SYSTEMS, System, load, select
from checks.traces import Step, Trace

FIGURES = ("traces_validated", "behaviours_replayed", "divergences")


def recorded(system: System, runs: int, seed: int) -> list[Trace]:
    """``runs`` recorded runs of ``system`` per variant, seeded."""
    record = load(system.runs_ref)
    out: list[Trace] = []
    for k, variant in enumerate(system.run_variants):
        out += record(runs, seed + k, variant)
    return out


def partial_view(trace: Trace, logged: Sequence[str], system: System) -> Trace:
    """``trace`` as an implementation that logs only ``logged`` and no internal step sees it."""
    internal = {a.name for a in system.vocabulary if a.internal}
    out = Trace(spec=trace.spec, config=trace.config, source=trace.source,
                description=trace.description, variables=tuple(logged), meta=dict(trace.meta))
    for s in trace.steps:
        if s.index > 0 and s.action in internal:
            continue
        out.steps.append(Step(len(out.steps), s.action, s.args,
                              {v: s.state[v] for v in logged}, s.thread))
    return out


def trace_result(system: System, entry: Item, runs: int, seed: int, out_dir: Path,
                 err: TextIO | None) -> Result:
    start = time.monotonic()
    name = f"{system.name}:{entry.name}"
    try:
        traces = recorded(system, runs, seed)
    except AssertionError as broke:  # the model broke one of its own invariants
        return Result(name, Outcome.VIOLATION, time.monotonic() - start,
                      detail=f"the model broke an invariant while recording runs: {broke}",
                      figures={"traces_validated": 0, "divergences": 1})
    logged = system.extra.get("logged") if entry.mode == "partial" else None
    checked = [partial_view(t, logged, system) for t in traces] if logged else traces
    v = validate(system, checked, mode=entry.mode, logged=logged,
                 max_hidden=int(system.extra.get("max_hidden", 2)), err=err)
    figures: dict[str, Any] = {"system": system.name, "mode": entry.mode,
                               "traces_validated": v.traces if v.outcome == Outcome.PASS else 0,
                               "steps_validated": v.states, "divergences": 0}
    count = system.extra.get("run_figures")
    if count is not None:
        figures.update(count(traces))
    result = Result(name, v.outcome, time.monotonic() - start, figures=figures)
    if v.failing_trace is not None:
        figures["divergences"] = 1
        failing = checked[v.failing_trace]
        failing.description = f"conform {system.name}: {v.detail}"
        result.trace = failing.write(
            out_dir / f"conform-{system.name}-run{v.failing_trace}.itf.json")
        figures.update(failing_run=v.failing_trace, failing_state=v.failing_state)
    result.detail = v.detail if v.where is None else f"{v.where}: error: {v.detail}"
    return result


def replay_result(system: System, entry: Item, workers: int, out_dir: Path,
                  err: TextIO | None) -> Result:
    assert entry.model is not None
    model = load_manifest(system).model(entry.model)
    rep = replay_model(system, model, workers=workers, err=err)
    figures: dict[str, Any] = {"system": system.name, "behaviours_replayed": rep.transitions,
                               "spec_states": rep.states, "divergences": rep.divergences}
    r = Result(f"{system.name}:{entry.name}", rep.outcome, rep.seconds, figures=figures,
               detail=rep.detail if rep.where is None else f"{rep.where}: error: {rep.detail}")
    if rep.first is not None:
        r.trace = rep.first.write(out_dir / f"conform-{system.name}-{model.name}.itf.json")
    return r


def _replay_in_child(system_name: str, entry_name: str, workers: int,
                     out_dir: Path) -> Result:
    return replay_result(SYSTEMS[system_name], _entry(system_name, entry_name), workers,
                         out_dir, None)


def _traces_in_child(system_name: str, entry_name: str, runs: int, seed: int,
                     out_dir: Path) -> Result:
    return trace_result(SYSTEMS[system_name], _entry(system_name, entry_name), runs, seed,
                        out_dir, None)


def conform(systems: Sequence[System], budget: str, runs: int | None, seed: int, workers: int,
            out_dir: Path, err: TextIO | None) -> list[Result]:
    """The entries of the budget's classes, in manifest order.  With more than one
    worker they run ``workers`` at a time in forked children (``checks.pool``): a
    trace validation's cost is its TLC run, a replay's the Python model following
    every transition."""
    tasks: list[tuple[Any, tuple[Any, ...]]] = []
    for system in systems:
        for entry in load_manifest(system).conform:
            if not budgets.selected(entry.runtime, budget):
                continue
            if entry.kind == "traces":
                n = runs if runs is not None else entry.runs or budgets.budget(budget).runs
                tasks.append((_traces_in_child, (system.name, entry.name, n, seed, out_dir)))
            else:
                tasks.append((_replay_in_child, (system.name, entry.name, workers, out_dir)))
    if workers <= 1:  # here, with progress on err
        out = []
        for fn, a in tasks:
            system, entry = SYSTEMS[a[0]], _entry(a[0], a[1])
            out.append(trace_result(system, entry, a[2], a[3], a[4], err)
                       if fn is _traces_in_child else replay_result(system, entry, a[2], a[3],
                                                                    err))
        return out
    return run_forked(tasks, workers)


def _entry(system_name: str, entry_name: str) -> Item:
    return next(e for e in load_manifest(SYSTEMS[system_name]).conform if e.name == entry_name)


def _totals(results: Sequence[Result]) -> dict[str, Any]:
    return {k: sum(int(r.figures.get(k) or 0) for r in results) for k in FIGURES}


def cmd_conform(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    """``gpuvm-check conform [SYSTEM ...] [--runs N]``: both directions, default budget."""
    systems = select(args.specs)
    if args.runs is not None and args.runs < 1:
        raise ToolError("--runs must be at least 1")
    results = conform(systems, "default", args.runs, args.seed, args.workers, Path(args.out),
                      err)
    code = emit(results, args.json, out, figures=FIGURES, extra=_totals(results))
    return exit_code(results, code, err)


def results_for_run(systems: Sequence[System], budget: str, out_dir: Path,
                    workers: int) -> list[Result]:
    return conform(systems, budget, None, 0, workers, out_dir, None)
