"""The userptr model (seed 004): each thread's steps, the seed's bugs the notes name as
runs that break an invariant, and random runs of every mode that keep them upstream."""

from __future__ import annotations

import random
from typing import Any

import pytest

from model.errors import GpuVmError, InvariantViolation
from model.userptr import VOCABULARY, UserptrSystem
from model.userptr_check import check_userptr


def system(mode: str = "lr", profile: str = "upstream", **kw: Any) -> UserptrSystem:
    return UserptrSystem(3, {"u1": [0, 2], "u2": [1, 3]}, mode=mode, profile=profile,
                         max_inv=2, **kw)


def run(s: UserptrSystem, *steps: tuple[Any, ...]) -> str | None:
    """Perform the steps (name, args...); the first invariant broken, or None."""
    names = {a.name: [p.name for p in a.params] for a in VOCABULARY}
    for name, *args in steps:
        VOCABULARY.perform(s, name, dict(zip(names[name], args, strict=True)))
        try:
            check_userptr(s)
        except InvariantViolation as e:
            return e.invariant
    return None


def bind(t: str, u: str) -> list[tuple[Any, ...]]:
    return [("PinBegin", t, u), ("PinFault", t, u), ("PinMap", t, u), ("NlRead", t, u),
            ("Check", t, u), ("Commit", t, u), ("NlUnlock", t, u)]


def test_a_bound_userptr_invalidated_in_lr_mode_is_repinned_and_the_job_resumes() -> None:
    s = system("lr")
    assert run(s, *bind("bind", "u1"), ("PtRun",), ("GpuAccess", 0, "u1", 0, "w")) is None
    assert s.gpu.pte[("u1", 0)] == 0 and s.expect[0] == 1
    assert run(s, ("InvStart", 0, "migrate"), ("Notify", "u1"), ("FenceWait", "u1")) is None
    assert s.invalidated == {"u1"} and s.job == "preempted"
    with pytest.raises(GpuVmError):                        # the job does not run
        VOCABULARY.perform(s, "GpuAccess", {"g": 0, "u": "u1", "p": 0, "rw": "r"})
    assert run(s, ("CpuUpdate", 0), ("InvEnd", 0), ("WorkerStart",),
               ("PinBegin", "worker", "u1"), ("PinFault", "worker", "u1"),
               ("PinMap", "worker", "u1"), ("Rebind", "worker", "u1"), ("PtRun",),
               ("Resume",), ("GpuAccess", 0, "u1", 0, "r")) is None   # GT 0 cached frame 0
    assert s.job == "running" and s.gpu.pte[("u1", 0)] == 3 and not s.bad_read
    assert s.mm.mem[3] == 1 and 0 in s.mm.freed


def test_a23_the_callback_waits_for_a_bind_whose_fence_is_in_the_resv() -> None:
    """The bind's PT job has its fence in the VM's resv before the notifier lock is
    dropped, so a callback that starts before the job ran waits for it."""
    s = system("fault")
    assert run(s, *bind("bind", "u1"), ("InvStart", 0, "migrate"), ("Notify", "u1")) is None
    with pytest.raises(GpuVmError):
        VOCABULARY.perform(s, "FenceWait", {"u": "u1"})
    assert run(s, ("PtRun",), ("FenceWait", "u1"), ("Zap", "u1")) is None
    assert not s.gpu.translations()


def test_fault_mode_zaps_and_the_fault_handler_rebinds() -> None:
    s = system("fault")
    assert run(s, *bind("bind", "u1"), ("PtRun",), ("GpuAccess", 0, "u1", 1, "w"),
               ("GpuAccess", 1, "u1", 1, "r"), ("InvStart", 1, "unmap"), ("Notify", "u1"),
               ("FenceWait", "u1"), ("Zap", "u1")) is None
    assert ("u1", 1) not in s.gpu.pte and not s.gpu.tlb[0] and not s.gpu.tlb[1]
    assert run(s, ("Notify", "u2"), ("CpuUpdate", 1), ("InvEnd", 1), ("FaultBegin", "u1"),
               ("PinBegin", "fault", "u1"), ("PinFault", "fault", "u1")) is None
    assert "u1" in s.failed and s.vm_lock == ""            # page 1 is gone: -EFAULT


