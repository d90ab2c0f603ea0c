------------------------------ MODULE MCGpuVm ------------------------------
(***************************************************************************)
(* Bounded models of GpuVm for TLC.  The bounds live here and in the       *)
(* MCGpuVm*.cfg files only; each says why it is enough.                    *)
(*                                                                         *)
(*   MCGpuVm, MCGpuVmRfc2023        five pages below a kernel node at the  *)
(*                                  top, GEMs a and b                      *)
(*   MCGpuVmSmall, MCGpuVmSmallRfc2023                                     *)
(*                                  four pages and NULL mappings; every    *)
(*                                  transition is replayed into the model  *)
(*                                  by `gpuvm-check conform gpuvm`         *)
(*   MCGpuVmKernelMid[Rfc2023]      a VM starting at 1, the kernel node in *)
(*                                  its middle; empty requests and ones    *)
(*                                  from below the VM                      *)
(*   MCGpuVmWrap[Rfc2023]           a small U64Max: the VM ends at it,     *)
(*                                  offsets near it wrap, addr + range     *)
(*                                  overflows; no kernel node              *)
(*   MCGpuVmRegions[Rfc2023]        regions allocated and freed, sparse or *)
(*                                  not; maps inside them, merges stopped  *)
(*                                  at their boundaries                    *)
(*   MCGpuVmFlags[Rfc2023]          flags 0 and 1 on one GEM               *)
(*   MCGpuVm<Bug>                   a known-bad operator swapped in; must  *)
(*                                  violate the property manifest.json     *)
(*                                  records for it                         *)
(*                                                                         *)
(* Every model checks every state invariant of GpuVm on every state and    *)
(* every step invariant on every transition (see MCView).                  *)
(***************************************************************************)
EXTENDS GpuVm, TLC

(***************************** Bounds **************************************)

\* Five pages.  rfc2023's walk looks only at the mappings a request meets
\* and at the two that touch it, so what matters is how many mappings a
\* request can meet and touch, not gaps elsewhere.  Five pages hold a
\* three-page request with a mapping sticking out on the left (A/B first),
\* one inside (C2) and one sticking out on the right (C3 last); or the same
\* request over one inner mapping with a neighbour on each side to merge
\* (both merges around a C2, case 16 with an overlap); or a request starting
\* in a gap before two mappings (the left merge skipped, notes C14).
\* upstream treats every mapping it meets on its own, so the same pages
\* give it every op it makes (a left split, inner unmaps, a right split in
\* one list).  A sixth page adds only gaps between these, at five times the
\* states.
FivePageAddrs == 0 .. 4
\* Requests of 1 to 4 pages: 3 cover a left split, an inner mapping and a
\* right split; 4 add requests meeting two inner mappings, and requests
\* reaching the kernel node (EINVAL).
FivePageRanges == 1 .. 4

\* Four pages: every case of the walk with at most one inner mapping, and
\* each merge on its own.
FourPageAddrs == 0 .. 3
FourPageRanges == 1 .. 4

\* Offsets: the op lists depend on an offset only through the base
\* (offset - addr) -- compatibility compares bases and a piece keeps its
\* base -- so bases are what need bounding.  GEM "a" at bases 0 and 1 gives
\* same-GEM requests at the same and at another base; "b" (and NULL) at
\* base 0 gives other-GEM requests.  More bases would only relabel these.
MCReqOffsets(a, g) == IF g = "a" THEN {a, a + 1} ELSE {a}

\* The kernel node in the middle of a VM that does not start at 0: the
\* addresses from one below the VM to its last page, ranges 0 to 3.  Range
\* 0 is the empty request; 3 pages fill the user part below the kernel
\* node, and reach from either user part across the kernel node, from
\* below the VM into it, and past the VM's end.
MidAddrs == (MmStart - 1) .. (MmEnd - 1)
MidRanges == 0 .. 3

