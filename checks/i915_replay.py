"""Z3's i915 front-end counterexamples, replayed on the i915 model (``model.i915``).

A ``i915-vm-bind-args`` trace is one ioctl call the seed's argument checks
accept although an obligation's claim fails for it (``specs/z3/validation.py``).
It is run on the model twice, in a VM whose state the trace gives (the
object's size and page size, the live VMA if there is one):

- the ``seed`` profile must *reproduce* it: the call gets past every
  argument check -- it succeeds, or only the fixed-offset pin refuses it
  (``-ENOSPC``) -- and what it did breaks the claim;
- the ``fixed`` profile must *reject* it at the check the review asked for,
  with that check's errno (:data:`FIXED_ERRNO`).

Either failing is a divergence, with both profiles' results as its witness.
"""

from __future__ import annotations

from typing import Any

from checks.outcome import ToolError
from checks.traces import Divergence, ReplayReport, Trace, Violation
from model.errors import GpuVmError
from model.i915 import I915System, noncanonical

#: obligation (without ``.seed``) -> the errno the fixed profile gives
FIXED_ERRNO = {"i915.bind-overlap": "EEXIST", "i915.bind-range": "EINVAL",
               "i915.bind-reserved": "EINVAL", "i915.unbind-exact": "ENOENT"}
OBJ, LIVE = 1, 2


def _world(args: dict[str, Any], profile: str) -> I915System:
    live_len = int(args.get("live.length", 0))
    s = I915System({1: True}, {OBJ: (int(args.get("obj_size", 1 << 20)),
                                     int(args.get("max_page_size", 4096))),
                               LIVE: (max(live_len, 4096), 4096)}, profile)
    if args.get("live", True) and "live.start" in args:
        vma = [int(args["live.start"]), live_len, LIVE, 0]
        a = s.abstract()
        a["vms"]["1"]["vmas"] = a["vms"]["1"]["bound"] = [vma]
        a["gems"][str(LIVE)]["refs"] = 2
        s.restore(a)
    return s


def _run(args: dict[str, Any], unbind: bool, profile: str) -> tuple[str, I915System]:
    s = _world(args, profile)
    try:
        if unbind:
            s.vm_unbind(1, 0, int(args["start"]), int(args["length"]))
        else:
            s.vm_bind(1, OBJ, int(args["start"]), int(args["offset"]), int(args["length"]),
                      rsvd_0=int(args["rsvd[0]"]), rsvd_1=int(args["rsvd[1]"]),
                      rsvd_2=int(args["rsvd[2]"]), rsvd2_0=int(args["rsvd2[0]"]),
                      rsvd2_1=int(args["rsvd2[1]"]), extensions=int(args["extensions"]))
    except GpuVmError as e:
        return e.errno_name, s
    return "ok", s


def _claim_broken(name: str, args: dict[str, Any], result: str, s: I915System) -> bool:
    """Whether what the seed profile did breaks the obligation's claim: the call got
    past every argument check (it succeeded, or only the pin refused it) *and* the
    claim's own condition fails for it."""
    if name == "i915.unbind-exact":  # it removed a VMA that does not start at start
        return result == "ok" and int(args["live.start"]) != noncanonical(int(args["start"]))
    if result not in ("ok", "ENOSPC"):
        return False
    start, length = noncanonical(int(args["start"])), int(args["length"])
    if name == "i915.bind-reserved":
        return any(int(args[f"rsvd2[{i}]"]) for i in range(2))
    if name == "i915.bind-range":
        return start + length > 1 << 48
    live = bool(args.get("live")) and "live.start" in args
    ls, ll = int(args.get("live.start", 0)), int(args.get("live.length", 0))
    return live and start < ls + ll and ls < start + length  # bind-overlap


def replay_i915(trace: Trace, where: str) -> ReplayReport:
    name = str(trace.meta.get("obligation", "")).removesuffix(".seed")
    if name not in FIXED_ERRNO:
        raise ToolError(f"no i915 obligation {name!r} has a counterexample to replay "
                        f"(known: {', '.join(FIXED_ERRNO)})", where)
    if len(trace.steps) != 2:
        raise ToolError("a front-end counterexample is one call", where)
    step = trace.steps[1]
    unbind = step.action.endswith("UNBIND")
    need = ["start", "length"] + ([] if unbind else [
        "offset", "rsvd[0]", "rsvd[1]", "rsvd[2]", "rsvd2[0]", "rsvd2[1]", "extensions"])
    for arg in need:
        if type(step.args.get(arg)) is not int:
            raise ToolError(f"the call lacks argument {arg!r} (an integer)", f"{where}: state 1")
    try:
        seed, on_seed = _run(dict(step.args), unbind, "seed")
        fixed, _ = _run(dict(step.args), unbind, "fixed")
    except (KeyError, TypeError, ValueError) as e:
        raise ToolError(f"the call's arguments do not fit the i915 model: {e!r}",
                        f"{where}: state 1") from None
    broken = _claim_broken(name, dict(step.args), seed, on_seed)
    want_fixed = FIXED_ERRNO[name]
    actual = {"seed": seed, "seed_breaks_the_claim": broken, "fixed": fixed}
    expected = {"seed": seed if broken else "ok or ENOSPC", "seed_breaks_the_claim": True,
                "fixed": want_fixed}
    if not broken or fixed != want_fixed:
        return ReplayReport(2, Divergence(1, step.action, step.args, expected, actual))
    return ReplayReport(2, None, Violation(
        1, name + ".seed", f"the seed profile gives {seed} and breaks the claim; the fixed "
        f"profile gives -{fixed}", True), name + ".seed")
