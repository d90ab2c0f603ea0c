"""nouveau's invariants (notes §6, 28-38), each counted on its own.

Checked after every step of every nouveau machine and replay:

``NoOopsInv``   the model never went past a memory-safety bug (C20).
``TreeInv``     (1-5) mappings disjoint, each inside one region and off the
                kernel area; regions disjoint and off the kernel area.
``PteInv``      (29, 30) once every bind job has run, the page tables read
                what the tree says: each mapping's pages its object, offset
                and kind; a sparse region's other pages sparse (also a
                FREEd one until its job is freed); nothing else.
``PtRefInv``    (31) no page-table count is negative, every page with a
                leaf has a page-table reference, and each page's count is
                the mappings and sparse regions covering it plus what jobs
                not yet freed will put (the pages they unmapped, the sparse
                regions they freed): once every job is freed, exactly the
                mappings and sparse regions.
``GemRefInv``   an object's references: its handle, one per mapping in the
                tree, one per mapping a not-yet-freed job removed, one per
                MAP op of a not-yet-freed job.
``LinkedInv``   (32) once every bind job has run, each GEM's list holds
                exactly its mappings in the tree.
``InOrderInv``  (37) an entity's jobs run and are freed in submit order.
``ExecAfterBindsInv`` (R10) an exec job that ran has every job it waited
                for run (it sees the mappings of the binds whose fences it took).
``SyncWaitInv`` (38) a sync bind that has not run is the one its thread
                waits for (fixed profile: the seed returns early, C19).
"""

from __future__ import annotations

import itertools
from collections import Counter

from model.errors import InvariantViolation
from model.nouveau import NouveauSystem
from model.pagetable import SMALL, RunCounts, Target, view_of

_ORDER = {"queued": 0, "run": 1, "freed": 2}


