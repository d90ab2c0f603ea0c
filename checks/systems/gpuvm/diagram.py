"""The kernel's ``old:/req:/new:`` diagrams: render them and read them back.

A diagram is a header line of addresses and one bar line per row; each
mapping is a run of dashes between two bars with its GEM's name in the
middle, and the offsets of the mappings, left to right, follow the last bar::

             0     1     2     3
        old: |--a--------------|  a@n
        req:       |--b--|        b@m
        new: |--a--|--b--|--a--|  a@n b@m a@n+2

Offsets are written against symbols (``n``, ``m``) so a diagram states the
offset rule rather than one number.  The same code renders any VA-space
snapshot for ``gpuvm-check show`` (boundaries spaced evenly, labelled with
their real addresses) and parses the cases in ``model.profiles``' docstring,
which the tests execute.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from model.gpuva import Va
from model.ops import Map, Op, Prefetch, Remap, Unmap

#: Default symbols: ``n`` and ``m`` stand for these offsets.
SYMBOLS: dict[str, int] = {"n": 1000, "m": 2000}
CELL = 6


# ------------------------------------------------------------------- format

def format_offset(value: int, symbols: Mapping[str, int] = SYMBOLS) -> str:
    best = None
    for name, base in symbols.items():
        if abs(value - base) < 500 and (best is None or abs(value - base) < abs(best[1])):
            best = (name, value - base)
    if best is None:
        return str(value) if value < 1 << 16 else hex(value)
    name, delta = best
    return name if delta == 0 else f"{name}{delta:+d}"


def parse_offset(text: str, symbols: Mapping[str, int] = SYMBOLS) -> int:
    m = re.fullmatch(r"([a-z])?([+-]\d+)?|(0x[0-9a-f]+|\d+)", text.strip())
    if m is None:
        raise ValueError(f"bad offset {text!r}")
    if m.group(3):
        return int(m.group(3), 0)
    base = symbols[m.group(1)] if m.group(1) else 0
    return base + (int(m.group(2)) if m.group(2) else 0)


def num(x: int) -> str:
    """An address as people read it: decimal when small, hex when large."""
    return str(x) if x < 1 << 16 else hex(x)


def format_va(va: Va | Map, symbols: Mapping[str, int] = SYMBOLS) -> str:
    gem = "null" if va.gem is None else va.gem
    return f"{gem}[{num(va.addr)},{num(va.addr + va.range)})@{format_offset(va.offset, symbols)}"


def format_op(op: Op, symbols: Mapping[str, int] = SYMBOLS) -> str:
    if isinstance(op, Map):
        return f"map {format_va(op, symbols)}"
    if isinstance(op, Unmap):
        return f"unmap {format_va(op.va, symbols)}" + (" keep" if op.keep else "")
    if isinstance(op, Remap):
        head = f"remap {format_va(op.unmap.va, symbols)}" + (" keep" if op.unmap.keep else "")
        pieces = [f"{side} {format_va(p, symbols)}"
                  for side, p in (("prev", op.prev), ("next", op.next)) if p is not None]
        return f"{head} -> {', '.join(pieces)}"
    if isinstance(op, Prefetch):
        return f"prefetch {format_va(op.va, symbols)}"
    raise TypeError(op)


def format_ops(ops: Sequence[Op], symbols: Mapping[str, int] = SYMBOLS) -> str:
    return "; ".join(format_op(op, symbols) for op in ops) if ops else "no ops"


# ------------------------------------------------------------------- render

def render(rows: Sequence[tuple[str, Sequence[Va]]], symbols: Mapping[str, int] = SYMBOLS,
           indent: str = "", bounds: Iterable[int] = ()) -> list[str]:
    """Render rows of mappings over a shared address header."""
    points = sorted({*bounds, *(p for _, vas in rows for va in vas for p in (va.addr, va.end))})
    if not points:
        return [f"{indent}{label}: (empty)" for label, _ in rows]
    names = [len("null" if va.gem is None else va.gem) for _, vas in rows for va in vas]
    width = max(CELL, *(len(num(p)) + 2 for p in points), *(n + 4 for n in names))
    lab = max(len(label) for label, _ in rows) + 2
    col = {p: lab + i * width for i, p in enumerate(points)}
    header = [" "] * (col[points[-1]] + width)
    for p in points:
        for j, ch in enumerate(num(p)):
            header[col[p] + j] = ch
    lines = [indent + "".join(header).rstrip()]
    for label, vas in rows:
        line = [" "] * (col[points[-1]] + 1)
        line[: len(label) + 1] = f"{label}:"
        for va in vas:
            a, e = col[va.addr], col[va.end]
            line[a] = line[e] = "|"
            name = "null" if va.gem is None else va.gem
            inner = f"--{name}".ljust(e - a - 1, "-")[: e - a - 1]
            line[a + 1: e] = inner
        offs = " ".join(f"{'null' if v.gem is None else v.gem}@{format_offset(v.offset, symbols)}"
                        for v in vas if v.gem is None or not v.gem.startswith("<"))
        body = "".join(line).rstrip() if vas else f"{label}:"
        tail = "  " + offs if offs else ("  (nothing mapped)" if not vas else "")
        lines.append((indent + body.ljust(len(line)) + tail).rstrip())
    return lines


# -------------------------------------------------------------------- parse

@dataclass
class Case:
    """One documented case: the layout, the request, and what each profile gives."""

    number: int
    title: str
    old: list[Va] = field(default_factory=list)
    req: Map | None = None
    new: dict[str, list[Va]] = field(default_factory=dict)
    ops: dict[str, str] = field(default_factory=dict)


PROFILE_NAMES = ("rfc2023", "upstream")
_ROW = re.compile(r"^(old'?|req|new(?: rfc2023| upstream)?):\s")
_OPS = re.compile(r"^ops(?: (rfc2023|upstream))?:\s+(.*)$")
_TITLE = re.compile(r"^(\d+)\)\s+(.*)$")


def _parse_row(header: str, line: str, symbols: Mapping[str, int]) -> list[Va]:
    nums = {m.start(): int(m.group(), 0) for m in re.finditer(r"0x[0-9a-f]+|\d+", header)}
    body, _, tail = line.rpartition("|")
    body += "|"
    bars = [i for i, ch in enumerate(body) if ch == "|"]
    for b in bars:
        if b not in nums:
            raise ValueError(f"bar at column {b} has no address above it: {line!r}")
    offsets = tail.split()
    vas: list[Va] = []
    for a, e in itertools.pairwise(bars):
        cell = body[a + 1: e]
        if "-" not in cell:
            continue
        name = cell.replace("-", "").strip().rstrip("'")
        if not offsets:
            raise ValueError(f"missing offset for segment {name!r}: {line!r}")
        gem_s, _, off = offsets.pop(0).partition("@")
        if gem_s.rstrip("'") != name:
            raise ValueError(f"offset {gem_s!r} does not name segment {name!r}: {line!r}")
        gem = None if name == "null" else name
        vas.append(Va(nums[a], nums[e] - nums[a], gem, parse_offset(off, symbols)))
    if offsets:
        raise ValueError(f"offsets left over {offsets}: {line!r}")
    return vas


def parse_cases(doc: str, symbols: Mapping[str, int] = SYMBOLS) -> list[Case]:
    """Read every numbered case (``N) title`` then its diagram) from a docstring."""
    cases: list[Case] = []
    header = ""
    for raw in doc.splitlines():
        line = raw.strip()
        if m := _TITLE.match(line):
            cases.append(Case(int(m.group(1)), m.group(2)))
            header = ""
            continue
        if not cases:
            continue
        case = cases[-1]
        if re.fullmatch(r"[0-9x a-f]+", line) and re.search(r"\d", line):
            header = raw
            continue
        if m := _ROW.match(line):
            if not header:
                raise ValueError(f"case {case.number}: row before its address header")
            # align the row with the header: both keep their original indentation
            vas = _parse_row(header, raw, symbols)
            label = m.group(1)
            if label.startswith("old"):
                case.old.extend(vas)
            elif label == "req":
                if len(vas) != 1:
                    raise ValueError(f"case {case.number}: a request is one mapping")
                case.req = Map.of(vas[0])
            elif label == "new":
                for p in PROFILE_NAMES:
                    case.new.setdefault(p, vas)
            else:
                case.new[label.split()[1]] = vas
            continue
        if m := _OPS.match(line):
            for p in (m.group(1),) if m.group(1) else PROFILE_NAMES:
                case.ops[p] = m.group(2).strip()
    return cases
