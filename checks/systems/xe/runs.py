"""Recorded runs of the xe system for trace validation against XeBind.tla.

Each layout is VM 1 (async) over four pages from VA 0 with BOs 1 and 2 of
four pages, and one or two threads whose programs map, overwrite, split
and unmap, with failing sub-steps (the model's injection, per user op) and
RESTARTs -- the scenarios of the spec's MC models and more.  A run is a
random schedule of the enabled steps (``XeSystem.enabled``) to its end.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from checks.tlc.values import TlaSet, tla
from checks.traces import Trace
from model.xe import XeSystem

P = 1 << 12
NP = 4
ASYNC, RO = 1 << 17, 1 << 16


def _map(first: int, n: int, bo: int, bopage: int, ro: bool = False) -> list[int]:
    return [bo, 0, bopage * P, n * P, first * P, 0, 0 | ASYNC | (RO if ro else 0), 0, 0, 0]


def _unmap(first: int, n: int) -> list[int]:
    return [0, 0, 0, n * P, first * P, 0, 1 | ASYNC, 0, 0, 0]


def _bind(*ops: tuple[list[int], list[str]]) -> dict[str, Any]:
    return {"kind": "bind", "ops": [o for o, _ in ops], "fail": [f for _, f in ops]}


RESTART = {"kind": "restart"}

LAYOUTS: dict[str, dict[str, list[dict[str, Any]]]] = {
    "remap-resume": {
        "t1": [_bind((_map(0, 3, 1, 0), [])), _bind((_map(1, 1, 2, 0), ["unbind"])), RESTART],
    },
    "two-threads": {
        "t1": [_bind((_map(0, 4, 1, 0), [])), _bind((_map(1, 2, 2, 0, True), ["unbind", "prev"])),
               RESTART, RESTART],
        "t2": [_bind((_map(1, 3, 2, 1), ["bind"])), _bind((_unmap(2, 1), ["next"])), RESTART,
               RESTART],
    },
    "empty-and-arrays": {
        "t1": [_bind((_unmap(0, 2), [])), _bind((_map(0, 2, 1, 0), []), (_unmap(1, 1), ["next"])),
               RESTART],
        "t2": [_bind((_map(2, 2, 2, 2, True), []), (_map(3, 1, 1, 3), ["unbind"])),
               _bind((_unmap(0, 4), [])), RESTART],
    },
}


def config(layout: str, profile: str = "fixed") -> dict[str, Any]:
    return XeSystem({"1": (NP * P, 0), "2": (NP * P, 1)}, threads=LAYOUTS[layout],
                    profile=profile).config()


def record_runs(n: int, seed: int, variant: str = "fixed", steps: int = 200) -> list[Trace]:
    """``n`` random schedules over the layouts in turn, each to its end."""
    from checks.conform.random_runs import record_random_runs
    from model.xe_check import check_xe

    return record_random_runs("xe", lambda lay: XeSystem.from_config(config(lay, variant)),
                              list(LAYOUTS), n, seed, variant, steps, check_xe)


# ------------------------------------------------------------- spec encoding

def spec_programs(config: Mapping[str, Any]) -> dict[str, list[dict[str, Any]]]:
    out: dict[str, list[dict[str, Any]]] = {}
    for t, prog in config["threads"].items():
        entries: list[dict[str, Any]] = []
        for e in prog:
            if e["kind"] == "restart":
                entries.append({"kind": "restart"})
                continue
            uops = []
            for o, fail in zip(e["ops"], e.get("fail") or [[] for _ in e["ops"]], strict=True):
                is_map = o[6] & 0xffff == 0
                uops.append({"op": "map" if is_map else "unmap", "first": o[4] // P,
                             "n": o[3] // P, "bo": str(o[0]) if is_map else "",
                             "bopage": o[2] // P if is_map else 0,
                             "ro": bool(o[6] & RO), "fail": TlaSet(sorted(fail))})
            entries.append({"kind": "bind", "ops": uops})
        out[t] = entries
    return out


def spec_constants(config: Mapping[str, Any]) -> list[str]:
    np_ = max(s for s, _ in config["bos"].values()) // P
    return [
        "Threads = " + tla(TlaSet(list(config["threads"]))),
        f"NP = {np_}",
        "Bos = " + tla(TlaSet(sorted(config["bos"]))),
        "Programs <- TrPrograms",
        f"Profile = {tla(config['profile'])}",
        'Bug = "none"',
    ]


def model_config(printed: Mapping[str, Any]) -> dict[str, Any]:
    threads: dict[str, list[dict[str, Any]]] = {}
    for t in printed["threads"]:
        prog: list[dict[str, Any]] = []
        for e in printed["programs"][t]:
            if e["kind"] == "restart":
                prog.append(dict(RESTART))
                continue
            ops = [(_map(o["first"], o["n"], int(o["bo"]), o["bopage"], bool(o["ro"]))
                    if o["op"] == "map" else _unmap(o["first"], o["n"]),
                    sorted(str(x) for x in o["fail"])) for o in e["ops"]]
            prog.append(_bind(*ops))
        threads[str(t)] = prog
    np_ = int(printed["np"])
    return XeSystem({str(b): (np_ * P, 0) for b in printed["bos"]}, threads=threads,
                    profile=str(printed["profile"])).config()
