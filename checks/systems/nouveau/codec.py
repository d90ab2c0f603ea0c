"""NouveauBind's TLA+ encoding of the nouveau system's queue state, and back.

The spec works in 4 KiB pages from VA 0 (the conformance configurations put
their one region at VA 0): a mapping ``[addr, range, handle, offset, kind]``
is the record ``[first, n, bo, bopage]`` (kind 0); the page tables and the
page-table counts are sets of ``<<page, value>>`` pairs for the pages that
have one (the spec's ``Observed`` writes them so); a job's ``put`` is the
sequence of its pages; the exec entity of the configurations' one channel
(1) is ``"exec"``; syncobj handles are strings.  What the spec does not hold
of a job (``jobinfo``: its kind, sync flag, MAP references, FREEd regions)
comes back from the thread's program when the model restores a state.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from checks.systems import VocabularyArgs
from checks.systems.front_end import RunsCodec
from checks.tlc.values import TlaFcn, TlaSet, tla
from model.nouveau import VOCABULARY
from model.pagetable import PageTable, RunCounts, Target

P = 1 << 12


def _rec(v: Sequence[Any]) -> dict[str, Any]:
    return {"first": v[0] // P, "n": v[1] // P, "bo": str(v[2]), "bopage": v[3] // P}


def _va(r: Mapping[str, Any]) -> list[Any]:
    return [int(r["first"]) * P, int(r["n"]) * P, str(r["bo"]), int(r["bopage"]) * P, 0]


def _entity(e: str) -> str:
    return "exec" if e.startswith("exec:") else e


def _model_entity(e: str) -> str:
    """The spec's one exec entity is channel 1's (the conformance configurations')."""
    return "exec:1" if e == "exec" else e


def _pages(raw: Sequence[Any]) -> list[list[Any]]:
    out = []
    for a, n, _leaf, t in raw:
        for k in range(n // P):
            out.append([a // P + k, "sparse" if t == "sparse" else
                        [t[0], (t[1] + k * P) // P]])
    return out


class NouveauCodec(RunsCodec, VocabularyArgs):
    """The :class:`~checks.systems.Codec` of ``nouveau``."""

    vocabulary = VOCABULARY
    spec_name = "NouveauBind"
    runs_module = "checks.systems.nouveau.runs"

    def args_to_spec(self, action: str, args: Mapping[str, Any]) -> list[Any]:
        out = super().args_to_spec(action, args)
        return [_entity(out[0])] if action in ("Run", "Free") else out

    def args_from_spec(self, action: str, args: Mapping[str, Any]) -> dict[str, Any]:
        out = dict(args)
        if action in ("Run", "Free") and "entity" in out:
            out["entity"] = _model_entity(str(out["entity"]))
        return out

    def to_spec(self, var: str, value: Any) -> Any:
        if var == "tree":
            return TlaSet(sorted((_rec(v) for v in value), key=tla))
        if var == "linked":
            return TlaSet(sorted((_rec(v) for vs in value.values() for v in vs), key=tla))
        if var == "pte":
            return TlaSet([tuple_(p, tuple_(*t) if isinstance(t, list) else t)
                           for p, t in _pages(value)])
        if var == "ptref":
            return TlaSet([tuple_(a // P + k, c) for a, e, c in value
                           for k in range((e - a) // P)])
        if var == "queue":   # a function: entity names ("bind:t1") are no field names
            return TlaFcn({_entity(e): q for e, q in value.items()})
        if var == "jobs":
            return [{"t": j["t"], "k": j["k"], "e": _entity(j["e"]), "st": j["st"],
                     "deps": TlaSet(list(j["deps"])),
                     "added": TlaSet(sorted((_rec(v) for v in j["added"]), key=tla)),
                     "removed": TlaSet(sorted((_rec(v) for v in j["removed"]), key=tla)),
                     "put": [a // P + k for a, n in j["put"] for k in range(n // P)]}
                    for j in value]
        if var == "syncs":
            return TlaFcn({s: TlaSet([tuple_(p, j) for p, j in pairs])
                           for s, pairs in value.items()})
        if var == "refs":
            return TlaFcn(value)
        if var == "promised":
            return TlaSet([tuple_(str(s), p) for s, p in value])
        return value

    def from_spec(self, var: str, value: Any) -> Any:
        if value == [] and var in ("syncs", "queue", "refs", "pc", "wait"):
            value = {}   # a function over an empty set prints as <<>>
        if var == "tree":
            return sorted(_va(r) for r in value)
        if var == "linked":
            out: dict[str, list[list[Any]]] = {}
            for r in value:
                v = _va(r)
                out.setdefault(v[2], []).append(v)
            return {h: sorted(vs) for h, vs in sorted(out.items())}
        if var == "pte":
            pt = PageTable()
            if isinstance(value, dict):   # the spec's raw page function (a TLC state)
                value = [[p, t] for p, t in value.items() if t != "none"]
            for p, t in sorted(value, key=lambda x: x[0]):
                pt.write(p * P, P, Target(str(t[0]), int(t[1]) * P, 0))
            return pt.abstract()
        if var == "ptref":
            rc = RunCounts()
            if isinstance(value, dict):
                value = [[p, c] for p, c in value.items() if c]
            for p, c in value:
                rc.add(p * P, (p + 1) * P, int(c))
            return rc.abstract()
        if var == "jobs":
            return [{"t": j["t"], "k": j["k"], "e": _model_entity(j["e"]), "st": j["st"],
                     "deps": sorted(j["deps"]), "added": sorted(_va(r) for r in j["added"]),
                     "removed": sorted(_va(r) for r in j["removed"]),
                     "put": _ranges(j["put"])} for j in value]
        if var == "syncs":
            return {str(s): sorted([int(p), int(j)] for p, j in pairs)
                    for s, pairs in sorted(value.items())}
        if var == "promised":
            return sorted([int(s), int(p)] for s, p in value)
        if var == "queue":
            return {_model_entity(e): list(q) for e, q in sorted(value.items())}
        if var == "refs":
            return {str(h): int(n) for h, n in sorted(value.items())}
        return value


def tuple_(*xs: Any) -> list[Any]:
    return list(xs)


def _ranges(pages: Sequence[int]) -> list[list[int]]:
    """A job's put pages back to the model's ranges (consecutive pages joined)."""
    out: list[list[int]] = []
    for p in pages:
        if out and out[-1][0] + out[-1][1] == p * P:
            out[-1][1] += P
        else:
            out.append([p * P, P])
    return out


CODEC = NouveauCodec()
