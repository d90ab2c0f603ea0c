"""Conformance vectors: one concrete input per path of the Z3 relation, through the model."""

from __future__ import annotations

import importlib.util
import json

import pytest
import z3

from checks.prove import (
    VECTOR_K,
    clear_vector_cache,
    path_witnesses,
    run_vector,
    vector_result,
    vectors,
)
from checks.z3step import Inputs, predict, signature
from model import Va, VaSpace, profile_by_name
from model.ops import ops_to_json

#: Paths of the relations over three existing mappings (a change here is a change
#: of the relation or of the path labels: look at it).
PATHS = {"upstream": 132, "rfc2023": 787, "unmap": 44}


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
    rejections = [v for v in vs if v.get("error")]
    assert len(vs) - len(rejections) == 2 * (PATHS[profile] + PATHS["unmap"])
    # Each validity test of the request (7 for Map, 5 for Unmap) fails alone somewhere.
    assert {v["path"][0] for v in rejections} == {
        "reject:" + t for t in ("empty", "wraps", "below-vm", "beyond-vm", "kernel-node",
                                "region", "offset-wraps")}
    assert all(v["error"] == "EINVAL" and v["vas"] == v["layout"] for v in rejections)
    failures = [msg for v in vs if (msg := run_vector(v)) is not None]
    assert not failures, "\n".join(failures[:5])
    result = vector_result(profile)
    assert result.ok and result.figures["vectors"] == len(vs)


def test_vectors_are_plain_json_with_small_and_near_2_64_values() -> None:
    vs = vectors("upstream")
    assert json.loads(json.dumps(vs)) == vs
    high = [v for v in vs if v["values"] == "high"]
    small = [v for v in vs if v["values"] == "small"]
    assert high and small
    assert all(v["args"]["addr"] >= 2**64 - 256 for v in high)
    assert all(v["args"]["addr"] < 64 for v in small)
    assert all(v["path"] == v["bv_path"] for v in vs)


def test_vectors_do_not_depend_on_what_ran_before() -> None:
    first = vectors("upstream")
    for i in range(50):  # other terms in Z3's main context must not change the vectors
        z3.BitVec(f"unrelated{i}", 64)
    clear_vector_cache()
    assert vectors("upstream") == first


def test_a_wrong_vector_fails() -> None:
    """The runner bites: change one expected offset and the model disagrees."""
    v = next(v for v in vectors("upstream")
             if any(op["op"] == "remap" and op["next"] for op in v["ops"]))
    remap = next(op for op in v["ops"] if op["op"] == "remap" and op["next"])
    remap["next"][3] += 1
    msg = run_vector(v)
    assert msg is not None and "relation:" in msg


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


def test_a_model_mutant_fails_a_vector() -> None:
    if importlib.util.find_spec("checks.mutants") is None:
        pytest.skip("checks.mutants (the model mutants) is not available")
    from checks.mutants import run_on_mutant

    proc = run_on_mutant("next-offset-from-request", ["prove", "upstream.vectors", "--json"],
                         timeout=300.0)
    assert proc.returncode == 1, proc.stderr
    doc = json.loads(proc.stdout)
    (result,) = doc["results"]
    assert not doc["ok"] and result["outcome"] == "violation" and result["failures"] > 0
    # ... while the same vectors pass on the real model.
    assert vector_result("upstream").ok
