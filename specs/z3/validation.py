"""Argument validation of three VM_BIND front ends, as the seeds write it.

Each front end is encoded twice: ``seed``, the checks exactly as the seed's
code performs them, and ``fixed``, the same checks with the flaw repaired.
An obligation claims something about *every accepted argument*: accepted
arguments can never give an out-of-range or wrapping mapping, a mapping
that overlaps a live one, or a non-zero reserved field.  Where the seed's
check is flawed its obligation is expected to be *violated* (the solver
returns the counterexample) and the fixed one to be *proved*.

i915 VM_BIND (seed 000, "[v6,05/20] drm/i915/vm_bind: Implement bind and
unbind of object")
    ``i915_gem_vm_bind_ioctl``/``i915_gem_vm_bind_obj``: ``rsvd[0..2]`` and
    ``extensions`` must be 0 (``rsvd2[]`` is not checked); ``length != 0``;
    ``start`` 4K-aligned; ``offset | length`` aligned to the object's largest
    page size; ``range_overflows_t(offset, length, obj size)``; then ``start``
    is made non-canonical (masked to 48 bits) and the tree is queried at the
    *point* ``[start, start]`` only.  ``vma->last = start + length - 1`` with
    no bound against the 48-bit VM.  Unbind finds the VMA covering ``start``
    and compares only its size.
nouveau VM_BIND (seed 001, patches 13-15)
    ``nouveau_uvmm_validate_range``: ``addr`` and ``range`` page-aligned,
    ``end > addr`` (non-empty, no wrap), ``end <= 2**47``, clear of the
    kernel-managed area set by VM_INIT; ``bind_validate_op`` for MAP:
    ``bo_offset`` aligned, ``bo_offset < obj size``, ``range <= size -
    bo_offset``.  ``pad`` and unknown flag bits are never checked;
    ``u_memcpya`` computes the byte count ``size *= nmemb`` in 32 bits.
xe VM_BIND (seed 002, "[PATCH v5 4/8] drm/xe: Port Xe to GPUVA")
    a MAP reaches ``drm_gpuva_sm_map_ops_create``, whose only range checks are
    seed 001's ``drm_gpuva_in_mm_range`` (``addr < mm_end && mm_start < addr +
    range``: an overlap test, not containment, and no wrap test) and
    ``drm_gpuva_in_kernel_region``; ``new_vma`` then builds the VMA with the
    inclusive end ``addr + range - 1``.  (The seed does not show
    ``vm_bind_ioctl_check_args``, so xe's own alignment, reserved-field and
    flag checks are not encoded.)
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import z3

from specs.z3.goal import Goal
from specs.z3.u64 import Term

PAGE = 4096
GEN8_VA_BITS = 48
NOUVEAU_VA_BITS = 47
NOUVEAU_OP_MAP = 2
NOUVEAU_VM_BIND_SPARSE = 1 << 8
NOUVEAU_VM_BIND_RUN_ASYNC = 0x1
#: ``sizeof(struct drm_nouveau_vm_bind_op)``: u32 op, flags, handle, pad;
#: u64 addr, bo_offset, range.
NOUVEAU_BIND_OP_SIZE = 40


def _u64(name: str) -> Term:
    return z3.BitVec(name, 64)


def _u32(name: str) -> Term:
    return z3.BitVec(name, 32)


def _aligned(x: Term, to: Term | int) -> Term:
    return x & (to - 1) == 0


def _no_wrap(a: Term, b: Term) -> Term:
    return z3.BVAddNoOverflow(a, b, False)


@dataclass(frozen=True)
class FrontEndCheck:
    """One claim about every argument a front end (seed or fixed) accepts."""

    name: str
    front_end: str
    version: str
    expect: str  # "proved" or "violated"
    about: str
    build: Callable[[], Goal]


# --------------------------------------------------------------------- i915

@dataclass(frozen=True)
class _I915Bind:
    start: Term
    offset: Term
    length: Term
    rsvd: tuple[Term, Term, Term]
    rsvd2: tuple[Term, Term]
    extensions: Term
    obj_size: Term
    page: Term
    live: Term  # an existing persistent VMA [live_start, live_start + live_length)
    live_start: Term
    live_length: Term

    @staticmethod
    def fresh() -> _I915Bind:
        return _I915Bind(_u64("start"), _u64("offset"), _u64("length"),
                         (_u64("rsvd0"), _u64("rsvd1"), _u64("rsvd2_")),
                         (_u64("rsvd2[0]"), _u64("rsvd2[1]")), _u64("extensions"),
                         _u64("obj_size"), _u64("max_page_size"), z3.Bool("live"),
                         _u64("live.start"), _u64("live.length"))

    def inputs(self) -> dict[str, Term]:
        return {"start": self.start, "offset": self.offset, "length": self.length,
                "rsvd[0]": self.rsvd[0], "rsvd[1]": self.rsvd[1], "rsvd[2]": self.rsvd[2],
                "rsvd2[0]": self.rsvd2[0], "rsvd2[1]": self.rsvd2[1],
                "extensions": self.extensions, "obj_size": self.obj_size,
                "max_page_size": self.page, "live": self.live,
                "live.start": self.live_start, "live.length": self.live_length}

    @property
    def bound_start(self) -> Term:
        """``gen8_noncanonical_addr(start)``: the low 48 bits."""
        return self.start & ((1 << GEN8_VA_BITS) - 1)

    def environment(self) -> Term:
        """A GEM object (page-multiple size) and a live VMA bound inside the VM."""
        total = z3.BitVecVal(1 << GEN8_VA_BITS, 64)
        return z3.And(
            z3.Or(self.page == PAGE, self.page == 1 << 16),
            self.obj_size != 0, _aligned(self.obj_size, self.page),
            z3.Implies(self.live, z3.And(
                self.live_length != 0, _aligned(self.live_start, PAGE),
                _aligned(self.live_length, PAGE),
                _no_wrap(self.live_start, self.live_length),
                z3.ULE(self.live_start + self.live_length, total))),
        )

    def accepted(self, fixed: bool) -> Term:
        s = self.bound_start
        range_overflows = z3.Or(z3.UGE(self.offset, self.obj_size),
                                z3.UGT(self.length, self.obj_size - self.offset))
        if fixed:
            # The live tree queried for any VMA meeting [start, start + length).
            hit = z3.And(self.live, z3.ULT(s, self.live_start + self.live_length),
                         z3.ULT(self.live_start, s + self.length))
        else:
            # The point query [start, start] (interval tree, inclusive last).
            hit = z3.And(self.live, z3.ULE(self.live_start, s),
                         z3.ULE(s, self.live_start + self.live_length - 1))
        conds = [z3.And([r == 0 for r in self.rsvd]), self.extensions == 0,
                 self.length != 0, _aligned(self.start, PAGE),
                 _aligned(self.offset | self.length, self.page),
                 z3.Not(range_overflows), z3.Not(hit)]
        if fixed:
            total = z3.BitVecVal(1 << GEN8_VA_BITS, 64)
            conds += [z3.And([r == 0 for r in self.rsvd2]),
                      z3.ULE(self.length, total - s)]
        return z3.And(conds)


def _i915_readable(b: _I915Bind) -> tuple[Term, ...]:
    """Preferred counterexample values: reserved fields zero, small numbers."""
    return (*[r == 0 for r in (*b.rsvd, *b.rsvd2, b.extensions)], b.page == PAGE,
            b.offset == 0, z3.ULE(b.obj_size, 1 << 20), z3.ULE(b.start, 1 << 20),
            z3.ULE(b.length, 1 << 20), z3.ULE(b.live_start, 1 << 20),
            z3.ULE(b.live_length, 1 << 16), z3.Not(b.live))


def _about(ioctl: str, seed: str, fixed: bool) -> dict[str, Any]:
    """What a counterexample trace records about the front end and its version."""
    return {"ioctl": ioctl, "seed": seed, "version": "fixed" if fixed else "seed"}


def _front_end_goal(fresh: Callable[[], Any], fixed: bool, claim: Callable[[Any], Term],
                    prefer: Callable[[Any], tuple[Term, ...]], ioctl: str, seed: str,
                    trace: str = "args") -> Callable[[], Goal]:
    """``environment /\\ accepted(fixed) -> claim`` over one front end's fresh arguments."""
    def build() -> Goal:
        b = fresh()
        return Goal(z3.And(b.environment(), b.accepted(fixed)), claim(b), b.inputs(),
                    prefer=prefer(b), trace=trace,
                    about=_about(ioctl, seed, fixed))
    return build


