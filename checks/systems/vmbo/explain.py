"""Witnesses of VmBo counterexamples, read off a trace's states.

TLC names the invariant a state breaks, not the object that breaks it.
Each check below is written again from the notes' C5 list, over the trace
state's variables (``vmbos``, ``vas``, ``handles``, ``gems``, ``vms``) and
not with the model's code, and says which vm_bo, GEM or VM breaks which
rule, expected against actual.  The first state (from the end) that some
check explains is the witness.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Mapping
from typing import Any

State = Mapping[str, Any]


def _name(b: Mapping[str, Any]) -> tuple[str, str, int]:
    return (b["vm"], b["gem"], b["n"])


def _handles(s: State) -> Counter[tuple[str, str, int]]:
    return Counter((h[0], h[1], h[2]) for hs in s["handles"].values() for h in hs)


def _unique(s: State) -> str | None:
    for what, field in (("alive", "kref"), ("on the GEM's list", "listed")):
        count = Counter((b["vm"], b["gem"]) for b in s["vmbos"] if b[field])
        for pair, n in sorted(count.items()):
            if n > 1:
                return f"{n} vm_bos of {pair} {what}, expected at most 1"
    return None


def _kref(s: State) -> str | None:
    held = _handles(s)
    for b in s["vmbos"]:
        want = len(b["vas"]) + held[_name(b)]
        if b["kref"] != want:
            return (f"vm_bo {_name(b)}: kref {b['kref']}, expected {want} "
                    f"({len(b['vas'])} VA(s) + {held[_name(b)]} handle(s))")
    return None


def _gem_ref(s: State) -> str | None:
    for g, o in s["gems"].items():
        want = 1 + sum(1 for b in s["vmbos"] if b["gem"] == g)
        if o["ref"] != want:
            return f"GEM {g}: refcount {o['ref']}, expected {want} (1 + its vm_bos)"
    return None


def _vm_ref(s: State) -> str | None:
    for v, o in s["vms"].items():
        if not o["alive"]:
            continue
        bos = sum(1 for b in s["vmbos"] if b["vm"] == v)
        vas = len(s["vas"].get(v, []))
        want = int(o["user"]) + bos + vas
        if o["ref"] != want:
            return (f"VM {v}: refcount {o['ref']}, expected {want} ({int(o['user'])} user + "
                    f"{bos} vm_bo(s) + {vas} VA(s))")
    return None


def _freed(s: State) -> str | None:
    names = {_name(b) for b in s["vmbos"]}
    for x in sorted(_handles(s)):
        if x not in names:
            return f"a job holds a handle of vm_bo {x}, which is freed"
    for b in s["vmbos"]:
        if not s["vms"][b["vm"]]["alive"]:
            return f"vm_bo {_name(b)} belongs to the freed VM {b['vm']}"
    for v, vas in s["vas"].items():
        for va in vas:
            if not any(b["vm"] == v and va[0] in b["vas"] for b in s["vmbos"]):
                return (f"VA {va} of VM {v} is on no live vm_bo's list: it was linked to "
                        "a freed one")
    return None


def _links(s: State) -> str | None:
    for v, vas in s["vas"].items():
        for va in vas:
            holders = [b for b in s["vmbos"] if b["vm"] == v and va[0] in b["vas"]]
            if len(holders) != 1:
                return f"VA {va} of VM {v} is on {len(holders)} vm_bo list(s), expected 1"
            if holders[0]["gem"] != va[2]:
                return f"VA {va} of VM {v} is linked to a vm_bo of GEM {holders[0]['gem']}"
    return None


def _published(s: State) -> str | None:
    for b in s["vmbos"]:
        if b["listed"] != (b["kref"] > 0) and b["listed"] != bool(b["vas"]):
            return (f"vm_bo {_name(b)} is {'' if b['listed'] else 'not '}on the GEM's list "
                    f"at kref {b['kref']} with {len(b['vas'])} VA(s)")
    return None


STATE_CHECKS: dict[str, Callable[[State], str | None]] = {
    "UniqueInv": _unique, "KrefInv": _kref, "GemRefInv": _gem_ref, "VmRefInv": _vm_ref,
    "NoUseAfterFreeInv": _freed, "VmFreeInv": _freed, "VaLinkInv": _links,
    "PublishedInv": _published,
}


def _step(before: State, action: str, after: State) -> str | None:
    """What a step changed that its contract (DestroyInv, UnmapOpsInv) forbids."""
    was = {_name(b): b for b in before["vmbos"]}
    now = {_name(b): b for b in after["vmbos"]}
    for x, b in sorted(was.items()):
        if x not in now and b["vas"]:
            return f"{action} destroyed vm_bo {x} with {len(b['vas'])} VA(s) still linked"
    if action == "UnmapOpsCreate":
        for x, b in sorted(was.items()):
            if x in now and now[x]["kref"] != b["kref"]:
                return (f"UnmapOpsCreate changed vm_bo {x}'s kref {b['kref']} -> "
                        f"{now[x]['kref']}, expected no change")
    return None


def explain(trace: Any) -> tuple[int, str] | None:
    """(step, witness) for the violation a VmBo trace ends in, if a check sees it."""
    invariant = str(trace.meta.get("violation", {}).get("invariant", ""))
    steps = trace.steps
    check = STATE_CHECKS.get(invariant.removesuffix("Step"))
    for i in range(len(steps) - 1, -1, -1):
        if check is not None:
            found = check(steps[i].state)
        elif i > 0:
            found = _step(steps[i - 1].state, steps[i].action, steps[i].state)
        else:
            found = None
        if found is not None:
            return i, found
    if invariant == "NoUseAfterFreeInv":
        last = len(steps) - 1
        return last, ("a freed vm_bo is still on a VM's extobj or evict list (the spec's "
                      "extobjL/evictL, which the trace does not log)")
    return None
