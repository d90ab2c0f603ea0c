---------------------------- MODULE NouveauBind ----------------------------
(***************************************************************************)
(* Nouveau's VM_BIND / EXEC job layer (seed 001: the uAPI of patch 07, the *)
(* page-table bookkeeping of 14, nouveau_sched.c, nouveau_exec.c and the   *)
(* bind job of 15), as one DRM client's threads see it: each thread issues *)
(* VM_BIND and EXEC ioctls from a fixed program, the jobs go through DRM   *)
(* scheduler entities, and syncobjs carry the fences between them.  VA is  *)
(* abstracted to the pages 0 .. NP-1 of one allocated, non-sparse region.  *)
(*                                                                         *)
(* A job has the three stages of the v2 design (notes section 2.5):        *)
(*   Submit   the ioctl: the checks, the VA tree updated at once (the      *)
(*            logical view, what the GPUVA manager holds), page-table      *)
(*            references taken for the gaps of each map, GEM references,   *)
(*            the in-syncs resolved to dependencies, the out-syncs given   *)
(*            the job's done fence, the job pushed to its entity; a sync   *)
(*            bind then blocks its thread until the job has run;           *)
(*   Run      run_job, the entity's head once its dependencies have        *)
(*            signalled: the page table (pte, the physical view) and the   *)
(*            GEMs' gpuva lists follow the mappings the job added and      *)
(*            removed; the done fence signals;                             *)
(*   Free     free_job, in order on each entity: the page-table references *)
(*            of the unmapped pages are put, and the GEM references of the *)
(*            job (one per map op) and of the mappings it removed.         *)
(* Return is the sync bind's ioctl coming back to its thread.              *)
(*                                                                         *)
(* Ordering (notes section 4): one bind entity per client (all threads'    *)
(* binds, sync or async, share it) and one exec entity (the channel's);    *)
(* an entity runs its jobs in push order, and pushes happen in submit      *)
(* order.  EXEC sees the logical tree at submit, so it must wait for the   *)
(* binds' out-fences (explicit sync, R10); nothing else orders it after    *)
(* them.                                                                   *)
(*                                                                         *)
(* Syncobjs: a binary one holds at most one fence (a signal replaces it,   *)
(* point 0); a timeline one holds a fence per point.  Waiting on a binary  *)
(* one with no fence, or on a timeline point beyond its last one, is       *)
(* -EINVAL; waiting on timeline point pt waits for the lowest point q >=   *)
(* pt and, through the chain, for every point <= q.                        *)
(*                                                                         *)
(* Profiles: "seed", the code as posted, with C19 (a sync bind's           *)
(* interruptible dma_fence_wait whose -ERESTARTSYS is ignored: the ioctl   *)
(* can return 0 while its job is still queued) and C24 (EXEC with          *)
(* push_count 0 returns 0 creating no job, so its out-syncs never get a    *)
(* fence); "fixed", what the review and the notes' bug list ask: the sync  *)
(* bind returns only after its job ran, and EXEC with no pushes is a job   *)
(* like any other.                                                         *)
(*                                                                         *)
(* Known-bad variants (Bug): "two_queues" (each thread has a bind entity   *)
(* of its own while the tree is still updated at submit: R9's worry, runs  *)
(* stop following the submit order of the one VA space), "exec_no_wait"    *)
(* (the exec entity runs a job without waiting for its in-fences: R10).    *)
(*                                                                         *)
(* Not modelled: regions (ALLOC, FREE, sparse), the kernel-reserved range, *)
(* merges (the v2 merge cases, C14, C15), ioctl argument errors other than *)
(* the sync checks (handles, alignment, ranges: every op of a program is   *)
(* valid), drm_exec locking and its fences on the resvs (no implicit       *)
(* dependency comes from them), BO eviction, job timeouts, failures inside *)
(* run_job (C22), the use-after-free of C19 (the job read after the push), *)
(* teardown (R13), several DRM clients.                                    *)
(*                                                                         *)
(* Departures, kept on purpose (the step interface of the Python model):   *)
(* the seed's EXEC ioctl leaves on push_count 0 before it looks at its     *)
(* syncs; here, as for every ioctl, the in-syncs are resolved first, so a  *)
(* bad wait on such an EXEC is -EINVAL in both profiles.  Page-table       *)
(* references are counted per page (a page stands for its PTE and the      *)
(* page tables above it alike).  Mappings are compared as values: a job    *)
(* that removes a mapping and puts back the same one neither adds nor      *)
(* removes it.                                                             *)
(*                                                                         *)
(* Two layers.  Sections "Init" to "Next" are the algorithm, at the step   *)
(* granularity of the Python model.  The properties at the end are written *)
(* again from the seed's prose and the notes (invariants 29, 31, 32, 37,   *)
(* 38, R9, R10, C19, C24, C26) with helpers of their own: they use none of *)
(* the action operators, so a bug variant cannot change what is checked.   *)
(*                                                                         *)
(* Every variable is the model's abstract state (Observed) in exactly its  *)
(* encoding, except lastAct, the spec's own.                               *)
(***************************************************************************)
EXTENDS Integers, Sequences, FiniteSets

CONSTANTS
    Threads,        \* the client's threads, each running its own program
    NP,             \* pages of the region: Pages == 0 .. NP-1
    Bos,            \* the GEM handles (decimal strings)
    Syncs,          \* the syncobj handles (decimal strings)
    Timeline,       \* the timeline syncobjs among Syncs; the others are binary
    Programs,       \* thread -> its ioctls, in order (a sequence of Job records)
    Profile,        \* "seed" (as posted) or "fixed" (see above)
    Bug             \* "none" or a known-bad variant (see above)

VARIABLES
    pc,         \* thread -> index of its next program entry (Len + 1: done)
    wait,       \* thread -> the job its sync bind is blocked on, 0 if none
    tree,       \* the logical VA tree: a set of mapping records (updated at submit)
    pte,        \* page -> <<bo, bopage>> or "none": the page table (updated at run)
    ptref,      \* page -> page-table references
    linked,     \* the mappings on their GEMs' gpuva lists (linked at run)
    refs,       \* bo -> GEM references (the user's handle holds 1)
    queue,      \* entity -> the jobs pushed to it and not run yet, in push order
    jobs,       \* the jobs, job id = index (see JobFields)
    syncs,      \* syncobj -> the <<point, job>> fences attached to it
    promised,   \* the <<syncobj, point>> out-syncs of every ioctl that returned 0
    lastErr,    \* what the last step returned: "OK" or "EINVAL"
    lastAct     \* auxiliary: the last action's name and arguments

\* pc, wait, queue and jobs come first on purpose: every step changes one
\* of them, so TLC's vars' # vars (in the fairness conditions) is decided
\* before it reaches pte, whose entries mix a string and tuples that TLC
\* cannot compare ("none" = <<b, q>> is an error, not FALSE).
vars == <<pc, wait, queue, jobs, tree, pte, ptref, linked, refs, syncs,
          promised, lastErr, lastAct>>

-----------------------------------------------------------------------------
(***************************** Types ***************************************)

Pages == 0 .. NP - 1
None == "none"
Errs == {"OK", "EINVAL"}
JobStates == {"queued", "run", "freed"}
ActNames == {"Submit", "Run", "Free", "Return"}
Profiles == {"seed", "fixed"}
Bugs == {"none", "two_queues", "exec_no_wait"}

\* The entity a thread's binds go to: the client's one bind queue, or
\* (two_queues) one per thread.
BindEntity(t) == IF Bug = "two_queues" THEN "bind:" \o t ELSE "bind"
Entities == {BindEntity(t) : t \in Threads} \cup {"exec"}

\* A mapping: pages [first, first + n) show bo's pages from bopage on.
Mapping == [first : Pages, n : 1 .. NP, bo : Bos, bopage : Nat]

\* The fields of a job record (for TypeOK).
JobFields == {"t", "k", "e", "st", "deps", "added", "removed", "put"}

\* Well-formed program entries (the constants' contract).
IsOp(o) ==
    /\ o.op \in {"map", "unmap"}
    /\ o.first \in Pages /\ o.n \in 1 .. NP /\ o.first + o.n <= NP
    /\ o.bopage \in Nat
    /\ o.op = "map" => o.bo \in Bos
    /\ o.op = "unmap" => o.bo = "" /\ o.bopage = 0
IsRef(r) ==
    /\ r.s \in Syncs /\ r.pt \in Nat
    /\ IF r.s \in Timeline THEN r.pt >= 1 ELSE r.pt = 0
IsJob(J) ==
    /\ J.kind \in {"bind", "exec"}
    /\ J.async \in BOOLEAN
    /\ J.push \in Nat
    /\ \A i \in DOMAIN J.ops : IsOp(J.ops[i])
    /\ \A i \in DOMAIN J.waits : IsRef(J.waits[i])
    /\ \A i \in DOMAIN J.sigs : IsRef(J.sigs[i])
    /\ J.kind = "exec" => J.ops = <<>> /\ J.async
    /\ J.kind = "bind" => J.push = 0

ASSUME NP \in Nat /\ NP >= 1
ASSUME Timeline \subseteq Syncs
ASSUME "" \notin Bos
ASSUME Profile \in Profiles
ASSUME Bug \in Bugs
ASSUME DOMAIN Programs = Threads
ASSUME \A t \in Threads : \A k \in DOMAIN Programs[t] : IsJob(Programs[t][k])

-----------------------------------------------------------------------------
(******************************** Init *************************************)

Init ==
    /\ pc = [t \in Threads |-> 1]
    /\ wait = [t \in Threads |-> 0]
    /\ tree = {}
    /\ pte = [p \in Pages |-> None]
    /\ ptref = [p \in Pages |-> 0]
    /\ linked = {}
    /\ refs = [b \in Bos |-> 1]
    /\ queue = [e \in Entities |-> <<>>]
    /\ jobs = <<>>
    /\ syncs = [s \in Syncs |-> {}]
    /\ promised = {}
    /\ lastErr = "OK"
    /\ lastAct = [name |-> "Init", args |-> <<>>]

-----------------------------------------------------------------------------
(******************************* Actions ***********************************)

Act(name, args) == lastAct' = [name |-> name, args |-> args]

(* ---- the VA tree at submit (drm_gpuva_sm_map / sm_unmap, no merges) *)

OpPages(o) == o.first .. (o.first + o.n - 1)
OnPage(m, p) == m.first <= p /\ p < m.first + m.n
Meets(m, o) == m.first < o.first + o.n /\ o.first < m.first + m.n
Covered(T, p) == \E m \in T : OnPage(m, p)

\* What is left of m outside op o's range: the left piece keeps first and
\* bopage, the right one starts at the op's end, its bopage moved on by
\* the distance from m's first page.
LeftPiece(m, o) ==
    IF m.first < o.first
    THEN {[first |-> m.first, n |-> o.first - m.first, bo |-> m.bo, bopage |-> m.bopage]}
    ELSE {}
RightPiece(m, o) ==
    LET end == o.first + o.n
    IN IF end < m.first + m.n
       THEN {[first |-> end, n |-> m.first + m.n - end, bo |-> m.bo,
              bopage |-> m.bopage + (end - m.first)]}
       ELSE {}

\* One op applied to tree T: every mapping it meets is replaced by its
\* pieces outside the range; a map then adds the requested mapping.
ApplyOp(T, o) ==
    LET hit == {m \in T : Meets(m, o)}
    IN (T \ hit)
       \cup UNION {LeftPiece(m, o) \cup RightPiece(m, o) : m \in hit}
       \cup (IF o.op = "map"
             THEN {[first |-> o.first, n |-> o.n, bo |-> o.bo, bopage |-> o.bopage]}
             ELSE {})

\* The trees a job's ops go through from T: element i is the tree just
\* before op i, the last one the tree after the job.
RECURSIVE TreesFrom(_, _)
TreesFrom(T, ops) ==
    IF ops = <<>> THEN <<T>> ELSE <<T>> \o TreesFrom(ApplyOp(T, Head(ops)), Tail(ops))

\* Page-table references a job's ops take on page p: one per map op whose
\* range holds p while the tree just before that op does not (the gaps).
NewPtRefs(trees, ops, p) ==
    Cardinality({i \in DOMAIN ops :
                    /\ ops[i].op = "map"
                    /\ p \in OpPages(ops[i])
                    /\ ~Covered(trees[i], p)})

\* The pages free_job puts: for each unmap op, in op order, the pages of
\* its range covered just before it, ascending.
PutPages(trees, ops) ==
    LET here(i) == IF ops[i].op = "unmap"
                   THEN SelectSeq([x \in 1 .. ops[i].n |-> ops[i].first + x - 1],
                                  LAMBDA p : Covered(trees[i], p))
                   ELSE <<>>
        RECURSIVE from(_)
        from(i) == IF i > Len(ops) THEN <<>> ELSE here(i) \o from(i + 1)
    IN from(1)

MapOpsOn(ops, b) == Cardinality({i \in DOMAIN ops : ops[i].op = "map" /\ ops[i].bo = b})
OnBo(S, b) == Cardinality({m \in S : m.bo = b})

(* ---- syncobjs *)

Points(s) == {x[1] : x \in syncs[s]}

\* An in-sync resolves: a binary syncobj has a fence, a timeline one a
\* point at or after the one asked for.
Resolves(r) ==
    IF r.s \in Timeline THEN \E q \in Points(r.s) : q >= r.pt
    ELSE syncs[r.s] # {}

\* The chain point a timeline wait lands on: the lowest one >= pt.
ChainPoint(r) ==
    CHOOSE q \in Points(r.s) : q >= r.pt /\ \A q2 \in Points(r.s) : q2 >= r.pt => q <= q2

\* The jobs an in-sync makes the new job depend on.
DepsOf(r) ==
    IF r.s \in Timeline
    THEN {x[2] : x \in {y \in syncs[r.s] : y[1] <= ChainPoint(r)}}
    ELSE {x[2] : x \in syncs[r.s]}

\* Syncobj s after job j's out-syncs are attached: a binary one's fence
\* is replaced, a timeline one gains a point per out-sync.
Attach(s, sigs, j) ==
    LET mine == {i \in DOMAIN sigs : sigs[i].s = s}
    IN IF mine = {} THEN syncs[s]
       ELSE IF s \in Timeline THEN syncs[s] \cup {<<sigs[i].pt, j>> : i \in mine}
       ELSE {<<0, j>>}

SigSet(J) == {<<J.sigs[i].s, J.sigs[i].pt>> : i \in DOMAIN J.sigs}

(* ---- the steps *)

\* The ioctl fails: only the thread's program moves on.
Reject ==
    /\ lastErr' = "EINVAL"
    /\ UNCHANGED <<wait, tree, pte, ptref, linked, refs, queue, jobs, syncs, promised>>

\* C24 (seed): EXEC with no pushes returns 0 and does nothing at all, but
\* the user now counts on its out-syncs.
EmptyExec(J) ==
    /\ promised' = promised \cup SigSet(J)
    /\ lastErr' = "OK"
    /\ UNCHANGED <<wait, tree, pte, ptref, linked, refs, queue, jobs, syncs>>

\* The ioctl succeeds: job j is created, the tree updated, the references
\* taken, the out-syncs given its fence, the job pushed.  (The values used
\* more than once are bound with \E over a one-element set, so that TLC
\* computes them once: it evaluates a LET definition again at each use
\* when it computes ENABLED for the fairness conditions.)
NewJob(t, J) ==
    \E trees \in {TreesFrom(tree, J.ops)} :
    \E deps \in {UNION {DepsOf(J.waits[i]) : i \in DOMAIN J.waits}} :
    \E after \in {trees[Len(trees)]} :
    \E added \in {after \ tree} :
    LET j == Len(jobs) + 1
        e == IF J.kind = "exec" THEN "exec" ELSE BindEntity(t)
    IN /\ jobs' = Append(jobs, [t |-> t, k |-> pc[t], e |-> e, st |-> "queued",
                                deps |-> deps, added |-> added, removed |-> tree \ after,
                                put |-> PutPages(trees, J.ops)])
       /\ queue' = [queue EXCEPT ![e] = Append(@, j)]
       /\ syncs' = [s \in Syncs |-> Attach(s, J.sigs, j)]
       /\ promised' = promised \cup SigSet(J)
       /\ wait' = IF J.kind = "bind" /\ ~J.async THEN [wait EXCEPT ![t] = j] ELSE wait
       /\ tree' = after
       /\ ptref' = [p \in Pages |-> ptref[p] + NewPtRefs(trees, J.ops, p)]
       /\ refs' = [b \in Bos |-> refs[b] + MapOpsOn(J.ops, b) + OnBo(added, b)]
       /\ lastErr' = "OK"
       /\ UNCHANGED <<pte, linked>>

\* Thread t issues its next ioctl.  Checks, in order: a sync bind takes no
\* syncs; every in-sync resolves; then (seed) an EXEC without pushes
\* returns at once.
Submit(t) ==
    /\ pc[t] <= Len(Programs[t])
    /\ wait[t] = 0
    /\ Act("Submit", [thread |-> t])
    /\ pc' = [pc EXCEPT ![t] = @ + 1]
    /\ LET J == Programs[t][pc[t]]
           syncsOk == ~(J.kind = "bind" /\ ~J.async /\ (J.waits # <<>> \/ J.sigs # <<>>))
           waitsOk == \A i \in DOMAIN J.waits : Resolves(J.waits[i])
       IN CASE ~syncsOk \/ ~waitsOk -> Reject
            [] J.kind = "exec" /\ J.push = 0 /\ Profile = "seed" -> EmptyExec(J)
            [] OTHER -> NewJob(t, J)

\* run_job of entity e's head job, once its in-fences have signalled
\* (exec_no_wait: the exec entity does not wait).  A bind job writes the
\* page table: the pages of the mappings it removed become "none", then
\* those of the mappings it added point into their bo; it links what it
\* added and unlinks what it removed.
Run(e) ==
    /\ queue[e] # <<>>
    /\ Act("Run", [entity |-> e])
    /\ LET j == Head(queue[e])
           job == jobs[j]
       IN /\ \/ e = "exec" /\ Bug = "exec_no_wait"
             \/ \A d \in job.deps : jobs[d].st # "queued"
          /\ queue' = [queue EXCEPT ![e] = Tail(@)]
          /\ jobs' = [jobs EXCEPT ![j].st = "run"]
          /\ IF e = "exec"
             THEN UNCHANGED <<pte, linked>>
             ELSE /\ pte' = [p \in Pages |->
                              LET a == {m \in job.added : OnPage(m, p)}
                              IN IF a # {}
                                 THEN LET m == CHOOSE x \in a : TRUE
                                      IN <<m.bo, m.bopage + (p - m.first)>>
                                 ELSE IF \E m \in job.removed : OnPage(m, p) THEN None
                                 ELSE pte[p]]
                  /\ linked' = (linked \ job.removed) \cup job.added
    /\ lastErr' = "OK"
    /\ UNCHANGED <<pc, wait, tree, ptref, refs, syncs, promised>>

\* The lowest job of entity e not freed yet (0 if none).
FirstPending(e) ==
    LET pending == {j \in DOMAIN jobs : jobs[j].e = e /\ jobs[j].st # "freed"}
    IN IF pending = {} THEN 0 ELSE CHOOSE x \in pending : \A y \in pending : x <= y

\* free_job, in order on each entity: the job it takes next on e is the
\* lowest of e's jobs not freed yet, once that one has run.  It puts the
\* page-table references of the pages the job unmapped, the job's
\* reference on each map op's bo and the removed mappings' references.
Free(e) ==
    /\ {j \in DOMAIN jobs : jobs[j].e = e /\ jobs[j].st = "run"} # {}
    /\ Act("Free", [entity |-> e])
    /\ \E j \in {FirstPending(e)} :
       LET job == jobs[j]
           ops == Programs[job.t][job.k].ops
       IN /\ job.st = "run"
          /\ jobs' = [jobs EXCEPT ![j].st = "freed"]
          /\ ptref' = [p \in Pages |->
                         ptref[p] - Cardinality({i \in DOMAIN job.put : job.put[i] = p})]
          /\ refs' = [b \in Bos |-> refs[b] - MapOpsOn(ops, b) - OnBo(job.removed, b)]
    /\ lastErr' = "OK"
    /\ UNCHANGED <<pc, wait, tree, pte, linked, queue, syncs, promised>>

\* The sync bind's ioctl returns 0: once its job has run ("fixed"), or at
\* any time (seed, C19: the interrupted wait is taken for success).
Return(t) ==
    /\ wait[t] # 0
    /\ Profile = "seed" \/ jobs[wait[t]].st # "queued"
    /\ wait' = [wait EXCEPT ![t] = 0]
    /\ lastErr' = "OK"
    /\ Act("Return", [thread |-> t])
    /\ UNCHANGED <<pc, tree, pte, ptref, linked, refs, queue, jobs, syncs, promised>>

-----------------------------------------------------------------------------
(******************************** Next *************************************)

\* The model's direct ioctls (VM_INIT, the legacy calls, VM_BIND and EXEC
\* with arguments, any region, kind or channel) and its error injection are
\* checked by its state machines, not here: a run that uses them is not one
\* of this spec's behaviours.
VmInit(addr, size) == FALSE
Legacy(call) == FALSE
VmBind(t, count, flags, ops, waits, sigs) == FALSE
Exec(t, channel, push, waits, sigs) == FALSE
Inject(n) == FALSE

Step ==
    \/ \E t \in Threads : Submit(t) \/ Return(t)
    \/ \E e \in Entities : Run(e) \/ Free(e)

\* Every program is done, every queue empty and every job freed: the
\* system stutters, so that TLC's deadlock check reports only states where
\* something is stuck.
Terminated ==
    /\ \A t \in Threads : pc[t] > Len(Programs[t]) /\ wait[t] = 0
    /\ \A e \in Entities : queue[e] = <<>>
    /\ \A j \in DOMAIN jobs : jobs[j].st = "freed"
    /\ UNCHANGED vars

Next == Step \/ Terminated

\* Weak fairness of each thread's ioctls and returns and of each entity's
\* run_job and free_job: the scheduler does not stall an entity whose head
\* is ready, nor a thread that can go on.
Fairness ==
    /\ \A t \in Threads : WF_vars(Submit(t)) /\ WF_vars(Return(t))
    /\ \A e \in Entities : WF_vars(Run(e)) /\ WF_vars(Free(e))

Spec == Init /\ [][Next]_vars /\ Fairness

\* The model's abstract variables, as the trace checker and the
\* conformance printer compare them.
\* The page table and the page-table counts are written as the sets of
\* <<page, value>> pairs of the pages that have one (a mapped page, a
\* nonzero count), as the model's trace states hold them.
Observed == [pc |-> pc, wait |-> wait, tree |-> tree,
             pte |-> {<<p, pte[p]>> : p \in {q \in Pages : pte[q] # None}},
             ptref |-> {<<p, ptref[p]>> : p \in {q \in Pages : ptref[q] > 0}},
             linked |-> linked, refs |-> refs, queue |-> queue, jobs |-> jobs,
             syncs |-> syncs, promised |-> promised, lastErr |-> lastErr]

\* The steps an implementation's log leaves out: none (every step is an
\* ioctl, its return, or a scheduler callback the model logs).
Internal == FALSE

-----------------------------------------------------------------------------
(************************* Invariants and properties ***********************)
(* Written from the seed's prose (the VM_BIND / EXEC overview of           *)
(* nouveau_exec.c, the uAPI kernel-doc, the v2 change log and Boris's and  *)
(* Danilo's exchange) and the notes (sections 2.5, 3, 4, invariants 29,    *)
(* 31, 32, 37, 38, R9, R10, C19, C24, C26), with their own helpers:        *)
(* nothing below uses an action operator above.                            *)

Elems(s) == {s[i] : i \in DOMAIN s}
Spans(m, p) == p \in m.first .. (m.first + m.n - 1)
Disjoint(m1, m2) == m1.first + m1.n <= m2.first \/ m2.first + m2.n <= m1.first
Signalled(j) == jobs[j].st # "queued"           \* its done fence
EntryOf(j) == Programs[jobs[j].t][jobs[j].k]    \* the ioctl job j came from

\* What the page table should show for tree T: each page of a mapping m
\* holds m's bo page at the same distance from m.bopage as from m.first.
PageView(T) ==
    [p \in Pages |->
        IF \E m \in T : Spans(m, p)
        THEN LET m == CHOOSE x \in T : Spans(x, p) IN <<m.bo, m.bopage + (p - m.first)>>
        ELSE None]

\* Equality of two page-table entries ("none" or a tuple; TLC cannot
\* compare the string with a tuple the other way round).
SameEntry(a, b) == IF a = None THEN b = None ELSE b # None /\ a = b

\* The bind entities, whatever their number.
BindQueues == {e \in DOMAIN queue : e # "exec"}
BindsIdle == \A e \in BindQueues : queue[e] = <<>>
AllFreed == \A j \in DOMAIN jobs : jobs[j].st = "freed"

\* Every variable holds what its comment says.
TypeOK ==
    /\ pc \in [Threads -> Nat]
    /\ \A t \in Threads : pc[t] \in 1 .. Len(Programs[t]) + 1
    /\ wait \in [Threads -> 0 .. Len(jobs)]
    /\ tree \subseteq Mapping
    /\ DOMAIN pte = Pages
    /\ \A p \in Pages : pte[p] = None \/ pte[p] \in Bos \X Nat
    /\ ptref \in [Pages -> Nat]
    /\ linked \subseteq Mapping
    /\ refs \in [Bos -> Nat]
    /\ DOMAIN queue = Entities
    /\ \A e \in Entities : queue[e] \in Seq(1 .. Len(jobs))
    /\ \A j \in DOMAIN jobs :
          /\ DOMAIN jobs[j] = JobFields
          /\ jobs[j].t \in Threads
          /\ jobs[j].k \in DOMAIN Programs[jobs[j].t]
          /\ jobs[j].e \in Entities
          /\ jobs[j].st \in JobStates
          /\ jobs[j].deps \subseteq 1 .. j - 1
          /\ jobs[j].added \subseteq Mapping
          /\ jobs[j].removed \subseteq Mapping
          /\ jobs[j].put \in Seq(Pages)
    /\ DOMAIN syncs = Syncs
    /\ \A s \in Syncs :
          /\ syncs[s] \subseteq Nat \X (1 .. Len(jobs))
          /\ s \notin Timeline => Cardinality(syncs[s]) <= 1 /\ \A x \in syncs[s] : x[1] = 0
    /\ promised \subseteq Syncs \X Nat
    /\ lastErr \in Errs
    /\ lastAct.name \in ActNames \cup {"Init"}

\* Invariant 1 (and 2): the tree's mappings are non-empty, inside the
\* region, and pairwise disjoint.
NoOverlap ==
    /\ \A m \in tree : m.n >= 1 /\ m.first >= 0 /\ m.first + m.n <= NP
    /\ \A m1, m2 \in tree : m1 # m2 => Disjoint(m1, m2)

\* Invariant 37: the jobs of one entity run (and signal) in submit order:
\* a later job has not run while an earlier one has not.
InOrder ==
    \A i, j \in DOMAIN jobs :
        i < j /\ jobs[i].e = jobs[j].e /\ Signalled(j) => Signalled(i)

\* R9, C26: a page the page table maps has its page table: some
\* page-table reference is held on it.
PteHasPageTable == \A p \in Pages : pte[p] # None => ptref[p] > 0

\* Invariant 29: once no bind is pending, the page table shows exactly the
\* logical tree.
RunMatchesTree == BindsIdle => \A p \in Pages : SameEntry(pte[p], PageView(tree)[p])

\* Invariant 32: once no bind is pending, the GEMs' gpuva lists hold
\* exactly the tree's mappings.
LinkedMatchesTree == BindsIdle => linked = tree

\* Invariant 31 and the GEM refcounts: once every job is freed, a page
\* holds one page-table reference iff a mapping covers it, and a bo holds
\* the user's reference plus one per mapping of it.
RefsBalance ==
    AllFreed =>
        /\ \A p \in Pages : ptref[p] = IF \E m \in tree : Spans(m, p) THEN 1 ELSE 0
        /\ \A b \in Bos : refs[b] = 1 + Cardinality({m \in tree : m.bo = b})

\* Invariant 38: a sync bind's ioctl has not returned while its job is
\* still queued (the thread still waits for exactly that job).
SyncBindWaits ==
    \A j \in DOMAIN jobs :
        EntryOf(j).kind = "bind" /\ ~EntryOf(j).async /\ ~Signalled(j) =>
            wait[jobs[j].t] = j

\* The jobs before job j that signalled syncobj s, and at which points
\* (from the programs: the out-syncs of the ioctls the jobs came from).
SignalPoints(i, s) == {r.pt : r \in {x \in Elems(EntryOf(i).sigs) : x.s = s}}
Signallers(j, s) == {i \in 1 .. j - 1 : SignalPoints(i, s) # {}}

\* The jobs an in-sync of job j names: for a binary syncobj the last job
\* before j that signalled it; for a timeline one, every earlier job that
\* signalled a point up to the first signalled point at or after pt.
Waited(j, r) ==
    IF r.s \in Timeline
    THEN LET later == {q \in UNION {SignalPoints(i, r.s) : i \in Signallers(j, r.s)} : q >= r.pt}
             q0 == CHOOSE q \in later : \A q2 \in later : q <= q2
         IN IF later = {} THEN {}
            ELSE {i \in Signallers(j, r.s) : \E q \in SignalPoints(i, r.s) : q <= q0}
    ELSE IF Signallers(j, r.s) = {} THEN {}
         ELSE {CHOOSE i \in Signallers(j, r.s) : \A i2 \in Signallers(j, r.s) : i2 <= i}

\* R10: an exec job that has run has every job its in-syncs named run.
ExecAfterBinds ==
    \A j \in DOMAIN jobs :
        EntryOf(j).kind = "exec" /\ Signalled(j) =>
            \A w \in Elems(EntryOf(j).waits) : \A i \in Waited(j, w) : Signalled(i)

\* Every out-sync some program names.
AllSigs == UNION {UNION {{<<r.s, r.pt>> : r \in Elems(Programs[t][k].sigs)} :
                             k \in DOMAIN Programs[t]} :
                      t \in Threads}

\* C24 (liveness): an out-sync of an ioctl that returned 0 eventually
\* holds a signalled fence at its point.
PromisedSignal ==
    \A x \in AllSigs :
        (x \in promised) ~> (\E y \in syncs[x[1]] : y[1] = x[2] /\ jobs[y[2]].st # "queued")

\* Liveness: every job eventually runs.  The programs create finitely
\* many jobs and a job never goes back to "queued", so this is the same as
\* "each job, once created, eventually runs" (one temporal branch for TLC
\* instead of one per job).
AllJobsRun == <>[](\A j \in DOMAIN jobs : jobs[j].st # "queued")

=============================================================================
