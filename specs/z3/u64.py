"""Unsigned 64-bit arithmetic for the Z3 encodings, in two exact forms.

Every address, range and offset is an unsigned 64-bit value, and every sum
or difference wraps modulo ``2**64`` exactly as the kernel's ``u64`` does.
The encodings never use Python operators on values directly; they go through
an :class:`Arith`, which has two implementations of the same semantics:

:class:`BvArith`
    ``BitVec(64)`` with ``bvadd``/``bvsub`` and unsigned comparisons: the
    kernel's arithmetic itself.  The proofs that plain Z3 decides fast enough
    over bit-vectors use it, and so does the per-step check.
:class:`IntArith`
    integers in ``[0, 2**64)``, where ``a + b`` is ``a + b - 2**64`` when the
    sum passes ``2**64 - 1`` and ``a - b`` is ``a - b + 2**64`` when it goes
    below zero.  These are the bit-vector operations, written as linear integer
    arithmetic: the solver then reasons about sums and orderings as linear
    arithmetic instead of as 64-bit adder and comparator circuits (a chain
    ``a <= b <= c`` is one step for it, and hundreds of clauses for a
    bit-blaster).  The proofs that need it use it, and so does the path
    enumeration of the conformance vectors.  The obligation
    ``u64-int-matches-bitvec`` proves that both forms agree on every
    operation, for all 64-bit values.

:class:`Wraps` records, next to each operation the relation performs, the
condition under which it does not wrap, so "no u64 overflow" is one
obligation over all of them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

import z3

WIDTH = 64
MOD = 1 << WIDTH
U64_MAX = MOD - 1
#: Width of a GEM identifier; 0 stands for "no GEM" (a NULL mapping).
GEM_WIDTH = 4
NULL_GEM = 0

Term = Any  # a z3 expression (z3 has no type stubs)


class Arith(Protocol):
    """u64 values and operations, in one of two exact encodings.

    ``ctx`` is the Z3 context every term is made in (``None``: Z3's main
    context); a fresh context makes a solver's answers independent of what
    else the process built before.
    """

    name: str
    ctx: Any

    def var(self, name: str) -> Term: ...
    def const(self, value: int) -> Term: ...
    def add(self, a: Term, b: Term) -> Term: ...
    def sub(self, a: Term, b: Term) -> Term: ...
    def lt(self, a: Term, b: Term) -> Term: ...
    def le(self, a: Term, b: Term) -> Term: ...
    def add_fits(self, a: Term, b: Term) -> Term: ...
    def exact(self, a: Term) -> Term: ...
    def exact_const(self, value: int) -> Term: ...
    def domain(self) -> Term: ...

    def gt(self, a: Term, b: Term) -> Term: ...
    def ge(self, a: Term, b: Term) -> Term: ...
    def boolean(self, value: bool) -> Term: ...
    def bool_var(self, name: str) -> Term: ...
    def gem_var(self, name: str) -> Term: ...
    def gem_const(self, value: int) -> Term: ...
    def all(self, terms: list[Term]) -> Term: ...
    def any(self, terms: list[Term]) -> Term: ...


class _Common:
    def __init__(self, ctx: Any = None) -> None:
        self.ctx = ctx

    def boolean(self, value: bool) -> Term:
        return z3.BoolVal(value, self.ctx)

    def bool_var(self, name: str) -> Term:
        return z3.Bool(name, self.ctx)

    def gem_var(self, name: str) -> Term:
        return z3.BitVec(name, GEM_WIDTH, self.ctx)

    def gem_const(self, value: int) -> Term:
        return z3.BitVecVal(value, GEM_WIDTH, self.ctx)

    def all(self, terms: list[Term]) -> Term:
        """``And`` of ``terms``; true when there are none."""
        return z3.And(terms) if terms else self.boolean(True)

    def any(self, terms: list[Term]) -> Term:
        """``Or`` of ``terms``; false when there are none."""
        return z3.Or(terms) if terms else self.boolean(False)

    def lt(self, a: Term, b: Term) -> Term:
        raise NotImplementedError

    def le(self, a: Term, b: Term) -> Term:
        raise NotImplementedError

    def gt(self, a: Term, b: Term) -> Term:
        return self.lt(b, a)

    def ge(self, a: Term, b: Term) -> Term:
        return self.le(b, a)


class BvArith(_Common):
    """``BitVec(64)``: the kernel's arithmetic as the hardware does it."""

    name = "bv"

    def var(self, name: str) -> Term:
        return z3.BitVec(name, WIDTH, self.ctx)

    def const(self, value: int) -> Term:
        return z3.BitVecVal(value, WIDTH, self.ctx)

    def add(self, a: Term, b: Term) -> Term:
        return a + b

    def sub(self, a: Term, b: Term) -> Term:
        return a - b

    def lt(self, a: Term, b: Term) -> Term:
        return z3.ULT(a, b)

    def le(self, a: Term, b: Term) -> Term:
        return z3.ULE(a, b)

    def add_fits(self, a: Term, b: Term) -> Term:
        return z3.BVAddNoOverflow(a, b, False)

    def exact(self, a: Term) -> Term:
        """``a`` widened so that a sum or difference of two such values is exact."""
        return z3.ZeroExt(2, a)

    def exact_const(self, value: int) -> Term:
        """A constant of :meth:`exact`'s width (two's complement if negative)."""
        return z3.BitVecVal(value, WIDTH + 2, self.ctx)

    def domain(self) -> Term:
        return self.boolean(True)


