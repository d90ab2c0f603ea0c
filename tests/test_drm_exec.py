"""drm_exec on the scheduler: the cases of its unit tests, and contention."""

from __future__ import annotations

from collections.abc import Generator
from typing import Any

import pytest

from model.drm_exec import IGNORE_DUPLICATES, DrmExec, lock_all
from model.explore import explore
from model.lockdep import LockChecker
from model.locks import DmaResv, WwClass
from model.program import KernelProgram, World
from model.sched import Point, Scheduler, first_chooser

Gen = Generator[Point, Any, Any]
OBJS = ("bo1", "bo2", "bo3")


def world(threads: dict[str, Any]) -> tuple[World, WwClass]:
    k = WwClass("reservation_ww_class")
    w = World(resources={o: DmaResv(o, k, {}) for o in OBJS})
    return w, k


def run_one(body: Any) -> tuple[Any, World]:
    """Run ``body(exec) -> generator`` in one thread; its result and the world."""
    out: list[Any] = []
    w, k = world({})

    def make() -> World:
        def t1() -> Gen:
            e = DrmExec(w, "t1", k)
            out.append((yield from body(e)))
            yield from e.fini()
        w.threads = {"t1": t1()}
        return w

    classes = {o: "reservation_ww_class" for o in OBJS}
    program = KernelProgram("one", make, checker=lambda: LockChecker(classes=classes))
    run = Scheduler(program, 100).run(first_chooser)
    assert run.verdict == "ok", run.detail
    return out[0], w


def test_lock_one_object() -> None:
    def body(e: DrmExec) -> Generator[Point, Any, Any]:
        r = yield from lock_all(e, ["bo1"])
        return r, list(e.locked)

    (r, locked), w = run_one(body)
    assert r == 0 and locked == ["bo1"]
    assert w.vars["ref:bo1"] == 1  # fini dropped the reference


@pytest.mark.parametrize(("flags", "want"), [(0, "EALREADY"), (IGNORE_DUPLICATES, 0)])
def test_lock_an_object_twice(flags: int, want: object) -> None:
    def body(e: DrmExec) -> Generator[Point, Any, Any]:
        e.flags = flags
        r: Any = 0
        while (yield from e.cleanup()):
            yield from e.lock_obj("bo1")
            r = yield from e.lock_obj("bo1")
            if r == "EDEADLK":
                continue
        return r

    r, w = run_one(body)
    assert r == want and w.vars["ref:bo1"] == 1


def test_prepare_an_array_reserves_fences() -> None:
    def body(e: DrmExec) -> Generator[Point, Any, Any]:
        r = yield from lock_all(e, list(OBJS), 2)
        slots = [e.world.resources[o].slots for o in OBJS]  # type: ignore[attr-defined]
        return r, slots

    (r, slots), w = run_one(body)
    assert r == 0 and slots == [2, 2, 2]
    assert all(w.vars[f"ref:{o}"] == 1 for o in OBJS)


def _contended(objs1: list[str], objs2: list[str]) -> KernelProgram:
    def make() -> World:
        w, k = world({})
        holds: dict[str, list[str]] = {}

        def t(name: str, objs: list[str]) -> Gen:
            e = DrmExec(w, name, k)
            r = yield from lock_all(e, objs, 1)
            assert r == 0, f"{name}: drm_exec gave {r}"
            holds[name] = sorted(e.locked)
            assert holds[name] == sorted(objs), f"{name} holds {e.locked}, wanted {objs}"
            yield from e.fini()

        w.threads = {"t1": t("t1", objs1), "t2": t("t2", objs2)}
        w.vars["holds"] = holds
        return w

    def invariant(w: World) -> None:
        for o in OBJS:
            owners = [t for t, held in w.vars["holds"].items() if o in held]
            assert w.vars.get(f"ref:{o}", 1) >= 1
            del owners

    classes = {o: "reservation_ww_class" for o in OBJS}
    return KernelProgram("contended", make, invariant,
                         checker=lambda: LockChecker(classes=classes))


def test_a_retry_under_contention_ends_with_each_set_locked() -> None:
    ex = explore(_contended(["bo1", "bo2"], ["bo2", "bo1"]), preemptions=3,
                 stop_at_first=False)
    assert ex.complete and not ex.failures, ex.first.detail if ex.first else ""
    assert ex.schedules > 10
