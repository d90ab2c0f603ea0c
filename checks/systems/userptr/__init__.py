"""The ``userptr`` system: xe userptr invalidation (seed 004).

Model ``model.userptr.UserptrSystem`` (modes ``lr``, ``fault``,
``dmafence``; profiles ``upstream`` and ``seed``), spec
``specs/Userptr/Userptr.tla`` -- the mm's invalidations and the driver's
callback, populate, the binder, the LR rebind worker, exec, the GPU fault
handler, PT jobs and the GPU through a TLB per GT, each a step of the
action vocabulary.  TLC runs the spec's models and failure configs; the
model has its unit tests, state machines (Hypothesis picks the schedule),
the ``userptr`` schedule suite and its mutants.  Conformance: recorded
random schedules of the model validated by TLC on every variable the spec
has (``extra``, the model's own bookkeeping, is not logged), and every
transition of the small exhaustive models replayed into the model, whose
``restore`` derives ``extra`` from the spec's variables.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from checks.systems import System
from checks.systems.front_end import errno_history
from model.userptr import VOCABULARY, UserptrSystem
from model.userptr_check import check_userptr

STATE = ("pc", "cur", "tseq", "got", "vmLock", "nl", "mm", "mmSeq", "invCount", "nseq",
         "cpuPte", "nextFrame", "mem", "expect", "useq", "pinned", "dma", "freedTouch",
         "initialBind", "bindSeq", "vmBound", "failed", "zapped", "invalidated", "repin",
         "rebind", "ptq", "job", "deps", "jobUses", "nexec", "gpuPte", "tlb", "badRead",
         "destroyed", "extra")


def variables(config: Mapping[str, Any]) -> tuple[str, ...]:
    return (*STATE, "lastErr")


def check_step(config: Mapping[str, Any], before: Mapping[str, Any], action: str,
               args: Mapping[str, Any], result: Any, after: Mapping[str, Any]) -> None:
    """Each step's effect is the model's; its invariants are checked on every state."""


SYSTEM = System(
    name="userptr",
    spec="Userptr",
    summary="xe userptr invalidation (seed 004): the mm and the notifier callback, populate, "
            "binds, the LR rebind worker, exec, GPU faults, PT jobs, TLBs per GT",
    vocabulary=VOCABULARY,
    component=UserptrSystem,
    history=errno_history,
    variables=variables,
    check_state=check_userptr,
    check_step=check_step,
    codec_ref="checks.systems.userptr.codec:CODEC",
    machines_ref="checks.systems.userptr.machine:MACHINES",
    required=("pc", "mmSeq", "nseq", "cpuPte"),
    runs_ref="checks.systems.userptr.runs:record_runs", run_variants=("upstream",),
    render_ref="checks.systems.userptr.render:RENDERER",
    extra={"logged": STATE[:-1], "max_hidden": 0},
)
