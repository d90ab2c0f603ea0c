------------------------------- MODULE MCVmBo -------------------------------
(***************************************************************************)
(* Bounded models of VmBo for TLC.  The bounds live here and in the       *)
(* MCVmBo*.cfg files only; each says why it is enough.                     *)
(*                                                                         *)
(*   MCVmBoSpinlock.cfg, MCVmBoResv.cfg                                    *)
(*                       upstream, the two list-protection modes: two VMs, *)
(*                       a GEM private to v1 (external in v2) and one of   *)
(*                       its own, two jobs, three pages in v1              *)
(*   MCVmBoImmediate.cfg upstream, resv mode, immediate mode: zombies     *)
(*   MCVmBoRfc2023.cfg   seed 003 as posted, driven with the discipline    *)
(*                       that avoids its flaws Y1 and Y5                   *)
(*   MCVmBoSmall*.cfg    small models of each profile and mode, every call *)
(*                       tried (errors too); `gpuvm-check conform vmbo`    *)
(*                       replays every transition of them into the model   *)
(*                       (NEXT MCPrintNext)                                *)
(*   MCVmBoRfc2023Y1.cfg, MCVmBoRfc2023Y1Free.cfg, MCVmBoRfc2023Y5.cfg     *)
(*                       seed 003 as posted without that discipline: must  *)
(*                       violate the property manifest.json records        *)
(*   MCVmBo<Bug>.cfg     upstream with a known-bad operator swapped in;    *)
(*                       must violate the property manifest.json records   *)
(*                                                                         *)
(* The pass models check every state invariant of VmBo, and every step    *)
(* invariant on every transition (StepInvsStep; see MCView).               *)
(***************************************************************************)
EXTENDS VmBo, TLC

CONSTANTS
    MaxHandles,         \* the most vm_bo handles the jobs hold at once, together
    MaxVas,             \* the most mappings the VMs hold at once, together
    Pairs,              \* the (VM, GEM) pairs the jobs obtain
    EvictGems,          \* the GEMs that get evicted (and placed again)
    PutVms,             \* the VMs the user drops
    MaxPairVmBos,       \* the most vm_bos (zombies included) one (VM, GEM) has at once
    MaxZombies,         \* the most vm_bos at refcount 0 (waiting for the cleanup) at once
    OnlyValid,          \* make only the calls that can succeed (see MCNext)
    ObtainDiscipline,   \* a job obtains (vm, gem) only if no unpublished vm_bo of it exists
    VmPutDiscipline     \* the user puts only a VM that has no vm_bo left

(***************************** Bounds **************************************)

\* Two VMs: one where GEM "p" is private (shares v1's resv) and one where
\* it is external, so the extobj test, the resv a validate locks and the
\* VM references each have both answers, and p's eviction reaches two
\* VMs' evict lists (one VM's validate places p again for the other);
\* a GEM "e" of its own is external to both (its own resv in the lock
\* set; two GEMs in one VM, a Map of one over the other).  More VMs or GEMs
\* only repeat these roles.
MCVms == {"v1", "v2"}
MCGems == {"p", "e"}
MCGemResvOf == [p |-> "v1", e |-> ""]
MCNameOrder == <<"e", "p", "v1", "v2">>     \* "resv:e" < "resv:p" < "resv:v1" < "resv:v2"

\* Three pages in v1: a mapping can be split on both sides (a REMAP with
\* prev and next: the vm_bo gains two pieces and loses one VA), split on
\* one side, replaced whole, and two mappings of one or two GEMs can lie
\* side by side (one request meets both: an UNMAP and a REMAP in one op
\* list).  One page in v2: a second VM's mapping, the VM reference it
\* holds.  Requests at every page, one or two pages long: every shape
\* above; longer requests only unmap more whole mappings.
MCVmRange == [v1 |-> <<0, 3>>, v2 |-> <<0, 1>>]
MCReqAddrs == 0 .. 2
MCReqRanges == 1 .. 2

\* Offsets do not matter to vm_bos (a piece's offset is computed, never
\* compared).  A Map at a carries offset a: a piece of it, cut at s, then
\* has offset s too, so offsets add no layouts of their own.
MCReqOffsets(a) == {a}

\* p is obtained in both VMs (private in v1, external in v2), e in v1 (an
\* external GEM with its own resv).  e in v2 would be a second external
\* vm_bo of v2, a role p already plays there.
MCPairs == {<<"v1", "p">>, <<"v1", "e">>, <<"v2", "p">>}
AllPairs == Vms \X Gems
\* Evicting p covers a private vm_bo (onto the evict list in both modes)
\* and an external one (resv mode: left to prepare_objects) in two VMs;
\* e's eviction would be a third external vm_bo doing the same.
MCEvictGems == {"p"}
\* Dropping v2 (where p is external) shows a VM kept alive by its vm_bos
\* and mappings and freed by the last put; dropping v1 too would show the
\* same again while multiplying the states by three.
MCPutVms == {"v2"}

