"""The userptr model's invariants, from the notes' properties (section 5), after every step.

``SeqParityInv``      the mm's invalidate seq is odd exactly while an
                      invalidation is in progress (2.1).
``NoStaleAccessInv``  (S1) no GPU access reached a frame once the callbacks of
                      the invalidation that takes it away had all returned.
``NoStaleTranslationInv``
                      (S1, over what the engine can reach) while the engine
                      can run, every translation of a userptr the GPU may use
                      names the frame the CPU maps at that page, and not one
                      whose callback for the running invalidation returned.
``DataInv``           a GPU read returned the value last written at that CPU
                      address.
``DmaInv``            each userptr's DMA-mapped frames are exactly its sg's:
                      nothing mapped twice, nothing leaked (the unmap and map
                      themselves refuse a double map or unmap).
``SgLiveInv``         (A10) no sg was built from a frame already freed.
``CommitInv``         (S2) a queued PT job's pages were current at its commit,
                      or (outside fault mode) its userptr was on the
                      invalidated list then, to be repinned.
``ListInv``           (S5, as the code has it) the repin and rebind lists are
                      disjoint (one link moves between them; the invalidated
                      list has a link of its own, so a userptr being repinned
                      may be invalidated again, and is repinned again -- the
                      notes' "exactly one list" is stronger than the code);
                      outside fault mode, a bound userptr
                      whose bound pages are stale (an invalidation since its
                      last bind) is on one of the three lists, or zapped, or
                      a kernel thread is working on it.
``DestroyInv``        a destroyed userptr is on no list and in no use, has no
                      PTE, TLB entry, PT job, sg or DMA mapping, and no notifier;
                      the mm's references are its own and one per notifier
                      (resource balance).
``LockInv``           the notifier lock's reader is a kernel thread between its
                      read lock and its unlock; vm->lock's holder a kernel
                      thread in an operation.
"""

from __future__ import annotations

from model.errors import InvariantViolation
from model.userptr import UserptrSystem

_READ_HELD = ("check", "commit", "unlock")


def check_userptr(s: UserptrSystem) -> None:
    if (s.mm.seq % 2 == 1) != (s.mm.inv is not None):
        raise InvariantViolation("SeqParityInv", f"the mm's seq is {s.mm.seq} while "
                                 f"{'an' if s.mm.inv else 'no'} invalidation runs")
    if s.stale:
        raise InvariantViolation("NoStaleAccessInv", s.stale[0])
    reach = _stale_translation(s)
    if reach:
        raise InvariantViolation("NoStaleTranslationInv", reach)
    if s.bad_read:
        raise InvariantViolation("DataInv", "a GPU read returned another value than the one "
                                 "last written at that CPU address")
    for u in s.order:
        want, got = set(s.pinned[u].values()), s.dma.of(u)
        if want != got:
            raise InvariantViolation("DmaInv", f"{u}: DMA-mapped {sorted(got)}, its sg "
                                     f"{sorted(want)}")
    if s.freed_touch:
        raise InvariantViolation("SgLiveInv", "an sg was built from a frame already freed")
    for j in s.ptq:
        if j.seq != j.at and not (s.mode != "fault" and j.listed):
            raise InvariantViolation("CommitInv", f"a PT job of {j.u} by {j.by} writes pages "
                                     f"of seq {j.seq}; the notifier was at {j.at}, and "
                                     f"{j.u} was not to be repinned")
    if s.repin & s.rebind:
        raise InvariantViolation("ListInv", f"{sorted(s.repin & s.rebind)} on both the repin "
                                 "and the rebind list")
    if s.mode != "fault":
        busy = {th.cur for th in s.threads.values() if th.pc != "idle"}
        for u in s.vm_bound:
            stale = s.bind_seq[u] != s.mm.notifiers[u].seq
            if stale and u not in s.invalidated | s.repin | s.rebind | s.zapped | busy:
                raise InvariantViolation("ListInv", f"{u}'s bound pages are stale and it is "
                                         "on no list: no exec or worker will repin it")
    for u in sorted(s.destroyed):
        held = [name for name, v in (
            ("a list", u in s.invalidated | s.repin | s.rebind), ("the GPU's use",
             u in s.vm_bound | s.job_uses), ("a PT job", any(j.u == u for j in s.ptq)),
            ("an sg", bool(s.pinned[u])), ("a DMA mapping", bool(s.dma.of(u))),
            ("a notifier", u in s.mm.notifiers),
            ("a translation", any(k == (u, p) for k in s.gpu.pte for p in range(*s.ranges[u]))
             or any(k == (u, p) for t in s.gpu.tlb.values() for k in t
                    for p in range(*s.ranges[u])))) if v]
        if held:
            raise InvariantViolation("DestroyInv", f"destroyed {u} still has "
                                     f"{', '.join(held)}")
    if s.mm.count != 1 + len(s.mm.notifiers):
        raise InvariantViolation("DestroyInv", f"the mm has {s.mm.count} reference(s) for "
                                 f"{len(s.mm.notifiers)} notifier(s)")
    if s.nl and s.threads[s.nl].pc not in _READ_HELD:
        raise InvariantViolation("LockInv", f"{s.nl} holds the notifier lock at "
                                 f"{s.threads[s.nl].pc}")
    if s.vm_lock and s.threads[s.vm_lock].pc in ("idle", "done"):
        raise InvariantViolation("LockInv", f"{s.vm_lock} holds vm->lock while idle")


def _stale_translation(s: UserptrSystem) -> str:
    if s.mode != "fault" and s.job != "running":
        return ""
    inv = s.mm.inv
    for u in sorted(s.in_use()):
        for p in range(*s.ranges[u]):
            for gi, g in enumerate(s.gts):
                f = s.gpu.translate_peek(gi, (u, p))
                if f is None:
                    continue
                cpu = s.mm.pte.get(p)
                if f != cpu:
                    return (f"GT {g} translates ({u}, {p}) to frame {f}; the CPU maps "
                            f"{'nothing' if cpu is None else f'frame {cpu}'} there")
                if inv is not None and p in inv.pages and s.cb[u] == "done":
                    return (f"GT {g} translates ({u}, {p}) to frame {f}, which {u}'s "
                            "callback has given up")
    return ""
