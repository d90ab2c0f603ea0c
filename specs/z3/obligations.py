"""Every Z3 obligation of the project, by name.

An obligation is a named :class:`~specs.z3.goal.Goal` with the outcome it
is expected to have: ``proved`` (``premise and not claim`` unsatisfiable) or
``violated`` (a counterexample exists: a seed's flawed check, or a known-bad
variant of the relation).  ``checks.prove`` runs them; an ``unknown`` or a
timeout is never a pass.

Names:

``u64-int-matches-bitvec``
    the integer form of u64 arithmetic used by the proofs (``IntArith``)
    equals ``BitVec(64)`` on every operation, for all values;
``compat-u64-exact``
    the kernel's u64 compatibility test equals exact integer arithmetic;
``upstream.*``, ``rfc2023.*``, ``unmap.*``
    the claims of ``specs.z3.properties`` for ``sm_map`` of each profile and
    for ``sm_unmap``, over layouts of ``k`` existing mappings, plus
    ``*.paths-partition`` (every mapping is in exactly one case);
``i915.*``, ``nouveau.*``, ``xe.*``
    front-end argument validation (``specs.z3.validation``);
``bad.<variant>``
    a known-bad variant of the relation, expected to be violated; its
    counterexample becomes a trace that replays on the model mutant of the
    same name (:data:`MUTANT_OF`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import z3

from specs.z3 import paths, properties, validation
from specs.z3.goal import Goal
from specs.z3.splitmerge import Spec, sm_map, sm_unmap
from specs.z3.u64 import MOD, U64_MAX, IntArith, Term

PROVED = "proved"
VIOLATED = "violated"

#: Known-bad variant of the relation -> the model mutant that implements it.
MUTANT_OF = {
    "next-offset-from-request": "next-offset-from-request",
    "keep-ignores-offset": "keep-ignores-offset",
    "range-check-no-overflow": "range-check-no-overflow",
}

#: Claims of ``specs.z3.properties`` per relation; the names are the obligation suffixes.
RELATION_CLAIMS: dict[str, tuple[str, ...]] = {
    "upstream": ("translation", "no-overlap", "op-bounds", "piece-offsets", "keep-compatible",
                 "no-merge", "no-overflow"),
    "rfc2023": ("translation", "no-overlap", "op-bounds", "piece-offsets", "keep-compatible",
                "noop-rule", "merge-rule", "no-overflow"),
    "unmap": ("translation", "no-overlap", "op-bounds", "piece-offsets", "keep-compatible",
              "no-overflow"),
}
_CLAIM_FN = {**properties.CLAIMS, "no-merge": properties.noop_rule}

_ABOUT = {
    "translation": "applying the ops overrides exactly the request's addresses",
    "no-overlap": "the resulting mappings do not overlap",
    "op-bounds": "at most two remaps, each with a non-empty piece; one op per mapping",
    "piece-offsets": "a split piece keeps its mapping's GEM and offset rule",
    "keep-compatible": "keep iff compatible (same GEM, same base)",
    "no-merge": "never a no-op, and the map is exactly the request",
    "noop-rule": "no ops iff one compatible mapping contains the request",
    "merge-rule": "the map is the request widened by exactly the compatible mappings",
    "no-overflow": "no computed value wraps; every created mapping is insertable",
}


@dataclass(frozen=True)
class Obligation:
    name: str
    expect: str
    about: str
    build: Callable[[], Goal]
    group: str
    mutant: str | None = None


def _spec(relation: str, k: int, variant: str | None = None) -> Spec:
    return sm_unmap(k) if relation == "unmap" else sm_map(relation, k, variant)


def goal_of(spec: Spec, claim: Term, prefer: tuple[Term, ...] = ()) -> Goal:
    """``spec.valid -> claim``; the domain constraints come last, once every variable exists."""
    inputs = {"req.addr": spec.req.addr, "req.range": spec.req.range}
    return Goal(z3.And(spec.valid, spec.ar.domain()), claim, inputs, spec=spec, prefer=prefer,
                trace="gpuvm")


def _claim(relation: str, name: str, k: int) -> Callable[[], Goal]:
    def build() -> Goal:
        spec = _spec(relation, k)
        return goal_of(spec, _CLAIM_FN[name](spec))
    return build


def _partition(relation: str, k: int) -> Callable[[], Goal]:
    def build() -> Goal:
        spec = _spec(relation, k)
        return goal_of(spec, paths.partition(spec))
    return build


def _compat_lemma() -> Goal:
    spec = sm_map("upstream", 1)
    return goal_of(spec, properties.compat_u64_exact(spec))


def _int_matches_bitvec() -> Goal:
    """Each ``IntArith`` operation equals its ``BitVec(64)`` counterpart, through
    ``bv2int``, for all 64-bit ``a``, ``b`` (decided with Z3's integer
    translation of bit-vectors, a procedure independent of ``IntArith``)."""
    ia = IntArith()
    a, b = z3.BitVecs("a b", 64)
    ai, bi = z3.BV2Int(a), z3.BV2Int(b)
    claim = z3.And(
        z3.BV2Int(a + b) == ia.add(ai, bi),
        z3.BV2Int(a - b) == ia.sub(ai, bi),
        z3.ULT(a, b) == ia.lt(ai, bi),
        z3.ULE(a, b) == ia.le(ai, bi),
        z3.BVAddNoOverflow(a, b, False) == ia.add_fits(ai, bi),
        (a == b) == (ai == bi),
        ai >= 0, ai <= U64_MAX, ai < MOD,
    )
    return Goal(z3.BoolVal(True), claim, {"a": a, "b": b}, intblast=True)


def _small(spec: Spec, bound: int = 63) -> list[Term]:
    """Readable values: a small VM at 0 without kernel node or regions, one mapping."""
    ar = spec.ar
    vm, req = spec.vm, spec.req
    out = [vm.mm_start == ar.const(0), vm.reserve_range == ar.const(0),
           vm.reserve_offset == ar.const(0), z3.Not(vm.regions),
           ar.le(vm.mm_range, ar.const(bound)), ar.le(req.offset, ar.const(bound)),
           req.gem != 0, z3.ULE(req.gem, 3)]
    for i, m in enumerate(spec.layout.slots):
        out += [ar.le(m.offset, ar.const(bound)), z3.ULE(m.gem, 3), m.gem != 0]
        if i > 0:
            out.append(z3.Not(m.present))
    return out


def _bad(variant: str, claim: str, k: int) -> Callable[[], Goal]:
    """A known-bad variant of ``upstream``; the preferred counterexample is small,
    starts from a layout ``Map`` steps build, and (for the next-offset variant) has
    the split mapping start at the request, where the mutant's formula and the
    variant's agree whatever displacement they use."""
    def build() -> Goal:
        spec = sm_map("upstream", k, variant)
        ar = spec.ar
        prefer: list[Term] = []
        if variant == "range-check-no-overflow":
            vm, req = spec.vm, spec.req
            prefer = [vm.mm_start == ar.const(0), vm.reserve_range == ar.const(0),
                      vm.reserve_offset == ar.const(0), z3.Not(vm.regions),
                      req.offset == ar.const(0), req.gem == 1,
                      ar.le(req.range, ar.const(64)), ar.le(vm.mm_range, ar.const(64)),
                      *[z3.Not(m.present) for m in spec.layout.slots]]
        else:
            prefer = _small(spec)
            if variant == "next-offset-from-request":
                prefer += [z3.Implies(s.next.present, m.addr == spec.req.addr)
                           for m, s in zip(spec.layout.slots, spec.ops.slots, strict=True)]
        return goal_of(spec, _CLAIM_FN[claim](spec), tuple(prefer))
    return build