\* The small models, whose every transition is replayed into the model:
\* v1 of two pages (one-sided splits, two mappings side by side, a Map
\* over one), v2 of one.  The immediate-mode ones have v1 only: p private
\* and e external there still give both answers of the extobj test.
SmallVmRange == [v1 |-> <<0, 2>>, v2 |-> <<0, 1>>]
SmallReqAddrs == 0 .. 1
OneVm == {"v1"}
OneVmRange == [v1 |-> <<0, 2>>]
OnePairs == {<<"v1", "p">>, <<"v1", "e">>}
OneNameOrder == <<"e", "p", "v1">>
BothGems == {"p", "e"}
NoGems == {}
NoVms == {}
\* One VM of three pages, up to three mappings: every op list a request of
\* one or two pages makes (a Map in the middle of a mapping: a REMAP with
\* both pieces, then the Map; a request meeting two mappings), and link
\* orders of three VAs on one vm_bo.
RemapVmRange == [v1 |-> <<0, 3>>]

(*************************** Driving the spec ******************************)

\* Two handles in all, held by one job or by two: one job can hold two
\* handles of one (VM, GEM) (the second obtain finds the first's vm_bo;
\* seed 003 Y1 within one job) or of two pairs, and put them in either
\* order; two jobs holding one each are two concurrent bind jobs (Y1
\* across jobs).  A third handle only adds a reference of a kind already
\* present (MCVmBoRfc2023.cfg, without lists, affords three).
\*
\* An obtain that finds nothing creates a vm_bo; MaxPairVmBos bounds how
\* many one pair may have.  Upstream, a second exists only beside a zombie
\* (immediate mode: a deferred put left it at 0 for the cleanup; find must
\* not see it, the lists may still hold it); seed 003's Y1 makes a second
\* live one.  Two show either; a third only repeats it.  An obtain that
\* finds a vm_bo creates none and is never held back.
MayObtain(j, v, g) ==
    /\ <<v, g>> \in Pairs
    /\ Cardinality(UNION {{k} \X DOMAIN handles[k] : k \in Jobs}) < MaxHandles
    /\ \/ \E b \in vmbos : b.vm = v /\ b.gem = g /\ b.listed /\ b.kref > 0
       \/ Cardinality({b \in vmbos : b.vm = v /\ b.gem = g}) < MaxPairVmBos
    /\ ObtainDiscipline => ~\E b \in vmbos : b.vm = v /\ b.gem = g /\ ~b.listed

\* seed 003 has no VM references (Y5): a driver must not let the VM go
\* while a vm_bo of it exists.
MayVmPut(v) == v \in PutVms /\ (VmPutDiscipline => ~\E b \in vmbos : b.vm = v)

\* Two mappings in all: a two-sided split of one mapping, or two side by
\* side in v1 (one request then meets both), or one in each VM.  A third
\* adds no shape of op list (a request meets at most two here).
VasBound == Cardinality(UNION {{v} \X DOMAIN vas[v] : v \in Vms}) <= MaxVas

\* Zombies at once: without a bound they pile up until the cleanup runs.
\* One shows a zombie on the lists (resv mode) while evictions, validates
\* and obtains pass it by, and the cleanup freeing it (and a VM the user
\* dropped); two (the small models) show the cleanup freeing several and
\* two zombies of one pair.  More only wait likewise.
ZombieBound == Cardinality({b \in vmbos : b.kref = 0}) <= MaxZombies

Held(j, v, g) == \E k \in DOMAIN handles[j] : handles[j][k][1] = v /\ handles[j][k][2] = g
InVm(v, a, r) == r > 0 /\ VmRange[v][1] <= a /\ a + r <= VmRange[v][1] + VmRange[v][2]

\* Why the discipline makes seed 003 safe: with it a second vm_bo of a
\* pair is never created (obtain finds the listed one, and no obtain runs
\* while an unlisted one exists), so the search that unlink and REMAP do
\* finds the right vm_bo, which is what Y1 breaks; and no vm_bo ever
\* points at a freed VM, which is what Y5 breaks.
\*
\* With OnlyValid, a job maps, puts and adds to the extobj list only a
\* (VM, GEM) it holds, maps and unmaps only inside the VM, and deferred
\* puts and the cleanup run only in immediate mode: the calls that can
\* succeed.  A rejected call changes nothing (ErrnoInv); the small models
\* make every call, so every error is still checked and replayed there.
MCNext ==
    \/ \E j \in Jobs, v \in Vms, g \in Gems : MayObtain(j, v, g) /\ ObtainStep(j, v, g)
    \/ \E v \in Vms : MayVmPut(v) /\ VmPut(v)
    \/ \E j \in Jobs, v \in Vms, g \in Gems, a \in ReqAddrs, r \in ReqRanges :
          /\ OnlyValid => Held(j, v, g) /\ InVm(v, a, r)
          /\ \E o \in ReqOffsets(a) : Map(j, v, a, r, g, o)
          /\ VasBound'
    \/ \E j \in Jobs, v \in Vms, g \in Gems : (OnlyValid => Held(j, v, g)) /\ Put(j, v, g)
    \/ \E j \in Jobs, v \in Vms, g \in Gems :
          /\ OnlyValid => Held(j, v, g) /\ Immediate
          /\ PutDeferred(j, v, g)
          /\ ZombieBound'
    \/ \E j \in Jobs, v \in Vms, g \in Gems : (OnlyValid => Held(j, v, g)) /\ ExtobjAdd(j, v, g)
    \/ \E v \in Vms, a \in ReqAddrs, r \in ReqRanges :
          (OnlyValid => InVm(v, a, r)) /\ Unmap(v, a, r) /\ VasBound'
    \/ \E v \in Vms, g \in Gems : UnmapOpsCreate(v, g)
    \/ \E g \in EvictGems, e \in BOOLEAN : Evict(g, e)
    \/ \E v \in Vms : Validate(v)
    \/ \E v \in Vms : (OnlyValid => Immediate) /\ DeferredCleanup(v)

