"""``gpuvm-check prove``: the Z3 obligations, their outcomes and counterexample traces."""

from __future__ import annotations

import argparse
import ast
import importlib.util
import io
import json
import math
import os
import random
from pathlib import Path

import pytest
import z3

from checks.cli import main
from checks.outcome import Outcome, ToolError
from checks.prove import (
    DEFAULT_K,
    K_BY_BUDGET,
    bench_prove,
    cmd_prove,
    run,
    run_obligation,
    solve,
    system_obligations,
)
from checks.replay import replay
from checks.traces import read_trace
from specs.z3 import declarative
from specs.z3.goal import Goal, Obligation
from specs.z3.obligations import (
    BAD_CLAIM,
    CLAIMS,
    DECLARATIVE,
    MUTANT_OF,
    RELATION_CLAIMS,
    claim_goal,
    obligations,
)
from specs.z3.splitmerge import VARIANTS, sm_map
from specs.z3.u64 import MOD, BvArith, IntArith

GPUVM = ["gpuvm"]


def cli(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(list(argv), out, err)
    return code, out.getvalue(), err.getvalue()


def test_every_obligation_gives_its_expected_outcome_at_k2(tmp_path: Path) -> None:
    results = run(k=2, out_dir=tmp_path, with_vectors=False, systems=GPUVM)
    bad = [f"{r.name}: {r.outcome} (expected {r.expected}) {r.detail}"
           for r in results if not r.ok]
    assert not bad, "\n".join(bad)
    names = {r.name for r in results}
    for relation, claims in RELATION_CLAIMS.items():
        assert {f"{relation}.{c}" for c in (*claims, "paths-partition")} <= names
    assert {"u64-int-matches-bitvec", "compat-seed-tests"} <= names
    violated = [r for r in results if r.expected == Outcome.VIOLATION]
    assert {r.name for r in violated} >= {"i915.bind-overlap.seed", "i915.bind-reserved.seed",
                                          "nouveau.op-reserved.seed", "xe.map-range.seed",
                                          *[f"bad.{v}" for v in BAD_CLAIM]}
    # Every flawed seed check has a fixed version that proves.
    for r in violated:
        if r.name.endswith(".seed"):
            assert r.name.replace(".seed", ".fixed") in names
    assert all(r.trace is not None and r.trace.is_file() for r in violated)


def test_the_default_prove_is_k8() -> None:
    assert DEFAULT_K == 8 == K_BY_BUDGET["default"]
    assert K_BY_BUDGET["quick"] <= DEFAULT_K <= K_BY_BUDGET["thorough"]
    split_merge = [o for o in obligations(DEFAULT_K) if o.group in RELATION_CLAIMS]
    assert split_merge and all("(k=8)" in o.about for o in split_merge)
    assert {o.arith for o in split_merge} == {"bv", "int"}
    code, out, _ = cli("prove", "--json", "upstream.range-validity", "rfc2023.noop-iff-covered")
    doc = json.loads(out)
    assert code == 0 and doc["k"] == 8
    assert [(r["outcome"], r["k"], r["arith"]) for r in doc["results"]] == [
        ("pass", 8, "bv"), ("pass", 8, "int")]


def test_bitvector_obligations_are_bitvector_terms() -> None:
    """``bv`` obligations are stated over BitVec(64); ``int`` ones over integers."""
    for ob in obligations(3):
        if ob.group not in RELATION_CLAIMS:
            continue
        goal = ob.build()
        assert goal.spec is not None and not goal.intblast
        addr = goal.spec.req.addr
        assert (z3.is_bv(addr) and addr.size() == 64) == (ob.arith == "bv"), ob.name


def test_prove_json_lists_every_obligation_with_outcome_and_seconds(tmp_path: Path) -> None:
    code, out, _ = cli("prove", "--json", "--out", str(tmp_path), "u64-*", "unmap.op-bounds",
                       "unmap.range-validity", "xe.*")
    doc = json.loads(out)
    assert code == 0 and doc["ok"] is True
    assert doc["seconds"] > 0 and doc["item_seconds"] > 0
    names = [r["name"] for r in doc["results"]]
    assert "u64-int-matches-bitvec" in names and "xe.map-range.seed" in names
    for r in doc["results"]:
        assert {"outcome", "expected", "seconds", "ok"} <= set(r)
    seed = next(r for r in doc["results"] if r["name"] == "xe.map-range.seed")
    assert seed["outcome"] == "violation" and seed["expected"] == "violation"
    assert Path(seed["trace"]).is_file()


def test_an_unknown_obligation_is_a_usage_error() -> None:
    code, _, err = cli("prove", "no-such-obligation")
    assert code == 2 and "no obligation named 'no-such-obligation'" in err


@pytest.mark.parametrize("value", ["nan", "inf", "-inf", "0", "-1"])
def test_a_timeout_must_be_finite_and_positive(value: str) -> None:
    code, _, err = cli("prove", f"--timeout={value}", "unmap.translation")
    assert code == 2 and "--timeout" in err and "finite positive" in err
    args = argparse.Namespace(timeout=float(value), out="gpuvm-check-out", json=True,
                              obligations=["unmap.translation"])
    with pytest.raises(ToolError, match="--timeout must be a finite positive number"):
        cmd_prove(args, io.StringIO(), io.StringIO())
    with pytest.raises(ToolError, match="finite positive"):
        run(["unmap.translation"], timeout=float(value))
    with pytest.raises(ToolError, match="finite positive"):
        solve(Goal(z3.BoolVal(True), z3.BoolVal(True)), float(value))


def test_a_bad_out_is_a_usage_error_naming_the_path(tmp_path: Path) -> None:
    plain = tmp_path / "file"
    plain.write_text("not a directory\n")
    for out_dir in (plain, plain / "below"):
        code, out, err = cli("prove", "--out", str(out_dir), "xe.map-range.seed")
        assert code == 2 and str(out_dir) in err and "Traceback" not in err + out
    if os.geteuid() != 0:  # root writes anywhere
        locked = tmp_path / "locked"
        locked.mkdir(mode=0o500)
        code, _, err = cli("prove", "--out", str(locked / "x"), "xe.map-range.seed")
        assert code == 2 and str(locked / "x") in err


def test_a_timeout_or_unknown_is_never_a_pass() -> None:
    x, y, z = z3.Ints("x y z")
    hard = Goal(z3.And(x > 1, y > 1, z > 1), x * x * x + y * y * y != z * z * z)
    ob = Obligation("hard", "proved", "Fermat for cubes", lambda: hard, "test")
    result = run_obligation(ob, timeout=0.05, out_dir=None, k=0)
    assert result.outcome in (Outcome.TIMEOUT, Outcome.UNKNOWN)
    assert not result.ok
    assert solve(Goal(z3.BoolVal(True), z3.BoolVal(True)), 1.0).outcome == Outcome.PASS


def test_a_crashing_obligation_is_a_tool_error() -> None:
    def broken() -> Goal:
        raise KeyError("x0.addr")

    result = run_obligation(Obligation("broken", "proved", "", broken, "test"), 1.0, None, 0)
    assert result.outcome == Outcome.TOOL_ERROR and "KeyError" in result.detail


def test_a_wrong_claim_is_violated() -> None:
    """The split/merge claims bite: a stronger-than-true claim gets a counterexample."""
    spec = sm_map("upstream", 2)
    never_remaps = z3.And([z3.Not(s.remap) for s in spec.ops.slots])
    goal = Goal(z3.And(spec.valid, spec.ar.domain()), never_remaps)
    assert solve(goal, 30.0).outcome == Outcome.VIOLATION


def test_the_int_form_of_u64_matches_bitvec_on_samples() -> None:
    """Concrete spot checks of the lemma ``u64-int-matches-bitvec``."""
    ia, bv = IntArith(), BvArith()
    rnd = random.Random(5)
    edges = [0, 1, 2, MOD - 2, MOD - 1, MOD // 2, MOD // 2 - 1]
    samples = [(a, b) for a in edges for b in edges] + [
        (rnd.randrange(MOD), rnd.randrange(MOD)) for _ in range(50)]
    for a, b in samples:
        ai, bi, ab, bb = ia.const(a), ia.const(b), bv.const(a), bv.const(b)
        for op in ("add", "sub"):
            want = z3.simplify(getattr(bv, op)(ab, bb)).as_long()
            got = z3.simplify(getattr(ia, op)(ai, bi)).as_long()
            assert want == got, (op, a, b)
        for rel in ("lt", "le", "add_fits"):
            want_b = z3.is_true(z3.simplify(getattr(bv, rel)(ab, bb)))
            got_b = z3.is_true(z3.simplify(getattr(ia, rel)(ai, bi)))
            assert want_b == got_b, (rel, a, b)


def test_the_seed_compatibility_tests_on_samples() -> None:
    """Concrete spot checks of ``compat-seed-tests``, in Python's arithmetic."""
    rnd = random.Random(9)
    near = [0, 1, MOD - 1, MOD - 2]
    for _ in range(500):
        off, addr, roff, ra = (rnd.choice([rnd.randrange(MOD), rnd.choice(near)])
                               for _ in range(4))
        if rnd.random() < 0.5:  # make them compatible
            roff = (off - addr + ra) % MOD
        same = (off - addr) % MOD == (roff - ra) % MOD
        assert ((off + ra) % MOD == (roff + addr) % MOD) == same
        if addr < ra:
            assert ((off + (ra - addr)) % MOD == roff) == same
        if addr > ra:
            assert (off == (roff + (addr - ra)) % MOD) == same


def test_front_end_counterexamples_are_the_seed_flaws(tmp_path: Path) -> None:
    results = {r.name: r for r in run(["i915.*", "nouveau.op-*"], out_dir=tmp_path,
                                      with_vectors=False, systems=GPUVM)}
    overlap = results["i915.bind-overlap.seed"]
    assert overlap.outcome == Outcome.VIOLATION and "live=True" in overlap.detail
    reserved = results["i915.bind-reserved.seed"]
    assert "rsvd2[" in reserved.detail and reserved.trace is not None
    doc = json.loads(reserved.trace.read_text())
    assert doc["#meta"]["config"]["ioctl"] == "DRM_IOCTL_I915_GEM_VM_BIND"
    call = doc["states"][1]
    assert call["accepted"] is True and call["claim"] is False
    assert results["nouveau.op-copy-size.seed"].outcome == Outcome.VIOLATION
    assert results["i915.bind-object.seed"].outcome == Outcome.PASS


def test_xe_range_counterexample_is_a_trace_the_model_rejects(tmp_path: Path) -> None:
    (r,) = run(["xe.map-range.seed"], out_dir=tmp_path, with_vectors=False, systems=GPUVM)
    assert r.trace is not None
    report = replay(read_trace(r.trace))
    assert report.divergence is not None and report.divergence.actual["lastErr"] == "EINVAL"


def _mutant_available(name: str) -> bool:
    if importlib.util.find_spec("checks.mutants") is None:
        return False
    from checks.mutants import load_mutants

    return name in load_mutants()


@pytest.mark.parametrize("variant", sorted(BAD_CLAIM))
def test_bad_variant_is_violated_with_a_replayable_counterexample(variant: str,
                                                                  tmp_path: Path) -> None:
    (r,) = run([f"bad.{variant}"], k=3, out_dir=tmp_path, with_vectors=False, systems=GPUVM)
    assert r.outcome == Outcome.VIOLATION and r.ok and r.trace is not None
    relation, _ = BAD_CLAIM[variant]
    trace = read_trace(r.trace)
    assert trace.config["profile"] == relation.replace("unmap", "upstream")
    assert len(trace.steps) == 2 and trace.steps[1].action == (
        "Unmap" if relation == "unmap" else "Map")
    assert trace.meta["mutant"] == MUTANT_OF[variant] == r.figures["mutant"]
    if trace.steps[1].action == "Map":
        assert {"gem", "offset", "flags"} <= set(trace.steps[1].args)
    assert all(len(va) == 5 for step in trace.steps for va in step.state["vas"])
    # The real model refuses the variant's answer to the request, and only that step.
    correct = replay(trace)
    assert correct.divergence is not None and correct.divergence.step == 1
    if not _mutant_available(MUTANT_OF[variant]):
        pytest.skip(f"the model mutant {MUTANT_OF[variant]} is not available")
    from checks.mutants import run_on_mutant

    proc = run_on_mutant(MUTANT_OF[variant], ["replay", str(r.trace), "--json"], timeout=120.0)
    if proc.returncode == 2:
        pytest.skip(f"the mutant does not run on this model: {proc.stderr.strip()[-300:]}")
    (res,) = json.loads(proc.stdout)["results"]
    assert "divergence_step" not in res, res
    assert res["outcome"] == "pass" or res["reproduced"], res


#: (relation, declarative claim, a known-bad variant that breaks it)
BITES = [
    ("upstream", "keep-iff-compatible", "upstream-never-keep"),
    ("upstream", "keep-iff-compatible", "keep-ignores-offset"),
    ("upstream", "piece-offsets", "next-offset-from-request"),
    ("rfc2023", "piece-offsets", "next-offset-from-request"),
    ("unmap", "piece-offsets", "doc-case15-offset"),
    ("upstream", "piece-offsets", "doc-case15-offset"),
    ("upstream", "range-validity", "range-check-no-overflow"),
    ("rfc2023", "range-validity", "range-check-no-overflow"),
    ("unmap", "range-validity", "range-check-no-overflow"),
    ("rfc2023", "noop-iff-covered", "rfc2023-nothing-compatible"),
    ("rfc2023", "noop-iff-covered", "rfc2023-noop-as-remap"),
    ("rfc2023", "merge-widening", "merge-across-regions"),
    ("rfc2023", "merge-widening", "merge-ignores-flags"),
    ("rfc2023", "merge-widening", "rfc2023-nothing-compatible"),
    ("rfc2023", "merge-skips", "rfc2023-merge-always"),
    ("rfc2023", "translation", "merge-ignores-flags"),
    ("upstream", "translation", "next-offset-from-request"),
    ("rfc2023", "translation", "keep-ignores-offset"),
]


@pytest.mark.parametrize(("relation", "claim", "variant"), BITES)
def test_each_declarative_obligation_has_a_bad_variant(relation: str, claim: str,
                                                       variant: str) -> None:
    assert solve(claim_goal(relation, claim, 3, variant), 60.0).outcome == Outcome.VIOLATION


def test_every_declarative_obligation_is_bitten_and_every_variant_bites() -> None:
    declared = {(rel, c) for rel, claims in RELATION_CLAIMS.items() for c in claims
                if c in DECLARATIVE}
    bitten = {(rel, c) for rel, c, _ in BITES} | {("upstream", "no-merge")}
    assert declared <= bitten
    assert {v for _, _, v in BITES} == set(VARIANTS)
    assert {(rel, c) for rel, c in BAD_CLAIM.values()} <= {(rel, c) for rel, c, _ in BITES}


def test_no_merge_bites_on_a_merging_relation() -> None:
    """``upstream.no-merge`` stated of the rfc2023 relation (which merges) fails."""
    spec = sm_map("rfc2023", 2, ar="int")
    goal = Goal(z3.And(spec.valid, spec.ar.domain()), CLAIMS["no-merge"](spec))
    assert solve(goal, 30.0).outcome == Outcome.VIOLATION


def test_the_declarative_claims_do_not_use_the_relations_definitions() -> None:
    """``specs.z3.declarative`` reads the relation's inputs and op list only: it takes
    nothing from ``splitmerge`` but the ``Spec`` type, nothing from ``layout`` but
    the input records, and never the relation's own tests."""
    tree = ast.parse(Path(declarative.__file__).read_text())
    imported = {(n.module, a.name) for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)
                for a in n.names}
    assert {name for mod, name in imported if mod == "specs.z3.splitmerge"} == {"Spec"}
    assert {name for mod, name in imported if mod == "specs.z3.layout"} <= {"Mapping",
                                                                           "Request"}
    used = {n.attr for n in ast.walk(tree) if isinstance(n, ast.Attribute)}
    assert not used & {"compat", "noop", "valid", "wraps", "covers", "end", "in_region",
                       "same_region", "translates"}


def test_parallel_and_sequential_runs_agree(tmp_path: Path) -> None:
    names = ["u64-*", "compat-*", "unmap.op-bounds", "xe.*", "bad.keep-ignores-offset"]
    one = run(names, k=2, out_dir=tmp_path / "one", with_vectors=False, systems=GPUVM)
    two = run(names, k=2, out_dir=tmp_path / "two", with_vectors=False, jobs=2,
              systems=GPUVM)
    assert [(r.name, r.outcome) for r in one] == [(r.name, r.outcome) for r in two]
    assert all(r.ok for r in two)
    assert {r.trace.name for r in two if r.trace} == {r.trace.name for r in one if r.trace}


def test_every_system_with_obligations_contributes_them() -> None:
    from checks.systems import SYSTEMS

    loaded = dict(system_obligations(3))
    assert set(loaded) == {n for n, s in SYSTEMS.items() if s.obligations_ref}
    for name, obs in loaded.items():
        assert isinstance(obs, list) and obs, (name, obs)


@pytest.mark.slow
def test_bench_prove_default_is_within_a_minute() -> None:
    results = bench_prove()
    total = results[-1]
    assert total.ok and total.figures["k"] == 8, total.detail
    split_merge = [r for r in results if r.figures.get("group") in RELATION_CLAIMS]
    assert split_merge and all(r.figures["k"] == 8 for r in split_merge)
    assert math.isfinite(total.seconds) and total.seconds < 60.0
