"""Z3 obligations of the vm_bo system: the reference-count protocol.

The functional core of drm_gpuvm_bo is arithmetic on three counts of one
vm_bo -- its ``kref`` ``k``, the VAs on its list ``n`` and the handles jobs
hold ``h`` -- and on its GEM's reference ``g``.  Seed 003 and the notes
(C5) state the protocol in prose; each obligation below writes it as terms
over integers and asks Z3 whether every step keeps it, for all counts:

``vmbo.kref-inductive``
    ``k = n + h`` (C5.4) is kept by every primitive -- create (k=1, h=1),
    find/obtain of an existing one (+1, +1 handle), link (+1, +1 VA),
    unlink (-1, -1 VA), put (-1, -1 handle) -- and destroy happens only at
    ``k = 0``, when ``n = 0`` and ``h = 0`` (C5.5);
``vmbo.gem-ref``
    ``g = 1 + live vm_bos`` (C5.6) is kept by create and destroy;
``vmbo.remap-order``
    upstream's REMAP (link every piece to the old VA's vm_bo, then unlink
    the old VA) never takes ``k`` to 0 on the way and ends at
    ``k + pieces - 1`` (C5.11);
``vmbo.remap-find-ref``
    seed 003's REMAP (find +1, link the pieces, unlink, put) likewise;
``vmbo.unmap-ops-neutral``
    ``bo_unmap_ops_create``'s walk (find +1 ... put) changes no count (C5.9).

Each has a known-bad variant, expected to be violated, whose counterexample
is the scenario the model mutant of the same name reproduces:
``bad.vmbo-remap-unlink-first`` (notes C6 Y8), ``bad.vmbo-iter-leaks-ref``
(Y2), ``bad.vmbo-link-no-get``.
"""

from __future__ import annotations

from collections.abc import Sequence

import z3

from specs.z3.goal import PROVED, VIOLATED, Goal, Obligation

#: a step's effect on (k, n, h): deltas
Delta = tuple[int, int, int]

CREATE = "create"
PRIMITIVES: dict[str, Delta] = {
    "find": (1, 0, 1),     # obtain of an existing vm_bo: the job holds a new handle
    "link": (1, 1, 0),
    "unlink": (-1, -1, 0),
    "put": (-1, 0, -1),
}


def _counts(prefix: str) -> tuple[z3.ArithRef, z3.ArithRef, z3.ArithRef]:
    return z3.Int(f"{prefix}.k"), z3.Int(f"{prefix}.n"), z3.Int(f"{prefix}.h")


def kref_inductive(variant: str | None = None) -> Goal:
    """Every primitive keeps ``k = n + h`` and ``k, n, h >= 0``; destroy only at k = 0."""
    k, n, h = _counts("s")
    inv = z3.And(k == n + h, n >= 0, h >= 0, k > 0)
    steps = dict(PRIMITIVES)
    if variant == "link-no-get":
        steps["link"] = (0, 1, 0)
    claims = []
    for _name, (dk, dn, dh) in steps.items():
        k2, n2, h2 = k + dk, n + dn, h + dh
        enabled = z3.And(n + dn >= 0, h + dh >= 0)  # an unlink needs a VA, a put a handle
        kept = z3.And(k2 == n2 + h2, k2 >= 0)
        destroyed_ok = z3.Implies(k2 == 0, z3.And(n2 == 0, h2 == 0))
        claims.append(z3.Implies(enabled, z3.And(kept, destroyed_ok)))
    ck, cn, ch = 1, 0, 1  # create: a fresh vm_bo, the obtaining job's handle its reference
    claims.append(z3.BoolVal(ck == cn + ch))
    return Goal(inv, z3.And(claims), {"k": k, "n": n, "h": h})


def gem_ref(variant: str | None = None) -> Goal:
    """``g = 1 + m`` (m live vm_bos of the GEM) is kept by create and destroy."""
    g, m = z3.Int("g"), z3.Int("m")
    inv = z3.And(g == 1 + m, m >= 0)
    destroy_g = g if variant == "destroy-no-gem-put" else g - 1
    claim = z3.And(g + 1 == 1 + (m + 1),
                   z3.Implies(m > 0, destroy_g == 1 + (m - 1)))
    return Goal(inv, claim, {"g": g, "m": m})


