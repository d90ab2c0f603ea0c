"""How a gpuvm trace looks: ``old:/req:/new:`` diagrams and VA-space bars.

The generic renderer (``checks.render``) lays out the steps, threads and
any violation; this module draws what is the VA space's own: the result of
a step (its op list or errno), the kernel-style diagram of the mappings
around the request, and an HTML bar of the mappings after each step.
"""

from __future__ import annotations

import html
import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from checks.systems.gpuvm.diagram import num, render
from checks.traces import Step, Trace
from model.gpuva import Va

_WINDOW = 12  # mappings shown around the request before eliding

_PALETTE = ["#8dd3c7", "#ffffb3", "#bebada", "#fb8072", "#80b1d3", "#fdb462", "#b3de69",
            "#fccde5", "#d9d9d9", "#bc80bd"]


def _vas(state: dict[str, Any]) -> list[Va]:
    out = []
    for v in state.get("vas", []):
        try:
            out.append(Va.from_json(v))
        except Exception:  # a trace of another shape: draw what can be drawn
            continue
    return out


def _req(step: Step) -> Va | None:
    a = step.args
    addr, range_ = a.get("addr"), a.get("range")
    if type(addr) is int and type(range_) is int and range_ > 0:
        gem = a.get("gem") if step.action == "Map" else f"<{step.action.lower()}>"
        off = a.get("offset", 0)
        return Va(addr, range_, gem if isinstance(gem, str) else None,
                  off if type(off) is int else 0)
    return None


def _window(vas: list[Va], req: Va | None) -> list[Va]:
    if req is None or len(vas) <= _WINDOW:
        return vas
    near = [v for v in vas if v.end >= req.addr and v.addr <= req.end]
    return near or vas[:_WINDOW]


def va_text(v: Sequence[Any] | None) -> str:
    if not v:
        return "-"
    a, r, g, o = v[0], v[1], v[2], v[3]
    flags = v[4] if len(v) > 4 else 0
    return (f"{'null' if g is None else g}[{num(a)},{num(a + r)})@{num(o)}"
            + (f" flags={flags:#x}" if flags else ""))


def op_text(op: dict[str, Any]) -> str:
    kind = op.get("op")
    if kind == "map":
        va = [op["addr"], op["range"], op["gem"], op["offset"], op.get("flags", 0)]
        return f"map {va_text(va)}"
    if kind == "unmap":
        return f"unmap {va_text(op['va'])}" + (" keep" if op.get("keep") else "")
    if kind == "remap":
        parts = [f"{s} {va_text(op[s])}" for s in ("prev", "next") if op.get(s)]
        return (f"remap {va_text(op['va'])}" + (" keep" if op.get("keep") else "")
                + f" -> {', '.join(parts)}")
    if kind == "prefetch":
        return f"prefetch {va_text(op['va'])}"
    return json.dumps(op)


@dataclass
class _View:
    lo: int
    hi: int
    colours: dict[str | None, str]


class GpuVmRenderer:
    """The ``gpuvm`` part of ``gpuvm-check show``."""

    def title(self, trace: Trace) -> str:
        return f"profile {trace.profile}"

    def result(self, step: Step) -> str:
        err = step.state.get("lastErr", "OK")
        if err != "OK":
            return f"-{err}"
        ops = step.state.get("lastOps", [])
        try:
            return "; ".join(op_text(op) for op in ops) if ops else "no ops"
        except (KeyError, TypeError, IndexError):
            return json.dumps(ops)

    def lines(self, step: Step, prev: Step | None) -> list[str]:
        now = _vas(step.state)
        if prev is None:
            return render([("vas", now)], {}, indent="    ")
        before = _vas(prev.state)
        req = _req(step)
        rows: list[tuple[str, Sequence[Va]]] = [("old", _window(before, req))]
        if req is not None:
            rows.append(("req", [req]))
        rows.append(("new", _window(now, req)))
        return render(rows, {}, indent="    ")

    def view(self, trace: Trace) -> _View:
        cfg = trace.config
        lo = int(cfg.get("mm_start", 0)) if type(cfg.get("mm_start", 0)) is int else 0
        rng = cfg.get("mm_range", 1)
        hi = lo + (int(rng) if type(rng) is int else 1)
        all_vas = [v for s in trace.steps for v in _vas(s.state)]
        reqs = [r for s in trace.steps if (r := _req(s)) is not None]
        focus = [*all_vas, *(r for r in reqs if r.gem is None or not r.gem.startswith("<"))]
        if focus:  # zoom to the mappings and the map requests
            lo = max(lo, min(v.addr for v in focus))
            hi = min(hi, max(v.end for v in focus))
        gems = sorted({v.gem for v in all_vas if v.gem is not None} |
                      {r.gem for r in reqs if r.gem is not None and not r.gem.startswith("<")})
        colours: dict[str | None, str] = {g: _PALETTE[i % len(_PALETTE)]
                                          for i, g in enumerate(gems)}
        colours[None] = "#eeeeee"
        return _View(lo, max(hi, lo + 1), colours)

    def bar(self, step: Step, view: Any, request_of: Step | None = None) -> str:
        """The mappings of ``step``'s state as one bar (with ``request_of``'s request)."""
        vas = _vas(step.state)
        req = _req(request_of) if request_of is not None else None
        span = max(view.hi - view.lo, 1)
        parts = []
        for v in vas:
            left = 100.0 * (v.addr - view.lo) / span
            width = max(100.0 * v.range / span, 0.5)
            label = html.escape(f"{v.gem}@{v.offset}" if v.gem is not None else "null")
            parts.append(f'<div class="va" title="{html.escape(va_text(v.to_json()))}" '
                         f'style="left:{left:.3f}%;width:{width:.3f}%;'
                         f'background:{view.colours.get(v.gem, "#ccc")}">{label}</div>')
        if req is not None:
            left = 100.0 * (req.addr - view.lo) / span
            width = max(100.0 * req.range / span, 0.5)
            parts.append(f'<div class="va req" title="request" style="left:{left:.3f}%;'
                         f'width:{width:.3f}%">{html.escape(str(req.gem))}</div>')
        return f'<div class="bar">{"".join(parts)}</div>'

    def range_text(self, view: Any) -> str:
        return f"addresses [{view.lo:#x}, {view.hi:#x})"


RENDERER = GpuVmRenderer()
