---------------------------- MODULE TraceDrmExec ----------------------------
(***************************************************************************)
(* Trace validation: does DrmExec allow each recorded run of the model?    *)
(*                                                                         *)
(* TraceDrmExecData (written by `gpuvm-check conform` next to a copy of    *)
(* this module, never into specs/) EXTENDS DrmExec and holds the runs of   *)
(* one configuration, and the configuration itself:                        *)
(*   Tr* constants    the threads, objects, lists, rounds, ww_class kind,  *)
(*                    duplicates flag and variant (bound to DrmExec's      *)
(*                    constants with <- in the configuration);             *)
(*   Tables[x]        the distinct values of logged variable x, in         *)
(*                    DrmExec's encoding;                                  *)
(*   Traces[t][k]     state k of run t: [a |-> action name, p |-> <<the    *)
(*                    thread>>, v |-> <<the index into Tables[x] of each   *)
(*                    logged variable x, in the order of Logged>>].        *)
(*   Logged           the names of the logged variables, in that order.    *)
(*   DoAction(n, p)   DrmExec's action named n applied to thread p[1]      *)
(*                    (generated from the model's action vocabulary).      *)
(*                                                                         *)
(* TLC picks every run t in TraceInit and follows it: a recorded step is   *)
(* matched only by DrmExec's action of that name and thread leading to a   *)
(* state whose logged variables (a subset of Observed) equal the record.   *)
(* Up to MaxHidden of DrmExec's Internal steps (ww_acquire_init,           *)
(* ww_acquire_done, ww_acquire_fini: bookkeeping an implementation's log   *)
(* leaves out) may come between two logged ones: the partial mode, for     *)
(* runs that log only some variables and only the lock and unlock steps.   *)
(* With MaxHidden = 0 and every variable logged the match is exact.  Every *)
(* match prints "@m <<t, k>>"; the checker reads the prints: a run is      *)
(* allowed iff all its states are matched, and the first one never matched *)
(* is where it leaves the spec.  The configuration also checks DrmExec's   *)
(* invariants on every state.                                              *)
(*                                                                         *)
(* Not compared: lastAct, which DrmExec computes along the run.  The       *)
(* operator TraceVmBo calls Done is Finished here (DrmExec has a Done).    *)
(***************************************************************************)
EXTENDS Integers, Sequences, TLC, TraceDrmExecData

CONSTANT
    MaxHidden       \* unlogged internal steps allowed between two logged ones

VARIABLES
    t,              \* the run being followed
    i,              \* how many of its states have been matched
    h               \* internal steps taken since the last match

traceVars == <<vars, t, i, h>>

\* The logged variables of recorded state st agree with the spec's state.
Matches(st) ==
    \A k \in DOMAIN st.v : Observed[Logged[k]] = Tables[Logged[k]][st.v[k]]
MatchesNext(st) ==
    \A k \in DOMAIN st.v : Observed'[Logged[k]] = Tables[Logged[k]][st.v[k]]

-----------------------------------------------------------------------------
(******************************** Init *************************************)

TraceInit ==
    /\ t \in 1 .. Len(Traces)
    /\ i = 1
    /\ h = 0
    /\ Init
    /\ Matches(Traces[t][1])
    /\ PrintT("@m" \o ToString(<<t, 1>>))

-----------------------------------------------------------------------------
(******************************* Actions ***********************************)

\* Match the next recorded state of run t.
Follow ==
    /\ i < Len(Traces[t])
    /\ LET st == Traces[t][i + 1] IN
          /\ DoAction(st.a, st.p)
          /\ MatchesNext(st)
    /\ i' = i + 1
    /\ h' = 0
    /\ t' = t
    /\ PrintT("@m" \o ToString(<<t, i + 1>>))

\* An internal step of the spec the implementation does not log.
Hidden ==
    /\ h < MaxHidden
    /\ i < Len(Traces[t])
    /\ Internal
    /\ h' = h + 1
    /\ UNCHANGED <<t, i>>

\* The run is over.
Finished == i = Len(Traces[t]) /\ UNCHANGED traceVars

-----------------------------------------------------------------------------
(******************************** Next *************************************)

TraceNext == Follow \/ Hidden \/ Finished

=============================================================================
