"""Every Z3 obligation of the project, by name.

An obligation is a named :class:`~specs.z3.goal.Goal` with the outcome it
is expected to have: ``proved`` (``premise and not claim`` unsatisfiable) or
``violated`` (a counterexample exists: a seed's flawed check, or a known-bad
variant of the relation).  ``checks.prove`` runs them; an ``unknown`` or a
timeout is never a pass.

Names:

``u64-int-matches-bitvec``
    the integer form of u64 arithmetic (``IntArith``) equals ``BitVec(64)``
    on every operation, for all values: the lemma every ``int`` obligation
    rests on;
``compat-seed-tests``
    the seed's three compatibility tests (one per position of the mapping
    against the request) and the relation's u64 test are all "the same base
    modulo ``2**64``";
``upstream.*``, ``rfc2023.*``, ``unmap.*``
    for ``sm_map`` of each profile and for ``sm_unmap``, over layouts of
    ``k`` existing mappings: the claims of ``specs.z3.properties``
    (translation per address, no overlap, op bounds, no address overflow),
    the declarative rules of ``specs.z3.declarative`` (``keep`` iff
    compatible, no-op iff covered, merge widening, merge skips, pieces,
    range validity), and ``*.paths-partition`` (every mapping is in exactly
    one case);
``i915.*``, ``nouveau.*``, ``xe.*``
    front-end argument validation (``specs.z3.validation``);
``bad.<variant>``
    a known-bad variant of the relation (``specs.z3.splitmerge.VARIANTS``)
    and the declarative claim it breaks, expected to be violated; its
    counterexample becomes a trace that replays on the model mutant of the
    same name (:data:`MUTANT_OF`).

Arithmetic.  Each split/merge obligation names the encoding it is decided
in (:func:`arith_of`, :data:`BV_OBLIGATIONS`): ``bv``, ``BitVec(64)`` terms
decided by Z3's bit-blasting solver -- the kernel's arithmetic, nothing to
trust but Z3 -- where that stays within seconds at ``k = 8``: the
per-address translation of ``upstream`` and ``sm_unmap``, range validity,
``upstream``'s no-merge and path partitions; ``int`` (``IntArith``, resting
on ``u64-int-matches-bitvec``) for the rest, where orderings of many 64-bit
values and the exact ends of the declarative rules make a bit-blaster take
minutes: overlap of every pair of resulting mappings, the ``rfc2023``
walk's widening, counting and merge rules, the pieces.  Only that lemma is
decided with Z3's integer translation of bit-vectors (``intblast``, a
younger procedure than bit-blasting); no split/merge proof relies on it.

The bound ``k``.  A layout of ``k`` slots covers every layout of at most
``k`` mappings that the request consults.  The sixteen documented cases
have at most two (case 16: both neighbours), so ``k = 2`` already contains
them all; ``k = 3`` adds a mapping on each side of an overlap, so every
``rfc2023`` case meets a neighbour.  ``k = 8`` holds every role a mapping
can play for one ``rfc2023`` request at once -- apart on the left, the left
neighbour, the first overlapped mapping (A, B or C), overlapped ones in the
middle, the last overlapped one, the right neighbour, apart on the right --
with two of the middle role, so that "exactly one overlap", "the first" and
"the last" are each tested against layouts where they are not the same
mapping.  A larger layout only adds more middle mappings (inside the
request: ``Unmap``, compatible or not), whose ops depend on no other
mapping, and more mappings apart, which no rule reads.  The ``upstream``
and ``unmap`` relations decide each mapping on its own, so their per-mapping
claims hold at every ``k`` once they hold at ``k = 1``; ``k`` matters to them
for the claims across mappings (no overlap, at most two remaps).
"""

from __future__ import annotations

from collections.abc import Callable

import z3

from specs.z3 import declarative, paths, properties, validation
from specs.z3.goal import PROVED, VIOLATED, Goal, Obligation
from specs.z3.splitmerge import RELATIONS, VARIANTS, Spec, relation_spec
from specs.z3.u64 import MOD, U64_MAX, IntArith, Term, arith

#: Known-bad variant of the relation -> the model mutant that implements it.
MUTANT_OF = {v: v for v in VARIANTS}

#: Claims per relation; the names are the obligation suffixes.
RELATION_CLAIMS: dict[str, tuple[str, ...]] = {
    "upstream": ("translation", "no-overlap", "op-bounds", "piece-offsets",
                 "keep-iff-compatible", "no-merge", "no-overflow", "range-validity"),
    "rfc2023": ("translation", "no-overlap", "op-bounds", "piece-offsets", "noop-iff-covered",
                "merge-widening", "merge-skips", "no-overflow", "range-validity"),
    "unmap": ("translation", "no-overlap", "op-bounds", "piece-offsets", "no-overflow",
              "range-validity"),
}
CLAIMS: dict[str, Callable[[Spec], Term]] = {**properties.CLAIMS, **declarative.CLAIMS}
DECLARATIVE = tuple(declarative.CLAIMS)

