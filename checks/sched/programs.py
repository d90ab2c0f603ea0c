"""The scheduler's suites: classic concurrency bugs and lockdep's golden patterns.

``CLASSIC``: five bugs every schedule explorer must find -- a lost update,
an ABBA deadlock across two threads, a missed wake-up, an atomicity
violation and an order violation -- each with its fixed counterpart, which
must be clean under every schedule.

``GOLDEN``: the lock checker's patterns (after the kernel's lockdep
self-tests): AA, ABBA in one thread and across two, ABBCCA, ABBCCDDA,
ABCABC, ABCDBCDA, ABCDBDDA, a ww mutex without a context, an unbalanced
unlock, two ww contexts with and without back-off, a fence wait inside a
signalling section, an allocation under a reclaim-tainted lock.  Each bad
pattern must be flagged with the expected finding, and each has a safe
counterpart with no finding at all.

Every entry is ``name -> (program factory, expected finding or None)``.
"""

from __future__ import annotations

from collections.abc import Callable, Generator, Sequence
from typing import Any

from model.lockdep import LockChecker
from model.locks import (
    Fence,
    Mutex,
    WwClass,
    WwMutex,
    fence_signal,
    fence_wait,
    mutex_lock,
    mutex_unlock,
    ww_lock,
    ww_unlock,
)
from model.program import KernelProgram, World, read, write
from model.sched import Point, Result

Gen = Generator[Point, Result, Any]
Entry = tuple[Callable[[], KernelProgram], str | None]


class WaitQueue:
    """A wait queue without memory: a wake-up reaches only the threads already on it.

    Waiting is two points, as ``wait_event`` is: ``prepare`` (join the queue;
    always enabled) and ``wait`` (sleep until woken).
    """

    sleeping = True

    def __init__(self, name: str) -> None:
        self.name = name
        self.waiting: set[str] = set()
        self.woken: set[str] = set()

    def enabled(self, thread: str, point: Point) -> tuple[bool, Result]:
        if point.kind == "wait":
            return thread in self.woken, 0
        return True, 0

    def perform(self, thread: str, point: Point, result: Result) -> None:
        if point.kind == "prepare":
            self.waiting.add(thread)
        elif point.kind == "signal":
            self.woken |= self.waiting
            self.waiting = set()
        elif point.kind == "wait":
            self.woken.discard(thread)

    def waits_for(self, thread: str, point: Point) -> list[str]:
        return []


def _finished(world: World, name: str) -> None:
    world.vars.setdefault("finished", set()).add(name)


def _program(name: str, make: Callable[[], World],
             invariant: Callable[[World], None] | None = None,
             lockdep: bool = False,
             classes: dict[str, str] | None = None) -> Callable[[], KernelProgram]:
    def build() -> KernelProgram:
        checker = None
        if lockdep:
            def checker() -> LockChecker:
                w = make()
                sleeping = {n: getattr(r, "sleeping", True) for n, r in w.resources.items()}
                return LockChecker(classes=classes or {}, sleeping=sleeping)
        return KernelProgram(name, make, invariant, checker)
    return build


# --------------------------------------------------------------- classic bugs

def _counter(locked: bool) -> World:
    w = World(vars={"x": 0}, resources={"m": Mutex("m")})

    def inc(name: str) -> Gen:
        if locked:
            yield from mutex_lock("m")
        x = yield from read(w, "x")
        yield from write(w, "x", x + 1)
        if locked:
            yield from mutex_unlock("m")
        _finished(w, name)

    w.threads = {"t1": inc("t1"), "t2": inc("t2")}
    return w


def _counter_inv(w: World) -> None:
    if len(w.vars.get("finished", ())) == 2:
        assert w.vars["x"] == 2, f"lost update: x = {w.vars['x']} after two increments"


def _abba(consistent: bool) -> World:
    w = World(resources={"A": Mutex("A"), "B": Mutex("B")})

    def path(first: str, second: str) -> Gen:
        yield from mutex_lock(first)
        yield from mutex_lock(second)
        yield from mutex_unlock(second)
        yield from mutex_unlock(first)

    w.threads = {"t1": path("A", "B"), "t2": path("A", "B") if consistent else path("B", "A")}
    return w


def _wakeup(sticky: bool) -> World:
    w = World(vars={"ready": False},
              resources={"wq": Fence("wq") if sticky else WaitQueue("wq")})

    def consumer() -> Gen:
        ready = yield from read(w, "ready")
        if not ready:
            if not sticky:
                yield Point("prepare", "wq", label="prepare_to_wait(wq)")
            yield Point("wait", "wq", label="schedule() until woken")
        _finished(w, "consumer")

    def producer() -> Gen:
        yield from write(w, "ready", True)
        yield Point("signal", "wq", label="wake_up(wq)")
        _finished(w, "producer")

    w.threads = {"consumer": consumer(), "producer": producer()}
    return w


