"""``gpuvm-check tlc``: the TLC models of every system's manifest, run and judged.

``gpuvm-check tlc [MODEL ... | SYSTEM ... | --all] [--workers N] [--timeout S] [-n]
[--record] [--json] [--out DIR]``

Each model is one ``MC*.tla`` module with one ``.cfg`` in its system's spec
folder, and an entry in that folder's ``manifest.json``: the outcome it must
give, the invariant it must violate, and for exhaustive models the exact
distinct and total state counts.  A run that differs from its entry is not
ok (exit 1); ``--record`` instead rewrites the entry's state counts with
what TLC found (the counts of a model whose outcome is wrong are never
recorded).  A counterexample is written as an ITF trace under ``--out``,
each state decoded by the system's codec, so ``gpuvm-check replay`` runs it
on the model (or, with ``--mutant``, on the model mutant the entry names).
"""

from __future__ import annotations

import argparse
import concurrent.futures
import json
import re
import shlex
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any, TextIO

from checks import budget as budgets
from checks.manifest import Manifest, Model, load_manifest
from checks.outcome import Outcome, Result, ToolError
from checks.render import violation_line
from checks.report import emit, exit_code
from checks.systems import SYSTEMS, System, select
from checks.tlc.runner import TlcState, cfg_constants, kill_all, run_tlc, tlc_command
from checks.tlc.values import tla_value
from checks.traces import Step, Trace
from checks.witness import annotate

FIGURES = ("distinct_states", "total_states", "depth", "violated")


class ModelResult(Result):
    """A model's result: also not ok when it differs from the manifest's record."""

    mismatch: str = ""

    @property
    def ok(self) -> bool:
        return self.outcome == self.expected and not self.mismatch


def _workers_for(model: Model, workers: int) -> int:
    return max(1, min(workers, model.workers) if model.workers else workers)


def command_for(model: Model, workers: int, workdir: Path) -> list[str]:
    return tlc_command(model.spec_path, model.cfg_path, workdir,
                       workers=_workers_for(model, workers), mode=model.mode,
                       depth=model.simulate_depth, check_deadlock=model.check_deadlock,
                       stop_after=model.simulate_seconds, short=_short(model))


def _short(model: Model) -> bool:
    """A failure model stops at its first counterexample: a run of seconds."""
    return model.expected == Outcome.VIOLATION and model.mode == "exhaustive"


def printed_config(prints: Sequence[str]) -> Any:
    """The ``@config`` value a model printed (``ASSUME PrintT("@config" \\o ...)``), if any."""
    for line in prints:
        if line.startswith("@config"):
            return tla_value(line[len("@config"):])
    return None


def spec_trace(system: System, states: Sequence[TlcState], constants: dict[str, Any],
               description: str, source: str = "tlc", printed: Any = None) -> Trace:
    """A TLC behaviour of one of ``system``'s models -> an ITF trace the model replays.

    Each state's variables are decoded by the system's codec; the action of a
    step is the spec's ``lastAct`` (name and arguments).
    """
    codec = system.codec()
    config = codec.config_of(constants, printed)
    # a spec may hold only part of the model's state (its Observed); the trace has those
    variables = tuple(v for v in system.variables(config)
                      if not states or v in states[0].values)
    trace = Trace(spec=system.spec, config=config, source=source, description=description,
                  variables=variables)
    for i, s in enumerate(states):
        try:
            state = {v: codec.from_spec(v, tla_value(s.values[v])) for v in variables}
            act = tla_value(s.values["lastAct"]) if "lastAct" in s.values else {}
            action = "Init" if i == 0 else str(act.get("name", "?"))
            args = {} if i == 0 else codec.args_from_spec(action, act.get("args") or {})
        except (KeyError, TypeError, ValueError, IndexError, AttributeError) as e:
            raise ToolError(f"cannot read TLC's state {s.number}: {e}") from None
        thread = args.get("thread") if isinstance(args, dict) else None
        trace.steps.append(Step(i, action, args, state,
                                thread if isinstance(thread, str) else None))
    return trace


def _print_trace(trace: Trace) -> str:
    out = []
    for s in trace.steps[1:]:
        args = ", ".join(f"{k}={json.dumps(v)}" for k, v in s.args.items())
        result = {k: v for k, v in s.state.items() if k.startswith("last")}
        out.append(f"  {s.index}. {s.action}({args}) -> {json.dumps(result)}")
    return "\n".join(out)


