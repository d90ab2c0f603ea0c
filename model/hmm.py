"""Pinning user pages: ``hmm_range_fault`` and the DMA mapping of its result.

:func:`hmm_range_fault` walks the CPU page table of ``pages`` of an
:class:`~model.mm.Mm` for a notifier and the seq its caller got from
``read_begin`` (Documentation/mm/hmm.rst's usage):

1. ``mmap_lock`` must be held, read or write (the caller says whether it
   is: R20 -- a caller without it is a finding, ``MmapLockInv``);
2. an invalidation of the notifier started since ``seq`` (``read_retry``):
   ``-EBUSY``, the caller goes back to ``read_begin``;
3. a page no VMA maps: ``-EFAULT`` (the user unmapped the memory);
4. else the frames, one per page (faulting them in is not modelled: every
   mapped page is present).

:class:`DmaMap` is the device's view of what is DMA-mapped: ``(owner,
frame)`` pairs, where the owner is a userptr.  Mapping a pair twice,
unmapping one not mapped, and (checked by the caller at the end) anything
left mapped that no owner holds are the balance findings (``DmaInv``).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from model.errors import Busy, Fault, InvariantViolation
from model.mm import Mm


def hmm_range_fault(mm: Mm, notifier: str, seq: int, pages: Iterable[int], *,
                    mmap_locked: bool) -> dict[int, int]:
    """The frames of ``pages`` as of now, if no invalidation came since ``seq``."""
    if not mmap_locked:
        raise InvariantViolation("MmapLockInv", "hmm_range_fault without mmap_lock "
                                 "(mmap_assert_locked fires, R20)")
    if mm.read_retry(notifier, seq):
        raise Busy(f"notifier {notifier}: seq {seq} moved to {mm.notifiers[notifier].seq}")
    out: dict[int, int] = {}
    for p in pages:
        f = mm.pte.get(p)
        if f is None:
            raise Fault(f"page {p} is not mapped")
        out[p] = f
    return out


@dataclass
class DmaMap:
    """The DMA-mapped frames, by owner."""

    mapped: set[tuple[str, int]] = field(default_factory=set)

    def map(self, owner: str, frames: Iterable[int]) -> None:
        fs = sorted(set(frames))
        twice = [f for f in fs if (owner, f) in self.mapped]
        if twice:
            raise InvariantViolation("DmaInv", f"{owner} maps frame(s) {twice} it has mapped")
        self.mapped |= {(owner, f) for f in fs}

    def unmap(self, owner: str, frames: Iterable[int]) -> None:
        fs = sorted(set(frames))
        missing = [f for f in fs if (owner, f) not in self.mapped]
        if missing:
            raise InvariantViolation("DmaInv", f"{owner} unmaps frame(s) {missing} it has not "
                                     "mapped")
        self.mapped -= {(owner, f) for f in fs}

    def of(self, owner: str) -> set[int]:
        return {f for o, f in self.mapped if o == owner}
