"""``gpuvm-check prove``: the Z3 obligations of every system, and the conformance vectors.

Each obligation (``specs.z3.obligations`` for the VA space, and every other
registered system's ``obligations_ref``) is one solver call: ``unsat`` is a
proof (``pass``), ``sat`` a counterexample (``violation``), anything else
``unknown`` or ``timeout`` -- never a pass.  Every call has a finite
timeout.  A counterexample is written as an ITF trace under ``--out``: for
the split/merge relations (and xe's range check) the layout as state 0 and
the request as state 1, each as the relation (or its bad variant)
prescribes, which ``gpuvm-check replay`` re-executes on the model; for the
ioctl front ends, the one call with its arguments.

The split/merge obligations run over layouts of ``k`` existing mappings:
:data:`K_BY_BUDGET` gives ``k`` per budget, ``DEFAULT_K`` for ``prove``
(``specs.z3.obligations`` says why 8 covers the documented cases).  The
conformance vectors (``checks.vectors``) run as the obligations
``upstream.vectors`` and ``rfc2023.vectors``.

Obligations run ``jobs`` at a time (``prove`` uses :data:`DEFAULT_JOBS`),
each in a worker process of its own; a result's ``seconds`` is its own
solver time, and ``prove --json`` reports the wall time of the whole run as
``seconds`` and the sum of the items' as ``item_seconds``.
"""

from __future__ import annotations

import argparse
import fnmatch
import functools
import math
import multiprocessing
import os
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

import z3

from checks import vectors as vec
from checks.budget import BUDGETS
from checks.outcome import Outcome, Result, ToolError
from checks.report import emit, progress, progress_done
from checks.traces import ReplayReport, Step, Trace
from checks.z3step import gpuvm_trace, inputs_from_model, model_value, request_args
from specs.z3.goal import PROVED, Goal
from specs.z3.obligations import obligations as gpuvm_obligations
from specs.z3.splitmerge import Spec

#: Existing mappings per split/merge proof, by budget.
K_BY_BUDGET = {name: b.z3_k for name, b in BUDGETS.items()}
DEFAULT_K = K_BY_BUDGET["default"]
DEFAULT_TIMEOUT = 120.0
#: obligations solved at once by ``gpuvm-check prove`` (the machine has two cores)
DEFAULT_JOBS = 2
#: what ``bench prove`` compares the wall time of the default run with (reported)
TARGET_SECONDS = 60.0
PROFILES = vec.PROFILES
FIGURES = ("group", "k", "arith")
#: the largest timeout Z3 takes, in milliseconds
_Z3_MAX_MS = 2**32 - 1
SPLIT_MERGE_GROUPS = ("upstream", "rfc2023", "unmap", "bad")

# ------------------------------------------------------------------- solving


def check_timeout(value: object, what: str = "--timeout") -> float:
    """``value`` as seconds; :class:`ToolError` unless a finite positive number."""
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(
            value) or value <= 0:
        raise ToolError(f"{what} must be a finite positive number, not {value!r}")
    return float(value)


@dataclass
class Verdict:
    outcome: Outcome
    seconds: float
    model: Any = None
    reason: str = ""


def solve(goal: Goal, timeout: float) -> Verdict:
    """Decide ``premise and not claim``; on ``sat``, add the preferred constraints
    (all at once if they fit, else one by one while they keep it satisfiable),
    for a readable counterexample."""
    ms = min(_Z3_MAX_MS, max(1, int(check_timeout(timeout, "a solver timeout") * 1000)))
    start = time.monotonic()
    ctx = goal.premise.ctx
    if goal.intblast:
        solver = z3.Tactic("smt", ctx).solver()
        solver.set("smt.bv.solver", 2)
    else:
        solver = z3.Solver(ctx=ctx)
    solver.set("timeout", ms)
    solver.add(goal.premise, z3.Not(goal.claim))
    answer = solver.check()
    if answer == z3.unsat:
        return Verdict(Outcome.PASS, time.monotonic() - start)
    if answer == z3.unknown:
        reason = solver.reason_unknown()
        timed_out = "timeout" in reason or "canceled" in reason
        return Verdict(Outcome.TIMEOUT if timed_out else Outcome.UNKNOWN,
                       time.monotonic() - start, reason=reason)
    solver.push()
    solver.add(*goal.prefer)
    if not goal.prefer or solver.check() != z3.sat:  # not all at once: one by one
        solver.pop()
        for c in goal.prefer:
            solver.push()
            solver.add(c)
            if solver.check() != z3.sat:
                solver.pop()
    if solver.check() != z3.sat:  # pragma: no cover - the base query was sat
        return Verdict(Outcome.UNKNOWN, time.monotonic() - start, reason="lost the model")
    return Verdict(Outcome.VIOLATION, time.monotonic() - start, model=solver.model())


