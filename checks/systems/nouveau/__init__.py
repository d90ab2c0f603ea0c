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

from checks.systems.front_end import front_end
from model.nouveau import VOCABULARY, NouveauSystem
from model.nouveau_check import check_nouveau

STATE = ("mode", "kernel", "regions", "tree", "pte", "ptref", "linked", "refs", "queue",
         "jobs", "jobinfo", "syncs", "promised", "pc", "wait", "inject", "oops")
#: the variables NouveauBind.tla has (its Observed)
SPEC_VARS = ("pc", "wait", "tree", "pte", "ptref", "linked", "refs", "queue", "jobs", "syncs",
             "promised", "lastErr")

SYSTEM = front_end(
    "nouveau", "NouveauBind",
    "nouveau VM_BIND (seed 001): VM_INIT, regions, bind and exec jobs, syncs, "
    "one in-order bind queue, page tables",
    VOCABULARY, NouveauSystem, STATE, check_nouveau,
    required=("tree", "pte", "queue", "jobs", "lastErr"), logged=SPEC_VARS)