def check_model(model: Model, *, workers: int = 2, timeout: float | None = None,
                out_dir: Path | None = None, err: TextIO | None = None) -> ModelResult:
    """Run one manifest model and compare it with its manifest record."""
    system = SYSTEMS[model.system]
    limit = timeout if timeout is not None else budgets.timeout_for(model.runtime)
    run = run_tlc(model.spec_path, model.cfg_path, workers=_workers_for(model, workers),
                  mode=model.mode, depth=model.simulate_depth,
                  check_deadlock=model.check_deadlock, stop_after=model.simulate_seconds,
                  timeout=limit, label=model.name, err=err, short=_short(model))
    figures: dict[str, Any] = {"system": model.system, "distinct_states": run.distinct,
                               "total_states": run.total, "depth": run.depth}
    if run.violated:
        figures["violated"] = run.violated
    if run.startup is not None:
        figures["startup_s"] = round(run.startup, 2)
    result = ModelResult(model.name, run.outcome, run.seconds, expected=model.expected,
                         figures=figures)
    problems: list[str] = []
    if run.outcome in (Outcome.TOOL_ERROR, Outcome.TIMEOUT):
        result.detail = f"{run.where or model.cfg_path}: error: {run.message}"
        return result
    if run.outcome == model.expected == Outcome.VIOLATION and run.violated != model.violated:
        problems.append(f"violates {run.violated}, the manifest expects {model.violated}")
    if run.outcome == Outcome.PASS and model.expected == Outcome.PASS:
        for label, got, want in (("distinct states", run.distinct, model.distinct_states),
                                 ("total states", run.total, model.total_states),
                                 ("depth", run.depth, model.depth)):
            if want is not None and got != want:
                problems.append(f"{label} {got}, the manifest records {want}")
    result.mismatch = "; ".join(problems)
    if problems:
        figures["mismatch"] = result.mismatch
    lines = [result.mismatch] if problems else []
    if run.outcome != Outcome.PASS:
        lines.append(run.message)
    if run.states and out_dir is not None:
        constants = cfg_constants(model.cfg_path)
        trace = spec_trace(system, run.states, constants, f"{model.name}: {run.message}" + (
            f" (model mutant: {model.mutant})" if model.mutant else ""),
            printed=printed_config(run.prints))
        if model.mutant:
            trace.meta["mutant"] = model.mutant
        if run.loop is not None:  # the lasso: after its last state, state `loop` again
            trace.loop = run.loop - 1
        kind = {Outcome.DEADLOCK: "deadlock", Outcome.LIVENESS: _temporal(model)
                }.get(run.outcome)
        if run.violated or kind:
            annotate(trace, run.violated or kind)
            lines.append(violation_line(trace.meta["violation"]))
        path = trace.write(out_dir / f"tlc-{model.name}.itf.json")
        result.trace = path
        figures["trace_len"] = len(trace.steps)
        lines.append(_print_trace(trace))
        lines.append(f"trace: {path}")
        if model.mutant:
            lines.append(f"replay: gpuvm-check replay {path} --mutant {model.mutant}")
    result.detail = "\n".join(t for t in lines if t)
    return result


def _temporal(model: Model) -> str:
    """The temporal property a liveness counterexample breaks: the model's only one,
    or ``liveness`` when its configuration names several."""
    try:
        text = model.cfg_path.read_text()
    except OSError:
        return "liveness"
    names = [n for m in re.finditer(r"^PROPERT(?:Y|IES)\s+((?:.+\n?)(?:[ \t]+.+\n?)*)", text,
                                    re.MULTILINE) for n in m.group(1).split()]
    return names[0] if len(names) == 1 else "liveness"


def check_models(models: Sequence[Model], *, workers: int = 2, timeout: float | None = None,
                 out_dir: Path | None = None, err: TextIO | None = None) -> list[ModelResult]:
    """:func:`check_model` for each, results in order.  Models that use one TLC
    worker run ``workers`` at a time (their cost is mostly the JVM's start-up),
    then the others one by one, each with ``workers`` TLC workers."""
    results: list[ModelResult | None] = [None] * len(models)
    single = [i for i, m in enumerate(models) if _workers_for(m, workers) == 1]
    with concurrent.futures.ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
        try:
            futures = [(pool.submit(check_model, models[i], workers=workers, timeout=timeout,
                                    out_dir=out_dir), i) for i in single]
            for f, i in futures:
                results[i] = f.result()
            for i, m in enumerate(models):
                if results[i] is None:
                    results[i] = check_model(m, workers=workers, timeout=timeout,
                                             out_dir=out_dir, err=err)
        except BaseException:
            pool.shutdown(wait=False, cancel_futures=True)
            kill_all()
            raise
    return [r for r in results if r is not None]


