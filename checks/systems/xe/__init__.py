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

from checks.systems.front_end import front_end
from model.xe import VOCABULARY, XeSystem
from model.xe_check import check_xe

STATE = ("pc", "tree", "pte", "pending", "fences", "error", "inflight", "execd", "oops",
         "nextop", "sync_vm", "extobj", "syncs", "inject")
SPEC_VARS = ("pc", "tree", "pte", "pending", "fences", "error", "inflight", "execd", "oops",
             "nextop", "lastErr")

SYSTEM = front_end(
    "xe", "XeBind",
    "xe VM_BIND on GPUVA (seed 002): parse, commit, execute, the async worker's "
    "error state and RESTART, exact unwind under injection",
    VOCABULARY, XeSystem, STATE, check_xe,
    required=("tree", "pte", "pending", "lastErr"), logged=SPEC_VARS)
