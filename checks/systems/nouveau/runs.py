"""Recorded runs of the nouveau system for trace validation against NouveauBind.tla.

Each layout is a small client: one region ``[0, 4 pages)`` at VA 0, two
objects of four pages, a binary syncobj (10) and a timeline one (11), one
channel, and two threads whose programs mix async and sync binds that split
and overwrite one another, exec jobs waiting on bind fences and timeline
points, and ioctls the queue must reject (a sync bind with syncs, a wait on
a syncobj with no fence yet).  A run is a random schedule of the enabled
steps (``NouveauSystem.enabled``) to the end.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from checks.tlc.values import TlaSet, tla
from checks.traces import Trace
from model.nouveau import NouveauSystem
from model.nouveau_uapi import VM_BIND_OP_MAP, VM_BIND_OP_UNMAP

P = 1 << 12
NP = 4
KERNEL = (1 << 46, P)
BIN, TL = 10, 11


def _map(first: int, n: int, bo: int, bopage: int) -> list[int]:
    return [VM_BIND_OP_MAP, 0, bo, 0, first * P, bopage * P, n * P]


def _unmap(first: int, n: int) -> list[int]:
    return [VM_BIND_OP_UNMAP, 0, 0, 0, first * P, 0, n * P]


def _bind(ops: list[list[int]], asynch: bool = True, waits: list[list[int]] | None = None,
          sigs: list[list[int]] | None = None) -> dict[str, Any]:
    return {"ioctl": "bind", "flags": int(asynch), "ops": ops, "waits": waits or [],
            "sigs": sigs or []}


def _exec(push: int, waits: list[list[int]] | None = None,
          sigs: list[list[int]] | None = None) -> dict[str, Any]:
    return {"ioctl": "exec", "channel": 1, "push": [[0, P]] * push, "waits": waits or [],
            "sigs": sigs or []}


def _b(h: int) -> list[int]:
    return [0, h, 0]


def _t(h: int, pt: int) -> list[int]:
    return [1, h, pt]


LAYOUTS: dict[str, dict[str, list[dict[str, Any]]]] = {
    "map-unmap-exec": {
        "t1": [_bind([_map(0, 2, 1, 0)], sigs=[_b(BIN)]), _bind([_unmap(1, 1)], False)],
        "t2": [_exec(1, [_b(BIN)], [_t(TL, 1)]), _bind([_map(1, 2, 2, 1)], waits=[_t(TL, 1)])],
    },
    "overwrite-split": {
        "t1": [_bind([_map(0, 4, 1, 0)]), _bind([_map(1, 1, 2, 0)], sigs=[_b(BIN)])],
        "t2": [_bind([_map(2, 1, 2, 2)], False), _exec(1, [_b(BIN)])],
    },
    "ops-array": {
        "t1": [_bind([_map(0, 3, 1, 1), _unmap(1, 1), _map(1, 1, 2, 3)], sigs=[_t(TL, 1)]),
               _bind([_unmap(0, 4)], sigs=[_t(TL, 2)])],
        "t2": [_bind([_map(3, 1, 2, 0)], False, sigs=[_b(BIN)]),
               _exec(1, [_t(TL, 2)], [_b(BIN)])],
    },
    "empty-exec": {
        "t1": [_bind([_map(0, 1, 1, 0)], sigs=[_b(BIN)]), _exec(0, [_b(BIN)], [_t(TL, 1)])],
        "t2": [_exec(1, [_t(TL, 1)]), _bind([_unmap(0, 2)])],
    },
}


def config(layout: str, profile: str = "fixed") -> dict[str, Any]:
    return NouveauSystem({"1": NP * P, "2": NP * P}, syncobjs=(BIN, TL), channels={1: "ok"},
                         threads=LAYOUTS[layout], init=KERNEL, regions=((0, NP * P, False),),
                         profile=profile).config()


def record_runs(n: int, seed: int, variant: str = "fixed", steps: int = 200) -> list[Trace]:
    """``n`` random schedules over the layouts in turn, each to its end."""
    from checks.conform.random_runs import record_random_runs

    def make(layout: str) -> NouveauSystem:
        return NouveauSystem.from_config(config(layout, variant))

    return record_random_runs("nouveau", make, list(LAYOUTS), n, seed, variant, steps)


# ------------------------------------------------------------- spec encoding

def spec_programs(config: Mapping[str, Any]) -> dict[str, list[dict[str, Any]]]:
    """The threads' programs in NouveauBind's ``Programs`` encoding."""
    def sref(x: list[int]) -> dict[str, Any]:
        return {"s": str(x[1]), "pt": x[2] if x[0] & 0xf == 1 else 0}

    out: dict[str, list[dict[str, Any]]] = {}
    for t, prog in config["threads"].items():
        jobs = []
        for e in prog:
            bind = e.get("ioctl", "bind") == "bind"
            ops = [{"op": "map" if o[0] == VM_BIND_OP_MAP else "unmap", "first": o[4] // P,
                    "n": o[6] // P, "bo": str(o[2]) if o[0] == VM_BIND_OP_MAP else "",
                    "bopage": o[5] // P} for o in e.get("ops", [])]
            jobs.append({"kind": "bind" if bind else "exec",
                         "async": bool(e["flags"] & 1) if bind else True, "ops": ops,
                         "waits": [sref(x) for x in e.get("waits", [])],
                         "sigs": [sref(x) for x in e.get("sigs", [])],
                         "push": 0 if bind else len(e["push"])})
        out[t] = jobs
    return out


def spec_constants(config: Mapping[str, Any]) -> list[str]:
    regions = config["regions"]
    np_ = regions[0][1] // P
    timeline = sorted({str(x[1]) for p in config["threads"].values() for e in p
                       for x in e.get("waits", []) + e.get("sigs", []) if x[0] & 0xf == 1})
    return [
        "Threads = " + tla(TlaSet(list(config["threads"]))),
        f"NP = {np_}",
        "Bos = " + tla(TlaSet(sorted(config["gems"]))),
        "Syncs = " + tla(TlaSet([str(s) for s in config["syncobjs"]])),
        "Timeline = " + tla(TlaSet(timeline)),
        "Programs <- TrPrograms",
        f"Profile = {tla(config['profile'])}",
        'Bug = "none"',
    ]


def model_config(printed: Mapping[str, Any]) -> dict[str, Any]:
    """A spec model's printed configuration -> the model's."""
    def sync(x: Mapping[str, Any], timeline: set[str]) -> list[int]:
        return [1 if x["s"] in timeline else 0, int(x["s"]), int(x["pt"])]

    timeline = {str(s) for s in printed.get("timeline", [])}
    threads: dict[str, list[dict[str, Any]]] = {}
    for t in printed["threads"]:
        prog = []
        for j in printed["programs"][t]:
            waits = [sync(x, timeline) for x in j["waits"]]
            sigs = [sync(x, timeline) for x in j["sigs"]]
            if j["kind"] == "exec":
                prog.append(_exec(int(j["push"]), waits, sigs))
            else:
                ops = [_map(o["first"], o["n"], int(o["bo"]), o["bopage"]) if o["op"] == "map"
                       else _unmap(o["first"], o["n"]) for o in j["ops"]]
                prog.append(_bind(ops, bool(j["async"]), waits, sigs))
        threads[str(t)] = prog
    np_ = int(printed["np"])
    bos = printed["bos"]
    sizes = {str(b): int(bos[b]) * P for b in bos} if isinstance(bos, dict) \
        else {str(b): np_ * P for b in bos}
    return NouveauSystem(sizes, syncobjs=tuple(int(s) for s in printed["syncs"]),
                         channels={1: "ok"}, threads=threads, init=KERNEL,
                         regions=((0, np_ * P, False),),
                         profile=str(printed["profile"])).config()
