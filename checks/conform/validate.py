"""Model -> spec: recorded model runs validated by TLC against a system's spec.

Runs are grouped by their ``#meta.config``; each group becomes one module
``Trace<Spec>Data`` -- written next to copies of the spec folder's modules
in a temporary directory, never into ``specs/`` -- holding

``Tables``
    per logged variable, the distinct values the runs hold, in the spec's
    encoding (the system's codec), written once each;
``Logged``
    the logged variables' names;
``Traces``
    per run, its states ``[a |-> action, p |-> <<args in the spec's order>>,
    v |-> <<index into Tables[Logged[k]] of the k-th logged variable, ...>>]``;
``DoAction(name, p)``
    the spec action of that name applied to the positional arguments,
    generated from the system's action vocabulary (one declaration: names,
    parameters and their order).

Every tuple is split into definitions of a few elements each (SANY's time
grows with the square of one expression's size: one 50,000-element tuple
takes it half a minute, the same in short definitions a second).

The spec folder's ``Trace<Spec>.tla`` follows each run: a recorded step is
matched only by the spec action of its name and arguments leading to a state
whose logged variables equal the record.  In *exact* mode every variable is
logged and no other step may happen; in *partial* mode only some variables
are logged and the spec may take up to ``MaxHidden`` of its ``Internal``
steps between two logged ones (the etcd-raft / CCF way).  Every match prints
``@m <<t, i>>``; a run is allowed iff TLC matches all its states, and the
first state it never matches is where the run and the spec part.  The
spec's invariants named in the manifest (``trace_invariants``) are checked
on every state along the way.
"""

from __future__ import annotations

import json
import shutil
import tempfile
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

from checks.manifest import load_manifest
from checks.outcome import Outcome, ToolError
from checks.systems import System
from checks.tlc.runner import run_tlc
from checks.tlc.values import tla, tla_value
from checks.traces import Trace

TRACE_TIMEOUT = 600.0


@dataclass
class Validation:
    """What validating a batch of recorded runs against the spec gave."""

    outcome: Outcome
    seconds: float
    traces: int
    states: int
    failing_trace: int | None = None
    failing_state: int | None = None
    detail: str = ""
    where: str | None = None


def dispatch(system: System) -> list[str]:
    """``DoAction(name, p)``: every action of the vocabulary, in the spec's argument order."""
    lines = ["DoAction(name, p) =="]
    for k, action in enumerate(system.vocabulary):
        args = ", ".join(f"p[{i + 1}]" for i in range(len(action.params)))
        call = f"{action.name}({args})" if action.params else action.name
        lines.append(f"    {'CASE' if k == 0 else '  []'} name = {tla(action.name)} -> {call}")
    lines.append("      [] OTHER -> FALSE   \\* an action the spec does not have")
    return lines


def _base(system: System) -> str:
    """The module the data extends: the MC module when there is one (its step
    properties are checked along the runs too), else the spec."""
    mc = f"MC{system.spec}"
    return mc if (system.spec_dir / f"{mc}.tla").is_file() else system.spec


#: runs of at most this many states in all take TLC seconds: the JIT's first tier only
SHORT_STATES = 5000


def data_module(system: System, traces: Sequence[Trace], logged: Sequence[str]) -> str:
    """``Trace<Spec>Data``: the runs, each distinct value of a logged variable written once."""
    codec = system.codec()
    tables: dict[str, dict[str, int]] = {v: {} for v in logged}

    def index(var: str, value: Any) -> int:
        text = tla(codec.to_spec(var, value))
        return tables[var].setdefault(text, len(tables[var]) + 1)

    runs: list[list[str]] = []
    for tr in traces:
        states = []
        for s in tr.steps:
            p = [] if s.index == 0 else codec.args_to_spec(s.action, s.args)
            v = [index(var, s.state[var]) for var in logged]
            states.append(f"[a |-> {tla(s.action)}, p |-> {tla(p)}, v |-> {tla(v)}]")
        runs.append(states)
    name = f"Trace{system.spec}Data"
    lines = [f"{'-' * 20} MODULE {name} {'-' * 20}",
             f"\\* Recorded runs of the model, written by gpuvm-check conform {system.name}",
             f"\\* (the layout is described in Trace{system.spec}.tla).",
             f"EXTENDS Sequences, {_base(system)}", "", *codec.definitions(traces[0].config), ""]
    fields = []
    for k, var in enumerate(logged):
        lines += tuple_defs(f"TrTable{k}", list(tables[var]))
        fields.append(f"{var} |-> TrTable{k}")
    lines += ["Tables == [" + ", ".join(fields) + "]",
              "Logged == " + tla(list(logged)), ""]
    for i, r in enumerate(runs):
        lines += tuple_defs(f"TrRun{i + 1}", r, RUN_WIDTH)
    lines += tuple_defs("Traces", [f"TrRun{i + 1}" for i in range(len(runs))])
    lines += ["", *dispatch(system), "=" * 60, ""]
    return "\n".join(lines)


#: the most elements one tuple of the data module has (SANY's time grows with
#: the square of a tuple's length: 50,000 integers in one tuple take it 30 s)
TUPLE_WIDTH = 64
#: the states of a run per definition (a state is a record holding a tuple)
RUN_WIDTH = 4
_CONCAT = " \\o "


