"""Ordered interval stores for non-overlapping ``[addr, end)`` entries.

The VA space keeps its mappings (and regions) in an :class:`IntervalStore`.
:class:`SortedStore` is the default: start addresses in sorted blocks, so a
range query costs O(log n + k) for k overlapping entries.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right, insort
from collections.abc import Iterator
from typing import Protocol, TypeVar


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
    """A :class:`IntervalStore` with O(log n + k) range queries.

    Start addresses are kept sorted in blocks of at most ``2 * LOAD`` keys,
    with a list of each block's largest key above them; entries live in a
    dict by start address.  Finding a key is two binary searches (the block,
    then the place in it); inserting or removing moves at most one block's
    worth of keys, so the cost per operation grows only with log n.
    """

    LOAD = 256
    __slots__ = ("_blocks", "_items", "_maxes")

    def __init__(self) -> None:
        self._items: dict[int, T] = {}
        self._blocks: list[list[int]] = []
        self._maxes: list[int] = []

    def insert(self, item: T) -> None:
        key = item.addr
        items, blocks, maxes = self._items, self._blocks, self._maxes
        if key in items:
            items[key] = item
            return
        items[key] = item
        if not blocks:
            blocks.append([key])
            maxes.append(key)
            return
        j = bisect_left(maxes, key)
        if j == len(maxes):
            j -= 1
            blocks[j].append(key)
            maxes[j] = key
        else:
            insort(blocks[j], key)
        block = blocks[j]
        if len(block) > 2 * self.LOAD:
            half = block[self.LOAD:]
            del block[self.LOAD:]
            blocks.insert(j + 1, half)
            maxes[j] = block[-1]
            maxes.insert(j + 1, half[-1])

    def remove(self, addr: int) -> T:
        item = self._items.pop(addr)
        blocks, maxes = self._blocks, self._maxes
        j = bisect_left(maxes, addr)
        block = blocks[j]
        del block[bisect_left(block, addr)]
        if block:
            maxes[j] = block[-1]
        else:
            del blocks[j]
            del maxes[j]
        return item

    def at(self, addr: int) -> T | None:
        return self._items.get(addr)

    def _floor(self, addr: int) -> tuple[int, int]:
        """(block, index) of the largest key <= addr; index -1 if there is none."""
        maxes = self._maxes
        j = bisect_left(maxes, addr)
        if j == len(maxes):
            j -= 1
            return j, len(self._blocks[j]) - 1 if j >= 0 else -1
        i = bisect_right(self._blocks[j], addr) - 1
        if i < 0 and j > 0:
            return j - 1, len(self._blocks[j - 1]) - 1
        return j, i

    def covering(self, addr: int) -> T | None:
        j, i = self._floor(addr)
        if i < 0:
            return None
        item = self._items[self._blocks[j][i]]
        return item if addr < item.end else None

    def overlapping(self, addr: int, end: int) -> list[T]:
        items, blocks = self._items, self._blocks
        out: list[T] = []
        j, i = self._floor(addr)
        if i >= 0:
            first = items[blocks[j][i]]
            if first.end > addr:
                out.append(first)
        else:
            j = 0
        i += 1
        while j < len(blocks):
            block = blocks[j]
            while i < len(block):
                key = block[i]
                if key >= end:
                    return out
                out.append(items[key])
                i += 1
            j += 1
            i = 0
        return out

    def __iter__(self) -> Iterator[T]:
        items = self._items
        return (items[key] for block in self._blocks for key in block)

    def __len__(self) -> int:
        return len(self._items)
