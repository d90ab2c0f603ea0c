"""The declared lock order and protection table, one place for every system.

Each :class:`LockClass` is a kernel lock class the model's paths take: its
kind, what it protects, and where the rule comes from.  :data:`ORDERS` are
the documented nesting orders, outermost first; :data:`PROTECTION` says
which locks guard which fields (a write without one of them is a finding);
:data:`FORBIDDEN` lists, per section (a pseudo-lock: an mmu notifier's
callback, a fence-signalling section), the classes it must never take.
:func:`checker` builds a :class:`~model.lockdep.LockChecker` from the
table, so a path taking two locks against a declared order is flagged the
first time it does, before any interleaving deadlocks; :func:`markdown`
renders the table (README.md prints it, and a test keeps the two equal).

The rows start from seed 004's lock document
(``xe_vm.lock -> mmap_lock -> xe_vm.resv -> notifier_lock``, notes 4.1 and
4.2), the nouveau order of seed 001 (notes, job layer) and drm_gpuvm_bo's
list rules (seed 003, upstream ``DRM_GPUVM_RESV_PROTECTED``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from model.lockdep import FENCE_MAP, FS_RECLAIM, LockChecker


@dataclass(frozen=True)
class LockClass:
    """One lock class: its kind, what it protects, and the source of the rule."""

    name: str
    kind: str  # rwsem, mutex, spinlock, ww (dma_resv class), pseudo
    protects: str
    source: str

    @property
    def sleeping(self) -> bool:
        return self.kind != "spinlock"


CLASSES: tuple[LockClass, ...] = (
    LockClass("xe_vm.lock", "rwsem", "the VMA tree and lists, rebind_list, repin_list, "
              "tile_present", "seed 004 P20 (xe_lock_doc.h); notes 4.1"),
    LockClass("mmap_lock", "rwsem", "the CPU VMAs and page tables; held for hmm_range_fault",
              "seed 004; notes 4.1"),
    LockClass("xe_vm.resv", "ww", "GPU page-table updates, the VM's fences",
              "seed 004; notes 4.1"),
    LockClass("userptr.notifier_lock", "rwsem", "seq checks against invalidation; written "
              "only by the notifier", "seed 004; notes 4.2"),
    LockClass("userptr.invalidated_lock", "spinlock", "membership of the invalidated list "
              "(innermost)", "seed 004; notes 4.2"),
    LockClass("nouveau.job_mutex", "mutex", "the bind queue's job list",
              "seed 001 nouveau job layer"),
    LockClass("nouveau.uvmm_mutex", "mutex", "the VA space of the nouveau VM",
              "seed 001 nouveau uvmm"),
    LockClass("i915.vm_bind_lock", "mutex", "a VM's VMA tree and lists (bind, unbind, "
              "execbuf, release)", "seed 000 (notes A4)"),
    LockClass("dma_resv", "ww", "a GEM's reservation: its fences, its vm_bo list "
              "(the GEM's gpuva lock), page-table updates", "seed 001 01/16, seed 003"),
    LockClass("gem.gpuva_lock", "mutex", "a GEM's list of vm_bos when it is not the resv",
              "seed 001 (nouveau), seed 003"),
    LockClass("vm.list_lock", "spinlock", "a VM's extobj and evict lists (not "
              "resv-protected mode)", "seed 003; upstream drm_gpuvm"),
    LockClass(FENCE_MAP, "pseudo", "a dma-fence signalling section "
              "(dma_fence_begin_signalling)", "upstream dma-fence rules; notes 4.3"),
    LockClass(FS_RECLAIM, "pseudo", "memory reclaim (an allocation that may reclaim)",
              "upstream lockdep; notes 4.3"),
    LockClass("mmu_notifier_invalidate_range_start_map", "pseudo", "an mmu notifier's "
              "invalidate callback", "upstream lockdep map; notes 4.3"),
)

#: documented nesting orders, outermost first
ORDERS: dict[str, tuple[tuple[str, ...], str]] = {
    "xe": (("xe_vm.lock", "mmap_lock", "xe_vm.resv", "userptr.notifier_lock",
            "userptr.invalidated_lock"), "seed 004 P20, notes 4.1 and 4.2"),
    "nouveau": (("nouveau.job_mutex", "nouveau.uvmm_mutex", "dma_resv", "gem.gpuva_lock"),
                "seed 001 nouveau (notes: lock order observed)"),
    "vmbo": (("dma_resv", "vm.list_lock"), "seed 003; the list spinlock nests inside resvs"),
    "i915": (("i915.vm_bind_lock", "dma_resv"), "seed 000 (notes A4: the documented order)"),
}

#: field -> the lock classes of which one must be held to write it
PROTECTION: dict[str, tuple[str, ...]] = {
    "xe_vm.rebind_list": ("xe_vm.lock",),
    "userptr.repin_list": ("xe_vm.lock",),
    "userptr.invalidated": ("userptr.invalidated_lock",),
    "gem.vm_bo_list": ("dma_resv", "gem.gpuva_lock"),
    "vm.extobj_list": ("dma_resv", "vm.list_lock"),
    "vm.evict_list": ("dma_resv", "vm.list_lock"),
    "pt.entries": ("xe_vm.resv", "userptr.notifier_lock"),
}

#: MMU_NOTIFIER is held (``map_acquire``) while an invalidate callback runs
MMU_NOTIFIER = "mmu_notifier_invalidate_range_start_map"

#: section pseudo-lock -> (the context, the classes it must never take, why).
#: Declared as edges class -> pseudo-lock, so taking one inside the section
#: closes a cycle the first time a path does it.
FORBIDDEN: dict[str, tuple[str, tuple[str, ...], str]] = {
    MMU_NOTIFIER: ("an mmu notifier's invalidate callback",
                   ("xe_vm.lock", "mmap_lock", "xe_vm.resv", "dma_resv"),
                   "it runs under mmap_lock or from reclaim (notes 4.3)"),
    FENCE_MAP: ("a dma-fence signalling section",
                ("xe_vm.lock", "mmap_lock", "xe_vm.resv", "dma_resv",
                 "userptr.notifier_lock"),
                "a fence it signals may be waited on under them (notes 4.3)"),
}


def by_name() -> dict[str, LockClass]:
    return {c.name: c for c in CLASSES}


def checker(orders: Sequence[str] = tuple(ORDERS), classes: Mapping[str, str] | None = None,
            sleeping: Mapping[str, bool] | None = None) -> LockChecker:
    """A lock checker seeded with the declared orders and the protection table.

    ``classes`` maps the program's lock names to the table's classes (a lock
    named after its class needs no entry); ``sleeping`` overrides the table's
    kinds for locks the table does not name.
    """
    table = by_name()
    names = dict(classes or {})
    kinds = {n: c.sleeping for n, c in table.items()}
    kinds.update({lock: table[c].sleeping for lock, c in names.items() if c in table})
    kinds.update(sleeping or {})
    chains = [list(ORDERS[o][0]) for o in orders]
    chains += [[c, pseudo] for pseudo, (_, never, _) in FORBIDDEN.items() for c in never]
    return LockChecker(classes=names, sleeping=kinds, order=chains,
                       protection={f: list(ls) for f, ls in PROTECTION.items()})


def markdown() -> str:
    """The table as README.md prints it."""
    rows = ["| lock class | kind | protects | source |", "|---|---|---|---|"]
    rows += [f"| `{c.name}` | {c.kind} | {c.protects} | {c.source} |" for c in CLASSES]
    rows += ["", "| order | outermost → innermost | source |", "|---|---|---|"]
    rows += [f"| {name} | {' → '.join(f'`{x}`' for x in chain)} | {src} |"
             for name, (chain, src) in ORDERS.items()]
    rows += ["", "| field | written only under |", "|---|---|"]
    rows += [f"| `{f}` | {' or '.join(f'`{x}`' for x in ls)} |"
             for f, ls in PROTECTION.items()]
    rows += ["", "| inside (pseudo-lock) | never takes | why |", "|---|---|---|"]
    rows += [f"| {ctx} (`{pseudo}`) | {', '.join(f'`{x}`' for x in ls)} | {why} |"
             for pseudo, (ctx, ls, why) in FORBIDDEN.items()]
    return "\n".join(rows) + "\n"
