"""Split/merge strategies: how a map request becomes an op list.

A profile is passed to :class:`~model.vaspace.VaSpace`; the core never tests
which profile it runs.  Both profiles share the vocabulary of seed 001:

*compatible*
    An existing mapping ``X`` is compatible with a request ``(ra, gem, roff)``
    iff ``X.gem`` is not ``None``, ``X.gem == gem`` and both have the same base:
    ``X.offset - X.addr == roff - ra``.  A NULL-GEM mapping is never compatible.

*pieces*
    For an overlapped ``X = [a, e)`` and a request ``[ra, re)``, the left piece
    is ``P' = [a, ra)`` at ``X.offset`` and the right piece is ``N' = [re, e)`` at
    ``X.offset + (re - a)``.

:class:`Upstream` (later drm_gpuvm) never merges: every overlapped mapping is
unmapped or split (``keep`` = compatible) and one ``Map`` of exactly the
request comes last.

:class:`Rfc2023` is seed 001's v2 algorithm, case by case (``X`` overlapped,
``a``/``e`` its edges, ``ra``/``re`` the request's; "stop" ends the walk)::

    case  edges            compatible                  not compatible         walk
    A1    a==ra, e==re     no ops at all, no Map       Unmap(X)               stop
    A2    a==ra, e<re      Unmap(X, keep)              Unmap(X)               continue
    A3    a==ra, e>re      no ops at all, no Map       Remap(X, -, N')        stop
    B1    a<ra,  e==re     no ops at all, no Map       Remap(X, P', -)        stop
    B2    a<ra,  e<re      Unmap(X, keep), ra:=a       Remap(X, P', -)        continue
    B3    a<ra,  e>re      no ops at all, no Map       Remap(X, P', N')       stop
    C1    a>ra,  e==re     Unmap(X, keep)              Unmap(X)               stop
    C2    a>ra,  e<re      Unmap(X, keep)              Unmap(X)               continue
    C3    a>ra,  e>re      Unmap(X, keep), re:=e       Remap(X, -, N')        stop

After the walk it may merge with an adjacent compatible neighbour: to the
left (the mapping ending exactly at ``ra``) only if there was no overlap or
the last overlap walked was the first one and a C case; to the right (the
mapping starting exactly at ``re``) only if there was no overlap or the last
overlap walked was an A2 or C2.  A merge never crosses a region boundary and
never involves a NULL GEM.  The ``Map`` comes last and covers the request
widened by every merged mapping, at the offset of the leftmost one.  These
merge conditions reproduce the seed's asymmetries (a request starting in a
gap and overlapping two mappings never merges left).
"""

from __future__ import annotations

from typing import Protocol

from model.gpuva import Va
from model.ops import Map, Op, Remap, Unmap


class VaView(Protocol):
    """What a profile may read of the VA space (nothing it may write)."""

    def overlapping(self, addr: int, end: int) -> list[Va]: ...

    def find_prev(self, start: int) -> Va | None: ...

    def find_next(self, end: int) -> Va | None: ...

    def same_region(self, addr: int, end: int) -> bool: ...


def compatible(va: Va, gem: str | None, addr: int, offset: int) -> bool:
    """Same non-NULL GEM and same base (``offset - addr``)."""
    return va.gem is not None and va.gem == gem and va.offset + addr == offset + va.addr


def left_piece(va: Va, ra: int) -> Map:
    """``P' = [va.addr, ra)`` at ``va.offset``."""
    return Map.of(va.piece(va.addr, ra))


def right_piece(va: Va, re: int) -> Map:
    """``N' = [re, va.end)`` at ``va.offset + (re - va.addr)``."""
    return Map.of(va.piece(re, va.end))


class Profile(Protocol):
    name: str

    def sm_map(self, vm: VaView, req: Map) -> list[Op]:
        """The op list that maps ``req`` into ``vm`` (already validated)."""
        ...


class Upstream:
    """No merging; ``keep`` = compatible; the request's ``Map`` always last."""

    name = "upstream"

    def sm_map(self, vm: VaView, req: Map) -> list[Op]:
        ra, re = req.addr, req.end
        ops: list[Op] = []
        for va in vm.overlapping(ra, re):
            keep = compatible(va, req.gem, req.addr, req.offset)
            prev = left_piece(va, ra) if va.addr < ra else None
            nxt = right_piece(va, re) if va.end > re else None
            if prev is None and nxt is None:
                ops.append(Unmap(va, keep))
            else:
                ops.append(Remap(Unmap(va, keep), prev, nxt))
        ops.append(req)
        return ops


class Rfc2023:
    """Seed 001 v2: no-op cases and merges with compatible neighbours."""

    name = "rfc2023"

    def sm_map(self, vm: VaView, req: Map) -> list[Op]:
        ra, re, gem, roff = req.addr, req.end, req.gem, req.offset
        ops: list[Op] = []
        overlaps = vm.overlapping(ra, re)
        left_merge = right_merge = True
        for i, va in enumerate(overlaps):
            a, e = va.addr, va.end
            compat = compatible(va, gem, ra, roff)
            first, last = i == 0, i == len(overlaps) - 1
            left_merge = right_merge = False
            if a == ra:
                if e == re:  # A1
                    if compat:
                        return []
                    ops.append(Unmap(va, False))
                elif e < re:  # A2
                    ops.append(Unmap(va, compat))
                    right_merge = last
                else:  # A3
                    if compat:
                        return []
                    ops.append(Remap(Unmap(va, False), None, right_piece(va, re)))
            elif a < ra:
                if e > re or e == re:  # B3, B1
                    if compat:
                        return []
                    nxt = right_piece(va, re) if e > re else None
                    ops.append(Remap(Unmap(va, False), left_piece(va, ra), nxt))
                elif compat:  # B2, merge into the request
                    ops.append(Unmap(va, True))
                    ra, roff = a, va.offset
                else:  # B2
                    ops.append(Remap(Unmap(va, False), left_piece(va, ra), None))
            else:
                left_merge = first
                if e <= re:  # C1, C2
                    ops.append(Unmap(va, compat))
                    right_merge = e < re and last
                elif compat:  # C3, merge into the request
                    ops.append(Unmap(va, True))
                    re = e
                else:  # C3
                    ops.append(Remap(Unmap(va, False), None, right_piece(va, re)))
        if left_merge:
            p = vm.find_prev(ra)
            if p is not None and compatible(p, gem, ra, roff) and vm.same_region(p.addr, re):
                ops.append(Unmap(p, True))
                ra, roff = p.addr, p.offset
        if right_merge:
            n = vm.find_next(re)
            if n is not None and compatible(n, gem, ra, roff) and vm.same_region(ra, n.end):
                ops.append(Unmap(n, True))
                re = n.end
        ops.append(Map(ra, re - ra, gem, roff, req.flags))
        return ops


PROFILES: dict[str, Profile] = {p.name: p for p in (Upstream(), Rfc2023())}


def profile_by_name(name: str) -> Profile:
    try:
        return PROFILES[name]
    except KeyError:
        raise ValueError(f"unknown profile {name!r} (known: {', '.join(PROFILES)})") from None