def check_nouveau(s: NouveauSystem) -> None:
    if s.oops:
        raise InvariantViolation("NoOopsInv", f"the kernel hit a memory-safety bug: {s.oops}")
    vas = list(s.vs) if s.vs is not None else []
    regions = s.vs.regions if s.vs is not None else []
    _tree(s, vas, regions)
    bind_idle = not any(q for e, q in s.queue.items() if e.startswith("bind"))
    pending_free = [j for j in s.jobs if j.st == "run"]
    if bind_idle:
        sparse = [(r.addr, r.range) for r in regions if r.sparse]
        sparse += [(r.addr, r.range) for j in pending_free for r in j.regions if r.sparse]
        view = view_of([(v.addr, v.range, Target(v.gem, v.offset, v.flags)) for v in vas],
                       sparse)
        got = s.pt.runs()
        if got != view:
            raise InvariantViolation("PteInv", f"the page tables read {_runs(got)}, the tree "
                                     f"says {_runs(view)}")
        for h in set(s.linked) | {str(v.gem) for v in vas}:
            mine = sorted(v.to_json() for v in vas if v.gem == h)
            if sorted(v.to_json() for v in s.linked.get(h, [])) != mine:
                raise InvariantViolation("LinkedInv", f"GEM {h}'s list holds "
                                         f"{len(s.linked.get(h, []))} mapping(s), the tree "
                                         f"{len(mine)}")
    bad = s.ptref.negative()
    if bad is not None:
        raise InvariantViolation("PtRefInv", f"page-table count {bad[2]} on "
                                 f"[{bad[0]:#x}, {bad[1]:#x})")
    for seg in s.pt.segs:
        for a in range(seg.addr, seg.end, max(SMALL, seg.size // 64)):
            if s.ptref.get(a) <= 0:
                raise InvariantViolation("PtRefInv", f"a leaf at {a:#x} has no page-table "
                                         "reference")
    want = RunCounts()
    for a, e, c in _coverage(vas, regions):
        want.add(a, e, c)
    for j in s.jobs:
        if j.st != "freed":   # references a job gives back only when it is freed
            for a, n in j.put:
                want.add(a, a + n, 1)
            for r in j.regions:
                if r.sparse:
                    want.add(r.addr, r.end, 1)
    if want.runs != s.ptref.runs:
        raise InvariantViolation("PtRefInv", f"page-table references {_counts(s.ptref.runs)}, "
                                 f"expected {_counts(want.runs)} (one per mapping and sparse "
                                 "region over a page, plus those not-yet-freed jobs still "
                                 "hold)")
    want_refs: Counter[str] = Counter({h: 1 for h in s.sizes})
    want_refs.update(str(v.gem) for v in vas)
    for j in s.jobs:
        if j.st != "freed":
            want_refs.update(str(v.gem) for v in j.removed)
            want_refs.update(j.maprefs)
    for h in s.sizes:
        if s.refs.get(h) != want_refs[h]:
            raise InvariantViolation("GemRefInv", f"GEM {h}: {s.refs.get(h)} reference(s), "
                                     f"{want_refs[h]} expected")
    for ent in s.queue:
        states = [_ORDER[j.st] for j in s.jobs if j.e == ent]
        if states != sorted(states, reverse=True):
            raise InvariantViolation("InOrderInv", f"entity {ent}: job states {states} are "
                                     "not in submit order")
        if s.queue[ent] != [j.id for j in s.jobs if j.e == ent and j.st == "queued"]:
            raise InvariantViolation("InOrderInv", f"entity {ent}: queue {s.queue[ent]}")
    for j in s.jobs:
        if j.kind == "exec" and j.st != "queued":
            early = [d for d in j.deps if s.jobs[d - 1].st == "queued"]
            if early:
                raise InvariantViolation("ExecAfterBindsInv", f"exec job {j.id} ran before "
                                         f"job(s) {early} it waits for")
    if s.profile == "fixed":
        for j in s.jobs:
            if j.sync and j.st == "queued" and s.wait.get(j.t) != j.id:
                raise InvariantViolation("SyncWaitInv", f"sync bind job {j.id} has not run but "
                                         f"{j.t} is not waiting for it")


def _tree(s: NouveauSystem, vas: list, regions: list) -> None:  # type: ignore[type-arg]
    k = s.kernel
    for x, y in itertools.pairwise(vas):
        if y.addr < x.end:
            raise InvariantViolation("TreeInv", f"mappings {x} and {y} overlap")
    for r, q in itertools.pairwise(regions):
        if q.addr < r.end:
            raise InvariantViolation("TreeInv", f"regions {r} and {q} overlap")
    for v in vas:
        if not any(r.addr <= v.addr and v.end <= r.end for r in regions):
            raise InvariantViolation("TreeInv", f"mapping {v} is in no region")
    for x in [*vas, *regions]:
        if k is not None and x.addr < k[0] + k[1] and k[0] < x.addr + x.range:
            raise InvariantViolation("TreeInv", f"{x} meets the kernel area")


def _coverage(vas: list, regions: list) -> list[tuple[int, int, int]]:  # type: ignore[type-arg]
    """Per-page count runs of mappings plus sparse regions."""
    cuts = sorted({x for v in vas for x in (v.addr, v.end)}
                  | {x for r in regions if r.sparse for x in (r.addr, r.end)})
    out = []
    for lo, hi in itertools.pairwise(cuts):
        c = sum(v.addr <= lo < v.end for v in vas) + sum(r.sparse and r.addr <= lo < r.end
                                                        for r in regions)
        if c:
            out.append((lo, hi, c))
    return out


def _counts(runs: list[list[int]]) -> str:
    return ", ".join(f"[{a:#x},{e:#x})x{c}" for a, e, c in runs) or "none"


def _runs(runs: list[tuple[int, int, Target]]) -> str:
    return ", ".join(f"[{a:#x},{e:#x})->{t.to_json()}" for a, e, t in runs) or "nothing"
