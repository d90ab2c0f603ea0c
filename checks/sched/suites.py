"""``gpuvm-check sched``: every concurrency suite, each program against its expectation.

Suites: ``classic`` (five classic bugs and their fixes), ``golden`` (the
lock checker's patterns and their safe counterparts), ``vmbo`` (bind, exec
and evict threads over the vm_bo model in both list modes,
``checks.sched.vmbo_programs``), ``drmexec`` (threads running drm_exec's
loop over overlapping object sets, both ww algorithms), ``nouveau`` (two
VM_BIND submitters, EXEC and the two entities' schedulers over the nouveau
model, ``checks.sched.nouveau_programs``) and ``xe`` (two VM_BIND threads,
exec and the bind fences over the xe model, ``checks.sched.xe_programs``) and
``i915`` (VM_UNBIND's two phases against a concurrent VM_BIND,
``checks.sched.i915_programs``) and ``userptr`` (the mm, the binder, the
rebind worker or fault handler, the PT jobs and the GPU over the userptr
model, ``checks.sched.userptr_programs``; preemption bound 1).  Each program runs
under the bounded exhaustive search (every schedule within the preemption
bound, sleep sets on) with the lock checker on; a program expected to be
clean must give no finding within the bound, a bad one must give exactly
its finding.  The failing run with the fewest preemptions and context
switches is written as an ITF trace (spec ``Sched``, a thread per step),
which ``gpuvm-check replay`` re-executes and ``show`` draws.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TextIO

from checks.outcome import Outcome, Result, ToolError
from checks.report import emit
from checks.sched import finding, run_trace, search
from model.program import KernelProgram

Entry = tuple[Callable[[], KernelProgram], str | None]
DEFAULT_PREEMPTIONS = 2
#: suites whose programs are too long for the default bound in the main job
BOUNDS = {"userptr": 1}


def _drmexec_entries() -> dict[str, Entry]:
    from model.drmexec import DrmExecSystem, check_drmexec, thread_path
    from model.lock_table import checker
    from model.program import World

    def program(want: dict[str, list[str]], algorithm: str, rounds: int) -> KernelProgram:
        def make() -> World:
            s = DrmExecSystem(want, rounds, algorithm)
            w = World(vars={"system": s}, resources=dict(s.locks))
            w.threads = {t: thread_path(s, t) for t in want}
            return w

        classes = {o: "dma_resv" for ws in want.values() for o in ws}
        return KernelProgram(f"drmexec-{algorithm}", make,
                             lambda w: check_drmexec(w.vars["system"]),
                             checker=lambda: checker((), classes=classes))

    cycle = {"t1": ["a", "b"], "t2": ["b", "c"], "t3": ["c", "a"]}
    abba = {"t1": ["a", "b"], "t2": ["b", "a"]}
    return {
        "cycle3-wound-wait": (lambda: program(cycle, "wound_wait", 1), None),
        "cycle3-wait-die": (lambda: program(cycle, "wait_die", 1), None),
        "abba-2rounds-wound-wait": (lambda: program(abba, "wound_wait", 2), None),
    }


def suites() -> dict[str, dict[str, Entry]]:
    from checks.sched.i915_programs import I915
    from checks.sched.nouveau_programs import NOUVEAU
    from checks.sched.programs import CLASSIC, GOLDEN
    from checks.sched.userptr_programs import USERPTR
    from checks.sched.vmbo_programs import VMBO
    from checks.sched.xe_programs import XE

    return {"classic": dict(CLASSIC), "golden": dict(GOLDEN), "vmbo": dict(VMBO),
            "drmexec": _drmexec_entries(), "nouveau": dict(NOUVEAU), "xe": dict(XE),
            "i915": dict(I915), "userptr": dict(USERPTR)}


def select(names: list[str]) -> list[tuple[str, Entry]]:
    """``SUITE`` or ``SUITE:PROGRAM`` names -> (qualified name, entry); all when none."""
    all_ = suites()
    out: list[tuple[str, Entry]] = []
    for n in names or list(all_):
        suite, _, prog = n.partition(":")
        if suite not in all_:
            raise ToolError(f"unknown suite {suite!r} (suites: {', '.join(all_)})")
        progs = all_[suite]
        if prog and prog not in progs:
            raise ToolError(f"unknown program {n!r} (programs of {suite}: "
                            f"{', '.join(progs)})")
        out += [(f"{suite}:{p}", progs[p]) for p in ([prog] if prog else progs)]
    return out


def check_program(name: str, entry: Entry, out_dir: Path,
                  preemptions: int | None = None) -> Result:
    make, expected = entry
    if preemptions is None:
        preemptions = BOUNDS.get(name.partition(":")[0], DEFAULT_PREEMPTIONS)
    start = time.monotonic()
    ex = search(make(), preemptions=preemptions)
    first = ex.first
    got = finding(first) if first is not None else None
    figures: dict[str, Any] = {"schedules": ex.schedules, "steps": ex.steps,
                               "expect": expected or "clean", "found": got or "clean"}
    if first is not None:
        figures.update(preemptions=first.preemptions, switches=first.switches,
                       cex_length=len(first.events))
    if got == expected:
        outcome = Outcome.PASS
        detail = "" if got is None else f"{got}, as expected"
    elif got is None:
        outcome = Outcome.VIOLATION
        detail = (f"expected {expected}, found nothing in {ex.schedules} schedule(s) "
                  f"within {preemptions} preemption(s)")
        if not ex.complete:
            outcome, detail = Outcome.TIMEOUT, detail + " (the schedule limit was hit)"
    else:
        outcome = Outcome.VIOLATION
        detail = f"expected {expected or 'no finding'}, found {got}: {first.detail}" \
            if first is not None else ""
    r = Result(name, outcome, time.monotonic() - start, detail=detail, figures=figures)
    if first is not None:
        tr = run_trace(name, make(), first)
        safe = name.replace(":", "-")
        r.trace = tr.write(out_dir / f"sched-{safe}.itf.json")
    return r


def results_for_run(systems: Any, budget: str, out_dir: Path, workers: int) -> list[Result]:
    """The main job's stage: every suite at the default preemption bound."""
    return [check_program(n, e, out_dir) for n, e in select([])]


def cmd_sched(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    """``gpuvm-check sched [SUITE[:PROGRAM] ...]``: exit 1 if a program is not as expected."""
    out_dir = Path(args.out)
    results = [check_program(n, e, out_dir, args.preemptions)
               for n, e in select(list(args.programs))]
    return emit(results, args.json, out, figures=("schedules", "expect", "found", "switches"))
