"""Kernel locks, fences and completions as model objects of the scheduler.

Each object is a :class:`~model.sched.Resource`: the scheduler asks it
whether a thread's pending point may proceed and tells it when the point
is taken.  A kernel path uses them through the small generators at the end
(``yield from mutex_lock(t, "vm->lock")``), which yield the points.

:class:`Mutex`, :class:`Spinlock`
    one owner; releasing a lock one does not hold is a violation
    (``LockBalanceInv``).  Sleeping while holding a spinlock is the lock
    checker's business (``model.lockdep``).
:class:`RwSemaphore`
    readers share, a writer excludes everyone; a waiting writer blocks new
    readers (so a recursive read behind a waiting writer deadlocks, as in
    the kernel).
:class:`WwClass`, :class:`WwMutex`
    wound/wait mutexes with acquire contexts.  A context's stamp is the
    order of its ``ww_acquire_init``: smaller is older.  ``wait_die`` (a
    class option): a younger context that would wait on an older holder
    gets ``-EDEADLK`` at once.  ``wound_wait`` (dma_resv's class): an older
    context that holds a lock and waits on a younger holder *wounds* it (one
    holding nothing just waits); a wounded context that holds locks and
    would wait gets ``-EDEADLK``.  A context that holds nothing never gets
    ``-EDEADLK``; its wound is forgotten at its next acquire.  Taking a lock
    the same context holds gives ``-EALREADY``; the slow path
    (``ww_mutex_lock_slow``) waits without ``-EDEADLK`` and is allowed only
    when the context holds nothing.
:class:`Fence`, :class:`Completion`
    ``wait`` proceeds once signalled; ``signal`` always proceeds.
:class:`DmaResv`
    a ww mutex of dma_resv's class plus fence slots: ``reserve(n)`` (lock
    held), ``add_fence(fence, usage)`` (lock held, a slot reserved), and
    ``wait(usage)`` for every fence of that usage or stronger.
"""

from __future__ import annotations

from collections.abc import Generator
from dataclasses import dataclass, field
from typing import Any

from model.errors import InvariantViolation
from model.sched import Point, Result

Gen = Generator[Point, Result, Any]


class Mutex:
    """A sleeping lock with one owner."""

    sleeping = True

    def __init__(self, name: str) -> None:
        self.name = name
        self.owner: str | None = None

    def enabled(self, thread: str, point: Point) -> tuple[bool, Result]:
        if point.kind == "acquire":
            return self.owner is None, 0
        return True, 0

    def perform(self, thread: str, point: Point, result: Result) -> None:
        if point.kind == "acquire":
            self.owner = thread
        elif point.kind == "release":
            if self.owner != thread:
                raise InvariantViolation("LockBalanceInv", f"{thread} releases {self.name}, "
                                         f"held by {self.owner or 'nobody'}")
            self.owner = None

    def waits_for(self, thread: str, point: Point) -> list[str]:
        return [self.owner] if self.owner is not None else []


class Spinlock(Mutex):
    """A spinning lock: the same ownership, but nothing may sleep under it."""

    sleeping = False


class RwSemaphore:
    """``rw_semaphore``: shared readers, one writer; a waiting writer blocks new readers."""

    sleeping = True

    def __init__(self, name: str) -> None:
        self.name = name
        self.readers: list[str] = []
        self.writer: str | None = None
        self.waiting_writers: set[str] = set()

    def enabled(self, thread: str, point: Point) -> tuple[bool, Result]:
        if point.kind != "acquire":
            return True, 0
        if point.mode == "r":
            return self.writer is None and not (self.waiting_writers - {thread}), 0
        ok = self.writer is None and not self.readers
        if not ok:
            self.waiting_writers.add(thread)
        return ok, 0

    def perform(self, thread: str, point: Point, result: Result) -> None:
        if point.kind == "acquire":
            if point.mode == "r":
                self.readers.append(thread)
            else:
                self.waiting_writers.discard(thread)
                self.writer = thread
        elif point.kind == "release":
            if point.mode == "r":
                if thread not in self.readers:
                    raise InvariantViolation("LockBalanceInv", f"{thread} up_read()s "
                                             f"{self.name} without holding it")
                self.readers.remove(thread)
            else:
                if self.writer != thread:
                    raise InvariantViolation("LockBalanceInv", f"{thread} up_write()s "
                                             f"{self.name}, held by {self.writer or 'nobody'}")
                self.writer = None

    def waits_for(self, thread: str, point: Point) -> list[str]:
        holders = ([self.writer] if self.writer else []) + list(self.readers)
        if point.mode == "r":
            holders += sorted(self.waiting_writers - {thread})
        return [h for h in holders if h != thread] or holders


@dataclass
class WwCtx:
    """A ``ww_acquire_ctx``."""

    name: str
    stamp: int
    thread: str
    acquired: list[str] = field(default_factory=list)
    wounded: bool = False
    done: bool = False