def _i915_goal(fixed: bool, claim: Callable[[_I915Bind], Term]) -> Callable[[], Goal]:
    return _front_end_goal(_I915Bind.fresh, fixed, claim, _i915_readable,
                           "DRM_IOCTL_I915_GEM_VM_BIND", "000")


def _i915_no_overlap(b: _I915Bind) -> Term:
    s = b.bound_start
    return z3.Not(z3.And(b.live, z3.ULT(s, b.live_start + b.live_length),
                         z3.ULT(b.live_start, s + b.length)))


def _i915_in_vm(b: _I915Bind) -> Term:
    s = b.bound_start
    last = s + b.length - 1  # vma->last
    return z3.And(b.length != 0, z3.ULE(s, last), z3.ULT(last, 1 << GEN8_VA_BITS))


def _i915_reserved_zero(b: _I915Bind) -> Term:
    return z3.And([r == 0 for r in (*b.rsvd, *b.rsvd2, b.extensions)])


def _i915_object(b: _I915Bind) -> Term:
    return z3.And(b.length != 0, _no_wrap(b.offset, b.length),
                  z3.ULE(b.offset + b.length, b.obj_size),
                  _aligned(b.offset, b.page), _aligned(b.length, b.page))


@dataclass(frozen=True)
class _I915Unbind:
    start: Term
    length: Term
    live_start: Term
    live_length: Term

    def accepted(self, fixed: bool) -> Term:
        s = self.start & ((1 << GEN8_VA_BITS) - 1)
        found = z3.And(z3.ULE(self.live_start, s),
                       z3.ULE(s, self.live_start + self.live_length - 1))
        if fixed:
            found = self.live_start == s
        return z3.And(found, self.live_length == self.length)


