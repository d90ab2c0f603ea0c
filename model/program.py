"""A concurrent program built from shared state, resources and kernel paths.

:class:`KernelProgram` is the :class:`~model.sched.Program` most users
want: ``make()`` returns a fresh :class:`World` -- its shared variables,
its locks and fences, and the threads (name -> generator) -- so every run
starts from scratch; ``invariant`` is checked after every step; a
:class:`~model.lockdep.LockChecker` built by ``checker()`` sees every step.

Threads read and write shared variables through :func:`read` and
:func:`write`, which yield points on the variable (so the scheduler may
switch there, and the partial-order reduction knows what they touch) and
do the access when resumed.
"""

from __future__ import annotations

from collections.abc import Callable, Generator
from dataclasses import dataclass, field
from typing import Any

from model.lockdep import LockChecker
from model.sched import Point, Resource, Result, Thread

Gen = Generator[Point, Result, Any]


@dataclass
class World:
    """One run's shared state: variables, resources, threads."""

    vars: dict[str, Any] = field(default_factory=dict)
    resources: dict[str, Resource] = field(default_factory=dict)
    threads: dict[str, Gen] = field(default_factory=dict)


def read(world: World, var: str) -> Generator[Point, Result, Any]:
    """``x = READ_ONCE(var)``: an interleaving point, then the read."""
    yield Point("read", var, "r", label=f"read {var}")
    return world.vars[var]


def write(world: World, var: str, value: Any) -> Gen:
    """``WRITE_ONCE(var, value)``: an interleaving point, then the write."""
    yield Point("write", var, "w", value, label=f"write {var} = {value!r}")
    world.vars[var] = value


class KernelProgram:
    """A :class:`~model.sched.Program` from a world factory, an invariant and a checker."""

    def __init__(self, name: str, make: Callable[[], World],
                 invariant: Callable[[World], None] | None = None,
                 checker: Callable[[], LockChecker] | None = None) -> None:
        self.name = name
        self._make = make
        self._invariant = invariant
        self._checker = checker
        self.world = World()
        self.lockdep: LockChecker | None = None

    def start(self) -> tuple[dict[str, Resource], list[Thread]]:
        self.world = self._make()
        self.lockdep = self._checker() if self._checker is not None else None
        return self.world.resources, [Thread(n, g) for n, g in self.world.threads.items()]

    def check(self) -> None:
        if self._invariant is not None:
            self._invariant(self.world)

    def observe(self, thread: str, point: Point, result: Result) -> None:
        if self.lockdep is not None:
            self.lockdep.observe(thread, point, result)

    def attempt(self, thread: str, point: Point) -> None:
        if self.lockdep is not None:
            self.lockdep.attempt(thread, point)
