"""xe's invariants (notes B5), each counted on its own.

``TreeInv``          (B5.1) each VM's VMAs disjoint and inside the VM.
``PteInv``           (B5.4) the sync VM's page tables always read what its tree
                     says; the async VM's once nothing is pending.
``FailingOpAtHead``  (B5.5) an async error leaves the op that failed queued.
``NoRepeatInv``      (B5.6) no sub-step of an op is executed twice.
``FencesInOrder``    an out-fence signals only after every earlier one.
``InflightInv``      ``munmap_rebind_inflight`` only while the head op is a
                     REMAP whose unbind is done.
``RemapPiecesInv``   (B5.2) a queued REMAP's pieces keep the old VMA's object,
                     read-only bit and tile mask, and their offsets follow it.
``ExtObjInv``        (B5.8) every external BO with a VMA in a VM is on that VM's
                     extobj list exactly once, and no other BO is.
``NoOopsInv``        no ``XE_BUG_ON`` was hit.
"""

from __future__ import annotations

import itertools
from collections import Counter

from model.errors import InvariantViolation
from model.gpuva import Va
from model.pagetable import Target, view_of
from model.xe import ASYNC_VM, RO, XeSystem


def _view(vas: list[Va]) -> list[tuple[int, int, Target]]:
    return view_of([(v.addr, v.range, Target(str(v.gem), v.offset, v.flags)) for v in vas])


def check_xe(s: XeSystem) -> None:
    if s.oops:
        raise InvariantViolation("NoOopsInv", f"the kernel hit XE_BUG_ON: {s.oops}")
    for vid, vm in s.vms.items():
        vas = list(vm.vs)
        for x, y in itertools.pairwise(vas):
            if y.addr < x.end:
                raise InvariantViolation("TreeInv", f"VM {vid}: {x} and {y} overlap")
        if vas and vas[-1].end > s.vm_size:
            raise InvariantViolation("TreeInv", f"VM {vid}: {vas[-1]} is past the VM")
        if (vid != ASYNC_VM or not vm.pending) and vm.pt.runs() != _view(vas):
            raise InvariantViolation("PteInv", f"VM {vid}: the page tables read "
                                     f"{[(hex(a), hex(e)) for a, e, _ in vm.pt.runs()]}, the "
                                     f"tree {[(hex(v.addr), hex(v.end)) for v in vas]}")
        ext = Counter(b for b, _ in vm.extobj)
        want = {str(v.gem) for v in vas if v.gem in s.bos and s.bos[str(v.gem)][1] == 0}
        if set(ext) != want or any(n != 1 for n in ext.values()):
            raise InvariantViolation("ExtObjInv", f"VM {vid}: extobj lists {dict(ext)}, the "
                                     f"external BOs mapped are {sorted(want)}")
    a = s.vms[ASYNC_VM]
    if a.error != "OK" and not a.pending:
        raise InvariantViolation("FailingOpAtHead", f"error {a.error} with nothing pending")
    seen = Counter(tuple(x) for x in s.execd)
    twice = [x for x, n in seen.items() if n > 1]
    if twice:
        raise InvariantViolation("NoRepeatInv", f"sub-step {twice[0]} executed {seen[twice[0]]} "
                                 "times")
    done = [f == "signalled" for f in s.fences]
    if done != sorted(done, reverse=True):
        raise InvariantViolation("FencesInOrder", f"fences {s.fences}")
    if a.inflight and not (a.pending and a.pending[0].kind == "remap"
                           and a.pending[0].unmap_done):
        raise InvariantViolation("InflightInv", "munmap_rebind_inflight is set but the head "
                                 "op is not a REMAP past its unbind")
    for g in a.pending:
        if g.kind != "remap":
            continue
        old = g.vma
        for piece in (g.prev, g.next):
            if piece is None:
                continue
            if piece.gem != old.gem or piece.flags & RO != old.flags & RO \
                    or piece.offset != old.offset + (piece.addr - old.addr) \
                    or piece.flags != old.flags:
                raise InvariantViolation("RemapPiecesInv", f"op {g.id}: piece {piece} of "
                                         f"{old}")
