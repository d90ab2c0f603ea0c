"""Render a trace for people: text in the kernel's diagram style, or HTML.

Text: one block per step -- the action and what it returned, then
``old:``/``req:``/``new:`` rows around the request.  HTML: one
self-contained page (no external resources) with a timeline of the steps
by thread and a VA-space snapshot of every state.
"""

from __future__ import annotations

import html
import json
from collections.abc import Sequence
from typing import Any

from checks.diagram import num, render
from checks.traces import Step, Trace
from model.gpuva import Va

_WINDOW = 12  # mappings shown around the request before eliding


def _vas(state: dict[str, Any]) -> list[Va]:
    return [Va(int(a), int(r), g, int(o)) for a, r, g, o in state.get("vas", [])]


def _symbols(trace: Trace) -> dict[str, int]:
    return {}  # real offsets: a trace states values, not a rule


def _req(step: Step) -> Va | None:
    a = step.args
    if "addr" in a and "range" in a and isinstance(a["addr"], int) and isinstance(a["range"], int):
        if a["range"] <= 0:
            return None
        gem = a.get("gem") if step.action == "Map" else f"<{step.action.lower()}>"
        return Va(a["addr"], a["range"], gem, int(a.get("offset", 0) or 0))
    return None


def _window(vas: list[Va], req: Va | None) -> list[Va]:
    if req is None or len(vas) <= _WINDOW:
        return vas
    near = [v for v in vas if v.end >= req.addr and v.addr <= req.end]
    return near or vas[:_WINDOW]


def describe_step(step: Step) -> str:
    args = ", ".join(f"{k}={v!r}" if isinstance(v, str) or v is None else f"{k}={v:#x}"
                     if isinstance(v, int) and v >= 1 << 16 else f"{k}={v}"
                     for k, v in step.args.items())
    who = f"[{step.thread}] " if step.thread else ""
    return f"{who}{step.action}({args})"


def _result(step: Step) -> str:
    err = step.state.get("lastErr", "OK")
    if err != "OK":
        return f"-{err}"
    ops = step.state.get("lastOps", [])
    return "; ".join(_op_text(op) for op in ops) if ops else "no ops"


def _va_text(v: Sequence[Any] | None) -> str:
    if not v:
        return "-"
    a, r, g, o = v
    return f"{'null' if g is None else g}[{num(a)},{num(a + r)})@{num(o)}"


def _op_text(op: dict[str, Any]) -> str:
    kind = op.get("op")
    if kind == "map":
        return f"map {_va_text([op['addr'], op['range'], op['gem'], op['offset']])}"
    if kind == "unmap":
        return f"unmap {_va_text(op['va'])}" + (" keep" if op.get("keep") else "")
    if kind == "remap":
        parts = [f"{s} {_va_text(op[s])}" for s in ("prev", "next") if op.get(s)]
        return (f"remap {_va_text(op['va'])}" + (" keep" if op.get("keep") else "")
                + f" -> {', '.join(parts)}")
    if kind == "prefetch":
        return f"prefetch {_va_text(op['va'])}"
    return json.dumps(op)


def text(trace: Trace) -> str:
    out = [f"trace of {trace.spec} ({trace.source}), profile {trace.profile}, "
           f"{len(trace.steps) - 1} step(s)"]
    if trace.description:
        out.append(trace.description)
    prev: list[Va] = []
    for step in trace.steps:
        now = _vas(step.state)
        if step.index == 0:
            out.append("")
            out.append("state 0 (Init)")
            out.extend(render([("vas", now)], {}, indent="    "))
            prev = now
            continue
        req = _req(step)
        out.append("")
        out.append(f"step {step.index}: {describe_step(step)} -> {_result(step)}")
        rows: list[tuple[str, Sequence[Va]]] = [("old", _window(prev, req))]
        if req is not None:
            rows.append(("req", [req]))
        rows.append(("new", _window(now, req)))
        out.extend(render(rows, {}, indent="    "))
        prev = now
    return "\n".join(out) + "\n"


# --------------------------------------------------------------------- html

_CSS = """
body{font:14px/1.4 system-ui,sans-serif;margin:1.5em;color:#222}
h1{font-size:1.3em} table{border-collapse:collapse} td,th{padding:2px 8px;text-align:left}
tr.step{border-top:1px solid #ccc} tr.err td.res{color:#b00}
.lane{font-family:monospace;white-space:nowrap}
.bar{position:relative;overflow:hidden;height:18px;background:#f3f3f3;min-width:480px;margin:2px 0}
.va{position:absolute;top:1px;height:16px;border:1px solid #333;box-sizing:border-box;
font:11px monospace;overflow:hidden;text-align:center;color:#000}
.req{background:repeating-linear-gradient(45deg,#fff,#fff 3px,#ddd 3px,#ddd 6px)}
pre{background:#fafafa;border:1px solid #eee;padding:6px;margin:4px 0}
"""