# -------------------------------------------------------------------- traces

def _xe_trace(values: Mapping[str, Any], description: str) -> Trace:
    """xe's seed range check accepted a ``Map``: the VA-space step as the seed does it."""
    cfg = {k: values[k] for k in ("mm_start", "mm_range", "reserve_offset", "reserve_range")}
    trace = Trace(spec="GpuVm", config={**cfg, "regions": False, "profile": "upstream"},
                  source="z3", description=description)
    args = {"addr": values["addr"], "range": values["range"], "gem": "a", "offset": 0,
            "flags": 0}
    trace.steps.append(Step(0, "Init", {}, {"vas": [], "lastOps": [], "lastErr": "OK"}))
    op = {"op": "map", **args}
    trace.steps.append(Step(1, "Map", args, {
        "vas": [[args["addr"], args["range"], "a", 0, 0]], "lastOps": [op], "lastErr": "OK"}))
    return trace


def _args_trace(ob: Any, goal: Goal, values: Mapping[str, Any]) -> Trace:
    """One ioctl call that the front end accepts although the claim fails."""
    family = ob.group if ob.group != "bad" else ob.name.split(".", 1)[-1].split("-")[0]
    ioctl = str(goal.about.get("ioctl", family))
    trace = Trace(spec=f"{family}-vm-bind-args", config=dict(goal.about), source="z3",
                  description=f"{ob.name}: {ob.about}", variables=("accepted", "claim"))
    trace.meta["obligation"] = ob.name
    trace.steps.append(Step(0, "Init", {}, {"accepted": False, "claim": True}))
    trace.steps.append(Step(1, ioctl, dict(values), {"accepted": True, "claim": False}))
    return trace


def replay_args(trace: Trace, where: str) -> ReplayReport:
    """Re-run a front end's one-call counterexample on its model: i915's on
    ``model.i915`` (``checks.i915_replay``), nouveau's on ``model.nouveau``
    (``checks.nouveau_replay``).  The seed profile must reproduce the call and the
    fixed profile reject it.  (xe's counterexamples are GPUVA calls: ``gpuvm``
    traces that replay on the VA-space model.)"""
    if trace.spec == "i915-vm-bind-args":
        from checks.i915_replay import replay_i915

        return replay_i915(trace, where)
    if trace.spec == "nouveau-vm-bind-args":
        from checks.nouveau_replay import replay_nouveau

        return replay_nouveau(trace, where)
    raise ToolError(f"no front-end model replays {trace.spec!r} traces (i915-vm-bind-args, "
                    "nouveau-vm-bind-args)", where)


def counterexample_trace(ob: Any, goal: Goal, model: Any) -> Trace:
    description = f"{ob.name}: {ob.about}"
    if goal.spec is not None:
        spec: Spec = goal.spec
        meta: dict[str, Any] = {"obligation": ob.name}
        if getattr(ob, "mutant", None):
            meta["mutant"] = ob.mutant
        return gpuvm_trace(inputs_from_model(spec, model), spec.profile or "upstream",
                           spec.variant, description, meta=meta)
    values = {k: model_value(model, t) for k, t in goal.inputs.items()}
    if goal.trace == "gpuvm":
        return _xe_trace(values, description)
    return _args_trace(ob, goal, values)