class WwClass:
    """A ``ww_class``: its algorithm and the contexts alive in it."""

    def __init__(self, name: str, algorithm: str = "wound_wait") -> None:
        if algorithm not in ("wound_wait", "wait_die"):
            raise ValueError(f"ww algorithm {algorithm!r}")
        self.name = name
        self.algorithm = algorithm
        self.ctxs: dict[str, WwCtx] = {}
        self.next_stamp = 0

    def init(self, ctx: str, thread: str) -> WwCtx:
        """``ww_acquire_init``: a new context, younger than every one before."""
        self.next_stamp += 1
        c = WwCtx(ctx, self.next_stamp, thread)
        self.ctxs[ctx] = c
        return c

    def fini(self, ctx: str) -> None:
        c = self.ctxs.pop(ctx)
        if c.acquired:
            raise InvariantViolation("WwCtxInv", f"ww_acquire_fini of {ctx} holding "
                                     f"{', '.join(c.acquired)}")


@dataclass(frozen=True)
class WwArg:
    """What a ww acquire point carries: the context (None: no context) and the path."""

    ctx: str | None
    slow: bool = False


class WwMutex:
    """A ``ww_mutex`` of a :class:`WwClass`."""

    sleeping = True

    def __init__(self, name: str, klass: WwClass) -> None:
        self.name = name
        self.klass = klass
        self.owner: str | None = None  # thread
        self.ctx: str | None = None  # the holder's context

    def _ctx(self, point: Point) -> WwCtx | None:
        arg = point.arg
        if not isinstance(arg, WwArg) or arg.ctx is None:
            return None
        c = self.klass.ctxs.get(arg.ctx)
        if c is None:
            raise InvariantViolation("WwCtxInv", f"{self.name}: acquire with the context "
                                     f"{arg.ctx}, which is not initialised")
        return c

    def would(self, thread: str, point: Point) -> tuple[bool, Result, WwCtx | None]:
        """What ``point`` would do now, with no side effect: whether it proceeds, its
        result, and the younger holder a wound-wait waiter wounds (if it is not yet).

        A context holding nothing never gets ``-EDEADLK`` (it cannot be part of
        a deadlock): it waits, and its ``wounded`` mark no longer counts.
        """
        if point.kind != "acquire":
            return True, 0, None
        ctx = self._ctx(point)
        if ctx is not None and self.ctx == ctx.name:
            return True, "EALREADY", None
        if self.owner is None:
            return True, 0, None
        slow = isinstance(point.arg, WwArg) and point.arg.slow
        holder = self.klass.ctxs.get(self.ctx) if self.ctx else None
        if ctx is None or holder is None:
            return False, 0, None
        if self.klass.algorithm == "wait_die":
            die = not slow and bool(ctx.acquired) and ctx.stamp > holder.stamp
            return (True, "EDEADLK", None) if die else (False, 0, None)
        # wound-wait: an older waiter wounds the younger holder, then waits (or dies
        # at once if it holds something and was wounded itself)
        wound = (holder if ctx.acquired and ctx.stamp < holder.stamp and not holder.wounded
                 else None)  # only a context holding a lock wounds
        if not slow and ctx.wounded and ctx.acquired:
            return True, "EDEADLK", wound
        return False, 0, wound

    def enabled(self, thread: str, point: Point) -> tuple[bool, Result]:
        ok, result, wound = self.would(thread, point)
        if wound is not None:
            wound.wounded = True
        return ok, result

    def perform(self, thread: str, point: Point, result: Result) -> None:
        ctx = self._ctx(point)
        if point.kind == "acquire":
            if result in ("EDEADLK", "EALREADY"):
                return  # the wound stays until the context holds nothing and locks again
            if ctx is not None and isinstance(point.arg, WwArg) and point.arg.slow \
                    and ctx.acquired:
                raise InvariantViolation("WwCtxInv", f"ww_mutex_lock_slow of {self.name} by "
                                         f"{ctx.name}, which still holds "
                                         f"{', '.join(ctx.acquired)}")
            self.owner, self.ctx = thread, ctx.name if ctx else None
            if ctx is not None:
                if not ctx.acquired:
                    ctx.wounded = False  # holding nothing, it has backed off already
                ctx.acquired.append(self.name)
        elif point.kind == "release":
            if self.owner != thread:
                raise InvariantViolation("LockBalanceInv", f"{thread} unlocks {self.name}, "
                                         f"held by {self.owner or 'nobody'}")
            if self.ctx is not None and self.ctx in self.klass.ctxs:
                self.klass.ctxs[self.ctx].acquired.remove(self.name)
            self.owner = self.ctx = None

    def waits_for(self, thread: str, point: Point) -> list[str]:
        return [self.owner] if self.owner is not None else []