def test_r13_the_seed_binds_stale_pages_in_fault_mode() -> None:
    """pin (seq s); an invalidation of the never-bound userptr bumps the seq only; the
    seed's pre_commit skips fault mode: the commit writes the old pages (S2)."""
    steps = [("PinBegin", "bind", "u1"), ("PinFault", "bind", "u1"), ("PinMap", "bind", "u1"),
             ("InvStart", 0, "migrate"), ("Notify", "u1"), ("NlRead", "bind", "u1"),
             ("Check", "bind", "u1"), ("Commit", "bind", "u1")]
    assert run(system("fault", "seed"), *steps) == "CommitInv"
    s = system("fault", "upstream")
    assert run(s, *steps[:-1]) is None                 # -EAGAIN: back to the user, who
    assert s.threads["bind"].pc == "start" and not s.vm_lock and not s.nl   # retries


def test_the_seq_check_is_made_under_the_notifier_lock() -> None:
    """Populate done, the bind takes the notifier lock before its check: the check is
    refused before it, and a callback cannot run between the two."""
    s = system("lr")
    assert run(s, ("PinBegin", "bind", "u1"), ("PinFault", "bind", "u1"),
               ("PinMap", "bind", "u1")) is None
    with pytest.raises(GpuVmError):
        VOCABULARY.perform(s, "Check", {"t": "bind", "u": "u1"})
    assert run(s, ("NlRead", "bind", "u1"), ("InvStart", 0, "unmap")) is None
    with pytest.raises(GpuVmError):
        VOCABULARY.perform(s, "Notify", {"u": "u1"})     # down_write waits for the reader
    assert run(s, ("Check", "bind", "u1"), ("Commit", "bind", "u1"),
               ("NlUnlock", "bind", "u1"), ("Notify", "u1")) is None


def test_a10_the_seed_builds_the_sg_from_freed_pages() -> None:
    steps = [("PinBegin", "bind", "u1"), ("PinFault", "bind", "u1"), ("InvStart", 0, "unmap"),
             ("Notify", "u1"), ("CpuUpdate", 0), ("PinMap", "bind", "u1")]
    assert run(system("lr", "seed"), *steps) == "SgLiveInv"
    s = system("lr", "upstream")
    assert run(s, *steps) is None and s.threads["bind"].pc == "pin"       # read_retry


def test_a3_the_seed_zaps_under_a_pending_bind() -> None:
    """A repin's -EFAULT zaps the userptr while the first bind's PT job is still queued:
    the job then writes the zapped PTEs again, to a frame the unmap freed."""
    steps = [("InvStart", 0, "unmap"), ("PinBegin", "bind", "u1"), ("PinFault", "bind", "u1"),
             ("Notify", "u1"), ("PinMap", "bind", "u1"), ("NlRead", "bind", "u1"),
             ("CpuUpdate", 0), ("Check", "bind", "u1"), ("Commit", "bind", "u1"),
             ("InvEnd", 0), ("NlUnlock", "bind", "u1"), ("WorkerStart",),
             ("PinBegin", "worker", "u1"), ("PinFault", "worker", "u1"),
             ("RepinZap", "worker", "u1"), ("Resume",), ("PtRun",),
             ("GpuAccess", 1, "u1", 0, "w")]
    # the PT job's stale PTE is seen as soon as the engine runs (before any access)
    assert run(system("lr", "seed"), *steps[:-1]) == "NoStaleTranslationInv"
    with pytest.raises(GpuVmError):                         # upstream waits for the bind
        run(system("lr", "upstream"), *steps)


def test_a_step_that_cannot_happen_changes_nothing() -> None:
    s = system("dmafence")
    before = s.abstract()
    for action, args in s.candidates():
        if (action, args) in s.enabled():
            continue
        with pytest.raises(GpuVmError):
            VOCABULARY.perform(s, action, args)
        assert s.abstract() == before, action


