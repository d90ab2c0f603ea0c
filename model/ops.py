"""Operations that ``sm_map``, ``sm_unmap`` and prefetch hand to a driver.

A request is turned into an *op list*; ``VaSpace.apply`` executes it.
Every op is a frozen value:

- :class:`Map` -- create the mapping ``[addr, addr+range)`` -> ``gem@offset``.
- :class:`Unmap` -- remove ``va``.  ``keep`` says the va is contiguous with the
  request (same GEM, same base), so a driver may leave its PTEs in place.
- :class:`Remap` -- remove ``unmap.va`` and map what is left of it on either
  side of the request: ``prev`` (the left piece) and ``next`` (the right
  piece); each is ``None`` when the request is aligned with that edge.
- :class:`Prefetch` -- make ``va``'s backing resident (no VA change).

Bound on one list (asserted by :func:`check_op_bounds`): any number of
``Unmap``, at most two ``Remap``, at most one ``Map``, and the ``Map`` last.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from model.errors import InvariantViolation
from model.gpuva import Va


@dataclass(frozen=True, slots=True)
class Map:
    """Create one mapping."""

    addr: int
    range: int
    gem: str | None
    offset: int
    flags: int = 0

    @property
    def end(self) -> int:
        return self.addr + self.range

    def va(self) -> Va:
        return Va(self.addr, self.range, self.gem, self.offset, self.flags)

    @staticmethod
    def of(va: Va) -> Map:
        return Map(va.addr, va.range, va.gem, va.offset, va.flags)

    def to_json(self) -> dict[str, object]:
        return {"op": "map", "addr": self.addr, "range": self.range,
                "gem": self.gem, "offset": self.offset, "flags": self.flags}


@dataclass(frozen=True, slots=True)
class Unmap:
    """Remove one existing mapping; ``keep`` marks it compatible with the request."""

    va: Va
    keep: bool = False

    def to_json(self) -> dict[str, object]:
        return {"op": "unmap", "va": self.va.to_json(), "keep": self.keep}


@dataclass(frozen=True, slots=True)
class Remap:
    """Split one existing mapping: unmap it, map back ``prev`` and/or ``next``."""

    unmap: Unmap
    prev: Map | None
    next: Map | None

    def to_json(self) -> dict[str, object]:
        return {
            "op": "remap",
            "va": self.unmap.va.to_json(),
            "keep": self.unmap.keep,
            "prev": None if self.prev is None else self.prev.va().to_json(),
            "next": None if self.next is None else self.next.va().to_json(),
        }


@dataclass(frozen=True, slots=True)
class Prefetch:
    """Make one existing mapping resident."""

    va: Va

    def to_json(self) -> dict[str, object]:
        return {"op": "prefetch", "va": self.va.to_json()}


Op = Map | Unmap | Remap | Prefetch


def check_op_bounds(ops: Sequence[Op]) -> None:
    """Raise :class:`InvariantViolation` unless ``ops`` respects the list bound.

    Any number of unmaps, at most two remaps, at most one map, map last, and
    no remap with neither piece or an empty piece.
    """
    remaps = sum(1 for op in ops if isinstance(op, Remap))
    maps = [i for i, op in enumerate(ops) if isinstance(op, Map)]
    if remaps > 2:
        raise InvariantViolation("OpBoundInv", f"{remaps} remaps in {list(ops)}")
    if len(maps) > 1:
        raise InvariantViolation("OpBoundInv", f"{len(maps)} maps in {list(ops)}")
    if maps and maps[0] != len(ops) - 1:
        raise InvariantViolation("OpBoundInv", f"map is not the last op in {list(ops)}")
    for op in ops:
        if isinstance(op, Remap):
            if op.prev is None and op.next is None:
                raise InvariantViolation("OpBoundInv", f"remap with no piece: {op}")
            for piece in (op.prev, op.next):
                if piece is not None and piece.range == 0:
                    raise InvariantViolation("OpBoundInv", f"remap with an empty piece: {op}")


def ops_to_json(ops: Sequence[Op]) -> list[dict[str, object]]:
    return [op.to_json() for op in ops]
