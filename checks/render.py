"""Render a trace for people: text, or one self-contained HTML page.

The layout is the same for every system: a header, the violation the trace
witnesses (``path:line: error: <invariant> at state k: <witness>``), then
one block per step -- thread, action and arguments, what it returned -- with
the system's own drawing of the state (the VA space's ``old:/req:/new:``
diagram, ...).  The HTML page has one lane per thread, the drawing of every
state, the state itself as JSON, and the violating step highlighted.  A
system without a renderer of its own gets its variables printed as JSON.
"""

from __future__ import annotations

import html
import json
from typing import Any, Protocol

from checks.systems import SYSTEMS, System, load
from checks.traces import Step, Trace


class Renderer(Protocol):
    def title(self, trace: Trace) -> str: ...

    def result(self, step: Step) -> str: ...

    def lines(self, step: Step, prev: Step | None) -> list[str]: ...

    def view(self, trace: Trace) -> Any: ...

    def bar(self, step: Step, view: Any, request_of: Step | None = None) -> str: ...

    def range_text(self, view: Any) -> str: ...


class PlainRenderer:
    """For systems without a drawing: the variables that changed, as JSON."""

    def title(self, trace: Trace) -> str:
        return f"config {json.dumps(trace.config)}"

    def result(self, step: Step) -> str:
        err = step.state.get("lastErr", "OK")
        return "ok" if err == "OK" else f"-{err}"

    def lines(self, step: Step, prev: Step | None) -> list[str]:
        out = []
        for k, v in step.state.items():
            if k == "lastErr":
                continue
            if prev is None or prev.state.get(k) != v:
                out.append(f"    {k} = {json.dumps(v)}")
        return out

    def view(self, trace: Trace) -> Any:
        return None

    def bar(self, step: Step, view: Any, request_of: Step | None = None) -> str:
        return ""

    def range_text(self, view: Any) -> str:
        return ""


def renderer_for(trace: Trace) -> Renderer:
    if trace.spec == "Sched":  # a scheduled run: threads and the locks they hold
        from checks.sched.render import SchedRenderer

        return SchedRenderer()
    system: System | None = next((s for s in SYSTEMS.values() if s.spec == trace.spec), None)
    if system is None or not system.render_ref:
        return PlainRenderer()
    r: Renderer = load(system.render_ref)
    return r


def describe_step(step: Step) -> str:
    args = ", ".join(f"{k}={v!r}" if isinstance(v, str) or v is None else f"{k}={v:#x}"
                     if type(v) is int and v >= 1 << 16 else f"{k}={json.dumps(v)}"
                     for k, v in step.args.items())
    who = f"[{step.thread}] " if step.thread else ""
    return f"{who}{step.action}({args})"


def violation_of(trace: Trace) -> dict[str, Any] | None:
    """The violation a trace records in ``#meta.violation``, if any."""
    v = trace.meta.get("violation")
    return v if isinstance(v, dict) else None


def violation_line(v: dict[str, Any]) -> str:
    where = v.get("where") or "trace"
    what = v.get("invariant", "?")
    what = "deadlock" if what == "deadlock" else f"{what} violated"
    return f"{where}: error: {what} at state {v.get('step', '?')}: {v.get('witness', '')}"


def _safe(fn: Any, *args: Any) -> Any:
    """Draw what can be drawn: a renderer that trips over an odd state says so."""
    try:
        return fn(*args)
    except (KeyError, TypeError, ValueError, IndexError, AttributeError) as e:
        return [f"    (cannot draw this state: {type(e).__name__}: {e})"] if fn.__name__ == (
            "lines") else f"(cannot draw: {e})"


def text(trace: Trace) -> str:
    r = renderer_for(trace)
    out = [f"trace of {trace.spec} ({trace.source}), {_safe(r.title, trace)}, "
           f"{len(trace.steps) - 1} step(s)"]
    if trace.description:
        out.append(trace.description)
    v = violation_of(trace)
    if v is not None:
        out.append(violation_line(v))
    prev: Step | None = None
    for step in trace.steps:
        out.append("")
        if step.index == 0:
            out.append("state 0 (Init)")
        else:
            out.append(f"step {step.index}: {describe_step(step)} -> "
                       f"{_safe(r.result, step)}")
        out.extend(_safe(r.lines, step, prev))
        if v is not None and v.get("step") == step.index:
            out.append(f"    ^ {v.get('invariant')}: {v.get('witness', '')}")
        prev = step
    if trace.loop is not None:
        out += ["", f"loop: after step {len(trace.steps) - 1}, state {trace.loop} again, "
                    "for ever"]
    return "\n".join(out) + "\n"


