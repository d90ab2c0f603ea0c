----------------------------- MODULE MCDrmExec ------------------------------
(***************************************************************************)
(* Bounded models of DrmExec for TLC.  The bounds live here and in the     *)
(* MCDrmExec*.cfg files only; each says why it is enough.                  *)
(*                                                                         *)
(*   MCDrmExec.cfg           wound-wait, three threads whose lists overlap *)
(*                           in a cycle: every safety property,            *)
(*                           Termination, no deadlock                      *)
(*   MCDrmExecWaitDie.cfg    the same with wait-die                        *)
(*   MCDrmExecDups.cfg       a list naming an object twice, with           *)
(*                           DRM_EXEC_IGNORE_DUPLICATES                    *)
(*   MCDrmExecDupsRejected.cfg  the same list without it: -EALREADY ends   *)
(*                           the loop unless it is the prelocked object    *)
(*   MCDrmExecLongBackoff.cfg  a pass that backs off two objects           *)
(*   MCDrmExecSmall*.cfg     two threads in opposite order, two rounds,    *)
(*                           each ww_class kind; `gpuvm-check conform`     *)
(*                           replays every transition of them into the     *)
(*                           model (NEXT MCPrintNext)                      *)
(*   MCDrmExec<Bug>*.cfg     a known-bad variant (DrmExec's Bug constant): *)
(*                           must give the result its header names         *)
(*                                                                         *)
(* The state space is finite without constraints: a ticket's stamp only    *)
(* grows at init, so the class counter stays at most the number of rounds  *)
(* of all threads, and a pass that backs off returns to states already     *)
(* seen.                                                                   *)
(***************************************************************************)
EXTENDS DrmExec, TLC

(***************************** Bounds **************************************)

\* Three threads over three objects, each wanting two, in a cycle: t1
\* a then b, t2 b then c, t3 c then a.  Every pair of threads shares one
\* object, and the three lists form the wait-for cycle that deadlocks
\* plain mutexes, so each thread can be the one that waits, the one that
\* is wounded or dies, or the one that wins; every pair's contention can
\* happen with the third thread holding, waiting or done.  Two threads
\* give only one such pair (the small models); a fourth thread or object
\* only adds longer cycles of the same kind.
CycleObjs == {"a", "b", "c"}
CycleWant == [t1 |-> <<"a", "b">>, t2 |-> <<"b", "c">>, t3 |-> <<"c", "a">>]

\* Two threads locking two objects in opposite order: the smallest system
\* where ww_mutex's -EDEADLK is needed at all.  Two rounds: the second
\* ticket of a thread is younger than the other thread's first one, so
\* each thread is the older one in some round.
PairObjs == {"a", "b"}
PairWant == [t1 |-> <<"a", "b">>, t2 |-> <<"b", "a">>]

\* Duplicates: t1 meets a again after b, while it holds a (the -EALREADY
\* that drm_exec must accept), against t2 in opposite order, so the pass
\* with the duplicate can also be one restarted from the slow path (b
\* prelocked).
DupWant == [t1 |-> <<"a", "b", "a">>, t2 |-> <<"b", "a">>]

\* Without the flag: t1 meets b twice, so its second b is the -EALREADY
\* error when t1 locked b in the pass, and accepted when b is the object
\* it took on the slow path after backing off for it (t2 wounded holding
\* b, or older).  With t1's a repeated instead, the slow path could never
\* take the repeated object (t1 holds nothing when it first asks for a).
RejectWant == [t1 |-> <<"a", "b", "b">>, t2 |-> <<"b", "a">>]

\* A back-off of more than one object: t1 locks a and b before it can
\* meet t2 on c, so its -EDEADLK (t1 younger, or wounded by t2 asking for
\* b) unlocks two objects, newest first, before the slow path.  In the
\* other models every list is two objects long and a pass backs off at
\* most one.
LongWant == [t1 |-> <<"a", "b", "c">>, t2 |-> <<"c", "b">>]

(**************************** How TLC runs *********************************)

\* The configuration, printed once at start for the checker (the codec
\* builds the Python model from it).
ThreadSeq == CHOOSE s \in [1 .. Cardinality(Threads) -> Threads] :
                 {s[k] : k \in DOMAIN s} = Threads
ASSUME PrintT("@config" \o ToString([threads |-> ThreadSeq, want |-> Want,
                                      rounds |-> Rounds, algorithm |-> Algorithm,
                                      dups |-> Dups, bug |-> Bug]))

\* For `gpuvm-check conform`: the threads' steps (not Terminated, so every
\* printed line is a real step; run with -deadlock), each printed as one
\* line that the conformance check replays into the model.
MCPrintNext ==
    /\ \E t \in Threads : Step(t)
    /\ PrintT("@step" \o ToString(<<Observed, lastAct', Observed'>>))

=============================================================================
