------------------------------- MODULE Userptr -------------------------------
(***************************************************************************)
(* Xe userptr invalidation (seed 004, "Basic system allocator support in   *)
(* xe driver" v2, with Matthew Brost's review; notes sections 1, 2, 4, 5,  *)
(* 6): one VM of one device with several GTs (one page table, a TLB per    *)
(* GT), userptr VMAs over a CPU address space of NP pages, the mm that     *)
(* unmaps or migrates those pages, the driver's mmu interval notifier      *)
(* callback, the binders, and the GPU that reads and writes the pages. A   *)
(* GPU VA is a pair <<u, p>>: page p of userptr u (each userptr is bound   *)
(* at GPU VAs of its own; two userptrs may cover the same CPU page).       *)
(*                                                                         *)
(* Modes (Mode): "fault" (the callback waits for the binds in flight, zaps *)
(* the userptr's PTEs and invalidates every GT's TLB before it returns; a  *)
(* GPU touch of a VA with no translation is a page fault the fault handler *)
(* serves), "lr" (preempt-fence mode: the callback puts the userptr on the *)
(* invalidated list, enables signalling on the VM's BOOKKEEP fences, which *)
(* preempts the long-running job, and waits; the rebind worker repins,     *)
(* rebinds and resumes the job), "dmafence" (exec jobs: the callback lists *)
(* the userptr and waits for the jobs in flight; the next exec repins and  *)
(* rebinds, and arms its job only after a last check of the invalidated    *)
(* list under the notifier lock, atomic with adding the job's fence to the *)
(* VM's reservation object).                                               *)
(*                                                                         *)
(* Threads: "mm" (the CPU side of an invalidation and the callbacks it     *)
(* runs), "bind" (the VM_BIND of each userptr, in UOrder), "worker" (lr),  *)
(* "fault" (fault mode), "exec" (dmafence), "pt" (the page-table job       *)
(* queue: a PT job writes its PTEs when it runs), "gpu" (the engine).      *)
(* vm->lock serializes the kernel threads bind, worker, fault and exec     *)
(* (each holds it for a whole operation, notes 4.2); the callback takes    *)
(* only the notifier lock, in write mode, and waits on fences.             *)
(*                                                                         *)
(* Actions (t a kernel thread, u a userptr, p a page, ev in {"unmap",      *)
(* "migrate"}, g a GT, rw in {"r", "w"}; every action is enabled only in   *)
(* the thread's state it names):                                           *)
(*   InvStart(p, ev)  mm      invalidate_range_start for mapped page p:    *)
(*                            the mm's seq becomes odd; the callback of    *)
(*                            each userptr covering p is due, in UOrder    *)
(*   Notify(u)        mm      the callback's write section: down_write     *)
(*                            (notifier lock), set_seq, if u was ever      *)
(*                            committed: lr/dmafence move u to             *)
(*                            invalidated; up_write (a never-bound u's     *)
(*                            callback ends here)                          *)
(*   FenceWait(u)     mm      enable signalling on the BOOKKEEP fences     *)
(*                            (lr: the job is preempted) and wait for them *)
(*                            all (fenced PT jobs, the exec job)           *)
(*   Zap(u)           mm      fault mode: zap u's PTEs, invalidate u's     *)
(*                            entries in every GT's TLB, wait for it       *)
(*   CpuUpdate(p)     mm      every callback returned: the CPU PTE of p    *)
(*                            changes (unmap: gone; migrate: a new frame   *)
(*                            with a copy of the data) and the old frame   *)
(*                            is freed                                     *)
(*   InvEnd(p)        mm      invalidate_range_end: the seq is even again  *)
(*   PinBegin(t, u)   t       populate: read_begin (waits while an         *)
(*                            invalidation that already reached u's        *)
(*                            callback runs); seq = notifier_seq: done;    *)
(*                            else dma-unmap the old sg. The bind thread   *)
(*                            takes vm->lock here                          *)
(*   PinFault(t, u)   t       hmm_range_fault: -EBUSY (the seq moved:      *)
(*                            read_begin again), -EFAULT (a page of u is   *)
(*                            unmapped) or the frames of u's pages         *)
(*   PinTimeout(t, u) t       "EBUSY" in PinErrors: at a -EBUSY the loop's *)
(*                            timeout has expired: populate fails -EBUSY   *)
(*   PinNoMem(t, u)   t       "ENOMEM" in PinErrors: building the sg       *)
(*                            (allocation, dma-map) fails: populate fails  *)
(*                            -ENOMEM                                      *)
(*   PinMap(t, u)     t       build the sg: dma-map and dirty the frames,  *)
(*                            notifier_seq := the seq read (upstream:      *)
(*                            under the notifier lock after a read_retry   *)
(*                            check, else read_begin again)                *)
(*   RepinZap(t, u)   t       worker/exec, the repin of u got -EFAULT: zap *)
(*                            u (upstream: once the fenced binds in flight *)
(*                            are done), drop it from the lists            *)
(*   NlRead(t, u)     t       down_read(notifier lock) for u's bind        *)
(*   Check(t, u)      t       pre_commit's seq check                       *)
(*                            (mmu_interval_read_retry) per mode and       *)
(*                            profile: lr/dmafence, first bind: stale -> u *)
(*                            onto invalidated (lr: preempt the job);      *)
(*                            fault, upstream: stale -> -EAGAIN, the bind  *)
(*                            is retried from the pin                      *)
(*   Commit(t, u)     t       PT commit: a PT job with u's pinned frames   *)
(*                            is queued and its fence added to the VM's    *)
(*                            resv; initial_bind := TRUE                   *)
(*   NlUnlock(t, u)   t       up_read(notifier lock); the bind ioctl       *)
(*                            returns 0 (u usable by the GPU) and drops    *)
(*                            vm->lock; the fault handler goes on to wait  *)
(*   AddFence(t, u)   t       Bug "fence_after_unlock" only: the fence of  *)
(*                            t's PT job goes into the resv now            *)
(*   Rebind(t, u)     t       worker/exec: the rebind of u from the rebind *)
(*                            list (NL read, commit of a fenced PT job, NL *)
(*                            unlock; no seq check: u was bound before)    *)
(*   Destroy(t, u)    bind    Unbind, all binds returned: VM_UNBIND and    *)
(*                            destroy of u (off every list and the GPU's   *)
(*                            use, PTEs and TLB entries gone, the sg       *)
(*                            unmapped, the notifier removed; waits for a  *)
(*                            running invalidation and u's PT jobs)        *)
(*   WorkerStart      worker  the job is preempted: take vm->lock, move    *)
(*                            invalidated onto the repin list              *)
(*   Resume           worker  the rebinds' fences have signalled: under NL *)
(*                            read, invalidated empty -> resume the job    *)
(*                            (new preempt fence), else -EAGAIN and start  *)
(*                            over; drop vm->lock                          *)
(*   ExecBegin        exec    an exec ioctl: take vm->lock; collect        *)
(*                            invalidated onto repin                       *)
(*                            (xe_vm_userptr_check_repin says whether      *)
(*                            there is any)                                *)
(*   Arm              exec    under NL read: invalidated empty -> arm the  *)
(*                            job with its fence in the resv (it waits for *)
(*                            the PT jobs queued so far), else -EAGAIN;    *)
(*                            drop vm->lock                                *)
(*   FaultBegin(u)    fault   a GPU fault on a VA of u with no translation *)
(*                            (or the retry of one): take vm->lock;        *)
(*                            check_repin says whether to pin again        *)
(*   FaultDone(u)     fault   the bind's fence signalled: the unlocked     *)
(*                            check_repin; stale -> -EAGAIN, retry the     *)
(*                            fault; else the fault is served              *)
(*   PtRun            pt      the head PT job runs: writes its PTEs,       *)
(*                            invalidates their TLB entries in every GT,   *)
(*                            signals its fence                            *)
(*   JobStart         gpu     dmafence: the armed job's dependencies have  *)
(*                            signalled: it runs                           *)
(*   JobDone          gpu     dmafence: the running job ends, its fence    *)
(*                            signals                                      *)
(*   GpuAccess(g, u, p, rw)  gpu                                           *)
(*                            the engine, while it may run, reads or       *)
(*                            writes (WritePages only) VA <<u, p>> of a    *)
(*                            userptr its work may use, through GT g: its  *)
(*                            TLB entry, else the PTE                      *)
(*                                                                         *)
(* Profiles: "upstream" (what the review and later upstream xe do: a       *)
(* fault-mode bind checks the seq under the notifier lock and returns      *)
(* -EAGAIN, which the fault handler or the user retries (R13); a failed    *)
(* repin puts the repin list back on the invalidated list (A2); the sg is  *)
(* built under the notifier lock after a read_retry check (A10); the       *)
(* repin's -EFAULT zap waits for the binds in flight (A3)) and "seed" (the *)
(* code as posted: fault mode skips the pre_commit check, leaving only the *)
(* fault handler's post-bind check_repin; a failed repin leaves the        *)
(* userptr on no list; the sg is built, with no lock, from the frames      *)
(* hmm_range_fault returned, which may be freed by then; the -EFAULT zap   *)
(* runs at once).                                                          *)
(*                                                                         *)
(* Known-bad variants (Bug): "retry_inverted" (the lock document's pseudo- *)
(* code, A17: the retry test of the seq check inverted), "check_unlocked"  *)
(* (the seq check made before down_read of the notifier lock),             *)
(* "fence_after_unlock" (the PT job's fence added to the resv after        *)
(* up_read, A23), "callback_no_wait" (the callback neither enables         *)
(* signalling on the BOOKKEEP fences nor waits for them),                  *)
(* "fault_initial_no_check" (fault mode: a first bind makes no seq check   *)
(* and the fault handler no post-bind check_repin, R13), "tlb_one_gt" (not *)
(* from the seed: the callback's TLB invalidation reaches only the first   *)
(* GT).                                                                    *)
(*                                                                         *)
(* Not modelled: BO VMAs; SVM (system-allocator VMAs, fault userptrs,      *)
(* migration to VRAM, the garbage collector and fault_invalidated, notes   *)
(* section 3); the mmap lock (R20: hmm_range_fault is taken to be called   *)
(* with it; a munmap is not excluded by it here); VM close, and an unbind  *)
(* racing a bind of the same VMA; tile_present and tile_invalidated (A1:   *)
(* the fault handler's                                                     *)
(* "VMA still valid" short cut; every fault here pins if needed and        *)
(* binds); the CPU-bind path of a PT update (a PT job that runs at once    *)
(* covers it); range fences and PT job dependencies other than queue       *)
(* order; non-blockable invalidations (the callback refusing); error       *)
(* injection; CPU accesses to the pages; TLB eviction; several VMs,        *)
(* devices, jobs or exec queues; VM bans other than the rebind worker's    *)
(* xe_vm_kill on an error.                                                 *)
(*                                                                         *)
(* Departures, kept on purpose (the step interface of the Python model):   *)
(* the callback's write section (down_write, set_seq, list move, up_write) *)
(* is one step, as are the enabling of signalling, the preemption and the  *)
(* wait (nothing takes the notifier lock inside the write section, and     *)
(* what a preempted job still does before the wait ends touches frames     *)
(* still mapped); a zap and its TLB invalidations are one step, and a PT   *)
(* job invalidates the TLB entries of the PTEs it writes as it writes      *)
(* them. The first read_begin of populate and the one inside its loop are  *)
(* one. A worker's or exec's rebind, and their last check under the        *)
(* notifier lock, are one step each; the bind thread's and the fault       *)
(* handler's binds are split where the failure variants differ. vm->lock   *)
(* is a mutex (no two kernel threads of a mode hold it in read mode        *)
(* together here). The bind thread's VM_BIND in fault mode is immediate    *)
(* (it binds). The GPU touches a userptr only once its VM_BIND returned 0  *)
(* (an exec job: only those bound when it was armed); a fault that fails   *)
(* stops the GPU's use of that userptr; the exec thread waits for its job  *)
(* before its next exec. A GPU write writes the complement of the value    *)
(* last written at that CPU address (values 0 and 1), so a lost write      *)
(* shows; a freed frame's content is reset to 0. tlb holds, per GT, only   *)
(* the TLB entries unlike the PTE they cache: an entry equal to its PTE    *)
(* reaches what a walk of the PTE reaches, so a fill is no change; every   *)
(* PTE change of the protocol invalidates the GTs' entries of it, so in    *)
(* the protocol tlb stays empty, and a variant that skips a GT may leave   *)
(* that GT the old entry (if it had used it).                              *)
(*                                                                         *)
(* Two layers. Sections "Init" to "Next" are the algorithm, at the step    *)
(* granularity of the Python model. The properties at the end are written  *)
(* again from the notes' prose (S1, S2, S3, S5, S11, L2, L5, L6, A10) with *)
(* definitions of their own: they use none of the action operators, so a   *)
(* bug variant cannot change what is checked.                              *)
(*                                                                         *)
(* Every variable is the model's abstract state (Observed) except lastAct, *)
(* the spec's own; Observed gives the GPU PTEs, the TLB entries and the    *)
(* DMA mappings as sets of tuples.                                         *)
(***************************************************************************)
EXTENDS Integers, Sequences, FiniteSets, TLC

CONSTANTS
    NP,             \* CPU virtual pages: Pages == 0 .. NP-1
    Userptrs,       \* the userptr VMAs (strings)
    Range,          \* userptr -> the CPU pages it covers (contiguous)
    UOrder,         \* the userptrs in address order: callback and bind order
    GTs,            \* the GTs (integers), each with a TLB of its own
    Mode,           \* "fault", "lr" or "dmafence"
    MaxInv,         \* how many invalidations the mm makes at most
    MaxExec,        \* dmafence: how many exec ioctls the exec thread makes
    WritePages,     \* the pages the GPU writes (it reads them all)
    PinErrors,      \* the failures populate may have: "EBUSY" (hmm timeout), "ENOMEM"
    Unbind,         \* the bind thread then unbinds and destroys each userptr (BOOLEAN)
    Profile,        \* "seed" (as posted) or "upstream" (see above)
    Bug             \* "none" or a known-bad variant (see above)

VARIABLES
    pc,             \* kernel thread -> where it is (a string)
    cur,            \* kernel thread -> the userptr it works on ("" if none)
    tseq,           \* kernel thread -> the seq its read_begin returned
    got,            \* kernel thread -> the <<page, frame>> pairs hmm_range_fault gave
    vmLock,         \* the kernel thread holding vm->lock ("" if none)
    nl,             \* the kernel thread holding the notifier lock in read mode ("")
    mm,             \* the invalidation in progress: [st, page, ev, cb] (see MmIdle)
    mmSeq,          \* the mm's invalidate seq: odd while an invalidation runs
    invCount,       \* invalidations started so far
    nseq,           \* userptr -> its notifier's seq (set_seq by the callback)
    cpuPte,         \* page -> the frame the CPU maps there (-1: unmapped)
    nextFrame,      \* the frame a migration allocates next
    mem,            \* frame -> its content (0 or 1)
    expect,         \* page -> the value last written at that CPU address
    useq,           \* userptr -> notifier_seq: the seq of its pinned pages (Never: none)
    pinned,         \* userptr -> the <<page, frame>> pairs of its sg
    dma,            \* userptr -> frame -> how many times it is DMA-mapped for it
    freedTouch,     \* the kernel built an sg from a frame already freed (A10)
    initialBind,    \* userptr -> initial_bind (committed at least once)
    bindSeq,        \* userptr -> the notifier_seq of the pages of its last commit
    vmBound,        \* the userptrs whose VM_BIND returned 0 (the GPU may use them)
    failed,         \* fault mode: the userptrs whose GPU fault failed
    zapped,         \* the userptrs whose PTEs were zapped since their last commit
    invalidated,    \* vm->userptr.invalidated
    repin,          \* vm->userptr.repin_list
    rebind,         \* vm->rebind_list (its userptrs)
    ptq,            \* the PT jobs queued and not run yet, in queue order
    job,            \* the GPU job: "idle", "armed", "running", "preempted", "killed"
    deps,           \* dmafence: PT jobs the armed job still waits for
    jobUses,        \* dmafence: the userptrs the exec job may use (bound at its arm)
    nexec,          \* dmafence: exec ioctls that returned so far
    gpuPte,         \* userptr -> page -> the frame its GPU PTE names (-1: none)
    tlb,            \* GT -> userptr -> page -> a TLB entry unlike its PTE (-1: none)
    badRead,        \* a GPU read returned another value than the one last written
    destroyed,      \* the userptrs whose VMA was unbound and destroyed
    lastAct         \* auxiliary: the last action's name and arguments

\* pc comes first: almost every step changes it, so TLC's vars' # vars
\* (in the fairness conditions) is decided early.
vars == <<pc, cur, tseq, got, vmLock, nl, mm, mmSeq, invCount, nseq, cpuPte,
          nextFrame, mem, expect, useq, pinned, dma, freedTouch, initialBind,
          bindSeq, vmBound, failed, zapped, invalidated, repin, rebind, ptq,
          job, deps, jobUses, nexec, gpuPte, tlb, badRead, destroyed, lastAct>>

-----------------------------------------------------------------------------
(***************************** Types ***************************************)

Pages == 0 .. NP - 1
Frames == 0 .. NP + MaxInv - 1      \* the first NP back the pages at Init
None == -1
KThreads == {"bind", "worker", "fault", "exec"}
Threads == KThreads \cup {"mm", "pt", "gpu"}
Events == {"unmap", "migrate"}
Modes == {"fault", "lr", "dmafence"}
Profiles == {"seed", "upstream"}
Bugs == {"none", "retry_inverted", "check_unlocked", "fence_after_unlock",
         "callback_no_wait", "fault_initial_no_check", "tlb_one_gt",
         "destroy_keeps_list"}
JobStates == {"idle", "armed", "running", "preempted", "killed"}
CbStages == {"none", "todo", "wait", "zap", "done"}
MmStates == {"idle", "cb", "end"}
PcValues == {"start", "pin", "hmm", "map", "nlread", "check", "commit",
             "unlock", "fence", "done", "idle", "retry", "wait", "rebind",
             "resume", "arm", "zap", "destroy"}
ActNames == {"InvStart", "Notify", "FenceWait", "Zap", "CpuUpdate", "InvEnd",
             "PinBegin", "PinFault", "PinTimeout", "PinNoMem", "PinMap", "NlRead",
             "Check", "Commit", "NlUnlock", "AddFence", "Rebind", "RepinZap",
             "WorkerStart", "Resume", "ExecBegin", "Arm", "FaultBegin",
             "FaultDone", "PtRun", "JobStart", "JobDone", "GpuAccess", "Destroy"}

\* The GPU VAs: page p of userptr u.
VAs == {x \in Userptrs \X Pages : x[2] \in Range[x[1]]}

MinGT == CHOOSE g \in GTs : \A h \in GTs : g <= h

\* The rank of a userptr in address order, and the first of a set.
Rank(u) == CHOOSE i \in DOMAIN UOrder : UOrder[i] = u
FirstOf(S) == CHOOSE u \in S : \A v \in S : Rank(u) <= Rank(v)
\* The userptr the bind thread binds after u ("" after the last).
NextToBind(u) == IF Rank(u) < Len(UOrder) THEN UOrder[Rank(u) + 1] ELSE ""
\* Where the bind thread goes once its VM_BIND of u returned: the next bind,
\* else (Unbind) the destroy of the first userptr, else done.
AfterBind(u) ==
    CASE NextToBind(u) # "" -> [pc |-> "start", cur |-> NextToBind(u)]
      [] Unbind -> [pc |-> "destroy", cur |-> UOrder[1]]
      [] OTHER -> [pc |-> "done", cur |-> ""]

\* A PT job: the userptr, the <<page, frame>> pairs it writes, whether its
\* fence is in the VM's resv, the notifier_seq of its pages, the
\* notifier's seq and whether the userptr was on the invalidated list at
\* its commit, and the thread that queued it.
PtJob == [u : Userptrs, map : SUBSET (Pages \X Frames), fenced : BOOLEAN,
          seq : Int, at : Int, listed : BOOLEAN, by : KThreads]

ASSUME NP \in Nat /\ NP >= 1
ASSUME \A u \in Userptrs : Range[u] \subseteq Pages /\ Range[u] # {}
ASSUME Len(UOrder) = Cardinality(Userptrs) /\ {UOrder[i] : i \in DOMAIN UOrder} = Userptrs
ASSUME GTs \subseteq Nat /\ GTs # {}
ASSUME Mode \in Modes /\ Profile \in Profiles /\ Bug \in Bugs
ASSUME MaxInv \in Nat /\ MaxExec \in Nat /\ PinErrors \subseteq {"EBUSY", "ENOMEM"}
ASSUME WritePages \subseteq Pages /\ Unbind \in BOOLEAN

-----------------------------------------------------------------------------
(******************************** Init *************************************)

\* mmu_interval_notifier_insert with no invalidation running gives the
\* notifier the mm's seq minus one (so the first read_begin does not wait);
\* a userptr never populated has a notifier_seq no notifier ever has (the
\* kernel's LONG_MAX).
InsertSeq == -1
Never == -2

MmIdle == [st |-> "idle", page |-> None, ev |-> "", cb |-> [u \in Userptrs |-> "none"]]
NoPtes == [u \in Userptrs |-> [p \in Range[u] |-> None]]
NoDma == [f \in Frames |-> 0]

Init ==
    /\ pc = [t \in KThreads |-> IF t = "bind" THEN "start" ELSE "idle"]
    /\ cur = [t \in KThreads |-> IF t = "bind" THEN UOrder[1] ELSE ""]
    /\ tseq = [t \in KThreads |-> 0]
    /\ got = [t \in KThreads |-> {}]
    /\ vmLock = ""
    /\ nl = ""
    /\ mm = MmIdle
    /\ mmSeq = 0
    /\ invCount = 0
    /\ nseq = [u \in Userptrs |-> InsertSeq]
    /\ cpuPte = [p \in Pages |-> p]
    /\ nextFrame = NP
    /\ mem = [f \in Frames |-> 0]
    /\ expect = [p \in Pages |-> 0]
    /\ useq = [u \in Userptrs |-> Never]
    /\ pinned = [u \in Userptrs |-> {}]
    /\ dma = [u \in Userptrs |-> NoDma]
    /\ freedTouch = FALSE
    /\ initialBind = [u \in Userptrs |-> FALSE]
    /\ bindSeq = [u \in Userptrs |-> Never]
    /\ vmBound = {}
    /\ failed = {}
    /\ zapped = {}
    /\ invalidated = {}
    /\ repin = {}
    /\ rebind = {}
    /\ ptq = <<>>
    /\ job = IF Mode = "dmafence" THEN "idle" ELSE "running"
    /\ deps = 0
    /\ jobUses = {}
    /\ nexec = 0
    /\ gpuPte = NoPtes
    /\ tlb = [g \in GTs |-> NoPtes]
    /\ badRead = FALSE
    /\ destroyed = {}
    /\ lastAct = [name |-> "Init", args |-> <<>>]

-----------------------------------------------------------------------------
(******************************* Actions ***********************************)

Act(name, args) == lastAct' = [name |-> name, args |-> args]

threadVars == <<pc, cur, tseq, got>>
mmVars == <<mm, mmSeq, invCount, nseq>>
cpuVars == <<cpuPte, nextFrame, mem, expect>>
pinVars == <<useq, pinned, dma, freedTouch>>
bindVars == <<initialBind, bindSeq, vmBound, failed, zapped>>
listVars == <<invalidated, repin, rebind>>
gpuVars == <<ptq, job, deps, jobUses, nexec, gpuPte, tlb, badRead, destroyed>>

Live(f) == \E p \in Pages : cpuPte[p] = f
FramesOf(S) == {x[2] : x \in S}
DmaMap(d, S) == [f \in Frames |-> d[f] + (IF f \in FramesOf(S) THEN 1 ELSE 0)]
DmaUnmap(d, S) == [f \in Frames |-> d[f] - (IF f \in FramesOf(S) THEN 1 ELSE 0)]

\* read_begin blocks while an invalidation whose callback for u has run is
\* in progress (u's seq is the mm's odd one).
ReadBeginOk(u) == ~(mmSeq % 2 = 1 /\ nseq[u] = mmSeq)

\* The engine may touch memory: always in fault mode, else while the job runs.
EngineOn == Mode = "fault" \/ job = "running"

\* The userptrs the GPU's work may use: those whose VM_BIND returned 0
\* (dmafence: those that had when the job was armed).
InUse == IF Mode = "dmafence" THEN jobUses ELSE vmBound

\* The first step of a bind once u is pinned: NlRead, or (check_unlocked)
\* the seq check before it.
FirstBindStep == IF Bug = "check_unlocked" THEN "check" ELSE "nlread"

\* u's translations gone from the page table and every TLB.
ZapPtes(u) ==
    /\ gpuPte' = [gpuPte EXCEPT ![u] = [p \in Range[u] |-> None]]
    /\ tlb' = [g \in GTs |-> [tlb[g] EXCEPT ![u] = [p \in Range[u] |-> None]]]
    /\ zapped' = zapped \cup {u}

(* ---- the mm: invalidate_range_start, the callbacks, the PTE change ---- *)

InvStart(p, ev) ==
    /\ mm.st = "idle"
    /\ invCount < MaxInv
    /\ cpuPte[p] # None
    /\ mm' = [st |-> "cb", page |-> p, ev |-> ev,
              cb |-> [u \in Userptrs |-> IF p \in Range[u] /\ u \notin destroyed
                                         THEN "todo" ELSE "none"]]
    /\ mmSeq' = mmSeq + 1
    /\ invCount' = invCount + 1
    /\ Act("InvStart", <<p, ev>>)
    /\ UNCHANGED <<nseq, threadVars, vmLock, nl, cpuVars, pinVars, bindVars,
                   listVars, gpuVars>>

\* The callback of u is the next one due: the first in address order of
\* those not run yet, and no other is in the middle of its wait.
CbDue(u) ==
    /\ mm.st = "cb"
    /\ mm.cb[u] = "todo"
    /\ u = FirstOf({v \in Userptrs : mm.cb[v] = "todo"})
    /\ \A v \in Userptrs : mm.cb[v] \notin {"wait", "zap"}

Notify(u) ==
    /\ CbDue(u)
    /\ nl = ""
    /\ nseq' = [nseq EXCEPT ![u] = mmSeq]
    /\ invalidated' = IF initialBind[u] /\ Mode # "fault"
                      THEN invalidated \cup {u} ELSE invalidated
    /\ mm' = [mm EXCEPT !.cb[u] =
                 CASE ~initialBind[u] -> "done"
                   [] Bug = "callback_no_wait" -> IF Mode = "fault" THEN "zap" ELSE "done"
                   [] OTHER -> "wait"]
    /\ Act("Notify", <<u>>)
    /\ UNCHANGED <<mmSeq, invCount, threadVars, vmLock, nl, cpuVars, pinVars,
                   bindVars, repin, rebind, gpuVars>>

\* Every BOOKKEEP fence has signalled once signalling is enabled: the
\* fenced PT jobs have run and no exec job is armed or running (the LR
\* job's preempt fence signals as it is preempted).
FenceWait(u) ==
    /\ mm.st = "cb"
    /\ mm.cb[u] = "wait"
    /\ \A i \in DOMAIN ptq : ~ptq[i].fenced
    /\ job \notin {"armed", "running"} \/ Mode # "dmafence"
    /\ job' = IF Mode = "lr" /\ job = "running" THEN "preempted" ELSE job
    /\ mm' = [mm EXCEPT !.cb[u] = IF Mode = "fault" THEN "zap" ELSE "done"]
    /\ Act("FenceWait", <<u>>)
    /\ UNCHANGED <<mmSeq, invCount, nseq, threadVars, vmLock, nl, cpuVars,
                   pinVars, bindVars, listVars, ptq, deps, jobUses, nexec, gpuPte, tlb,
                   badRead, destroyed>>

\* tlb_one_gt: the TLB invalidation reaches only the first GT; another GT
\* keeps the entries it had used (any subset of the GTs may have).
Zap(u) ==
    /\ mm.st = "cb"
    /\ mm.cb[u] = "zap"
    /\ IF Bug = "tlb_one_gt"
       THEN /\ gpuPte' = [gpuPte EXCEPT ![u] = [p \in Range[u] |-> None]]
            /\ zapped' = zapped \cup {u}
            /\ \E keep \in SUBSET (GTs \ {MinGT}) :
                  tlb' = [g \in GTs |->
                            [tlb[g] EXCEPT ![u] =
                                [p \in Range[u] |->
                                    IF g \in keep /\ tlb[g][u][p] = None
                                    THEN gpuPte[u][p] ELSE tlb[g][u][p]]]]
       ELSE ZapPtes(u)
    /\ mm' = [mm EXCEPT !.cb[u] = "done"]
    /\ Act("Zap", <<u>>)
    /\ UNCHANGED <<mmSeq, invCount, nseq, threadVars, vmLock, nl, cpuVars,
                   pinVars, initialBind, bindSeq, vmBound, failed, listVars,
                   ptq, job, deps, jobUses, nexec, badRead, destroyed>>

CpuUpdate(p) ==
    /\ mm.st = "cb"
    /\ mm.page = p
    /\ \A u \in Userptrs : mm.cb[u] \in {"none", "done"}
    /\ \E old \in {cpuPte[p]} :
          IF mm.ev = "unmap"
          THEN /\ cpuPte' = [cpuPte EXCEPT ![p] = None]
               /\ mem' = [mem EXCEPT ![old] = 0]
               /\ UNCHANGED nextFrame
          ELSE /\ cpuPte' = [cpuPte EXCEPT ![p] = nextFrame]
               /\ mem' = [mem EXCEPT ![nextFrame] = mem[old], ![old] = 0]
               /\ nextFrame' = nextFrame + 1
    /\ mm' = [mm EXCEPT !.st = "end"]
    /\ Act("CpuUpdate", <<p>>)
    /\ UNCHANGED <<mmSeq, invCount, nseq, expect, threadVars, vmLock, nl,
                   pinVars, bindVars, listVars, gpuVars>>

InvEnd(p) ==
    /\ mm.st = "end"
    /\ mm.page = p
    /\ mm' = MmIdle
    /\ mmSeq' = mmSeq + 1
    /\ Act("InvEnd", <<p>>)
    /\ UNCHANGED <<invCount, nseq, threadVars, vmLock, nl, cpuVars, pinVars,
                   bindVars, listVars, gpuVars>>

(* ---- populate: xe_vma_userptr_pin_pages, shared by the kernel threads ---- *)

\* Where a worker or exec goes next: pin the next userptr on repin, else
\* rebind the next one on rebind, else the last check.
NextPhase(t, rp, rb) ==
    IF rp # {}
    THEN /\ pc' = [pc EXCEPT ![t] = "pin"]
         /\ cur' = [cur EXCEPT ![t] = FirstOf(rp)]
    ELSE IF rb # {}
    THEN /\ pc' = [pc EXCEPT ![t] = "rebind"]
         /\ cur' = [cur EXCEPT ![t] = FirstOf(rb)]
    ELSE /\ pc' = [pc EXCEPT ![t] = IF t = "worker" THEN "resume" ELSE "arm"]
         /\ cur' = [cur EXCEPT ![t] = ""]

\* What thread t does once populate of u returned r ("OK", "EFAULT",
\* "EBUSY" or "ENOMEM"): the bind thread goes on to bind, or its ioctl fails; the
\* fault handler binds, or the fault fails; a worker or exec moves u to the
\* rebind list, or (-EFAULT) goes on to zap it (RepinZap), or (-EBUSY,
\* -ENOMEM) fails: the seed leaves u on no list, upstream puts the repin
\* list back on invalidated; the worker's error kills the VM, the exec
\* ioctl returns it.  Sets pc, cur, vmLock, vmBound, failed, zapped,
\* the lists, gpuPte, tlb, job and nexec.
PinResult(t, u, r) ==
    CASE t = "bind" ->
            /\ pc' = [pc EXCEPT ![t] = IF r = "OK" THEN FirstBindStep
                                       ELSE AfterBind(u).pc]
            /\ cur' = IF r = "OK" THEN cur ELSE [cur EXCEPT ![t] = AfterBind(u).cur]
            /\ vmLock' = IF r = "OK" THEN t ELSE ""
            /\ UNCHANGED <<vmBound, failed, zapped, listVars, gpuPte, tlb, job, nexec>>
      [] t = "fault" ->
            /\ pc' = [pc EXCEPT ![t] = IF r = "OK" THEN FirstBindStep ELSE "idle"]
            /\ cur' = IF r = "OK" THEN cur ELSE [cur EXCEPT ![t] = ""]
            /\ vmLock' = IF r = "OK" THEN t ELSE ""
            /\ failed' = IF r = "OK" THEN failed ELSE failed \cup {u}
            /\ UNCHANGED <<vmBound, zapped, listVars, gpuPte, tlb, job, nexec>>
      [] r = "OK" ->
            /\ repin' = repin \ {u}
            /\ rebind' = rebind \cup {u}
            /\ NextPhase(t, repin \ {u}, rebind \cup {u})
            /\ vmLock' = t
            /\ UNCHANGED <<vmBound, failed, zapped, invalidated, gpuPte, tlb, job, nexec>>
      [] r = "EFAULT" ->
            /\ pc' = [pc EXCEPT ![t] = "zap"]
            /\ vmLock' = t
            /\ UNCHANGED <<cur, vmBound, failed, zapped, listVars, gpuPte, tlb, job, nexec>>
      [] OTHER ->
            /\ repin' = IF Profile = "seed" THEN repin \ {u} ELSE {}
            /\ invalidated' = IF Profile = "seed" THEN invalidated ELSE invalidated \cup repin
            /\ pc' = [pc EXCEPT ![t] = "idle"]
            /\ cur' = [cur EXCEPT ![t] = ""]
            /\ vmLock' = ""
            /\ job' = IF t = "worker" THEN "killed" ELSE job
            /\ nexec' = IF t = "exec" THEN nexec + 1 ELSE nexec
            /\ UNCHANGED <<vmBound, failed, zapped, rebind, gpuPte, tlb>>

\* Thread t goes on to step s of its populate of u, holding vm->lock.
PinGo(t, s) ==
    /\ pc' = [pc EXCEPT ![t] = s]
    /\ vmLock' = t
    /\ UNCHANGED <<cur, vmBound, failed, zapped, listVars, gpuPte, tlb, job, nexec>>

PinBegin(t, u) ==
    /\ pc[t] \in {"start", "pin"}
    /\ cur[t] = u
    /\ pc[t] = "start" => vmLock = ""
    /\ ReadBeginOk(u)
    /\ Act("PinBegin", <<t, u>>)
    /\ IF nseq[u] = useq[u]
       THEN /\ PinResult(t, u, "OK")
            /\ UNCHANGED <<tseq, pinVars>>
       ELSE /\ PinGo(t, "hmm")
            /\ tseq' = [tseq EXCEPT ![t] = nseq[u]]
            /\ dma' = [dma EXCEPT ![u] = DmaUnmap(dma[u], pinned[u])]
            /\ pinned' = [pinned EXCEPT ![u] = {}]
            /\ UNCHANGED <<useq, freedTouch>>
    /\ UNCHANGED <<got, nl, mmVars, cpuVars, initialBind, bindSeq, ptq, deps, jobUses,
                   badRead, destroyed>>

PinFault(t, u) ==
    /\ pc[t] = "hmm"
    /\ cur[t] = u
    /\ Act("PinFault", <<t, u>>)
    /\ IF nseq[u] # tseq[t]
       THEN /\ PinGo(t, "pin")
            /\ UNCHANGED got
       ELSE IF \E p \in Range[u] : cpuPte[p] = None
       THEN /\ PinResult(t, u, "EFAULT")
            /\ UNCHANGED got
       ELSE /\ PinGo(t, "map")
            /\ got' = [got EXCEPT ![t] = {<<p, cpuPte[p]>> : p \in Range[u]}]
    /\ UNCHANGED <<tseq, nl, mmVars, cpuVars, pinVars, initialBind, bindSeq,
                   ptq, deps, jobUses, badRead, destroyed>>

PinTimeout(t, u) ==
    /\ "EBUSY" \in PinErrors
    /\ pc[t] = "hmm"
    /\ cur[t] = u
    /\ nseq[u] # tseq[t]
    /\ PinResult(t, u, "EBUSY")
    /\ Act("PinTimeout", <<t, u>>)
    /\ UNCHANGED <<tseq, got, nl, mmVars, cpuVars, pinVars, initialBind,
                   bindSeq, ptq, deps, jobUses, badRead, destroyed>>

PinMap(t, u) ==
    /\ pc[t] = "map"
    /\ cur[t] = u
    /\ Profile = "upstream" => nl = ""
    /\ Act("PinMap", <<t, u>>)
    /\ IF Profile = "upstream" /\ nseq[u] # tseq[t]
       THEN /\ PinGo(t, "pin")
            /\ UNCHANGED <<pinVars, got>>
       ELSE /\ PinResult(t, u, "OK")
            /\ pinned' = [pinned EXCEPT ![u] = got[t]]
            /\ dma' = [dma EXCEPT ![u] = DmaMap(dma[u], got[t])]
            /\ useq' = [useq EXCEPT ![u] = tseq[t]]
            /\ freedTouch' = (freedTouch \/ \E f \in FramesOf(got[t]) : ~Live(f))
            /\ got' = [got EXCEPT ![t] = {}]
    /\ UNCHANGED <<tseq, nl, mmVars, cpuVars, initialBind, bindSeq, ptq, deps, jobUses,
                   badRead, destroyed>>

PinNoMem(t, u) ==
    /\ "ENOMEM" \in PinErrors
    /\ pc[t] = "map"
    /\ cur[t] = u
    /\ PinResult(t, u, "ENOMEM")
    /\ got' = [got EXCEPT ![t] = {}]
    /\ Act("PinNoMem", <<t, u>>)
    /\ UNCHANGED <<tseq, nl, mmVars, cpuVars, pinVars, initialBind, bindSeq,
                   ptq, deps, jobUses, badRead, destroyed>>

\* A worker's or exec's repin of u failed with -EFAULT (a page of u is
\* gone): xe_vm_invalidate_vma zaps u's PTEs and TLB entries, and u leaves
\* the repin and rebind lists.  Upstream first waits for the binds in
\* flight (the VM's BOOKKEEP fences); the seed zaps at once (A3: the zap's
\* precondition, an idle VM, is not established).
RepinZap(t, u) ==
    /\ pc[t] = "zap"
    /\ cur[t] = u
    /\ Profile = "upstream" => \A i \in DOMAIN ptq : ~ptq[i].fenced
    /\ ZapPtes(u)
    /\ repin' = repin \ {u}
    /\ rebind' = rebind \ {u}
    /\ NextPhase(t, repin \ {u}, rebind \ {u})
    /\ Act("RepinZap", <<t, u>>)
    /\ UNCHANGED <<tseq, got, vmLock, nl, mmVars, cpuVars, pinVars, initialBind,
                   bindSeq, vmBound, failed, invalidated, ptq, job, deps, jobUses, nexec,
                   badRead, destroyed>>

(* ---- the bind of the bind thread and of the fault handler ---- *)

NlRead(t, u) ==
    /\ pc[t] = "nlread"
    /\ cur[t] = u
    /\ nl = ""
    /\ nl' = t
    /\ pc' = [pc EXCEPT ![t] = IF Bug = "check_unlocked" THEN "commit" ELSE "check"]
    /\ Act("NlRead", <<t, u>>)
    /\ UNCHANGED <<cur, tseq, got, vmLock, mmVars, cpuVars, pinVars, bindVars,
                   listVars, gpuVars>>

\* Whether pre_commit checks u's seq: lr/dmafence only on its first bind;
\* fault mode only upstream (fault_initial_no_check: not on a first bind).
NeedsCheck(u) ==
    IF Mode = "fault"
    THEN Profile = "upstream" /\ ~(Bug = "fault_initial_no_check" /\ ~initialBind[u])
    ELSE ~initialBind[u]

\* mmu_interval_read_retry(notifier, notifier_seq): an invalidation of u
\* began since its pages were read (retry_inverted: the opposite).
SeqMoved(u) == IF Bug = "retry_inverted" THEN nseq[u] = useq[u] ELSE nseq[u] # useq[u]

Check(t, u) ==
    /\ pc[t] = "check"
    /\ cur[t] = u
    /\ Act("Check", <<t, u>>)
    /\ IF NeedsCheck(u) /\ SeqMoved(u) /\ Mode = "fault"
       THEN /\ nl' = ""
            /\ vmLock' = ""
            /\ pc' = [pc EXCEPT ![t] = IF t = "bind" THEN "start" ELSE "retry"]
            /\ UNCHANGED <<invalidated, job>>
       ELSE /\ pc' = [pc EXCEPT ![t] = IF Bug = "check_unlocked" THEN "nlread" ELSE "commit"]
            /\ IF NeedsCheck(u) /\ SeqMoved(u)
               THEN /\ invalidated' = invalidated \cup {u}
                    /\ job' = IF Mode = "lr" /\ job = "running" THEN "preempted" ELSE job
               ELSE UNCHANGED <<invalidated, job>>
            /\ UNCHANGED <<nl, vmLock>>
    /\ UNCHANGED <<cur, tseq, got, mmVars, cpuVars, pinVars, bindVars, repin,
                   rebind, ptq, deps, jobUses, nexec, gpuPte, tlb, badRead, destroyed>>

\* The PT job of a commit of u by thread t, fenced or not.
NewJob(t, u, fenced) ==
    [u |-> u, map |-> pinned[u], fenced |-> fenced, seq |-> useq[u],
     at |-> nseq[u], listed |-> u \in invalidated, by |-> t]

Commit(t, u) ==
    /\ pc[t] = "commit"
    /\ cur[t] = u
    /\ nl = t
    /\ ptq' = Append(ptq, NewJob(t, u, Bug # "fence_after_unlock"))
    /\ initialBind' = [initialBind EXCEPT ![u] = TRUE]
    /\ bindSeq' = [bindSeq EXCEPT ![u] = useq[u]]
    /\ zapped' = zapped \ {u}
    /\ pc' = [pc EXCEPT ![t] = "unlock"]
    /\ Act("Commit", <<t, u>>)
    /\ UNCHANGED <<cur, tseq, got, vmLock, nl, mmVars, cpuVars, pinVars,
                   vmBound, failed, listVars, job, deps, jobUses, nexec, gpuPte, tlb,
                   badRead, destroyed>>

\* The bind of u by t is over: the VM_BIND returns 0 (u is the GPU's to
\* use) and the bind thread drops vm->lock and goes on to the next
\* userptr; the fault handler waits for the bind's fence.
BindOver(t, u) ==
    IF t = "bind"
    THEN /\ vmBound' = vmBound \cup {u}
         /\ vmLock' = ""
         /\ pc' = [pc EXCEPT ![t] = AfterBind(u).pc]
         /\ cur' = [cur EXCEPT ![t] = AfterBind(u).cur]
    ELSE /\ pc' = [pc EXCEPT ![t] = "wait"]
         /\ UNCHANGED <<vmBound, vmLock, cur>>

NlUnlock(t, u) ==
    /\ pc[t] = "unlock"
    /\ cur[t] = u
    /\ nl = t
    /\ nl' = ""
    /\ IF Bug = "fence_after_unlock"
       THEN /\ pc' = [pc EXCEPT ![t] = "fence"]
            /\ UNCHANGED <<vmBound, vmLock, cur>>
       ELSE BindOver(t, u)
    /\ Act("NlUnlock", <<t, u>>)
    /\ UNCHANGED <<tseq, got, mmVars, cpuVars, pinVars, initialBind, bindSeq,
                   failed, zapped, listVars, gpuVars>>

AddFence(t, u) ==
    /\ pc[t] = "fence"
    /\ cur[t] = u
    /\ ptq' = [i \in DOMAIN ptq |-> IF ptq[i].by = t THEN [ptq[i] EXCEPT !.fenced = TRUE]
                                    ELSE ptq[i]]
    /\ BindOver(t, u)
    /\ Act("AddFence", <<t, u>>)
    /\ UNCHANGED <<tseq, got, nl, mmVars, cpuVars, pinVars, initialBind, bindSeq,
                   failed, zapped, listVars, job, deps, jobUses, nexec, gpuPte, tlb,
                   badRead, destroyed>>

\* The bind thread's VM_UNBIND of u and the destroy of its VMA, under
\* vm->lock: u leaves every list and the GPU's use, its PTEs and TLB
\* entries go, its sg is DMA-unmapped and freed, its notifier is removed
\* (mmu_interval_notifier_remove waits while the mm is invalidating).  The
\* unbind's PT job runs after the queued ones and, in dma-fence mode, after
\* the exec job: the step waits for both.
Destroy(t, u) ==
    /\ pc[t] = "destroy"
    /\ cur[t] = u
    /\ vmLock = "" /\ nl = ""
    /\ mm.st = "idle"
    /\ \A i \in DOMAIN ptq : ptq[i].u # u
    /\ Mode = "dmafence" => job \notin {"armed", "running"}
    /\ destroyed' = destroyed \cup {u}
    /\ invalidated' = IF Bug = "destroy_keeps_list" THEN invalidated ELSE invalidated \ {u}
    /\ repin' = repin \ {u}
    /\ rebind' = rebind \ {u}
    /\ vmBound' = vmBound \ {u}
    /\ jobUses' = jobUses \ {u}
    /\ failed' = failed \ {u}
    /\ zapped' = zapped \ {u}
    /\ gpuPte' = [gpuPte EXCEPT ![u] = [p \in Range[u] |-> None]]
    /\ tlb' = [g \in GTs |-> [tlb[g] EXCEPT ![u] = [p \in Range[u] |-> None]]]
    /\ dma' = [dma EXCEPT ![u] = DmaUnmap(dma[u], pinned[u])]
    /\ pinned' = [pinned EXCEPT ![u] = {}]
    /\ pc' = [pc EXCEPT ![t] = IF NextToBind(u) = "" THEN "done" ELSE "destroy"]
    /\ cur' = [cur EXCEPT ![t] = NextToBind(u)]
    /\ Act("Destroy", <<t, u>>)
    /\ UNCHANGED <<tseq, got, vmLock, nl, mmVars, cpuVars, useq, freedTouch, initialBind,
                   bindSeq, ptq, job, deps, nexec, badRead>>

(* ---- the rebind worker (lr) and exec (dmafence) ---- *)

Rebind(t, u) ==
    /\ t \in {"worker", "exec"}
    /\ pc[t] = "rebind"
    /\ cur[t] = u
    /\ nl = ""
    /\ ptq' = Append(ptq, NewJob(t, u, TRUE))
    /\ initialBind' = [initialBind EXCEPT ![u] = TRUE]
    /\ bindSeq' = [bindSeq EXCEPT ![u] = useq[u]]
    /\ zapped' = zapped \ {u}
    /\ rebind' = rebind \ {u}
    /\ NextPhase(t, repin, rebind \ {u})
    /\ Act("Rebind", <<t, u>>)
    /\ UNCHANGED <<tseq, got, vmLock, nl, mmVars, cpuVars, pinVars, vmBound,
                   failed, invalidated, repin, job, deps, jobUses, nexec, gpuPte, tlb,
                   badRead, destroyed>>

\* The preempt fence signalled: the rebind worker runs, collecting the
\* invalidated userptrs onto the repin list.
WorkerStart ==
    /\ Mode = "lr"
    /\ pc["worker"] = "idle"
    /\ job = "preempted"
    /\ vmLock = ""
    /\ vmLock' = "worker"
    /\ repin' = repin \cup invalidated
    /\ invalidated' = {}
    /\ NextPhase("worker", repin \cup invalidated, rebind)
    /\ Act("WorkerStart", <<>>)
    /\ UNCHANGED <<tseq, got, nl, mmVars, cpuVars, pinVars, bindVars, rebind, gpuVars>>

Resume ==
    /\ pc["worker"] = "resume"
    /\ \A i \in DOMAIN ptq : ptq[i].by # "worker"
    /\ nl = ""
    /\ job' = IF invalidated = {} THEN "running" ELSE job
    /\ vmLock' = ""
    /\ pc' = [pc EXCEPT !["worker"] = "idle"]
    /\ Act("Resume", <<>>)
    /\ UNCHANGED <<cur, tseq, got, nl, mmVars, cpuVars, pinVars, bindVars,
                   listVars, ptq, deps, jobUses, nexec, gpuPte, tlb, badRead, destroyed>>

ExecBegin ==
    /\ Mode = "dmafence"
    /\ pc["exec"] = "idle"
    /\ nexec < MaxExec
    /\ job = "idle"
    /\ vmLock = ""
    /\ vmLock' = "exec"
    /\ repin' = repin \cup invalidated
    /\ invalidated' = {}
    /\ NextPhase("exec", repin \cup invalidated, rebind)
    /\ Act("ExecBegin", <<>>)
    /\ UNCHANGED <<tseq, got, nl, mmVars, cpuVars, pinVars, bindVars, rebind, gpuVars>>

Arm ==
    /\ pc["exec"] = "arm"
    /\ nl = ""
    /\ IF invalidated = {}
       THEN /\ job' = "armed"
            /\ deps' = Len(ptq)
            /\ jobUses' = vmBound
            /\ nexec' = nexec + 1
       ELSE UNCHANGED <<job, deps, jobUses, nexec>>
    /\ vmLock' = ""
    /\ pc' = [pc EXCEPT !["exec"] = "idle"]
    /\ Act("Arm", <<>>)
    /\ UNCHANGED <<cur, tseq, got, nl, mmVars, cpuVars, pinVars, bindVars,
                   listVars, ptq, gpuPte, tlb, badRead, destroyed>>

(* ---- the GPU fault handler (fault mode) ---- *)

\* The GPU has a VA of u with neither a TLB entry nor a PTE in some GT.
Faults(u) == \E g \in GTs, p \in Range[u] : tlb[g][u][p] = None /\ gpuPte[u][p] = None

FaultBegin(u) ==
    /\ Mode = "fault"
    /\ \/ pc["fault"] = "idle" /\ u \in vmBound /\ u \notin failed /\ Faults(u)
       \/ pc["fault"] = "retry" /\ cur["fault"] = u
    /\ vmLock = ""
    /\ vmLock' = "fault"
    /\ cur' = [cur EXCEPT !["fault"] = u]
    /\ pc' = [pc EXCEPT !["fault"] = IF nseq[u] # useq[u] THEN "pin" ELSE FirstBindStep]
    /\ Act("FaultBegin", <<u>>)
    /\ UNCHANGED <<tseq, got, nl, mmVars, cpuVars, pinVars, bindVars, listVars, gpuVars>>

FaultDone(u) ==
    /\ pc["fault"] = "wait"
    /\ cur["fault"] = u
    /\ \A i \in DOMAIN ptq : ptq[i].by # "fault"
    /\ vmLock' = ""
    /\ IF Bug # "fault_initial_no_check" /\ nseq[u] # useq[u]
       THEN /\ pc' = [pc EXCEPT !["fault"] = "retry"]
            /\ UNCHANGED cur
       ELSE /\ pc' = [pc EXCEPT !["fault"] = "idle"]
            /\ cur' = [cur EXCEPT !["fault"] = ""]
    /\ Act("FaultDone", <<u>>)
    /\ UNCHANGED <<tseq, got, nl, mmVars, cpuVars, pinVars, bindVars, listVars, gpuVars>>

(* ---- the PT job queue and the GPU ---- *)

PtRun ==
    /\ ptq # <<>>
    /\ \E j \in {Head(ptq)} :
          /\ gpuPte' = [gpuPte EXCEPT ![j.u] =
                           [p \in Range[j.u] |-> IF p \in {x[1] : x \in j.map}
                                                 THEN CHOOSE f \in FramesOf(j.map) : <<p, f>> \in j.map
                                                 ELSE gpuPte[j.u][p]]]
          /\ tlb' = [g \in GTs |-> [tlb[g] EXCEPT ![j.u] =
                        [p \in Range[j.u] |-> IF p \in {x[1] : x \in j.map}
                                              THEN None ELSE tlb[g][j.u][p]]]]
    /\ ptq' = Tail(ptq)
    /\ deps' = IF deps > 0 THEN deps - 1 ELSE 0
    /\ Act("PtRun", <<>>)
    /\ UNCHANGED <<threadVars, vmLock, nl, mmVars, cpuVars, pinVars, bindVars,
                   listVars, job, jobUses, nexec, badRead, destroyed>>

JobStart ==
    /\ Mode = "dmafence"
    /\ job = "armed"
    /\ deps = 0
    /\ job' = "running"
    /\ Act("JobStart", <<>>)
    /\ UNCHANGED <<threadVars, vmLock, nl, mmVars, cpuVars, pinVars, bindVars,
                   listVars, ptq, deps, jobUses, nexec, gpuPte, tlb, badRead, destroyed>>

JobDone ==
    /\ Mode = "dmafence"
    /\ job = "running"
    /\ job' = "idle"
    /\ Act("JobDone", <<>>)
    /\ UNCHANGED <<threadVars, vmLock, nl, mmVars, cpuVars, pinVars, bindVars,
                   listVars, ptq, deps, jobUses, nexec, gpuPte, tlb, badRead, destroyed>>

\* The frame VA <<u, p>> reaches through GT g: its TLB entry, else its PTE.
Through(g, u, p) == IF tlb[g][u][p] # None THEN tlb[g][u][p] ELSE gpuPte[u][p]

GpuAccess(g, u, p, rw) ==
    /\ EngineOn
    /\ u \in InUse
    /\ rw = "w" => p \in WritePages
    /\ \E f \in {Through(g, u, p)} :
          /\ f # None
          /\ IF rw = "w"
             THEN /\ mem' = [mem EXCEPT ![f] = 1 - expect[p]]
                  /\ expect' = [expect EXCEPT ![p] = 1 - expect[p]]
                  /\ UNCHANGED badRead
             ELSE /\ badRead' = (badRead \/ mem[f] # expect[p])
                  /\ UNCHANGED <<mem, expect>>
    /\ Act("GpuAccess", <<g, u, p, rw>>)
    /\ UNCHANGED <<threadVars, vmLock, nl, mmVars, cpuPte, nextFrame, pinVars,
                   bindVars, listVars, ptq, job, deps, jobUses, nexec, gpuPte, tlb, destroyed>>

-----------------------------------------------------------------------------
(******************************** Next *************************************)

MmStep ==
    \/ \E u \in Userptrs : Notify(u) \/ FenceWait(u) \/ Zap(u)
    \/ \E p \in Pages : CpuUpdate(p) \/ InvEnd(p)

ThreadStep(t) ==
    \E u \in Userptrs :
        \/ PinBegin(t, u) \/ PinFault(t, u) \/ PinTimeout(t, u) \/ PinNoMem(t, u)
        \/ PinMap(t, u)
        \/ NlRead(t, u) \/ Check(t, u) \/ Commit(t, u) \/ NlUnlock(t, u)
        \/ AddFence(t, u) \/ Rebind(t, u) \/ RepinZap(t, u) \/ Destroy(t, u)

WorkerStep == ThreadStep("worker") \/ WorkerStart \/ Resume
ExecStep == ThreadStep("exec") \/ ExecBegin \/ Arm
FaultStep == ThreadStep("fault") \/ \E u \in Userptrs : FaultBegin(u) \/ FaultDone(u)

Step ==
    \/ \E p \in Pages, ev \in Events : InvStart(p, ev)
    \/ MmStep
    \/ ThreadStep("bind")
    \/ WorkerStep
    \/ ExecStep
    \/ FaultStep
    \/ PtRun \/ JobStart \/ JobDone
    \/ \E g \in GTs, u \in Userptrs, rw \in {"r", "w"} :
          \E p \in Range[u] : GpuAccess(g, u, p, rw)

\* Every kernel thread is at rest and no invalidation is running: the
\* system may stutter, so that TLC's deadlock check reports only states
\* where something is stuck.
AtRest ==
    /\ mm.st = "idle"
    /\ pc["bind"] = "done"
    /\ \A t \in KThreads \ {"bind"} : pc[t] = "idle"
    /\ ptq = <<>>

Terminated == AtRest /\ UNCHANGED vars

Next == Step \/ Terminated

\* Weak fairness of every kernel thread, of the mm once an invalidation
\* started (not of InvStart: the mm may stop invalidating at any time), of
\* the PT queue and of the exec job's progress.  The GPU's accesses are
\* not fair; its faults are the fault handler's FaultBegin.
Fairness ==
    /\ WF_vars(MmStep)
    /\ WF_vars(ThreadStep("bind"))
    /\ WF_vars(WorkerStep)
    /\ WF_vars(ExecStep)
    /\ WF_vars(FaultStep)
    /\ WF_vars(PtRun)
    /\ WF_vars(JobStart)
    /\ WF_vars(JobDone)

Spec == Init /\ [][Next]_vars /\ Fairness

\* The model's abstract variables, as the trace checker and the
\* conformance printer compare them: GPU PTEs as the set of <<userptr,
\* page, frame>> triples of the present ones, TLB entries as <<gt,
\* userptr, page, frame>>, DMA mappings as <<userptr, frame, count>> with
\* count > 0.
Observed ==
    [pc |-> pc, cur |-> cur, tseq |-> tseq, got |-> got, vmLock |-> vmLock,
     nl |-> nl, mm |-> mm, mmSeq |-> mmSeq, invCount |-> invCount,
     nseq |-> nseq, cpuPte |-> cpuPte, nextFrame |-> nextFrame, mem |-> mem,
     expect |-> expect, useq |-> useq, pinned |-> pinned,
     dma |-> {<<x[1], x[2], dma[x[1]][x[2]]>> :
                 x \in {y \in Userptrs \X Frames : dma[y[1]][y[2]] # 0}},
     freedTouch |-> freedTouch, initialBind |-> initialBind,
     bindSeq |-> bindSeq, vmBound |-> vmBound, failed |-> failed,
     zapped |-> zapped, invalidated |-> invalidated, repin |-> repin,
     rebind |-> rebind, ptq |-> ptq, job |-> job, deps |-> deps, jobUses |-> jobUses,
     nexec |-> nexec,
     gpuPte |-> {<<va[1], va[2], gpuPte[va[1]][va[2]]>> :
                    va \in {x \in VAs : gpuPte[x[1]][x[2]] # None}},
     tlb |-> {<<e[1], e[2], e[3], tlb[e[1]][e[2]][e[3]]>> :
                 e \in {x \in GTs \X Userptrs \X Pages :
                           x[3] \in Range[x[2]] /\ tlb[x[1]][x[2]][x[3]] # None}},
     badRead |-> badRead, destroyed |-> destroyed]

\* The steps a partial log may leave out: the PT queue's and the GPU's.
Internal ==
    \/ PtRun \/ JobStart \/ JobDone
    \/ \E g \in GTs, u \in Userptrs, rw \in {"r", "w"} :
          \E p \in Range[u] : GpuAccess(g, u, p, rw)

-----------------------------------------------------------------------------
(************************* Invariants and properties ***********************)
(* Written from the notes' prose (sections 2.1-2.8, 4 and 5: S1, S2, S3,   *)
(* S5, S11, L2, L5, L6; section 6: R13, A2, A3, A10, A17, A23) with        *)
(* definitions of their own: nothing below uses an action operator above.  *)

NoFrame == -1
Mapped(p) == cpuPte[p] # NoFrame
InvRunning == mm.st # "idle"

\* The callback of u has returned in the invalidation now running for
\* page p (whose CPU mapping is about to change, or has changed).
CallbackReturned(u, p) == InvRunning /\ mm.page = p /\ mm.cb[u] = "done"

\* The frame the engine reaches at VA <<u, p>> through GT g, if any.
Reach(g, u, p) == IF tlb[g][u][p] # NoFrame THEN tlb[g][u][p] ELSE gpuPte[u][p]

\* The engine can touch memory now: fault mode always, LR while its job is
\* not preempted, dma-fence while an exec job runs.
CanRun == IF Mode = "fault" THEN TRUE ELSE job = "running"

\* The userptrs the GPU's work may use: the bound ones (whose VM_BIND
\* returned 0); in dma-fence mode those bound when the exec job was armed.
UsedByGpu == IF Mode = "dmafence" THEN jobUses ELSE vmBound

\* u's pages are as fresh as its notifier: no invalidation of it began
\* since they were read.
Current(u) == useq[u] = nseq[u]

\* Every variable holds what its comment says.
TypeOK ==
    /\ pc \in [KThreads -> PcValues]
    /\ cur \in [KThreads -> Userptrs \cup {""}]
    /\ tseq \in [KThreads -> Nat \cup {InsertSeq}]
    /\ got \in [KThreads -> SUBSET (Pages \X Frames)]
    /\ vmLock \in KThreads \cup {""}
    /\ nl \in KThreads \cup {""}
    /\ mm.st \in MmStates /\ mm.page \in Pages \cup {NoFrame} /\ mm.ev \in Events \cup {""}
    /\ mm.cb \in [Userptrs -> CbStages]
    /\ mmSeq \in Nat /\ invCount \in 0 .. MaxInv
    /\ nseq \in [Userptrs -> Nat \cup {InsertSeq}]
    /\ cpuPte \in [Pages -> Frames \cup {NoFrame}]
    /\ nextFrame \in NP .. NP + MaxInv
    /\ mem \in [Frames -> {0, 1}]
    /\ expect \in [Pages -> {0, 1}]
    /\ useq \in [Userptrs -> Nat \cup {InsertSeq, Never}]
    /\ \A u \in Userptrs : pinned[u] \subseteq Range[u] \X Frames
    /\ dma \in [Userptrs -> [Frames -> Int]]
    /\ freedTouch \in BOOLEAN
    /\ initialBind \in [Userptrs -> BOOLEAN]
    /\ bindSeq \in [Userptrs -> Nat \cup {InsertSeq, Never}]
    /\ vmBound \subseteq Userptrs /\ failed \subseteq Userptrs /\ zapped \subseteq Userptrs
    /\ invalidated \subseteq Userptrs /\ repin \subseteq Userptrs /\ rebind \subseteq Userptrs
    /\ ptq \in Seq(PtJob)
    /\ job \in JobStates
    /\ deps \in Nat /\ jobUses \subseteq Userptrs /\ nexec \in 0 .. MaxExec
    /\ \A u \in Userptrs : \A p \in Range[u] : gpuPte[u][p] \in Frames \cup {NoFrame}
    /\ \A g \in GTs, u \in Userptrs : \A p \in Range[u] : tlb[g][u][p] \in Frames \cup {NoFrame}
    /\ badRead \in BOOLEAN
    /\ destroyed \subseteq Userptrs
    /\ lastAct.name \in ActNames \cup {"Init"}

\* S1 (S-INV, notes 2.8 and 5): once the callback for a range returned,
\* the GPU can never again reach, through a PTE or a TLB entry, a frame
\* that backed the range before the change.  Stated over what the engine
\* can reach now: whenever it can run, every translation of a userptr the
\* user may use names the frame the CPU maps at that page, and not one
\* whose invalidation has already been signed off by u's callback.
NoStaleAccess ==
    \A g \in GTs, u \in UsedByGpu : \A p \in Range[u] :
        CanRun /\ Reach(g, u, p) # NoFrame =>
            /\ Reach(g, u, p) = cpuPte[p]
            /\ ~CallbackReturned(u, p)

\* A GPU read returns the value last written at that CPU address, and no
\* GPU write is lost: every mapped page's frame holds the value last
\* written there (a migration copies it).
DataIntegrity ==
    /\ ~badRead
    /\ \A p \in Pages : Mapped(p) => mem[cpuPte[p]] = expect[p]

\* The mm's invalidate seq is odd exactly while an invalidation runs; a
\* notifier's seq is one the mm had during an invalidation (or the
\* one it was inserted with), never ahead of the mm's.
SeqParity ==
    /\ (mmSeq % 2 = 1) <=> InvRunning
    /\ \A u \in Userptrs : nseq[u] <= mmSeq /\ (nseq[u] = InsertSeq \/ nseq[u] % 2 = 1)

\* A userptr bound at least once whose last commit used pages older than
\* its notifier, and whose PTEs were not zapped since.
InvalidatedBound(u) ==
    initialBind[u] /\ u \notin zapped \cup destroyed /\ bindSeq[u] # nseq[u]

\* S5 (list discipline), in the form the kernel keeps: in lr and
\* dma-fence mode an invalidated bound userptr is on at least one of
\* invalidated, repin or rebind until it is rebound (or zapped when its
\* pages are gone).  The three lists have links of their own, so the
\* kernel does put a userptr on two of them: an invalidation during a
\* repin lists it on invalidated while it is on repin or rebind, and a
\* repin that fails leaves the ones already pinned on rebind when the next
\* repin collects them again (ListExclusive).  Fault mode uses none of
\* the lists: an invalidated bound userptr is one whose callback is still
\* running, and the callback's zap ends it.
ListDiscipline ==
    /\ Mode # "fault" =>
          \A u \in Userptrs : InvalidatedBound(u) => u \in invalidated \cup repin \cup rebind
    /\ Mode = "fault" =>
          /\ invalidated \cup repin \cup rebind = {}
          /\ \A u \in Userptrs : InvalidatedBound(u) => InvRunning /\ mm.cb[u] \in {"wait", "zap"}

\* S5 as the notes word it: on exactly one of the three lists, never on
\* two.  The kernel breaks it (see ListDiscipline); MCUserptrListExclusive
\* shows how.
ListExclusive ==
    \A u \in Userptrs :
        InvalidatedBound(u) =>
            Cardinality({L \in {"invalidated", "repin", "rebind"} :
                            CASE L = "invalidated" -> u \in invalidated
                              [] L = "repin" -> u \in repin
                              [] OTHER -> u \in rebind}) = 1

\* The DMA-mapped frames of a userptr are exactly the frames of its
\* pinned pages, each mapped once: nothing mapped twice, nothing leaked,
\* nothing unmapped twice.
DmaBalance ==
    \A u \in Userptrs, f \in Frames :
        dma[u][f] = IF f \in {x[2] : x \in pinned[u]} THEN 1 ELSE 0

\* A destroyed userptr is on none of the lists and in no use, and holds
\* nothing: no sg, no DMA mapping, no PTE or TLB entry, no queued PT job.
DestroyedReleased ==
    \A u \in destroyed :
        /\ u \notin invalidated \cup repin \cup rebind \cup vmBound \cup jobUses
        /\ pinned[u] = {} /\ \A f \in Frames : dma[u][f] = 0
        /\ \A p \in Range[u] : gpuPte[u][p] = NoFrame /\ \A g \in GTs : tlb[g][u][p] = NoFrame
        /\ \A i \in DOMAIN ptq : ptq[i].u # u

\* A10: the kernel never builds an sg from (dma-maps, dirties) a frame
\* the mm has already freed.
NoFreedPageTouch == ~freedTouch

\* Pages pinned at the notifier's current seq are the ones the CPU maps.
PinnedCurrent ==
    \A u \in Userptrs : Current(u) => \A x \in pinned[u] : cpuPte[x[1]] = x[2]

\* S2 (commit validity): a PT commit of a userptr (under the notifier lock)
\* used pages as fresh as the notifier, or (not fault mode) the userptr
\* was on the invalidated list at that moment.
CommitValid ==
    \A i \in DOMAIN ptq :
        ptq[i].seq = ptq[i].at \/ (Mode # "fault" /\ ptq[i].listed)

\* S3 (fence before unlock): a queued PT job's fence is in the VM's resv
\* unless the thread that queued it still holds the notifier lock.
FenceBeforeUnlock ==
    \A i \in DOMAIN ptq : ptq[i].fenced \/ nl = ptq[i].by

\* S11 (the parts this model has): the notifier lock is taken in read mode
\* only by the holder of vm->lock (vm->lock before notifier lock), and
\* the notifier never waits on a lock (its write section is one step).
LockOrder == nl # "" => vmLock = nl

\* The system has settled: no invalidation runs, every kernel thread is
\* at rest, the PT queue is empty, and every userptr the user may use is
\* bound with pages as fresh as its notifier, its PTEs naming the frames
\* the CPU maps -- except those zapped for good (-EFAULT) and, in
\* dma-fence mode, those still on a list (the next exec repins and
\* rebinds them: an exec that failed may leave them there); in
\* LR mode the job runs again, or the VM was killed; in dma-fence mode
\* every exec returned and its job ended.
BoundCurrent(u) ==
    /\ Current(u)
    /\ \A p \in Range[u] : gpuPte[u][p] = cpuPte[p]
Settled ==
    /\ ~InvRunning
    /\ pc["bind"] = "done"
    /\ \A t \in KThreads \ {"bind"} : pc[t] = "idle"
    /\ ptq = <<>>
    /\ Mode = "lr" => job \in {"running", "killed"}
    /\ Mode = "dmafence" => nexec = MaxExec /\ job = "idle"
    /\ \A u \in vmBound \ failed :
          \/ BoundCurrent(u)
          \/ Mode # "fault" /\ u \in zapped
          \/ Mode = "dmafence" /\ u \in invalidated \cup repin \cup rebind
          \/ job = "killed"

\* L2, L5, L6: once invalidations stop, every retry loop ends (populate's,
\* the bind's, the worker's, the fault handler's, the exec's), the
\* notifier callback returns, and the system settles.
Converges == <>[]Settled

=============================================================================
