--------------------------- MODULE MCNouveauBind ---------------------------
(***************************************************************************)
(* Bounded models of NouveauBind for TLC.  The bounds live here and in the *)
(* MCNouveauBind*.cfg files only; each says why it is enough.              *)
(*                                                                         *)
(*   MCNouveauBind.cfg       fixed profile, three threads, four pages, two *)
(*                           bos, a binary and a timeline syncobj: maps    *)
(*                           that split and overwrite, one job whose ops   *)
(*                           make and cut a mapping, sync and async binds, *)
(*                           execs on both syncobjs: every safety          *)
(*                           property, both liveness properties, no        *)
(*                           deadlock                                      *)
(*   MCNouveauBindSmall.cfg  fixed profile, an async map, a sync unmap and *)
(*                           an exec waiting for the map; `gpuvm-check     *)
(*                           conform` replays every transition of it into  *)
(*                           the model (NEXT MCPrintNext)                  *)
(*   MCNouveauBindSeed*.cfg  the seed profile: must violate the property   *)
(*                           its header names (C19, C24)                   *)
(*   MCNouveauBindFixed*.cfg the same programs, fixed profile: must pass   *)
(*                           (the failures are the profile's)              *)
(*   MCNouveauBind<Bug>*.cfg a known-bad variant (NouveauBind's Bug        *)
(*                           constant): must give the result its header    *)
(*                           names                                         *)
(*                                                                         *)
(* The state space is finite without constraints: every thread runs a      *)
(* finite program, so there is at most one job per program entry, and a    *)
(* job's stage only moves forward.                                         *)
(***************************************************************************)
EXTENDS NouveauBind, TLC

(***************************** Bounds **************************************)

\* Program entries.  A map of n pages at first from bo b's page q, an
\* unmap, a sync reference, the two kinds of VM_BIND and an EXEC.
MapOp(f, n, b, q) == [op |-> "map", first |-> f, n |-> n, bo |-> b, bopage |-> q]
UnmapOp(f, n) == [op |-> "unmap", first |-> f, n |-> n, bo |-> "", bopage |-> 0]
Ref(s, pt) == [s |-> s, pt |-> pt]
AsyncBind(ops, waits, sigs) ==
    [kind |-> "bind", async |-> TRUE, ops |-> ops, waits |-> waits, sigs |-> sigs, push |-> 0]
SyncBind(ops) ==
    [kind |-> "bind", async |-> FALSE, ops |-> ops, waits |-> <<>>, sigs |-> <<>>, push |-> 0]
ExecJob(waits, sigs, push) ==
    [kind |-> "exec", async |-> TRUE, ops |-> <<>>, waits |-> waits, sigs |-> sigs, push |-> push]

\* The smallest system with all three stages, both bind modes and an
\* explicit-sync exec: t1 maps pages 0-1 asynchronously (signalling the
\* binary syncobj 10), then unmaps page 1 synchronously (a split: the left
\* piece stays, one page-table reference is put at free); t2's exec waits
\* for 10, so it is either -EINVAL (before the map's submit) or depends on
\* the map.  The sync unmap queues behind the async map whenever that one
\* has not run; three pages leave one that is never mapped.
SmallProgs ==
    [t1 |-> << AsyncBind(<< MapOp(0, 2, "1", 0) >>, << >>, << Ref("10", 0) >>),
               SyncBind(<< UnmapOp(1, 1) >>) >>,
     t2 |-> << ExecJob(<< Ref("10", 0) >>, << >>, 1) >>]

\* The main model.  t1: an async map of bo 1 over pages 0-2 signalling
\* binary 10, then a sync unmap of page 1 (a split on both sides).  t2:
\* an async map of bo 2 over pages 2-3 from its page 1, waiting for 10 (so
\* -EINVAL before t1's map, a dependency on it after) and signalling
\* timeline 20 point 1: it overwrites the right end of t1's mapping or of
\* the piece its unmap left; then an async bind of two ops, a map of bo 2
\* over 0-1 and an unmap of page 1 (a mapping made and cut inside one job:
\* only its left piece is added), signalling point 2.  t3: three execs,
\* waiting for 10, for point 1, and for point 2 (which waits through the
\* chain for both of t2's binds); each is -EINVAL while its point does not
\* exist yet.  Every pair of binds overlaps, so each order of submits
\* gives a different tree; the gaps and covered pages of each map and
\* unmap, and so the page-table and GEM references, differ with it.  A
\* fourth thread, page or bo would only repeat these layouts.
MainProgs ==
    [t1 |-> << AsyncBind(<< MapOp(0, 3, "1", 0) >>, << >>, << Ref("10", 0) >>),
               SyncBind(<< UnmapOp(1, 1) >>) >>,
     t2 |-> << AsyncBind(<< MapOp(2, 2, "2", 1) >>, << Ref("10", 0) >>, << Ref("20", 1) >>),
               AsyncBind(<< MapOp(0, 2, "2", 0), UnmapOp(1, 1) >>, << >>, << Ref("20", 2) >>) >>,
     t3 |-> << ExecJob(<< Ref("10", 0) >>, << >>, 1),
               ExecJob(<< Ref("20", 1) >>, << >>, 1),
               ExecJob(<< Ref("20", 2) >>, << >>, 1) >>]

\* C19: one thread, an async map signalling 10, then a sync unmap of one
\* of its pages: the sync bind lands behind the async one in the one bind
\* queue.  A second thread adds nothing: the seed's early return needs
\* only a sync bind whose job is still queued.
SyncProgs ==
    [t1 |-> << AsyncBind(<< MapOp(0, 2, "1", 0) >>, << >>, << Ref("10", 0) >>),
               SyncBind(<< UnmapOp(0, 1) >>) >>]

\* C24: an async map signalling 10, then an exec without pushes waiting
\* for 10 and signalling 11 (so the exec's wait always resolves).  Nobody
\* else signals 11, so only the exec's own fence can satisfy its promise.
PushZeroProgs ==
    [t1 |-> << AsyncBind(<< MapOp(0, 2, "1", 0) >>, << >>, << Ref("10", 0) >>),
               ExecJob(<< Ref("10", 0) >>, << Ref("11", 0) >>, 0) >>]

\* R9: t1 maps pages 0-1 while t2 unmaps them, both async, no syncs: the
\* tree follows the submit order, and with one bind queue so do the runs;
\* with a queue per thread the unmap can run (and be freed) first.
TwoQueueProgs ==
    [t1 |-> << AsyncBind(<< MapOp(0, 2, "1", 0) >>, << >>, << >>) >>,
     t2 |-> << AsyncBind(<< UnmapOp(0, 2) >>, << >>, << >>) >>]

\* The definitions the configurations bind Programs to (Programs <- ...).
\* TLC evaluates such a definition again wherever the constant is used,
\* but evaluates the definitions it names only once, at start: so each
\* program set is written once above and bound through a one-name alias.
SmallPrograms == SmallProgs
MainPrograms == MainProgs
SyncPrograms == SyncProgs
PushZeroPrograms == PushZeroProgs
TwoQueuePrograms == TwoQueueProgs

(**************************** How TLC runs *********************************)

\* The configuration, printed once at start for the checker (the codec
\* builds the Python model from it).
ThreadSeq == CHOOSE s \in [1 .. Cardinality(Threads) -> Threads] :
                 {s[k] : k \in DOMAIN s} = Threads
ASSUME PrintT("@config" \o ToString([threads |-> ThreadSeq, np |-> NP, bos |-> Bos,
                                      syncs |-> Syncs, timeline |-> Timeline,
                                      programs |-> Programs, profile |-> Profile,
                                      bug |-> Bug]))

\* For `gpuvm-check conform`: the real steps (not Terminated, so every
\* printed line is a real step; run with -deadlock), each printed as one
\* line that the conformance check replays into the model.
MCPrintNext ==
    /\ Step
    /\ PrintT("@step" \o ToString(<<Observed, lastAct', Observed'>>))

=============================================================================
