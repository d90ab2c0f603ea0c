-------------------------------- MODULE VmBo --------------------------------
(***************************************************************************)
(* drm_gpuvm_bo: the VM/GEM combination (seed 003, and later upstream     *)
(* drm_gpuvm), over some VMs, some GEM objects and some nouveau-style bind *)
(* jobs that hold vm_bo handles.                                           *)
(*                                                                         *)
(* Modelled:                                                               *)
(*  - a vm_bo per (VM, GEM) with its refcount: one reference per VA on its *)
(*    list and one per handle a job holds; obtain and obtain_prealloc      *)
(*    (find +1 or create), put, destroy at refcount 0;                     *)
(*  - each VM's VA space with drm_gpuvm's upstream split semantics (no     *)
(*    merges; a Map unmaps or splits what it overlaps, then maps the       *)
(*    request), the VAs linked to vm_bos in nouveau's bind_link_gpuvas     *)
(*    order, and bo_unmap_ops_create (the UNMAP ops of one GEM in one VM); *)
(*  - the GEM's references (the user's handle + one per vm_bo) and, in the *)
(*    upstream profile, the VM's (the user's + one per vm_bo + one per     *)
(*    inserted VA; the VM is freed at 0);                                  *)
(*  - two profiles: "rfc2023" = seed 003 v2 as posted (obtain does not     *)
(*    publish, the first link does; unlink searches the GEM's list for the *)
(*    VM's first vm_bo and puts that one; REMAP finds (+1), links the      *)
(*    pieces, unlinks the old VA, puts; no VM references: putting the VM   *)
(*    frees it at once); "upstream" = publish at obtain, a back-pointer     *)
(*    from each VA to its vm_bo, VM references, the VM's extobj and evict  *)
(*    lists, eviction and exec's validate, and (Immediate) deferred        *)
(*    cleanup;                                                             *)
(*  - the two list-protection modes by their visible effects (ListMode):   *)
(*    "spinlock" (bo_evict always updates the evict list; a deferred put   *)
(*    at 0 leaves the lists at once) and "resv" (DRM_GPUVM_RESV_PROTECTED: *)
(*    bo_evict leaves an extobj's list entry alone, validate's             *)
(*    prepare_objects lists the evicted extobjs, a zombie at refcount 0    *)
(*    stays on the lists until the cleanup; the walkers skip it);          *)
(*  - the faults a design can hit (oops): touching a freed vm_bo or VM,    *)
(*    an unlink that finds no vm_bo (seed: WARN; nouveau: BUG_ON), a put   *)
(*    at refcount 0.  The spec carries on after a fault; the invariants    *)
(*    flag it.                                                             *)
(*                                                                         *)
(* Not modelled: locks and concurrency (every action is one atomic step;   *)
(* the resv/spinlock difference is only in what the lists hold),           *)
(* allocation failure (-ENOMEM), the kernel-reserved node, NULL-GEM and    *)
(* sparse mappings, flags (always 0), u64 wrap of offsets (the bounds      *)
(* never reach it), GEM handle close, the VM's own teardown of its         *)
(* mappings, drm_exec's -EDEADLK loop (own system), the GEM's physical     *)
(* pages.                                                                  *)
(*                                                                         *)
(* Two layers.  Sections "Step state" to "Actions" are the executable      *)
(* algorithm, in the Python model's step order (model/vmbo.py,             *)
(* model/vmbo_profiles.py).  The invariants and step properties at the    *)
(* end are written again from the seed's prose and the notes' C5 list      *)
(* (shared/notes/i915-xe-gpuvm-bo.md PART C, upstream facts §6), with      *)
(* their own counting: nothing there uses an operator of the algorithm,    *)
(* so swapping one operator of it (MCVmBo.tla's failure configs) cannot    *)
(* also change what is checked.                                            *)
(*                                                                         *)
(* vmbos, vas, handles, gems, vms, lastResult and lastErr are the model's  *)
(* abstract state (Observed) in exactly its encoding; extobjL, evictL,     *)
(* oops, destroyed and lastAct are the spec's own.                         *)
(***************************************************************************)
EXTENDS Integers, Sequences, FiniteSets

CONSTANTS
    Vms,            \* the VM names
    Gems,           \* the GEM names (disjoint from Vms)
    GemResvOf,      \* GEM -> the VM whose resv it shares (a private GEM), or "": its own
    Jobs,           \* the bind jobs that hold vm_bo handles
    VmRange,        \* VM -> <<mm_start, mm_range>>: its VA space
    Profile,        \* "upstream" or "rfc2023" (seed 003 v2 as posted)
    ListMode,       \* how the extobj/evict lists are protected: "spinlock" or "resv"
    Immediate,      \* DRM_GPUVM_IMMEDIATE_MODE: deferred put and cleanup exist
    NameOrder,      \* every VM and GEM name, in the order Python's sorted() puts "resv:" \o name
    ReqAddrs,       \* the addresses a Map or Unmap may start at
    ReqRanges,      \* the ranges it may have
    ReqOffsets(_)   \* ReqOffsets(a): the GEM offsets a Map at address a may carry

VARIABLES
    vmbos,      \* the existing vm_bos, each [vm, gem, n, kref, vas, listed, extobj, evict, evicted]
    vas,        \* VM -> its mappings <<addr, range, gem, offset, flags>>, ascending by addr
    handles,    \* job -> the vm_bo names <<vm, gem, n>> it holds, in the order obtained
    gems,       \* GEM -> [ref, evicted]
    vms,        \* VM -> [ref, user (the user still holds it), alive (not freed)]
    lastResult, \* what the last step returned, always a tuple: <<>> for nothing and
                \* every error, <<TRUE>>/<<FALSE>> for a boolean (TLC 2.15 cannot compare
                \* a boolean with a tuple when it rebuilds a counterexample)
    lastErr,    \* "OK" or the errno name of the last step
    extobjL,    \* VM -> the names on its extobj list (may name a freed vm_bo after a bug)
    evictL,     \* VM -> the names on its evict list (likewise)
    oops,       \* the faults hit so far: "use-after-free", "not-linked", "kref-underflow"
    destroyed,  \* the vm_bos the last step destroyed, each as it was when destroy ran
    lastAct     \* auxiliary: the last action's name and arguments

vars == <<vmbos, vas, handles, gems, vms, lastResult, lastErr,
          extobjL, evictL, oops, destroyed, lastAct>>

ASSUME Profile \in {"upstream", "rfc2023"}
ASSUME ListMode \in {"spinlock", "resv"}
ASSUME Immediate \in BOOLEAN
ASSUME Vms \cap Gems = {}
ASSUME \A g \in Gems : GemResvOf[g] \in Vms \cup {""}
ASSUME \A v \in Vms : VmRange[v][1] \in Nat /\ VmRange[v][2] \in Nat \ {0}
ASSUME {NameOrder[k] : k \in DOMAIN NameOrder} = Vms \cup Gems
       /\ Len(NameOrder) = Cardinality(Vms \cup Gems)
ASSUME ReqAddrs \subseteq Nat /\ ReqRanges \subseteq Nat /\ \A a \in ReqAddrs : ReqOffsets(a) \subseteq Nat

-----------------------------------------------------------------------------
(***************************** Types ***************************************)

NoName == <<>>                  \* "no vm_bo" (a failed find)
Name(b) == <<b.vm, b.gem, b.n>>

Errnos == {"OK", "ENOENT", "EINVAL", "EOPNOTSUPP"}
Faults == {"use-after-free", "not-linked", "kref-underflow"}
ActNames == {"Init", "Obtain", "ObtainPrealloc", "Map", "Unmap", "Put", "PutDeferred",
             "UnmapOpsCreate", "ExtobjAdd", "Evict", "Validate", "VmPut", "DeferredCleanup"}

MmStart(v) == VmRange[v][1]
MmEnd(v) == VmRange[v][1] + VmRange[v][2]

\* A mapping <<addr, range, gem, offset, flags>>.
IsVa(va) == va \in Nat \X (Nat \ {0}) \X Gems \X Nat \X {0}
IsName(x) == x \in Vms \X Gems \X (Nat \ {0})
IsVmBo(b) ==
    /\ DOMAIN b = {"vm", "gem", "n", "kref", "vas", "listed", "extobj", "evict", "evicted"}
    /\ IsName(Name(b)) /\ b.kref \in Nat
    /\ \A i \in DOMAIN b.vas : b.vas[i] \in Nat
    /\ {b.listed, b.extobj, b.evict, b.evicted} \subseteq BOOLEAN

VmResv(v) == "resv:" \o v
GemResv(g) == "resv:" \o (IF GemResvOf[g] = "" THEN g ELSE GemResvOf[g])

\* The resvs of set S, sorted as Python sorts strings (via NameOrder).
SortResvs(S) ==
    LET ns == SelectSeq(NameOrder, LAMBDA x : "resv:" \o x \in S)
    IN [k \in DOMAIN ns |-> "resv:" \o ns[k]]

-----------------------------------------------------------------------------
(***************************** Step state **********************************)
(* An action works on a record s holding every variable it may change     *)
(* and threads it through the primitives below in the kernel's order.     *)

Cur == [bos |-> vmbos, vas |-> vas, hs |-> handles, gems |-> gems, vms |-> vms,
        ext |-> extobjL, evl |-> evictL, oops |-> oops, dead |-> {}]

Has(s, x) == \E b \in s.bos : Name(b) = x
Get(s, x) == CHOOSE b \in s.bos : Name(b) = x
Set(s, b) == [s EXCEPT !.bos = {c \in @ : Name(c) # Name(b)} \cup {b}]
Oops(s, f) == [s EXCEPT !.oops = @ \cup {f}]

\* The lowest n >= 1 no existing vm_bo of (v, g) has.
FreeN(s, v, g) ==
    LET free == {n \in 1 .. Cardinality(s.bos) + 1 : ~Has(s, <<v, g, n>>)}
    IN CHOOSE n \in free : \A m \in free : n <= m

\* The sequence without its first element equal to x.
RemoveFirst(sq, x) ==
    IF \E k \in DOMAIN sq : sq[k] = x
    THEN LET k == CHOOSE k \in DOMAIN sq : sq[k] = x /\ \A j \in 1 .. k - 1 : sq[j] # x
         IN SubSeq(sq, 1, k - 1) \o SubSeq(sq, k + 1, Len(sq))
    ELSE sq

\* The job's first handle of (v, g), or NoName.
HandleOf(j, v, g) ==
    LET hs == SelectSeq(handles[j], LAMBDA h : h[1] = v /\ h[2] = g)
    IN IF hs = <<>> THEN NoName ELSE hs[1]

\* The VM the user may still name (not put, not freed).
UserVm(v) == v \in Vms /\ vms[v].alive /\ vms[v].user

-----------------------------------------------------------------------------
(************************ vm_bo primitives *********************************)

\* Whether obtain publishes a new vm_bo on the GEM's list (upstream), or the
\* first link does (seed 003).
PublishAtObtain == Profile = "upstream"
PublishAtLink == Profile = "rfc2023"

\* The references a vm_bo holds on its VM (upstream: one).
VmBoVmRef == 1

\* A reference on VM v taken (d > 0) or dropped (d < 0); upstream only.  At
\* 0 the VM is freed.  Touching a freed VM is a use-after-free.
VmRef(s, v, d) ==
    IF Profile = "rfc2023" THEN s
    ELSE IF ~s.vms[v].alive THEN Oops(s, "use-after-free")
    ELSE LET r == s.vms[v].ref + d
         IN [s EXCEPT !.vms[v] = [@ EXCEPT !.ref = r, !.alive = (r > 0)]]

\* __drm_gpuvm_bo_find: the first vm_bo of v on g's list (at refcount > 0);
\* vm_bos of one (v, g) are created in ascending n, so "first" is lowest n.
SearchName(s, v, g) ==
    LET c == {b \in s.bos : b.vm = v /\ b.gem = g /\ b.listed /\ b.kref > 0}
    IN IF c = {} THEN NoName ELSE Name(CHOOSE b \in c : \A o \in c : b.n <= o.n)

Get1(s, x) == IF Has(s, x) THEN Set(s, [Get(s, x) EXCEPT !.kref = @ + 1])
              ELSE Oops(s, "use-after-free")

\* drm_gpuvm_bo_create: kref 1, on no list; +1 on the GEM (and the VM).
Create(s, v, g) ==
    LET b == [vm |-> v, gem |-> g, n |-> FreeN(s, v, g), kref |-> 1, vas |-> <<>>,
              listed |-> FALSE, extobj |-> FALSE, evict |-> FALSE, evicted |-> FALSE]
    IN VmRef([s EXCEPT !.bos = @ \cup {b}, !.gems[g].ref = @ + 1], v, VmBoVmRef)

Publish(s, x) == Set(s, [Get(s, x) EXCEPT !.listed = TRUE])

\* Off the VM's extobj and evict lists.
ListDel(s, x) == [s EXCEPT !.ext[x[1]] = @ \ {x}, !.evl[x[1]] = @ \ {x}]

\* What destroy takes the vm_bo off (drm_gpuvm_bo_destroy step 2).
DestroyListDel(s, x) == ListDel(s, x)

\* drm_gpuvm_bo_destroy: off every list, freed, its VM and GEM put.
Destroy(s, x) ==
    LET b == Get(s, x)
        s1 == [s EXCEPT !.dead = @ \cup {b}]
        s2 == IF s.vms[x[1]].alive THEN s1 ELSE Oops(s1, "use-after-free")
        s3 == [DestroyListDel(s2, x) EXCEPT !.bos = {c \in @ : Name(c) # x},
                                             !.gems[x[2]].ref = @ - 1]
    IN VmRef(s3, x[1], -VmBoVmRef)

\* A deferred put reached 0: off the GEM's list at once (find no longer
\* sees it); with spinlocks also off extobj/evict; freed by the cleanup.
Zombie(s, x) ==
    LET s1 == Set(s, [Get(s, x) EXCEPT !.listed = FALSE])
    IN IF ListMode = "spinlock" THEN ListDel(s1, x) ELSE s1

\* drm_gpuvm_bo_put (deferred: drm_gpuvm_bo_put_deferred).
PutRef(s, x, deferred) ==
    IF ~Has(s, x) THEN Oops(s, "use-after-free")
    ELSE LET b == Get(s, x) IN
         IF b.kref <= 0 THEN Oops(s, "kref-underflow")
         ELSE IF b.kref > 1 THEN Set(s, [b EXCEPT !.kref = @ - 1])
         ELSE IF deferred THEN Zombie(Set(s, [b EXCEPT !.kref = 0]), x)
         ELSE Destroy(Set(s, [b EXCEPT !.kref = 0]), x)

\* drm_gpuva_link(va at address a, x): +1, the VA at the tail of x's list.
Link(s, a, x) ==
    IF ~Has(s, x) THEN Oops(s, "use-after-free")
    ELSE Set(s, [Get(s, x) EXCEPT !.kref = @ + 1, !.vas = Append(@, a),
                                  !.listed = @ \/ PublishAtLink])

RECURSIVE LinkAll(_, _, _)
LinkAll(s, ps, x) == IF ps = <<>> THEN s ELSE LinkAll(Link(s, Head(ps)[1], x), Tail(ps), x)

\* The vm_bo of VM v whose list holds the VA at address a (upstream's
\* va->vm_bo back-pointer), or NoName.
Holder(s, v, a) ==
    LET c == {b \in s.bos : b.vm = v /\ \E i \in DOMAIN b.vas : b.vas[i] = a}
    IN IF c = {} THEN NoName ELSE Name(CHOOSE b \in c : TRUE)

\* list_del of the VA at a from x's list.  A REMAP's prev piece starts
\* where the old VA did; the old VA is always the earlier entry.
Detach(s, a, x) == Set(s, [Get(s, x) EXCEPT !.vas = RemoveFirst(@, a)])

\* upstream drm_gpuva_unlink: through the back-pointer, then put.
UpstreamUnlink(s, v, a) ==
    LET h == Holder(s, v, a)
    IN IF h = NoName THEN Oops(s, "not-linked") ELSE PutRef(Detach(s, a, h), h, FALSE)

\* seed 003 drm_gpuva_unlink of the VA at a (GEM g), which h's list holds:
\* search the GEM's list for v's first vm_bo f; the VA leaves h's list; f
\* leaves the GEM's list if its own list is now empty; f is put.
RfcUnlink(s, v, g, a, h) ==
    LET f == SearchName(s, v, g) IN
    IF f = NoName THEN Oops(s, "not-linked")            \* WARN; the VA stays linked
    ELSE LET s1 == IF h = NoName THEN s ELSE Detach(s, a, h)
             s2 == IF Get(s1, f).vas = <<>> THEN Set(s1, [Get(s1, f) EXCEPT !.listed = FALSE])
                   ELSE s1
         IN PutRef(s2, f, FALSE)

\* upstream REMAP: the pieces go to the old VA's vm_bo, then the old VA is
\* unlinked (the pieces' references keep the vm_bo alive).
UpstreamRemap(s, v, old, ps) ==
    LET h == Holder(s, v, old[1])
    IN IF h = NoName THEN Oops(s, "not-linked")
       ELSE UpstreamUnlink(LinkAll(s, ps, h), v, old[1])

\* seed 003 / nouveau REMAP: find (+1), link the pieces, unlink, put.
RfcRemap(s, v, old, ps) ==
    LET h == Holder(s, v, old[1])
        f == SearchName(s, v, old[3])
    IN IF f = NoName THEN Oops(s, "not-linked")         \* nouveau: BUG_ON(!vm_bo)
       ELSE PutRef(RfcUnlink(LinkAll(Get1(s, f), ps, f), v, old[3], old[1], h), f, FALSE)

Unlink(s, v, va) ==
    IF Profile = "upstream" THEN UpstreamUnlink(s, v, va[1])
    ELSE RfcUnlink(s, v, va[3], va[1], Holder(s, v, va[1]))

Remap(s, v, old, ps) ==
    IF Profile = "upstream" THEN UpstreamRemap(s, v, old, ps) ELSE RfcRemap(s, v, old, ps)

\* The end of drm_gem_for_each_gpuva's walk: the reference its find took
\* is put.
IterDone(s, x) == PutRef(s, x, FALSE)

-----------------------------------------------------------------------------
(*************************** VA space ops **********************************)

Overlaps(w, a, e) == w[1] < e /\ a < w[1] + w[2]

\* What sm_map / sm_unmap do to one mapping w that [a, e) overlaps: unmap
\* it, or (sticking out) remap it to its pieces outside [a, e).
CutOp(w, a, e) ==
    LET p == IF w[1] < a THEN <<<<w[1], a - w[1], w[3], w[4], w[5]>>>> ELSE <<>>
        n == IF w[1] + w[2] > e
             THEN <<<<e, w[1] + w[2] - e, w[3], w[4] + (e - w[1]), w[5]>>>> ELSE <<>>
    IN IF p \o n = <<>> THEN [kind |-> "unmap", va |-> w, pieces |-> <<>>]
       ELSE [kind |-> "remap", va |-> w, pieces |-> p \o n]

UnmapOps(vs, a, r) ==
    LET ov == SelectSeq(vs, LAMBDA w : Overlaps(w, a, a + r))
    IN [k \in DOMAIN ov |-> CutOp(ov[k], a, a + r)]

\* upstream sm_map: no merging; the request's Map last.
MapOps(vs, a, r, g, o) ==
    UnmapOps(vs, a, r) \o <<[kind |-> "map", va |-> <<a, r, g, o, 0>>, pieces |-> <<>>]>>

ValidRange(v, a, r) == r > 0 /\ MmStart(v) <= a /\ a + r <= MmEnd(v)

InsertVa(vs, va) ==
    LET n == Len(SelectSeq(vs, LAMBDA w : w[1] < va[1]))
    IN SubSeq(vs, 1, n) \o <<va>> \o SubSeq(vs, n + 1, Len(vs))

RECURSIVE InsertAll(_, _)
InsertAll(vs, ps) == IF ps = <<>> THEN vs ELSE InsertAll(InsertVa(vs, Head(ps)), Tail(ps))

SetVas(s, v, vs) == [s EXCEPT !.vas[v] = vs]
Without(vs, va) == SelectSeq(vs, LAMBDA w : w # va)

\* One op applied to VM v and its vm_bos (bind_link_gpuvas); a Map links
\* the new VA to vm_bo x.
ApplyOp(s, v, op, x) ==
    CASE op.kind = "map" ->
           Link(VmRef(SetVas(s, v, InsertVa(s.vas[v], op.va)), v, 1), op.va[1], x)
      [] op.kind = "remap" ->
           Remap(VmRef(SetVas(s, v, InsertAll(Without(s.vas[v], op.va), op.pieces)),
                       v, Len(op.pieces) - 1),
                 v, op.va, op.pieces)
      [] op.kind = "unmap" ->
           VmRef(Unlink(SetVas(s, v, Without(s.vas[v], op.va)), v, op.va), v, -1)

RECURSIVE ApplyOps(_, _, _, _)
ApplyOps(s, v, ops, x) ==
    IF ops = <<>> THEN s ELSE ApplyOps(ApplyOp(s, v, Head(ops), x), v, Tail(ops), x)

-----------------------------------------------------------------------------
(******************************** Init *************************************)

Init ==
    /\ vmbos = {}
    /\ vas = [v \in Vms |-> <<>>]
    /\ handles = [j \in Jobs |-> <<>>]
    /\ gems = [g \in Gems |-> [ref |-> 1, evicted |-> FALSE]]
    /\ vms = [v \in Vms |-> [ref |-> 1, user |-> TRUE, alive |-> TRUE]]
    /\ lastResult = <<>>
    /\ lastErr = "OK"
    /\ extobjL = [v \in Vms |-> {}]
    /\ evictL = [v \in Vms |-> {}]
    /\ oops = {}
    /\ destroyed = {}
    /\ lastAct = [name |-> "Init", args |-> <<>>]

-----------------------------------------------------------------------------
(******************************* Actions ***********************************)

\* The step's end: every variable from s; the records' extobj/evict flags
\* from the VM's lists.
Commit(s, res) ==
    /\ vmbos' = {[b EXCEPT !.extobj = Name(b) \in s.ext[b.vm],
                           !.evict = Name(b) \in s.evl[b.vm]] : b \in s.bos}
    /\ vas' = s.vas
    /\ handles' = s.hs
    /\ gems' = s.gems
    /\ vms' = s.vms
    /\ extobjL' = s.ext
    /\ evictL' = s.evl
    /\ oops' = s.oops
    /\ destroyed' = s.dead
    /\ lastResult' = res
    /\ lastErr' = "OK"

\* A rejected call: the errno, nothing else changes.
Reject(err) ==
    /\ lastErr' = err
    /\ lastResult' = <<>>
    /\ destroyed' = {}
    /\ UNCHANGED <<vmbos, vas, handles, gems, vms, extobjL, evictL, oops>>

NoLists == Profile = "rfc2023"          \* EOPNOTSUPP: no extobj/evict lists
NoDefer == Profile = "rfc2023" \/ ~Immediate

JobArgs(j, v, g) == [job |-> j, vm |-> v, gem |-> g]

\* Under the GEM's resv: find (+1) or create; the job holds the handle.
Obtain(job, vm, gem) ==
    /\ lastAct' = [name |-> "Obtain", args |-> JobArgs(job, vm, gem)]
    /\ IF job \notin Jobs \/ gem \notin Gems \/ ~UserVm(vm) THEN Reject("ENOENT")
       ELSE LET f == SearchName(Cur, vm, gem)
                x == IF f # NoName THEN f ELSE <<vm, gem, FreeN(Cur, vm, gem)>>
                s1 == IF f # NoName THEN Get1(Cur, f)
                      ELSE IF PublishAtObtain THEN Publish(Create(Cur, vm, gem), x)
                      ELSE Create(Cur, vm, gem)
            IN Commit([s1 EXCEPT !.hs[job] = Append(@, x)], x)

\* Allocate first, then keep the found vm_bo (+1) and drop the preallocated
\* one, or keep (and publish) the preallocated one.
ObtainPrealloc(job, vm, gem) ==
    /\ lastAct' = [name |-> "ObtainPrealloc", args |-> JobArgs(job, vm, gem)]
    /\ IF job \notin Jobs \/ gem \notin Gems \/ ~UserVm(vm) THEN Reject("ENOENT")
       ELSE LET pre == <<vm, gem, FreeN(Cur, vm, gem)>>
                s0 == Create(Cur, vm, gem)
                f == SearchName(s0, vm, gem)
                x == IF f # NoName THEN f ELSE pre
                s1 == IF f # NoName THEN PutRef(Get1(s0, f), pre, FALSE)
                      ELSE IF PublishAtObtain THEN Publish(s0, pre)
                      ELSE s0
            IN Commit([s1 EXCEPT !.hs[job] = Append(@, x)], x)

\* sm_map in the VM; the new VA linked to the job's (first) vm_bo of (vm, gem).
Map(job, vm, addr, range, gem, offset) ==
    /\ lastAct' = [name |-> "Map", args |-> [job |-> job, vm |-> vm, addr |-> addr,
                                             range |-> range, gem |-> gem, offset |-> offset]]
    /\ IF ~UserVm(vm) \/ gem \notin Gems \/ job \notin Jobs THEN Reject("ENOENT")
       ELSE IF HandleOf(job, vm, gem) = NoName THEN Reject("EINVAL")
       ELSE IF ~ValidRange(vm, addr, range) \/ offset \notin Nat THEN Reject("EINVAL")
       ELSE LET x == HandleOf(job, vm, gem)
                s == IF Has(Cur, x) THEN Cur ELSE Oops(Cur, "use-after-free")
            IN Commit(ApplyOps(s, vm, MapOps(vas[vm], addr, range, gem, offset), x), <<>>)

\* sm_unmap in the VM, unlinking what it removes.
Unmap(vm, addr, range) ==
    /\ lastAct' = [name |-> "Unmap", args |-> [vm |-> vm, addr |-> addr, range |-> range]]
    /\ IF ~UserVm(vm) THEN Reject("ENOENT")
       ELSE IF ~ValidRange(vm, addr, range) THEN Reject("EINVAL")
       ELSE Commit(ApplyOps(Cur, vm, UnmapOps(vas[vm], addr, range), NoName), <<>>)

\* The job drops its first handle of (vm, gem).  The VM is not looked up: a
\* job may be freed after the user dropped the VM (its vm_bo holds the VM).
PutStep(name, job, vm, gem) ==
    /\ lastAct' = [name |-> name, args |-> JobArgs(job, vm, gem)]
    /\ IF name = "PutDeferred" /\ NoDefer THEN Reject("EOPNOTSUPP")
       ELSE IF job \notin Jobs THEN Reject("ENOENT")
       ELSE IF HandleOf(job, vm, gem) = NoName THEN Reject("EINVAL")
       ELSE LET x == HandleOf(job, vm, gem)
            IN Commit(PutRef([Cur EXCEPT !.hs[job] = RemoveFirst(@, x)], x,
                             name = "PutDeferred"), <<>>)

Put(job, vm, gem) == PutStep("Put", job, vm, gem)
PutDeferred(job, vm, gem) == PutStep("PutDeferred", job, vm, gem)

\* drm_gpuvm_bo_unmap_ops_create: walk the vm_bo of (vm, gem) (a find, +1),
\* one UNMAP per VA on its list, then put the walk's reference.
UnmapOpsCreate(vm, gem) ==
    /\ lastAct' = [name |-> "UnmapOpsCreate", args |-> [vm |-> vm, gem |-> gem]]
    /\ IF ~UserVm(vm) \/ gem \notin Gems THEN Reject("ENOENT")
       ELSE LET f == SearchName(Cur, vm, gem)
            IN IF f = NoName THEN Commit(Cur, <<>>)
               ELSE Commit(IterDone(Get1(Cur, f), f), Get(Cur, f).vas)

\* drm_gpuvm_bo_extobj_add of the job's vm_bo: onto the VM's extobj list
\* if the GEM is external (its resv is not the VM's) and not yet on it.
ExtobjAdd(job, vm, gem) ==
    /\ lastAct' = [name |-> "ExtobjAdd", args |-> JobArgs(job, vm, gem)]
    /\ IF NoLists THEN Reject("EOPNOTSUPP")
       ELSE IF ~UserVm(vm) \/ job \notin Jobs THEN Reject("ENOENT")
       ELSE IF HandleOf(job, vm, gem) = NoName THEN Reject("EINVAL")
       ELSE LET x == HandleOf(job, vm, gem) IN
            IF ~Has(Cur, x) THEN Commit(Oops(Cur, "use-after-free"), <<FALSE>>)
            ELSE IF GemResv(gem) # VmResv(vm) /\ x \notin extobjL[vm]
            THEN Commit([Cur EXCEPT !.ext[vm] = @ \cup {x}], <<TRUE>>)
            ELSE Commit(Cur, <<FALSE>>)

\* drm_gpuvm_bo_gem_evict: the GEM leaves (evict) or regains its placement;
\* each vm_bo on its list (refcount > 0) is marked and joins or leaves its
\* VM's evict list -- except, in resv mode, one on the extobj list.
Evict(gem, evict) ==
    /\ lastAct' = [name |-> "Evict", args |-> [gem |-> gem, evict |-> evict]]
    /\ IF NoLists THEN Reject("EOPNOTSUPP")
       ELSE IF gem \notin Gems THEN Reject("ENOENT")
       ELSE LET hit == {b \in vmbos : b.gem = gem /\ b.listed /\ b.kref > 0}
                moved(v) == {Name(b) : b \in {c \in hit : c.vm = v /\
                                 ~(ListMode = "resv" /\ Name(c) \in extobjL[v])}}
                s1 == [Cur EXCEPT !.gems[gem].evicted = evict,
                                  !.bos = {IF b \in hit THEN [b EXCEPT !.evicted = evict] ELSE b
                                           : b \in vmbos},
                                  !.evl = [v \in Vms |-> IF evict THEN evictL[v] \cup moved(v)
                                                         ELSE evictL[v] \ moved(v)]]
            IN Commit(s1, <<>>)

\* exec: drm_gpuvm_exec_lock (the VM's resv and every extobj's, skipping
\* zombies; resv mode: evicted extobjs join the evict list) and
\* drm_gpuvm_validate (every vm_bo on the evict list at refcount > 0: its
\* GEM is placed again, every vm_bo of that GEM unmarked, and it leaves the
\* list).  The result: the resvs locked, sorted.
Validate(vm) ==
    /\ lastAct' = [name |-> "Validate", args |-> [vm |-> vm]]
    /\ IF NoLists THEN Reject("EOPNOTSUPP")
       ELSE IF ~UserVm(vm) THEN Reject("ENOENT")
       ELSE LET ext == {x \in extobjL[vm] : Has(Cur, x) /\ Get(Cur, x).kref > 0}
                locked == {VmResv(vm)} \cup {GemResv(x[2]) : x \in ext}
                evl == IF ListMode = "resv"
                       THEN evictL[vm] \cup {x \in ext : Get(Cur, x).evicted}
                       ELSE evictL[vm]
                rv == {x \in evl : Has(Cur, x) /\ Get(Cur, x).kref > 0}
                gs == {x[2] : x \in rv}
                dangling == \E x \in extobjL[vm] \cup evl : ~Has(Cur, x)
                s0 == IF dangling THEN Oops(Cur, "use-after-free") ELSE Cur
                s1 == [s0 EXCEPT
                         !.evl[vm] = evl \ rv,
                         !.gems = [g \in Gems |-> IF g \in gs THEN [gems[g] EXCEPT !.evicted = FALSE]
                                                 ELSE gems[g]],
                         !.bos = {IF b.gem \in gs /\ b.listed THEN [b EXCEPT !.evicted = FALSE]
                                  ELSE b : b \in vmbos}]
            IN Commit(s1, SortResvs(locked))

\* The user drops the VM.  upstream: its reference goes (freed at 0);
\* seed 003: freed now, whatever still points at it.
VmPut(vm) ==
    /\ lastAct' = [name |-> "VmPut", args |-> [vm |-> vm]]
    /\ IF ~UserVm(vm) THEN Reject("ENOENT")
       ELSE IF Profile = "upstream"
       THEN Commit(VmRef([Cur EXCEPT !.vms[vm].user = FALSE], vm, -1), <<>>)
       ELSE Commit([Cur EXCEPT !.vms[vm].user = FALSE, !.vms[vm].alive = FALSE], <<>>)

RECURSIVE DestroyAll(_, _)
DestroyAll(s, Z) ==
    IF Z = {} THEN s ELSE LET x == CHOOSE x \in Z : TRUE IN DestroyAll(Destroy(s, x), Z \ {x})

\* drm_gpuvm_bo_deferred_cleanup (a worker; no trace logs it): free the
\* VM's vm_bos at refcount 0.
DeferredCleanup(vm) ==
    /\ lastAct' = [name |-> "DeferredCleanup", args |-> [vm |-> vm]]
    /\ IF NoDefer THEN Reject("EOPNOTSUPP")
       ELSE IF vm \notin Vms \/ ~vms[vm].alive THEN Reject("ENOENT")
       ELSE Commit(DestroyAll(Cur, {Name(b) : b \in {c \in vmbos : c.vm = vm /\ c.kref = 0}}),
                   <<>>)

-----------------------------------------------------------------------------
(******************************** Next *************************************)

ObtainStep(j, v, g) == Obtain(j, v, g) \/ ObtainPrealloc(j, v, g)

OtherStep ==
    \/ \E j \in Jobs, v \in Vms, g \in Gems :
          \/ \E a \in ReqAddrs, r \in ReqRanges : \E o \in ReqOffsets(a) : Map(j, v, a, r, g, o)
          \/ Put(j, v, g)
          \/ PutDeferred(j, v, g)
          \/ ExtobjAdd(j, v, g)
    \/ \E v \in Vms, a \in ReqAddrs, r \in ReqRanges : Unmap(v, a, r)
    \/ \E v \in Vms, g \in Gems : UnmapOpsCreate(v, g)
    \/ \E g \in Gems, e \in BOOLEAN : Evict(g, e)
    \/ \E v \in Vms : Validate(v) \/ DeferredCleanup(v)

Next ==
    \/ \E j \in Jobs, v \in Vms, g \in Gems : ObtainStep(j, v, g)
    \/ \E v \in Vms : VmPut(v)
    \/ OtherStep

Spec == Init /\ [][Next]_vars

\* The model's abstract variables, as the trace checker and the
\* conformance printer compare them.
Observed == [vmbos |-> vmbos, vas |-> vas, handles |-> handles, gems |-> gems, vms |-> vms,
             lastResult |-> lastResult, lastErr |-> lastErr]

\* The only step the model does not log.
Internal == \E v \in Vms : DeferredCleanup(v)

-----------------------------------------------------------------------------
(***************************** Invariants **********************************)
(* Written from seed 003's prose and the notes' C5 list (and the upstream  *)
(* facts §6 for the lists and the VM's references), with their own        *)
(* counting and predicates: nothing below uses an operator of the          *)
(* algorithm above.  State invariants are checked on states; step          *)
(* invariants (action formulas over the state before a step and lastAct', *)
(* lastResult', lastErr', destroyed' and the state after it) on every      *)
(* transition, through MCVmBo.tla's [][...]_vars.                          *)

\* -------- written out for the properties --------

Bos(v, g) == {b \in vmbos : b.vm = v /\ b.gem = g}
Live(v, g) == {b \in Bos(v, g) : b.kref > 0}
NameOf(b) == <<b.vm, b.gem, b.n>>

\* How many handles, over all jobs, name x.
HandleCount(x) ==
    Cardinality({jk \in UNION {{j} \X DOMAIN handles[j] : j \in Jobs} : handles[jk[1]][jk[2]] = x})

\* The addresses of the mappings of VM v, and those of GEM g.
VaAddrs(v) == {vas[v][k][1] : k \in DOMAIN vas[v]}
GemVaAddrs(v, g) == {vas[v][k][1] : k \in {i \in DOMAIN vas[v] : vas[v][i][3] = g}}

\* GEM g is external to VM v: it does not share v's resv.
IsExternal(v, g) == GemResvOf[g] # v

\* The elements of sequence sq that are in set S, in sq's order.
Restrict(sq, S) == SelectSeq(sq, LAMBDA x : x \in S)
Distinct(sq) == \A i, k \in DOMAIN sq : i # k => sq[i] # sq[k]
Elems(sq) == {sq[k] : k \in DOMAIN sq}

\* -------- state invariants --------

\* Every variable holds what its comment says.
TypeOK ==
    /\ \A b \in vmbos : IsVmBo(b)
    /\ DOMAIN vas = Vms /\ \A v \in Vms : \A k \in DOMAIN vas[v] : IsVa(vas[v][k])
    /\ DOMAIN handles = Jobs /\ \A j \in Jobs : \A k \in DOMAIN handles[j] : IsName(handles[j][k])
    /\ DOMAIN gems = Gems /\ \A g \in Gems : gems[g].ref \in Int /\ gems[g].evicted \in BOOLEAN
    /\ DOMAIN vms = Vms /\ \A v \in Vms : vms[v].ref \in Int /\ {vms[v].user, vms[v].alive} \subseteq BOOLEAN
    /\ lastErr \in Errnos
    /\ IF lastAct.name = "ExtobjAdd" /\ lastErr = "OK" THEN lastResult \in {<<TRUE>>, <<FALSE>>}
       ELSE DOMAIN lastResult = 1 .. Len(lastResult)
    /\ \A v \in Vms : \A x \in extobjL[v] \cup evictL[v] : IsName(x) /\ x[1] = v
    /\ oops \subseteq Faults
    /\ \A b \in destroyed : IsVmBo(b)
    /\ lastAct.name \in ActNames

\* One vm_bo per (VM, GEM) (C5.1; design §1): at most one of a pair is
\* alive (refcount > 0) and at most one is on the GEM's list.  A zombie at
\* refcount 0 waiting for the deferred cleanup is not alive.
UniqueInv ==
    \A v \in Vms, g \in Gems :
        /\ Cardinality(Live(v, g)) <= 1
        /\ Cardinality({b \in Bos(v, g) : b.listed}) <= 1

\* Who is findable.  upstream: a vm_bo is on its GEM's list exactly while
\* it is alive (published at obtain, off at destroy or at a deferred put's
\* 0).  seed 003 (C5.2, v2): exactly while it has a VA.
PublishedInv ==
    \A b \in vmbos :
        IF Profile = "upstream" THEN b.listed <=> b.kref > 0 ELSE b.listed <=> b.vas # <<>>

\* The refcount (C5.4): one per VA on the vm_bo's list and one per handle
\* a job holds -- so a vm_bo at 0 has neither; no put found it at 0.
KrefInv ==
    /\ \A b \in vmbos : b.kref = Len(b.vas) + HandleCount(NameOf(b))
    /\ "kref-underflow" \notin oops

\* The links (C5.3): every VA of GEM g in VM v is on exactly one vm_bo's
\* list, once, and that vm_bo is (v, g); every list entry is a VA of the
\* VM; no unlink ever found nothing to unlink.
VaLinkInv ==
    /\ \A v \in Vms : \A k \in DOMAIN vas[v] :
          LET a == vas[v][k][1]
              on == {b \in vmbos : b.vm = v /\ a \in Elems(b.vas)}
          IN /\ Cardinality(on) = 1
             /\ \A b \in on : b.gem = vas[v][k][3] /\ Len(Restrict(b.vas, {a})) = 1
    /\ \A b \in vmbos : Elems(b.vas) \subseteq VaAddrs(b.vm)
    /\ "not-linked" \notin oops

\* The GEM's references (C5.6): the user's handle and one per vm_bo of it.
GemRefInv == \A g \in Gems : gems[g].ref = 1 + Cardinality({b \in vmbos : b.gem = g})

\* The VM's references (upstream facts 40, 41, 61): the user's, one per
\* vm_bo of it and one per mapping; a freed VM has none.  seed 003 counts
\* none: the user's handle only.
VmRefInv ==
    \A v \in Vms :
        IF Profile = "rfc2023" THEN vms[v].ref = 1
        ELSE IF vms[v].alive
        THEN vms[v].ref = (IF vms[v].user THEN 1 ELSE 0)
                          + Cardinality({b \in vmbos : b.vm = v}) + Len(vas[v])
        ELSE vms[v].ref = 0

\* A VM outlives its vm_bos and mappings (C5.12; seed 003's Y5): a freed
\* VM has no mapping, no vm_bo and empty lists, and only a VM the user
\* dropped is freed.
VmFreeInv ==
    \A v \in Vms :
        ~vms[v].alive =>
            /\ ~vms[v].user
            /\ vas[v] = <<>>
            /\ ~\E b \in vmbos : b.vm = v
            /\ extobjL[v] = {} /\ evictL[v] = {}

\* No use after free: every handle and every extobj or evict list entry
\* names an existing vm_bo (of that VM), and no step touched a freed vm_bo
\* or VM.  (A VA link to a freed vm_bo breaks VaLinkInv.)
NoUseAfterFreeInv ==
    /\ \A j \in Jobs : Elems(handles[j]) \subseteq {NameOf(b) : b \in vmbos}
    /\ \A v \in Vms : extobjL[v] \cup evictL[v] \subseteq {NameOf(b) : b \in {c \in vmbos : c.vm = v}}
    /\ "use-after-free" \notin oops

\* The extobj list (facts 46, 45): only vm_bos of GEMs external to the VM;
\* a record's flags are its membership of the VM's lists; seed 003 has no
\* lists at all.
ExtobjInv ==
    /\ \A b \in vmbos : b.extobj => IsExternal(b.vm, b.gem)
    /\ \A b \in vmbos : (b.extobj <=> NameOf(b) \in extobjL[b.vm])
                        /\ (b.evict <=> NameOf(b) \in evictL[b.vm])
    /\ Profile = "rfc2023" => \A v \in Vms : extobjL[v] = {} /\ evictL[v] = {}

\* Eviction (facts 47, 50, 53): an alive vm_bo marked evicted has an
\* evicted GEM, and it is where the next validate finds it -- on its VM's
\* evict list (spinlock mode), or on the evict list or the extobj list,
\* from which prepare_objects lists it (resv mode).
EvictInv ==
    \A b \in vmbos : b.kref > 0 /\ b.evicted =>
        /\ gems[b.gem].evicted
        /\ IF ListMode = "spinlock" THEN b.evict ELSE b.evict \/ b.extobj

\* Zombies (facts 59, 60): a vm_bo at refcount 0 exists only in immediate
\* mode, waiting for the cleanup; it is on no GEM list (find cannot see
\* it), and with spinlocks on no VM list either.
DeferredInv ==
    \A b \in vmbos : b.kref = 0 =>
        /\ Immediate /\ Profile = "upstream"
        /\ ~b.listed
        /\ ListMode = "spinlock" => ~b.extobj /\ ~b.evict

\* -------- step invariants (action formulas) --------

Act == lastAct'.name
Arg == lastAct'.args
OK == lastErr' = "OK"
Old(x) == CHOOSE b \in vmbos : NameOf(b) = x
New(x) == CHOOSE b \in vmbos' : NameOf(b) = x
Exist == {NameOf(b) : b \in vmbos}
Exist2 == {NameOf(b) : b \in vmbos'}

\* Destroy (C5.5; Y7): a vm_bo is destroyed only at refcount 0 with an
\* empty VA list (and, seed 003, off the GEM's list, which its destroy
\* does not touch); then it is gone.  No vm_bo vanishes otherwise.
DestroyInv ==
    /\ \A r \in destroyed' :
          /\ r.kref = 0 /\ r.vas = <<>>
          /\ Profile = "rfc2023" => ~r.listed
          /\ NameOf(r) \notin Exist2
    /\ Exist \ Exist2 \subseteq {NameOf(r) : r \in destroyed'}

\* Errors (design §7; the action table): EOPNOTSUPP for the lists and
\* deferred cleanup where the profile or mode lacks them; ENOENT for a VM
\* the user no longer holds (DeferredCleanup: a freed one; Put: never,
\* see Put) and unknown names; EINVAL for a missing handle and a range
\* drm_gpuvm rejects.  A rejected call changes nothing and returns nothing.
ErrnoInv ==
    LET v == Arg.vm
        userVm == v \in Vms /\ vms[v].alive /\ vms[v].user
        noHandle == ~\E k \in DOMAIN handles[Arg.job] :
                        handles[Arg.job][k][1] = v /\ handles[Arg.job][k][2] = Arg.gem
        badRange == ~(Arg.range >= 1 /\ VmRange[v][1] <= Arg.addr
                      /\ Arg.addr + Arg.range <= VmRange[v][1] + VmRange[v][2])
        unsup == \/ Act \in {"ExtobjAdd", "Evict", "Validate", "PutDeferred", "DeferredCleanup"}
                    /\ Profile = "rfc2023"
                 \/ Act \in {"PutDeferred", "DeferredCleanup"} /\ ~Immediate
    IN /\ (lastErr' = "EOPNOTSUPP") <=> unsup
       /\ ~unsup =>
          CASE Act \in {"Obtain", "ObtainPrealloc"} ->
                 (lastErr' = "ENOENT") <=> ~userVm \/ Arg.job \notin Jobs \/ Arg.gem \notin Gems
            [] Act = "Map" ->
                 /\ (lastErr' = "ENOENT") <=> ~userVm \/ Arg.job \notin Jobs \/ Arg.gem \notin Gems
                 /\ lastErr' # "ENOENT" => ((lastErr' = "EINVAL") <=> noHandle \/ badRange)
            [] Act = "Unmap" ->
                 /\ (lastErr' = "ENOENT") <=> ~userVm
                 /\ userVm => ((lastErr' = "EINVAL") <=> badRange)
            [] Act \in {"Put", "PutDeferred"} ->
                 /\ (lastErr' = "ENOENT") <=> Arg.job \notin Jobs
                 /\ Arg.job \in Jobs => ((lastErr' = "EINVAL") <=> noHandle)
            [] Act = "ExtobjAdd" ->
                 /\ (lastErr' = "ENOENT") <=> ~userVm \/ Arg.job \notin Jobs
                 /\ lastErr' # "ENOENT" => ((lastErr' = "EINVAL") <=> noHandle)
            [] Act \in {"UnmapOpsCreate"} ->
                 (lastErr' = "ENOENT") <=> ~userVm \/ Arg.gem \notin Gems
            [] Act \in {"Validate", "VmPut"} -> (lastErr' = "ENOENT") <=> ~userVm
            [] Act = "Evict" -> (lastErr' = "ENOENT") <=> Arg.gem \notin Gems
            [] Act = "DeferredCleanup" -> (lastErr' = "ENOENT") <=> ~(v \in Vms /\ vms[v].alive)
            [] OTHER -> TRUE
       /\ ~OK => /\ lastResult' = <<>> /\ destroyed' = {}
                 /\ UNCHANGED <<vmbos, vas, handles, gems, vms, extobjL, evictL, oops>>

\* find and obtain (C5.7, C5.8): obtain returns the findable vm_bo of (vm,
\* gem) with one more reference, creating nothing (obtain_prealloc's spare
\* is freed); or, if none is findable, a fresh one at refcount 1 with the
\* lowest free number, published at once (upstream) or not (seed 003).
\* Nothing else changes but the job's handles, which gain the result.
ObtainInv ==
    Act \in {"Obtain", "ObtainPrealloc"} /\ OK =>
        LET x == lastResult'
            findable == {NameOf(b) : b \in {c \in Bos(Arg.vm, Arg.gem) : c.listed /\ c.kref > 0}}
            used == {b.n : b \in Bos(Arg.vm, Arg.gem)}
        IN /\ x[1] = Arg.vm /\ x[2] = Arg.gem
           /\ handles' = [handles EXCEPT ![Arg.job] = Append(@, x)]
           /\ IF findable # {}
              THEN /\ x \in findable
                   /\ vmbos' = (vmbos \ {Old(x)}) \cup {[Old(x) EXCEPT !.kref = @ + 1]}
                   /\ UNCHANGED <<gems, vms>>
              ELSE /\ x \notin Exist
                   /\ x[3] \notin used /\ \A m \in 1 .. x[3] - 1 : m \in used
                   /\ vmbos' = vmbos \cup {New(x)}
                   /\ New(x).kref = 1 /\ New(x).vas = <<>> /\ ~New(x).evicted
                   /\ New(x).listed <=> Profile = "upstream"
                   /\ gems'[Arg.gem].ref = gems[Arg.gem].ref + 1

\* The VA of address a in the mappings vs.
VaOf(vs, a) == IF \E k \in DOMAIN vs : vs[k][1] = a
               THEN vs[CHOOSE k \in DOMAIN vs : vs[k][1] = a] ELSE <<a>>

\* Link order (upstream fact 36; drm_gpuva_link is list_add_tail, unlink
\* list_del): through any step, a vm_bo's list keeps the VAs that stay, in
\* their order, and the VAs linked in the step follow them -- pieces in
\* ascending address, and a Map's new VA last.  (VAs are told apart by
\* all their fields; a Map's VA is new even if an equal one was replaced.)
LinkOrderInv ==
    OK =>
        \A x \in Exist \cap Exist2 :
            (vas'[x[1]] = vas[x[1]] /\ New(x).vas = Old(x).vas) \/
            LET v == x[1]
                reqVa == IF Act = "Map" /\ Arg.vm = v
                         THEN <<Arg.addr, Arg.range, Arg.gem, Arg.offset, 0>> ELSE <<>>
                before == [k \in DOMAIN Old(x).vas |-> VaOf(vas[v], Old(x).vas[k])]
                after == [k \in DOMAIN New(x).vas |-> VaOf(vas'[v], New(x).vas[k])]
                stay == (Elems(vas[v]) \cap Elems(vas'[v])) \ {reqVa}
                kept == Restrict(before, stay)
                added == SubSeq(after, Len(kept) + 1, Len(after))
                pieces == Restrict(added, Elems(added) \ {reqVa})
            IN /\ Len(kept) <= Len(after)
               /\ SubSeq(after, 1, Len(kept)) = kept
               /\ \A k \in DOMAIN added : added[k] \notin stay
               /\ \A i, k \in DOMAIN pieces : i < k => pieces[i][1] < pieces[k][1]
               /\ reqVa \in Elems(added) => added[Len(added)] = reqVa

\* bo_unmap_ops_create (C5.9; Y2, Y9): no reference count and nothing else
\* changes; the ops name every VA of the GEM in this VM, each once, and
\* none of another VM, in the order of the vm_bo list holding them.
UnmapOpsInv ==
    Act = "UnmapOpsCreate" /\ OK =>
        /\ UNCHANGED <<vmbos, vas, handles, gems, vms, extobjL, evictL>>
        /\ Distinct(lastResult')
        /\ Elems(lastResult') = GemVaAddrs(Arg.vm, Arg.gem)
        /\ \A b \in Bos(Arg.vm, Arg.gem) :
              Restrict(lastResult', Elems(b.vas)) = Restrict(b.vas, Elems(lastResult'))

\* extobj_add (fact 46): returns <<TRUE>> exactly when it added; afterwards the
\* job's vm_bo is on the list iff it was or its GEM is external.
ExtobjAddInv ==
    Act = "ExtobjAdd" /\ OK =>
        LET x == CHOOSE h \in Elems(handles[Arg.job]) : h[1] = Arg.vm /\ h[2] = Arg.gem
        IN /\ lastResult' = <<x \notin extobjL[Arg.vm] /\ IsExternal(Arg.vm, Arg.gem)>>
           /\ extobjL'[Arg.vm] = extobjL[Arg.vm] \cup (IF lastResult'[1] THEN {x} ELSE {})
           /\ {[b EXCEPT !.extobj = FALSE] : b \in vmbos'} = {[b EXCEPT !.extobj = FALSE] : b \in vmbos}
           /\ UNCHANGED <<gems, vms, vas, handles, evictL>>

\* Eviction (facts 47, 48): the GEM and every alive vm_bo of it take the
\* new state; each of those joins (evict) or leaves its VM's evict list --
\* in resv mode unless it is on the extobj list, whose entry stays as it
\* was; nothing else moves.
EvictStepInv ==
    Act = "Evict" /\ OK =>
        /\ gems'[Arg.gem].evicted = Arg.evict
        /\ \A b \in vmbos' : b.gem = Arg.gem /\ b.kref > 0 =>
              /\ b.evicted = Arg.evict
              /\ IF ListMode = "resv" /\ b.extobj
                 THEN b.evict = Old(NameOf(b)).evict
                 ELSE b.evict = Arg.evict
        /\ \A b \in vmbos' : b.gem # Arg.gem \/ b.kref = 0 => b \in vmbos
        /\ UNCHANGED <<vas, handles, extobjL>>
        /\ Exist = Exist2

\* Validate (facts 49-53, 60): afterwards no alive vm_bo of the VM is
\* evicted and its evict list holds only zombies; the resvs locked are
\* the VM's and those of the GEMs of its alive extobj vm_bos, each once,
\* in sorted order (NameOrder); no reference, mapping or handle changes.
ValidateInv ==
    Act = "Validate" /\ OK =>
        LET v == Arg.vm
            want == {"resv:" \o v} \cup
                    {"resv:" \o (IF GemResvOf[b.gem] = "" THEN b.gem ELSE GemResvOf[b.gem])
                       : b \in {c \in vmbos : c.vm = v /\ c.extobj /\ c.kref > 0}}
            rank(r) == CHOOSE k \in DOMAIN NameOrder : "resv:" \o NameOrder[k] = r
        IN /\ \A b \in vmbos' : b.vm = v /\ b.kref > 0 => ~b.evicted /\ ~b.evict
           /\ Elems(lastResult') = want /\ Distinct(lastResult')
           /\ \A i, k \in DOMAIN lastResult' : i < k => rank(lastResult'[i]) < rank(lastResult'[k])
           /\ UNCHANGED <<vas, handles, extobjL>>
           /\ Exist = Exist2
           /\ \A b \in vmbos' : b.kref = Old(NameOf(b)).kref

\* Deferred put and cleanup (facts 59, 60): a deferred put destroys
\* nothing -- at 0 the vm_bo stays, off the GEM's list (and in spinlock
\* mode off the VM's lists); a plain put leaves no vm_bo at 0; the cleanup
\* frees exactly the VM's zombies and leaves every other vm_bo as it was.
DeferredStepInv ==
    /\ Act = "PutDeferred" /\ OK =>
          /\ destroyed' = {} /\ Exist2 = Exist
          /\ \A b \in vmbos' : b.kref = 0 /\ Old(NameOf(b)).kref > 0 =>
                ~b.listed /\ (ListMode = "spinlock" => ~b.extobj /\ ~b.evict)
    /\ Act \in {"Put", "Map", "Unmap", "UnmapOpsCreate"} /\ OK =>
          \A b \in vmbos' : b.kref = 0 => b \in vmbos
    /\ Act = "DeferredCleanup" /\ OK =>
          /\ Exist \ Exist2 = {NameOf(b) : b \in {c \in vmbos : c.vm = Arg.vm /\ c.kref = 0}}
          /\ vmbos' \subseteq vmbos

=============================================================================
