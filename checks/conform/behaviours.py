"""Spec -> model: every transition of an exhaustive TLC model, replayed into the model.

The model runs with ``NEXT MCPrintNext``: TLC prints every transition it
takes as ``@step <<Observed, lastAct', Observed'>>`` -- from every reachable
state (as told apart by the model's VIEW), every request of the model's
domain.  Each is replayed into the Python model: a component built from the
model's constants is put in the source state with ``restore()``, the
action runs through the system's dispatcher, and the resulting trace state
(abstract state and history) must equal the target.  The number of
transitions printed must equal TLC's count of states generated minus the
initial states, so none is skipped.  Checking every transition from every
reachable state covers every behaviour of the model (by induction on its
length).  A divergence is written as an ITF trace from the initial state,
along the first path that reached the source state, that ``gpuvm-check
replay`` re-executes.
"""

from __future__ import annotations

import contextlib
import json
import shutil
import tempfile
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

from checks.manifest import Model
from checks.outcome import Outcome, ToolError
from checks.report import progress, progress_done
from checks.systems import System
from checks.tlc.runner import cfg_constants, run_tlc
from checks.tlc.values import tla_value
from checks.traces import Step, Trace, strict_equal
from model.actions import BadActionCall
from model.errors import GpuVmError
from model.trace import Event

REPLAY_TIMEOUT = 1800.0

#: Replays one transition: (system, config, source state, action, args) -> trace state
Replayer = Callable[[System, Mapping[str, Any], Mapping[str, Any], str, Mapping[str, Any]],
                    dict[str, Any]]


def model_step(system: System, config: Mapping[str, Any], src: Mapping[str, Any],
               action: str, args: Mapping[str, Any]) -> dict[str, Any]:
    """The model's trace state after ``action(args)`` from the state ``src``."""
    comp = system.make(config)
    own = comp.abstract().keys()
    try:
        comp.restore({k: v for k, v in src.items() if k in own})
    except GpuVmError as e:
        return {"error": f"the model cannot hold the source state: {e}"}
    rec = _LastEvent()
    comp.tracer = rec
    try:
        system.vocabulary.perform(comp, action, args)
    except GpuVmError:
        pass
    except BadActionCall as e:
        return {"error": f"not an action of the model: {e}"}
    except Exception as e:  # an assertion or a crash in the model: a divergence
        return {"error": f"the model raised {type(e).__name__}: {e}"}
    try:
        system.check_state(comp)
    except AssertionError as bad:
        return {"error": f"the model broke an invariant: {bad}"}
    return system.state_of(comp, rec.last)


class _LastEvent:
    """A tracer keeping the last event (what a recorder's last step would be)."""

    def __init__(self) -> None:
        self.last: Event | None = None

    def event(self, ev: Event) -> None:
        self.last = ev


@dataclass
class Replay:
    """What replaying every transition of one model gave."""

    model: str
    outcome: Outcome
    seconds: float
    transitions: int = 0
    states: int = 0
    divergences: int = 0
    first: Trace | None = None
    detail: str = ""
    where: str | None = None
    generated: int | None = None


@dataclass
class _Graph:
    """First arrival at each source state, to rebuild a path from Init."""

    parent: dict[str, tuple[str, str, dict[str, Any], dict[str, Any]]] = field(
        default_factory=dict)

    def path(self, key: str) -> list[tuple[str, dict[str, Any], dict[str, Any]]]:
        """(action, args, state) from Init to the state ``key``."""
        steps: list[tuple[str, dict[str, Any], dict[str, Any]]] = []
        seen: set[str] = set()
        while key in self.parent and key not in seen:
            seen.add(key)
            prev, action, args, state = self.parent[key]
            steps.append((action, args, state))
            key = prev
        return list(reversed(steps))


def _print_cfg(text: str) -> str:
    """A model's cfg with NEXT MCPrintNext and without invariants and properties
    (``gpuvm-check tlc`` checks those; here only the transitions matter)."""
    out = []
    skipping = False
    for line in text.splitlines():
        word = line.strip().split(" ")[0] if line.strip() else ""
        if line[:1] in (" ", "\t") and skipping:
            continue  # a continuation of the INVARIANT or PROPERTY list
        skipping = word in ("INVARIANT", "INVARIANTS", "PROPERTY", "PROPERTIES")
        if skipping:
            continue
        out.append("NEXT MCPrintNext" if word == "NEXT" else line)
    return "\n".join(out) + "\n"


