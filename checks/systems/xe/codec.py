"""XeBind's TLA+ encoding of the xe system's async-VM state, and back.

Pages of 4 KiB from VA 0: a VMA ``[addr, range, gem, offset, flags]`` is the
record ``[first, n, bo, bopage, ro]`` (the read-only bit of ``flags``; the
conformance runs use no tile mask); the page tables are the set of
``<<page, <<bo, bopage, ro>>>>`` pairs of the mapped pages (the spec's
``Observed``); a pending op's missing piece is ``"none"`` and its failing
sub-steps a set; the seed's oops is a boolean.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from checks.systems import VocabularyArgs
from checks.systems.front_end import RunsCodec
from checks.tlc.values import TlaSet, tla
from model.pagetable import PageTable, Target
from model.xe import VOCABULARY

P = 1 << 12


def _rec(v: Sequence[Any]) -> dict[str, Any]:
    return {"first": v[0] // P, "n": v[1] // P, "bo": str(v[2]), "bopage": v[3] // P,
            "ro": bool(v[4] & 1)}


def _va(r: Mapping[str, Any]) -> list[Any]:
    return [int(r["first"]) * P, int(r["n"]) * P, str(r["bo"]), int(r["bopage"]) * P,
            int(bool(r["ro"]))]


def _pairs(value: Any) -> bool:
    """A set of ``<<page, target>>`` pairs (``Observed``), not the raw page function."""
    return isinstance(value, list) and all(isinstance(x, list) and len(x) == 2
                                           and type(x[0]) is int and isinstance(x[1], list)
                                           for x in value)


class XeCodec(RunsCodec, VocabularyArgs):
    """The :class:`~checks.systems.Codec` of ``xe``."""

    vocabulary = VOCABULARY
    spec_name = "XeBind"
    runs_module = "checks.systems.xe.runs"

    def to_spec(self, var: str, value: Any) -> Any:
        if var == "tree":
            return TlaSet(sorted((_rec(v) for v in value), key=tla))
        if var == "pte":
            out = []
            for a, n, _, t in value:
                for k in range(n // P):
                    out.append([a // P + k, [t[0], (t[1] + k * P) // P, bool(t[2] & 1)]])
            return TlaSet(out)
        if var == "pending":
            return [{"id": o["id"], "kind": o["kind"], "vma": _rec(o["vma"]),
                     "prev": "none" if o["prev"] is None else _rec(o["prev"]),
                     "next": "none" if o["next"] is None else _rec(o["next"]),
                     "unmap_done": o["unmap_done"], "prev_done": o["prev_done"],
                     "next_done": o["next_done"], "fail": TlaSet(list(o["fail"])),
                     "fence": o["fence"]} for o in value]
        if var == "oops":
            return bool(value)
        return value

    def from_spec(self, var: str, value: Any) -> Any:
        if value == [] and var == "pc":
            value = {}   # a function over an empty set prints as <<>>
        if var == "tree":
            return sorted(_va(r) for r in value)
        if var == "pte":
            pt = PageTable()
            if isinstance(value, dict | list) and not _pairs(value):   # the raw function
                items = value.items() if isinstance(value, dict) else enumerate(value)
                value = [[p, t] for p, t in items if t != "none"]
            for p, t in sorted(value, key=lambda x: x[0]):
                pt.write(p * P, P, Target(str(t[0]), int(t[1]) * P, int(bool(t[2]))))
            return pt.abstract()
        if var == "pending":
            return [{"id": o["id"], "kind": o["kind"], "vma": _va(o["vma"]),
                     "prev": None if o["prev"] == "none" else _va(o["prev"]),
                     "next": None if o["next"] == "none" else _va(o["next"]),
                     "unmap_done": o["unmap_done"], "prev_done": o["prev_done"],
                     "next_done": o["next_done"], "fail": sorted(o["fail"]),
                     "fence": o["fence"]} for o in value]
        if var == "execd":
            return [[int(i), str(s)] for i, s in value]
        if var == "oops":
            return "oops" if value else ""
        if var == "fences":
            return [str(f) for f in value]
        return value


CODEC = XeCodec()
