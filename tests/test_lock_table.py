"""The declared lock table: README prints it, the checker enforces it."""

from __future__ import annotations

from collections.abc import Callable, Generator
from pathlib import Path
from typing import Any

import pytest

from model import lock_table
from model.lock_table import MMU_NOTIFIER, checker, markdown
from model.lockdep import FENCE_MAP
from model.locks import Mutex, RwSemaphore, down_read, down_write, up_read, up_write
from model.program import KernelProgram, World, write
from model.sched import Point, Scheduler, first_chooser

Gen = Generator[Point, Any, Any]
ROOT = Path(__file__).resolve().parent.parent


def test_readme_prints_the_table_the_checker_uses() -> None:
    assert markdown() in (ROOT / "README.md").read_text()


def test_the_declared_orders_have_no_cycle_and_name_known_classes() -> None:
    known = set(lock_table.by_name())
    c = checker()
    for a, b in c.edges:
        assert a in known and b in known, (a, b)
        assert c._path(b, a) is None, f"the declared order closes a cycle {a} -> {b}"
    for fields in lock_table.PROTECTION.values():
        assert set(fields) <= known


def run(path: Callable[[World], Gen], sems: tuple[str, ...] = ()) -> tuple[str, str]:
    """One thread running ``path`` under the table's checker: (verdict, detail)."""
    def make() -> World:
        w = World(resources={n: (RwSemaphore(n) if n in sems else Mutex(n))
                             for n in ("xe_vm.lock", "mmap_lock", "xe_vm.resv",
                                       "userptr.notifier_lock", "dma_resv")})
        w.threads = {"t1": path(w)}
        return w

    program = KernelProgram("table", make, checker=checker)
    r = Scheduler(program, 100).run(first_chooser)
    return r.verdict, r.detail


SEMS = ("xe_vm.lock", "mmap_lock", "userptr.notifier_lock")


def _nested(outer: str, inner: str) -> Callable[[World], Gen]:
    def path(w: World) -> Gen:
        yield from down_read(outer)
        yield from down_read(inner)
        yield from up_read(inner)
        yield from up_read(outer)
    return path


def test_the_seed_order_is_clean_and_against_it_is_flagged_at_once() -> None:
    assert run(_nested("xe_vm.lock", "userptr.notifier_lock"), SEMS)[0] == "ok"
    verdict, detail = run(_nested("userptr.notifier_lock", "mmap_lock"), SEMS)
    assert verdict == "violation" and "LockOrderInv" in detail, detail
    assert "declared order" in detail  # the chain it closes is the table's


@pytest.mark.parametrize(("section", "lock", "bad"), [
    (MMU_NOTIFIER, "userptr.notifier_lock", False),
    (MMU_NOTIFIER, "xe_vm.resv", True),
    (MMU_NOTIFIER, "mmap_lock", True),
    (FENCE_MAP, "userptr.notifier_lock", True),
])
def test_a_section_never_takes_its_forbidden_classes(section: str, lock: str, bad: bool) -> None:
    def path(w: World) -> Gen:
        yield Point("map_acquire", section, label=f"lock_map_acquire({section})")
        if lock in SEMS:
            yield from down_write(lock)
            yield from up_write(lock)
        else:
            yield Point("acquire", lock, label=f"lock({lock})")
            yield Point("release", lock, label=f"unlock({lock})")
        yield Point("map_release", section, label=f"lock_map_release({section})")

    verdict, detail = run(path, SEMS)
    assert (verdict == "violation") == bad, detail
    if bad:
        rule = "FenceSignallingInv" if section == FENCE_MAP else "LockOrderInv"
        assert rule in detail and section in detail, detail


def test_a_protected_field_is_written_only_under_its_lock() -> None:
    def bare(w: World) -> Gen:
        yield from write(w, "vm.extobj_list", ["bo"])

    def locked(w: World) -> Gen:
        yield Point("acquire", "dma_resv", label="dma_resv_lock(vm)")
        yield from write(w, "vm.extobj_list", ["bo"])
        yield Point("release", "dma_resv", label="dma_resv_unlock(vm)")

    verdict, detail = run(bare)
    assert verdict == "violation" and "LockHeldInv" in detail and "vm.extobj_list" in detail
    assert run(locked)[0] == "ok"
