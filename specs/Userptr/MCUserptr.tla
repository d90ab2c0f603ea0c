------------------------------ MODULE MCUserptr ------------------------------
(***************************************************************************)
(* Bounded models of Userptr for TLC.  The bounds live here and in the     *)
(* MCUserptr*.cfg files only; each says why it is enough.                  *)
(*                                                                         *)
(*   MCUserptrFault.cfg      upstream, fault mode: two userptrs over three *)
(*   MCUserptrLr.cfg         pages, overlapping at page 1, two GTs, two    *)
(*   MCUserptrDmafence.cfg   invalidations (unmap or migrate of any page), *)
(*                           the bind thread binding both userptrs, the    *)
(*                           mode's own thread (fault handler, rebind      *)
(*                           worker, two execs), GPU reads and writes:     *)
(*                           every safety property, no deadlock            *)
(*   MCUserptrSmall.cfg      upstream, lr mode, one userptr of one page,   *)
(*                           one GT, one migration; `gpuvm-check conform`  *)
(*                           replays every transition of it into the       *)
(*                           model (NEXT MCPrintNext)                      *)
(*   MCUserptrLive*.cfg      upstream, one mode each, under weak fairness: *)
(*                           Converges (every retry loop ends once the     *)
(*                           invalidations stop)                           *)
(*   MCUserptr<Bug>.cfg      a known-bad variant (Userptr's Bug constant): *)
(*                           must violate the property its header names    *)
(*   MCUserptrSeed*.cfg      the seed profile: must violate the property   *)
(*                           its header names (R13, A2, A10)               *)
(*   MCUserptrListExclusive.cfg  the notes' strict S5 ("never on two       *)
(*                           lists"): violated by the kernel's lists       *)
(*                                                                         *)
(* The state space is finite without constraints: at most MaxInv          *)
(* invalidations, each bumping the seqs twice and allocating at most one   *)
(* frame; every retry loop needs a new invalidation to go round again      *)
(* (retry_inverted's loop returns to states already seen); the exec        *)
(* thread makes MaxExec execs; the GPU's values are 0 and 1.               *)
(***************************************************************************)
EXTENDS Userptr, TLC

(***************************** Bounds **************************************)

\* Two userptrs over three pages, overlapping at page 1: an invalidation
\* of page 1 runs both callbacks (in address order), one of page 0 or 2
\* runs one.  Two pages each give a userptr a page that another shares and
\* one it owns; a third userptr or fourth page only repeats these layouts.
TwoRanges == [u1 |-> {0, 1}, u2 |-> {1, 2}]
TwoOrder == <<"u1", "u2">>

\* One userptr of one page: the smallest system with every step of the
\* protocol (pin, check, commit, PT run, the callback, the preemption, the
\* worker's repin, rebind and resume).
OneRange == [u1 |-> {0}]
OneOrder == <<"u1">>

(**************************** How TLC runs *********************************)

\* The configuration, printed once at start for the checker (the codec
\* builds the Python model from it).
ASSUME PrintT("@config" \o ToString([np |-> NP, userptrs |-> UOrder, range |-> Range,
                                      gts |-> GTs, mode |-> Mode, maxInv |-> MaxInv,
                                      maxExec |-> MaxExec, hmmTimeout |-> HmmTimeout,
                                      profile |-> Profile, bug |-> Bug]))

\* For `gpuvm-check conform`: the real steps (not Terminated, so every
\* printed line is a real step; run with -deadlock), each printed as one
\* line that the conformance check replays into the model.
MCPrintNext ==
    /\ Step
    /\ PrintT("@step" \o ToString(<<Observed, lastAct', Observed'>>))

=============================================================================
