------------------------------ MODULE MCGpuVm ------------------------------
(***************************************************************************)
(* Bounded models of GpuVm for TLC.  The bounds live here and in the      *)
(* MCGpuVm*.cfg files only; each says why it is enough.                    *)
(*                                                                         *)
(*   MCGpuVm.cfg, MCGpuVmRfc2023.cfg      six pages, exhaustive            *)
(*   MCGpuVmSmall.cfg, MCGpuVmSmallRfc2023.cfg                             *)
(*                                        four pages and NULL mappings,    *)
(*                                        exhaustive; every transition is  *)
(*                                        replayed into the model by       *)
(*                                        `gpuvm-check conform gpuvm`      *)
(*   MCGpuVm<Bug>.cfg                     a known-bad operator swapped in; *)
(*                                        must violate the invariant that  *)
(*                                        specs/manifest.json records      *)
(*                                                                         *)
(* Common bounds (in the .cfg files): one VM [0, Pages + 1) whose last    *)
(* page is the kernel-reserved node, so a request reaching it or beyond   *)
(* the VM is EINVAL; GEMs "a" and "b" (and in the small models the NULL   *)
(* GEM).                                                                   *)
(***************************************************************************)
EXTENDS GpuVm, TLC

(***************************** Bounds **************************************)

\* Six pages: a four-page request can then have a mapping sticking out on
\* each side plus the neighbours a merge looks at, so every combination of
\* the walk's cases (A/B first, C inside, C last) and both merges occurs.
SixPageAddrs == 0 .. 5
\* Requests of 1 to 4 pages: 4 pages cover a left split, two inner
\* mappings and a right split; longer requests only add inner C cases.
SixPageRanges == 1 .. 4

\* Four pages: every case of the walk with at most one inner mapping.
FourPageAddrs == 0 .. 3
FourPageRanges == 1 .. 4

\* Offsets: the op lists depend on an offset only through the base
\* (offset - addr) -- compatibility compares bases and a piece keeps its
\* base -- so bases are what need bounding.  GEM "a" at bases 0 and 1 gives
\* same-GEM requests at the same and at another base; "b" (and NULL) at
\* base 0 gives other-GEM requests.  More bases would only relabel these.
MCReqOffsets(a, g) == IF g = "a" THEN {a, a + 1} ELSE {a}

(*************************** How TLC runs ***********************************)

\* States are told apart by the mappings and the page map only.  lastOps,
\* lastErr and lastAct describe the transition that led to a state, so
\* without this view every transition would be a state of its own (about
\* 100 times more).  TLC checks an INVARIANT only in the first state of a
\* view class it reaches, so the invariants over lastOps are also checked
\* on every transition by the action properties below.
MCView == <<vas, pmap>>

TypeOKStep == [][TypeOK']_vars
OpBoundInvStep == [][OpBoundInv']_vars
KeepInvStep == [][KeepInv']_vars

\* For `gpuvm-check conform gpuvm`: Next, printing every transition it
\* takes as one line that the conformance check replays into the model.
MCPrintNext ==
    /\ Next
    /\ PrintT("@step" \o ToString(<<vas, lastAct', vas', lastOps', lastErr'>>))

(************************ Known-bad operators ******************************)
(* Each replaces one operator of GpuVm in a failure config, reproducing a *)
(* bug from seed 001; the model mutant of the same name is the same bug in *)
(* model/.                                                                 *)

\* sm-unmap-always-prev-next (seed 001 C1): sm_unmap passes both prev and
\* next, so the side that is not split gets a zeroed, empty piece.
ZeroPiece == <<0, 0, NullGem, 0>>
BadUnmapRemap(v, a, e) ==
    RemapOp(v, FALSE, IF Addr(v) < a THEN LeftPiece(v, a) ELSE ZeroPiece,
                      IF End(v) > e THEN RightPiece(v, e) ELSE ZeroPiece)

\* remap-prev-overunmap (seed 001 C2): a remap with only a prev piece also
\* unmaps [prev end, prev end + old range), past the old mapping's end.
\* After the op list, every mapping meeting such a hole that the list did
\* not create loses its pages inside the hole.
PiecesOf(w, lo, hi) ==
    (IF Addr(w) < lo THEN <<<<Addr(w), lo - Addr(w), Gem(w), Off(w)>>>> ELSE <<>>)
    \o (IF hi < End(w) THEN <<<<hi, End(w) - hi, Gem(w), Off(w) + (hi - Addr(w))>>>> ELSE <<>>)

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
        made == {<<ops[k].addr, ops[k].range, ops[k].gem, ops[k].offset>> :
                    k \in {j \in ks : ops[j].op = "map"}}
                \cup {ops[k].prev : k \in {j \in ks : ops[j].op = "remap"}}
                \cup {ops[k].next : k \in {j \in ks : ops[j].op = "remap"}}
        holes == SelectSeq(ops, LAMBDA o : o.op = "remap" /\ o.prev # NoPiece /\ o.next = NoPiece)
    IN PunchHoles(ApplyFrom(vs, ops, 1), holes, made, 1)

\* next-offset-from-request: sm_map's right piece takes its offset from the
\* request (request offset + (re - ra)) instead of from the old mapping.
BadMapNextPiece(v, re, ra, ro) == <<re, End(v) - re, Gem(v), ro + (re - ra)>>

\* keep-ignores-offset: compatibility compares the GEM only, not the base.
CompatibleGemOnly(v, g, a, o) == Gem(v) # NullGem /\ Gem(v) = g

=============================================================================
