"""Conformance vectors: one concrete input per path of the Z3 relation, through the model."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path
from typing import Any

import pytest
import z3

import checks.vectors
from checks.outcome import Outcome
from checks.replay import replay
from checks.traces import read_trace
from checks.vectors import (
    CHECK_TIMEOUT_MS,
    EDGES,
    VECTOR_K,
    SolverGaveUp,
    path_witnesses,
    run_vector,
    vector_result,
    vectors,
)
from checks.z3step import Inputs, predict, signature
from model import Va, VaSpace, profile_by_name
from model.gpuva import U64_MAX
from model.ops import ops_to_json

#: Paths of the relations over three existing mappings (a change here is a change
#: of the relation or of the path labels: look at it).
PATHS = {"upstream": 132, "rfc2023": 787, "unmap": 44}
#: The request's validity tests (the model's order): each fails alone in some vector.
MAP_TESTS = ("empty", "wraps", "below-vm", "beyond-vm", "kernel-node", "region")


@pytest.mark.parametrize("relation", sorted(PATHS))
def test_the_paths_cover_every_input(relation: str) -> None:
    w = path_witnesses(relation)
    assert w.complete
    assert len(w.signatures) == len(set(w.signatures)) == PATHS[relation]
    assert all(len(sig) == VECTOR_K for sig in w.signatures)
    assert all(h is not None for h in w.high)


@pytest.mark.parametrize("profile", ["upstream", "rfc2023"])
def test_every_vector_gives_the_relations_ops_and_layout_on_the_model(profile: str) -> None:
    vs = vectors(profile)
    paths = [v for v in vs if not v.get("error") and not v.get("edge")]
    assert len(paths) == 2 * (PATHS[profile] + PATHS["unmap"])
    rejections = [v for v in vs if v.get("error")]
    assert {v["path"][0] for v in rejections} == {"reject:" + t for t in MAP_TESTS}
    assert all(v["error"] == "EINVAL" and v["vas"] == v["layout"] for v in rejections)
    edges = {v["edge"] for v in vs if v.get("edge")}
    assert edges == {name for name, relations, *_ in EDGES
                     if profile in relations or "unmap" in relations}
    failures = [msg for v in vs if (msg := run_vector(v)) is not None]
    assert not failures, "\n".join(failures[:5])
    result = vector_result(profile)
    assert result.ok and result.figures["vectors"] == len(vs)
    assert result.figures["edge_vectors"] == sum(1 for v in vs if v.get("edge"))


def test_vectors_are_plain_json_with_small_and_near_2_64_values() -> None:
    vs = vectors("upstream")
    assert json.loads(json.dumps(vs)) == vs
    high = [v for v in vs if v["values"] == "high" and not v.get("edge")]
    small = [v for v in vs if v["values"] == "small" and not v.get("edge")]
    assert high and small
    assert all(v["args"]["addr"] >= 2**64 - 256 for v in high)
    assert all(v["args"]["addr"] < 64 for v in small)
    assert all(v["path"] == v["bv_path"] for v in vs)


def _by_edge(profile: str) -> dict[str, list[dict[str, Any]]]:
    out: dict[str, list[dict[str, Any]]] = {}
    for v in vectors(profile):
        if v.get("edge"):
            out.setdefault(v["edge"], []).append(v)
    return out


def test_vectors_carry_non_zero_flags_everywhere() -> None:
    for profile in ("upstream", "rfc2023"):
        for v in vectors(profile):
            if v.get("edge") or v["relation"] == "unmap":
                continue
            assert v["args"]["flags"] != 0, v["name"]
            assert all(va[4] != 0 for va in v["layout"]), v["name"]
            for op in v["ops"]:
                if op["op"] == "map":
                    assert op["flags"] == v["args"]["flags"]
                elif op["op"] == "remap":
                    pieces = [p for p in (op["prev"], op["next"]) if p is not None]
                    assert all(p[4] == op["va"][4] for p in pieces)


def test_the_edges_the_paths_need_not_reach() -> None:
    edges = _by_edge("rfc2023")
    for v in edges["end-at-u64-max"]:  # Map and Unmap, both accepted
        assert v["args"]["addr"] + v["args"]["range"] == U64_MAX and "error" not in v
        assert v["ops"]
    assert {v["relation"] for v in edges["end-at-u64-max"]} == {"rfc2023", "unmap"}
    for name, at_node in (("kernel-first", "first"), ("kernel-last", "last")):
        for v in edges[name]:
            cfg = v["config"]
            first, last = cfg["reserve_offset"], cfg["reserve_offset"] + cfg["reserve_range"] - 1
            addr, end = v["args"]["addr"], v["args"]["addr"] + v["args"]["range"]
            touched = [a for a in (first, last) if addr <= a < end]
            assert v["error"] == "EINVAL" and touched == [first if at_node == "first" else last]
    for name in ("kernel-before", "kernel-after"):
        assert all("error" not in v for v in edges[name])
    # Neighbours of another GEM (not only another offset), and NULL ones: no merge.
    for name in ("neighbours-other-gem", "neighbours-null-gem"):
        (v,) = edges[name]
        left, right = v["layout"][0], v["layout"][1]
        assert left[0] + left[1] == v["args"]["addr"]
        assert right[0] == v["args"]["addr"] + v["args"]["range"]
        for va in (left, right):
            assert va[2] != v["args"]["gem"] and v["args"]["gem"] is not None
            assert (va[3] - va[0]) % 2**64 == (v["args"]["offset"] - v["args"]["addr"]) % 2**64
            assert va[4] == v["args"]["flags"]
        assert [op["op"] for op in v["ops"]] == ["map"]
    # A compatible mapping with other flags is neither merged nor a no-op (C13).
    for name in ("neighbour-other-flags", "contains-other-flags"):
        (v,) = edges[name]
        assert v["ops"] and not any(op.get("keep") for op in v["ops"])
    # Pieces whose offsets wrap past 2^64, and a request whose offset + range does.
    for v in edges["next-offset-wraps"]:
        nexts = [op for op in v["ops"] if op["op"] == "remap" and op["next"]]
        assert any(op["next"][3] < op["va"][3] for op in nexts), v["name"]
    for v in edges["map-offset-wraps"]:
        assert v["args"]["offset"] + v["args"]["range"] > 2**64 and "error" not in v


def test_vectors_do_not_depend_on_what_ran_before() -> None:
    first = path_witnesses("upstream")
    for i in range(50):  # other terms in Z3's main context must not change the vectors
        z3.BitVec(f"unrelated{i}", 64)
    assert path_witnesses.__wrapped__("upstream") == first


def test_a_wrong_vector_fails() -> None:
    """The runner bites: change one expected offset and the model disagrees."""
    v = next(v for v in vectors("upstream")
             if any(op["op"] == "remap" and op["next"] for op in v["ops"]))
    remap = next(op for op in v["ops"] if op["op"] == "remap" and op["next"])
    remap["next"][3] += 1
    msg = run_vector(v)
    assert msg is not None and "relation:" in msg


def test_any_exception_of_the_model_is_a_vector_failure(monkeypatch: pytest.MonkeyPatch,
                                                        tmp_path: Path) -> None:
    """A model that raises something unexpected fails the vectors, with a trace."""
    def broken(self: VaSpace, *args: object, **kwargs: object) -> None:
        raise KeyError("gem list")

    v = next(v for v in vectors("upstream") if v["action"] == "Map" and not v.get("error"))
    monkeypatch.setattr(VaSpace, "map", broken)
    msg = run_vector(v)
    assert msg is not None and "KeyError" in msg
    result = vector_result("upstream", tmp_path)
    assert result.outcome == Outcome.VIOLATION and "KeyError" in result.detail
    assert result.trace is not None and result.trace.is_file()
    monkeypatch.undo()
    # The trace is the vector as the relation answers it: the real model follows it.
    trace = read_trace(result.trace)
    assert len(trace.steps) == 2 and replay(trace).clean


def test_a_solver_that_gives_up_is_never_a_pass(monkeypatch: pytest.MonkeyPatch) -> None:
    assert 0 < CHECK_TIMEOUT_MS < 10**6

    def gives_up(profile: str) -> list[dict[str, Any]]:
        raise SolverGaveUp("timeout")

    monkeypatch.setattr(checks.vectors, "vectors", gives_up)
    result = vector_result("upstream")
    assert result.outcome == Outcome.TIMEOUT and not result.ok


# The sixteen documented cases of seed 001's "Split and Merge" section, as layouts
# (addresses in the diagrams' units; n = 16, m = 32) with the rfc2023 path each takes.
N, M = 16, 32
DOCUMENTED: list[tuple[int, list[Va], tuple[int, int, str, int], tuple[str, ...]]] = [
    (1, [Va(0, 1, "a", N)], (0, 1, "a", N), ("A1.c",)),
    (2, [Va(0, 1, "a", N)], (0, 1, "a", M), ("A1.n",)),
    (3, [Va(0, 1, "a", N)], (0, 1, "b", N), ("A1.n",)),
    (4, [Va(0, 1, "a", N)], (0, 2, "a", N), ("A2.c",)),
    (5, [Va(0, 2, "a", N)], (0, 1, "b", N), ("A3.n",)),
    (6, [Va(0, 2, "a", N)], (0, 1, "a", N), ("A3.c",)),
    (7, [Va(0, 2, "a", N)], (1, 1, "b", M), ("B1.n",)),
    (8, [Va(0, 2, "a", N)], (1, 1, "a", N + 1), ("B1.c",)),
    (9, [Va(0, 2, "a", N)], (1, 2, "b", M), ("B2.n",)),
    (10, [Va(0, 2, "a", N)], (1, 2, "a", N + 1), ("B2.c",)),
    (11, [Va(0, 3, "a", N)], (1, 1, "b", M), ("B3.n",)),
    (12, [Va(0, 3, "a", N)], (1, 1, "a", N + 1), ("B3.c",)),
    (13, [Va(1, 1, "a", N + 1)], (0, 2, "a", N), ("C1.c",)),
    (14, [Va(1, 1, "a", N + 1)], (0, 3, "a", N), ("C2.c",)),
    (15, [Va(1, 2, "a", N)], (0, 2, "b", M), ("C3.n",)),
    (16, [Va(0, 1, "a", N), Va(2, 1, "a", N + 2)], (1, 1, "a", N + 1), ("left.c", "right.c")),
]


def _inputs(relation: str, old: list[Va], req: tuple[int, int, str, int]) -> Inputs:
    addr, range_, gem, offset = req
    return Inputs(relation, {"mm_start": 0, "mm_range": 64}, None, tuple(old), addr, range_,
                  gem, offset)


def _padded(sig: tuple[str, ...]) -> tuple[str, ...]:
    return sig + ("-",) * (VECTOR_K - len(sig))


@pytest.mark.parametrize("relation", ["upstream", "rfc2023"])
def test_the_sixteen_documented_cases_are_among_the_paths(relation: str) -> None:
    known = set(path_witnesses(relation).signatures)
    seen = set()
    for number, old, req, rfc_path in DOCUMENTED:
        sig = _padded(signature(_inputs(relation, old, req)))
        assert sig in known, (number, sig)
        if relation == "rfc2023":
            assert sig == _padded(rfc_path), number
        seen.add(sig)
        # The relation's ops for the documented case are the model's.
        vm = VaSpace(0, 64, profile=profile_by_name(relation))
        for va in old:
            vm.insert(va)
        ops = vm.map(*req)
        assert ops_to_json(predict(_inputs(relation, old, req)).ops) == ops_to_json(ops), number
    if relation == "rfc2023":
        assert len(seen) == 15  # cases 2 and 3 (other offset, other BO) are one path: A1.n
    else:
        assert len(seen) < 15  # upstream does not tell no-ops and merges apart


def _mutant_available(name: str) -> bool:
    if importlib.util.find_spec("checks.mutants") is None:
        return False
    from checks.mutants import load_mutants

    return name in load_mutants()


def test_a_model_mutant_fails_a_vector() -> None:
    if not _mutant_available("next-offset-from-request"):
        pytest.skip("the model mutant next-offset-from-request is not available")
    from checks.mutants import run_on_mutant

    proc = run_on_mutant("next-offset-from-request", ["prove", "upstream.vectors", "--json"],
                         timeout=300.0)
    if proc.returncode == 2:
        pytest.skip(f"the mutant does not run on this model: {proc.stderr.strip()[-300:]}")
    assert proc.returncode == 1, proc.stderr
    doc = json.loads(proc.stdout)
    (result,) = doc["results"]
    assert not doc["ok"] and result["outcome"] == "violation" and result["failures"] > 0
    # ... while the same vectors pass on the real model.
    assert vector_result("upstream").ok
