------------------------------ MODULE MCUserptr ------------------------------
(***************************************************************************)
(* Bounded models of Userptr for TLC. The bounds live here and in the      *)
(* MCUserptr*.cfg files only; each says why it is enough.                  *)
(*                                                                         *)
(*   MCUserptrFault.cfg      upstream, fault mode: two userptrs over three *)
(*                           pages overlapping at page 1, two GTs, two     *)
(*                           invalidations (unmap or migrate of any page), *)
(*                           populate's -EBUSY and -ENOMEM, the bind       *)
(*                           thread binding both userptrs, the fault       *)
(*                           handler, GPU reads of every page and writes   *)
(*                           of page 1: every safety property, no deadlock *)
(*   MCUserptrLr.cfg         the same in lr mode with the rebind worker,   *)
(*                           GPU writes of every page                      *)
(*   MCUserptrDmafence.cfg   the same in dma-fence mode with two execs     *)
(*   MCUserptrSmall.cfg      upstream, lr mode, one userptr of one page,   *)
(*                           one GT, one invalidation; `gpuvm-check        *)
(*                           conform` replays every transition of it into  *)
(*                           the model (NEXT MCPrintNext)                  *)
(*   MCUserptrSmallFault.cfg the same in fault mode                        *)
(*   MCUserptrSmallDmafence.cfg                                            *)
(*                           the same in dma-fence mode, one exec          *)
(*   MCUserptrLive<Mode>.cfg upstream, one mode each, no GPU writes, under *)
(*                           weak fairness: Converges (every retry loop    *)
(*                           ends once the invalidations stop)             *)
(*   MCUserptr<Bug>.cfg      a known-bad variant (Userptr's Bug constant): *)
(*                           must violate the property its header names    *)
(*   MCUserptrRetryInvertedLive.cfg                                        *)
(*                           retry_inverted with no invalidation: must     *)
(*                           violate Converges (A17's livelock)            *)
(*   MCUserptrSeed<Bug>.cfg  the seed profile: must violate the property   *)
(*                           its header names (R13, A2, A3, A10)           *)
(*   MCUserptrListExclusive.cfg                                            *)
(*                           the notes' strict S5 (never on two lists):    *)
(*                           violated by the kernel's lists                *)
(*                                                                         *)
(* The state space is finite without constraints: at most MaxInv           *)
(* invalidations, each bumping the seqs twice and allocating at most one   *)
(* frame; every retry loop needs a new invalidation to go round again      *)
(* (retry_inverted's loop returns to states already seen); the exec thread *)
(* makes MaxExec execs; every populate failure ends an operation; the      *)
(* GPU's values are 0 and 1.                                               *)
(*                                                                         *)
(* Why these bounds: two userptrs that share one page and own one each     *)
(* give both an invalidation that runs two callbacks (page 1, in address   *)
(* order) and ones that run one (pages 0, 2); a third userptr or a fourth  *)
(* page only repeats these layouts. Two invalidations give every retry     *)
(* loop a second round (a repin, a rebind or an exec overtaken by a second *)
(* invalidation) and the -EBUSY that needs an invalidation inside          *)
(* populate; two events (unmap, migrate) give both the -EFAULT paths and a *)
(* new frame. Two GTs are the device of the notes (one page table, a TLB   *)
(* each). Two execs let the second one repin what the first one's          *)
(* invalidations listed. In fault mode the GPU writes only page 1 (both    *)
(* userptrs alias it): writes of every page give four times the states and *)
(* nothing NoStaleAccess does not already see (a write through a stale     *)
(* translation is a stale access before it is a lost write).               *)
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
                                      maxExec |-> MaxExec, writePages |-> WritePages,
                                      pinErrors |-> PinErrors, unbind |-> Unbind,
                                      profile |-> Profile, bug |-> Bug]))

\* For `gpuvm-check conform`: the real steps (not Terminated, so every
\* printed line is a real step; run with -deadlock), each printed as one
\* line that the conformance check replays into the model.
MCPrintNext ==
    /\ Step
    /\ PrintT("@step" \o ToString(<<Observed, lastAct', Observed'>>))

=============================================================================