def all_models(systems: Sequence[System]) -> list[Model]:
    return [m for s in systems for m in load_manifest(s).models]


def select_models(names: Sequence[str], all_flag: bool) -> list[Model]:
    """The models named (a model name or a system name), or every one with ``--all``."""
    models = all_models(list(SYSTEMS.values()))
    if all_flag:
        if names:
            raise ToolError("name models or systems, or pass --all, not both")
        return models
    if not names:
        raise ToolError("name a MODEL or a SYSTEM, or pass --all (models: "
                        + ", ".join(m.name for m in models) + ")")
    by_name = {m.name: m for m in models}
    chosen: list[Model] = []
    for n in names:
        if n in by_name:
            chosen.append(by_name[n])
        elif n.lower() in SYSTEMS:
            chosen += [m for m in models if m.system == n.lower()]
        else:
            raise ToolError(f"unknown model or system {n!r} (systems: {', '.join(SYSTEMS)}; "
                            f"models: {', '.join(by_name)})")
    return chosen


def record(manifest: Manifest, results: Sequence[ModelResult]) -> list[str]:
    """Rewrite the exact state counts of the passing exhaustive models in ``manifest``."""
    doc = json.loads(manifest.path.read_text())
    by_name = {r.name: r for r in results}
    changed = []
    for entry in doc["models"]:
        r = by_name.get(entry["name"])
        if (r is None or entry["mode"] != "exhaustive" or r.outcome != Outcome.PASS
                or r.expected != Outcome.PASS):
            continue
        for key in ("distinct_states", "total_states"):
            if r.figures.get(key) is not None and entry.get(key) != r.figures[key]:
                entry[key] = r.figures[key]
                changed.append(f"{entry['name']}.{key} = {r.figures[key]}")
    if changed:
        manifest.path.write_text(json.dumps(doc, indent=2) + "\n")
    return changed


def cmd_tlc(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    """``gpuvm-check tlc``: run manifest models; exit 1 on any mismatch, 2 on tool errors."""
    models = select_models(args.models, args.all)
    if args.dry_run:
        base = Path(tempfile.gettempdir()) / "gpuvm-check-tlc-XXXXXXXX"
        for m in models:
            out.write(shlex.join(command_for(m, args.workers, base)) + "\n")
        return 0
    results = check_models(models, workers=args.workers, timeout=args.timeout,
                           out_dir=Path(args.out), err=err)
    if args.record:
        for s in select([]):
            mine = [r for r in results if r.figures.get("system") == s.name]
            for line in record(load_manifest(s), mine):
                err.write(f"recorded {line}\n")
            for r in mine:  # the counts now match the manifest
                if r.mismatch and r.outcome == r.expected == Outcome.PASS:
                    r.mismatch = ""
                    r.figures.pop("mismatch", None)
    code = emit(results, args.json, out, figures=FIGURES)
    if not args.json:
        for r in results:
            if r.ok and r.trace is not None:
                out.write(f"\n{r.name}: {r.detail}\n")
    return exit_code(results, code, err)


def results_for_run(systems: Sequence[System], budget: str, out_dir: Path,
                    workers: int) -> list[Result]:
    """The manifest models of the budget's runtime classes."""
    models = [m for m in all_models(systems) if budgets.selected(m.runtime, budget)]
    return list(check_models(models, workers=workers, out_dir=out_dir))


BENCH_MODEL = ("gpuvm", "MCGpuVm")


def bench_tlc() -> list[Result]:
    """States per second of the big exhaustive model of each system, and TLC's start-up."""
    out: list[Result] = []
    for system in SYSTEMS.values():
        manifest = load_manifest(system)
        passing = [m for m in manifest.models
                   if m.expected == Outcome.PASS and m.mode == "exhaustive"
                   and m.distinct_states is not None]
        if not passing:
            continue
        model = max(passing, key=lambda m: m.distinct_states or 0)
        r = check_model(model, workers=2, out_dir=None)
        total = r.figures.get("total_states") or 0
        distinct = r.figures.get("distinct_states") or 0
        run_s = max(r.seconds - float(r.figures.get("startup_s") or 0.0), 1e-9)
        r.name = f"tlc:{system.name}:{model.name}"
        r.figures.update(states_per_s=round(total / run_s),
                         distinct_per_s=round(distinct / run_s), workers=2)
        out.append(r)
    return out
