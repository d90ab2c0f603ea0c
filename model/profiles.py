"""Split/merge strategies: how a map request becomes an op list.

A profile is passed to :class:`~model.vaspace.VaSpace`; the core never tests
which profile it runs.  Both profiles share the vocabulary of seed 001:

*compatible*
    An existing mapping ``X`` is compatible with a request ``(ra, gem, roff)``
    iff ``X.gem`` is not ``None``, ``X.gem == gem`` and both have the same base:
    ``X.offset - X.addr == roff - ra``, computed in u64 as the kernel computes
    it (so modulo 2^64).  A NULL-GEM mapping is never compatible.  Flags are
    not compared: ``keep`` only says the backing is contiguous.

*mergeable* (``rfc2023`` only)
    compatible, and with the request's flags.  Seed 001's merge and no-op
    tests compare no driver attributes (its review list, C13: a merge
    rewrites the old pages' attributes, and an identical-range map with new
    attributes is a silent no-op); later kernels compare them, and so does
    this profile.

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

The documented cases
--------------------

Seed 001's "Split and Merge" section draws sixteen cases; here they are with
what each profile does (``n`` and ``m`` are offsets)::

    1) Identical request: nothing to do (rfc2023); upstream replaces it with
       a keep.

             0     1
        old: |--a--|  a@n
        req: |--a--|  a@n
        new: |--a--|  a@n
        ops rfc2023:  no ops
        ops upstream: unmap a[0,1)@n keep; map a[0,1)@n

        Every diagram here is a test case (tests/test_split_merge_cases.py):
        the layout and the request are read from it, and each profile must
        give exactly the rows and the ops written for it.

    2) Same range and GEM, other offset: replace the mapping.

             0     1
        old: |--a--|  a@n
        req: |--a--|  a@m
        new: |--a--|  a@m
        ops: unmap a[0,1)@n; map a[0,1)@m

    3) Same range and offset, other GEM: replace the mapping.

             0     1
        old: |--a--|  a@n
        req: |--b--|  b@n
        new: |--b--|  b@n
        ops: unmap a[0,1)@n; map b[0,1)@n

    4) The old mapping is a left-aligned part of a compatible request: unmap
       it (keep) and map the request.

             0     1     2
        old: |--a--|        a@n
        req: |--a--------|  a@n
        new: |--a--------|  a@n
        ops: unmap a[0,1)@n keep; map a[0,2)@n

    5) The request is a left-aligned part of the old mapping, other GEM:
       split off the right piece, its offset moved along.

             0     1     2
        old: |--a--------|  a@n
        req: |--b--|        b@n
        new: |--b--|--a--|  b@n a@n+1
        ops: remap a[0,2)@n -> next a[1,2)@n+1; map b[0,1)@n

    6) The request is a compatible left-aligned part of the old mapping:
       nothing to do (rfc2023).

                      0     1     2
        old:          |--a--------|  a@n
        req:          |--a--|        a@n
        new rfc2023:  |--a--------|  a@n
        new upstream: |--a--|--a--|  a@n a@n+1
        ops rfc2023:  no ops
        ops upstream: remap a[0,2)@n keep -> next a[1,2)@n+1; map a[0,1)@n

    7) The request is a right-aligned part of the old mapping, other GEM:
       split off the left piece, offset unchanged.

             0     1     2
        old: |--a--------|  a@n
        req:       |--b--|  b@m
        new: |--a--|--b--|  a@n b@m
        ops: remap a[0,2)@n -> prev a[0,1)@n; map b[1,2)@m

    8) The request is a compatible right-aligned part of the old mapping:
       nothing to do (rfc2023).

                      0     1     2
        old:          |--a--------|  a@n
        req:                |--a--|  a@n+1
        new rfc2023:  |--a--------|  a@n
        new upstream: |--a--|--a--|  a@n a@n+1
        ops rfc2023:  no ops
        ops upstream: remap a[0,2)@n keep -> prev a[0,1)@n; map a[1,2)@n+1

    9) The request overlaps the old mapping's tail, other GEM: keep the left
       piece.

             0     1     2     3
        old: |--a--------|        a@n
        req:       |--b--------|  b@m
        new: |--a--|--b--------|  a@n b@m
        ops: remap a[0,2)@n -> prev a[0,1)@n; map b[1,3)@m

    10) The request overlaps the old mapping's tail compatibly: merge into one
       mapping (rfc2023).

                      0     1     2     3
        old:          |--a--------|        a@n
        req:                |--a--------|  a@n+1
        new rfc2023:  |--a--------------|  a@n
        new upstream: |--a--|--a--------|  a@n a@n+1
        ops rfc2023:  unmap a[0,2)@n keep; map a[0,3)@n
        ops upstream: remap a[0,2)@n keep -> prev a[0,1)@n; map a[1,3)@n+1

    11) The request is strictly inside the old mapping, other GEM: one remap
       with both pieces.

             0     1     2     3
        old: |--a--------------|  a@n
        req:       |--b--|        b@m
        new: |--a--|--b--|--a--|  a@n b@m a@n+2
        ops: remap a[0,3)@n -> prev a[0,1)@n, next a[2,3)@n+2; map b[1,2)@m

    12) The request is a compatible part strictly inside the old mapping:
       nothing to do (rfc2023).

                      0     1     2     3
        old:          |--a--------------|  a@n
        req:                |--a--|        a@n+1
        new rfc2023:  |--a--------------|  a@n
        new upstream: |--a--|--a--|--a--|  a@n a@n+1 a@n+2
        ops rfc2023:  no ops
        ops upstream: remap a[0,3)@n keep -> prev a[0,1)@n, next a[2,3)@n+2; map a[1,2)@n+1

        The seed draws the result row of this case as a second ``old:`` line; it is
        the result, and the test reads it as such.

    13) The old mapping is a right-aligned part of a compatible request: unmap
       it (keep).

             0     1     2
        old:       |--a--|  a@n+1
        req: |--a--------|  a@n
        new: |--a--------|  a@n
        ops: unmap a[1,2)@n+1 keep; map a[0,2)@n

    14) The old mapping is strictly inside a compatible request: unmap it
       (keep).

             0     1     2     3
        old:       |--a--|        a@n+1
        req: |--a--------------|  a@n
        new: |--a--------------|  a@n
        ops: unmap a[1,2)@n+1 keep; map a[0,3)@n

    15) The request overlaps the old mapping's head, other GEM: keep the right
       piece at offset n+1.

             0     1     2     3
        old:       |--a--------|  a@n
        req: |--b--------|        b@m
        new: |--b--------|--a--|  b@m a@n+1
        ops: remap a[1,3)@n -> next a[2,3)@n+1; map b[0,2)@m

        The seed's diagram gives the right piece ``bo_offset=n+2``.  That is wrong:
        the piece starts one unit into the old mapping, so its offset is n+1,
        which is what the algorithm computes and what this case asserts.

    16) The request fills the gap between two compatible mappings: merge all
       three (rfc2023).

                      0     1     2     3
        old:          |--a--|              a@n
        old':                     |--a--|  a@n+2
        req:                |--a--|        a@n+1
        new rfc2023:  |--a--------------|  a@n
        new upstream: |--a--|--a--|--a--|  a@n a@n+1 a@n+2
        ops rfc2023:  unmap a[0,1)@n keep; unmap a[2,3)@n+2 keep; map a[0,3)@n
        ops upstream: map a[1,2)@n+1
"""

