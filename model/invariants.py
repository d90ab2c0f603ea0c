"""Invariants of one VA space, checked on the live state.

Each raises :class:`~model.errors.InvariantViolation` named like the spec's
invariant, with the offending values.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from model.errors import InvariantViolation
from model.gpuva import U64_MAX, Va, u64
from model.ops import Op, Remap, Unmap
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


Segment = tuple[int, int, str | None, int, int]


def _segments(vas: Iterable[Va]) -> list[Segment]:
    """The translation as maximal pieces ``(addr, end, gem, base, flags)``.

    ``base = offset - addr`` (mod 2^64); two touching mappings of one GEM
    with one base and the same flags translate like a single mapping, so
    they are joined.  Two layouts translate alike iff their segment lists
    are equal.
    """
    out: list[Segment] = []
    for va in sorted(vas):
        base = u64(va.offset - va.addr)
        last = out[-1] if out else None
        if (last is not None and last[1] == va.addr and last[2] == va.gem
                and last[3] == base and last[4] == va.flags):
            out[-1] = (last[0], va.end, va.gem, base, va.flags)
        else:
            out.append((va.addr, va.end, va.gem, base, va.flags))
    return out


def _override(before: Iterable[Va], addr: int, end: int, gem: str | None,
              offset: int | None, flags: int) -> list[Segment]:
    """``before`` with ``[addr, end)`` cleared, then mapped to ``gem@offset`` if given."""
    kept: list[Va] = []
    for va in before:
        if va.end <= addr or va.addr >= end:
            kept.append(va)
            continue
        if va.addr < addr:
            kept.append(va.piece(va.addr, addr))
        if va.end > end:
            kept.append(va.piece(end, va.end))
    if offset is not None:
        kept.append(Va(addr, end - addr, gem, offset, flags))
    return _segments(kept)


def check_step(before: Sequence[Va], action: str, args: Mapping[str, Any],
               ops: Sequence[Op], after: Sequence[Va], profile: str) -> None:
    """The contract of one accepted ``Map``/``Unmap`` request.

    ``TranslationInv``: afterwards every address of a map request translates
    to the request's GEM at its offset plus the distance from its start, every
    address of an unmap request is unmapped, and every other address
    translates exactly as before.  ``KeepInv``: an unmap or remap marked
    ``keep`` is of a mapping compatible with the request (same non-NULL GEM,
    same base); under the ``upstream`` profile, every compatible one is
    marked.
    """
    if action not in ("Map", "Unmap"):
        return
    addr, end = int(args["addr"]), int(args["addr"]) + int(args["range"])
    gem = args.get("gem") if action == "Map" else None
    offset = int(args["offset"]) if action == "Map" else None
    flags = int(args.get("flags", 0)) if action == "Map" else 0
    want = _override(before, addr, end, gem, offset, flags)
    got = _segments(after)
    if got != want:
        raise InvariantViolation(
            "TranslationInv", f"{action}({dict(args)}) leaves the translation {got}, "
            f"the request promises {want}")
    if offset is None:
        return
    for op in ops:
        unmap = op.unmap if isinstance(op, Remap) else op if isinstance(op, Unmap) else None
        if unmap is None:
            continue
        va = unmap.va
        compat = (va.gem is not None and va.gem == gem
                  and u64(va.offset + addr) == u64(offset + va.addr))
        if profile == "rfc2023":  # rfc2023's keep marks a merge: the flags must agree too
            compat = compat and va.flags == flags
        if unmap.keep and not compat:
            raise InvariantViolation("KeepInv", f"{op} is marked keep but is not compatible "
                                     f"with the request {dict(args)}")
        if profile == "upstream" and compat and not unmap.keep:
            raise InvariantViolation("KeepInv", f"{op} is compatible with the request "
                                     f"{dict(args)} but not marked keep")
