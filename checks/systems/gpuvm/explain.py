"""The witness of a gpuvm trace, from its states alone.

Given a trace (a TLC counterexample, say), walk it with the machines' oracle
-- which knows nothing of the model's code -- and name the first thing that
breaks: the errno of a request, an op of its list (keep, pieces, the map,
prefetch targets, the effect of the ops), or a page that translates other
than the requests promise.
"""

from __future__ import annotations

from checks.machines.base import CheckFailed
from checks.systems.gpuvm.domain import Layout
from checks.systems.gpuvm.oracle import U64, Oracle, check_ops
from checks.traces import Trace
from model.errors import InvalidArgument
from model.gpuva import Va
from model.ops import Map, Op, Prefetch, Remap, Unmap


def _op(raw: dict[str, object]) -> Op:
    kind = raw["op"]
    if kind == "map":
        return Map(raw["addr"], raw["range"], raw["gem"], raw["offset"],  # type: ignore[arg-type]
                   raw.get("flags", 0))  # type: ignore[arg-type]
    va = Va.from_json(raw["va"])
    if kind == "unmap":
        return Unmap(va, bool(raw["keep"]))
    if kind == "prefetch":
        return Prefetch(va)
    pieces = [None if raw[k] is None else Map.of(Va.from_json(raw[k])) for k in ("prev", "next")]
    return Remap(Unmap(va, bool(raw["keep"])), pieces[0], pieces[1])


def _page(p: object) -> str:
    if p is None:
        return "unmapped"
    if isinstance(p, tuple):
        gem, off, flags = p
        return f"{'null' if gem is None else gem}@{off}" + (f" flags {flags}" if flags else "")
    return str(p)


def explain(trace: Trace) -> tuple[int, str] | None:
    """(state, witness) of the first thing in ``trace`` its requests do not promise."""
    cfg = trace.config
    layout = Layout("trace", int(cfg["mm_start"]), int(cfg["mm_range"]),
                    int(cfg.get("reserve_offset", 0)), int(cfg.get("reserve_range", 0)))
    oracle = Oracle(layout, bool(cfg.get("regions")))
    profile = str(cfg.get("profile", "upstream"))
    prev = trace.steps[0]
    for step in trace.steps[1:]:
        action, args, state = step.action, step.args, step.state
        try:
            want = oracle.expect(action, args)
        except (ValueError, KeyError):
            return None
        got = state.get("lastErr", "OK")
        if (want or "OK") != got:
            return step.index, (f"{action} must give {'-' + want if want else 'success'}, "
                                f"the trace has {'-' + got if got != 'OK' else 'success'}")
        if want is None:
            oracle.apply(action, args)
            try:
                before = [Va.from_json(v) for v in prev.state["vas"]]
                after = [Va.from_json(v) for v in state["vas"]]
                ops = [_op(op) for op in state.get("lastOps", [])]
                check_ops(profile, action, args, before, ops, after, layout)
            except CheckFailed as bad:
                return step.index, f"{bad.invariant}: {bad.detail}"
            except InvalidArgument as bad:
                return step.index, f"a value of the state is not a mapping: {bad}"
            for va in after:
                if not oracle.range_ok(va.addr, va.range):
                    return step.index, (f"mapping {va.to_json()} is not a valid range of the VM "
                                        "(outside it, empty, or on the kernel node)")
                if oracle.regions_enabled and not any(
                        a <= va.addr and va.end <= a + r for a, r, _ in oracle.regions):
                    return step.index, f"mapping {va.to_json()} is not inside one region"
            for va in after:
                for i in range(va.range):
                    page = va.addr + i
                    have = (va.gem, (va.offset + i) % U64, va.flags)
                    if oracle.pages.get(page) != have:
                        return step.index, (f"page {page}: expected "
                                            f"{_page(oracle.pages.get(page))}, found "
                                            f"{_page(have)}")
            mapped = {va.addr + i for va in after for i in range(va.range)}
            for page in sorted(set(oracle.pages) - mapped):
                return step.index, (f"page {page}: expected {_page(oracle.pages[page])}, "
                                    "found unmapped")
        prev = step
    return None
