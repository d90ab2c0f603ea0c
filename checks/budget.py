"""The one budget table: runtime classes and what each budget runs.

Every item a checker runs -- a TLC model, a Z3 obligation, a state machine,
a conformance run, a mutant -- has a *runtime class* in its system's
manifest (``small``: seconds, ``medium``: up to two minutes, ``large``:
longer).  A budget runs the items of its classes; the class also gives an
item its hard time limit and, for fuzzing, its seconds.  ``gpuvm-check run``
at the ``default`` budget must stay within ten minutes on two cores as
systems are added: adding an item means choosing its class.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

CLASSES = ("small", "medium", "large")


@dataclass(frozen=True)
class Runtime:
    """What one runtime class allows an item."""

    #: hard limit on one run (a TLC model, an obligation, a checker subprocess), seconds
    timeout: float
    #: seconds a state machine of this class fuzzes at the ``default`` budget
    fuzz_seconds: float


RUNTIME: dict[str, Runtime] = {
    "small": Runtime(timeout=120.0, fuzz_seconds=10.0),
    "medium": Runtime(timeout=600.0, fuzz_seconds=20.0),
    "large": Runtime(timeout=3600.0, fuzz_seconds=120.0),
}


@dataclass(frozen=True)
class Budget:
    """One ``--budget``: the classes it runs and how long it fuzzes."""

    classes: tuple[str, ...]
    #: multiplies every fuzz duration (and the mutant-kill fuzz cap)
    fuzz_scale: float
    #: Z3 split/merge proofs over layouts of this many existing mappings
    z3_k: int
    #: recorded model runs per profile validated by TLC (conformance)
    runs: int


BUDGETS: dict[str, Budget] = {
    "quick": Budget(("small",), fuzz_scale=0.5, z3_k=3, runs=100),
    "default": Budget(("small", "medium"), fuzz_scale=1.0, z3_k=8, runs=250),
    "thorough": Budget(CLASSES, fuzz_scale=10.0, z3_k=10, runs=2500),
}

#: seconds a mutant's fuzz checker may run before it counts as surviving, at the default budget
MUTANT_FUZZ_SECONDS = 30.0


def budget(name: str) -> Budget:
    try:
        return BUDGETS[name]
    except KeyError:
        raise ValueError(f"unknown budget {name!r} (known: {', '.join(BUDGETS)})") from None


def selected(runtime: str, budget_name: str) -> bool:
    """True if an item of class ``runtime`` runs at this budget."""
    return runtime in budget(budget_name).classes


def timeout_for(runtime: str) -> float:
    return RUNTIME[runtime].timeout


def fuzz_seconds(runtime: str, budget_name: str) -> float:
    return RUNTIME[runtime].fuzz_seconds * budget(budget_name).fuzz_scale


def positive_seconds(value: object, what: str) -> float:
    """``value`` as seconds: a finite number above zero, else ``ValueError`` naming ``what``."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"{what} must be a finite positive number, not {value!r}")
    seconds = float(value)
    if not math.isfinite(seconds) or seconds <= 0:
        raise ValueError(f"{what} must be a finite positive number, not {value!r}")
    return seconds
