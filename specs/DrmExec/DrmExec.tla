------------------------------ MODULE DrmExec -------------------------------
(***************************************************************************)
(* drm_exec (seed 001, patches 01/16 and 02/16): the loop that locks all   *)
(* the GEM objects of one submission, over the resvs' ww_mutexes (one      *)
(* ww_class), run by several threads at once.                              *)
(*                                                                         *)
(* Each thread runs Rounds rounds; a round is                              *)
(*   init     ww_acquire_init: a ticket with a fresh stamp;                *)
(*   lock     the loop's passes over the thread's own list Want[t] (it     *)
(*            may name an object twice), one object per step;              *)
(*   backoff  after -EDEADLK: unlock what the pass locked, newest first;   *)
(*   slow     lock the contended object on the slow path, then restart     *)
(*            the pass (that object is "prelocked": meeting it again is    *)
(*            not a duplicate);                                            *)
(*   done     ww_acquire_done: the loop has everything;                    *)
(*   unlock   drm_exec_fini's unlock of every locked object, newest first; *)
(*   fini     its ww_acquire_fini and the put of a leftover contention     *)
(*            reference.                                                   *)
(* One action is one such kernel step of one thread.  A step that would    *)
(* sleep on a mutex is not enabled: the thread waits until the holder      *)
(* lets go, or (wound-wait) until it is wounded itself.                    *)
(*                                                                         *)
(* The ww_mutex rules, ticket against holder (smaller stamp = older;       *)
(* contexts are ordered by stamp alone):                                   *)
(*   wait-die    a younger ticket that already holds a lock gets -EDEADLK; *)
(*               an older one waits;                                       *)
(*   wound-wait  an older ticket holding a lock wounds the holder and      *)
(*               waits (one holding nothing just waits); a wounded         *)
(*               ticket holding a lock gets -EDEADLK at its next           *)
(*               contention; a ticket holding nothing is not wounded any   *)
(*               more once it takes a lock.                                *)
(* The slow path never gets -EDEADLK (the ticket holds nothing).  Locking  *)
(* a resv the ticket already holds gives -EALREADY: fine for the           *)
(* prelocked object and, with Dups (DRM_EXEC_IGNORE_DUPLICATES), for any;  *)
(* otherwise an error that ends the loop (the caller goes to fini).        *)
(*                                                                         *)
(* GEM references: drm_exec holds one per entry of its locked array and    *)
(* one on the contended object (taken at -EDEADLK; on the slow path it     *)
(* becomes the locked entry's).  Patch 02/16 removed a second, never put,  *)
(* reference per prepared object; refs counts the fixed code.              *)
(*                                                                         *)
(* Known-bad variants (Bug): "no_backoff" (after -EDEADLK go to the slow   *)
(* path keeping every lock), "no_contended_first" (after backing off,      *)
(* restart the pass without taking the contended object first, dropping    *)
(* it), "stale_stamp" (a ticket's stamp from the thread's own previous one *)
(* instead of the class counter, so two tickets can tie).                  *)
(*                                                                         *)
(* Not modelled: fence slots and dma_resv_reserve_fences, -ENOMEM and      *)
(* -EINTR (interruptible locks), the critical section's work (between done *)
(* and unlock), GEM objects sharing a resv, the order of a mutex's waiters *)
(* (a freed lock goes to whichever waiter steps first; so wait-die's rule  *)
(* that a waiter queued behind an older one dies is absent too).           *)
(*                                                                         *)
(* Departures, kept on purpose (the step interface of the Python model):   *)
(* the seed's drm_exec has no duplicates flag and accepts every -EALREADY, *)
(* keeping a reference per duplicate in its duplicates container; here     *)
(* -EALREADY is accepted for the prelocked object (the one actually taken  *)
(* on the slow path, as mainline does, not the seed's guess "the first     *)
(* locked object") and, with Dups, for any object, both without a          *)
(* reference. The prelocked object stays exempt for the whole pass         *)
(* (mainline exempts it once). As ww_mutex does, only a ticket that holds *)
(* a lock wounds (a waiter holding nothing, as on the slow path, just      *)
(* waits). A ticket's wounded flag is cleared when it takes a lock while   *)
(* holding nothing (ww_mutex clears it when such a lock attempt starts:    *)
(* nobody can wound a ticket that holds nothing, so the two agree on every *)
(* -EDEADLK).                                                              *)
(*                                                                         *)
(* Two layers.  Sections "Init" to "Next" are the algorithm, at the step   *)
(* granularity of the Python model.  The properties at the end are written *)
(* again from the seed's prose and the notes (invariant 36, R2, R12): they *)
(* use none of the action operators, so a bug variant cannot change what   *)
(* is checked.                                                             *)
(*                                                                         *)
(* Every variable is the model's abstract state (Observed) in exactly its  *)
(* encoding, except lastAct, the spec's own.                               *)
(***************************************************************************)
EXTENDS Integers, Sequences, FiniteSets

CONSTANTS
    Threads,        \* the threads, each with its own drm_exec and ticket
    Objs,           \* the GEM objects (each with a resv of its own)
    Want,           \* thread -> the objects its loop prepares, in order (may repeat)
    Rounds,         \* rounds per thread (init, loop, critical section, fini)
    Algorithm,      \* the ww_class's kind: "wound_wait" or "wait_die"
    Dups,           \* DRM_EXEC_IGNORE_DUPLICATES: -EALREADY is fine for any object
    Bug             \* "none" or a known-bad variant (see above)

VARIABLES
    owner,      \* object -> the thread holding its resv, or ""
    pc,         \* thread -> its next step
    held,       \* thread -> drm_exec's locked array, in lock order
    idx,        \* thread -> how many entries of Want[t] this pass has dealt with
    contended,  \* thread -> the object it backed off for, or ""
    pre,        \* thread -> the object this pass took on the slow path, or ""
    stamp,      \* thread -> the stamp of its current or last ticket (0: none yet)
    wounded,    \* thread -> its ticket is wounded
    rounds,     \* thread -> rounds finished
    clock,      \* the ww_class's stamp counter: the last stamp handed out
    refs,       \* object -> GEM references drm_exec holds on it
    lastErr,    \* what the last step returned: "OK", "EDEADLK" or "EALREADY"
    lastAct     \* auxiliary: the last action's name and arguments

vars == <<owner, pc, held, idx, contended, pre, stamp, wounded, rounds, clock,
          refs, lastErr, lastAct>>

-----------------------------------------------------------------------------
(***************************** Types ***************************************)

None == ""
Pcs == {"init", "lock", "slow", "backoff", "done", "unlock", "fini", "end"}
Errs == {"OK", "EDEADLK", "EALREADY"}
ActNames == {"AcquireInit", "Lock", "SlowLock", "Backoff", "Done", "Unlock", "Fini"}
Bugs == {"none", "no_backoff", "no_contended_first", "stale_stamp"}

ASSUME None \notin Threads /\ None \notin Objs
ASSUME \A t \in Threads : Want[t] \in Seq(Objs) /\ Len(Want[t]) >= 1
ASSUME Rounds \in Nat /\ Rounds >= 1
ASSUME Algorithm \in {"wound_wait", "wait_die"}
ASSUME Dups \in BOOLEAN
ASSUME Bug \in Bugs

-----------------------------------------------------------------------------
(******************************** Init *************************************)

Init ==
    /\ owner = [o \in Objs |-> None]
    /\ pc = [t \in Threads |-> "init"]
    /\ held = [t \in Threads |-> <<>>]
    /\ idx = [t \in Threads |-> 0]
    /\ contended = [t \in Threads |-> None]
    /\ pre = [t \in Threads |-> None]
    /\ stamp = [t \in Threads |-> 0]
    /\ wounded = [t \in Threads |-> FALSE]
    /\ rounds = [t \in Threads |-> 0]
    /\ clock = 0
    /\ refs = [o \in Objs |-> 0]
    /\ lastErr = "OK"
    /\ lastAct = [name |-> "Init", args |-> <<>>]

-----------------------------------------------------------------------------
(******************************* Actions ***********************************)

Act(name, t) == lastAct' = [name |-> name, args |-> [thread |-> t]]

Front(s) == SubSeq(s, 1, Len(s) - 1)
Last(s) == s[Len(s)]

\* ww_acquire_init: a new ticket.  Its stamp is the class counter's next
\* value (stale_stamp: one more than the thread's previous ticket).
AcquireInit(t) ==
    /\ pc[t] = "init"
    /\ IF Bug = "stale_stamp"
       THEN /\ stamp' = [stamp EXCEPT ![t] = @ + 1]
            /\ clock' = clock
       ELSE /\ stamp' = [stamp EXCEPT ![t] = clock + 1]
            /\ clock' = clock + 1
    /\ wounded' = [wounded EXCEPT ![t] = FALSE]
    /\ idx' = [idx EXCEPT ![t] = 0]
    /\ pc' = [pc EXCEPT ![t] = "lock"]
    /\ lastErr' = "OK"
    /\ Act("AcquireInit", t)
    /\ UNCHANGED <<owner, held, contended, pre, rounds, refs>>

\* -EDEADLK on object o: drm_exec keeps a reference on o as the contended
\* object and the pass ends; the thread backs off (no_backoff: goes to
\* the slow path at once).  w is the wounded map after the step.
Deadlock(t, o, w) ==
    /\ contended' = [contended EXCEPT ![t] = o]
    /\ refs' = [refs EXCEPT ![o] = @ + 1]
    /\ wounded' = w
    /\ pc' = [pc EXCEPT ![t] = IF Bug = "no_backoff" THEN "slow" ELSE "backoff"]
    /\ lastErr' = "EDEADLK"
    /\ UNCHANGED <<owner, held, idx, pre, stamp, rounds, clock>>

\* Only the wounded map changes: the step wounds another ticket and the
\* thread goes on waiting.
WoundOnly(w) ==
    /\ w # wounded
    /\ wounded' = w
    /\ lastErr' = "OK"
    /\ UNCHANGED <<owner, pc, held, idx, contended, pre, stamp, rounds, clock, refs>>

\* drm_exec_prepare_obj on the next object of the pass (the slow-path
\* lock of the contended object is SlowLock, before it).
Lock(t) ==
    /\ pc[t] = "lock"
    /\ Act("Lock", t)
    /\ LET o == Want[t][idx[t] + 1]
           after == IF idx[t] + 1 = Len(Want[t]) THEN "done" ELSE "lock"
           u == owner[o]
       IN CASE u = None ->
                 \* the resv is free: locked, into the locked array
                 /\ owner' = [owner EXCEPT ![o] = t]
                 /\ held' = [held EXCEPT ![t] = Append(@, o)]
                 /\ refs' = [refs EXCEPT ![o] = @ + 1]
                 /\ idx' = [idx EXCEPT ![t] = @ + 1]
                 /\ pc' = [pc EXCEPT ![t] = after]
                 /\ wounded' = IF held[t] = <<>> THEN [wounded EXCEPT ![t] = FALSE]
                               ELSE wounded
                 /\ lastErr' = "OK"
                 /\ UNCHANGED <<contended, pre, stamp, rounds, clock>>
            [] u = t ->
                 \* -EALREADY: this ticket holds it already
                 IF o = pre[t] \/ Dups
                 THEN /\ idx' = [idx EXCEPT ![t] = @ + 1]
                      /\ pc' = [pc EXCEPT ![t] = after]
                      /\ lastErr' = "OK"
                      /\ UNCHANGED <<owner, held, contended, pre, stamp, wounded,
                                     rounds, clock, refs>>
                 ELSE /\ pc' = [pc EXCEPT ![t] = IF held[t] = <<>> THEN "fini" ELSE "unlock"]
                      /\ lastErr' = "EALREADY"
                      /\ UNCHANGED <<owner, held, idx, contended, pre, stamp, wounded,
                                     rounds, clock, refs>>
            [] OTHER ->
                 \* another ticket holds it
                 IF Algorithm = "wait_die"
                 THEN /\ held[t] # <<>>
                      /\ stamp[t] > stamp[u]
                      /\ Deadlock(t, o, wounded)
                 ELSE LET w == IF held[t] # <<>> /\ stamp[t] < stamp[u]
                               THEN [wounded EXCEPT ![u] = TRUE] ELSE wounded
                      IN IF held[t] # <<>> /\ wounded[t] THEN Deadlock(t, o, w)
                         ELSE WoundOnly(w)

\* drm_exec_lock_contended: the contended object on the slow path; the
\* contention reference becomes the locked entry's.
SlowLock(t) ==
    /\ pc[t] = "slow"
    /\ contended[t] # None
    /\ Act("SlowLock", t)
    /\ LET c == contended[t]
           u == owner[c]
       IN IF u = None
          THEN /\ owner' = [owner EXCEPT ![c] = t]
               /\ held' = [held EXCEPT ![t] = Append(@, c)]
               /\ contended' = [contended EXCEPT ![t] = None]
               /\ pre' = [pre EXCEPT ![t] = c]
               /\ wounded' = [wounded EXCEPT ![t] = FALSE]
               /\ pc' = [pc EXCEPT ![t] = "lock"]
               /\ lastErr' = "OK"
               /\ UNCHANGED <<idx, stamp, rounds, clock, refs>>
          ELSE /\ u # t
               /\ Algorithm = "wound_wait"
               /\ held[t] # <<>>          \* only a ticket holding a lock wounds
               /\ stamp[t] < stamp[u]
               /\ WoundOnly([wounded EXCEPT ![u] = TRUE])

\* drm_exec_cleanup after a contention: unlock the newest locked object;
\* after the last one, the next pass starts from the slow path.
Backoff(t) ==
    /\ pc[t] = "backoff"
    /\ held[t] # <<>>
    /\ Act("Backoff", t)
    /\ LET o == Last(held[t])
           lastOne == Len(held[t]) = 1
           forget == lastOne /\ Bug = "no_contended_first"
           c == contended[t]
       IN /\ owner' = [owner EXCEPT ![o] = None]
          /\ held' = [held EXCEPT ![t] = Front(@)]
          /\ refs' = [x \in Objs |-> refs[x] - (IF x = o THEN 1 ELSE 0)
                                             - (IF forget /\ x = c THEN 1 ELSE 0)]
          /\ contended' = IF forget THEN [contended EXCEPT ![t] = None] ELSE contended
          /\ pc' = [pc EXCEPT ![t] = IF ~lastOne THEN "backoff"
                                     ELSE IF forget THEN "lock" ELSE "slow"]
          /\ idx' = IF lastOne THEN [idx EXCEPT ![t] = 0] ELSE idx
          /\ pre' = IF lastOne THEN [pre EXCEPT ![t] = None] ELSE pre
          /\ lastErr' = "OK"
          /\ UNCHANGED <<stamp, wounded, rounds, clock>>

\* ww_acquire_done: the loop is left with everything locked.
Done(t) ==
    /\ pc[t] = "done"
    /\ pc' = [pc EXCEPT ![t] = IF held[t] = <<>> THEN "fini" ELSE "unlock"]
    /\ lastErr' = "OK"
    /\ Act("Done", t)
    /\ UNCHANGED <<owner, held, idx, contended, pre, stamp, wounded, rounds, clock, refs>>

\* drm_exec_fini: unlock the newest locked object and put its reference.
Unlock(t) ==
    /\ pc[t] = "unlock"
    /\ held[t] # <<>>
    /\ Act("Unlock", t)
    /\ LET o == Last(held[t])
       IN /\ owner' = [owner EXCEPT ![o] = None]
          /\ held' = [held EXCEPT ![t] = Front(@)]
          /\ refs' = [refs EXCEPT ![o] = @ - 1]
          /\ pc' = [pc EXCEPT ![t] = IF Len(held[t]) = 1 THEN "fini" ELSE "unlock"]
          /\ lastErr' = "OK"
          /\ UNCHANGED <<idx, contended, pre, stamp, wounded, rounds, clock>>

\* drm_exec_fini's end: a leftover contention reference is put, the
\* ticket finished; the round is over.
Fini(t) ==
    /\ pc[t] = "fini"
    /\ Act("Fini", t)
    /\ LET c == contended[t]
       IN /\ refs' = IF c # None THEN [refs EXCEPT ![c] = @ - 1] ELSE refs
          /\ contended' = [contended EXCEPT ![t] = None]
          /\ pre' = [pre EXCEPT ![t] = None]
          /\ idx' = [idx EXCEPT ![t] = 0]
          /\ wounded' = [wounded EXCEPT ![t] = FALSE]
          /\ rounds' = [rounds EXCEPT ![t] = @ + 1]
          /\ pc' = [pc EXCEPT ![t] = IF rounds[t] + 1 < Rounds THEN "init" ELSE "end"]
          /\ lastErr' = "OK"
          /\ UNCHANGED <<owner, held, stamp, clock>>

-----------------------------------------------------------------------------
(******************************** Next *************************************)

Step(t) ==
    \/ AcquireInit(t)
    \/ Lock(t)
    \/ SlowLock(t)
    \/ Backoff(t)
    \/ Done(t)
    \/ Unlock(t)
    \/ Fini(t)

\* Every thread has finished its rounds: the system stutters, so that
\* TLC's deadlock check reports only states where some thread is stuck.
Terminated == (\A t \in Threads : pc[t] = "end") /\ UNCHANGED vars

Next == (\E t \in Threads : Step(t)) \/ Terminated

\* Weak fairness of each thread.  A thread waiting for a held lock has no
\* step enabled; one that can take a free lock, or wound the holder, keeps
\* that step enabled until it takes it or the lock changes hands.  There
\* is no queue of waiters (a freed lock goes to whichever thread steps
\* first), so a waiter could in principle lose a freed lock to others for
\* ever, which only strong fairness would rule out; TLC finds no such run
\* in the bounded models (the pass configs check Termination under this
\* weak fairness), so strong fairness is not needed there.
Fairness == \A t \in Threads : WF_vars(Step(t))

Spec == Init /\ [][Next]_vars /\ Fairness

\* The model's abstract variables, as the trace checker and the
\* conformance printer compare them.
Observed == [owner |-> owner, pc |-> pc, held |-> held, idx |-> idx,
             contended |-> contended, pre |-> pre, stamp |-> stamp,
             wounded |-> wounded, rounds |-> rounds, clock |-> clock,
             refs |-> refs, lastErr |-> lastErr]

\* The steps an implementation's log leaves out.
Internal == \E t \in Threads : AcquireInit(t) \/ Done(t) \/ Fini(t)

-----------------------------------------------------------------------------
(************************* Invariants and properties ***********************)
(* Written from the seed's prose (drm_exec.c's overview and kernel-doc)    *)
(* and the notes (section 5 "drm_exec", invariant 36, R2, R12), with their *)
(* own counting: nothing below uses an action operator above.              *)

Elems(s) == {s[k] : k \in DOMAIN s}
Holders(o) == {t \in Threads : o \in Elems(held[t])}
Live(t) == pc[t] \notin {"init", "end"}

\* Every variable holds what its comment says.
TypeOK ==
    /\ owner \in [Objs -> Threads \cup {None}]
    /\ pc \in [Threads -> Pcs]
    /\ held \in [Threads -> Seq(Objs)]
    /\ idx \in [Threads -> Nat]
    /\ \A t \in Threads : idx[t] <= Len(Want[t])
    /\ contended \in [Threads -> Objs \cup {None}]
    /\ pre \in [Threads -> Objs \cup {None}]
    /\ stamp \in [Threads -> Nat]
    /\ wounded \in [Threads -> BOOLEAN]
    /\ rounds \in [Threads -> 0 .. Rounds]
    /\ clock \in Nat
    /\ refs \in [Objs -> Nat]
    /\ lastErr \in Errs
    /\ lastAct.name \in ActNames \cup {"Init"}

\* A resv is a mutex: its owner has it in its locked array, everything in
\* a locked array is owned by that thread, so no object is held by two.
MutualExclusion ==
    /\ \A o \in Objs : owner[o] # None => o \in Elems(held[owner[o]])
    /\ \A t \in Threads : \A o \in Elems(held[t]) : owner[o] = t
    /\ \A o \in Objs : Cardinality(Holders(o)) <= 1

\* The locked array never names an object twice (R2: a duplicate is not
\* locked again, so fini does not unlock it twice).
LockedOnce ==
    \A t \in Threads : \A j, k \in DOMAIN held[t] : j # k => held[t][j] # held[t][k]

\* Invariant 36: when the loop is left, every object the thread asked for
\* is locked, each exactly once, and nothing else.
AllLockedOnExit ==
    \A t \in Threads : pc[t] = "done" =>
        /\ Elems(held[t]) = Elems(Want[t])
        /\ Len(held[t]) = Cardinality(Elems(Want[t]))

\* R12: drm_exec's references are exactly one per locked entry and one
\* per pending contention.
RefsInv ==
    \A o \in Objs :
        refs[o] = Cardinality(Holders(o)) + Cardinality({t \in Threads : contended[t] = o})

\* Invariant 36: after fini every resv is unlocked and every reference
\* dropped.
BaselineInv ==
    (\A t \in Threads : pc[t] = "end") =>
        \A o \in Objs : refs[o] = 0 /\ owner[o] = None

\* The back-off discipline (invariant 36, the overview): a thread locks
\* the contended object on the slow path only after unlocking everything.
BackoffDiscipline ==
    \A t \in Threads : pc[t] = "slow" => held[t] = <<>> /\ contended[t] # None

\* The ww_class hands out a new stamp to each ticket: live contexts never
\* tie (otherwise neither would give way).
DistinctStamps ==
    \A t, u \in Threads : t # u /\ Live(t) /\ Live(u) => stamp[t] # stamp[u]

\* The object taken on the slow path stays first in the locked array for
\* the rest of the round (the "contended one first" of the overview).
ContendedFirst ==
    \A t \in Threads : pre[t] # None /\ held[t] # <<>> => held[t][1] = pre[t]

\* Every thread finishes all its rounds: no deadlock, no livelock.
Termination == <>(\A t \in Threads : pc[t] = "end")

\* -------- step properties (action formulas, checked by [][...]_vars) ----

\* Invariant 36: a pass starts again (a thread enters "lock" other than
\* from a fresh ticket or the pass itself) only from the slow path,
\* holding the contended object and nothing else.
RetryStep ==
    \A t \in Threads :
        pc'[t] = "lock" /\ pc[t] \notin {"init", "lock"} =>
            /\ pc[t] = "slow"
            /\ held'[t] = <<contended[t]>>

RetryDiscipline == [][RetryStep]_vars

\* Wait-die (invariant 36, "older ticket wins"): a thread that gets
\* -EDEADLK is younger than some other live context holding a lock.
OlderWinsStep ==
    \A t \in Threads :
        contended'[t] # None /\ contended[t] = None /\ lastErr' = "EDEADLK" =>
            \E u \in Threads : u # t /\ held[u] # <<>> /\ stamp[u] < stamp[t]

OlderWins == [][OlderWinsStep]_vars

=============================================================================
