"""The ``vmbo`` system: drm_gpuvm_bo, the VM/GEM combination (seed 003).

Model ``model.vmbo.VmBoSystem`` (profiles ``rfc2023`` and ``upstream``, two
list-protection modes, immediate mode with deferred cleanup), spec
``specs/VmBo/VmBo.tla``.  A trace state is the system's ``abstract()`` --
``vmbos``, ``vas``, ``handles``, ``gems``, ``vms`` -- plus the history
variables ``lastResult`` (what the step returned) and ``lastErr``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from checks.systems import System
from model.ops import Op
from model.trace import Event
from model.vmbo import VOCABULARY, VmBoSystem
from model.vmbo_invariants import check_vmbo, check_vmbo_step

VARIABLES = ("vmbos", "vas", "handles", "gems", "vms", "lastResult", "lastErr")


def result_json(result: Any) -> Any:
    """What a step returned, as the spec's ``lastResult``."""
    if result is None:
        return []
    if isinstance(result, bool):  # a tuple like every other result (VmBo.tla's lastResult)
        return [result]
    if isinstance(result, tuple):  # a vm_bo's name
        return list(result)
    if isinstance(result, list) and result and isinstance(result[0], str):
        return list(result)  # the resvs Validate locked
    if isinstance(result, list):  # UnmapOpsCreate names VAs; Map/Unmap return their ops
        return []
    return []


def history(ev: Event | None) -> dict[str, Any]:
    if ev is None or ev.errno is not None:
        return {"lastResult": [], "lastErr": "OK" if ev is None else ev.errno}
    out = result_json(ev.result)
    if ev.action == "UnmapOpsCreate":
        ops: list[Op] = ev.result or []
        out = [op.va.addr for op in ops]  # type: ignore[union-attr]
    return {"lastResult": out, "lastErr": "OK"}


def variables(config: Mapping[str, Any]) -> tuple[str, ...]:
    return VARIABLES


def _explain(trace: Any) -> tuple[int, str] | None:
    from checks.systems.vmbo.explain import explain

    return explain(trace)


def check_step(config: Mapping[str, Any], before: Mapping[str, Any], action: str,
               args: Mapping[str, Any], result: Any, after: Mapping[str, Any]) -> None:
    check_vmbo_step(before, action, args, result, after)


SYSTEM = System(
    name="vmbo",
    spec="VmBo",
    summary="drm_gpuvm_bo: one vm_bo per (VM, GEM), references, extobj/evict lists",
    vocabulary=VOCABULARY,
    component=VmBoSystem,
    history=history,
    variables=variables,
    check_state=check_vmbo,
    check_step=check_step,
    codec_ref="checks.systems.vmbo.codec:CODEC",
    machines_ref="checks.systems.vmbo.machine:MACHINES",
    runs_ref="checks.systems.vmbo.machine:record_runs",
    run_variants=("upstream-spinlock", "upstream-resv", "upstream-immediate", "rfc2023"),
    obligations_ref="specs.z3.vmbo:obligations",
    render_ref="",
    required=("vmbos", "vas", "handles", "lastErr"),
    extra={"logged": ("vmbos", "vas", "handles", "lastErr"), "explain": _explain},
)
