"""The inputs every split/merge encoding shares: a VM, a layout, a request.

A *layout* is ``k`` slots, each an optional mapping ``[addr, addr + range)``
-> ``gem`` at ``offset`` with driver ``flags`` (a 64-bit value).  The
present slots come first, in ascending address order, and do not overlap;
``k`` bounds how many existing mappings a proof covers.  The VM is
``[mm_start, mm_start + mm_range)`` with an optional kernel-reserved node
(``reserve_range == 0``: none).  Regions are abstracted to the one region
that matters, the one enclosing the request, ``[region_addr, region_end)``:
with ``regions`` on, every mapping lies either inside it or outside it
entirely (each mapping lies inside one region and regions do not overlap).

The validity conditions are the model's, one for one (``model/vaspace.py``):
:func:`range_ok` is ``VaSpace.check_range``; :meth:`Layout.valid` is what a
sequence of ``VaSpace.insert`` calls accepts.  The GEM offset is any u64
(drm_gpuvm does not check ``offset + range``), so it has no condition.

Everywhere a mapping's content is compared it is the triple *(gem, offset
at the address, flags)*: :meth:`Mapping.at` gives it for one address.
"""

from __future__ import annotations

from dataclasses import dataclass

import z3

from specs.z3.u64 import Arith, Term


@dataclass(frozen=True)
class Vm:
    """One VA space's configuration (as ``VaSpace.__init__`` takes it)."""

    ar: Arith
    mm_start: Term
    mm_range: Term
    reserve_offset: Term
    reserve_range: Term
    regions: Term
    region_addr: Term
    region_end: Term

    @staticmethod
    def fresh(ar: Arith, prefix: str = "") -> Vm:
        return Vm(ar, ar.var(f"{prefix}mm_start"), ar.var(f"{prefix}mm_range"),
                  ar.var(f"{prefix}reserve_offset"), ar.var(f"{prefix}reserve_range"),
                  ar.bool_var(f"{prefix}regions"), ar.var(f"{prefix}region_addr"),
                  ar.var(f"{prefix}region_end"))

    @property
    def mm_end(self) -> Term:
        return self.ar.add(self.mm_start, self.mm_range)

    @property
    def kernel_end(self) -> Term:
        return self.ar.add(self.reserve_offset, self.reserve_range)

    def valid(self) -> Term:
        """``VaSpace(...)`` accepts the configuration, and the region is one it could hold."""
        ar = self.ar
        has_node = self.reserve_range != ar.const(0)
        return z3.And(
            self.mm_range != ar.const(0),
            ar.add_fits(self.mm_start, self.mm_range),
            z3.Implies(has_node, z3.And(
                ar.add_fits(self.reserve_offset, self.reserve_range),
                ar.le(self.mm_start, self.reserve_offset),
                ar.le(self.kernel_end, self.mm_end))),
            z3.Implies(self.regions, z3.And(
                ar.lt(self.region_addr, self.region_end),
                range_ok(self, self.region_addr, ar.sub(self.region_end, self.region_addr)))),
        )

    def touches_kernel(self, addr: Term, end: Term) -> Term:
        ar = self.ar
        return z3.And(self.reserve_range != ar.const(0),
                      ar.lt(addr, self.kernel_end), ar.lt(self.reserve_offset, end))

    def in_region(self, addr: Term, end: Term) -> Term:
        """``[addr, end)`` lies inside the request's region (true with regions off)."""
        ar = self.ar
        return z3.Or(z3.Not(self.regions),
                     z3.And(ar.le(self.region_addr, addr), ar.le(end, self.region_end)))

    def same_region(self, addr: Term, end: Term) -> Term:
        """``VaSpace.same_region`` for a range that includes part of the request."""
        return self.in_region(addr, end)

    def outside_region(self, addr: Term, end: Term) -> Term:
        """``[addr, end)`` lies clear of the request's region (in another one)."""
        ar = self.ar
        return z3.Or(ar.le(end, self.region_addr), ar.ge(addr, self.region_end))


def range_checks(vm: Vm, addr: Term, range_: Term, *,
                 check_wrap: bool = True) -> list[tuple[str, Term]]:
    """``VaSpace.check_range`` without the region test, one named condition per test:
    non-empty, no wrap, in the VM, clear of the kernel node.  ``check_wrap=False``
    is the variant that forgets the wrap test and computes the end modulo ``2**64``."""
    ar = vm.ar
    end = ar.add(addr, range_)
    checks = [("empty", range_ != ar.const(0))]
    if check_wrap:
        checks.append(("wraps", ar.add_fits(addr, range_)))
    checks += [("below-vm", ar.le(vm.mm_start, addr)), ("beyond-vm", ar.le(end, vm.mm_end)),
               ("kernel-node", z3.Not(vm.touches_kernel(addr, end)))]
    return checks


def range_ok(vm: Vm, addr: Term, range_: Term, *, check_wrap: bool = True) -> Term:
    """All of :func:`range_checks`."""
    return vm.ar.all([c for _, c in range_checks(vm, addr, range_, check_wrap=check_wrap)])