def _i915_unbind(fixed: bool) -> Callable[[], Goal]:
    def build() -> Goal:
        u = _I915Unbind(_u64("start"), _u64("length"), _u64("live.start"), _u64("live.length"))
        env = z3.And(u.live_length != 0, _aligned(u.live_start, PAGE),
                     _no_wrap(u.live_start, u.live_length),
                     z3.ULE(u.live_start + u.live_length, 1 << GEN8_VA_BITS))
        claim = u.live_start == (u.start & ((1 << GEN8_VA_BITS) - 1))
        return Goal(z3.And(env, u.accepted(fixed)), claim,
                    {"start": u.start, "length": u.length, "live.start": u.live_start,
                     "live.length": u.live_length},
                    prefer=(z3.ULE(u.start, 1 << 20), z3.ULE(u.live_start, 1 << 20),
                            z3.ULE(u.live_length, 1 << 16)),
                    about=_about("DRM_IOCTL_I915_GEM_VM_UNBIND", "000", fixed))
    return build


# ------------------------------------------------------------------- nouveau

@dataclass(frozen=True)
class _NouveauBind:
    op: Term
    flags: Term
    pad: Term
    addr: Term
    bo_offset: Term
    range: Term
    obj_size: Term
    unmanaged_addr: Term
    unmanaged_size: Term
    bind_flags: Term

    @staticmethod
    def fresh() -> _NouveauBind:
        return _NouveauBind(_u32("op"), _u32("flags"), _u32("pad"), _u64("addr"),
                            _u64("bo_offset"), _u64("range"), _u64("obj_size"),
                            _u64("unmanaged_addr"), _u64("unmanaged_size"),
                            _u32("vm_bind.flags"))

    def inputs(self) -> dict[str, Term]:
        return {"op": self.op, "flags": self.flags, "pad": self.pad, "addr": self.addr,
                "bo_offset": self.bo_offset, "range": self.range, "obj_size": self.obj_size,
                "unmanaged_addr": self.unmanaged_addr, "unmanaged_size": self.unmanaged_size,
                "vm_bind.flags": self.bind_flags}

    @property
    def unmanaged_end(self) -> Term:
        return self.unmanaged_addr + self.unmanaged_size

    def environment(self) -> Term:
        """VM_INIT accepted its arguments; the GEM object has a page-multiple size."""
        return z3.And(z3.UGT(self.unmanaged_end, self.unmanaged_addr),
                      z3.ULE(self.unmanaged_end, 1 << NOUVEAU_VA_BITS),
                      self.obj_size != 0, _aligned(self.obj_size, PAGE))

    def validate_range(self) -> Term:
        end = self.addr + self.range
        return z3.And(_aligned(self.addr, PAGE), _aligned(self.range, PAGE),
                      z3.UGT(end, self.addr), z3.ULE(end, 1 << NOUVEAU_VA_BITS),
                      z3.Not(z3.And(z3.ULT(self.addr, self.unmanaged_end),
                                    z3.UGT(end, self.unmanaged_addr))))

    def accepted(self, fixed: bool) -> Term:
        conds = [self.op == NOUVEAU_OP_MAP,
                 _aligned(self.bo_offset, PAGE),
                 z3.UGT(self.obj_size, self.bo_offset),
                 z3.ULE(self.range, self.obj_size - self.bo_offset),
                 self.validate_range()]
        if fixed:
            conds += [self.pad == 0,
                      self.flags & ~z3.BitVecVal(0xff | NOUVEAU_VM_BIND_SPARSE, 32) == 0,
                      self.bind_flags & ~z3.BitVecVal(NOUVEAU_VM_BIND_RUN_ASYNC, 32) == 0]
        return z3.And(conds)