def _atomicity(locked: bool) -> World:
    w = World(vars={"ptr": "obj"}, resources={"m": Mutex("m")})

    def user() -> Gen:
        if locked:
            yield from mutex_lock("m")
        p = yield from read(w, "ptr")
        if p is not None:
            q = yield from read(w, "ptr")
            assert q is not None, "atomicity violation: ptr checked, then used after a free"
        if locked:
            yield from mutex_unlock("m")

    def freer() -> Gen:
        if locked:
            yield from mutex_lock("m")
        yield from write(w, "ptr", None)
        if locked:
            yield from mutex_unlock("m")

    w.threads = {"user": user(), "freer": freer()}
    return w


def _order(ordered: bool) -> World:
    w = World(vars={"init": False}, resources={"done": Fence("done")})

    def creator() -> Gen:
        yield from write(w, "init", True)
        if ordered:
            yield from fence_signal("done")

    def worker() -> Gen:
        if ordered:
            yield from fence_wait("done")
        ok = yield from read(w, "init")
        assert ok, "order violation: the worker ran before the object was initialised"

    w.threads = {"creator": creator(), "worker": worker()}
    return w


CLASSIC: dict[str, Entry] = {
    "lost-update": (_program("lost-update", lambda: _counter(False), _counter_inv),
                    "AssertionError"),
    "lost-update-fixed": (_program("lost-update-fixed", lambda: _counter(True), _counter_inv),
                          None),
    "abba-deadlock": (_program("abba-deadlock", lambda: _abba(False)), "deadlock"),
    "abba-deadlock-fixed": (_program("abba-deadlock-fixed", lambda: _abba(True)), None),
    "missed-wakeup": (_program("missed-wakeup", lambda: _wakeup(False)), "deadlock"),
    "missed-wakeup-fixed": (_program("missed-wakeup-fixed", lambda: _wakeup(True)), None),
    "atomicity-violation": (_program("atomicity-violation", lambda: _atomicity(False)),
                            "AssertionError"),
    "atomicity-violation-fixed": (_program("atomicity-violation-fixed",
                                           lambda: _atomicity(True)), None),
    "order-violation": (_program("order-violation", lambda: _order(False)), "AssertionError"),
    "order-violation-fixed": (_program("order-violation-fixed", lambda: _order(True)), None),
}


# --------------------------------------------------------------- lockdep's golden

def _pairs(pairs: Sequence[str], threads: bool = False) -> World:
    """Each ``"XY"`` is lock X; lock Y; unlock Y; unlock X -- in one thread, or one each."""
    names = sorted({c for p in pairs for c in p})
    w = World(resources={n: Mutex(n) for n in names})

    def path(seq: Sequence[str]) -> Gen:
        for p in seq:
            yield from mutex_lock(p[0])
            yield from mutex_lock(p[1])
            yield from mutex_unlock(p[1])
            yield from mutex_unlock(p[0])

    if threads:
        w.threads = {f"t{i + 1}": path([p]) for i, p in enumerate(pairs)}
    else:
        w.threads = {"t1": path(pairs)}
    return w


def _aa(same: bool) -> World:
    w = World(resources={"A": Mutex("A"), "A2": Mutex("A2")})

    def path() -> Gen:
        yield from mutex_lock("A")
        yield from mutex_lock("A" if same else "A2")
        yield from mutex_unlock("A" if same else "A2")
        yield from mutex_unlock("A")

    w.threads = {"t1": path()}
    return w


def _ww_no_ctx(ctx: bool) -> World:
    k = WwClass("reservation_ww_class")
    w = World(resources={"X": WwMutex("X", k), "Y": WwMutex("Y", k)})

    def path() -> Gen:
        c = "ctx" if ctx else None
        if ctx:
            k.init("ctx", "t1")
            yield Point("ww_init", "ctx", label="ww_acquire_init(ctx)")
        yield from ww_lock("X", c)
        yield from ww_lock("Y", c)
        yield from ww_unlock("Y")
        yield from ww_unlock("X")
        if ctx:
            k.fini("ctx")
            yield Point("ww_fini", "ctx", label="ww_acquire_fini(ctx)")

    w.threads = {"t1": path()}
    return w


def _unbalanced(balanced: bool) -> World:
    w = World(resources={"A": Mutex("A")})

    def path() -> Gen:
        if balanced:
            yield from mutex_lock("A")
        yield from mutex_unlock("A")

    w.threads = {"t1": path()}
    return w


def _two_ctx(backoff: bool) -> World:
    k = WwClass("reservation_ww_class")
    w = World(resources={"X": WwMutex("X", k), "Y": WwMutex("Y", k)})

    def path(name: str, order: tuple[str, str]) -> Gen:
        ctx = f"ctx{name}"
        k.init(ctx, name)
        yield Point("ww_init", ctx, label=f"ww_acquire_init({ctx})")
        held: list[str] = []
        want = list(order)
        slow: str | None = None
        while want:
            lock = want[0]
            r = yield from ww_lock(lock, ctx, slow=lock == slow)
            if r == "EDEADLK":
                if not backoff:
                    continue  # keep what it holds and try again: no back-off
                for h in reversed(held):
                    yield from ww_unlock(h)
                want = [lock] + [x for x in order if x != lock]
                held, slow = [], lock
                continue
            held.append(lock)
            want.pop(0)
            slow = None
        for h in reversed(held):
            yield from ww_unlock(h)
        k.fini(ctx)
        yield Point("ww_fini", ctx, label=f"ww_acquire_fini({ctx})")

    w.threads = {"t1": path("t1", ("X", "Y")), "t2": path("t2", ("Y", "X"))}
    return w


