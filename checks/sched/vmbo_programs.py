"""drm_gpuvm_bo under concurrency: bind, exec and evict threads over the vm_bo model.

One VM ``v1`` with a private GEM ``p`` (it shares ``resv:v1``) and an
external GEM ``e`` (its own ``resv:e``), in either list-protection mode.
Each thread takes the kernel's locks as scheduler points and runs the
model's actions (``model.vmbo.VmBoSystem``) between them, atomically:

``bind``
    the VA-space lock (``gpuvm:v1``, nouveau's uvmm mutex), then drm_exec
    over the VM's resv and ``e``'s; obtains and maps ``e`` and ``p`` and
    adds ``e`` to the extobj list -- under the list spinlock in spinlock
    mode, under the VM's resv (held) in resv mode;
``exec``
    ``drm_gpuvm_exec_lock``: drm_exec over the VM's resv, then -- still in
    the loop -- every object of the extobj list (read under the spinlock in
    spinlock mode), then ``drm_gpuvm_validate``;
``evict``
    TTM moving ``e`` and then ``p``: each GEM's resv (with its own ticket),
    ``drm_gpuvm_bo_evict`` -- the evict list under the spinlock in spinlock
    mode; in resv mode ``e``'s entry is left to exec, ``p``'s list is the
    VM's resv, which ``p``'s resv is.

The model's own lock assertions (``assert_held``) see exactly the locks the
calling thread holds, and every lock an action takes that the thread does
not hold goes to the lock checker as an acquisition of that thread
(``VmBoSystem.lock_hook``), so a model path that takes the wrong lock for a
list is found by order and context rules, not only by a wrong state.  The
lock checker (``model.lock_table``, order ``dma_resv -> vm.list_lock``) is
on in every run; the vm_bo invariants (``check_vmbo``) run after every step.
"""

from __future__ import annotations

from collections.abc import Callable, Generator
from typing import Any

from model.drm_exec import DrmExec
from model.lock_table import checker
from model.locks import (
    DmaResv,
    Mutex,
    Spinlock,
    WwClass,
    mutex_lock,
    mutex_unlock,
    spin_lock,
    spin_unlock,
)
from model.program import KernelProgram, World
from model.sched import Point, Resource, Result, Thread
from model.vmbo import VmBoSystem
from model.vmbo_invariants import check_vmbo

Gen = Generator[Point, Result, Any]

CLASSES = {"resv:v1": "dma_resv", "resv:e": "dma_resv", "list_lock:v1": "vm.list_lock",
           "gpuvm:v1": "nouveau.uvmm_mutex"}
THREADS = ("bind", "exec", "evict")


class VmBoProgram(KernelProgram):
    """A :class:`KernelProgram` whose model actions run with the calling thread's locks."""

    def __init__(self, name: str, make: Callable[[VmBoProgram], World]) -> None:
        super().__init__(name, lambda: make(self), _invariant,
                         checker=lambda: checker(("vmbo", "nouveau"), classes=CLASSES))

    def start(self) -> tuple[dict[str, Resource], list[Thread]]:
        out = super().start()
        sys: VmBoSystem = self.world.vars["system"]
        sys.lock_hook = self._hook
        self.world.vars["thread"] = ""
        return out

    def _hook(self, lock: str, taken: bool) -> None:
        assert self.lockdep is not None
        t = self.world.vars["thread"]
        point = Point("acquire" if taken else "release", lock, "x",
                      label=f"{'' if taken else 'un'}lock {lock} inside a vm_bo call")
        if taken:
            self.lockdep.attempt(t, point)
        self.lockdep.observe(t, point, 0)

    def act(self, thread: str, action: str, **args: Any) -> Gen:
        """A model action by ``thread``: an interleaving point, then the action alone."""
        from model.vmbo import VOCABULARY

        # the action reads and writes the shared vm_bo state: a write, for the reduction
        yield Point("write", "vm_bo state", "w",
                    label=f"{action}({', '.join(f'{v}' for v in args.values())})")
        sys: VmBoSystem = self.world.vars["system"]
        assert self.lockdep is not None
        sys.held = {h.lock for h in self.lockdep.held.get(thread, [])}
        self.world.vars["thread"] = thread
        try:
            VOCABULARY.perform(sys, action, args)
        finally:
            sys.held = set()


def _invariant(w: World) -> None:
    check_vmbo(w.vars["system"])


