---------------------------- MODULE TraceGpuVm ----------------------------
(***************************************************************************)
(* Trace validation: does GpuVm allow each recorded run of the model?     *)
(*                                                                         *)
(* TraceGpuVmData (written by `gpuvm-check conform gpuvm` next to a copy   *)
(* of this module, never into specs/) holds the recorded runs compactly:   *)
(*   VasTable, OpsTable  the distinct values of vas and of lastOps, in     *)
(*                       GpuVm's encoding;                                 *)
(*   Traces[t]           <<profile, <<s1, s2, ...>>>>, each state s a      *)
(*                       tuple <<action, args, index into VasTable, index  *)
(*                       into OpsTable, lastErr>>, args <<addr, range>> or *)
(*                       <<addr, range, gem, offset>>.                     *)
(*                                                                         *)
(* TLC picks every trace t in Init and follows it: a step is taken only if *)
(* GpuVm's action of that name and arguments, under the trace's profile,  *)
(* leads to exactly the recorded state.  A step the spec does not allow   *)
(* leaves no successor: TLC reports a deadlock whose last state names the *)
(* trace t and the number i of its states matched.  When every trace is   *)
(* allowed, TLC finds exactly one distinct state per recorded state.      *)
(*                                                                         *)
(* Not checked here: pmap, which the model does not have (GpuVm computes  *)
(* it along the trace).                                                    *)
(***************************************************************************)
EXTENDS Integers, Sequences, TLC, TraceGpuVmData

CONSTANTS
    MmStart,        \* as in GpuVm: the recorded runs' VM
    MmRange,        \* as in GpuVm
    KernelAddr,     \* as in GpuVm
    KernelRange,    \* as in GpuVm
    U64Max,         \* as in GpuVm
    Gems,           \* as in GpuVm (only TypeOK reads it)
    NullGem,        \* as in GpuVm: how the data writes a NULL GEM
    ReqAddrs,       \* unused here: the data gives every argument
    ReqRanges,      \* unused here
    ReqOffsets(_, _) \* unused here

VARIABLES
    vas,        \* as in GpuVm
    lastOps,    \* as in GpuVm
    lastErr,    \* as in GpuVm
    pmap,       \* as in GpuVm
    lastAct,    \* as in GpuVm
    t,          \* the trace being followed
    i           \* how many of its states have been matched

Up == INSTANCE GpuVm WITH Profile <- "upstream"
Rfc == INSTANCE GpuVm WITH Profile <- "rfc2023"

traceVars == <<vas, lastOps, lastErr, pmap, lastAct, t, i>>

\* The data gives every argument, so the request domain is empty.
NoReqOffsets(a, g) == {}

-----------------------------------------------------------------------------
(******************************** Init *************************************)

RunProfile(tr) == tr[1]
RunStates(tr) == tr[2]
ActionOf(st) == st[1]
ArgsOf(st) == st[2]
VasOf(st) == VasTable[st[3]]
OpsOf(st) == OpsTable[st[4]]
ErrOf(st) == st[5]

TraceInit ==
    /\ t \in 1 .. Len(Traces)
    /\ i = 1
    /\ vas = VasOf(RunStates(Traces[t])[1])
    /\ lastOps = OpsOf(RunStates(Traces[t])[1])
    /\ lastErr = ErrOf(RunStates(Traces[t])[1])
    /\ pmap = [p \in {} |-> <<>>]
    /\ lastAct = [name |-> "Init", args |-> <<>>]

-----------------------------------------------------------------------------
(******************************* Actions ***********************************)

\* GpuVm's action named by recorded state st, under profile prof.
Do(prof, st) ==
    LET a == ArgsOf(st) IN
    CASE ActionOf(st) = "Map" ->
            IF prof = "upstream" THEN Up!Map(a[1], a[2], a[3], a[4])
                                 ELSE Rfc!Map(a[1], a[2], a[3], a[4])
      [] ActionOf(st) = "Unmap" ->
            IF prof = "upstream" THEN Up!Unmap(a[1], a[2]) ELSE Rfc!Unmap(a[1], a[2])
      [] ActionOf(st) = "Prefetch" ->
            IF prof = "upstream" THEN Up!Prefetch(a[1], a[2]) ELSE Rfc!Prefetch(a[1], a[2])
      [] OTHER -> FALSE   \* an action GpuVm does not have

\* Match the next recorded state of trace t.
Follow ==
    LET run == Traces[t]
        st == RunStates(run)[i + 1]
    IN /\ i < Len(RunStates(run))
       /\ Do(RunProfile(run), st)
       /\ vas' = VasOf(st)
       /\ lastOps' = OpsOf(st)
       /\ lastErr' = ErrOf(st)
       /\ i' = i + 1
       /\ t' = t

\* The trace is over.
Done == i = Len(RunStates(Traces[t])) /\ UNCHANGED traceVars

-----------------------------------------------------------------------------
(******************************** Next *************************************)

TraceNext == Follow \/ Done

-----------------------------------------------------------------------------
(***************************** Invariants **********************************)

\* Every trace starts in GpuVm's initial state.
StartsAtInitInv == i = 1 => Up!Init

=============================================================================