def describe(goal: Goal, model: Any) -> str:
    if goal.spec is not None:
        inp = inputs_from_model(goal.spec, model)
        layout = ", ".join(f"[{va.addr:#x}, +{va.range:#x}) {va.gem}@{va.offset:#x}"
                           f" flags {va.flags:#x}" for va in inp.slots) or "empty"
        cfg = inp.config
        return (f"VM [{cfg['mm_start']:#x}, +{cfg['mm_range']:#x}) node "
                f"[{cfg['reserve_offset']:#x}, +{cfg['reserve_range']:#x}) region "
                f"{inp.region}; layout {layout}; request "
                f"{'Unmap' if inp.relation == 'unmap' else 'Map'}({request_args(inp)})")
    return ", ".join(f"{k}={_fmt(model_value(model, t))}" for k, t in goal.inputs.items())


def _fmt(v: Any) -> str:
    return f"{v:#x}" if isinstance(v, int) and not isinstance(v, bool) and v > 9 else str(v)


def _safe(name: str) -> str:
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in name)


def run_obligation(ob: Any, timeout: float, out_dir: Path | None, k: int) -> Result:
    """Solve one obligation; a crash while building or solving it is a tool error."""
    start = time.monotonic()
    expected = Outcome.PASS if ob.expect == PROVED else Outcome.VIOLATION
    figures: dict[str, Any] = {"group": ob.group,
                               "k": k if ob.group in SPLIT_MERGE_GROUPS else "",
                               "arith": getattr(ob, "arith", "")}
    if getattr(ob, "mutant", None):
        figures["mutant"] = ob.mutant
    try:
        goal = ob.build()
        verdict = solve(goal, timeout)
    except ToolError:
        raise
    except Exception as e:  # a broken encoding is a tool error, never a pass
        return Result(ob.name, Outcome.TOOL_ERROR, time.monotonic() - start, expected,
                      detail=f"{type(e).__name__}: {e}", figures=figures)
    result = Result(ob.name, verdict.outcome, verdict.seconds, expected, detail=ob.about,
                    figures=figures)
    if verdict.outcome in (Outcome.UNKNOWN, Outcome.TIMEOUT):
        result.detail = f"{ob.about}: solver gave {verdict.outcome} ({verdict.reason})"
    if verdict.outcome == Outcome.VIOLATION:
        result.detail = f"{ob.about}\ncounterexample: {describe(goal, verdict.model)}"
        if out_dir is not None:
            trace = counterexample_trace(ob, goal, verdict.model)
            result.trace = write_trace(trace, out_dir / "prove" / f"{_safe(ob.name)}.itf.json")
    return result


def write_trace(trace: Trace, path: Path) -> Path:
    """Write ``trace``; :class:`ToolError` naming the path if it cannot be written."""
    try:
        return trace.write(path)
    except OSError as e:
        raise ToolError(f"cannot write the trace: {e.strerror or e}", str(path)) from None


def check_out_dir(path: Path) -> Path:
    """``path`` can hold counterexamples (it is, or can be made, a writable
    directory); :class:`ToolError` naming it otherwise.  Creates nothing."""
    probe = path
    try:
        while not probe.exists():
            if probe.parent == probe:
                break
            probe = probe.parent
        if not probe.is_dir():
            raise ToolError(f"--out: {probe} is not a directory", str(path))
        if not os.access(probe, os.W_OK | os.X_OK):
            raise ToolError(f"--out: cannot write under {probe}", str(path))
    except OSError as e:
        raise ToolError(f"--out: {e.strerror or e}", str(path)) from None
    return path


# --------------------------------------------------------------- selection

def system_obligations(k: int, systems: Sequence[str] | None = None
                       ) -> list[tuple[str, list[Any] | str]]:
    """Per registered system with obligations: its obligations, or why they could
    not be loaded.  ``gpuvm`` is this module's own; the others come from their
    ``obligations_ref``."""
    from checks.systems import SYSTEMS, load

    out: list[tuple[str, list[Any] | str]] = []
    for name, system in SYSTEMS.items():
        if systems is not None and name not in systems:
            continue
        if name == "gpuvm":
            out.append((name, gpuvm_obligations(k)))
        elif system.obligations_ref:
            try:
                out.append((name, list(load(system.obligations_ref)(k))))
            except Exception as e:  # a system whose obligations cannot load
                out.append((name, f"{system.obligations_ref}: {type(e).__name__}: {e}"))
    return out


