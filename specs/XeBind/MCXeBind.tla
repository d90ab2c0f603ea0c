------------------------------ MODULE MCXeBind ------------------------------
(***************************************************************************)
(* Bounded models of XeBind for TLC.  The bounds live here and in the      *)
(* MCXeBind*.cfg files only; each says why it is enough.                   *)
(*                                                                         *)
(*   MCXeBind.cfg            fixed profile, two threads, four pages, two   *)
(*                           bos: overwrites and splits from both sides,   *)
(*                           failures at "unbind", "prev", "next" and      *)
(*                           "bind", each thread with two RESTARTs: every  *)
(*                           safety property, both liveness properties, no *)
(*                           deadlock (user space restarting only once it  *)
(*                           sees the error or an idle VM: WaitSpec below) *)
(*   MCXeBindSmall.cfg       fixed profile, one thread: a map, a map that  *)
(*                           splits it with a failing unbind, a RESTART;   *)
(*                           `gpuvm-check conform` replays every           *)
(*                           transition of it into the model (NEXT         *)
(*                           MCPrintNext)                                  *)
(*   MCXeBindSeed*.cfg       the seed profile: must violate the property   *)
(*                           its header names (X16, X1/X4)                 *)
(*   MCXeBindFixed*.cfg      the same programs, fixed profile: must pass   *)
(*                           (the failures are the profile's)              *)
(*   MCXeBindNoRestart.cfg   a failure and no RESTART: must violate        *)
(*                           AllFencesSignal                               *)
(*   MCXeBind<Bug>.cfg       a known-bad variant (XeBind's Bug constant):  *)
(*                           must give the result its header names         *)
(*   MCXeBindEarlyRestart.cfg  the small program under Spec itself, whose  *)
(*                           user may RESTART before the error: must       *)
(*                           violate ErrorCleared (extra)                  *)
(*   MCXeBindFixedEmptyLate.cfg  an empty unmap behind a pending bind,     *)
(*                           fixed profile: must violate FencesInOrder     *)
(*                           (extra)                                       *)
(*                                                                         *)
(* The state space is finite without constraints (except with Bug          *)
(* "remap_repeats", whose REMAP unbinds for ever; TLC stops at the first   *)
(* repeat): every thread runs a finite program, so finitely many GPUVA ops *)
(* are committed, each fails at most once per sub-step named in its fail   *)
(* set, and each sub-step of it otherwise completes once.                  *)
(***************************************************************************)
EXTENDS XeBind, TLC

(***************************** Bounds **************************************)

\* Program entries.  A user map of n pages at first from bo b's page q
\* (read-only or not) and an unmap, each with the sub-steps that fail once;
\* a VM_BIND of some user ops; a RESTART.
MapOp(f, n, b, q, ro, fail) ==
    [op |-> "map", first |-> f, n |-> n, bo |-> b, bopage |-> q, ro |-> ro, fail |-> fail]
UnmapOp(f, n, fail) ==
    [op |-> "unmap", first |-> f, n |-> n, bo |-> "", bopage |-> 0, ro |-> FALSE, fail |-> fail]
BindE(ops) == [kind |-> "bind", ops |-> ops]
RestartE == [kind |-> "restart"]

\* The smallest REMAP with both pieces and a resumption: t1 maps pages 0-2
\* of bo 1, then maps page 1 of bo 2 (a REMAP of [0,3) with prev [0,1)
\* and next [2,3), then the MAP) whose REMAP's unbind fails once, then
\* RESTARTs.  Under Spec the RESTART may come before the failure (-EPROTO;
\* the VM then stays in the error state) or after it (the REMAP resumes at
\* its unbind).  Three pages are the fewest with a piece on either side.
SmallPrograms ==
    [t1 |-> << BindE(<< MapOp(0, 3, "1", 0, FALSE, {}) >>),
               BindE(<< MapOp(1, 1, "2", 0, FALSE, {"unbind"}) >>),
               RestartE >>]

\* The main model, two threads over four pages and two bos.  t1: a map of
\* all four pages of bo 1; a read-only map of pages 1-2 of bo 2 whose
\* REMAP fails at its unbind and then at its prev bind (it resumes twice;
\* prev and next keep bo 1 and ro FALSE); one ioctl unmapping pages 0-1
\* and mapping page 0 of bo 2 from its page 3 (the map against the tree
\* the unmap left); a map of pages 2-3 of bo 1 from its page 1; one ioctl
\* unmapping page 3 (empty in some orders, inside an ioctl that is not)
\* and mapping page 1; a map of all four pages of bo 2 (unmapping or
\* cutting whatever is there); two RESTARTs.  t2: a map of pages 1-3 of
\* bo 2 from its page 1 whose MAP's bind fails; an unmap of page 2 whose
\* REMAP fails at its next bind; one ioctl mapping pages 0-1 of bo 1
\* read-only and unmapping pages 1-2 (a VMA made and cut by one ioctl);
\* an unmap of everything; a read-only map of page 3; two RESTARTs.  The
\* two threads' ioctls overlap pairwise, so each order of commits gives
\* another tree and other GPUVA ops (maps that swallow, cut on the left,
\* on the right or on both sides; remaps with prev, next or both), the
\* failing sub-steps exist in some orders and not in others (each of the
\* four kinds fails in some run), and a thread's binds commit behind a
\* failed op while the VM is in the error state.  No ioctl of these
\* programs is empty in any order (the empty case is EmptyPrograms').
\* User space restarts once it sees the error (WaitSpec); ErrorCleared
\* checks that two RESTARTs per thread are enough.  One worker serializes
\* everything, so a third thread adds only more orders of the same
\* commits, and a fifth page only shifted copies of these layouts.
MainPrograms ==
    [t1 |-> << BindE(<< MapOp(0, 4, "1", 0, FALSE, {}) >>),
               BindE(<< MapOp(1, 2, "2", 0, TRUE, {"unbind", "prev"}) >>),
               BindE(<< UnmapOp(0, 2, {}), MapOp(0, 1, "2", 3, FALSE, {}) >>),
               BindE(<< MapOp(2, 2, "1", 1, FALSE, {}) >>),
               BindE(<< UnmapOp(3, 1, {}), MapOp(1, 1, "1", 0, FALSE, {}) >>),
               BindE(<< MapOp(0, 4, "2", 0, FALSE, {}) >>),
               RestartE, RestartE >>,
     t2 |-> << BindE(<< MapOp(1, 3, "2", 1, FALSE, {"bind"}) >>),
               BindE(<< UnmapOp(2, 1, {"next"}) >>),
               BindE(<< MapOp(0, 2, "1", 2, TRUE, {}), UnmapOp(1, 2, {}) >>),
               BindE(<< UnmapOp(0, 4, {}) >>),
               BindE(<< MapOp(3, 1, "2", 0, TRUE, {}) >>),
               RestartE, RestartE >>]

\* X16: the REMAP of SmallPrograms, whose unbind fails: the seed set
\* munmap_rebind_inflight before the unbind, so the flag is left set with
\* the old VMA still bound.  One REMAP with one failure is all it takes.
InflightPrograms == SmallPrograms

\* X1, X4: an unmap of pages 0-1 of the empty VM (no GPUVA op at all),
\* then a map and an unmap of part of it.  The empty ioctl comes first, so
\* in the fixed profile no earlier fence is pending when its fence signals.
EmptyPrograms ==
    [t1 |-> << BindE(<< UnmapOp(0, 2, {}) >>),
               BindE(<< MapOp(0, 2, "1", 0, FALSE, {}) >>),
               BindE(<< UnmapOp(1, 1, {}) >>) >>]

\* X16: a map whose bind fails and, committed behind it while the VM is
\* in the error state, an unmap of part of it; nobody RESTARTs.
NoRestartPrograms ==
    [t1 |-> << BindE(<< MapOp(0, 2, "1", 0, FALSE, {"bind"}) >>),
               BindE(<< UnmapOp(0, 1, {}) >>) >>]

\* Invariant 6: SmallPrograms with the REMAP's prev bind failing instead,
\* so a correct REMAP resumes at prev after the RESTART.
RepeatPrograms ==
    [t1 |-> << BindE(<< MapOp(0, 3, "1", 0, FALSE, {}) >>),
               BindE(<< MapOp(1, 1, "2", 0, FALSE, {"prev"}) >>),
               RestartE >>]

\* Invariant 4: one map whose bind fails: a worker that drops it leaves the
\* page table empty under a mapped tree.
IgnorePrograms ==
    [t1 |-> << BindE(<< MapOp(0, 2, "1", 0, FALSE, {"bind"}) >>) >>]

\* An empty unmap (page 2) behind a map of page 0 whose bind may not have
\* run yet: the fixed profile signals the empty ioctl's fence at once.
LateEmptyPrograms ==
    [t1 |-> << BindE(<< MapOp(0, 1, "1", 0, FALSE, {}) >>),
               BindE(<< UnmapOp(2, 1, {}) >>) >>]

(**************************** User space ***********************************)

\* User space as the xe tests of the time drive it: a thread issues its
\* RESTART once it sees the VM in the error state (or the VM idle, when
\* the RESTART gets -EPROTO), not while the worker may still fail.  Spec's
\* Restart may come at any time; a RESTART issued before the failure is
\* lost (-EPROTO), so under Spec no finite program guarantees ErrorCleared
\* (MCXeBindEarlyRestart.cfg).  WaitSpec keeps every step of Spec and only
\* delays RESTARTs.
WaitingRestart(t) == (error # "OK" \/ pending = <<>>) /\ Restart(t)

WaitNext ==
    \/ \E t \in Threads : Bind(t) \/ WaitingRestart(t)
    \/ Work
    \/ Terminated

WaitFairness ==
    /\ WF_vars(Work)
    /\ \A t \in Threads : WF_vars(Bind(t)) /\ WF_vars(WaitingRestart(t))

WaitSpec == Init /\ [][WaitNext]_vars /\ WaitFairness

(**************************** How TLC runs *********************************)

\* The configuration, printed once at start for the checker (the codec
\* builds the Python model from it).
ThreadSeq == CHOOSE s \in [1 .. Cardinality(Threads) -> Threads] :
                 {s[k] : k \in DOMAIN s} = Threads
ASSUME PrintT("@config" \o ToString([threads |-> ThreadSeq, np |-> NP, bos |-> Bos,
                                      programs |-> Programs, profile |-> Profile,
                                      bug |-> Bug]))

\* For `gpuvm-check conform`: the real steps (not Terminated, so every
\* printed line is a real step; run with -deadlock), each printed as one
\* line that the conformance check replays into the model.
MCPrintNext ==
    /\ Step
    /\ PrintT("@step" \o ToString(<<Observed, lastAct', Observed'>>))

=============================================================================