def _nouveau_readable(b: _NouveauBind) -> tuple[Term, ...]:
    """Preferred counterexample values: no stray bits, a kernel area at 2**46, small numbers."""
    return (b.flags == 0, b.pad == 0, b.bind_flags == 0, b.bo_offset == 0,
            b.unmanaged_addr == 1 << 46, b.unmanaged_size == 1 << 30,
            z3.ULE(b.obj_size, 1 << 20), z3.ULE(b.addr, 1 << 24), z3.ULE(b.range, 1 << 16))


def _nouveau_goal(fixed: bool, claim: Callable[[_NouveauBind], Term]) -> Callable[[], Goal]:
    return _front_end_goal(_NouveauBind.fresh, fixed, claim, _nouveau_readable,
                           "DRM_IOCTL_NOUVEAU_VM_BIND", "001")


def _nouveau_range(b: _NouveauBind) -> Term:
    end = b.addr + b.range
    return z3.And(b.range != 0, _no_wrap(b.addr, b.range), z3.ULE(end, 1 << NOUVEAU_VA_BITS),
                  _aligned(b.addr, PAGE), _aligned(b.range, PAGE),
                  z3.Or(z3.ULE(end, b.unmanaged_addr), z3.UGE(b.addr, b.unmanaged_end)),
                  _no_wrap(b.bo_offset, b.range), z3.ULE(b.bo_offset + b.range, b.obj_size))


def _nouveau_pages(b: _NouveauBind) -> Term:
    """The GPUVA manager works in pages: ``VaSpace(0, 2**35, ua >> 12, us >> 12)``
    accepts the configuration, and its range check accepts ``addr >> 12``,
    ``range >> 12``."""
    pa, pr = z3.LShR(b.addr, 12), z3.LShR(b.range, 12)
    ko, kr = z3.LShR(b.unmanaged_addr, 12), z3.LShR(b.unmanaged_size, 12)
    mm_end = 1 << (NOUVEAU_VA_BITS - 12)
    return z3.And(
        _no_wrap(ko, kr), z3.ULE(ko + kr, mm_end),
        pr != 0, _no_wrap(pa, pr), z3.ULE(pa + pr, mm_end),
        z3.Not(z3.And(kr != 0, z3.ULT(pa, ko + kr), z3.ULT(ko, pa + pr))))


