"""A lockdep-style lock checker over the scheduler's steps.

:class:`LockChecker` watches every step a thread takes
(:meth:`~LockChecker.observe`) and reports, the first time it becomes
possible -- not only when this interleaving deadlocks:

``LockOrderInv``
    a circular dependency between lock classes: the new edge (the lock
    being taken, the locks held) and the existing chain that closes the
    cycle, each edge with the thread and step that made it;
``RecursiveLockInv``
    a class taken again while held (AA), including a second ``down_read``
    of one rw_semaphore (rwsem readers are not recursive) and a ww mutex
    taken without a context while another of its class is held;
``SleepInAtomicInv``
    a sleeping lock, a fence wait or a blocking allocation while holding a
    spinlock;
``FenceSignallingInv``
    a fence wait or a blocking allocation inside a fence-signalling section
    (``dma_fence_begin_signalling``), or a lock taken inside one that is
    also held around a fence wait -- found as a cycle through the
    ``dma_fence_map`` pseudo-lock, as lockdep does;
``ReclaimInv``
    an allocation that may reclaim while holding a lock the reclaim path
    (a notifier, a shrinker) takes -- a cycle through ``fs_reclaim``;
``LockHeldInv``
    an ``assert_held`` point (``lockdep_assert_held``) of a lock the
    thread does not hold, or a write to a field without the lock the
    protection table says guards it;
``WwCtxInv``
    a second acquire context in one thread, or ww locks of one class held
    under two contexts.

``map_acquire`` / ``map_release`` points hold a pseudo-lock for a section
(lockdep's ``lock_map_acquire``: an mmu notifier's invalidate callback, for
one), so a declared order can forbid a class inside that section.

Lock classes come from the program (``classes``: lock name -> class name;
by default a lock is its own class).  ``order`` seeds the graph with a
declared order (``model.lock_table``), so taking two locks against it is
flagged at once.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from model.errors import InvariantViolation
from model.sched import Point

FENCE_MAP = "dma_fence_map"
FS_RECLAIM = "fs_reclaim"


@dataclass(frozen=True)
class Edge:
    """``before`` was held when ``after`` was taken, by ``thread`` at ``step``."""

    before: str
    after: str
    thread: str
    step: int
    what: str

    def __str__(self) -> str:
        where = f"step {self.step}, {self.thread}" if self.step >= 0 else "the declared order"
        return f"{self.before} -> {self.after} ({where}: {self.what})"


@dataclass
class _Held:
    cls: str
    lock: str
    mode: str
    ctx: str | None = None


@dataclass
class LockChecker:
    """Lock classes, the order graph, and the rules of the module docstring."""

    classes: Mapping[str, str] = field(default_factory=dict)
    #: lock name -> whether it sleeps (mutex, rwsem, ww) or spins
    sleeping: Mapping[str, bool] = field(default_factory=dict)
    #: a declared order, as chains of classes: [["vm->lock", "mmap_lock", ...]]
    order: Sequence[Sequence[str]] = ()
    #: field name -> the locks of which one must be held to write it
    protection: Mapping[str, Sequence[str]] = field(default_factory=dict)
    edges: dict[tuple[str, str], Edge] = field(default_factory=dict)
    held: dict[str, list[_Held]] = field(default_factory=dict)
    ctxs: dict[str, str] = field(default_factory=dict)  # thread -> its acquire context
    #: steps observed so far
    step: int = 0
    #: the step being checked (1-based, as the trace numbers it)
    at: int = 0

    def __post_init__(self) -> None:
        for chain in self.order:
            for a, b in itertools.pairwise(chain):
                self.edges[(a, b)] = Edge(a, b, "-", -1, "declared")

    def cls(self, lock: str) -> str:
        return self.classes.get(lock, lock)

    # ------------------------------------------------------------ graph

    def _path(self, start: str, goal: str) -> list[Edge] | None:
        """Edges of a path ``start -> ... -> goal`` in the graph, if one exists."""
        frontier: list[tuple[str, list[Edge]]] = [(start, [])]
        seen = {start}
        while frontier:
            node, path = frontier.pop(0)
            if node == goal:
                return path
            for (a, b), e in sorted(self.edges.items()):
                if a == node and b not in seen:
                    seen.add(b)
                    frontier.append((b, [*path, e]))
        return None

    def _add(self, thread: str, before: _Held, after: str, what: str, rule: str) -> None:
        if before.cls == after:
            return
        closing = self._path(after, before.cls)
        if closing is not None:
            held = ", ".join(h.lock for h in self.held.get(thread, []))
            chain = "; ".join(str(e) for e in closing)
            raise InvariantViolation(rule, (
                f"possible circular locking dependency: {thread} takes {after} "
                f"(step {self.at}: {what}) while holding {before.cls}; the existing chain "
                f"{after} -> {before.cls} is: {chain}; locks held: {held}"))
        self.edges.setdefault((before.cls, after), Edge(before.cls, after, thread, self.at,
                                                        what))

    # ------------------------------------------------------------- steps

    def attempt(self, thread: str, point: Point) -> None:
        """Check a lock a thread is about to take, before it may block (as lockdep
        validates in ``lock_acquire``): recursion, order, sleeping in atomic."""
        if point.kind == "acquire":
            self.at = self.step + 1
            self._check_acquire(thread, point, self.held.setdefault(thread, []), str(point))

    def observe(self, thread: str, point: Point, result: object) -> None:
        """Check one step a thread has just taken (``result`` is what it got)."""
        self.step += 1
        self.at = self.step
        kind, stack = point.kind, self.held.setdefault(thread, [])
        what = str(point)
        if kind == "acquire":
            if result in ("EDEADLK", "EALREADY"):
                return
            ctx = getattr(point.arg, "ctx", None) if point.arg is not None else None
            stack.append(_Held(self.cls(point.obj), point.obj, point.mode, ctx))
        elif kind == "release":
            for i in range(len(stack) - 1, -1, -1):
                if stack[i].lock == point.obj:
                    del stack[i]
                    break
        elif kind == "wait":
            self._sleep(thread, stack, what)
            self._take_pseudo(thread, stack, FENCE_MAP, what, "FenceSignallingInv")
        elif kind == "alloc" and point.mode != "atomic":
            self._sleep(thread, stack, what)
            if any(h.cls == FENCE_MAP for h in stack):
                raise InvariantViolation("FenceSignallingInv", f"{thread}: a blocking "
                                         f"allocation inside a fence-signalling section "
                                         f"(step {self.at}: {what})")
            self._take_pseudo(thread, stack, FS_RECLAIM, what, "ReclaimInv")
        elif kind == "begin_signalling":
            stack.append(_Held(FENCE_MAP, FENCE_MAP, "r"))
        elif kind == "end_signalling":
            self._pop(stack, FENCE_MAP)
        elif kind == "map_acquire":  # lock_map_acquire(): a pseudo-lock, as lockdep has
            cls = self.cls(point.obj)
            for h in stack:
                self._add(thread, h, cls, what, "LockOrderInv")
            stack.append(_Held(cls, point.obj, "x"))
        elif kind == "map_release":
            self._pop(stack, self.cls(point.obj))
        elif kind == "begin_reclaim":
            stack.append(_Held(FS_RECLAIM, FS_RECLAIM, "x"))
        elif kind == "end_reclaim":
            self._pop(stack, FS_RECLAIM)
        elif kind == "assert_held":
            if not any(h.lock == point.obj for h in stack):
                raise InvariantViolation("LockHeldInv", f"{thread}: lockdep_assert_held"
                                         f"({point.obj}) fails (step {self.at}: {what})")
        elif kind == "write" and point.obj in self.protection:
            need = self.protection[point.obj]
            if not any(h.lock in need or h.cls in need for h in stack):
                raise InvariantViolation("LockHeldInv", f"{thread} writes {point.obj} without "
                                         f"{' or '.join(need)} (step {self.at}: {what})")
        elif kind == "ww_init":
            if thread in self.ctxs:
                raise InvariantViolation("WwCtxInv", f"{thread} starts the context "
                                         f"{point.obj} inside {self.ctxs[thread]}")
            self.ctxs[thread] = point.obj
        elif kind == "ww_fini":
            self.ctxs.pop(thread, None)

    @staticmethod
    def _pop(stack: list[_Held], cls: str) -> None:
        for i in range(len(stack) - 1, -1, -1):
            if stack[i].cls == cls:
                del stack[i]
                return

    def _sleep(self, thread: str, stack: Iterable[_Held], what: str) -> None:
        spinning = [h.lock for h in stack if not self.sleeping.get(h.lock, True)]
        if spinning:
            raise InvariantViolation("SleepInAtomicInv", f"{thread} sleeps (step {self.at}: "
                                     f"{what}) while holding the spinlock {spinning[-1]}")

    def _take_pseudo(self, thread: str, stack: list[_Held], pseudo: str, what: str,
                     rule: str) -> None:
        """A wait or an allocation: like taking and dropping a lock of class ``pseudo``."""
        if pseudo == FENCE_MAP and any(h.cls == FENCE_MAP for h in stack):
            raise InvariantViolation(rule, f"{thread}: a fence wait inside a fence-signalling "
                                     f"section (step {self.at}: {what})")
        for h in stack:
            self._add(thread, h, pseudo, what, rule)

    def _check_acquire(self, thread: str, point: Point, stack: list[_Held], what: str) -> None:
        cls = self.cls(point.obj)
        ctx = getattr(point.arg, "ctx", None) if point.arg is not None else None
        if self.sleeping.get(point.obj, True):
            self._sleep(thread, stack, what)
        for h in stack:
            if h.cls != cls:
                continue
            if ctx is not None and h.ctx is not None:
                if h.ctx != ctx:
                    raise InvariantViolation("WwCtxInv", f"{thread} holds {h.lock} under "
                                             f"{h.ctx} and takes {point.obj} under {ctx}")
                continue  # ww locks of one class nest under one context
            raise InvariantViolation("RecursiveLockInv", (
                f"possible recursive locking: {thread} takes {point.obj} (step {self.at}: "
                f"{what}) while holding {h.lock} of the same class {cls}"
                + (" without an acquire context" if ctx is None and h.ctx is None
                   and point.arg is not None else "")))
        rule = "LockOrderInv"
        if any(h.cls == FENCE_MAP for h in stack):
            rule = "FenceSignallingInv"
        elif any(h.cls == FS_RECLAIM for h in stack):
            rule = "ReclaimInv"
        for h in stack:
            self._add(thread, h, cls, what, rule)
