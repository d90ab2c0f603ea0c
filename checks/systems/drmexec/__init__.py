"""The ``drmexec`` system: threads locking object sets through drm_exec (seed 001, 01/16).

Model ``model.drmexec.DrmExecSystem`` (wound-wait or wait-die, duplicates
ignored or not, several rounds), spec ``specs/DrmExec/DrmExec.tla``.  A
trace state is the system's ``abstract()`` -- ``owner``, ``pc``, ``held``,
``idx``, ``contended``, ``pre``, ``stamp``, ``wounded``, ``rounds``,
``clock``, ``refs`` -- plus ``lastErr``, what drm_exec returned (``OK``,
``EDEADLK`` or ``EALREADY``; a wound is ``OK``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from checks.systems import System
from model.drmexec import VOCABULARY, DrmExecSystem, check_drmexec, check_drmexec_step
from model.trace import Event

VARIABLES = ("owner", "pc", "held", "idx", "contended", "pre", "stamp", "wounded", "rounds",
             "clock", "refs", "lastErr")


def history(ev: Event | None) -> dict[str, Any]:
    if ev is None:
        return {"lastErr": "OK"}
    if ev.errno is not None:
        return {"lastErr": ev.errno}
    return {"lastErr": ev.result if ev.result in ("EDEADLK", "EALREADY") else "OK"}


def variables(config: Mapping[str, Any]) -> tuple[str, ...]:
    return VARIABLES


def check_step(config: Mapping[str, Any], before: Mapping[str, Any], action: str,
               args: Mapping[str, Any], result: Any, after: Mapping[str, Any]) -> None:
    check_drmexec_step(before, action, args, result, after)


def _explain(trace: Any) -> tuple[int, str] | None:
    from checks.systems.drmexec.explain import explain

    return explain(trace)


SYSTEM = System(
    name="drmexec",
    spec="DrmExec",
    summary="drm_exec: threads locking object sets over ww_mutexes, back-off and retry",
    vocabulary=VOCABULARY,
    component=DrmExecSystem,
    history=history,
    variables=variables,
    check_state=check_drmexec,
    check_step=check_step,
    codec_ref="checks.systems.drmexec.codec:CODEC",
    machines_ref="checks.systems.drmexec.machine:MACHINES",
    runs_ref="checks.systems.drmexec.machine:record_runs",
    run_variants=("wound_wait", "wait_die"),
    render_ref="checks.systems.drmexec.render:RENDERER",
    required=("owner", "held", "lastErr"),
    extra={"logged": ("owner", "held", "contended", "lastErr"), "max_hidden": 4,
           "explain": _explain},
)
