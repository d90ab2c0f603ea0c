"""The GPU side of a userptr: the VM's page table, a TLB per GT, and engine accesses.

A device has one tile with ``gts`` GTs; the VM's page table (one per tile)
maps a GPU page to a frame, and each GT caches translations in its own TLB.
An engine access on a GT translates through that GT's TLB; a miss walks the
page table and fills the TLB; no translation at all is a GPU page fault
(``None``: in fault mode the fault handler runs, elsewhere the job dies of
a CAT error).  A TLB entry survives a page-table change until that GT's TLB
is invalidated for the page: zapping the page table is not enough, which is
why the notifier must wait for the invalidation of every GT (notes 2.2 step
7).

::

    write_pte(5, f)   pte {5: f}        tlb gt0 {}      tlb gt1 {}
    access(0, 5)      -> f              tlb gt0 {5: f}
    zap((5,))         pte {}            tlb gt0 {5: f}  (stale until invalidated)
    access(0, 5)      -> f              a stale translation
    invalidate(0, (5,))                 tlb gt0 {}
    access(0, 5)      -> None           a GPU page fault
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable
from dataclasses import dataclass, field
from typing import Any

#: a GPU page: an int, or any hashable name of one (``(userptr, page)``)
Key = Hashable


@dataclass
class Gpu:
    """The VM's page table and the GTs' TLBs."""

    gts: int = 2
    pte: dict[Key, int] = field(default_factory=dict)
    tlb: dict[int, dict[Key, int]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for g in range(self.gts):
            self.tlb.setdefault(g, {})

    def write_pte(self, page: Key, frame: int) -> None:
        self.pte[page] = frame

    def zap(self, pages: Iterable[Key]) -> None:
        """``xe_pt_zap_ptes``: the page-table entries cleared (the TLBs keep theirs)."""
        for p in pages:
            self.pte.pop(p, None)

    def invalidate(self, gt: int, pages: Iterable[Key]) -> None:
        """A TLB invalidation of ``pages`` on ``gt``, waited for."""
        for p in pages:
            self.tlb[gt].pop(p, None)

    def translate(self, gt: int, page: Key) -> int | None:
        """The frame an access of ``page`` on ``gt`` reaches (filling the TLB on a miss);
        ``None``: a GPU page fault."""
        f = self.tlb[gt].get(page)
        if f is None:
            f = self.pte.get(page)
            if f is not None:
                self.tlb[gt][page] = f
        return f

    def translate_peek(self, gt: int, page: Key) -> int | None:
        """What :meth:`translate` would give, without filling the TLB."""
        f = self.tlb[gt].get(page)
        return self.pte.get(page) if f is None else f

    def translations(self) -> set[tuple[str, Key, int]]:
        """Every translation an access could use: ``("pte", page, frame)`` and
        ``("gt<n>", page, frame)``."""
        out = {("pte", p, f) for p, f in self.pte.items()}
        for g, t in self.tlb.items():
            out |= {(f"gt{g}", p, f) for p, f in t.items()}
        return out

    def to_json(self) -> dict[str, Any]:
        return {"pte": {str(p): f for p, f in sorted(self.pte.items())},
                "tlb": {str(g): {str(p): f for p, f in sorted(t.items())}
                        for g, t in sorted(self.tlb.items())}}

    @staticmethod
    def from_json(d: Any) -> Gpu:
        tlb: dict[int, dict[Key, int]] = {int(g): {int(p): int(f) for p, f in t.items()}
                                          for g, t in d["tlb"].items()}
        return Gpu(len(tlb), {int(p): int(f) for p, f in d["pte"].items()}, tlb)