(*************************** How TLC runs ***********************************)

\* The configuration, printed once at start for the checker (the codec
\* builds the Python model from it): VA spaces, resvs, jobs, profile, mode.
JobSeq == CHOOSE s \in [1 .. Cardinality(Jobs) -> Jobs] : {s[k] : k \in DOMAIN s} = Jobs
ASSUME PrintT("@config" \o ToString([vms |-> VmRange, gems |-> GemResvOf, jobs |-> JobSeq,
                                      profile |-> Profile, list_mode |-> ListMode,
                                      immediate |-> Immediate]))

\* States are told apart by what the vm_bos, mappings, handles, references
\* and lists are, and the faults hit.  lastResult, lastErr, destroyed and
\* lastAct describe the transition that led to a state, so without this
\* view every transition would be a state of its own.  TLC checks an
\* INVARIANT only in the first state of a view class it reaches, so the
\* invariants over those variables are checked on every transition by the
\* action properties below; the step invariants read only the view's
\* variables before the step.
MCView == <<vmbos, vas, handles, gems, vms, extobjL, evictL, oops>>

\* All step invariants as one action property, which TLC evaluates once per
\* transition (the pass models); the failure configs name single ones.
StepInvs ==
    /\ TypeOK' /\ DestroyInv /\ ErrnoInv /\ ObtainInv /\ LinkOrderInv /\ UnmapOpsInv
    /\ ExtobjAddInv /\ EvictStepInv /\ ValidateInv /\ DeferredStepInv
StepInvsStep == [][StepInvs]_vars

TypeOKStep == [][TypeOK']_vars
DestroyInvStep == [][DestroyInv]_vars
ErrnoInvStep == [][ErrnoInv]_vars
ObtainInvStep == [][ObtainInv]_vars
LinkOrderInvStep == [][LinkOrderInv]_vars
UnmapOpsInvStep == [][UnmapOpsInv]_vars
ExtobjAddInvStep == [][ExtobjAddInv]_vars
EvictStepInvStep == [][EvictStepInv]_vars
ValidateInvStep == [][ValidateInv]_vars
DeferredStepInvStep == [][DeferredStepInv]_vars

\* For `gpuvm-check conform vmbo`: MCNext, printing every transition it
\* takes as one line that the conformance check replays into the model.
MCPrintNext ==
    /\ MCNext
    /\ PrintT("@step" \o ToString(<<Observed, lastAct', Observed'>>))

(************************ Known-bad operators ******************************)
(* Each replaces one operator of VmBo's algorithm in a failure config,    *)
(* reproducing a known bug; the model mutant of the same name (manifest   *)
(* "mutant") is the same bug in model/.                                    *)

\* vmbo-obtain-no-publish (seed 003 Y1, in upstream): obtain does not put a
\* new vm_bo on the GEM's list, so a second obtain cannot find it.
NoPublishAtObtain == FALSE

\* vmbo-iter-leaks-ref (seed 003 Y2): drm_gem_for_each_gpuva's find
\* reference is never put, so bo_unmap_ops_create leaks one per call.
IterKeepsRef(s, x) == s

\* vmbo-remap-unlink-first (seed 003 Y8): a REMAP unlinks the old VA
\* before linking the pieces; a vm_bo whose only reference is that VA
\* reaches 0, is destroyed, and the pieces are linked to freed memory.
UnlinkFirstRemap(s, v, old, ps) ==
    LET h == Holder(s, v, old[1])
    IN IF h = NoName THEN Oops(s, "not-linked")
       ELSE LinkAll(UpstreamUnlink(s, v, old[1]), ps, h)

\* vmbo-destroy-keeps-extobj (upstream fact 45 step 2 dropped): destroy
\* takes the vm_bo off the evict list only; the extobj list keeps it.
DestroyKeepsExtobj(s, x) == [s EXCEPT !.evl[x[1]] = @ \ {x}]

\* vmbo-no-vm-ref (seed 003 C4/Y5, in upstream): a vm_bo holds no
\* reference on its VM, so the VM can be freed under it.
NoVmBoVmRef == 0

=============================================================================
