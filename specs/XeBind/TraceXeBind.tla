---------------------------- MODULE TraceXeBind -----------------------------
(***************************************************************************)
(* Trace validation: does XeBind allow each recorded run of the model?     *)
(*                                                                         *)
(* TraceXeBindData (written by `gpuvm-check conform` next to a copy of     *)
(* this module, never into specs/) EXTENDS XeBind and holds the runs of    *)
(* one configuration, and the configuration itself:                        *)
(*   Tr* constants    the threads, pages, bos, programs, profile and       *)
(*                    variant (bound to XeBind's constants with <- in the  *)
(*                    configuration);                                      *)
(*   Tables[x]        the distinct values of logged variable x, in         *)
(*                    XeBind's encoding (pte as Observed gives it: the set *)
(*                    of <<page, entry>> pairs of the mapped pages);       *)
(*   Traces[t][k]     state k of run t: [a |-> action name, p |-> the      *)
(*                    action's arguments (<<thread>> for Bind and Restart, *)
(*                    <<>> for Work), v |-> <<the index into Tables[x] of  *)
(*                    each logged variable x, in the order of Logged>>].   *)
(*   Logged           the names of the logged variables, in that order.    *)
(*   DoAction(n, p)   XeBind's action named n applied to p (generated from *)
(*                    the model's action vocabulary).                      *)
(*                                                                         *)
(* TLC picks every run t in TraceInit and follows it: a recorded step is   *)
(* matched only by XeBind's action of that name and arguments leading to a *)
(* state whose logged variables (a subset of Observed) equal the record.   *)
(* Up to MaxHidden of XeBind's Internal steps (the worker's: a log of the  *)
(* ioctls alone leaves them out) may come between two logged ones: the     *)
(* partial mode, for runs that log only some variables and only the        *)
(* VM_BIND and RESTART ioctls.  With MaxHidden = 0 and every variable      *)
(* logged the match is exact.  Every match prints "@m <<t, k>>"; the       *)
(* checker reads the prints: a run is allowed iff all its states are       *)
(* matched, and the first one never matched is where it leaves the spec.   *)
(* The configuration also checks XeBind's invariants on every state.       *)
(*                                                                         *)
(* Not compared: lastAct, which XeBind computes along the run.  The end of *)
(* a run is Done, as in TraceVmBo (XeBind has a Finished of its own).      *)
(* A logged pending whose ops have the same ids, kinds, fences and fail    *)
(* sets as the spec's but whose prev or next is "none" where the spec's is *)
(* a VMA (or the other way round) stops TLC with an error instead of a     *)
(* mismatch: TLC cannot compare a string with a record.                    *)
(***************************************************************************)
EXTENDS Integers, Sequences, TLC, TraceXeBindData

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
Done == i = Len(Traces[t]) /\ UNCHANGED traceVars

-----------------------------------------------------------------------------
(******************************** Next *************************************)

TraceNext == Follow \/ Hidden \/ Done

=============================================================================