#: Obligations decided over ``BitVec(64)``; every other split/merge one is ``int``.
BV_OBLIGATIONS = frozenset({
    "upstream.translation", "upstream.no-merge", "upstream.range-validity",
    "upstream.paths-partition", "rfc2023.range-validity",
    "unmap.translation", "unmap.range-validity", "unmap.paths-partition",
})

#: Known-bad variant -> (relation, the claim it breaks).
BAD_CLAIM: dict[str, tuple[str, str]] = {
    "next-offset-from-request": ("upstream", "piece-offsets"),
    "keep-ignores-offset": ("upstream", "keep-iff-compatible"),
    "range-check-no-overflow": ("upstream", "range-validity"),
    "upstream-never-keep": ("upstream", "keep-iff-compatible"),
    "rfc2023-nothing-compatible": ("rfc2023", "noop-iff-covered"),
    "rfc2023-merge-always": ("rfc2023", "merge-skips"),
    "rfc2023-noop-as-remap": ("rfc2023", "noop-iff-covered"),
    "merge-ignores-flags": ("rfc2023", "translation"),
    "merge-across-regions": ("rfc2023", "merge-widening"),
    "doc-case15-offset": ("unmap", "piece-offsets"),
}

_ABOUT = {
    "translation": "every address translates as the request promises (gem, offset, flags)",
    "no-overlap": "the resulting mappings do not overlap",
    "op-bounds": "at most two remaps, each with a non-empty piece; one op per mapping",
    "piece-offsets": "a split leaves the seed's pieces: [a, ra) at offset, [re, e) at "
                     "offset + (re - a), GEM and flags kept",
    "keep-iff-compatible": "keep iff compatible (same GEM, same base), both directions",
    "no-merge": "the op list ends in the Map of exactly the request",
    "noop-iff-covered": "no ops iff a mergeable mapping already covers the request",
    "merge-widening": "the Map is the request widened by exactly the mergeable mappings it "
                      "absorbs, contiguous, in the request's region",
    "merge-skips": "a neighbour merges iff mergeable, in the region, and the walk's skip "
                   "rules allow it",
    "no-overflow": "no computed address wraps; every created mapping is insertable",
    "range-validity": "the request is accepted iff its range is valid, written out exactly",
}


def arith_of(name: str) -> str:
    """The encoding the split/merge obligation ``relation.claim`` is decided in."""
    return "bv" if name in BV_OBLIGATIONS else "int"


def goal_of(spec: Spec, claim: Term, prefer: tuple[Term, ...] = (), *,
            context_only: bool = False) -> Goal:
    """``spec.valid -> claim`` (or ``spec.context -> claim``); the domain constraints
    come last, once every variable exists."""
    inputs = {"req.addr": spec.req.addr, "req.range": spec.req.range}
    premise = spec.context if context_only else spec.valid
    return Goal(z3.And(premise, spec.ar.domain()), claim, inputs, spec=spec, prefer=prefer,
                trace="gpuvm")


def claim_goal(relation: str, claim: str, k: int, variant: str | None = None,
               ar: str | None = None, prefer: Callable[[Spec], list[Term]] | None = None
               ) -> Goal:
    """The goal of ``claim`` for ``relation`` (or its ``variant``) over ``k`` slots."""
    encoding = ar or arith_of(f"{relation}.{claim}")
    spec = relation_spec(relation, k, variant, ar=arith(encoding, z3.Context()))
    return goal_of(spec, CLAIMS[claim](spec), tuple(prefer(spec) if prefer else ()),
                   context_only=claim in declarative.CONTEXT_ONLY)


def _claim(relation: str, name: str, k: int) -> Callable[[], Goal]:
    return lambda: claim_goal(relation, name, k)


def _partition(relation: str, k: int) -> Callable[[], Goal]:
    def build() -> Goal:
        spec = relation_spec(relation, k, ar=arith(arith_of(f"{relation}.paths-partition"),
                                                   z3.Context()))
        return goal_of(spec, paths.partition(spec))
    return build


def _compat_lemma() -> Goal:
    """The seed's three tests, by position, and the relation's test, each equal the
    same-base rule, for all u64 values; in the integer form of u64 arithmetic
    (linear integer arithmetic decides it at once, where a bit-blaster needs
    minutes for these modular identities), which ``u64-int-matches-bitvec``
    ties to ``BitVec(64)``."""
    ia = IntArith()
    off, addr, roff, ra = (ia.var(n) for n in ("x.offset", "x.addr", "req.offset", "req.addr"))
    same_base = ia.sub(off, addr) == ia.sub(roff, ra)
    claim = z3.And(
        z3.Implies(addr == ra, (off == roff) == same_base),
        z3.Implies(ia.lt(addr, ra), (ia.add(off, ia.sub(ra, addr)) == roff) == same_base),
        z3.Implies(ia.gt(addr, ra), (off == ia.add(roff, ia.sub(addr, ra))) == same_base),
        (ia.add(off, ra) == ia.add(roff, addr)) == same_base,
    )
    return Goal(ia.domain(), claim, {"x.offset": off, "x.addr": addr, "req.offset": roff,
                                     "req.addr": ra})