def _exec_lock(ex: DrmExec, p: VmBoProgram, mode: str) -> Gen:
    """drm_gpuvm_exec_lock: the VM's resv, then every extobj's, inside one loop."""
    sys: VmBoSystem = p.world.vars["system"]
    while (yield from ex.cleanup()):
        r = yield from ex.prepare_obj("resv:v1", 1)
        if r == "EDEADLK":
            continue
        if mode == "spinlock":
            yield from spin_lock("list_lock:v1")
        yield Point("read", "vm.extobj_list", "r", label="walk v1's extobj list")
        objs = [sys.gems[b[1]].resv for b in sys.vms["v1"].extobj]
        if mode == "spinlock":
            yield from spin_unlock("list_lock:v1")
        for o in objs:
            r = yield from ex.prepare_obj(o, 1)
            if r == "EDEADLK":
                break
        if r == "EDEADLK":
            continue


def vmbo_program(list_mode: str, *, validate_under_spinlock: bool = False,
                 bind_without_vm_resv: bool = False) -> VmBoProgram:
    """The three threads over one vm_bo system in ``list_mode``.

    Bad variants: ``validate_under_spinlock``, an exec that locks the extobjs'
    resvs while walking the list under its spinlock (sleeping under a
    spinlock); ``bind_without_vm_resv``, a bind that locks only the GEM's resv
    (the model's map then takes the VM's resv itself, outside the ticket).
    """
    def make(p: VmBoProgram) -> World:
        sys = VmBoSystem({"v1": (0, 4)}, {"p": "v1", "e": None}, ("j1",),
                         list_mode=list_mode)
        k = WwClass("reservation_ww_class")
        w = World(vars={"system": sys}, resources={
            "resv:v1": DmaResv("resv:v1", k, {}), "resv:e": DmaResv("resv:e", k, {}),
            "list_lock:v1": Spinlock("list_lock:v1"), "gpuvm:v1": Mutex("gpuvm:v1")})

        def bind() -> Gen:
            yield from mutex_lock("gpuvm:v1")
            ex = DrmExec(w, "bind", k)
            while (yield from ex.cleanup()):
                r = yield from ex.prepare_array(
                    ["resv:e"] if bind_without_vm_resv else ["resv:v1", "resv:e"], 1)
                if r == "EDEADLK":
                    continue
            for gem, addr in (("e", 0), ("p", 2)):
                yield from p.act("bind", "Obtain", job="j1", vm="v1", gem=gem)
                yield from p.act("bind", "Map", job="j1", vm="v1", addr=addr, range=1,
                                 gem=gem, offset=0)
            if list_mode == "spinlock":
                yield from spin_lock("list_lock:v1")
            yield Point("write", "vm.extobj_list", "w", label="drm_gpuvm_bo_extobj_add(e)")
            yield from p.act("bind", "ExtobjAdd", job="j1", vm="v1", gem="e")
            if list_mode == "spinlock":
                yield from spin_unlock("list_lock:v1")
            yield from ex.fini()
            yield from mutex_unlock("gpuvm:v1")

        def exec_() -> Gen:
            ex = DrmExec(w, "exec", k)
            if validate_under_spinlock:
                while (yield from ex.cleanup()):
                    r = yield from ex.prepare_obj("resv:v1", 1)
                    if r == "EDEADLK":
                        continue
                    yield from spin_lock("list_lock:v1")
                    for b in list(sys.vms["v1"].extobj):
                        r = yield from ex.prepare_obj(sys.gems[b[1]].resv, 1)
                        if r == "EDEADLK":
                            break
                    yield from spin_unlock("list_lock:v1")
                    if r == "EDEADLK":
                        continue
            else:
                yield from _exec_lock(ex, p, list_mode)
            yield from p.act("exec", "Validate", vm="v1")
            yield from ex.fini()

        def evict() -> Gen:
            for gem in ("e", "p"):
                ex = DrmExec(w, "evict", k)
                while (yield from ex.cleanup()):
                    r = yield from ex.prepare_obj(sys.gems[gem].resv, 0)
                    if r == "EDEADLK":
                        continue
                if list_mode == "spinlock":
                    yield from spin_lock("list_lock:v1")
                yield from p.act("evict", "Evict", gem=gem, evict=True)
                if list_mode == "spinlock":
                    yield from spin_unlock("list_lock:v1")
                yield from ex.fini()

        w.threads = {"bind": bind(), "exec": exec_(), "evict": evict()}
        return w

    name = f"vmbo-{list_mode}" + ("-validate-under-spinlock" if validate_under_spinlock
                                  else "-bind-without-vm-resv" if bind_without_vm_resv else "")
    return VmBoProgram(name, make)


#: name -> (program factory, the finding expected: None for none)
VMBO: dict[str, tuple[Callable[[], KernelProgram], str | None]] = {
    "spinlock": (lambda: vmbo_program("spinlock"), None),
    "resv": (lambda: vmbo_program("resv"), None),
    "validate-under-spinlock": (lambda: vmbo_program("spinlock", validate_under_spinlock=True),
                                "SleepInAtomicInv"),
    "bind-without-vm-resv": (lambda: vmbo_program("resv", bind_without_vm_resv=True),
                             "RecursiveLockInv"),
}
