"""The ``xe`` system: xe's VM_BIND on GPUVA (seed 002).

Model ``model.xe.XeSystem`` (profiles ``seed`` and ``fixed``), spec
``specs/XeBind/XeBind.tla`` -- the async bind worker with the VM's error
state and RESTART: committed ops executed in order one sub-step at a time, a
failure leaving its op at the head, a REMAP resuming where it stopped.  A
trace state is ``abstract()`` (the async VM's tree, page tables, pending
ops, fences, error, ``munmap_rebind_inflight``, the sub-steps done, the
oops, the next op id; the sync VM; the extobj lists; the syncobjs; the
threads' program counters; the pending injection) plus ``lastErr``; the
spec holds the async VM's part, which trace validation compares.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from checks.systems import System
from model.trace import Event
from model.xe import VOCABULARY, XeSystem
from model.xe_check import check_xe

STATE = ("pc", "tree", "pte", "pending", "fences", "error", "inflight", "execd", "oops",
         "nextop", "sync_vm", "extobj", "syncs", "inject")
SPEC_VARS = ("pc", "tree", "pte", "pending", "fences", "error", "inflight", "execd", "oops",
             "nextop", "lastErr")


def history(ev: Event | None) -> dict[str, Any]:
    return {"lastErr": "OK" if ev is None or ev.errno is None else ev.errno}


def variables(config: Mapping[str, Any]) -> tuple[str, ...]:
    return (*STATE, "lastErr")


def check_step(config: Mapping[str, Any], before: Mapping[str, Any], action: str,
               args: Mapping[str, Any], result: Any, after: Mapping[str, Any]) -> None:
    from checks.systems.xe.oracle import check_xe_step

    check_xe_step(config, before, action, args, result, after)


SYSTEM = System(
    name="xe",
    spec="XeBind",
    summary="xe VM_BIND on GPUVA (seed 002): parse, commit, execute, the async worker's "
            "error state and RESTART, exact unwind under injection",
    vocabulary=VOCABULARY,
    component=XeSystem,
    history=history,
    variables=variables,
    check_state=check_xe,
    check_step=check_step,
    codec_ref="checks.systems.xe.codec:CODEC",
    machines_ref="checks.systems.xe.machine:MACHINES",
    runs_ref="checks.systems.xe.runs:record_runs",
    run_variants=("fixed",),
    render_ref="checks.systems.xe.render:RENDERER",
    required=("tree", "pte", "pending", "lastErr"),
    extra={"logged": SPEC_VARS, "max_hidden": 0},
)