def _walk(k: z3.ArithRef, steps: Sequence[Delta]) -> tuple[list[z3.ArithRef], z3.ArithRef]:
    """The kref after each step of ``steps`` from ``k``, and the final one."""
    seen = []
    cur = k
    for dk, _, _ in steps:
        cur = cur + dk
        seen.append(cur)
    return seen, cur


def remap(order: str) -> Goal:
    """A REMAP of one VA with ``p`` pieces (1 or 2) of a vm_bo at ``k = n + h``, n >= 1.

    ``order``: ``link-first`` (upstream), ``find-ref`` (seed 003: find, links,
    unlink, put) or the bad ``unlink-first`` (the old VA unlinked, then the
    pieces linked: Y8).
    """
    k, n, h = _counts("s")
    p = z3.Int("pieces")
    inv = z3.And(k == n + h, n >= 1, h >= 0, z3.Or(p == 1, p == 2))
    claims = []
    for pieces in (1, 2):
        link, unlink = PRIMITIVES["link"], PRIMITIVES["unlink"]
        if order == "link-first":
            steps = [link] * pieces + [unlink]
        elif order == "find-ref":
            steps = [PRIMITIVES["find"]] + [link] * pieces + [unlink, PRIMITIVES["put"]]
        else:
            steps = [unlink] + [link] * pieces
        seen, final = _walk(k, steps)
        claims.append(z3.Implies(p == pieces, z3.And(*[x > 0 for x in seen],
                                                     final == k + pieces - 1)))
    return Goal(inv, z3.And(claims), {"k": k, "n": n, "h": h, "pieces": p},
                prefer=(h == 0, n == 1, p == 2))


def unmap_ops_neutral(variant: str | None = None) -> Goal:
    """The walk takes a find reference and gives it back: ``k`` is unchanged."""
    k, n, h = _counts("s")
    inv = z3.And(k == n + h, n >= 0, h >= 0, k > 0)
    steps = [PRIMITIVES["find"]] if variant == "iter-leak" else [PRIMITIVES["find"],
                                                                  PRIMITIVES["put"]]
    _, final = _walk(k, steps)
    return Goal(inv, final == k, {"k": k, "n": n, "h": h})


def obligations(k: int = 0) -> list[Obligation]:
    """Every vm_bo obligation (``k``, the split/merge layout size, does not apply)."""
    return [
        Obligation("vmbo.kref-inductive", PROVED,
                   "every primitive keeps kref = VAs + handles; destroy only at 0 with none",
                   kref_inductive, "vmbo"),
        Obligation("vmbo.gem-ref", PROVED,
                   "the GEM's reference is 1 + its live vm_bos across create and destroy",
                   gem_ref, "vmbo"),
        Obligation("vmbo.remap-order", PROVED,
                   "upstream REMAP (link the pieces, then unlink) never reaches 0",
                   lambda: remap("link-first"), "vmbo"),
        Obligation("vmbo.remap-find-ref", PROVED,
                   "seed 003 REMAP (find, link, unlink, put) never reaches 0",
                   lambda: remap("find-ref"), "vmbo"),
        Obligation("vmbo.unmap-ops-neutral", PROVED,
                   "bo_unmap_ops_create's walk changes no reference count",
                   unmap_ops_neutral, "vmbo"),
        Obligation("bad.vmbo-remap-unlink-first", VIOLATED,
                   "REMAP unlinking the old VA first reaches 0 (notes C6 Y8)",
                   lambda: remap("unlink-first"), "bad", "vmbo-remap-unlink-first"),
        Obligation("bad.vmbo-iter-leaks-ref", VIOLATED,
                   "the walk keeping its find reference leaks one (notes C6 Y2)",
                   lambda: unmap_ops_neutral("iter-leak"), "bad", "vmbo-iter-leaks-ref"),
        Obligation("bad.vmbo-link-no-get", VIOLATED,
                   "a link that takes no reference breaks kref = VAs + handles",
                   lambda: kref_inductive("link-no-get"), "bad", "vmbo-link-no-get"),
    ]