\* Wrap: the VM ends at U64Max.  Addresses from one below the VM to its
\* last page, and ranges up to 4, so addr + range passes U64Max (a map or
\* unmap is rejected, a prefetch's end wraps to the bottom).  GEM "a" at
\* two bases whose offset at the VM's first page is U64Max and U64Max - 1,
\* so a piece cut 1 or 2 pages in wraps past U64Max and "same base" holds
\* only modulo U64Max + 1; "b" at the first of them.  As above, only the base
\* matters, so these bases stand for every base near the top.
WrapOffsets(a, g) ==
    LET top(d) == (U64Max - d + (a - MmStart)) % (U64Max + 1) IN
    IF g = "a" THEN {top(0), top(1)} ELSE {top(0)}

\* Regions: two halves [0, 2) and [2, 4) of the four user pages, or one
\* region over all of them, each sparse or not.  That gives a boundary
\* between two regions (merges must stop there), a region that holds both
\* sides (merges may cross the same addresses), maps outside every region,
\* EEXIST ([0, 4) over a half), ENOENT (freeing a half inside [0, 4), or
\* [0, 4) when only a half exists), EBUSY, and EINVAL ([2, 6) passes the
\* VM's end).  Other region sizes only shift these boundaries.
RegAddrs == {0, 2}
RegRanges == {2, 4}

\* Flags: two values are enough -- the algorithm and the properties
\* compare flags only for equality.
BothFlags == {0, 1}

(*************************** How TLC runs **********************************)

\* States are told apart by the mappings, the regions and the page map
\* only.  lastOps, lastErr and lastAct describe the transition that led to
\* a state, so without this view every transition would be a state of its
\* own (about 100 times more).  TLC checks an INVARIANT only in the first
\* state of a view class it reaches, so the invariants over lastOps are also
\* checked on every transition by the action properties below; the step
\* invariants read only the view's variables before the step.
MCView == <<vas, regions, pmap>>

TypeOKStep == [][StepTypeOK']_vars
OpBoundInvStep == [][OpBoundInv']_vars
ValidityInvStep == [][ValidityInv]_vars
OpTargetsInvStep == [][OpTargetsInv]_vars
KeepInvStep == [][KeepInv]_vars
PieceInvStep == [][PieceInv]_vars
NoopInvStep == [][NoopInv]_vars
WidenInvStep == [][WidenInv]_vars
MergeSkipInvStep == [][MergeSkipInv]_vars
PrefetchInvStep == [][PrefetchInv]_vars
RegionInvStep == [][RegionInv]_vars

\* For `gpuvm-check conform gpuvm`: Next, printing every transition it
\* takes as one line that the conformance check replays into the model.
MCPrintNext ==
    /\ Next
    /\ PrintT("@step" \o ToString(<<Observed, lastAct', Observed'>>))

(************************ Known-bad operators ******************************)
(* Each replaces one operator of GpuVm's algorithm in a failure config,    *)
(* reproducing a known bug.  The comment above each starts with the name   *)
(* of the model mutant with the same bug (manifest "mutant"), if any.      *)

\* sm-unmap-always-prev-next (seed 001 C1): sm_unmap passes both prev and
\* next, so the side that is not split gets a zeroed, empty piece.
ZeroPiece == <<0, 0, NullGem, 0, 0>>
BadUnmapRemap(v, a, e) ==
    RemapOp(v, FALSE, IF Addr(v) < a THEN LeftPiece(v, a) ELSE ZeroPiece,
                      IF End(v) > e THEN RightPiece(v, e) ELSE ZeroPiece)

\* remap-prev-overunmap (seed 001 C2): a remap with only a prev piece also
\* unmaps [prev end, prev end + old range), past the old mapping's end.
\* After the op list, every mapping meeting such a hole that the list did
\* not create loses its pages inside the hole.
PiecesOf(w, lo, hi) ==
    (IF Addr(w) < lo THEN <<LeftPiece(w, lo)>> ELSE <<>>)
    \o (IF hi < End(w) THEN <<RightPiece(w, hi)>> ELSE <<>>)

RECURSIVE InsertAll(_, _, _)
InsertAll(vs, ps, k) == IF k > Len(ps) THEN vs ELSE InsertAll(Insert(vs, ps[k]), ps, k + 1)

RECURSIVE PunchFrom(_, _, _, _, _)
PunchFrom(vs, gone, lo, hi, k) ==
    IF k > Len(gone) THEN vs
    ELSE PunchFrom(InsertAll(Remove(vs, gone[k]), PiecesOf(gone[k], lo, hi), 1),
                   gone, lo, hi, k + 1)

Punch(vs, lo, hi, made) ==
    PunchFrom(vs, SelectSeq(vs, LAMBDA w : Overlaps(w, lo, hi) /\ w \notin made), lo, hi, 1)

RECURSIVE PunchHoles(_, _, _, _)
PunchHoles(vs, hs, made, k) ==
    IF k > Len(hs) THEN vs
    ELSE PunchHoles(Punch(vs, End(hs[k].prev), End(hs[k].prev) + Size(hs[k].va), made),
                    hs, made, k + 1)

OverUnmapApplyOps(vs, ops) ==
    LET ks == DOMAIN ops
        made == {<<ops[k].addr, ops[k].range, ops[k].gem, ops[k].offset, ops[k].flags>> :
                    k \in {j \in ks : ops[j].op = "map"}}
                \cup {ops[k].prev : k \in {j \in ks : ops[j].op = "remap"}}
                \cup {ops[k].next : k \in {j \in ks : ops[j].op = "remap"}}
        holes == SelectSeq(ops, LAMBDA o : o.op = "remap" /\ o.prev # NoPiece /\ o.next = NoPiece)
    IN PunchHoles(ApplyFrom(vs, ops, 1), holes, made, 1)

\* next-offset-from-request: sm_map's right piece takes its offset from the
\* request (request offset + (re - ra)) instead of from the old mapping.
BadMapNextPiece(v, re, ra, ro) == <<re, End(v) - re, Gem(v), U64(ro + (re - ra)), Flg(v)>>

\* keep-ignores-offset: compatibility compares the GEM only, not the base.
CompatibleGemOnly(v, g, a, o) == Gem(v) # NullGem /\ Gem(v) = g

\* upstream-never-keep: upstream never sets keep.
NeverKeep(v, g, a, o, f) == FALSE

\* rfc2023-nothing-compatible: rfc2023 finds nothing it may leave alone or
\* merge (so no no-op and no merge ever).
NeverMergeable(v, g, a, o, f) == FALSE

\* rfc2023-merge-always: the neighbour merges are tried after every walk,
\* whatever the walk met.
MergeAlways(st, side) == TRUE

\* rfc2023-noop-as-remap: where a mergeable mapping covers the request,
\* rfc2023 unmaps or splits it (with keep) and maps the request, as upstream
\* does, instead of doing nothing.
CoveredAsRemap(s, op) == RfcAdd(s, [op EXCEPT !.keep = TRUE])

\* doc-case15-offset (seed 001 C16): the right piece of a mapping whose
\* head the request covers gets the documented n+2 for case 15, one more
\* than old offset + (request end - old addr).
DocCase15Piece(v, re, ra, ro) ==
    <<re, End(v) - re, Gem(v), U64(Off(v) + (re - Addr(v)) + 1), Flg(v)>>

\* range-check-no-kernel-node: the range check forgets the kernel node.
ValidRangeNoKernel(a, r) == r > 0 /\ a + r <= U64Max /\ MmStart <= a /\ a + r <= MmEnd

\* range-check-no-overflow (seed 001 C9): the range check computes the end
\* as a u64 and has no overflow test, so a request passing U64Max ends
\* "inside" the VM and is accepted.
ValidRangeWrapEnd(a, r) ==
    LET e == U64(a + r) IN
    /\ r > 0
    /\ MmStart <= a /\ e <= MmEnd
    /\ ~(KernelRange > 0 /\ a < KernelAddr + KernelRange /\ KernelAddr < e)

\* offset-no-wrap: a piece's offset is computed without wrapping at U64Max + 1.
PieceOffNoWrap(v, s) == Off(v) + (s - Addr(v))

\* merge-across-regions (seed 001 R1): the neighbour merges skip the
\* region test.
MergeAnyRegion(rs, a, e) == TRUE

\* find-prev-across-gap (seed 001 R6): find_prev returns the nearest
\* mapping below the address, even across a gap.
FindPrevNearest(vs, s) ==
    IF s <= MmStart \/ s > MmEnd THEN NoPiece
    ELSE LET m == SelectSeq(vs, LAMBDA v : End(v) <= s) IN
         IF m = <<>> THEN NoPiece ELSE m[Len(m)]

\* find-range-only (seed 001 R4): RegionFree looks the region up from the
\* first one meeting the range and checks only its size, so it frees a
\* region that starts elsewhere.
RegionLookupRangeOnly(rs, a, r) ==
    LET m == SelectSeq(rs, LAMBDA y : Overlaps(y, a, a + r)) IN
    IF m # <<>> /\ Size(m[1]) = r THEN <<m[1]>> ELSE <<>>

\* (no model mutant) A prefetch walks the user mappings only, missing the
\* kernel node.
UserNodesOnly(vs) == vs

=============================================================================