from __future__ import annotations

from typing import Protocol

from model.gpuva import Va, u64
from model.ops import Map, Op, Remap, Unmap


class VaView(Protocol):
    """What a profile may read of the VA space (nothing it may write)."""

    def overlapping(self, addr: int, end: int) -> list[Va]: ...

    def find_prev(self, start: int) -> Va | None: ...

    def find_next(self, end: int) -> Va | None: ...

    def same_region(self, addr: int, end: int) -> bool: ...


def compatible(va: Va, gem: str | None, addr: int, offset: int) -> bool:
    """Same non-NULL GEM and same base (``offset - addr``, modulo 2^64)."""
    return va.gem is not None and va.gem == gem and u64(va.offset + addr) == u64(offset + va.addr)


def mergeable(va: Va, gem: str | None, addr: int, offset: int, flags: int) -> bool:
    """Compatible and with the same flags: what ``rfc2023`` may merge or leave alone."""
    return compatible(va, gem, addr, offset) and va.flags == flags


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
            compat = mergeable(va, gem, ra, roff, req.flags)
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
            if (p is not None and mergeable(p, gem, ra, roff, req.flags)
                    and vm.same_region(p.addr, re)):
                ops.append(Unmap(p, True))
                ra, roff = p.addr, p.offset
        if right_merge:
            n = vm.find_next(re)
            if (n is not None and mergeable(n, gem, ra, roff, req.flags)
                    and vm.same_region(ra, n.end)):
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
