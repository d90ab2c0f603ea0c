"""Path signatures: which case each existing mapping is in.

A *path* of a relation is one combination of per-mapping cases, read in slot
(address) order.  Each slot gets exactly one label (``paths-partition``
proves that the labels of a slot are exclusive and exhaustive), so the
feasible label tuples partition every input, and one concrete input per
tuple -- a *conformance vector* -- exercises every path.

``upstream``
    ``-`` (no mapping), ``apart`` (not overlapped), and for an overlapped
    mapping ``inside`` / ``prev`` / ``next`` / ``both`` (the piece(s) that
    stick out of the request), suffixed ``.c`` (compatible: same GEM and
    base, whatever the flags) or ``.n`` (not);
``rfc2023``
    ``-``, ``apart``, ``left.*`` (ends exactly at the request: the left
    neighbour), ``right.*`` (starts exactly at its end), and for an overlapped
    mapping the case ``A1`` .. ``C3`` of ``model/profiles.py``; suffixes ``.c``
    (mergeable: compatible with the request's flags), ``.n`` (not) and, for a
    neighbour, ``.x`` (mergeable but in another region);
``unmap``
    ``-``, ``apart``, ``inside``, ``prev``, ``next``, ``both``.
"""

from __future__ import annotations

import z3

from specs.z3.layout import Mapping
from specs.z3.splitmerge import Spec
from specs.z3.u64 import Term

RELATIONS = ("upstream", "rfc2023", "unmap")


def _compat_suffix(base: str, ov: Term, compat: Term) -> dict[str, Term]:
    return {f"{base}.c": z3.And(ov, compat), f"{base}.n": z3.And(ov, z3.Not(compat))}


def slot_labels(spec: Spec, m: Mapping, compat: Term) -> dict[str, Term]:
    """Label -> condition, for one slot of ``spec``."""
    ar, req = spec.ar, spec.req
    ov = z3.And(m.present, ar.lt(m.addr, req.end), ar.lt(req.addr, m.end))
    left_out, right_out = ar.lt(m.addr, req.addr), ar.gt(m.end, req.end)
    sides = {
        "inside": z3.And(ov, z3.Not(left_out), z3.Not(right_out)),
        "prev": z3.And(ov, left_out, z3.Not(right_out)),
        "next": z3.And(ov, z3.Not(left_out), right_out),
        "both": z3.And(ov, left_out, right_out),
    }
    out: dict[str, Term] = {"-": z3.Not(m.present)}
    if spec.action == "Unmap":
        out["apart"] = z3.And(m.present, z3.Not(ov))
        out.update(sides)
        return out
    if spec.profile == "upstream":
        out["apart"] = z3.And(m.present, z3.Not(ov))
        for name, cond in sides.items():
            out.update(_compat_suffix(name, cond, compat))
        return out
    left = z3.And(m.present, m.end == req.addr)
    right = z3.And(m.present, m.addr == req.end)
    out["apart"] = z3.And(m.present, z3.Not(ov), z3.Not(left), z3.Not(right))
    vm = spec.vm
    for name, adj, other in (("left", left, z3.Not(vm.in_region(m.addr, req.end))),
                             ("right", right, z3.Not(vm.in_region(req.addr, m.end)))):
        out[f"{name}.c"] = z3.And(adj, compat, z3.Not(other))
        out[f"{name}.x"] = z3.And(adj, compat, other)
        out[f"{name}.n"] = z3.And(adj, z3.Not(compat))
    a_rel = {"A": m.addr == req.addr, "B": ar.lt(m.addr, req.addr), "C": ar.gt(m.addr, req.addr)}
    e_rel = {"1": m.end == req.end, "2": ar.lt(m.end, req.end), "3": ar.gt(m.end, req.end)}
    for a, ac in a_rel.items():
        for e, ec in e_rel.items():
            out.update(_compat_suffix(a + e, z3.And(ov, ac, ec), compat))
    return out


def labels(spec: Spec) -> list[dict[str, Term]]:
    """Per slot, label -> condition; compatibility is the relation's own."""
    return [slot_labels(spec, m, c) for m, c in zip(spec.layout.slots, spec.compat, strict=True)]


def partition(spec: Spec) -> Term:
    """Every slot has exactly one label."""
    conds = []
    for per_slot in labels(spec):
        conds.append(z3.Sum([z3.If(c, 1, 0) for c in per_slot.values()]) == 1)
    return spec.ar.all(conds)


def relation_name(spec: Spec) -> str:
    return spec.relation
