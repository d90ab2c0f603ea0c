"""The ``gpuvm`` system: the VA space of one VM (``drm_gpuva_manager`` / ``drm_gpuvm``).

Model ``model.vaspace.VaSpace`` (two split/merge profiles), spec
``specs/GpuVm/GpuVm.tla``.  A trace state is the VA space's ``abstract()``
-- ``vas`` and, with regions, ``regions`` -- plus the history variables of
the step: ``lastOps`` (the op list it produced) and ``lastErr`` (``"OK"`` or
the errno name).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from checks.systems import System
from model.gpuva import Va
from model.invariants import check_step as _check_step
from model.invariants import check_vaspace
from model.ops import Op, ops_to_json
from model.trace import Event
from model.vaspace import VOCABULARY, VaSpace


def history(ev: Event | None) -> dict[str, Any]:
    if ev is None or ev.errno is not None:
        return {"lastOps": [], "lastErr": "OK" if ev is None else ev.errno}
    ops: list[Op] = list(ev.result or [])
    return {"lastOps": ops_to_json(ops), "lastErr": "OK"}


def variables(config: Mapping[str, Any]) -> tuple[str, ...]:
    if config.get("regions"):
        return ("vas", "regions", "lastOps", "lastErr")
    return ("vas", "lastOps", "lastErr")


def check_step(config: Mapping[str, Any], before: Mapping[str, Any], action: str,
               args: Mapping[str, Any], result: Any, after: Mapping[str, Any]) -> None:
    """The translation and keep contract of one accepted ``Map``/``Unmap``."""
    if action not in ("Map", "Unmap"):
        return
    _check_step([Va.from_json(v) for v in before["vas"]], action, args, list(result or []),
                [Va.from_json(v) for v in after["vas"]], str(config.get("profile", "upstream")))


def _explain(trace: Any) -> tuple[int, str] | None:
    from checks.systems.gpuvm.explain import explain

    return explain(trace)


def _run_figures(traces: Any) -> dict[str, int]:
    """What the recorded runs reached: requests splitting or removing 3+ mappings,
    steps with a keep, rfc2023 merges (a map wider than its request), runs with regions."""
    many = keeps = merges = regions = 0
    for tr in traces:
        regions += bool(tr.config.get("regions"))
        for s in tr.steps[1:]:
            ops = s.state.get("lastOps", [])
            many += sum(1 for op in ops if op["op"] in ("unmap", "remap")) >= 3
            keeps += any(op.get("keep") for op in ops)
            merges += any(op["op"] == "map" and op["range"] > s.args.get("range", 0)
                          for op in ops)
    return {"steps_3plus_overlaps": many, "steps_with_keep": keeps, "steps_with_merge": merges,
            "runs_with_regions": regions}


SYSTEM = System(
    name="gpuvm",
    spec="GpuVm",
    summary="the VA space of one VM: sm_map/sm_unmap/prefetch op lists, two profiles",
    vocabulary=VOCABULARY,
    component=VaSpace,
    history=history,
    variables=variables,
    check_state=check_vaspace,
    check_step=check_step,
    codec_ref="checks.systems.gpuvm.codec:CODEC",
    machines_ref="checks.systems.gpuvm.machines:MACHINES",
    runs_ref="checks.systems.gpuvm.machine:record_runs",
    run_variants=("upstream", "rfc2023", "upstream-regions", "rfc2023-regions"),
    obligations_ref="specs.z3.obligations:obligations",
    render_ref="checks.systems.gpuvm.render:RENDERER",
    required=("vas", "lastOps", "lastErr"),
    extra={"explain": _explain, "run_figures": _run_figures},
)