#: Known-bad variant -> the claim it breaks.
BAD_CLAIM = {
    "next-offset-from-request": "piece-offsets",
    "keep-ignores-offset": "keep-compatible",
    "range-check-no-overflow": "no-overflow",
}


def obligations(k: int = 3) -> list[Obligation]:
    """Every obligation, split/merge ones over layouts of ``k`` existing mappings."""
    if k < 1:
        raise ValueError("k must be at least 1")
    out = [
        Obligation("u64-int-matches-bitvec", PROVED,
                   "the integer form of u64 +, -, <, <=, no-wrap equals BitVec(64)",
                   _int_matches_bitvec, "lemma"),
        Obligation("compat-u64-exact", PROVED,
                   "u64 compatibility equals exact integer compatibility where consulted",
                   _compat_lemma, "lemma"),
    ]
    for relation, claims in RELATION_CLAIMS.items():
        for name in claims:
            out.append(Obligation(f"{relation}.{name}", PROVED, f"{_ABOUT[name]} (k={k})",
                                  _claim(relation, name, k), relation))
        out.append(Obligation(f"{relation}.paths-partition", PROVED,
                              f"every mapping is in exactly one case (k={k})",
                              _partition(relation, k), relation))
    for check in validation.checks():
        out.append(Obligation(check.name, PROVED if check.expect == "proved" else VIOLATED,
                              check.about, check.build, check.front_end))
    for variant, claim in BAD_CLAIM.items():
        out.append(Obligation(f"bad.{variant}", VIOLATED,
                              f"the variant breaks {claim} (mutant {MUTANT_OF[variant]})",
                              _bad(variant, claim, k), "bad", MUTANT_OF[variant]))
    return out