_JS = """
document.querySelectorAll('tr.step').forEach(function(row){
  row.addEventListener('click', function(){
    var d=document.getElementById('d'+row.dataset.index);
    if(d){d.hidden=!d.hidden;}
  });
});
document.getElementById('count').textContent=document.querySelectorAll('tr.step').length;
"""

_PALETTE = ["#8dd3c7", "#ffffb3", "#bebada", "#fb8072", "#80b1d3", "#fdb462", "#b3de69",
            "#fccde5", "#d9d9d9", "#bc80bd"]


def _bar(vas: Sequence[Va], lo: int, hi: int, colours: dict[str | None, str],
         req: Va | None = None) -> str:
    span = max(hi - lo, 1)
    parts = []
    for v in vas:
        left = 100.0 * (v.addr - lo) / span
        width = max(100.0 * v.range / span, 0.5)
        label = html.escape(f"{v.gem}@{v.offset}" if v.gem is not None else "null")
        parts.append(f'<div class="va" title="{html.escape(_va_text(v.to_json()))}" '
                     f'style="left:{left:.3f}%;width:{width:.3f}%;'
                     f'background:{colours.get(v.gem, "#ccc")}">{label}</div>')
    if req is not None:
        left = 100.0 * (req.addr - lo) / span
        width = max(100.0 * req.range / span, 0.5)
        parts.append(f'<div class="va req" title="request" style="left:{left:.3f}%;'
                     f'width:{width:.3f}%">{html.escape(str(req.gem))}</div>')
    return f'<div class="bar">{"".join(parts)}</div>'


def page(trace: Trace) -> str:
    """One self-contained HTML page showing every step of ``trace``."""
    cfg = trace.config
    lo = int(cfg.get("mm_start", 0))
    hi = lo + int(cfg.get("mm_range", 1))
    all_vas = [v for s in trace.steps for v in _vas(s.state)]
    reqs = [r for s in trace.steps if (r := _req(s)) is not None]
    focus = [*all_vas, *(r for r in reqs if r.gem is None or not r.gem.startswith("<"))]
    if focus:  # zoom to the mappings and the map requests
        lo = max(lo, min(v.addr for v in focus))
        hi = min(hi, max(v.end for v in focus))
    gems = sorted({v.gem for v in all_vas if v.gem is not None} |
                  {r.gem for r in reqs if r.gem is not None and not r.gem.startswith("<")})
    colours: dict[str | None, str] = {g: _PALETTE[i % len(_PALETTE)] for i, g in enumerate(gems)}
    colours[None] = "#eeeeee"
    threads = sorted({s.thread for s in trace.steps if s.thread}) or ["main"]
    head = "".join(f"<th>{html.escape(t)}</th>" for t in threads)
    rows = []
    prev: list[Va] = []
    for s in trace.steps:
        now = _vas(s.state)
        req = _req(s)
        lane = s.thread or "main"
        cells = "".join(
            f'<td class="lane">{html.escape(describe_step(s)) if t == lane else ""}</td>'
            for t in threads)
        res = "initial state" if s.index == 0 else _result(s)
        err = s.index > 0 and s.state.get("lastErr", "OK") != "OK"
        rows.append(
            f'<tr class="step{" err" if err else ""}" data-index="{s.index}">'
            f"<td>{s.index}</td>{cells}<td class=\"res\">{html.escape(res)}</td>"
            f"<td>{_bar(now, lo, hi, colours)}</td></tr>")
        diagram = render(
            [("old", _window(prev, req)), *([("req", [req])] if req else []),
             ("new", _window(now, req))] if s.index else [("vas", now)], {})
        state_json = json.dumps({k: v for k, v in s.state.items()}, indent=1)
        rows.append(
            f'<tr id="d{s.index}"><td></td><td colspan="{len(threads) + 2}">'
            f"{_bar(prev, lo, hi, colours, req) if s.index else ''}"
            f"<pre>{html.escape(chr(10).join(diagram))}</pre>"
            f"<details><summary>state {s.index}</summary><pre>{html.escape(state_json)}</pre>"
            f"</details></td></tr>")
        prev = now
    title = html.escape(f"{trace.spec} trace ({trace.source}, profile {trace.profile})")
    desc = html.escape(trace.description)
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{title}</title>
<style>{_CSS}</style></head><body>
<h1>{title}</h1>
<p>{desc}</p>
<p>VM <code>{html.escape(json.dumps(cfg))}</code>; showing addresses
<code>[{lo:#x}, {hi:#x})</code>; <span id="count">{len(trace.steps)}</span> states.
Click a step to hide or show its diagram.</p>
<table><thead><tr><th>#</th>{head}<th>result</th><th>VA space after</th></tr></thead>
<tbody>
{chr(10).join(rows)}
</tbody></table>
<script>{_JS}</script>
</body></html>
"""
