"""What an obligation asks of the solver, and what a counterexample means.

An obligation holds when ``premise and not claim`` is unsatisfiable.  A
model of it is a counterexample; ``inputs`` names the terms whose values
explain it, and ``trace`` says how ``checks.prove`` turns it into an ITF
trace (``"gpuvm"``: steps of the VA-space actions, replayable by
``gpuvm-check replay``; ``"args"``: one ioctl call of a front end).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from specs.z3.u64 import Term

PROVED = "proved"
VIOLATED = "violated"


@dataclass(frozen=True)
class Goal:
    premise: Term
    claim: Term
    inputs: dict[str, Term] = field(default_factory=dict)
    #: The relation whose inputs a counterexample assigns (split/merge goals).
    spec: Any = None
    #: Extra constraints tried first when a counterexample is expected, for a
    #: small, readable one that replays on the model (dropped if unsatisfiable).
    prefer: tuple[Term, ...] = ()
    #: Decide bit-vector terms through integers (Z3's ``smt.bv.solver=2``).
    intblast: bool = False
    trace: str = "args"
    #: Facts about the front end a counterexample trace records.
    about: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Obligation:
    """One named goal: what it must give (``expect``), what it says, how to build it."""

    name: str
    expect: str
    about: str
    build: Callable[[], Goal]
    group: str
    #: the model mutant whose bug a bad variant encodes
    mutant: str | None = None
    #: the encoding of a split/merge obligation (``bv`` or ``int``), else ``""``
    arith: str = ""