def _fence_in_signalling(inside: bool) -> World:
    w = World(resources={"f": Fence("f")})
    w.resources["f"].signalled = True  # type: ignore[attr-defined]

    def path() -> Gen:
        if inside:
            yield Point("begin_signalling", label="dma_fence_begin_signalling()")
        yield from fence_wait("f")
        if inside:
            yield Point("end_signalling", label="dma_fence_end_signalling()")

    w.threads = {"t1": path()}
    return w


def _reclaim(tainted: bool) -> World:
    w = World(resources={"L": Mutex("L")})

    def shrinker() -> Gen:
        yield Point("begin_reclaim", label="fs_reclaim_acquire()")
        if tainted:
            yield from mutex_lock("L")
            yield from mutex_unlock("L")
        yield Point("end_reclaim", label="fs_reclaim_release()")

    def user() -> Gen:
        yield from mutex_lock("L")
        yield Point("alloc", "", "GFP_KERNEL", label="kmalloc(GFP_KERNEL)")
        yield from mutex_unlock("L")

    w.threads = {"shrinker": shrinker(), "user": user()}
    return w


def _g(name: str, make: Callable[[], World], finding: str | None,
       classes: dict[str, str] | None = None) -> tuple[str, Entry]:
    return name, (_program(name, make, lockdep=True, classes=classes), finding)


GOLDEN: dict[str, Entry] = dict([
    _g("AA", lambda: _aa(True), "RecursiveLockInv"),
    _g("AA-safe", lambda: _aa(False), None),
    _g("ABBA", lambda: _pairs(["AB", "BA"]), "LockOrderInv"),
    _g("ABBA-safe", lambda: _pairs(["AB", "AB"]), None),
    _g("ABBA-threads", lambda: _pairs(["AB", "BA"], threads=True), "LockOrderInv"),
    _g("ABBA-threads-safe", lambda: _pairs(["AB", "AB"], threads=True), None),
    _g("ABBCCA", lambda: _pairs(["AB", "BC", "CA"], threads=True), "LockOrderInv"),
    _g("ABBCCA-safe", lambda: _pairs(["AB", "BC", "AC"], threads=True), None),
    _g("ABBCCDDA", lambda: _pairs(["AB", "BC", "CD", "DA"], threads=True), "LockOrderInv"),
    _g("ABBCCDDA-safe", lambda: _pairs(["AB", "BC", "CD", "AD"], threads=True), None),
    _g("ABCABC", lambda: _pairs(["AB", "CA", "BC"], threads=True), "LockOrderInv"),
    _g("ABCABC-safe", lambda: _pairs(["AB", "AC", "BC"], threads=True), None),
    _g("ABCDBCDA", lambda: _pairs(["AB", "CD", "BC", "DA"], threads=True), "LockOrderInv"),
    _g("ABCDBCDA-safe", lambda: _pairs(["AB", "CD", "BC", "AD"], threads=True), None),
    _g("ABCDBDDA", lambda: _pairs(["AB", "CD", "BD", "DA"], threads=True), "LockOrderInv"),
    _g("ABCDBDDA-safe", lambda: _pairs(["AB", "CD", "BD", "AD"], threads=True), None),
    _g("WW-no-ctx", lambda: _ww_no_ctx(False), "RecursiveLockInv",
       {"X": "reservation_ww_class", "Y": "reservation_ww_class"}),
    _g("WW-ctx", lambda: _ww_no_ctx(True), None,
       {"X": "reservation_ww_class", "Y": "reservation_ww_class"}),
    _g("unbalanced-unlock", lambda: _unbalanced(False), "LockBalanceInv"),
    _g("balanced-unlock", lambda: _unbalanced(True), None),
    _g("two-ctx-no-backoff", lambda: _two_ctx(False), "livelock",
       {"X": "reservation_ww_class", "Y": "reservation_ww_class"}),
    _g("two-ctx-backoff", lambda: _two_ctx(True), None,
       {"X": "reservation_ww_class", "Y": "reservation_ww_class"}),
    _g("fence-wait-in-signalling", lambda: _fence_in_signalling(True), "FenceSignallingInv"),
    _g("fence-wait-outside-signalling", lambda: _fence_in_signalling(False), None),
    _g("alloc-under-reclaim-lock", lambda: _reclaim(True), "ReclaimInv"),
    _g("alloc-under-clean-lock", lambda: _reclaim(False), None),
])