_CSS = """
body{font:14px/1.4 system-ui,sans-serif;margin:1.5em;color:#222}
h1{font-size:1.3em} table{border-collapse:collapse} td,th{padding:2px 8px;text-align:left}
tr.step{border-top:1px solid #ccc} tr.err td.res{color:#b00}
tr.violation{background:#fdd} p.violation{color:#b00;font-weight:bold}
.lane{font-family:monospace;white-space:nowrap}
.bar{position:relative;overflow:hidden;height:18px;background:#f3f3f3;min-width:480px;margin:2px 0}
.va{position:absolute;top:1px;height:16px;border:1px solid #333;box-sizing:border-box;
font:11px monospace;overflow:hidden;text-align:center;color:#000}
.req{background:repeating-linear-gradient(45deg,#fff,#fff 3px,#ddd 3px,#ddd 6px)}
pre{background:#fafafa;border:1px solid #eee;padding:6px;margin:4px 0}
.held{font:11px monospace;white-space:nowrap}
.lock{border:1px solid #333;padding:0 3px;margin:0 2px}
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


def page(trace: Trace) -> str:
    """One self-contained HTML page showing every step of ``trace``."""
    r = renderer_for(trace)
    view = _safe(r.view, trace)
    threads = sorted({s.thread for s in trace.steps if s.thread}) or ["main"]
    head = "".join(f"<th>{html.escape(t)}</th>" for t in threads)
    v = violation_of(trace)
    rows = []
    prev: Step | None = None
    for s in trace.steps:
        lane = s.thread or "main"
        cells = "".join(
            f'<td class="lane">{html.escape(describe_step(s)) if t == lane else ""}</td>'
            for t in threads)
        res = "initial state" if s.index == 0 else str(_safe(r.result, s))
        err = s.index > 0 and s.state.get("lastErr", "OK") != "OK"
        bad = v is not None and v.get("step") == s.index
        classes = "step" + (" err" if err else "") + (" violation" if bad else "")
        bar = _safe(r.bar, s, view) if view is not None else ""
        rows.append(
            f'<tr class="{classes}" data-index="{s.index}">'
            f"<td>{s.index}</td>{cells}<td class=\"res\">{html.escape(res)}</td>"
            f"<td>{bar}</td></tr>")
        diagram = _safe(r.lines, s, prev)
        witness = (f'<p class="violation">{html.escape(str(v.get("invariant")))}: '
                   f'{html.escape(str(v.get("witness", "")))}</p>') if bad and v else ""
        before = (_safe(r.bar, prev, view, s) if prev is not None and view is not None else "")
        state_json = json.dumps(s.state, indent=1)
        rows.append(
            f'<tr id="d{s.index}"><td></td><td colspan="{len(threads) + 2}">{witness}'
            f"{before}<pre>{html.escape(chr(10).join(diagram))}</pre>"
            f"<details><summary>state {s.index}</summary><pre>{html.escape(state_json)}</pre>"
            f"</details></td></tr>")
        prev = s
    title = html.escape(f"{trace.spec} trace ({trace.source}, {_safe(r.title, trace)})")
    desc = html.escape(trace.description)
    vline = (f'<p class="violation">{html.escape(violation_line(v))}</p>' if v else "")
    shown = html.escape(r.range_text(view)) if view is not None else ""
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{title}</title>
<style>{_CSS}</style></head><body>
<h1>{title}</h1>
<p>{desc}</p>
{vline}
<p>config <code>{html.escape(json.dumps(trace.config))}</code>; {shown};
<span id="count">{len(trace.steps)}</span> states.
Click a step to hide or show its drawing.</p>
<table><thead><tr><th>#</th>{head}<th>result</th><th>state after</th></tr></thead>
<tbody>
{chr(10).join(rows)}
</tbody></table>
<script>{_JS}</script>
</body></html>
"""
