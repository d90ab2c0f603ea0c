------------------------------- MODULE XeBind -------------------------------
(***************************************************************************)
(* Xe's asynchronous VM_BIND on top of the GPUVA manager (seed 002, "drm/  *)
(* xe: Port Xe to GPUVA", v5 4/8, with Thomas Hellstrom's review): one VM  *)
(* in async bind mode, user threads issuing VM_BIND and RESTART ioctls     *)
(* from fixed programs, and the VM's one async worker.  VA is abstracted   *)
(* to the pages 0 .. NP-1.                                                 *)
(*                                                                         *)
(* A VM_BIND ioctl (every op async) goes through the notes' pipeline (B3): *)
(*   parse    each user op becomes GPUVA ops against the tree as the ops   *)
(*            before it left it (mmap semantics): an UNMAP of every VMA    *)
(*            the range covers, a REMAP (the old VMA, the piece left of    *)
(*            the range, the piece right of it) of every VMA it cuts, in   *)
(*            address order, then a MAP for a user map;                    *)
(*   commit   the tree is rewritten at once, the ops get ids and go onto   *)
(*            async_ops.pending in order, the last one carrying the        *)
(*            ioctl's out-fence; the ioctl returns 0.                      *)
(* The worker then executes the head op, one sub-step per step:            *)
(*   MAP      "bind" (its pages written into the page table);              *)
(*   UNMAP    "unbind" (its pages cleared);                                *)
(*   REMAP    the resumable state machine of xe_vma_op_execute: "unbind"   *)
(*            of the old VMA (unmap_done), then "prev", then "next", with  *)
(*            munmap_rebind_inflight set from the unbind to the end.       *)
(* An op leaves pending in the step of its last sub-step, and its fence    *)
(* (if it carries one) signals then.  A sub-step named in the op's fail    *)
(* set fails once with -ENOMEM (the FORCE_ASYNC_OP_ERROR injection,        *)
(* widened to any sub-step): vm_set_async_error puts the VM in the error   *)
(* state, the op stays at the head and the worker stops.  Commits go on    *)
(* while the worker is stopped.  A RESTART op (xe of that time, not in the *)
(* seed) clears the error, and the worker resumes at the op that failed,   *)
(* at the sub-step that failed; RESTART on a VM not in the error state is  *)
(* -EPROTO.                                                                *)
(*                                                                         *)
(* Profiles: "seed", the code as posted: an ioctl whose ops produce no     *)
(* GPUVA op (an unmap of an empty range) hits XE_BUG_ON(!last_op) (notes   *)
(* X1, X4), and a REMAP sets munmap_rebind_inflight before its unbind, so  *)
(* a failed unbind leaves it set with nothing unbound (X16); "fixed", what *)
(* the review and the notes ask: an empty unmap is a successful no-op      *)
(* whose out-fence signals (X2, X4) -- once every earlier fence has, so   *)
(* the out-fences keep their order (an empty unmap behind an unexecuted    *)
(* bind waits for it: MCXeBindFixedEmptyLate.cfg) -- and the flag is set   *)
(* only once the unbind succeeded.                                         *)
(*                                                                         *)
(* Known-bad variants (Bug): "remap_repeats" (a REMAP does not record      *)
(* that its unbind is done -- neither unmap_done nor the inflight section  *)
(* -- so every later step of it unbinds again), and                        *)
(* "worker_ignores_error" (the worker does not stop on an error: the       *)
(* failed op is dropped, its fence signalled, without its page-table       *)
(* effect).                                                                *)
(*                                                                         *)
(* Not modelled: sync binds (X9), PREFETCH, MAP_USERPTR and UNMAP_ALL,     *)
(* argument checks and their errnos, errors in parse and commit (X3, X5,   *)
(* X10, X13), the syncs themselves (an ioctl has one out-fence, here       *)
(* whether or not it has syncs), BO and VM references, extobj tracking     *)
(* (X14), gt_mask and the union aliasing (X11, X12), locks (vm->lock, the  *)
(* resvs, the notifier lock: the worker's sub-step is atomic), VM close    *)
(* and its flushing of pending ops, error capture, fault mode, userptr     *)
(* -EAGAIN retries, merges, several VMs or bind engines.                   *)
(*                                                                         *)
(* Departures, kept on purpose (the step interface of the Python model):   *)
(* the seed injects its error only into the first GPUVA op of a user op,   *)
(* before any sub-step; here a user op names the sub-steps that fail       *)
(* (each once) and every GPUVA op it produces gets that set.  RESTART and  *)
(* the error state are taken from the xe driver of the time, not from the  *)
(* seed (notes B7: "the restart path is not shown").  The kernel's fence   *)
(* is signalled by the page-table job of the last sub-step; here it        *)
(* signals when the op leaves pending.                                     *)
(*                                                                         *)
(* Two layers.  Sections "Init" to "Next" are the algorithm, at the step   *)
(* granularity of the Python model.  The properties at the end are written *)
(* again from the seed's prose and the notes (B3, B5 invariants 1, 4-7,    *)
(* X1, X4, X9, X16) with helpers of their own: they use none of the action *)
(* operators, so a bug variant cannot change what is checked.              *)
(*                                                                         *)
(* Every variable is the model's abstract state (Observed) in exactly its  *)
(* encoding, except lastAct, the spec's own; Observed gives pte as the set *)
(* of <<page, entry>> pairs of the mapped pages.                           *)
(***************************************************************************)
EXTENDS Integers, Sequences, FiniteSets, TLC

CONSTANTS
    Threads,        \* the user threads, each running its own program
    NP,             \* pages of the VA space: Pages == 0 .. NP-1
    Bos,            \* the GEM handles (decimal strings)
    Programs,       \* thread -> its ioctls, in order (restart or bind entries)
    Profile,        \* "seed" (as posted) or "fixed" (see above)
    Bug             \* "none" or a known-bad variant (see above)

VARIABLES
    pc,         \* thread -> index of its next program entry (Len + 1: done)
    pending,    \* async_ops.pending: the committed GPUVA ops not yet executed
    execd,      \* history: the <<op id, sub-step>> pairs the worker completed
    tree,       \* the GPUVA tree (VMA records), rewritten at commit
    error,      \* async_ops.error: "OK" or "ENOMEM"
    inflight,   \* async_ops.munmap_rebind_inflight
    fences,     \* the out-fence of each VM_BIND that returned 0: "pending"/"signalled"
    oops,       \* the kernel hit XE_BUG_ON (seed profile)
    nextop,     \* the id the next committed GPUVA op gets
    lastErr,    \* what the last ioctl returned: "OK" or "EPROTO"
    lastAct,    \* auxiliary: the last action's name and arguments
    pte         \* page -> <<bo, bopage, ro>> or "none": the page table (worker only)

\* pc, pending and execd come first and pte last on purpose: every step
\* changes one of the first three, so TLC's vars' # vars (in the fairness
\* conditions) is decided before it reaches pte, whose entries mix a string
\* and tuples that TLC cannot compare ("none" = <<b, q, r>> is an error).
vars == <<pc, pending, execd, tree, error, inflight, fences, oops, nextop,
          lastErr, lastAct, pte>>

-----------------------------------------------------------------------------
(***************************** Types ***************************************)

Pages == 0 .. NP - 1
None == "none"
Errs == {"OK", "EPROTO"}
AsyncErrs == {"OK", "ENOMEM"}
SubSteps == {"bind", "unbind", "prev", "next"}
OpKinds == {"map", "unmap", "remap"}
ActNames == {"Bind", "Restart", "Work"}
Profiles == {"seed", "fixed"}
Bugs == {"none", "remap_repeats", "worker_ignores_error"}

\* A VMA: pages [first, first + n) show bo's pages from bopage on; ro is
\* XE_VMA_READ_ONLY.
Vma == [first : Pages, n : 1 .. NP, bo : Bos, bopage : Nat, ro : BOOLEAN]

\* The fields of a GPUVA op record on pending (for TypeOK).
OpFields == {"id", "kind", "vma", "prev", "next", "unmap_done", "prev_done",
             "next_done", "fail", "fence"}

\* x is "none" rather than a VMA record.  TLC cannot compare a string with
\* a record either way round, so the test goes through their printed forms.
IsNone(x) == ToString(x) = ToString(None)

\* Well-formed program entries (the constants' contract).
IsUOp(o) ==
    /\ o.op \in {"map", "unmap"}
    /\ o.first \in Pages /\ o.n \in 1 .. NP /\ o.first + o.n <= NP
    /\ o.bopage \in Nat
    /\ o.ro \in BOOLEAN
    /\ o.fail \subseteq SubSteps
    /\ o.op = "map" => o.bo \in Bos
    /\ o.op = "unmap" => o.bo = ""
IsEntry(E) ==
    \/ E.kind = "restart"
    \/ E.kind = "bind" /\ \A i \in DOMAIN E.ops : IsUOp(E.ops[i])

ASSUME NP \in Nat /\ NP >= 1
ASSUME "" \notin Bos
ASSUME Profile \in Profiles
ASSUME Bug \in Bugs
ASSUME DOMAIN Programs = Threads
ASSUME \A t \in Threads : \A k \in DOMAIN Programs[t] : IsEntry(Programs[t][k])

-----------------------------------------------------------------------------
(******************************** Init *************************************)

Init ==
    /\ pc = [t \in Threads |-> 1]
    /\ pending = <<>>
    /\ execd = <<>>
    /\ tree = {}
    /\ error = "OK"
    /\ inflight = FALSE
    /\ fences = <<>>
    /\ oops = FALSE
    /\ nextop = 1
    /\ lastErr = "OK"
    /\ lastAct = [name |-> "Init", args |-> <<>>]
    /\ pte = [p \in Pages |-> None]

-----------------------------------------------------------------------------
(******************************* Actions ***********************************)

Act(name, args) == lastAct' = [name |-> name, args |-> args]

(* ---- parse and commit: drm_gpuva_sm_map / sm_unmap_ops_create ---- *)

Ends(m) == m.first + m.n
Meets(m, o) == m.first < Ends(o) /\ o.first < Ends(m)
Swallows(o, m) == o.first <= m.first /\ Ends(m) <= Ends(o)

\* The pieces of VMA m that user op o leaves: the left one keeps first and
\* bopage, the right one starts at the op's end, its bopage moved on by the
\* distance from m's first page; both keep bo and ro.
LeftOf(m, o) == [first |-> m.first, n |-> o.first - m.first, bo |-> m.bo,
                 bopage |-> m.bopage, ro |-> m.ro]
RightOf(m, o) == [first |-> Ends(o), n |-> Ends(m) - Ends(o), bo |-> m.bo,
                  bopage |-> m.bopage + (Ends(o) - m.first), ro |-> m.ro]
MapVma(o) == [first |-> o.first, n |-> o.n, bo |-> o.bo, bopage |-> o.bopage, ro |-> o.ro]

\* On the shape of the helpers below and of the actions: TLC evaluates an
\* operator's argument again at each use and, while it computes ENABLED
\* (for the fairness conditions), caches no LET; a function's argument and
\* a bound variable are evaluated once.  So each helper that gets a tree
\* or a list of VMAs binds it with a local function first, and the actions
\* bind their values with \E over a one-element set where LET would do.

\* A set of disjoint VMAs as a sequence in ascending address order.
Ascending(S) ==
    LET f[R \in SUBSET Vma] ==
            IF R = {} THEN <<>>
            ELSE LET m == CHOOSE x \in R : \A y \in R : x.first <= y.first
                 IN <<m>> \o f[R \ {m}]
    IN f[S]

\* A GPUVA op record as commit puts it on pending: nothing done yet, no
\* fence (the ioctl's last op gets it).
NewOp(id, kind, v, prev, next, fail) ==
    [id |-> id, kind |-> kind, vma |-> v, prev |-> prev, next |-> next,
     unmap_done |-> FALSE, prev_done |-> FALSE, next_done |-> FALSE,
     fail |-> fail, fence |-> 0]

\* The GPUVA op for VMA m that user op o meets, with id i: an unmap if
\* the range covers m, else a remap with the pieces of m left outside it.
CutOp(m, o, i) ==
    IF Swallows(o, m)
    THEN NewOp(i, "unmap", m, None, None, o.fail)
    ELSE NewOp(i, "remap", m,
               IF m.first < o.first THEN LeftOf(m, o) ELSE None,
               IF Ends(o) < Ends(m) THEN RightOf(m, o) ELSE None,
               o.fail)

\* The GPUVA ops of user op o against tree T, numbered from id on: one for
\* each VMA it meets, ascending, then the map of a user map.
OpsOf(T, o, id) ==
    LET f[hit \in Seq(Vma)] ==
            LET cut == <<>> \o [i \in DOMAIN hit |-> CutOp(hit[i], o, id + i - 1)]
            IN IF o.op = "map"
               THEN Append(cut, NewOp(id + Len(hit), "map", MapVma(o), None, None, o.fail))
               ELSE cut
    IN f[Ascending({m \in T : Meets(m, o)})]

\* Tree T after user op o: every VMA it meets replaced by its pieces
\* outside the range, then the new VMA of a map.
AfterOp(T, o) ==
    LET f[TT \in SUBSET Vma] ==
            LET hit == {m \in TT : Meets(m, o)}
            IN (TT \ hit)
               \cup {LeftOf(m, o) : m \in {x \in hit : x.first < o.first}}
               \cup {RightOf(m, o) : m \in {x \in hit : Ends(o) < Ends(x)}}
               \cup (IF o.op = "map" THEN {MapVma(o)} ELSE {})
    IN f[T]

\* Parse and commit of user ops uops against tree T, ids from id on: the
\* GPUVA ops (each user op against the tree the ones before it left) and
\* the tree after them all.
Commit(T, uops, id) ==
    LET treeAfter[k \in 0 .. Len(uops)] ==
            IF k = 0 THEN T ELSE AfterOp(treeAfter[k - 1], uops[k])
        opsUpTo[k \in 0 .. Len(uops)] ==
            IF k = 0 THEN <<>>
            ELSE LET before == opsUpTo[k - 1]
                 IN before \o OpsOf(treeAfter[k - 1], uops[k], id + Len(before))
    IN [ops |-> opsUpTo[Len(uops)], tree |-> treeAfter[Len(uops)]]

\* Fence k of fences signals once no op of queue p carries a fence up to k:
\* an ioctl's fence is its last op's, and one with no op at all follows the
\* fences before it.
Settle(p, f) ==
    [k \in DOMAIN f |-> IF \A i \in DOMAIN p : p[i].fence = 0 \/ p[i].fence > k
                        THEN "signalled" ELSE f[k]]

\* Thread t's next VM_BIND: parse and commit.  Its GPUVA ops get the next
\* ids and go onto pending, the last one with the ioctl's fence, and the
\* tree is rewritten.  With no GPUVA op at all (an unmap of an empty
\* range): the seed hits XE_BUG_ON(!last_op); the fixed code returns 0 and
\* its fence signals once the earlier ones have.
Bind(t) ==
    /\ pc[t] <= Len(Programs[t])
    /\ Programs[t][pc[t]].kind = "bind"
    /\ pc' = [pc EXCEPT ![t] = @ + 1]
    /\ lastErr' = "OK"
    /\ Act("Bind", [thread |-> t])
    /\ \E uops \in {Programs[t][pc[t]].ops} : \E c \in {Commit(tree, uops, nextop)} :
          IF c.ops # <<>>
          THEN /\ pending' = pending \o [c.ops EXCEPT ![Len(c.ops)].fence = Len(fences) + 1]
               /\ tree' = c.tree
               /\ nextop' = nextop + Len(c.ops)
               /\ fences' = Append(fences, "pending")
               /\ UNCHANGED <<execd, error, inflight, oops, pte>>
          ELSE IF Profile = "fixed"
          THEN /\ fences' = Settle(pending, Append(fences, "pending"))
               /\ UNCHANGED <<pending, execd, tree, error, inflight, oops, nextop, pte>>
          ELSE /\ oops' = TRUE
               /\ UNCHANGED <<pending, execd, tree, error, inflight, fences, nextop, pte>>

\* Thread t's RESTART op: -EPROTO unless the VM is in the error state;
\* otherwise the error is cleared and the worker may resume at the head.
Restart(t) ==
    /\ pc[t] <= Len(Programs[t])
    /\ Programs[t][pc[t]].kind = "restart"
    /\ pc' = [pc EXCEPT ![t] = @ + 1]
    /\ Act("Restart", [thread |-> t])
    /\ IF error = "OK"
       THEN /\ lastErr' = "EPROTO"
            /\ UNCHANGED error
       ELSE /\ error' = "OK"
            /\ lastErr' = "OK"
    /\ UNCHANGED <<pending, execd, tree, inflight, fences, oops, nextop, pte>>

\* The model's direct ioctl (any VM, sync or async, any op, syncs, engines)
\* and its error injection are checked by its state machines, not here: a
\* run that uses them is not one of this spec's behaviours.
VmBind(t, vm, engine, ops, syncs, ext, r0, r1) == FALSE
Inject(n) == FALSE

(* ---- the worker: xe_vma_op_execute, one sub-step per step ---- *)

HasPrev(h) == ~IsNone(h.prev)
HasNext(h) == ~IsNone(h.next)

\* The sub-step op h runs next.
NextSub(h) ==
    CASE h.kind = "map" -> "bind"
      [] h.kind = "unmap" -> "unbind"
      [] ~h.unmap_done -> "unbind"
      [] HasPrev(h) /\ ~h.prev_done -> "prev"
      [] OTHER -> "next"

\* The page table with VMA v's pages written, or cleared.
Write(v) ==
    [p \in Pages |-> IF v.first <= p /\ p < Ends(v)
                     THEN <<v.bo, v.bopage + (p - v.first), v.ro>> ELSE pte[p]]
Clear(v) == [p \in Pages |-> IF v.first <= p /\ p < Ends(v) THEN None ELSE pte[p]]

\* Op h after a successful sub-step s (remap_repeats: unmap_done is not
\* recorded).
Progress(h, s) ==
    CASE s = "unbind" /\ h.kind = "remap" ->
             [h EXCEPT !.unmap_done = (Bug # "remap_repeats")]
      [] s = "prev" -> [h EXCEPT !.prev_done = TRUE]
      [] s = "next" -> [h EXCEPT !.next_done = TRUE]
      [] OTHER -> h

\* Op h has nothing left to do.
Finished(h) ==
    \/ h.kind \in {"map", "unmap"}
    \/ /\ h.unmap_done
       /\ HasPrev(h) => h.prev_done
       /\ HasNext(h) => h.next_done

\* The head op h leaves pending: its fence signals; a remap ends its
\* munmap_rebind_inflight section.
Pop(h) ==
    /\ pending' = Tail(pending)
    /\ fences' = Settle(Tail(pending), fences)
    /\ inflight' = IF h.kind = "remap" THEN FALSE ELSE inflight

\* Sub-step s of head op h succeeds.
Succeed(h, s) ==
    /\ pte' = CASE s = "bind" -> Write(h.vma)
               [] s = "unbind" -> Clear(h.vma)
               [] s = "prev" -> Write(h.prev)
               [] OTHER -> Write(h.next)
    /\ execd' = Append(execd, <<h.id, s>>)
    /\ \E h2 \in {Progress(h, s)} :
          IF Finished(h2)
          THEN Pop(h)
          ELSE /\ pending' = <<h2>> \o Tail(pending)
               /\ inflight' = IF h.kind = "remap" /\ s = "unbind" /\ Bug # "remap_repeats"
                              THEN TRUE ELSE inflight
               /\ UNCHANGED fences
    /\ UNCHANGED error

\* Sub-step s of head op h fails with -ENOMEM (it will not fail again):
\* the VM enters the error state with h still at the head.  The seed set
\* munmap_rebind_inflight before trying a remap's unbind.
\* worker_ignores_error: h is dropped instead, as if it had completed.
Fail(h, s) ==
    /\ IF Bug = "worker_ignores_error"
       THEN /\ Pop(h)
            /\ UNCHANGED error
       ELSE /\ pending' = <<[h EXCEPT !.fail = @ \ {s}]>> \o Tail(pending)
            /\ error' = "ENOMEM"
            /\ inflight' = IF Profile = "seed" /\ h.kind = "remap" /\ s = "unbind"
                           THEN TRUE ELSE inflight
            /\ UNCHANGED fences
    /\ UNCHANGED <<execd, pte>>

\* The worker executes the next sub-step of the head op, unless the VM is
\* in the error state (worker_ignores_error: it never is).
Work ==
    /\ pending # <<>>
    /\ error = "OK" \/ Bug = "worker_ignores_error"
    /\ Act("Work", <<>>)
    /\ \E h \in {Head(pending)} : \E s \in {NextSub(h)} :
          IF s \in h.fail THEN Fail(h, s) ELSE Succeed(h, s)
    /\ lastErr' = "OK"          \* the worker's step itself returns nothing else
    /\ UNCHANGED <<pc, tree, oops, nextop>>

-----------------------------------------------------------------------------
(******************************** Next *************************************)

Step ==
    \/ \E t \in Threads : Bind(t) \/ Restart(t)
    \/ Work

\* Every program is done and the worker has nothing it may do (pending is
\* empty, or the VM is in the error state with no restart left): the
\* system stutters, so that TLC's deadlock check reports only states where
\* something is stuck.
Terminated ==
    /\ \A t \in Threads : pc[t] > Len(Programs[t])
    /\ pending = <<>> \/ error # "OK"
    /\ UNCHANGED vars

Next == Step \/ Terminated

\* Weak fairness of the worker and of each thread's ioctls: a runnable
\* worker runs, a thread with entries left goes on.
Fairness ==
    /\ WF_vars(Work)
    /\ \A t \in Threads : WF_vars(Bind(t)) /\ WF_vars(Restart(t))

Spec == Init /\ [][Next]_vars /\ Fairness

\* The model's abstract variables, as the trace checker and the
\* conformance printer compare them; the page table as the set of
\* <<page, <<bo, bopage, ro>>>> pairs of its mapped pages.
Observed == [pc |-> pc, tree |-> tree,
             pte |-> {<<p, pte[p]>> : p \in {q \in Pages : pte[q] # None}},
             pending |-> pending, fences |-> fences, error |-> error,
             inflight |-> inflight, execd |-> execd, oops |-> oops,
             nextop |-> nextop, lastErr |-> lastErr]

\* The steps an ioctl-level log leaves out: the worker's.
Internal == Work

-----------------------------------------------------------------------------
(************************* Invariants and properties ***********************)
(* Written from the seed's prose (xe_vma_op_execute's REMAP state machine, *)
(* the worker, vm_bind_ioctl_ops_parse and _commit and the review) and the *)
(* notes (B3, B5 invariants 1, 4-7, X1, X4, X16, and X9's page-table       *)
(* shadow), with their own helpers: nothing below uses an action operator  *)
(* above.                                                                  *)

OnPage(m, p) == m.first <= p /\ p <= m.first + m.n - 1
Apart(m1, m2) == m1.first + m1.n <= m2.first \/ m2.first + m2.n <= m1.first
Absent(x) == ToString(x) = ToString("none")      \* no prev / next piece

\* What the page table should show for tree T: each page of a VMA m
\* holds m's bo page at the same distance from m.bopage as from m.first,
\* with m's read-only bit.
PageView(T) ==
    [p \in Pages |->
        IF \E m \in T : OnPage(m, p)
        THEN LET m == CHOOSE x \in T : OnPage(x, p)
             IN <<m.bo, m.bopage + (p - m.first), m.ro>>
        ELSE "none"]

\* Equality of two page-table entries ("none" or a tuple; TLC cannot
\* compare the string with a tuple the other way round).
SameEntry(a, b) == IF a = "none" THEN b = "none" ELSE b # "none" /\ a = b

\* A well-formed op record on pending.
GoodOp(r) ==
    /\ DOMAIN r = OpFields
    /\ r.id \in 1 .. nextop - 1
    /\ r.kind \in OpKinds
    /\ r.vma \in Vma
    /\ Absent(r.prev) \/ r.prev \in Vma
    /\ Absent(r.next) \/ r.next \in Vma
    /\ r.kind # "remap" => Absent(r.prev) /\ Absent(r.next)
    /\ r.kind = "remap" => ~(Absent(r.prev) /\ Absent(r.next))
    /\ r.unmap_done \in BOOLEAN /\ r.prev_done \in BOOLEAN /\ r.next_done \in BOOLEAN
    /\ r.fail \subseteq SubSteps
    /\ r.fence \in 0 .. Len(fences)

\* Every variable holds what its comment says.
TypeOK ==
    /\ pc \in [Threads -> Nat]
    /\ \A t \in Threads : pc[t] \in 1 .. Len(Programs[t]) + 1
    /\ tree \subseteq Vma
    /\ DOMAIN pte = Pages
    /\ \A p \in Pages : pte[p] = "none" \/ pte[p] \in Bos \X Nat \X BOOLEAN
    /\ DOMAIN pending = 1 .. Len(pending)
    /\ \A i \in DOMAIN pending : GoodOp(pending[i])
    /\ \A i, j \in DOMAIN pending : i < j => pending[i].id < pending[j].id
    /\ fences \in Seq({"pending", "signalled"})
    /\ error \in AsyncErrs
    /\ inflight \in BOOLEAN
    /\ execd \in Seq((1 .. nextop - 1) \X SubSteps)
    /\ oops \in BOOLEAN
    /\ nextop \in Nat /\ nextop >= 1
    /\ lastErr \in Errs
    /\ lastAct.name \in ActNames \cup {"Init"}

\* Invariant 1: the tree's VMAs are non-empty, inside the VA space and
\* pairwise disjoint.
NoOverlap ==
    /\ \A m \in tree : m.n >= 1 /\ m.first >= 0 /\ m.first + m.n <= NP
    /\ \A m1, m2 \in tree : m1 # m2 => Apart(m1, m2)

\* Invariant 4, in async mode (and 1): once the worker has drained
\* pending, the page table shows exactly the tree commit left.
PteMatchesTree ==
    pending = <<>> => \A p \in Pages : SameEntry(pte[p], PageView(tree)[p])

\* Invariant 5: the VM is in the error state only with the failed op still
\* at the head of pending.
FailingOpAtHead == error # "OK" => pending # <<>>

\* Invariant 6: a resumed REMAP never repeats a completed step: no op id
\* and sub-step completes twice (at most one unbind, one bind of prev, one
\* of next).
NoRepeat == \A i, j \in DOMAIN execd : i # j => execd[i] # execd[j]

\* The out-fences signal in the order the ioctls returned: one signals
\* only once every earlier one has.
FencesInOrder ==
    \A i, j \in DOMAIN fences : i < j /\ fences[j] = "signalled" => fences[i] = "signalled"

\* X16: munmap_rebind_inflight is set only inside a REMAP whose unbind has
\* been done, and that REMAP is the head op.
InflightInv ==
    inflight =>
        /\ pending # <<>>
        /\ Head(pending).kind = "remap"
        /\ Head(pending).unmap_done

\* X1, X4: no user input reaches XE_BUG_ON.
NoOops == ~oops

\* Invariant 7 (liveness): every out-fence eventually signals.  The
\* programs make finitely many fences and a signalled one stays signalled,
\* so this is the same as "each fence, once returned, eventually signals"
\* (one temporal branch for TLC instead of one per fence).
AllFencesSignal == <>[](\A f \in DOMAIN fences : fences[f] = "signalled")

\* X16 (liveness): the error state does not last, provided enough
\* RESTARTs follow.
ErrorCleared == (error # "OK") ~> (error = "OK")

=============================================================================
