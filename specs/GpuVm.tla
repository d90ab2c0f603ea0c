------------------------------- MODULE GpuVm -------------------------------
(***************************************************************************)
(* The GPU VA space of one VM (drm_gpuva_manager / drm_gpuvm) as requests *)
(* to map, unmap and prefetch, each turned into an op list (Map, Unmap,    *)
(* Remap, Prefetch) that is then applied to the set of mappings.           *)
(*                                                                         *)
(* Modelled:                                                               *)
(*  - the VA space [MmStart, MmStart + MmRange) with a kernel-reserved     *)
(*    node; range validation (an empty range, a range outside the VM or    *)
(*    touching the kernel node is EINVAL and leaves the state unchanged);  *)
(*  - op-list generation of sm_map for both profiles of the model          *)
(*    ("upstream": no merging, keep = compatible, the Map last;            *)
(*    "rfc2023": seed 001 v2 with its no-op cases and neighbour merges),   *)
(*    sm_unmap and prefetch;                                               *)
(*  - applying an op list, and the page map a request promises (every page *)
(*    of a map request now translates to the request's GEM at its offset, *)
(*    every page of an unmap request is unmapped, nothing else changes).   *)
(*                                                                         *)
(* Not modelled: regions and sparse regions, flags, the GEM's list of      *)
(* mappings, drivers' page tables, locking and concurrency, allocation     *)
(* failure, and u64 wrap-around (addresses are mathematical integers; the  *)
(* Z3 specifications cover 64-bit arithmetic).                             *)
(*                                                                         *)
(* vas, lastOps and lastErr are the model's abstract state               *)
(* (checks.traces.state_of) in exactly its encoding, with NullGem for a    *)
(* NULL GEM and <<>> for an absent remap piece; pmap and lastAct are the   *)
(* spec's own.                                                             *)
(***************************************************************************)
EXTENDS Integers, Sequences, FiniteSets

CONSTANTS
    MmStart,        \* first address of the VA space
    MmRange,        \* size of the VA space
    KernelAddr,     \* first address of the kernel-reserved node
    KernelRange,    \* size of the kernel-reserved node (0: there is none)
    U64Max,         \* stands for 2^64 - 1: above every address and offset used
    Profile,        \* the split/merge profile: "upstream" or "rfc2023"
    Gems,           \* the GEM objects a Map request may name (may hold NullGem)
    NullGem,        \* the value standing for "no GEM object" (a NULL mapping)
    ReqAddrs,       \* the addresses a request may start at
    ReqRanges,      \* the ranges a request may have
    ReqOffsets(_, _) \* ReqOffsets(a, g): the offsets a Map of GEM g at a may carry

VARIABLES
    vas,        \* the mappings <<addr, range, gem, offset>>, ascending by addr
    lastOps,    \* the op list the last action produced (<<>> after an error)
    lastErr,    \* what the last action returned: "OK" or an errno name
    pmap,       \* page -> <<gem, offset>> for every page the requests mapped
    lastAct     \* auxiliary: the last action's name and arguments

vars == <<vas, lastOps, lastErr, pmap, lastAct>>

ASSUME Profile \in {"upstream", "rfc2023"}
ASSUME MmRange > 0 /\ KernelRange >= 0

-----------------------------------------------------------------------------
(***************************** Types ***************************************)

MmEnd == MmStart + MmRange
Pages == MmStart .. MmEnd - 1
Errnos == {"OK", "EINVAL", "EEXIST", "ENOENT", "EBUSY"}
OpKinds == {"map", "unmap", "remap", "prefetch"}

\* A mapping is a tuple <<addr, range, gem, offset>>.
Addr(v) == v[1]
Size(v) == v[2]
End(v) == v[1] + v[2]
Gem(v) == v[3]
Off(v) == v[4]

IsVa(v) == v \in Nat \X (Nat \ {0}) \X (Gems \cup {NullGem}) \X Nat

\* An absent remap piece (prev or next is NULL).
NoPiece == <<>>

\* The ops, with the fields of model/ops.py to_json().
MapOp(a, r, g, o) == [op |-> "map", addr |-> a, range |-> r, gem |-> g, offset |-> o]
UnmapOp(v, keep) == [op |-> "unmap", va |-> v, keep |-> keep]
RemapOp(v, keep, p, n) == [op |-> "remap", va |-> v, keep |-> keep, prev |-> p, next |-> n]
PrefetchOp(v) == [op |-> "prefetch", va |-> v]

Overlaps(v, a, e) == Addr(v) < e /\ a < End(v)

\* The mappings meeting [a, e), ascending (vs is ascending).
Overlapping(vs, a, e) == SelectSeq(vs, LAMBDA v : Overlaps(v, a, e))

\* The (gem, offset) pairs page p translates to: one pair, or none.
Translations(vs, p) ==
    {<<Gem(vs[k]), Off(vs[k]) + (p - Addr(vs[k]))>> :
        k \in {j \in DOMAIN vs : Addr(vs[j]) <= p /\ p < End(vs[j])}}

-----------------------------------------------------------------------------
(************************ Validation and pieces ****************************)

\* The range check of every request (model: VaSpace.check_range).
ValidRange(a, r) ==
    /\ r > 0
    /\ MmStart <= a /\ a + r <= MmEnd
    /\ ~(KernelRange > 0 /\ a < KernelAddr + KernelRange /\ KernelAddr < a + r)

\* A Map request also needs an offset whose end stays a u64.
ValidMap(a, r, o) == ValidRange(a, r) /\ 0 <= o /\ o + r <= U64Max

\* Same non-NULL GEM and same base (offset - addr).
Compatible(v, g, a, o) == Gem(v) # NullGem /\ Gem(v) = g /\ Off(v) + a = o + Addr(v)

\* The left piece [addr, ra) of v, and its right piece [re, end).
LeftPiece(v, ra) == <<Addr(v), ra - Addr(v), Gem(v), Off(v)>>
RightPiece(v, re) == <<re, End(v) - re, Gem(v), Off(v) + (re - Addr(v))>>

\* The right piece sm_map leaves of v, for a request now at ra with offset ro.
MapNextPiece(v, re, ra, ro) == RightPiece(v, re)

\* The mapping ending exactly at s, and the one starting exactly at e.
FindPrev(vs, s) ==
    IF s <= MmStart \/ s > MmEnd THEN NoPiece
    ELSE LET m == SelectSeq(vs, LAMBDA v : End(v) = s) IN IF m = <<>> THEN NoPiece ELSE m[1]
FindNext(vs, e) ==
    IF e < MmStart \/ e >= MmEnd THEN NoPiece
    ELSE LET m == SelectSeq(vs, LAMBDA v : Addr(v) = e) IN IF m = <<>> THEN NoPiece ELSE m[1]

-----------------------------------------------------------------------------
(****************************** Op lists ***********************************)

\* upstream: each overlapped mapping is unmapped (inside the request) or
\* remapped (sticking out), keep = compatible; the request's Map is last.
UpstreamOp(v, a, e, g, o) ==
    LET keep == Compatible(v, g, a, o) IN
    IF a <= Addr(v) /\ End(v) <= e THEN UnmapOp(v, keep)
    ELSE RemapOp(v, keep,
                 IF Addr(v) < a THEN LeftPiece(v, a) ELSE NoPiece,
                 IF End(v) > e THEN MapNextPiece(v, e, a, o) ELSE NoPiece)

UpstreamOps(vs, a, r, g, o) ==
    LET ov == Overlapping(vs, a, a + r) IN
    [k \in 1 .. Len(ov) |-> UpstreamOp(ov[k], a, a + r, g, o)] \o <<MapOp(a, r, g, o)>>

\* rfc2023: the walk of seed 001 v2 over the overlapped mappings, case by
\* case (see model/profiles.py).  The walk state: the request [ra, re) at
\* offset ro (widened by merges), the ops so far, whether a left (lm) or
\* right (rm) neighbour merge is still allowed, and noop (a compatible
\* mapping already covers the request: no ops at all).
RfcAdd(s, op) == [s EXCEPT !.ops = Append(@, op)]

RfcStep(ov, k, g, st) ==
    LET v == ov[k]
        a == Addr(v)
        e == End(v)
        c == Compatible(v, g, st.ra, st.ro)
        last == k = Len(ov)
        s0 == [st EXCEPT !.lm = FALSE, !.rm = FALSE]
        sc == [st EXCEPT !.lm = (k = 1), !.rm = FALSE]
        noop == [s0 EXCEPT !.noop = TRUE]
    IN CASE a = st.ra /\ e = st.re ->                                 \* A1
              IF c THEN noop ELSE RfcAdd(s0, UnmapOp(v, FALSE))
         [] a = st.ra /\ e < st.re ->                                 \* A2
              [RfcAdd(s0, UnmapOp(v, c)) EXCEPT !.rm = last]
         [] a = st.ra ->                                              \* A3
              IF c THEN noop
              ELSE RfcAdd(s0, RemapOp(v, FALSE, NoPiece, MapNextPiece(v, st.re, st.ra, st.ro)))
         [] a < st.ra /\ e >= st.re ->                                \* B1, B3
              IF c THEN noop
              ELSE RfcAdd(s0, RemapOp(v, FALSE, LeftPiece(v, st.ra),
                          IF e > st.re THEN MapNextPiece(v, st.re, st.ra, st.ro) ELSE NoPiece))
         [] a < st.ra /\ c ->                                         \* B2, merged
              [RfcAdd(s0, UnmapOp(v, TRUE)) EXCEPT !.ra = a, !.ro = Off(v)]
         [] a < st.ra ->                                              \* B2
              RfcAdd(s0, RemapOp(v, FALSE, LeftPiece(v, st.ra), NoPiece))
         [] e <= st.re ->                                             \* C1, C2
              [RfcAdd(sc, UnmapOp(v, c)) EXCEPT !.rm = (e < st.re /\ last)]
         [] c ->                                                      \* C3, merged
              [RfcAdd(sc, UnmapOp(v, TRUE)) EXCEPT !.re = e]
         [] OTHER ->                                                  \* C3
              RfcAdd(sc, RemapOp(v, FALSE, NoPiece, MapNextPiece(v, st.re, st.ra, st.ro)))

RECURSIVE RfcWalk(_, _, _, _)
RfcWalk(ov, k, g, st) ==
    IF k > Len(ov) \/ st.noop THEN st ELSE RfcWalk(ov, k + 1, g, RfcStep(ov, k, g, st))

Rfc2023Ops(vs, a, r, g, o) ==
    LET st == RfcWalk(Overlapping(vs, a, a + r), 1, g,
                      [ra |-> a, re |-> a + r, ro |-> o, ops |-> <<>>,
                       lm |-> TRUE, rm |-> TRUE, noop |-> FALSE])
        p == FindPrev(vs, st.ra)
        s1 == IF st.lm /\ p # NoPiece /\ Compatible(p, g, st.ra, st.ro)
              THEN [RfcAdd(st, UnmapOp(p, TRUE)) EXCEPT !.ra = Addr(p), !.ro = Off(p)]
              ELSE st
        n == FindNext(vs, s1.re)
        s2 == IF s1.rm /\ n # NoPiece /\ Compatible(n, g, s1.ra, s1.ro)
              THEN [RfcAdd(s1, UnmapOp(n, TRUE)) EXCEPT !.re = End(n)]
              ELSE s1
    IN IF st.noop THEN <<>> ELSE Append(s2.ops, MapOp(s2.ra, s2.re - s2.ra, g, s2.ro))

SmMapOps(vs, a, r, g, o) ==
    IF Profile = "upstream" THEN UpstreamOps(vs, a, r, g, o) ELSE Rfc2023Ops(vs, a, r, g, o)

\* sm_unmap: a mapping inside the range is unmapped; one sticking out is
\* remapped, with NoPiece on each side that does not stick out.
UnmapRemap(v, a, e) ==
    RemapOp(v, FALSE, IF Addr(v) < a THEN LeftPiece(v, a) ELSE NoPiece,
                      IF End(v) > e THEN RightPiece(v, e) ELSE NoPiece)

SmUnmapOps(vs, a, r) ==
    LET ov == Overlapping(vs, a, a + r) IN
    [k \in 1 .. Len(ov) |->
        IF Addr(ov[k]) < a \/ End(ov[k]) > a + r THEN UnmapRemap(ov[k], a, a + r)
        ELSE UnmapOp(ov[k], FALSE)]

PrefetchOps(vs, a, r) ==
    LET ov == Overlapping(vs, a, a + r) IN [k \in 1 .. Len(ov) |-> PrefetchOp(ov[k])]

-----------------------------------------------------------------------------
(**************************** Applying ops *********************************)

\* Insert v keeping vs ascending by (addr, range); remove exactly v.
Insert(vs, v) ==
    LET n == Len(SelectSeq(vs, LAMBDA w : Addr(w) < Addr(v) \/
                                         (Addr(w) = Addr(v) /\ Size(w) <= Size(v))))
    IN SubSeq(vs, 1, n) \o <<v>> \o SubSeq(vs, n + 1, Len(vs))
Remove(vs, v) == SelectSeq(vs, LAMBDA w : w # v)
InsertPiece(vs, p) == IF p = NoPiece THEN vs ELSE Insert(vs, p)

ApplyOp(vs, op) ==
    CASE op.op = "map" -> Insert(vs, <<op.addr, op.range, op.gem, op.offset>>)
      [] op.op = "unmap" -> Remove(vs, op.va)
      [] op.op = "remap" -> InsertPiece(InsertPiece(Remove(vs, op.va), op.prev), op.next)
      [] OTHER -> vs

RECURSIVE ApplyFrom(_, _, _)
ApplyFrom(vs, ops, k) == IF k > Len(ops) THEN vs ELSE ApplyFrom(ApplyOp(vs, ops[k]), ops, k + 1)

\* The mappings after executing ops in order.
ApplyOps(vs, ops) == ApplyFrom(vs, ops, 1)

\* The page map a request promises: override [a, a+r) on map, clear it on unmap.
MapPages(pm, a, r, g, o) ==
    [p \in DOMAIN pm \cup (a .. a + r - 1) |->
        IF a <= p /\ p < a + r THEN <<g, o + (p - a)>> ELSE pm[p]]
UnmapPages(pm, a, r) == [p \in DOMAIN pm \ (a .. a + r - 1) |-> pm[p]]

-----------------------------------------------------------------------------
(******************************** Init *************************************)

Init ==
    /\ vas = <<>>
    /\ lastOps = <<>>
    /\ lastErr = "OK"
    /\ pmap = [p \in {} |-> <<>>]
    /\ lastAct = [name |-> "Init", args |-> <<>>]

-----------------------------------------------------------------------------
(******************************* Actions ***********************************)

\* A rejected request: EINVAL, no ops, nothing changes.
Reject == /\ lastOps' = <<>> /\ lastErr' = "EINVAL" /\ UNCHANGED <<vas, pmap>>

Map(a, r, g, o) ==
    /\ IF ValidMap(a, r, o)
       THEN LET ops == SmMapOps(vas, a, r, g, o) IN
            /\ vas' = ApplyOps(vas, ops)
            /\ lastOps' = ops
            /\ lastErr' = "OK"
            /\ pmap' = MapPages(pmap, a, r, g, o)
       ELSE Reject
    /\ lastAct' = [name |-> "Map", args |-> [addr |-> a, range |-> r, gem |-> g, offset |-> o]]

Unmap(a, r) ==
    /\ IF ValidRange(a, r)
       THEN LET ops == SmUnmapOps(vas, a, r) IN
            /\ vas' = ApplyOps(vas, ops)
            /\ lastOps' = ops
            /\ lastErr' = "OK"
            /\ pmap' = UnmapPages(pmap, a, r)
       ELSE Reject
    /\ lastAct' = [name |-> "Unmap", args |-> [addr |-> a, range |-> r]]

Prefetch(a, r) ==
    /\ IF ValidRange(a, r)
       THEN /\ lastOps' = PrefetchOps(vas, a, r)
            /\ lastErr' = "OK"
            /\ UNCHANGED <<vas, pmap>>
       ELSE Reject
    /\ lastAct' = [name |-> "Prefetch", args |-> [addr |-> a, range |-> r]]

-----------------------------------------------------------------------------
(******************************** Next *************************************)

Next ==
    \/ \E a \in ReqAddrs, r \in ReqRanges, g \in Gems : \E o \in ReqOffsets(a, g) : Map(a, r, g, o)
    \/ \E a \in ReqAddrs, r \in ReqRanges : Unmap(a, r)
    \/ \E a \in ReqAddrs, r \in ReqRanges : Prefetch(a, r)

Spec == Init /\ [][Next]_vars

-----------------------------------------------------------------------------
(***************************** Invariants **********************************)

\* Every variable holds what its comment says.
TypeOK ==
    /\ \A k \in DOMAIN vas : IsVa(vas[k])
    /\ \A k \in DOMAIN lastOps : lastOps[k].op \in OpKinds
    /\ lastErr \in Errnos
    /\ DOMAIN pmap \subseteq Pages

\* No two mappings share an address, and vas is strictly ascending.
NoOverlapInv ==
    \A j, k \in DOMAIN vas : j < k => End(vas[j]) <= Addr(vas[k])

\* Every mapping is a valid range: non-empty, inside the VM, off the kernel node.
RangeInv ==
    \A k \in DOMAIN vas : ValidRange(Addr(vas[k]), Size(vas[k]))

\* The mappings refine the page map: every page translates through the
\* mappings exactly as the requests so far say it should (one mapping at the
\* promised GEM and offset, or no mapping at all).
TranslationInv ==
    \A p \in Pages :
        Translations(vas, p) = IF p \in DOMAIN pmap THEN {pmap[p]} ELSE {}

\* The op-list bound: any number of unmaps, at most two remaps, at most one
\* map and it is last; a remap has a piece on at least one side and no
\* piece is empty.
OpBoundInv ==
    LET remaps == {k \in DOMAIN lastOps : lastOps[k].op = "remap"}
        maps == {k \in DOMAIN lastOps : lastOps[k].op = "map"}
    IN /\ Cardinality(remaps) <= 2
       /\ Cardinality(maps) <= 1
       /\ \A k \in maps : k = Len(lastOps)
       /\ \A k \in remaps :
            /\ lastOps[k].prev # NoPiece \/ lastOps[k].next # NoPiece
            /\ lastOps[k].prev # NoPiece => Size(lastOps[k].prev) > 0
            /\ lastOps[k].next # NoPiece => Size(lastOps[k].next) > 0

\* keep is only set on a mapping compatible with the op list's Map (the
\* same non-NULL GEM at the same base, written out here rather than through
\* Compatible, which a failure config replaces), and an unmap with keep lies
\* inside that Map: a driver may leave its page-table entries in place.
KeepInv ==
    \A k \in DOMAIN lastOps :
        lastOps[k].op \in {"unmap", "remap"} /\ lastOps[k].keep =>
            LET m == lastOps[Len(lastOps)]
                v == lastOps[k].va
            IN /\ m.op = "map"
               /\ Gem(v) # NullGem /\ Gem(v) = m.gem /\ Off(v) - Addr(v) = m.offset - m.addr
               /\ lastOps[k].op = "unmap" => m.addr <= Addr(v) /\ End(v) <= m.addr + m.range

=============================================================================