@dataclass(frozen=True)
class Mapping:
    """One slot of a layout: an optional existing mapping."""

    ar: Arith
    present: Term
    addr: Term
    range: Term
    gem: Term
    offset: Term
    flags: Term

    @staticmethod
    def fresh(ar: Arith, name: str) -> Mapping:
        return Mapping(ar, ar.bool_var(f"{name}.present"), ar.var(f"{name}.addr"),
                       ar.var(f"{name}.range"), ar.gem_var(f"{name}.gem"),
                       ar.var(f"{name}.offset"), ar.var(f"{name}.flags"))

    @property
    def end(self) -> Term:
        return self.ar.add(self.addr, self.range)

    def covers(self, x: Term) -> Term:
        return z3.And(self.present, self.ar.le(self.addr, x), self.ar.lt(x, self.end))

    def value(self, x: Term) -> Term:
        """The GEM offset that address ``x`` translates to (when covered), in u64."""
        return self.ar.add(self.offset, self.ar.sub(x, self.addr))

    def translates(self, x: Term, gem: Term, offset: Term, flags: Term) -> Term:
        """Address ``x`` (covered) translates to ``gem`` at ``offset`` with ``flags``."""
        return z3.And(self.gem == gem, self.value(x) == offset, self.flags == flags)

    def at(self, x: Term) -> tuple[Term, Term, Term]:
        """``(gem, offset, flags)`` that address ``x`` translates to (when covered)."""
        return self.gem, self.value(x), self.flags


def insert_ok(vm: Vm, m: Mapping, *, check_wrap: bool = True) -> Term:
    """``VaSpace.insert`` accepts ``m`` into an empty space (overlap is separate);
    ``check_wrap=False``: with the range check that forgets the wrap test."""
    return z3.And(
        range_ok(vm, m.addr, m.range, check_wrap=check_wrap),
        z3.Or(vm.in_region(m.addr, m.end), vm.outside_region(m.addr, m.end)),
    )


@dataclass(frozen=True)
class Layout:
    """``k`` slots; present ones first, ascending, disjoint."""

    ar: Arith
    slots: tuple[Mapping, ...]

    @staticmethod
    def fresh(ar: Arith, k: int, prefix: str = "") -> Layout:
        return Layout(ar, tuple(Mapping.fresh(ar, f"{prefix}x{i}") for i in range(k)))

    def valid(self, vm: Vm) -> Term:
        conds = []
        for i, m in enumerate(self.slots):
            conds.append(z3.Implies(m.present, insert_ok(vm, m)))
            # Every later slot, not just the next one: the same condition, stated
            # pairwise so that the solver need not rebuild it by transitivity.
            for later in self.slots[i + 1:]:
                conds.append(z3.Implies(later.present,
                                        z3.And(m.present, self.ar.le(m.end, later.addr))))
        return self.ar.all(conds)

    def covered(self, x: Term) -> Term:
        return self.ar.any([m.covers(x) for m in self.slots])



@dataclass(frozen=True)
class Request:
    """A ``Map`` request (``gem``/``offset``/``flags`` unused for ``Unmap``)."""

    ar: Arith
    addr: Term
    range: Term
    gem: Term
    offset: Term
    flags: Term

    @staticmethod
    def fresh(ar: Arith, prefix: str = "") -> Request:
        return Request(ar, ar.var(f"{prefix}req.addr"), ar.var(f"{prefix}req.range"),
                       ar.gem_var(f"{prefix}req.gem"), ar.var(f"{prefix}req.offset"),
                       ar.var(f"{prefix}req.flags"))

    @property
    def end(self) -> Term:
        return self.ar.add(self.addr, self.range)

    def value(self, x: Term) -> Term:
        """The GEM offset the request maps ``x`` to: ``offset + (x - addr)``, in u64."""
        return self.ar.add(self.offset, self.ar.sub(x, self.addr))

    def at(self, x: Term) -> tuple[Term, Term, Term]:
        """``(gem, offset, flags)`` the request maps ``x`` to."""
        return self.gem, self.value(x), self.flags


def map_request_checks(vm: Vm, req: Request, *,
                       check_wrap: bool = True) -> list[tuple[str, Term]]:
    """What ``VaSpace.sm_map`` tests of a request: the range and the region (any
    offset and flags are accepted)."""
    return [*range_checks(vm, req.addr, req.range, check_wrap=check_wrap),
            ("region", vm.in_region(req.addr, req.end))]


def unmap_request_checks(vm: Vm, req: Request, *,
                         check_wrap: bool = True) -> list[tuple[str, Term]]:
    """What ``VaSpace.sm_unmap`` tests of a request: the range (no region needed)."""
    return range_checks(vm, req.addr, req.range, check_wrap=check_wrap)


def map_request_ok(vm: Vm, req: Request, *, check_wrap: bool = True) -> Term:
    """``VaSpace.sm_map`` accepts the request."""
    return vm.ar.all([c for _, c in map_request_checks(vm, req, check_wrap=check_wrap)])


def unmap_request_ok(vm: Vm, req: Request, *, check_wrap: bool = True) -> Term:
    """``VaSpace.sm_unmap`` accepts the request."""
    return vm.ar.all([c for _, c in unmap_request_checks(vm, req, check_wrap=check_wrap)])
