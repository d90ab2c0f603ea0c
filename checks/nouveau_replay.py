"""Z3's nouveau front-end counterexamples, replayed on the nouveau model (``model.nouveau``).

A ``nouveau-vm-bind-args`` trace is one VM_BIND call that the seed's checks
accept although an obligation's claim fails for it (``specs/z3/validation.py``).
It runs on a client set up as the trace says -- VM_INIT with its kernel area,
one GEM object of its size, and, for a MAP, a region over the op's range
(an ALLOC op before it in the same job) -- under both profiles:

- the ``seed`` profile must *reproduce* it: the job is accepted (for the copy
  size, the model records C20's over-read) and what it did breaks the claim
  -- the op is in the job with its nonzero ``pad`` or unknown flag bits;
- the ``fixed`` profile must *reject* it with the errno of the check the
  review asked for (:data:`FIXED_ERRNO`).

Either failing is a divergence, with both profiles' results as its witness.
"""

from __future__ import annotations

from typing import Any

from checks.outcome import ToolError
from checks.traces import Divergence, ReplayReport, Trace, Violation
from model.errors import GpuVmError
from model.nouveau import NouveauSystem
from model.nouveau_uapi import PAGE, VA_END

FIXED_ERRNO = {"nouveau.op-reserved": "EINVAL", "nouveau.op-flags": "EINVAL",
               "nouveau.op-copy-size": "EOVERFLOW"}
GEM = 1


def _run(name: str, a: dict[str, Any], profile: str) -> tuple[str, NouveauSystem]:
    if name == "nouveau.op-copy-size":
        s = NouveauSystem({"1": PAGE}, init=(VA_END - PAGE, PAGE), profile=profile)
        op = [2, 0, GEM, 0, 0, 0, PAGE]
        return _call(s, int(a["op_count"]), 1, [op]), s
    size = int(a["obj_size"])
    s = NouveauSystem({str(GEM): size} if size and size % PAGE == 0 and size < 1 << 64
                      else {str(GEM): PAGE},
                      init=(int(a["unmanaged_addr"]), int(a["unmanaged_size"])),
                      profile=profile)
    op = [int(a["op"]), int(a["flags"]), GEM, int(a["pad"]), int(a["addr"]),
          int(a["bo_offset"]), int(a["range"])]
    region = [0, 0, 0, 0, int(a["addr"]), 0, int(a["range"])]
    ops = [region, op] if int(a["op"]) == 2 else [op]
    return _call(s, len(ops), int(a["vm_bind.flags"]), ops), s


def _call(s: NouveauSystem, count: int, flags: int, ops: list[list[int]]) -> str:
    try:
        s.vm_bind("t1", count, flags, ops, [], [])
    except GpuVmError as e:
        return e.errno_name
    return "ok"


def _claim_broken(name: str, a: dict[str, Any], s: NouveauSystem) -> bool:
    if name == "nouveau.op-copy-size":
        return s.oops.startswith("C20")
    if not s.jobs or (not s.jobs[-1].maprefs and int(a["op"]) == 2):
        return False
    if name == "nouveau.op-reserved":
        return int(a["pad"]) != 0
    return bool(int(a["flags"]) & ~0x1ff) or bool(int(a["vm_bind.flags"]) & ~1)


def replay_nouveau(trace: Trace, where: str) -> ReplayReport:
    name = str(trace.meta.get("obligation", "")).removesuffix(".seed")
    if name not in FIXED_ERRNO:
        raise ToolError(f"no nouveau obligation {name!r} has a counterexample to replay "
                        f"(known: {', '.join(FIXED_ERRNO)})", where)
    if len(trace.steps) != 2:
        raise ToolError("a front-end counterexample is one call", where)
    step = trace.steps[1]
    need = ["op_count"] if name == "nouveau.op-copy-size" else [
        "op", "flags", "pad", "addr", "bo_offset", "range", "obj_size", "unmanaged_addr",
        "unmanaged_size", "vm_bind.flags"]
    for arg in need:
        if type(step.args.get(arg)) is not int:
            raise ToolError(f"the call lacks argument {arg!r} (an integer)", f"{where}: state 1")
    try:
        seed, on_seed = _run(name, dict(step.args), "seed")
        fixed, _ = _run(name, dict(step.args), "fixed")
    except (KeyError, TypeError, ValueError, GpuVmError) as e:
        raise ToolError(f"the call's arguments do not fit the nouveau model: {e}",
                        f"{where}: state 1") from None
    broken = seed == "ok" and _claim_broken(name, dict(step.args), on_seed)
    want = FIXED_ERRNO[name]
    actual = {"seed": seed, "seed_breaks_the_claim": broken, "fixed": fixed}
    if not broken or fixed != want:
        expected = {"seed": "ok", "seed_breaks_the_claim": True, "fixed": want}
        return ReplayReport(2, Divergence(1, step.action, step.args, expected, actual))
    return ReplayReport(2, None, Violation(
        1, name + ".seed", f"the seed profile accepts the job and breaks the claim; the fixed "
        f"profile gives -{fixed}", True), name + ".seed")