def tuple_defs(name: str, items: Sequence[str], width: int = TUPLE_WIDTH) -> list[str]:
    """``name == <<items>>`` as definitions of at most ``width`` elements each:
    chunks ``name_k`` joined with ``\\o`` (in a tree, for very long ones)."""
    if len(items) <= width:
        return [f"{name} == <<{', '.join(items)}>>"]
    out: list[str] = []
    parts = []
    for k in range(0, len(items), width):
        part = f"{name}_{k // width}"
        out.append(f"{part} == <<{', '.join(items[k:k + width])}>>")
        parts.append(part)
    while len(parts) > TUPLE_WIDTH:   # join the chunks a level at a time
        joined = []
        for k in range(0, len(parts), TUPLE_WIDTH):
            part = f"{name}_j{len(out)}"
            out.append(f"{part} == {_CONCAT.join(parts[k:k + TUPLE_WIDTH])}")
            joined.append(part)
        parts = joined
    out.append(f"{name} == {_CONCAT.join(parts)}")
    return out


def trace_cfg(system: System, config: Mapping[str, Any], traces: Sequence[Trace],
              max_hidden: int) -> str:
    manifest = load_manifest(system)
    states = [s.state for tr in traces for s in tr.steps]
    lines = ["CONSTANTS"]
    lines += [f"    {c}" for c in system.codec().constants(config, states)]
    lines.append(f"    MaxHidden = {max_hidden}")
    lines += ["INIT TraceInit", "NEXT TraceNext"]
    if manifest.trace_invariants:
        lines.append("INVARIANT " + " ".join(manifest.trace_invariants))
    if manifest.trace_properties:
        lines.append("PROPERTY " + " ".join(manifest.trace_properties))
    return "\n".join(lines) + "\n"


def _group_key(trace: Trace) -> str:
    return json.dumps(trace.config, sort_keys=True)


def validate(system: System, traces: Sequence[Trace], *, mode: str = "exact",
             logged: Sequence[str] | None = None, max_hidden: int = 2,
             timeout: float = TRACE_TIMEOUT, err: TextIO | None = None) -> Validation:
    """Validate recorded runs of ``system`` against its spec, one TLC run per config.

    ``logged``: the variables compared (default: every variable of the
    runs); in ``partial`` mode up to ``max_hidden`` internal spec steps may
    come between two logged steps.  Returns the first run (by index into
    ``traces``) the spec does not allow, and the first of its states the
    spec never reaches.
    """
    start = time.monotonic()
    if mode not in ("exact", "partial"):
        raise ValueError(f"mode {mode!r}")
    hidden = max_hidden if mode == "partial" else 0
    groups: dict[str, list[int]] = {}
    for i, tr in enumerate(traces):
        if tr.spec != system.spec:
            raise ToolError(f"run {i} is a trace of {tr.spec}, not {system.spec}")
        groups.setdefault(_group_key(tr), []).append(i)
    total_states = 0
    for members in groups.values():
        group = [traces[i] for i in members]
        names = logged if logged is not None else group[0].variables
        expected = sum(len(t.steps) for t in group)
        work = Path(tempfile.mkdtemp(prefix="gpuvm-check-trace-"))
        matched: dict[int, int] = {}

        def on_print(line: str, matched: dict[int, int] = matched) -> None:
            if line.startswith("@m"):
                t, i = tla_value(line[2:])
                matched[t] = max(matched.get(t, 0), i)

        try:
            for tla_file in system.spec_dir.glob("*.tla"):
                shutil.copy(tla_file, work / tla_file.name)
            (work / f"Trace{system.spec}Data.tla").write_text(
                data_module(system, group, names))
            (work / f"Trace{system.spec}.cfg").write_text(
                trace_cfg(system, group[0].config, group, hidden))
            run = run_tlc(work / f"Trace{system.spec}.tla", work / f"Trace{system.spec}.cfg",
                          workers=1, timeout=timeout, on_print=on_print,
                          short=expected <= SHORT_STATES,
                          label=f"trace validation ({system.name})", err=err)
        finally:
            shutil.rmtree(work, ignore_errors=True)
        seconds = time.monotonic() - start
        if run.outcome == Outcome.VIOLATION and run.states:
            last = run.states[-1].values
            t, i = int(tla_value(last["t"])), int(tla_value(last["i"]))
            index, step = members[t - 1], i - 1
            tr = traces[index]
            return Validation(Outcome.VIOLATION, seconds, len(traces), total_states, index,
                              step, f"run {index}: state {step} violates {run.violated}")
        if run.outcome != Outcome.PASS:
            return Validation(run.outcome, seconds, len(traces), total_states,
                              detail=run.message, where=run.where)
        for k, tr in enumerate(group, 1):
            got = matched.get(k, 0)
            if got < len(tr.steps):
                index, step = members[k - 1], got
                what = (f"{tr.steps[step].action} {json.dumps(tr.steps[step].args)}"
                        if step < len(tr.steps) else "?")
                return Validation(Outcome.VIOLATION, seconds, len(traces), total_states,
                                  index, step, f"run {index}: {system.spec} does not allow "
                                  f"state {step}, reached by {what}")
        if hidden == 0 and run.distinct != expected:
            return Validation(Outcome.TOOL_ERROR, seconds, len(traces), total_states,
                              detail=f"TLC matched {run.distinct} states, the runs hold "
                              f"{expected}: not every state was checked")
        total_states += expected
    return Validation(Outcome.PASS, time.monotonic() - start, len(traces), total_states)
