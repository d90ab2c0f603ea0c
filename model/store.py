"""Ordered interval stores for non-overlapping ``[addr, end)`` entries.

The VA space keeps its mappings (and regions) in an :class:`IntervalStore`.
:class:`SortedStore` is the default: a sorted map keyed by start address, so
a range query costs O(log n + k) for k overlapping entries.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Protocol, TypeVar

from sortedcontainers import SortedDict


class Interval(Protocol):
    @property
    def addr(self) -> int: ...

    @property
    def end(self) -> int: ...


T = TypeVar("T", bound=Interval)


class IntervalStore(Protocol[T]):
    """Non-overlapping entries ordered by ``addr``; the caller keeps them disjoint."""

    def insert(self, item: T) -> None: ...

    def remove(self, addr: int) -> T: ...

    def at(self, addr: int) -> T | None:
        """The entry that starts exactly at ``addr``."""
        ...

    def covering(self, addr: int) -> T | None:
        """The entry with ``item.addr <= addr < item.end``."""
        ...

    def overlapping(self, addr: int, end: int) -> list[T]:
        """Every entry meeting ``[addr, end)``, ascending."""
        ...

    def __iter__(self) -> Iterator[T]: ...

    def __len__(self) -> int: ...


class SortedStore(IntervalStore[T]):
    """A :class:`IntervalStore` on a sorted dict: O(log n + k) range queries."""

    __slots__ = ("_d",)

    def __init__(self) -> None:
        self._d: SortedDict = SortedDict()

    def insert(self, item: T) -> None:
        self._d[item.addr] = item

    def remove(self, addr: int) -> T:
        item: T = self._d.pop(addr)
        return item

    def at(self, addr: int) -> T | None:
        item: T | None = self._d.get(addr)
        return item

    def covering(self, addr: int) -> T | None:
        d = self._d
        i = d.bisect_right(addr) - 1
        if i < 0:
            return None
        item: T = d.peekitem(i)[1]
        return item if addr < item.end else None

    def overlapping(self, addr: int, end: int) -> list[T]:
        d = self._d
        out: list[T] = []
        i = d.bisect_right(addr) - 1
        if i >= 0:
            first: T = d.peekitem(i)[1]
            if first.end > addr:
                out.append(first)
        for key in d.irange(addr, end, inclusive=(False, False)):
            out.append(d[key])
        return out

    def __iter__(self) -> Iterator[T]:
        return iter(self._d.values())

    def __len__(self) -> int:
        return len(self._d)