def _int_matches_bitvec() -> Goal:
    """Each ``IntArith`` operation equals its ``BitVec(64)`` counterpart, through
    ``bv2int``, for all 64-bit ``a``, ``b`` -- decided with Z3's integer translation
    of bit-vectors (``intblast``), a procedure independent of ``IntArith``; the
    bit-blaster cannot decide ``bv2int`` of a 64-bit sum in minutes.  The only
    obligation decided that way."""
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


def small_values(spec: Spec, bound: int = 63) -> list[Term]:
    """Readable values: a small VM at 0 without kernel node or regions, small offsets
    and flags, GEMs ``a`` to ``c``, the layout in the first two slots."""
    ar = spec.ar
    vm, req = spec.vm, spec.req
    out = [vm.mm_start == ar.const(0), vm.reserve_range == ar.const(0),
           vm.reserve_offset == ar.const(0), z3.Not(vm.regions),
           ar.le(vm.mm_range, ar.const(bound)), ar.le(req.offset, ar.const(bound)),
           ar.le(req.flags, ar.const(3)), req.gem != 0, z3.ULE(req.gem, 3)]
    for i, m in enumerate(spec.layout.slots):
        out += [ar.le(m.offset, ar.const(bound)), ar.le(m.flags, ar.const(3)),
                z3.ULE(m.gem, 3), m.gem != 0]
        if i > 1:
            out.append(z3.Not(m.present))
    return out


def _prefer(variant: str) -> Callable[[Spec], list[Term]]:
    """Constraints tried in order for a small counterexample that replays the same on
    the model mutant whatever detail of the bug it reproduces."""
    def prefer(spec: Spec) -> list[Term]:
        ar, vm, req, slots = spec.ar, spec.vm, spec.req, spec.layout.slots
        if variant == "range-check-no-overflow":
            return [vm.mm_start == ar.const(0), vm.reserve_range == ar.const(0),
                    vm.reserve_offset == ar.const(0), z3.Not(vm.regions),
                    req.offset == ar.const(0), req.flags == ar.const(0), req.gem == 1,
                    ar.le(req.range, ar.const(64)), ar.le(vm.mm_range, ar.const(64)),
                    *[z3.Not(m.present) for m in slots]]
        out = small_values(spec)
        if variant == "merge-across-regions":
            out = [c for c in out if not z3.eq(c, z3.Not(vm.regions))]
            out += [vm.regions, ar.le(vm.region_end, ar.const(63))]
        if variant == "next-offset-from-request":
            # the split mapping starts at the request: the mutant's formula and the
            # variant's then agree whatever displacement they use
            out += [z3.Implies(s.next.present, m.addr == req.addr)
                    for m, s in zip(slots, spec.ops.slots, strict=True)]
        if variant == "rfc2023-merge-always":
            # a compatible neighbour the seed skips: dropping the skip rules merges it
            # whether or not the mutant also drops the compatibility test
            out += [z3.Implies(z3.Or(s.merge_prev, s.merge_next), z3.And(
                m.gem == req.gem, m.flags == req.flags))
                for m, s in zip(slots, spec.ops.slots, strict=True)]
        return out
    return prefer


def _bad(variant: str, k: int) -> Callable[[], Goal]:
    relation, claim = BAD_CLAIM[variant]
    return lambda: claim_goal(relation, claim, k, variant, prefer=_prefer(variant))


def obligations(k: int = 8) -> list[Obligation]:
    """Every obligation, split/merge ones over layouts of ``k`` existing mappings."""
    if k < 1:
        raise ValueError("k must be at least 1")
    out = [
        Obligation("u64-int-matches-bitvec", PROVED,
                   "the integer form of u64 +, -, <, <=, no-wrap equals BitVec(64)",
                   _int_matches_bitvec, "lemma"),
        Obligation("compat-seed-tests", PROVED,
                   "the seed's three compatibility tests and the relation's are the "
                   "same-base rule mod 2^64", _compat_lemma, "lemma"),
    ]
    for relation in RELATIONS:
        for name in RELATION_CLAIMS[relation]:
            full = f"{relation}.{name}"
            out.append(Obligation(full, PROVED, f"{_ABOUT[name]} (k={k})",
                                  _claim(relation, name, k), relation, arith=arith_of(full)))
        full = f"{relation}.paths-partition"
        out.append(Obligation(full, PROVED, f"every mapping is in exactly one case (k={k})",
                              _partition(relation, k), relation, arith=arith_of(full)))
    for check in validation.checks():
        out.append(Obligation(check.name, PROVED if check.expect == "proved" else VIOLATED,
                              check.about, check.build, check.front_end))
    for variant, (relation, claim) in BAD_CLAIM.items():
        out.append(Obligation(f"bad.{variant}", VIOLATED,
                              f"the variant breaks {relation}.{claim} (mutant "
                              f"{MUTANT_OF[variant]})", _bad(variant, k), "bad",
                              MUTANT_OF[variant], arith=arith_of(f"{relation}.{claim}")))
    return out