def _nouveau_reserved(b: _NouveauBind) -> Term:
    return b.pad == 0


def _nouveau_flags(b: _NouveauBind) -> Term:
    return z3.And(b.flags & ~z3.BitVecVal(0xff | NOUVEAU_VM_BIND_SPARSE, 32) == 0,
                  b.bind_flags & ~z3.BitVecVal(NOUVEAU_VM_BIND_RUN_ASYNC, 32) == 0)


def _nouveau_copy(fixed: bool) -> Callable[[], Goal]:
    """``u_memcpya(op_ptr, op_count, sizeof(op))``: the buffer holds every op."""
    def build() -> Goal:
        count = _u32("op_count")
        size32 = count * NOUVEAU_BIND_OP_SIZE  # ``size *= nmemb`` in unsigned int
        accepted = (z3.ULE(count, 0xFFFFFFFF // NOUVEAU_BIND_OP_SIZE) if fixed
                    else z3.BoolVal(True))
        claim = z3.ZeroExt(32, size32) == z3.ZeroExt(32, count) * NOUVEAU_BIND_OP_SIZE
        return Goal(accepted, claim, {"op_count": count},
                    about=_about("DRM_IOCTL_NOUVEAU_VM_BIND", "001", fixed))
    return build


# ------------------------------------------------------------------------ xe

@dataclass(frozen=True)
class _XeMap:
    mm_start: Term
    mm_range: Term
    reserve_offset: Term
    reserve_range: Term
    addr: Term
    range: Term

    @staticmethod
    def fresh() -> _XeMap:
        return _XeMap(_u64("mm_start"), _u64("mm_range"), _u64("reserve_offset"),
                      _u64("reserve_range"), _u64("addr"), _u64("range"))

    def inputs(self) -> dict[str, Term]:
        return {"mm_start": self.mm_start, "mm_range": self.mm_range,
                "reserve_offset": self.reserve_offset, "reserve_range": self.reserve_range,
                "addr": self.addr, "range": self.range}

    @property
    def mm_end(self) -> Term:
        return self.mm_start + self.mm_range

    def environment(self) -> Term:
        """A VM the model accepts (``VaSpace(mm_start, mm_range, ...)``)."""
        ko, kr = self.reserve_offset, self.reserve_range
        return z3.And(self.mm_range != 0, _no_wrap(self.mm_start, self.mm_range),
                      z3.Implies(kr != 0, z3.And(_no_wrap(ko, kr), z3.ULE(self.mm_start, ko),
                                                 z3.ULE(ko + kr, self.mm_end))),
                      z3.Implies(kr == 0, ko == 0))

    def in_kernel(self) -> Term:
        end = self.addr + self.range
        kend = self.reserve_offset + self.reserve_range
        return z3.And(self.reserve_range != 0, z3.ULT(self.addr, kend),
                      z3.ULT(self.reserve_offset, end))

    def accepted(self, fixed: bool) -> Term:
        end = self.addr + self.range
        if fixed:  # VaSpace.check_range
            in_mm = z3.And(self.range != 0, _no_wrap(self.addr, self.range),
                           z3.ULE(self.mm_start, self.addr), z3.ULE(end, self.mm_end))
        else:  # drm_gpuva_in_mm_range
            in_mm = z3.And(z3.ULT(self.addr, self.mm_end), z3.ULT(self.mm_start, end))
        return z3.And(in_mm, z3.Not(self.in_kernel()))


def _xe_goal(fixed: bool, claim: Callable[[_XeMap], Term],
             prefer: Callable[[_XeMap], tuple[Term, ...]]) -> Callable[[], Goal]:
    return _front_end_goal(_XeMap.fresh, fixed, claim, prefer, "DRM_IOCTL_XE_VM_BIND", "002",
                           trace="gpuvm")


def _xe_range(x: _XeMap) -> Term:
    """The request is non-empty, does not wrap and lies inside the VM."""
    return z3.And(x.range != 0, _no_wrap(x.addr, x.range),
                  z3.ULE(x.mm_start, x.addr), z3.ULE(x.addr + x.range, x.mm_end))


def _xe_vma_end(x: _XeMap) -> Term:
    """``xe_vma_create(..., addr + range - 1)``: the inclusive end is not below the start."""
    return z3.ULE(x.addr, x.addr + x.range - 1)


def _xe_readable(x: _XeMap) -> tuple[Term, ...]:
    """A small VM at 0 and no kernel node: a counterexample a person reads at a glance,
    and one the model's ``Map`` can replay (range non-zero)."""
    return (x.mm_start == 0, z3.ULE(x.mm_range, 64), x.reserve_range == 0, x.range != 0,
            z3.ULE(x.range, 64))


def _xe_zero_range(x: _XeMap) -> tuple[Term, ...]:
    return (x.mm_start == 0, z3.ULE(x.mm_range, 64), x.reserve_range == 0)


def checks() -> list[FrontEndCheck]:
    """Every front-end obligation, seed and fixed side by side."""
    out: list[FrontEndCheck] = []

    def both(front: str, what: str, about: str, seed_expect: str,
             make: Callable[[bool], Callable[[], Goal]]) -> None:
        out.append(FrontEndCheck(f"{front}.{what}.seed", front, "seed", seed_expect, about,
                                 make(False)))
        if seed_expect == "violated":
            out.append(FrontEndCheck(f"{front}.{what}.fixed", front, "fixed", "proved", about,
                                     make(True)))

    both("i915", "bind-overlap", "an accepted bind never overlaps a live VMA "
         "(seed: the tree is queried at the start address only)", "violated",
         lambda f: _i915_goal(f, _i915_no_overlap))
    both("i915", "bind-range", "an accepted bind ends inside the 48-bit VM without wrapping "
         "(seed: vma->last = start + length - 1 is never bounded)", "violated",
         lambda f: _i915_goal(f, _i915_in_vm))
    both("i915", "bind-reserved", "an accepted bind has every reserved field zero "
         "(seed: rsvd2[] is not checked)", "violated",
         lambda f: _i915_goal(f, _i915_reserved_zero))
    both("i915", "bind-object", "an accepted bind maps aligned pages inside the object "
         "(range_overflows_t)", "proved", lambda f: _i915_goal(f, _i915_object))
    both("i915", "unbind-exact", "an accepted unbind removes the VMA that starts at start "
         "(seed: any VMA covering start with the same size)", "violated", _i915_unbind)
    both("nouveau", "map-range", "an accepted MAP is aligned, non-empty, unwrapped, below "
         "2^47, clear of the kernel area and inside the object", "proved",
         lambda f: _nouveau_goal(f, _nouveau_range))
    both("nouveau", "map-pages", "an accepted MAP, in pages, passes the GPUVA manager's "
         "range check for the VM that VM_INIT set up", "proved",
         lambda f: _nouveau_goal(f, _nouveau_pages))
    both("nouveau", "op-reserved", "an accepted op has pad == 0 (seed: never checked)",
         "violated", lambda f: _nouveau_goal(f, _nouveau_reserved))
    both("nouveau", "op-flags", "an accepted op has no unknown flag bits "
         "(seed: op.flags and vm_bind.flags never checked)", "violated",
         lambda f: _nouveau_goal(f, _nouveau_flags))
    both("nouveau", "op-copy-size", "the op array copy holds op_count ops "
         "(seed: u_memcpya multiplies in 32 bits)", "violated", _nouveau_copy)
    both("xe", "map-range", "an accepted MAP is non-empty, unwrapped and inside the VM "
         "(seed: drm_gpuva_in_mm_range is an overlap test)", "violated",
         lambda f: _xe_goal(f, _xe_range, _xe_readable))
    both("xe", "vma-end", "an accepted MAP's inclusive end addr + range - 1 is not below addr "
         "(seed: range 0 passes)", "violated",
         lambda f: _xe_goal(f, _xe_vma_end, _xe_zero_range))
    return out