@pytest.mark.parametrize("mode", ["lr", "fault", "dmafence"])
def test_random_runs_keep_every_invariant_upstream(mode: str) -> None:
    for seed in range(16):
        rng = random.Random(seed)
        s = system(mode, pin_errors=("EBUSY", "ENOMEM") if seed % 2 else (), max_exec=2)
        for _ in range(60):
            acts = s.enabled()
            if not acts:
                break
            action, args = rng.choice(acts)
            VOCABULARY.perform(s, action, args)
            check_userptr(s)
        restored = system(mode, pin_errors=("EBUSY", "ENOMEM") if seed % 2 else (), max_exec=2)
        restored.restore(s.abstract())
        assert restored.abstract() == s.abstract()


@pytest.mark.parametrize(("breaks", "invariant"), [
    (lambda s: setattr(s.mm, "seq", s.mm.seq + 1), "SeqParityInv"),
    (lambda s: s.stale.append("GT 0 read (u1, 0) through frame 0"), "NoStaleAccessInv"),
    (lambda s: setattr(s, "bad_read", True), "DataInv"),
    (lambda s: s.dma.map("u1", [7]), "DmaInv"),
    (lambda s: setattr(s, "freed_touch", True), "SgLiveInv"),
    (lambda s: (s.repin.add("u1"), s.rebind.add("u1")), "ListInv"),
    (lambda s: setattr(s, "nl", "worker"), "LockInv"),
    (lambda s: setattr(s, "vm_lock", "exec"), "LockInv"),
])
def test_each_invariant_fails_on_a_state_that_breaks_it(breaks: Any, invariant: str) -> None:
    s = system("lr")
    check_userptr(s)
    breaks(s)
    with pytest.raises(InvariantViolation) as e:
        check_userptr(s)
    assert e.value.invariant == invariant


def test_a_stale_commit_and_a_lost_list_fail() -> None:
    s = system("fault", "seed")
    assert run(s, *bind("bind", "u1")[:3], ("InvStart", 0, "migrate"), ("Notify", "u1"),
               ("NlRead", "bind", "u1"), ("Check", "bind", "u1"),
               ("Commit", "bind", "u1")) == "CommitInv"
    s = system("lr")
    assert run(s, *bind("bind", "u1"), ("PtRun",), ("InvStart", 0, "migrate"),
               ("Notify", "u1")) is None
    s.invalidated.discard("u1")                 # as A2 would leave it
    with pytest.raises(InvariantViolation, match="ListInv"):
        check_userptr(s)


@pytest.mark.parametrize(("var", "bad"), [("vmLock", "x"), ("nl", None), ("vmBound", ["u9"]),
                                          ("ptq", "x"), ("gpuPte", [[1, "a"]])])
def test_a_state_of_the_wrong_shape_is_refused_and_changes_nothing(var: str, bad: Any) -> None:
    s = system("lr")
    before = s.abstract()
    with pytest.raises(GpuVmError, match="not a userptr state"):
        s.restore({**before, var: bad})
    assert s.abstract() == before


def test_destroy_releases_the_userptr() -> None:
    """VM_UNBIND and destroy once the binds returned: an invalidated userptr leaves the
    invalidated list, its sg, DMA mappings, PTEs and notifier go, the mm's references
    come back to its own; the destroy waits for a running invalidation."""
    s = system("lr", destroy=True)
    assert run(s, *bind("bind", "u1"), *bind("bind", "u2"), ("PtRun",), ("PtRun",),
               ("GpuAccess", 0, "u1", 0, "w"), ("InvStart", 0, "migrate"),
               ("Notify", "u1")) is None
    assert s.threads["bind"].pc == "destroy" and "u1" in s.invalidated
    with pytest.raises(GpuVmError):
        VOCABULARY.perform(s, "Destroy", {"t": "bind", "u": "u1"})   # the notifier is busy
    assert run(s, ("FenceWait", "u1"), ("CpuUpdate", 0), ("InvEnd", 0),
               ("Destroy", "bind", "u1"), ("Destroy", "bind", "u2")) is None
    assert s.destroyed == {"u1", "u2"} and not s.invalidated and not s.vm_bound
    assert not s.dma.mapped and not s.gpu.pte and not s.mm.notifiers and s.mm.count == 1
    assert s.threads["bind"].pc == "done"
