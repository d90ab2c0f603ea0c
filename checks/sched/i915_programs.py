"""i915 VM_UNBIND's two phases against a concurrent VM_BIND (seed 000, notes A3, B6, B7).

One VM in vm_bind mode with a 128 KiB object (handle 1) bound at
``[0x100000, +0x10000)`` (``model.i915.I915System``), and two threads:

``unbind``
    VM_UNBIND of that VMA in its two phases: under ``vm_bind_lock`` the
    checks and the logical removal (``UnbindBegin``: off the tree and the
    bound list), the lock dropped, then under the object's lock the destroy
    (``UnbindEnd``: the drm_mm node freed, the GEM reference put);
``bind``
    VM_BIND of ``[0xf0000, +0x20000)``, which overlaps it, under
    ``vm_bind_lock``; on an error after the VMA was made, its destroy under
    the object's lock (the unbind path's rule, B6).

Between the two phases the tree no longer has the VMA but drm_mm still
holds its node, so the bind's tree check passes and its fixed-offset pin
fails with ``-ENOSPC`` (B7: "not ordered" permits it).  The property,
checked when the bind returns: ``-ENOSPC`` only while an overlapping unbind
is in flight; an overlap with a VMA still in the tree is ``-EEXIST``
(``NoSpaceInv``).  The model's invariants (``check_i915``: disjoint VMAs
and drm_mm nodes, the bound list, GEM references) run after every step.

Bad variants: ``seed`` (the seed's point query, B2: the bind starting in a
hole passes the tree check while the VMA is in the tree, and gets
``-ENOSPC`` with no unbind in flight -- ``NoSpaceInv``); ``destroy_unlocked``
(the seed's BIND error path destroying the VMA without the object's lock,
B6, on the fixed checks -- ``LockHeldInv``, reached only when the bind lands between the
unbind's phases).
"""

from __future__ import annotations

from collections.abc import Callable

from checks.sched.model_program import Gen, ModelProgram
from model.errors import InvariantViolation
from model.i915 import VOCABULARY, I915System, check_i915
from model.locks import DmaResv, Mutex, WwClass, mutex_lock, mutex_unlock, ww_lock, ww_unlock
from model.program import KernelProgram, World
from model.sched import Point

CLASSES = {"vm_bind_lock": "i915.vm_bind_lock", "resv:1": "dma_resv"}
VMA = (0x100000, 0x10000)
BIND = (0xF0000, 0x20000)


def i915_program(*, seed: bool = False, destroy_unlocked: bool = False) -> ModelProgram:
    """The two threads over one VM; the keywords select a bad variant."""
    profile = "seed" if seed else "fixed"

    def make(p: ModelProgram) -> World:
        sys = I915System({1: True}, {1: (0x20000, 0x1000)}, profile)
        sys.vm_bind(1, 1, VMA[0], 0, VMA[1])
        w = World(vars={"system": sys}, resources={
            "vm_bind_lock": Mutex("vm_bind_lock"),
            "resv:1": DmaResv("resv:1", WwClass("reservation_ww_class"), {})})

        def unbind() -> Gen:
            yield from mutex_lock("vm_bind_lock")
            r = yield from p.act("unbind", "UnbindBegin", held=("vm_bind_lock",),
                                 thread="unbind", vm_id=1, rsvd=0, start=VMA[0], length=VMA[1],
                                 rsvd2_0=0, rsvd2_1=0, rsvd2_2=0, extensions=0)
            assert r is None, f"the unbind's first phase failed: {r}"
            yield from mutex_unlock("vm_bind_lock")
            yield from ww_lock("resv:1", None)
            yield from p.act("unbind", "UnbindEnd", held=("resv:1",), thread="unbind")
            yield from ww_unlock("resv:1")

        def bind() -> Gen:
            yield from mutex_lock("vm_bind_lock")
            r = yield from p.act("bind", "VmBind", held=("vm_bind_lock",), vm_id=1, handle=1,
                                 start=BIND[0], offset=0, length=BIND[1], rsvd_0=0,
                                 rsvd_1=0, rsvd_2=0, rsvd2_0=0, rsvd2_1=0, extensions=0)
            if r == "ENOSPC" and not sys.vms[1].unbinding:
                raise InvariantViolation("NoSpaceInv", "VM_BIND gave -ENOSPC with no unbind "
                                         "in flight (an overlap with a VMA in the tree is "
                                         "-EEXIST)")
            if r == "ENOSPC":    # the pin failed: the VMA made for it is destroyed
                if not destroy_unlocked:
                    yield from ww_lock("resv:1", None)
                yield Point("assert_held", "resv:1",
                            label="i915_vma_destroy() on VM_BIND's error path")
                if not destroy_unlocked:
                    yield from ww_unlock("resv:1")
            yield from mutex_unlock("vm_bind_lock")

        w.threads = {"unbind": unbind(), "bind": bind()}
        return w

    flags = [n for n, on in (("seed-point-query", seed),
                             ("destroy-unlocked", destroy_unlocked)) if on]
    return ModelProgram("-".join(["i915", *flags]), make, check_i915, VOCABULARY, ("i915",),
                        CLASSES)


#: name -> (program factory, the finding expected: None for none)
I915: dict[str, tuple[Callable[[], KernelProgram], str | None]] = {
    "fixed": (i915_program, None),
    "seed-point-query": (lambda: i915_program(seed=True), "NoSpaceInv"),
    "seed-bind-error-destroy-unlocked": (lambda: i915_program(destroy_unlocked=True),
                                         "LockHeldInv"),
}
