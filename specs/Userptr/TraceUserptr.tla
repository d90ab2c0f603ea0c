---------------------------- MODULE TraceUserptr ----------------------------
(***************************************************************************)
(* Trace validation: does Userptr allow each recorded run of the model?    *)
(*                                                                         *)
(* TraceUserptrData (written by `gpuvm-check conform` next to a copy of    *)
(* this module, never into specs/) EXTENDS Userptr and holds the runs of   *)
(* one configuration, and the configuration itself:                        *)
(*   Tr* constants    the pages, userptrs and their ranges and order, the  *)
(*                    GTs, the mode, the bounds, the written pages, the    *)
(*                    populate failures, the profile and the variant       *)
(*                    (bound to Userptr's constants with <- in the         *)
(*                    configuration);                                      *)
(*   Tables[x]        the distinct values of logged variable x, in         *)
(*                    Userptr's encoding (as Observed gives them: GPU PTEs *)
(*                    as <<userptr, page, frame>> triples, TLB entries     *)
(*                    unlike their PTE as <<gt, userptr, page, frame>>,    *)
(*                    DMA mappings as <<userptr, frame, count>>);          *)
(*   Traces[t][k]     state k of run t: [a |-> action name, p |-> the      *)
(*                    action's arguments in the order of Userptr's action  *)
(*                    table (<<p, ev>> for InvStart, <<u>> for the         *)
(*                    callback's steps and the fault handler's, <<p>> for  *)
(*                    CpuUpdate and InvEnd, <<t, u>> for the populate and  *)
(*                    bind steps, <<g, u, p, rw>> for GpuAccess, <<>> for  *)
(*                    the others), v |-> <<the index into Tables[x] of     *)
(*                    each logged variable x, in the order of Logged>>].   *)
(*   Logged           the names of the logged variables, in that order.    *)
(*   DoAction(n, p)   Userptr's action named n applied to p (generated     *)
(*                    from the model's action vocabulary).                 *)
(*                                                                         *)
(* TLC picks every run t in TraceInit and follows it: a recorded step is   *)
(* matched only by Userptr's action of that name and arguments leading to  *)
(* a state whose logged variables (a subset of Observed) equal the record. *)
(* Up to MaxHidden of Userptr's Internal steps (the PT queue's and the     *)
(* GPU's: a log of the kernel threads and the mm alone leaves them out)    *)
(* may come between two logged ones: the partial mode, for runs that log   *)
(* only some variables and only the kernel's and the mm's steps.  With     *)
(* MaxHidden = 0 and every variable logged the match is exact.  Every      *)
(* match prints "@m <<t, k>>"; the checker reads the prints: a run is      *)
(* allowed iff all its states are matched, and the first one never matched *)
(* is where it leaves the spec.  The configuration also checks Userptr's   *)
(* invariants on every state.                                              *)
(*                                                                         *)
(* Not compared: lastAct, which Userptr computes along the run.  The end   *)
(* of a run is Done, as in TraceXeBind.  Every value of Observed is a      *)
(* string, an integer, a boolean, or a set, record, function or tuple of   *)
(* them; functions over the pages and frames have domains from 0 (TLC      *)
(* prints them with :> and @@, never as tuples), the ones over a userptr's *)
(* pages are in Observed as sets of tuples for that reason.                *)
(***************************************************************************)
EXTENDS Integers, Sequences, TLC, TraceUserptrData

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