def all_obligations(k: int, systems: Sequence[str] | None = None) -> list[Any]:
    """Every loadable obligation of the systems."""
    return [ob for _, obs in system_obligations(k, systems) if isinstance(obs, list)
            for ob in obs]


@functools.lru_cache(maxsize=8)
def _by_name(k: int, systems: tuple[str, ...] | None) -> dict[str, Any]:
    return {ob.name: ob for ob in all_obligations(k, systems)}


def _select(names: Sequence[str], k: int, systems: Sequence[str] | None
            ) -> tuple[list[Any], list[str], list[Result]]:
    """Obligations, vector profiles and load failures matching ``names`` (exact names
    or globs; none: everything)."""
    loaded = system_obligations(k, systems)
    obs = [ob for _, o in loaded if isinstance(o, list) for ob in o]
    broken = [Result(f"{name}.obligations", Outcome.TOOL_ERROR, 0.0,
                     detail=f"the obligations cannot be loaded: {why}")
              for name, why in loaded if isinstance(why, str)]
    with_vectors = systems is None or "gpuvm" in systems
    vector_names = [f"{p}.vectors" for p in PROFILES] if with_vectors else []
    if not names:
        return obs, [n.split(".")[0] for n in vector_names], broken
    chosen: list[Any] = []
    profiles: list[str] = []
    for pattern in names:
        hit_obs = [o for o in obs if fnmatch.fnmatchcase(o.name, pattern)]
        hit_vec = [n for n in vector_names if fnmatch.fnmatchcase(n, pattern)]
        if not hit_obs and not hit_vec:
            known = ", ".join(o.name for o in obs)
            raise ToolError(f"no obligation named {pattern!r} (known: {known}, "
                            f"{', '.join(vector_names)})")
        chosen += [o for o in hit_obs if o not in chosen]
        profiles += [n.split(".")[0] for n in hit_vec if n.split(".")[0] not in profiles]
    return chosen, profiles, []


# ----------------------------------------------------------------- running

Task = tuple[str, str, int, float, Path | None, tuple[str, ...] | None]


def _run_task(task: Task) -> Result:
    """One obligation (``"ob"``) or one profile's vectors (``"vectors"``), by name."""
    kind, name, k, timeout, out_dir, systems = task
    if kind == "vectors":
        try:
            return vec.vector_result(name, out_dir)
        except ToolError:
            raise
        except Exception as e:  # the vector machinery broke: a tool error, never a pass
            return Result(f"{name}.vectors", Outcome.TOOL_ERROR, 0.0,
                          detail=f"{type(e).__name__}: {e}", figures={"group": "vectors"})
    return run_obligation(_by_name(k, systems)[name], timeout, out_dir, k)


def _run_in_worker(task: Task) -> Result | tuple[str, str | None]:
    """:func:`_run_task` in a pool worker: a :class:`ToolError` comes back as its
    message and place, for the parent to raise again."""
    try:
        return _run_task(task)
    except ToolError as e:
        return (e.message, e.where)


def _run_tasks(tasks: list[Task], jobs: int, err: TextIO | None) -> list[Result]:
    if jobs <= 1 or len(tasks) <= 1:
        results = []
        for i, task in enumerate(tasks):
            if err is not None:
                progress(err, f"prove {i + 1}/{len(tasks)} {task[1]}")
            results.append(_run_task(task))
        return results
    # The vectors and the rfc2023 proofs take longest: start them first.
    order = sorted(range(len(tasks)), key=lambda i: (tasks[i][0] != "vectors",
                                                       not tasks[i][1].startswith("rfc2023")))
    done: dict[int, Result] = {}
    pool = multiprocessing.get_context("spawn").Pool(min(jobs, len(tasks)))
    try:
        pending = {i: pool.apply_async(_run_in_worker, (tasks[i],)) for i in order}
        for n, i in enumerate(order):
            got = pending[i].get()
            if isinstance(got, tuple):
                raise ToolError(*got)
            done[i] = got
            if err is not None:
                progress(err, f"prove {n + 1}/{len(tasks)} {tasks[i][1]}")
        pool.close()
    finally:
        pool.terminate()
        pool.join()
    return [done[i] for i in range(len(tasks))]


