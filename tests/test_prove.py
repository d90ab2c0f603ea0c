"""``gpuvm-check prove``: the Z3 obligations, their outcomes and counterexample traces."""

from __future__ import annotations

import importlib.util
import io
import json
import random
from pathlib import Path

import pytest
import z3

from checks.cli import main
from checks.outcome import Outcome
from checks.prove import bench_prove, run, run_obligation, solve
from checks.traces import read_trace, replay
from specs.z3.goal import Goal
from specs.z3.obligations import BAD_CLAIM, MUTANT_OF, Obligation, obligations
from specs.z3.u64 import MOD, BvArith, IntArith


def cli(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(list(argv), out, err)
    return code, out.getvalue(), err.getvalue()


def test_every_obligation_gives_its_expected_outcome_at_k2(tmp_path: Path) -> None:
    results = run(k=2, out_dir=tmp_path, with_vectors=False)
    bad = [f"{r.name}: {r.outcome} (expected {r.expected}) {r.detail}"
           for r in results if not r.ok]
    assert not bad, "\n".join(bad)
    names = {r.name for r in results}
    for relation in ("upstream", "rfc2023", "unmap"):
        assert f"{relation}.translation" in names and f"{relation}.no-overflow" in names
    violated = [r for r in results if r.expected == Outcome.VIOLATION]
    assert {r.name for r in violated} >= {"i915.bind-overlap.seed", "i915.bind-reserved.seed",
                                          "nouveau.op-reserved.seed", "xe.map-range.seed",
                                          *[f"bad.{v}" for v in BAD_CLAIM]}
    # Every flawed seed check has a fixed version that proves.
    for r in violated:
        if r.name.endswith(".seed"):
            assert r.name.replace(".seed", ".fixed") in names
    assert all(r.trace is not None and r.trace.is_file() for r in violated)


def test_prove_json_lists_every_obligation_with_outcome_and_seconds(tmp_path: Path) -> None:
    code, out, _ = cli("prove", "--json", "--out", str(tmp_path), "u64-*", "unmap.*",
                       "xe.*")
    doc = json.loads(out)
    assert code == 0 and doc["ok"] is True
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
    code, _, err = cli("prove", "--timeout", "0", "unmap.translation")
    assert code == 2 and "--timeout" in err


def test_a_timeout_or_unknown_is_never_a_pass() -> None:
    x, y, z = z3.Ints("x y z")
    hard = Goal(z3.And(x > 1, y > 1, z > 1), x * x * x + y * y * y != z * z * z)
    ob = Obligation("hard", "proved", "Fermat for cubes", lambda: hard, "test")
    result = run_obligation(ob, timeout=0.05, out_dir=None, k=0)
    assert result.outcome in (Outcome.TIMEOUT, Outcome.UNKNOWN)
    assert not result.ok
    assert solve(Goal(z3.BoolVal(True), z3.BoolVal(True)), 1.0).outcome == Outcome.PASS


def test_a_wrong_claim_is_violated() -> None:
    """The split/merge claims bite: a stronger-than-true claim gets a counterexample."""
    from specs.z3.splitmerge import sm_map

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


def test_front_end_counterexamples_are_the_seed_flaws(tmp_path: Path) -> None:
    results = {r.name: r for r in run(["i915.*", "nouveau.op-*"], out_dir=tmp_path,
                                      with_vectors=False)}
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
    (r,) = run(["xe.map-range.seed"], out_dir=tmp_path, with_vectors=False)
    assert r.trace is not None
    report = replay(read_trace(r.trace))
    assert report.divergence is not None and report.divergence.actual["lastErr"] == "EINVAL"


@pytest.mark.parametrize("variant", sorted(BAD_CLAIM))
def test_bad_variant_trace_replays_on_its_mutant_only(variant: str, tmp_path: Path) -> None:
    (r,) = run([f"bad.{variant}"], out_dir=tmp_path, with_vectors=False)
    assert r.outcome == Outcome.VIOLATION and r.ok and r.trace is not None
    trace = read_trace(r.trace)
    assert trace.config["profile"] == "upstream" and len(trace.steps) <= 3
    correct = replay(trace)
    assert correct.divergence is not None
    assert correct.divergence.step == len(trace.steps) - 1
    if importlib.util.find_spec("checks.mutants") is None:
        pytest.skip("checks.mutants (the model mutants) is not available")
    from checks.mutants import run_on_mutant

    proc = run_on_mutant(MUTANT_OF[variant], ["replay", str(r.trace), "--json"], timeout=120.0)
    doc = json.loads(proc.stdout)
    (res,) = doc["results"]
    assert "divergence_step" not in res, res
    assert res["outcome"] == "pass" or res["reproduced"], res


def test_every_known_bad_variant_has_an_obligation_and_a_mutant() -> None:
    names = {o.name: o for o in obligations(3)}
    for variant, mutant in MUTANT_OF.items():
        ob = names[f"bad.{variant}"]
        assert ob.expect == "violated" and ob.mutant == mutant


@pytest.mark.slow
def test_bench_prove_k3_is_within_a_minute() -> None:
    results = bench_prove(3)
    total = results[-1]
    assert total.ok and total.figures["k"] == 3
    assert total.seconds < 60.0
