"""Invariants of one VA space, checked on the live state.

Each raises :class:`~model.errors.InvariantViolation` named like the spec's
invariant, with the offending values.
"""

from __future__ import annotations

from model.errors import InvariantViolation
from model.gpuva import U64_MAX
from model.vaspace import VaSpace


def check_vaspace(vm: VaSpace) -> None:
    """``NoOverlapInv``, ``RangeInv`` and ``RegionInv`` of the spec."""
    prev = None
    for va in vm:
        if not (va.range > 0 and va.addr + va.range <= U64_MAX):
            raise InvariantViolation("RangeInv", f"{va} is empty or wraps")
        if not (vm.mm_start <= va.addr and va.end <= vm.mm_end):
            raise InvariantViolation("RangeInv", f"{va} is outside the VM")
        k = vm.kernel_node
        if k is not None and va.overlaps(k.addr, k.end):
            raise InvariantViolation("RangeInv", f"{va} touches the kernel node {k}")
        if prev is not None and prev.end > va.addr:
            raise InvariantViolation("NoOverlapInv", f"{prev} overlaps {va}")
        if vm.regions_enabled and vm.region_of(va.addr, va.end) is None:
            raise InvariantViolation("RegionInv", f"{va} is not inside one region")
        prev = va
    last = None
    for r in vm.regions:
        if last is not None and last.end > r.addr:
            raise InvariantViolation("RegionInv", f"regions {last} and {r} overlap")
        last = r