def replay_model(system: System, model: Model, *, workers: int = 2,
                 replayer: Replayer = model_step, timeout: float = REPLAY_TIMEOUT,
                 err: TextIO | None = None) -> Replay:
    """Replay every transition of an exhaustive model of ``system`` into the model."""
    start = time.monotonic()
    codec = system.codec()
    constants = cfg_constants(model.cfg_path)
    config: Mapping[str, Any] | None = None
    with contextlib.suppress(ValueError):  # else the model prints it at start (@config)
        config = codec.config_of(constants)
    rep = Replay(model.name, Outcome.PASS, 0.0)
    graph = _Graph()
    initial: set[str] = set()

    def decode(record: Mapping[str, Any]) -> dict[str, Any]:
        return {k: codec.from_spec(k, v) for k, v in record.items()}

    def on_print(line: str) -> None:
        nonlocal config
        if line.startswith("@config"):
            config = codec.config_of(constants, tla_value(line[len("@config"):]))
            return
        if not line.startswith("@step"):
            return
        if config is None:
            raise ToolError(f"{model.name} printed a transition before its configuration")
        try:
            src_raw, act, dst_raw = tla_value(line[len("@step"):])
            src, dst = decode(src_raw), decode(dst_raw)
            action = str(act["name"])
            args = codec.args_from_spec(action, act.get("args") or {})
        except (ValueError, TypeError, KeyError, IndexError, AttributeError) as e:
            raise ToolError(f"cannot read a transition TLC printed: {e}") from None
        rep.transitions += 1
        src_key = json.dumps({k: v for k, v in src.items() if not k.startswith("last")},
                             sort_keys=True)
        dst_key = json.dumps({k: v for k, v in dst.items() if not k.startswith("last")},
                             sort_keys=True)
        if src_key not in graph.parent and not initial:
            initial.add(src_key)
        if dst_key not in graph.parent and dst_key not in initial:
            graph.parent[dst_key] = (src_key, action, args, dst)
        got = replayer(system, config, src, action, args)
        if not strict_equal({k: got.get(k) for k in dst}, dst):
            rep.divergences += 1
            if rep.first is None:
                rep.first = _divergence_trace(system, model, config, graph, src_key, src,
                                              action, args, dst, got)
        if err is not None and rep.transitions % 20000 == 0:
            progress(err, f"conform {model.name}: {rep.transitions} transitions replayed")

    work = Path(tempfile.mkdtemp(prefix="gpuvm-check-conform-"))
    try:
        for tla_file in system.spec_dir.glob("*.tla"):
            shutil.copy(tla_file, work / tla_file.name)
        cfg = work / model.cfg
        cfg.write_text(_print_cfg(model.cfg_path.read_text()))
        run = run_tlc(work / model.module, cfg, workers=workers, timeout=timeout,
                      on_print=on_print, label=f"{model.name} (printing transitions)",
                      err=err)
    finally:
        shutil.rmtree(work, ignore_errors=True)
        if err is not None:
            progress_done(err)
    rep.seconds = time.monotonic() - start
    rep.states = run.distinct or 0
    rep.generated = run.total
    if run.outcome != Outcome.PASS:
        rep.outcome = run.outcome
        rep.detail, rep.where = run.message, run.where
        return rep
    if run.total is None or run.initial is None or rep.transitions != run.total - run.initial:
        rep.outcome = Outcome.TOOL_ERROR
        rep.detail = (f"TLC generated {run.total} states but printed {rep.transitions} "
                      "transitions: not every transition was replayed")
        return rep
    if rep.divergences:
        rep.outcome = Outcome.VIOLATION
        assert rep.first is not None
        rep.detail = f"{rep.divergences} transition(s) diverge; first: {rep.first.description}"
    return rep


def _divergence_trace(system: System, model: Model, config: Mapping[str, Any], graph: _Graph,
                      src_key: str, src: Mapping[str, Any], action: str, args: dict[str, Any],
                      dst: dict[str, Any], got: dict[str, Any]) -> Trace:
    """The spec's behaviour from Init through the diverging transition, as ITF."""
    trace = Trace(spec=system.spec, config=dict(config), source="tlc",
                  variables=tuple(dst),
                  description=(f"conform {system.name} {model.name}: the model diverges from "
                               f"the spec at {action} {json.dumps(args)}: expected "
                               f"{json.dumps(dst)}, the model gives {json.dumps(got)}"))
    path = graph.path(src_key)
    init = system.state_of(system.make(config), None)
    trace.steps.append(Step(0, "Init", {}, {k: init.get(k) for k in dst}))
    if not path and any(not strict_equal(src.get(k), init.get(k)) for k in src):
        trace.steps[0].state = dict(src)  # the source is another initial state
    for act, a, state in [*path, (action, args, dst)]:
        trace.steps.append(Step(len(trace.steps), act, a, state))
    return trace