class Fence:
    """A dma_fence (or a completion): waits proceed once it is signalled."""

    sleeping = True

    def __init__(self, name: str) -> None:
        self.name = name
        self.signalled = False
        self.signaller: str | None = None  # the thread expected to signal it, if known

    def enabled(self, thread: str, point: Point) -> tuple[bool, Result]:
        return (self.signalled, 0) if point.kind == "wait" else (True, 0)

    def perform(self, thread: str, point: Point, result: Result) -> None:
        if point.kind == "signal":
            self.signalled = True

    def waits_for(self, thread: str, point: Point) -> list[str]:
        return [self.signaller] if self.signaller else []


Completion = Fence

#: dma_resv usages, weakest last: a wait for one usage waits for it and every stronger one
USAGES = ("KERNEL", "WRITE", "READ", "BOOKKEEP")


class DmaResv(WwMutex):
    """A dma_resv: a ww mutex of the reservation class, and its fence slots."""

    def __init__(self, name: str, klass: WwClass, fences: dict[str, Fence]) -> None:
        super().__init__(name, klass)
        self.fences = fences  # the program's fences, by name
        self.slots = 0
        self.added: list[tuple[str, str]] = []  # (fence, usage)

    def enabled(self, thread: str, point: Point) -> tuple[bool, Result]:
        if point.kind == "wait":
            usage = str(point.mode)
            deep = USAGES[:USAGES.index(usage) + 1] if usage in USAGES else USAGES
            return all(self.fences[f].signalled for f, u in self.added if u in deep), 0
        return super().enabled(thread, point)

    def perform(self, thread: str, point: Point, result: Result) -> None:
        if point.kind == "reserve":
            self._held(thread, "dma_resv_reserve_fences")
            self.slots += int(point.arg or 1)
        elif point.kind == "add_fence":
            self._held(thread, "dma_resv_add_fence")
            if self.slots <= 0:
                raise InvariantViolation("ResvSlotInv", f"dma_resv_add_fence on {self.name} "
                                         "without a reserved slot")
            self.slots -= 1
            self.added.append((str(point.arg), point.mode))
        elif point.kind == "release":
            super().perform(thread, point, result)
            self.slots = 0  # reservations end with the lock
        elif point.kind != "wait":
            super().perform(thread, point, result)

    def _held(self, thread: str, what: str) -> None:
        if self.owner != thread:
            raise InvariantViolation("LockHeldInv", f"{what} on {self.name} by {thread}, "
                                     "which does not hold it")

    def waits_for(self, thread: str, point: Point) -> list[str]:
        if point.kind == "wait":
            return [f.signaller for name, _ in self.added
                    if (f := self.fences[name]).signaller and not f.signalled]
        return super().waits_for(thread, point)


# ----------------------------------------------------- the kernel calls

def mutex_lock(lock: str) -> Gen:
    yield Point("acquire", lock, "x", label=f"mutex_lock({lock})")


def mutex_unlock(lock: str) -> Gen:
    yield Point("release", lock, "x", label=f"mutex_unlock({lock})")


def spin_lock(lock: str) -> Gen:
    yield Point("acquire", lock, "x", label=f"spin_lock({lock})")


def spin_unlock(lock: str) -> Gen:
    yield Point("release", lock, "x", label=f"spin_unlock({lock})")


def down_read(sem: str) -> Gen:
    yield Point("acquire", sem, "r", label=f"down_read({sem})")


def up_read(sem: str) -> Gen:
    yield Point("release", sem, "r", label=f"up_read({sem})")


def down_write(sem: str) -> Gen:
    yield Point("acquire", sem, "w", label=f"down_write({sem})")


def up_write(sem: str) -> Gen:
    yield Point("release", sem, "w", label=f"up_write({sem})")


def ww_lock(lock: str, ctx: str | None, slow: bool = False) -> Gen:
    """``ww_mutex_lock`` (or ``_slow``): the result is 0, ``"EDEADLK"`` or ``"EALREADY"``."""
    name = "ww_mutex_lock_slow" if slow else "ww_mutex_lock"
    result = yield Point("acquire", lock, "x", WwArg(ctx, slow),
                         label=f"{name}({lock}, {ctx or 'NULL'})")
    return result


def ww_unlock(lock: str) -> Gen:
    yield Point("release", lock, "x", label=f"ww_mutex_unlock({lock})")


def fence_wait(fence: str) -> Gen:
    yield Point("wait", fence, label=f"dma_fence_wait({fence})")


def fence_signal(fence: str) -> Gen:
    yield Point("signal", fence, label=f"dma_fence_signal({fence})")


def resv_reserve(resv: str, n: int = 1) -> Gen:
    yield Point("reserve", resv, "x", n, label=f"dma_resv_reserve_fences({resv}, {n})")


def resv_add_fence(resv: str, fence: str, usage: str) -> Gen:
    yield Point("add_fence", resv, usage, fence,
                label=f"dma_resv_add_fence({resv}, {fence}, {usage})")


def resv_wait(resv: str, usage: str) -> Gen:
    yield Point("wait", resv, usage, label=f"dma_resv_wait_timeout({resv}, {usage})")
