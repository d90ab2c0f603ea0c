------------------------------- MODULE GpuVm -------------------------------
(***************************************************************************)
(* The GPU VA space of one VM (drm_gpuva_manager / drm_gpuvm) as requests  *)
(* to map, unmap and prefetch, and to allocate and free VA regions.  A     *)
(* map or unmap request is turned into an op list (Map, Unmap, Remap) that *)
(* is then applied to the mappings; a prefetch gives one Prefetch op per   *)
(* node it meets.                                                          *)
(*                                                                         *)
(* Modelled:                                                               *)
(*  - the VA space [MmStart, MmStart + MmRange) with a kernel-reserved     *)
(*    node anywhere in it; u64 arithmetic with a U64Max that may be small: *)
(*    a request whose addr + range passes U64Max is rejected, offsets of   *)
(*    split pieces and the "same base" test wrap modulo U64Max + 1, a      *)
(*    prefetch's end wraps;                                                *)
(*  - range validation (empty, wrapping, outside the VM, touching the      *)
(*    kernel node, and for a map with regions on: not inside one region,   *)
(*    all EINVAL, leaving the state unchanged);                            *)
(*  - seed 001 v2 regions (RegionsOn): allocate (EINVAL, EEXIST) and free  *)
(*    (EINVAL, ENOENT, EBUSY), sparse or not;                              *)
(*  - driver flags on every mapping: a split piece keeps them, a map       *)
(*    request sets them;                                                   *)
(*  - op-list generation of sm_map for both profiles of the model          *)
(*    ("upstream": no merging, keep = compatible, flags not compared, the  *)
(*    Map is the request and last; "rfc2023": seed 001 v2 with its no-op   *)
(*    cases and neighbour merges, which also require equal flags and never *)
(*    cross a region boundary), sm_unmap and prefetch;                     *)
(*  - applying an op list, and the page map the requests promise.          *)
(*                                                                         *)
(* Not modelled: the GEM's list of mappings, the eviction flag, drivers'   *)
(* page tables and what a sparse region reads as, locking and concurrency, *)
(* allocation failure, and the op-generation callbacks (only the list      *)
(* form is modelled).  Addresses are integers up to U64Max and are not     *)
(* themselves wrapped: every accepted request ends at or below U64Max.     *)
(*                                                                         *)
(* Two layers.  The op lists (sections "Validation and pieces" to          *)
(* "Applying ops") are the executable algorithm.  The invariants and step  *)
(* properties at the end are written again from the seed's prose -- what   *)
(* a request promises, what keep means, when the rfc2023 profile does      *)
(* nothing or merges -- with their own arithmetic, so that replacing one   *)
(* operator of the algorithm (MCGpuVm.tla's failure configs) cannot also   *)
(* change what is checked.                                                 *)
(*                                                                         *)
(* vas, regions, lastOps and lastErr are the model's abstract state        *)
(* (Observed) in exactly its encoding, with NullGem for a NULL GEM and     *)
(* <<>> for an absent remap piece; pmap and lastAct are the spec's own.    *)
(***************************************************************************)
EXTENDS Integers, Sequences, FiniteSets

CONSTANTS
    MmStart,        \* first address of the VA space
    MmRange,        \* size of the VA space
    KernelAddr,     \* first address of the kernel-reserved node
    KernelRange,    \* size of the kernel-reserved node (0: there is none)
    U64Max,         \* stands for 2^64 - 1: the largest address, offset or flags value
    Profile,        \* the split/merge profile: "upstream" or "rfc2023"
    RegionsOn,      \* whether the VM has regions (seed 001 v2's REGIONS flag)
    Gems,           \* the GEM objects a Map request may name (may hold NullGem)
    NullGem,        \* the value standing for "no GEM object" (a NULL mapping)
    ReqAddrs,       \* the addresses a Map, Unmap or Prefetch request may start at
    ReqRanges,      \* the ranges such a request may have
    ReqOffsets(_, _), \* ReqOffsets(a, g): the offsets a Map of GEM g at a may carry
    ReqFlags,       \* the flags a Map request may carry
    RegionAddrs,    \* the addresses a RegionAlloc or RegionFree may start at
    RegionRanges    \* the ranges such a region request may have

VARIABLES
    vas,        \* the mappings <<addr, range, gem, offset, flags>>, ascending by addr
    regions,    \* the regions <<addr, range, sparse>>, ascending (<<>> if RegionsOn is FALSE)
    lastOps,    \* the op list the last action produced (<<>> after an error)
    lastErr,    \* what the last action returned: "OK" or an errno name
    pmap,       \* page -> <<gem, offset, flags>> for every page the requests mapped
    lastAct     \* auxiliary: the last action's name and arguments

vars == <<vas, regions, lastOps, lastErr, pmap, lastAct>>

ASSUME Profile \in {"upstream", "rfc2023"}
ASSUME RegionsOn \in BOOLEAN
ASSUME U64Max \in Nat \ {0}
ASSUME MmStart \in Nat /\ MmRange \in Nat \ {0} /\ MmStart + MmRange <= U64Max
ASSUME KernelRange \in Nat /\ KernelAddr \in Nat
ASSUME KernelRange > 0 => MmStart <= KernelAddr /\ KernelAddr + KernelRange <= MmStart + MmRange
ASSUME \A f \in ReqFlags : 0 <= f /\ f <= U64Max
ASSUME \A a \in ReqAddrs, g \in Gems : \A o \in ReqOffsets(a, g) : 0 <= o /\ o <= U64Max

-----------------------------------------------------------------------------
(***************************** Types ***************************************)

MmEnd == MmStart + MmRange
Pages == MmStart .. MmEnd - 1
Errnos == {"OK", "EINVAL", "EEXIST", "ENOENT", "EBUSY"}
ActNames == {"Init", "Map", "Unmap", "Prefetch", "RegionAlloc", "RegionFree"}

\* A mapping is a tuple <<addr, range, gem, offset, flags>>; a region is
\* <<addr, range, sparse>> (Addr, Size and End serve both).
Addr(v) == v[1]
Size(v) == v[2]
End(v) == v[1] + v[2]
Gem(v) == v[3]
Off(v) == v[4]
Flg(v) == v[5]

IsU64(x) == x \in Int /\ 0 <= x /\ x <= U64Max
IsVa(v) ==
    /\ DOMAIN v = 1 .. 5
    /\ IsU64(v[1]) /\ IsU64(v[2]) /\ v[2] > 0
    /\ v[3] \in Gems \cup {NullGem}
    /\ IsU64(v[4]) /\ IsU64(v[5])
IsRegion(x) == DOMAIN x = 1 .. 3 /\ IsU64(x[1]) /\ IsU64(x[2]) /\ x[2] > 0 /\ x[3] \in BOOLEAN

\* An absent remap piece (prev or next is NULL).
NoPiece == <<>>

\* The kernel-reserved node as the VA space's lookups (and a prefetch) see it.
KernelNode == <<KernelAddr, KernelRange, NullGem, 0, 0>>

\* The ops, with the fields of model/ops.py to_json().
MapOp(a, r, g, o, f) ==
    [op |-> "map", addr |-> a, range |-> r, gem |-> g, offset |-> o, flags |-> f]
UnmapOp(v, keep) == [op |-> "unmap", va |-> v, keep |-> keep]
RemapOp(v, keep, p, n) == [op |-> "remap", va |-> v, keep |-> keep, prev |-> p, next |-> n]
PrefetchOp(v) == [op |-> "prefetch", va |-> v]

IsOp(x) ==
    \/ /\ x.op = "map"
       /\ IsVa(<<x.addr, x.range, x.gem, x.offset, x.flags>>)
    \/ x.op = "unmap" /\ IsVa(x.va) /\ x.keep \in BOOLEAN
    \/ /\ x.op = "remap" /\ IsVa(x.va) /\ x.keep \in BOOLEAN
       /\ x.prev = NoPiece \/ IsVa(x.prev)
       /\ x.next = NoPiece \/ IsVa(x.next)
    \/ x.op = "prefetch" /\ IsVa(x.va)

-----------------------------------------------------------------------------
(************************ Validation and pieces ****************************)
(* The algorithm's own operators.  The properties at the end never use     *)
(* them: MCGpuVm.tla's failure configs replace some of them.               *)

\* u64 arithmetic as the algorithm computes it.
U64(x) == x % (U64Max + 1)

Overlaps(v, a, e) == Addr(v) < e /\ a < End(v)

\* The mappings meeting [a, e), ascending (vs is ascending).
Overlapping(vs, a, e) == SelectSeq(vs, LAMBDA v : Overlaps(v, a, e))

\* The range check of every Map, Unmap and RegionAlloc (model: check_range).
ValidRange(a, r) ==
    /\ r > 0
    /\ a + r <= U64Max
    /\ MmStart <= a /\ a + r <= MmEnd
    /\ ~(KernelRange > 0 /\ a < KernelAddr + KernelRange /\ KernelAddr < a + r)

\* One region of rs encloses [a, e).
InRegion(rs, a, e) == \E k \in DOMAIN rs : Addr(rs[k]) <= a /\ e <= End(rs[k])

\* A Map request also needs, with regions, one region enclosing it.
ValidMap(a, r) == ValidRange(a, r) /\ (RegionsOn => InRegion(regions, a, a + r))

\* The region test of rfc2023's neighbour merges.
MergeInRegion(rs, a, e) == InRegion(rs, a, e)

\* Same non-NULL GEM and same base (offset - addr, in u64).
Compatible(v, g, a, o) == Gem(v) # NullGem /\ Gem(v) = g /\ U64(Off(v) + a) = U64(o + Addr(v))

\* upstream's keep: compatible; flags are not compared.
UpstreamKeep(v, g, a, o, f) == Compatible(v, g, a, o)

\* What rfc2023 may leave alone or merge: compatible and with the same flags.
Mergeable(v, g, a, o, f) == Compatible(v, g, a, o) /\ Flg(v) = f

\* The offset of the piece of v that starts at s.
PieceOff(v, s) == U64(Off(v) + (s - Addr(v)))

\* The left piece [addr, ra) of v, and its right piece [re, end).
LeftPiece(v, ra) == <<Addr(v), ra - Addr(v), Gem(v), Off(v), Flg(v)>>
RightPiece(v, re) == <<re, End(v) - re, Gem(v), PieceOff(v, re), Flg(v)>>

\* The right piece sm_map leaves of v, for a request now at ra with offset ro.
MapNextPiece(v, re, ra, ro) == RightPiece(v, re)

\* The same, when the request covers v's head (it starts before v: the
\* seed's case 15).
HeadCutPiece(v, re, ra, ro) == MapNextPiece(v, re, ra, ro)

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
\* remapped (sticking out); the request's Map is last.
UpstreamOp(v, a, e, g, o, f) ==
    LET keep == UpstreamKeep(v, g, a, o, f) IN
    IF a <= Addr(v) /\ End(v) <= e THEN UnmapOp(v, keep)
    ELSE RemapOp(v, keep,
                 IF Addr(v) < a THEN LeftPiece(v, a) ELSE NoPiece,
                 IF End(v) <= e THEN NoPiece
                 ELSE IF Addr(v) > a THEN HeadCutPiece(v, e, a, o)
                 ELSE MapNextPiece(v, e, a, o))

UpstreamOps(vs, a, r, g, o, f) ==
    LET ov == Overlapping(vs, a, a + r) IN
    [k \in 1 .. Len(ov) |-> UpstreamOp(ov[k], a, a + r, g, o, f)] \o <<MapOp(a, r, g, o, f)>>

\* rfc2023: the walk of seed 001 v2 over the overlapped mappings, case by
\* case (cases A1-C3 of the notes' table, §2.2).  The walk state: the
\* request [ra, re) at offset ro (widened by merges), the ops so far,
\* whether a left (lm) or right (rm) neighbour merge is still allowed, and
\* noop (a mergeable mapping already covers the request: no ops at all).
RfcAdd(s, op) == [s EXCEPT !.ops = Append(@, op)]

\* A mergeable mapping covers the request: nothing to do.  op is what the
\* walk would emit for a mapping that is not mergeable.
RfcCovered(s, op) == [s EXCEPT !.noop = TRUE]

\* Whether the walk left the merge with the neighbour on side "prev" or
\* "next" allowed.
MergeAllowed(st, side) == IF side = "prev" THEN st.lm ELSE st.rm

RfcStep(ov, k, g, f, st) ==
    LET v == ov[k]
        a == Addr(v)
        e == End(v)
        c == Mergeable(v, g, st.ra, st.ro, f)
        last == k = Len(ov)
        s0 == [st EXCEPT !.lm = FALSE, !.rm = FALSE]
        sc == [st EXCEPT !.lm = (k = 1), !.rm = FALSE]
    IN CASE a = st.ra /\ e = st.re ->                                 \* A1
              IF c THEN RfcCovered(s0, UnmapOp(v, FALSE))
              ELSE RfcAdd(s0, UnmapOp(v, FALSE))
         [] a = st.ra /\ e < st.re ->                                 \* A2
              [RfcAdd(s0, UnmapOp(v, c)) EXCEPT !.rm = last]
         [] a = st.ra ->                                              \* A3
              LET op == RemapOp(v, FALSE, NoPiece, MapNextPiece(v, st.re, st.ra, st.ro))
              IN IF c THEN RfcCovered(s0, op) ELSE RfcAdd(s0, op)
         [] a < st.ra /\ e >= st.re ->                                \* B1, B3
              LET op == RemapOp(v, FALSE, LeftPiece(v, st.ra),
                          IF e > st.re THEN MapNextPiece(v, st.re, st.ra, st.ro) ELSE NoPiece)
              IN IF c THEN RfcCovered(s0, op) ELSE RfcAdd(s0, op)
         [] a < st.ra /\ c ->                                         \* B2, merged
              [RfcAdd(s0, UnmapOp(v, TRUE)) EXCEPT !.ra = a, !.ro = Off(v)]
         [] a < st.ra ->                                              \* B2
              RfcAdd(s0, RemapOp(v, FALSE, LeftPiece(v, st.ra), NoPiece))
         [] e <= st.re ->                                             \* C1, C2
              [RfcAdd(sc, UnmapOp(v, c)) EXCEPT !.rm = (e < st.re /\ last)]
         [] c ->                                                      \* C3, merged
              [RfcAdd(sc, UnmapOp(v, TRUE)) EXCEPT !.re = e]
         [] OTHER ->                                                  \* C3
              RfcAdd(sc, RemapOp(v, FALSE, NoPiece, HeadCutPiece(v, st.re, st.ra, st.ro)))

RECURSIVE RfcWalk(_, _, _, _, _)
RfcWalk(ov, k, g, f, st) ==
    IF k > Len(ov) \/ st.noop THEN st ELSE RfcWalk(ov, k + 1, g, f, RfcStep(ov, k, g, f, st))

Rfc2023Ops(vs, rs, a, r, g, o, f) ==
    LET st == RfcWalk(Overlapping(vs, a, a + r), 1, g, f,
                      [ra |-> a, re |-> a + r, ro |-> o, ops |-> <<>>,
                       lm |-> TRUE, rm |-> TRUE, noop |-> FALSE])
        p == FindPrev(vs, st.ra)
        s1 == IF /\ MergeAllowed(st, "prev") /\ p # NoPiece
                 /\ Mergeable(p, g, st.ra, st.ro, f)
                 /\ (RegionsOn => MergeInRegion(rs, Addr(p), st.re))
              THEN [RfcAdd(st, UnmapOp(p, TRUE)) EXCEPT !.ra = Addr(p), !.ro = Off(p)]
              ELSE st
        n == FindNext(vs, s1.re)
        s2 == IF /\ MergeAllowed(s1, "next") /\ n # NoPiece
                 /\ Mergeable(n, g, s1.ra, s1.ro, f)
                 /\ (RegionsOn => MergeInRegion(rs, s1.ra, End(n)))
              THEN [RfcAdd(s1, UnmapOp(n, TRUE)) EXCEPT !.re = End(n)]
              ELSE s1
    IN IF st.noop THEN <<>> ELSE Append(s2.ops, MapOp(s2.ra, s2.re - s2.ra, g, s2.ro, f))

SmMapOps(vs, rs, a, r, g, o, f) ==
    IF Profile = "upstream" THEN UpstreamOps(vs, a, r, g, o, f)
    ELSE Rfc2023Ops(vs, rs, a, r, g, o, f)

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

-----------------------------------------------------------------------------
(**************************** Applying ops *********************************)

\* Insert v keeping vs ascending by (addr, range); remove exactly v.
Insert(vs, v) ==
    LET n == Len(SelectSeq(vs, LAMBDA w : Addr(w) < Addr(v) \/
                                         (Addr(w) = Addr(v) /\ Size(w) <= Size(v))))
    IN SubSeq(vs, 1, n) \o <<v>> \o SubSeq(vs, n + 1, Len(vs))
Remove(vs, v) == SelectSeq(vs, LAMBDA w : w # v)
InsertPiece(vs, p) == IF p = NoPiece THEN vs ELSE Insert(vs, p)

\* The nodes of the VA space a walk over it finds: the mappings and the
\* kernel node.
PrefetchNodes(vs) == IF KernelRange > 0 THEN Insert(vs, KernelNode) ELSE vs

\* prefetch: one op per node meeting [a, (a + r) mod 2^64); nothing if that
\* end is not above a.
PrefetchOps(vs, a, r) ==
    LET e == U64(a + r)
        ov == Overlapping(PrefetchNodes(vs), a, e)
    IN IF e <= a THEN <<>> ELSE [k \in 1 .. Len(ov) |-> PrefetchOp(ov[k])]

ApplyOp(vs, op) ==
    CASE op.op = "map" -> Insert(vs, <<op.addr, op.range, op.gem, op.offset, op.flags>>)
      [] op.op = "unmap" -> Remove(vs, op.va)
      [] op.op = "remap" -> InsertPiece(InsertPiece(Remove(vs, op.va), op.prev), op.next)
      [] OTHER -> vs

RECURSIVE ApplyFrom(_, _, _)
ApplyFrom(vs, ops, k) == IF k > Len(ops) THEN vs ELSE ApplyFrom(ApplyOp(vs, ops[k]), ops, k + 1)

\* The mappings after executing ops in order.
ApplyOps(vs, ops) == ApplyFrom(vs, ops, 1)

\* Inserting a mapping checks it lies inside one region (seed 001 v2,
\* drm_gpuva_insert: -EINVAL otherwise).  The pieces of a remap lie inside
\* the mapping they split, so only a map op can fail; the op list is then
\* refused as a whole, nothing applied.
InsertsOK(rs, ops) ==
    RegionsOn => \A k \in DOMAIN ops :
        ops[k].op = "map" => InRegion(rs, ops[k].addr, ops[k].addr + ops[k].range)

\* The page map a request promises (spec-own, with its own arithmetic):
\* override [a, a+r) on map, clear it on unmap.
MapPages(pm, a, r, g, o, f) ==
    [p \in DOMAIN pm \cup (a .. a + r - 1) |->
        IF a <= p /\ p < a + r THEN <<g, (o + (p - a)) % (U64Max + 1), f>> ELSE pm[p]]
UnmapPages(pm, a, r) == [p \in DOMAIN pm \ (a .. a + r - 1) |-> pm[p]]

-----------------------------------------------------------------------------
(******************************** Init *************************************)

Init ==
    /\ vas = <<>>
    /\ regions = <<>>
    /\ lastOps = <<>>
    /\ lastErr = "OK"
    /\ pmap = [p \in {} |-> <<>>]
    /\ lastAct = [name |-> "Init", args |-> <<>>]

-----------------------------------------------------------------------------
(******************************* Actions ***********************************)

\* A rejected request: the errno, no ops, nothing changes.
Reject(err) == /\ lastOps' = <<>> /\ lastErr' = err /\ UNCHANGED <<vas, regions, pmap>>

Map(addr, range, gem, offset, flags) ==
    /\ IF ValidMap(addr, range)
       THEN LET ops == SmMapOps(vas, regions, addr, range, gem, offset, flags) IN
            IF InsertsOK(regions, ops)
            THEN /\ vas' = ApplyOps(vas, ops)
                 /\ lastOps' = ops
                 /\ lastErr' = "OK"
                 /\ pmap' = MapPages(pmap, addr, range, gem, offset, flags)
                 /\ UNCHANGED regions
            ELSE Reject("EINVAL")
       ELSE Reject("EINVAL")
    /\ lastAct' = [name |-> "Map", args |-> [addr |-> addr, range |-> range, gem |-> gem,
                                             offset |-> offset, flags |-> flags]]

Unmap(addr, range) ==
    /\ IF ValidRange(addr, range)
       THEN LET ops == SmUnmapOps(vas, addr, range) IN
            /\ vas' = ApplyOps(vas, ops)
            /\ lastOps' = ops
            /\ lastErr' = "OK"
            /\ pmap' = UnmapPages(pmap, addr, range)
            /\ UNCHANGED regions
       ELSE Reject("EINVAL")
    /\ lastAct' = [name |-> "Unmap", args |-> [addr |-> addr, range |-> range]]

\* No validation at all (as drm_gpuvm_prefetch_ops_create).
Prefetch(addr, range) ==
    /\ lastOps' = PrefetchOps(vas, addr, range)
    /\ lastErr' = "OK"
    /\ UNCHANGED <<vas, regions, pmap>>
    /\ lastAct' = [name |-> "Prefetch", args |-> [addr |-> addr, range |-> range]]

\* Insert region x into rs, keeping it ascending by addr.
InsertRegion(rs, x) ==
    LET n == Len(SelectSeq(rs, LAMBDA y : Addr(y) < Addr(x)))
    IN SubSeq(rs, 1, n) \o <<x>> \o SubSeq(rs, n + 1, Len(rs))

RegionAlloc(addr, range, sparse) ==
    /\ CASE ~RegionsOn \/ ~ValidRange(addr, range) -> Reject("EINVAL")
         [] \E k \in DOMAIN regions : Overlaps(regions[k], addr, addr + range) ->
              Reject("EEXIST")
         [] OTHER ->
              /\ regions' = InsertRegion(regions, <<addr, range, sparse>>)
              /\ lastOps' = <<>>
              /\ lastErr' = "OK"
              /\ UNCHANGED <<vas, pmap>>
    /\ lastAct' = [name |-> "RegionAlloc",
                   args |-> [addr |-> addr, range |-> range, sparse |-> sparse]]

\* The regions of rs that are exactly [a, a + r).
RegionLookup(rs, a, r) == SelectSeq(rs, LAMBDA y : Addr(y) = a /\ Size(y) = r)

RegionFree(addr, range) ==
    /\ LET hit == RegionLookup(regions, addr, range) IN
       CASE ~RegionsOn -> Reject("EINVAL")
         [] hit = <<>> -> Reject("ENOENT")
         [] Overlapping(vas, addr, addr + range) # <<>> -> Reject("EBUSY")
         [] OTHER ->
              /\ regions' = Remove(regions, hit[1])
              /\ lastOps' = <<>>
              /\ lastErr' = "OK"
              /\ UNCHANGED <<vas, pmap>>
    /\ lastAct' = [name |-> "RegionFree", args |-> [addr |-> addr, range |-> range]]

-----------------------------------------------------------------------------
(******************************** Next *************************************)

Next ==
    \/ \E a \in ReqAddrs, r \in ReqRanges, g \in Gems, f \in ReqFlags :
           \E o \in ReqOffsets(a, g) : Map(a, r, g, o, f)
    \/ \E a \in ReqAddrs, r \in ReqRanges : Unmap(a, r)
    \/ \E a \in ReqAddrs, r \in ReqRanges : Prefetch(a, r)
    \/ \E a \in RegionAddrs, r \in RegionRanges, s \in BOOLEAN : RegionAlloc(a, r, s)
    \/ \E a \in RegionAddrs, r \in RegionRanges : RegionFree(a, r)

Spec == Init /\ [][Next]_vars

\* The model's abstract variables, as the trace checker and the
\* conformance printer compare them.
Observed ==
    IF RegionsOn
    THEN [vas |-> vas, regions |-> regions, lastOps |-> lastOps, lastErr |-> lastErr]
    ELSE [vas |-> vas, lastOps |-> lastOps, lastErr |-> lastErr]

\* GpuVm has no steps the model does not log.
Internal == FALSE

-----------------------------------------------------------------------------
(***************************** Invariants **********************************)
(* Written from the seed's prose (shared/seeds/001, "DOC: Split and        *)
(* Merge", and the notes' invariants 14-24), with their own arithmetic and *)
(* predicates: below, only the Types section's operators are used, none    *)
(* of the algorithm's.                                                     *)
(* The state invariants are checked on states; the step invariants (action *)
(* formulas, over the state before a step and lastAct', lastOps', lastErr' *)
(* after it) on every transition, through MCGpuVm.tla's [][...]_vars.      *)

\* -------- written out for the properties --------

\* x as a u64 value: modulo U64Max + 1 (2^64).
W(x) == x % (U64Max + 1)

\* [a, e) and [b, d) share an address.
Meet(a, e, b, d) == a < d /\ b < e

\* Request validity, read off the constants: not empty, no u64 wrap, inside
\* the VM, off the kernel node.
RequestOK(a, r) ==
    /\ r >= 1
    /\ a + r <= U64Max
    /\ a >= MmStart
    /\ a + r <= MmStart + MmRange
    /\ KernelRange = 0 \/ a + r <= KernelAddr \/ a >= KernelAddr + KernelRange

\* The regions (indices) enclosing [a, e).
RegionsAround(a, e) ==
    {k \in DOMAIN regions : regions[k][1] <= a /\ e <= regions[k][1] + regions[k][2]}

\* "Physically contiguous with the request": the same non-NULL GEM and the
\* same base, offset - addr, as u64 values.
Contiguous(v, g, a, o) == v[3] # NullGem /\ v[3] = g /\ W(v[4] - v[1]) = W(o - a)

\* What keep marks: contiguous; under rfc2023 also the request's flags
\* (merging or leaving alone a mapping with other flags would change its
\* pages' attributes: seed 001 C13).
KeepWorthy(v, g, a, o, f) == Contiguous(v, g, a, o) /\ (Profile = "rfc2023" => v[5] = f)

\* The request of the step (these read lastAct', so only step invariants
\* use them).
Req == lastAct'.args
ReqEnd == Req.addr + Req.range
AcceptedMap == lastAct'.name = "Map" /\ lastErr' = "OK"
\* Keep would mark mapping v for the step's map request.
KeepWorthyReq(v) == KeepWorthy(v, Req.gem, Req.addr, Req.offset, Req.flags)
\* Mapping v (of the state before the step) meets the step's request.
MeetsReq(v) == Meet(v[1], v[1] + v[2], Req.addr, ReqEnd)
\* Op k of the step unmaps or splits a mapping; unmaps it with keep.
IsCut(k) == lastOps'[k].op \in {"unmap", "remap"}
IsKeepUnmap(k) == lastOps'[k].op = "unmap" /\ lastOps'[k].keep

\* -------- state invariants --------

\* Every variable holds what its comment says.
TypeOK ==
    /\ \A k \in DOMAIN vas : IsVa(vas[k])
    /\ \A k \in DOMAIN regions : IsRegion(regions[k])
    /\ ~RegionsOn => regions = <<>>
    /\ \A k \in DOMAIN lastOps : IsOp(lastOps[k])
    /\ lastErr \in Errnos
    /\ lastAct.name \in ActNames
    /\ DOMAIN pmap \subseteq Pages
    /\ \A p \in DOMAIN pmap :
          /\ DOMAIN pmap[p] = 1 .. 3
          /\ pmap[p][1] \in Gems \cup {NullGem}
          /\ IsU64(pmap[p][2]) /\ IsU64(pmap[p][3])

\* TypeOK's part about the variables that describe the last step (which
\* MCGpuVm.tla checks on every step).
StepTypeOK ==
    /\ \A k \in DOMAIN lastOps : IsOp(lastOps[k])
    /\ lastErr \in Errnos
    /\ lastAct.name \in ActNames

\* No two mappings share an address, and vas is strictly ascending; the
\* same for regions (notes inv 1, 5).
NoOverlapInv ==
    /\ \A j, k \in DOMAIN vas : j < k => vas[j][1] + vas[j][2] <= vas[k][1]
    /\ \A j, k \in DOMAIN regions : j < k => regions[j][1] + regions[j][2] <= regions[k][1]

\* Every mapping and region is a valid range, checked against the constants
\* directly: non-empty, no u64 wrap, inside the VM, off the kernel node; and
\* with regions every mapping lies inside one region (notes inv 2-5).
RangeInv ==
    /\ \A k \in DOMAIN vas : RequestOK(vas[k][1], vas[k][2])
    /\ \A k \in DOMAIN regions : RequestOK(regions[k][1], regions[k][2])
    /\ RegionsOn => \A k \in DOMAIN vas :
                        RegionsAround(vas[k][1], vas[k][1] + vas[k][2]) # {}

\* The (gem, offset, flags) triples page p translates to: one, or none.
Translations(vs, p) ==
    {<<vs[k][3], W(vs[k][4] + (p - vs[k][1])), vs[k][5]>> :
        k \in {j \in DOMAIN vs : vs[j][1] <= p /\ p < vs[j][1] + vs[j][2]}}

\* The mappings refine the page map (notes inv 14, 15; C13): every page
\* translates through the mappings exactly as the requests so far say --
\* a map request's pages to its GEM at its offset with its flags, an unmap
\* request's pages to nothing, every other page as before.
TranslationInv ==
    \A p \in Pages :
        Translations(vas, p) = IF p \in DOMAIN pmap THEN {pmap[p]} ELSE {}

\* The op-list bound ("an arbitrary amount of unmap operations, a maximum
\* of two remap operations and a single map operation"): the map is last;
\* a remap has a piece on at least one side and no piece is empty
\* (notes inv 16, 18).
OpBoundInv ==
    LET remaps == {k \in DOMAIN lastOps : lastOps[k].op = "remap"}
        maps == {k \in DOMAIN lastOps : lastOps[k].op = "map"}
    IN /\ Cardinality(remaps) <= 2
       /\ Cardinality(maps) <= 1
       /\ \A k \in maps : k = Len(lastOps)
       /\ \A k \in remaps :
            /\ lastOps[k].prev # NoPiece \/ lastOps[k].next # NoPiece
            /\ lastOps[k].prev # NoPiece => lastOps[k].prev[2] > 0
            /\ lastOps[k].next # NoPiece => lastOps[k].next[2] > 0

\* -------- step invariants (action formulas) --------

\* Validity (notes §3, inv 25): a Map or Unmap is accepted exactly when the
\* written-out range check holds (and for a Map with regions, one region
\* encloses it); a region request is EINVAL exactly when regions are off
\* or (RegionAlloc) the range fails that check; a prefetch is never
\* rejected.  A rejected request has no ops and changes nothing.
ValidityInv ==
    /\ lastAct'.name \in {"Map", "Unmap"} =>
          /\ lastErr' \in {"OK", "EINVAL"}
          /\ (lastErr' = "OK") <=>
                /\ RequestOK(Req.addr, Req.range)
                /\ (lastAct'.name = "Map" /\ RegionsOn) => RegionsAround(Req.addr, ReqEnd) # {}
    /\ lastAct'.name = "RegionAlloc" =>
          ((lastErr' = "EINVAL") <=> (~RegionsOn \/ ~RequestOK(Req.addr, Req.range)))
    /\ lastAct'.name = "RegionFree" => ((lastErr' = "EINVAL") <=> ~RegionsOn)
    /\ lastAct'.name = "Prefetch" => lastErr' = "OK"
    /\ lastErr' # "OK" => lastOps' = <<>> /\ UNCHANGED <<vas, regions, pmap>>

\* The ops of a map or unmap name mappings that exist, each once (notes inv
\* 20), and every mapping the request meets; sm_unmap and upstream's sm_map
\* name nothing else.  An unmap never keeps and has no Map; upstream's Map
\* is exactly the request (it never merges), so it always has one.
OpTargetsInv ==
    lastAct'.name \in {"Map", "Unmap"} /\ lastErr' = "OK" =>
        LET cuts == {k \in DOMAIN lastOps' : IsCut(k)}
            names(j) == \E k \in cuts : lastOps'[k].va = vas[j]
        IN /\ \A k \in cuts : \E j \in DOMAIN vas : lastOps'[k].va = vas[j]
           /\ \A k, l \in cuts : k # l => lastOps'[k].va # lastOps'[l].va
           /\ lastOps' # <<>> => \A j \in DOMAIN vas : MeetsReq(vas[j]) => names(j)
           /\ (lastAct'.name = "Unmap" \/ Profile = "upstream") =>
                 \A j \in DOMAIN vas : names(j) => MeetsReq(vas[j])
           /\ lastAct'.name = "Unmap" => \A k \in DOMAIN lastOps' : IsCut(k) /\ ~lastOps'[k].keep
           /\ lastAct'.name = "Map" /\ Profile = "upstream" =>
                 lastOps'[Len(lastOps')] =
                    [op |-> "map", addr |-> Req.addr, range |-> Req.range, gem |-> Req.gem,
                     offset |-> Req.offset, flags |-> Req.flags]

\* keep ("the gpuva to unmap is physically contiguous with the original
\* mapping request", notes inv 21) is set on exactly the ops whose mapping
\* is contiguous with the request -- both directions; under rfc2023 also
\* with the request's flags.  upstream does not compare flags.
KeepInv ==
    AcceptedMap =>
        \A k \in DOMAIN lastOps' : IsCut(k) => (lastOps'[k].keep <=> KeepWorthyReq(lastOps'[k].va))

\* Split pieces (notes inv 18, 19; C16): a mapping X split by a request
\* [a, e) keeps its left part [X.addr, a) at X's offset exactly when it
\* starts before a, and its right part [e, X.end) at X.offset + (e - X.addr)
\* (mod 2^64) exactly when it ends after e; both keep X's GEM and flags.
PieceInv ==
    lastAct'.name \in {"Map", "Unmap"} /\ lastErr' = "OK" =>
        \A k \in DOMAIN lastOps' :
            lastOps'[k].op = "remap" =>
                LET x == lastOps'[k].va
                    a == Req.addr
                    e == ReqEnd
                IN /\ (lastOps'[k].prev # NoPiece) <=> x[1] < a
                   /\ (lastOps'[k].next # NoPiece) <=> x[1] + x[2] > e
                   /\ x[1] < a => lastOps'[k].prev = <<x[1], a - x[1], x[3], x[4], x[5]>>
                   /\ x[1] + x[2] > e =>
                        lastOps'[k].next = <<e, x[1] + x[2] - e, x[3], W(x[4] + (e - x[1])), x[5]>>

\* rfc2023, nothing to do ("the caller might receive no callback at all if
\* no operation is required", cases 1, 6, 8, 12; notes inv 24): the op list
\* is empty exactly when one mapping that keep would mark already covers
\* the whole request.
NoopInv ==
    AcceptedMap /\ Profile = "rfc2023" =>
        ((lastOps' = <<>>) <=>
            \E j \in DOMAIN vas :
                vas[j][1] <= Req.addr /\ ReqEnd <= vas[j][1] + vas[j][2] /\ KeepWorthyReq(vas[j]))

\* rfc2023, the Map ("might be altered ... because it was merged with an
\* already existent mapping"; cases 10, 16; notes inv 22, 23): it maps the
\* request's GEM with its flags over the request widened by exactly the
\* mappings unmapped with keep -- the smallest range holding both, with no
\* page outside both -- at the request's base; every mapping the request
\* meets that keep would mark is absorbed; with regions the Map lies in one
\* region.
WidenInv ==
    AcceptedMap /\ Profile = "rfc2023" /\ lastOps' # <<>> =>
        LET m == lastOps'[Len(lastOps')]
            me == m.addr + m.range
            ks == {k \in DOMAIN lastOps' : IsKeepUnmap(k)}
            lo(k) == lastOps'[k].va[1]
            hi(k) == lastOps'[k].va[1] + lastOps'[k].va[2]
            a == Req.addr
            e == ReqEnd
        IN /\ m.op = "map"
           /\ m.gem = Req.gem /\ m.flags = Req.flags
           /\ m.addr <= a /\ e <= me
           /\ \A k \in ks : m.addr <= lo(k) /\ hi(k) <= me
           /\ m.addr = a \/ \E k \in ks : lo(k) = m.addr
           /\ me = e \/ \E k \in ks : hi(k) = me
           /\ \A p \in m.addr .. me - 1 : (a <= p /\ p < e) \/ \E k \in ks : lo(k) <= p /\ p < hi(k)
           /\ W(m.offset - m.addr) = W(Req.offset - a)
           /\ \A j \in DOMAIN vas :
                 MeetsReq(vas[j]) /\ KeepWorthyReq(vas[j]) => \E k \in ks : lastOps'[k].va = vas[j]
           /\ RegionsOn => RegionsAround(m.addr, me) # {}

\* rfc2023, the neighbour merges on their own (the seed's comments on
\* skipping them; notes §2.2, C14, R6).  After the walk the mapping ending
\* exactly at the request's start is merged exactly when the request met no
\* mapping, or met only one and it starts after the request's start; the
\* mapping starting exactly at the request's end exactly when the request
\* met no mapping, or the last one it met starts at or after its start and
\* ends before its end.  Either also needs keep's test and, with regions,
\* the neighbour in the request's region.  No other mapping outside the
\* request is touched, and a NULL GEM never merges.
MergeSkipInv ==
    AcceptedMap /\ Profile = "rfc2023" /\ lastOps' # <<>> =>
        LET a == Req.addr
            e == ReqEnd
            met == {j \in DOMAIN vas : MeetsReq(vas[j])}
            absorbed(v) == \E k \in DOMAIN lastOps' : IsKeepUnmap(k) /\ lastOps'[k].va = v
            prevOK == met = {} \/ (Cardinality(met) = 1 /\ \A j \in met : vas[j][1] > a)
            \* vas is ascending, so the last mapping met has the largest index
            nextOK == \A j \in met : (\A i \in met : i <= j) =>
                                         a <= vas[j][1] /\ vas[j][1] + vas[j][2] < e
            merges(v, ok) ==
                /\ ok
                /\ KeepWorthyReq(v)
                /\ RegionsOn =>
                      \E r \in RegionsAround(a, e) : r \in RegionsAround(v[1], v[1] + v[2])
        IN /\ \A j \in DOMAIN vas :
                 vas[j][1] + vas[j][2] = a => (absorbed(vas[j]) <=> merges(vas[j], prevOK))
           /\ \A j \in DOMAIN vas :
                 vas[j][1] = e => (absorbed(vas[j]) <=> merges(vas[j], nextOK))
           /\ \A k \in DOMAIN lastOps' :
                 IsCut(k) =>
                    LET v == lastOps'[k].va IN MeetsReq(v) \/ v[1] + v[2] = a \/ v[1] = e
           /\ Req.gem = NullGem => \A k \in DOMAIN lastOps' : ~IsKeepUnmap(k)

\* Prefetch (drm_gpuvm_prefetch_ops_create, notes §2.4): one op per node --
\* user mapping or the kernel node -- meeting [addr, (addr + range) mod
\* 2^64), each once, ascending; none when that end is not above addr.
PrefetchInv ==
    lastAct'.name = "Prefetch" =>
        LET a == Req.addr
            e == W(Req.addr + Req.range)
            kernel == <<KernelAddr, KernelRange, NullGem, 0, 0>>
            hit(v) == e > a /\ Meet(v[1], v[1] + v[2], a, e)
            node(v) == (KernelRange > 0 /\ v = kernel) \/ \E j \in DOMAIN vas : vas[j] = v
            count == Cardinality({j \in DOMAIN vas : hit(vas[j])})
                     + (IF KernelRange > 0 /\ hit(kernel) THEN 1 ELSE 0)
        IN /\ UNCHANGED <<vas, regions, pmap>>
           /\ Len(lastOps') = count
           /\ \A k \in DOMAIN lastOps' :
                 lastOps'[k].op = "prefetch" /\ node(lastOps'[k].va) /\ hit(lastOps'[k].va)
           /\ \A k \in 1 .. Len(lastOps') - 1 : lastOps'[k].va[1] < lastOps'[k + 1].va[1]

\* Regions (notes §2.1, §3; C10, R4): an allocation is EEXIST exactly when
\* it is otherwise valid and meets a region, and else adds exactly that
\* region; a free is ENOENT exactly when no region is exactly the range,
\* EBUSY exactly when one is but a mapping meets it, and else removes
\* exactly that region.  Neither has ops or touches a mapping.
RegionInv ==
    lastAct'.name \in {"RegionAlloc", "RegionFree"} =>
        LET a == Req.addr
            e == ReqEnd
            old == {regions[k] : k \in DOMAIN regions}
            new == {regions'[k] : k \in DOMAIN regions'}
            exact == {x \in old : x[1] = a /\ x[2] = Req.range}
        IN /\ lastAct'.name = "RegionAlloc" /\ RegionsOn /\ RequestOK(a, Req.range) =>
                 /\ (lastErr' = "EEXIST") <=> \E x \in old : Meet(x[1], x[1] + x[2], a, e)
                 /\ lastErr' = "OK" => new = old \cup {<<a, Req.range, Req.sparse>>}
           /\ lastAct'.name = "RegionFree" /\ RegionsOn =>
                 /\ (lastErr' = "ENOENT") <=> exact = {}
                 /\ (lastErr' = "EBUSY") <=>
                       /\ exact # {}
                       /\ \E j \in DOMAIN vas : Meet(vas[j][1], vas[j][1] + vas[j][2], a, e)
                 /\ lastErr' = "OK" => new = old \ exact
           /\ lastOps' = <<>> /\ UNCHANGED <<vas, pmap>>

=============================================================================
