"""The ``nouveau`` system: nouveau's VM_BIND front end and job layer (seed 001).

Model ``model.nouveau.NouveauSystem`` (profiles ``seed`` and ``fixed``),
spec ``specs/NouveauBind/NouveauBind.tla`` -- the bind queue with syncs:
submit, run and free of bind and exec jobs over pages, one in-order bind
entity, in- and out-syncs, sync binds.  A trace state is ``abstract()``
(the uAPI mode, kernel area, regions, the logical tree, the page tables,
page-table and GEM references, GEM lists, queues, jobs, syncobjs, the
promised out-syncs, the threads' program counters and waits, the pending
injection) plus ``lastErr``.  The spec holds the queue's part of it; trace
validation compares exactly that part (``logged``) with no hidden step.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from checks.systems import System
from model.nouveau import VOCABULARY, NouveauSystem
from model.nouveau_check import check_nouveau
from model.trace import Event

STATE = ("mode", "kernel", "regions", "tree", "pte", "ptref", "linked", "refs", "queue",
         "jobs", "jobinfo", "syncs", "promised", "pc", "wait", "inject", "oops")
#: the variables NouveauBind.tla has (its Observed)
SPEC_VARS = ("pc", "wait", "tree", "pte", "ptref", "linked", "refs", "queue", "jobs", "syncs",
             "promised", "lastErr")


def history(ev: Event | None) -> dict[str, Any]:
    return {"lastErr": "OK" if ev is None or ev.errno is None else ev.errno}


def variables(config: Mapping[str, Any]) -> tuple[str, ...]:
    return (*STATE, "lastErr")


def check_step(config: Mapping[str, Any], before: Mapping[str, Any], action: str,
               args: Mapping[str, Any], result: Any, after: Mapping[str, Any]) -> None:
    from checks.systems.nouveau.oracle import check_nouveau_step

    check_nouveau_step(config, before, action, args, result, after)


SYSTEM = System(
    name="nouveau",
    spec="NouveauBind",
    summary="nouveau VM_BIND (seed 001): VM_INIT, regions, bind and exec jobs, syncs, "
            "one in-order bind queue, page tables",
    vocabulary=VOCABULARY,
    component=NouveauSystem,
    history=history,
    variables=variables,
    check_state=check_nouveau,
    check_step=check_step,
    codec_ref="checks.systems.nouveau.codec:CODEC",
    machines_ref="checks.systems.nouveau.machine:MACHINES",
    runs_ref="checks.systems.nouveau.runs:record_runs",
    run_variants=("fixed",),
    render_ref="checks.systems.nouveau.render:RENDERER",
    required=("tree", "pte", "queue", "jobs", "lastErr"),
    extra={"logged": SPEC_VARS, "max_hidden": 0},
)
