"""drm_exec: lock many GEM objects' resvs with one ww acquire context (seed 001, 01/16).

A :class:`DrmExec` belongs to one thread; its methods are generators run
under the scheduler (``yield from exec.prepare_obj("bo1", 1)``).  The
usage is the kernel's loop::

    exec = DrmExec(world, "t1", flags)
    while (yield from exec.cleanup()):          # drm_exec_until_all_locked
        r = yield from exec.prepare_obj("a", 1)
        if r == "EDEADLK":
            continue                             # drm_exec_retry_on_contention
        ...
    ...                                          # every object locked
    yield from exec.fini()

``cleanup`` starts the ticket on the first pass (``ww_acquire_init``),
leaves the loop once a pass locked everything (``ww_acquire_done``), and
after a contention drops every lock and reference and retries.
``prepare_obj`` first takes the contended object on the slow path (it then
heads the locked list), then locks the object: ``-EDEADLK`` records it as
the contended one (with a reference) and returns; ``-EALREADY`` (locked by
this ticket already) is success when ``IGNORE_DUPLICATES`` is set or the
object is the one this pass took on the slow path (upstream's
``prelocked``; seed 001 guessed "the first locked one"), else an error; success
appends it to the locked list (with a reference) and reserves its fence
slots.  ``fini`` drops every lock and reference and ends the ticket.

Objects are :class:`~model.locks.DmaResv` resources of the world; their
GEM reference counts live in ``world.vars["ref:" + obj]`` so leaks show.
"""

from __future__ import annotations

from collections.abc import Generator
from dataclasses import dataclass, field
from typing import Any

from model.locks import WwClass, resv_reserve, ww_lock, ww_unlock
from model.program import World
from model.sched import Point, Result

Gen = Generator[Point, Result, Any]

INTERRUPTIBLE_WAIT = 1 << 0
IGNORE_DUPLICATES = 1 << 1

#: ``contended`` before the first pass: the loop must start the ticket
DUMMY = "<dummy>"


@dataclass
class DrmExec:
    """One ``struct drm_exec``: its ticket, locked objects and contended object."""

    world: World
    thread: str
    klass: WwClass
    flags: int = 0
    locked: list[str] = field(default_factory=list)
    contended: str | None = DUMMY
    ticket: str = ""
    passes: int = 0
    #: the object this pass took on the slow path (a duplicate of it is expected)
    prelocked: str | None = None

    def _ref(self, obj: str, delta: int) -> None:
        key = f"ref:{obj}"
        self.world.vars[key] = self.world.vars.get(key, 1) + delta
        assert self.world.vars[key] >= 1, f"RefInv: {obj} dropped below its owner's reference"

    def cleanup(self) -> Generator[Point, Result, bool]:
        """``drm_exec_cleanup``: True to run (again) the body of the loop."""
        if self.contended is None:
            yield Point("yield", label=f"ww_acquire_done({self.ticket})")
            return False
        if self.contended == DUMMY:
            self.passes += 1
            self.ticket = f"ticket:{self.thread}"
            self.klass.init(self.ticket, self.thread)
            self.contended = None
            yield Point("ww_init", self.ticket, label=f"ww_acquire_init({self.ticket})")
            return True
        self.passes += 1
        yield from self._unlock_all()
        return True

    def _unlock_all(self) -> Gen:
        for obj in reversed(self.locked):
            yield from ww_unlock(obj)
            self._ref(obj, -1)
        self.locked = []
        self.prelocked = None

    def _lock_contended(self) -> Gen:
        obj = self.contended
        if obj is None or obj == DUMMY:
            return 0
        r = yield from ww_lock(obj, self.ticket, slow=True)
        if r != 0:  # the slow path cannot fail but for a signal
            return r
        self.locked.append(obj)  # it heads the list: held with the reference taken at -EDEADLK
        self.contended = None
        self.prelocked = obj
        return 0

    def lock_obj(self, obj: str) -> Generator[Point, Result, Any]:
        """``drm_exec_lock_obj``: lock ``obj`` with no fence slots."""
        r = yield from self.prepare_obj(obj, 0)
        return r

    def prepare_obj(self, obj: str, num_fences: int) -> Generator[Point, Result, Any]:
        """``drm_exec_prepare_obj``: 0, ``"EDEADLK"`` (retry) or ``"EALREADY"``."""
        r = yield from self._lock_contended()
        if r != 0:
            return r
        r = yield from ww_lock(obj, self.ticket)
        if r == "EDEADLK":
            self._ref(obj, +1)
            self.contended = obj
            return "EDEADLK"
        if r == "EALREADY":
            if obj == self.prelocked or self.flags & IGNORE_DUPLICATES:
                if num_fences:
                    yield from resv_reserve(obj, num_fences)
                return 0
            return "EALREADY"
        self._ref(obj, +1)
        self.locked.append(obj)
        if num_fences:
            yield from resv_reserve(obj, num_fences)
        return 0

    def prepare_array(self, objs: list[str], num_fences: int) -> Generator[Point, Result, Any]:
        """``drm_exec_prepare_array``: each object in turn; the first error ends it."""
        for obj in objs:
            r = yield from self.prepare_obj(obj, num_fences)
            if r != 0:
                return r
        return 0

    def fini(self) -> Gen:
        """``drm_exec_fini``: drop every lock and reference, end the ticket."""
        yield from self._unlock_all()
        if self.contended not in (None, DUMMY):
            assert self.contended is not None
            self._ref(self.contended, -1)
        self.contended = None
        if self.ticket in self.klass.ctxs:
            self.klass.fini(self.ticket)
            yield Point("ww_fini", self.ticket, label=f"ww_acquire_fini({self.ticket})")


def lock_all(exec_: DrmExec, objs: list[str], num_fences: int = 1
             ) -> Generator[Point, Result, Any]:
    """The usual loop: lock every object of ``objs`` (with fence slots), retrying on
    contention; returns 0 or the error that ended it."""
    while (yield from exec_.cleanup()):
        r = yield from exec_.prepare_array(objs, num_fences)
        if r == "EDEADLK":
            continue
        if r != 0:
            return r
    return 0