class IntArith(_Common):
    """Integers in ``[0, 2**64)`` with wrap-around made explicit."""

    name = "int"

    def __init__(self, ctx: Any = None) -> None:
        super().__init__(ctx)
        self._vars: list[Term] = []

    def var(self, name: str) -> Term:
        v = z3.Int(name, self.ctx)
        self._vars.append(v)
        return v

    def const(self, value: int) -> Term:
        return z3.IntVal(value % MOD, self.ctx)

    def add(self, a: Term, b: Term) -> Term:
        s = a + b
        return z3.If(s > U64_MAX, s - MOD, s)

    def sub(self, a: Term, b: Term) -> Term:
        d = a - b
        return z3.If(d < 0, d + MOD, d)

    def lt(self, a: Term, b: Term) -> Term:
        return a < b

    def le(self, a: Term, b: Term) -> Term:
        return a <= b

    def add_fits(self, a: Term, b: Term) -> Term:
        return a + b <= U64_MAX

    def exact(self, a: Term) -> Term:
        return a

    def exact_const(self, value: int) -> Term:
        return z3.IntVal(value, self.ctx)

    def domain(self) -> Term:
        """Every variable made so far is a u64 value."""
        return self.all([z3.And(v >= 0, v <= U64_MAX) for v in self._vars])


def arith(name: str, ctx: Any = None) -> Arith:
    if name == "bv":
        return BvArith(ctx)
    if name == "int":
        return IntArith(ctx)
    raise ValueError(f"unknown arithmetic {name!r} (bv or int)")


def in_range(ar: Arith, x: Term, addr: Term, end: Term) -> Term:
    """``addr <= x < end``."""
    return z3.And(ar.le(addr, x), ar.lt(x, end))


def umin(ar: Arith, a: Term, b: Term) -> Term:
    return z3.If(ar.le(a, b), a, b)


def umax(ar: Arith, a: Term, b: Term) -> Term:
    return z3.If(ar.ge(a, b), a, b)


@dataclass
class Wraps:
    """The no-wrap conditions of the u64 operations an encoding performs.

    Each entry is ``(label, condition)``; the condition already includes the
    guard under which the operation's result is used.
    """

    ar: Arith
    entries: list[tuple[str, Term]] = field(default_factory=list)

    def add(self, a: Term, b: Term, label: str, guard: Term = True) -> Term:
        self.entries.append((label, z3.Implies(guard, self.ar.add_fits(a, b))))
        return self.ar.add(a, b)

    def sub(self, a: Term, b: Term, label: str, guard: Term = True) -> Term:
        self.entries.append((label, z3.Implies(guard, self.ar.le(b, a))))
        return self.ar.sub(a, b)

    def all(self) -> Term:
        return self.ar.all([c for _, c in self.entries])
