"""The userptr renderer: a thread timeline per step, then what the step changed."""

from __future__ import annotations

from typing import Any

import pytest

from checks import render
from checks.replay import recorder
from checks.systems import get
from checks.systems.userptr.render import RENDERER
from checks.traces import Step, Trace
from model.userptr import VOCABULARY, UserptrSystem

BIND = ("PinBegin", "PinFault", "PinMap", "NlRead", "Check", "Commit", "NlUnlock")


def recorded(mode: str = "lr", n: int = 23) -> Trace:
    """Bind u1 and u2, run their PT jobs, then an unmap of page 1 (both callbacks):
    the first ``n`` steps of it."""
    s = UserptrSystem(3, {"u1": [0, 2], "u2": [1, 3]}, mode=mode)
    rec = recorder(get("userptr"), s, source="test")
    steps: list[tuple[str, dict[str, Any]]] = [
        *((a, {"t": "bind", "u": u}) for u in ("u1", "u2") for a in BIND),
        ("PtRun", {}), ("PtRun", {}), ("InvStart", {"p": 1, "ev": "unmap"}),
        ("Notify", {"u": "u1"}), ("FenceWait", {"u": "u1"}), ("Notify", {"u": "u2"}),
        ("FenceWait", {"u": "u2"}), ("CpuUpdate", {"p": 1}), ("InvEnd", {"p": 1})]
    for action, args in steps[:n]:
        VOCABULARY.perform(s, action, args)
    return rec.trace


def drawn(trace: Trace) -> list[list[str]]:
    RENDERER.title(trace)
    return [RENDERER.lines(s, trace.steps[i - 1] if i else None)
            for i, s in enumerate(trace.steps)]


def step_of(trace: Trace, action: str, **args: Any) -> int:
    return next(s.index for s in trace.steps if s.action == action and s.args.items() >=
                args.items())


def test_the_init_state_names_the_threads_of_the_mode_and_draws_everything() -> None:
    trace = recorded("lr")
    assert RENDERER.title(trace) == ("userptr (upstream, lr mode, 3 page(s), u1=[0,2) "
                                     "u2=[1,3), GTs 0 1)")
    init = drawn(trace)[0]
    assert init[0].split() == ["mm", "bind", "worker", "pt", "gpu"]
    assert init[1].split() == ["idle", "start", "idle", "|", "running"]
    assert "    cpu 0->0 1->1 2->2" in init and "    ptq []" in init
    assert "    lists invalidated {} repin {} rebind {}" in init
    for mode, thread in (("dmafence", "exec"), ("fault", "fault")):
        assert drawn(recorded(mode, 0))[0][0].split() == ["mm", "bind", thread, "pt", "gpu"]


def test_the_acting_thread_shows_its_action_in_its_column() -> None:
    trace = recorded("lr")
    out = drawn(trace)
    header = out[0][0]
    pin = out[step_of(trace, "PinBegin", u="u2")]
    assert pin[0].index("PinBegin u2") == header.index("bind")
    assert pin[0].split() == ["|", "PinBegin", "u2", "|", "|", "|"]
    notify = out[step_of(trace, "Notify", u="u1")]
    assert notify[0].startswith("    Notify u1 ") and notify[0].split()[2:] == ["|"] * 4
    run = out[step_of(trace, "PtRun")]
    assert run[0].index("PtRun") == header.index("pt")
    assert run[0].split() == ["|", "|", "|", "PtRun", "|"]


def test_only_what_changed_is_drawn() -> None:
    trace = recorded("lr")
    out = drawn(trace)
    notify = out[step_of(trace, "Notify", u="u1")]
    assert "    lists invalidated {u1} repin {} rebind {}" in notify
    assert "    mm seq 1 inv page 1 (unmap) cb u1:wait u2:todo  (1 inv)" in notify
    assert not any(line.startswith(("    cpu", "    ptq", "    gpu")) for line in notify)
    wait = out[step_of(trace, "FenceWait", u="u1")]
    assert wait[0].split()[-1] == "preempted"          # the job, changed under the GPU
    assert "    job preempted uses {} execs 0" in wait
    assert "    cpu 0->0 1->- 2->2" in out[step_of(trace, "CpuUpdate")]
    commit = out[step_of(trace, "Commit", u="u1")]
    assert "    ptq [u1 fenced seq -1 at -1 by bind map 0->0 1->1]" in commit
    assert "    gpu pte (u1,0)->0 (u1,1)->1  tlb -" in out[step_of(trace, "PtRun")]
    assert "    locks vm->lock=bind nl=bind" in out[step_of(trace, "NlRead", u="u1")]


def test_text_draws_a_recorded_run(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(render, "renderer_for", lambda trace: RENDERER)
    out = render.text(recorded("lr"))
    assert "userptr (upstream, lr mode" in out and "cannot draw" not in out
    assert "step 17: InvStart(p=1, ev='unmap') -> ok" in out


def test_odd_states_do_not_crash() -> None:
    RENDERER.title(recorded("lr"))
    only_pc = Step(0, "Init", {}, {"pc": {"bind": "start"}})
    out = RENDERER.lines(only_pc, None)
    assert out[0].split() == ["mm", "bind", "worker", "pt", "gpu"]
    assert not any("cannot draw" in line for line in out)
    bad = Step(1, "Notify", {"u": "u1"}, {"pc": "?", "mm": 3, "ptq": 5, "badRead": True})
    out = RENDERER.lines(bad, only_pc)
    assert out[0].startswith("    Notify u1") and "    BAD READ" in out
    assert any("ptq: cannot draw" in line for line in out)


def test_maps_as_itf_pairs_draw_like_objects() -> None:
    trace = recorded("lr")
    want = drawn(trace)
    for s in trace.steps:
        for k in ("pc", "cur", "cpuPte", "mem", "expect", "nseq", "useq"):
            s.state[k] = [[int(a) if a.isdigit() else a, v] for a, v in s.state[k].items()]
    assert drawn(trace) == want