def run(names: Sequence[str] = (), *, k: int = DEFAULT_K, timeout: float = DEFAULT_TIMEOUT,
        out_dir: Path | None = None, err: TextIO | None = None, with_vectors: bool = True,
        jobs: int = 1, systems: Sequence[str] | None = None) -> list[Result]:
    """The obligations (and vectors) matching ``names``, ``jobs`` at a time."""
    timeout = check_timeout(timeout)
    if out_dir is not None:
        check_out_dir(out_dir)
    chosen_systems = tuple(systems) if systems is not None else None
    obs, profiles, broken = _select(names, k, chosen_systems)
    tasks: list[Task] = [("ob", ob.name, k, timeout, out_dir, chosen_systems) for ob in obs]
    if with_vectors:
        tasks += [("vectors", p, k, timeout, out_dir, chosen_systems) for p in profiles]
    results = _run_tasks(tasks, jobs, err)
    if err is not None:
        progress_done(err)
    return broken + results


def cmd_prove(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    """``gpuvm-check prove [OBLIGATION ...] [--json] [--timeout S] [--out DIR]``."""
    timeout = DEFAULT_TIMEOUT if args.timeout is None else check_timeout(args.timeout)
    out_dir = check_out_dir(Path(args.out))
    jobs = int(getattr(args, "jobs", None) or DEFAULT_JOBS)
    started = time.monotonic()
    results = run(args.obligations, timeout=timeout, out_dir=out_dir, err=err, jobs=jobs)
    wall = time.monotonic() - started
    return emit(results, args.json, out, figures=FIGURES,
                extra={"k": DEFAULT_K, "jobs": jobs, "seconds": round(wall, 3),
                       "item_seconds": round(sum(r.seconds for r in results), 3)})


def bench_prove(k: int = DEFAULT_K, jobs: int = DEFAULT_JOBS) -> list[Result]:
    """Seconds per obligation of the default ``prove`` run (``k`` existing mappings,
    the vectors, ``jobs`` at a time), and a total row: the run's wall time against
    :data:`TARGET_SECONDS`, and the sums of the items' seconds."""
    started = time.monotonic()
    results = run((), k=k, jobs=jobs)
    wall = time.monotonic() - started
    proofs = [r for r in results if r.figures.get("group") in ("upstream", "rfc2023", "unmap")]
    vectors_s = sum(r.seconds for r in results if r.figures.get("group") == "vectors")
    total = Result(f"total (k={k})", Outcome.PASS, wall, figures={
        "group": "total", "k": k, "jobs": jobs, "obligations": len(results),
        "item_seconds": round(sum(r.seconds for r in results), 3),
        "split_merge_seconds": round(sum(r.seconds for r in proofs), 3),
        "vectors_seconds": round(vectors_s, 3), "target_seconds": TARGET_SECONDS,
        "within_target": wall <= TARGET_SECONDS})
    if any(not r.ok for r in results):
        total.outcome = Outcome.VIOLATION
        total.detail = "some obligation did not give its expected outcome"
    return [*results, total]


def results_for_run(systems: Sequence[Any], budget: str, out_dir: Path,
                    workers: int) -> list[Result]:
    """The obligations of ``systems`` at the budget's ``k`` (:data:`K_BY_BUDGET`) and,
    for ``gpuvm``, both profiles' vectors; ``workers`` at a time."""
    k = K_BY_BUDGET.get(budget, DEFAULT_K)
    names = [getattr(s, "name", str(s)) for s in systems]
    return run((), k=k, out_dir=out_dir, jobs=max(1, min(workers, os.cpu_count() or 1)),
               systems=names)


__all__ = ["K_BY_BUDGET", "bench_prove", "check_out_dir", "check_timeout", "cmd_prove",
           "replay_args", "results_for_run", "run", "run_obligation", "solve"]
