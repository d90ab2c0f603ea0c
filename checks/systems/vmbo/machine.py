"""State machines of the vm_bo system: jobs obtaining, mapping, putting, evicting.

Rules draw real arguments: a job, a VM, a GEM, small VA requests; the
handles jobs hold live in a Hypothesis :class:`Bundle` (``handles``), so a
``Put`` consumes one and a ``Map`` uses one.  After every step the named
invariants check:

``errno_inv``
    the errno the oracle predicts from the names, the handles, the ranges
    and the profile (and success otherwise); a rejected step leaves
    ``abstract()`` exactly as it was;
``c5_inv``
    every invariant of the notes' C5 (``model.vmbo_invariants.check_vmbo``:
    uniqueness, kref = VAs + handles, one list per VA, GEM and VM
    references, no use after free, extobj only for external GEMs);
``step_inv``
    the contract of the step: ``UnmapOpsCreate`` changes no reference and
    names exactly the VAs of the pair, in link order; after ``Validate``
    nothing of the VM is evicted; ``Obtain`` under ``upstream`` leaves the
    vm_bo on the GEM's list.

:class:`UpstreamMachine` runs the upstream profile in both list modes and
in immediate mode (with the internal ``DeferredCleanup``);
:class:`UpstreamImmediateMachine` only resv-protected immediate mode, where
dying vm_bos wait on the lists for their cleanup.
:class:`Rfc2023Machine` runs seed 003 with every action (a VM is put only
once empty): it is expected to find the seed's flaw -- two obtains before
the first link give two vm_bos of one pair (notes C6 Y1) -- recorded as an
expected violation in the manifest.
:class:`Rfc2023SerialMachine` keeps the discipline that avoids Y1 and Y5
(a job obtains a pair only when no vm_bo of it is waiting for its first
link; a VM is put only once it is empty) and must pass.
"""

from __future__ import annotations

import contextlib
import random
from collections.abc import Mapping
from typing import Any, ClassVar

import hypothesis.strategies as st
from hypothesis.stateful import Bundle, consumes, initialize, invariant, multiple, rule

from checks.machines.base import Args, SystemMachine
from checks.traces import Trace
from model.errors import GpuVmError, InvariantViolation
from model.vmbo import VOCABULARY, VmBoSystem
from model.vmbo_invariants import check_vmbo, check_vmbo_step

VMS = {"v1": (0, 4), "v2": (0, 4)}
GEMS: dict[str, str | None] = {"p": "v1", "e": None}
JOBS = ("j1", "j2")
UPSTREAM_MODES = ({"list_mode": "spinlock", "immediate": False},
                  {"list_mode": "resv", "immediate": False},
                  {"list_mode": "resv", "immediate": True},
                  {"list_mode": "spinlock", "immediate": True})
LISTS_ONLY = {"ExtobjAdd", "Evict", "Validate", "PutDeferred", "DeferredCleanup"}

vm_names = st.sampled_from(sorted(VMS))
gem_names = st.sampled_from(sorted(GEMS))
job_names = st.sampled_from(JOBS)
addrs = st.integers(0, 3) | st.just(4)
ranges = st.integers(1, 2) | st.sampled_from((0, 3))


def config(profile: str, list_mode: str = "spinlock", immediate: bool = False) -> dict[str, Any]:
    return {"vms": {v: list(r) for v, r in VMS.items()}, "gems": dict(GEMS), "jobs": list(JOBS),
            "profile": profile, "list_mode": list_mode, "immediate": immediate}


def expect(s: VmBoSystem, action: str, args: Mapping[str, Any]) -> str | None:
    """The errno ``action(args)`` must give on ``s``, from the rules of the seed and
    the front of model/vmbo.py's docstring, or ``None`` for success."""
    if action in LISTS_ONLY and s.profile.name != "upstream":
        return "EOPNOTSUPP"
    if action in ("PutDeferred", "DeferredCleanup") and not s.immediate:
        return "EOPNOTSUPP"
    vm = args.get("vm")
    if vm is not None:
        v = s.vms.get(vm)
        if v is None:
            return "ENOENT"
        if action == "DeferredCleanup" and v.freed:
            return "ENOENT"
        owned = action not in ("DeferredCleanup", "Put", "PutDeferred")  # the user's VM
        if owned and (v.freed or not v.user):
            return "ENOENT"
    if "gem" in args and args["gem"] not in s.gems:
        return "ENOENT"
    if "job" in args and args["job"] not in s.jobs:
        return "ENOENT"
    needs_handle = action in ("Map", "Put", "PutDeferred", "ExtobjAdd")
    if needs_handle and not any(h[0] == vm and h[1] == args["gem"] for h in s.jobs[args["job"]]):
        return "EINVAL"
    if action in ("Map", "Unmap"):
        start, size = VMS.get(vm or "", (0, 0))
        a, r = args["addr"], args["range"]
        if r <= 0 or a < start or a + r > start + size:
            return "EINVAL"
    return None


class VmBoMachine(SystemMachine):
    """The vm_bo system under one profile, against its invariants and contracts."""

    system_name = "vmbo"

    profile: ClassVar[str] = "upstream"
    serial: ClassVar[bool] = False
    #: drop the VM while things point at it (seed 003 then frees it under them: Y5)
    vm_put_any_time: ClassVar[bool] = True
    handles = Bundle("handles")

    def __init__(self) -> None:
        super().__init__()
        self.sys = VmBoSystem.from_config(config(self.profile))
        self.last: tuple[str, Args, dict[str, Any], Any, str | None] | None = None
        self.expected: str | None = None

    def setup(self, list_mode: str, immediate: bool) -> None:
        """Start with this list mode (what a printed program's first line calls)."""
        self.setup_args = (list_mode, immediate)
        self.sys = VmBoSystem.from_config(config(self.profile, list_mode, immediate))

    @initialize(mode=st.sampled_from(range(len(UPSTREAM_MODES))))
    def init_system(self, mode: int) -> None:
        m = UPSTREAM_MODES[mode] if self.profile == "upstream" else UPSTREAM_MODES[0]
        self._calls.append(f"state.setup({m['list_mode']!r}, {m['immediate']!r})")
        self.setup(str(m["list_mode"]), bool(m["immediate"]))

    # ---------------------------------------------------------------- rules

    def run_action(self, action: str, args: Args, thread: str | None) -> None:
        before = self.sys.abstract()
        self.expected = expect(self.sys, action, args)
        try:
            result = VOCABULARY.perform(self.sys, action, args)
        except GpuVmError as e:
            self.last = (action, args, before, None, e.errno_name)
            return
        self.last = (action, args, before, result, None)

    def _may_obtain(self, vm: str, gem: str) -> bool:
        if not self.serial:
            return True
        return not any(b.vm == vm and b.gem == gem and not b.listed and not b.freed
                       for b in self.sys.vmbos.values())

    @rule(target=handles, job=job_names, vm=vm_names, gem=gem_names, prealloc=st.booleans())
    def obtain(self, job: str, vm: str, gem: str, prealloc: bool) -> Any:
        if not self._may_obtain(vm, gem):
            return multiple()
        self.act("ObtainPrealloc" if prealloc else "Obtain", job=job, vm=vm, gem=gem)
        ok = self.last is not None and self.last[4] is None
        return (job, vm, gem) if ok else multiple()

    @rule(target=handles, job=job_names, vm=vm_names, gem=gem_names, addr=addrs,
          range_=ranges, shift=st.integers(0, 2))
    def bind(self, job: str, vm: str, gem: str, addr: int, range_: int, shift: int) -> Any:
        """What a bind ioctl does: obtain the vm_bo, then map with it."""
        if not self._may_obtain(vm, gem):
            return multiple()
        self.act("Obtain", job=job, vm=vm, gem=gem)
        if self.last is None or self.last[4] is not None:
            return multiple()
        self.act("Map", job=job, vm=vm, addr=addr, range=range_, gem=gem, offset=addr + shift)
        return (job, vm, gem)

    @rule(h=handles, addr=addrs, range_=ranges, shift=st.integers(0, 2))
    def map(self, h: tuple[str, str, str], addr: int, range_: int, shift: int) -> None:
        job, vm, gem = h
        self.act("Map", job=job, vm=vm, addr=addr, range=range_, gem=gem, offset=addr + shift)

    @rule(vm=vm_names, addr=addrs, range_=ranges)
    def unmap(self, vm: str, addr: int, range_: int) -> None:
        self.act("Unmap", vm=vm, addr=addr, range=range_)

    @rule(h=consumes(handles), deferred=st.booleans())
    def put(self, h: tuple[str, str, str], deferred: bool) -> None:
        job, vm, gem = h
        self.act("PutDeferred" if deferred and self.sys.immediate else "Put",
                 job=job, vm=vm, gem=gem)

    @rule(vm=vm_names, gem=gem_names)
    def unmap_ops_create(self, vm: str, gem: str) -> None:
        self.act("UnmapOpsCreate", vm=vm, gem=gem)

    @rule(h=handles)
    def extobj_add(self, h: tuple[str, str, str]) -> None:
        job, vm, gem = h
        self.act("ExtobjAdd", job=job, vm=vm, gem=gem)

    @rule(gem=gem_names, evict=st.booleans())
    def evict(self, gem: str, evict: bool) -> None:
        self.act("Evict", gem=gem, evict=evict)

    @rule(vm=vm_names)
    def validate(self, vm: str) -> None:
        self.act("Validate", vm=vm)

    @rule(vm=vm_names)
    def deferred_cleanup(self, vm: str) -> None:
        self.act("DeferredCleanup", vm=vm)

    @rule(vm=vm_names)
    def vm_put(self, vm: str) -> None:
        busy = len(self.sys.vms[vm].space) or any(b.vm == vm for b in self.sys.vmbos.values()
                                                  if not b.freed)
        if busy and not self.vm_put_any_time:
            return
        self.act("VmPut", vm=vm)

    @rule(job=job_names, vm=vm_names, gem=gem_names, addr=addrs)
    def bad_call(self, job: str, vm: str, gem: str, addr: int) -> None:
        """A request naming an unknown job, VM or GEM, or mapping without a handle."""
        which = addr % 3
        if which == 0:
            self.act("Obtain", job="nojob", vm=vm, gem=gem)
        elif which == 1:
            self.act("Map", job=job, vm="novm", addr=addr, range=1, gem=gem, offset=0)
        else:
            self.act("Put", job=job, vm=vm, gem="nogem")

    # ----------------------------------------------------------- invariants

    @invariant()
    def errno_inv(self) -> None:
        if self.last is None:
            return
        _action, _args, before, _, errno = self.last
        if errno != self.expected:
            raise self.fail("ErrnoInv", f"{'-' + errno if errno else 'success'}, expected "
                            f"{'-' + self.expected if self.expected else 'success'}")
        if errno is not None and self.sys.abstract() != before:
            raise self.fail("ErrnoInv", "the rejected step changed the state")

    @invariant()
    def c5_inv(self) -> None:
        try:
            check_vmbo(self.sys)
        except InvariantViolation as bad:
            raise self.fail(bad.invariant, bad.detail) from None

    @invariant()
    def step_inv(self) -> None:
        if self.last is None or self.last[4] is not None:
            return
        action, args, before, result, _ = self.last
        try:
            check_vmbo_step(before, action, args, result, self.sys.abstract())
        except InvariantViolation as bad:
            raise self.fail(bad.invariant, bad.detail) from None
        if action in ("Obtain", "ObtainPrealloc") and self.profile == "upstream":
            b = self.sys.vmbos[result]
            if not b.listed:
                raise self.fail("PublishInv", f"upstream obtain left {result} off the GEM's list")




class UpstreamMachine(VmBoMachine):
    profile = "upstream"


class UpstreamImmediateMachine(VmBoMachine):
    """Upstream in immediate mode with resv-protected lists only.

    The mode where a deferred put leaves a dying vm_bo (refcount 0) on the
    extobj and evict lists until ``DeferredCleanup``, so that the walkers
    must skip it -- drawn on its own so every example exercises it.
    """

    profile = "upstream"

    @initialize()
    def init_system(self) -> None:
        self._calls.append("state.setup('resv', True)")
        self.setup("resv", True)

    @rule(h=consumes(VmBoMachine.handles))
    def put(self, h: tuple[str, str, str]) -> None:
        """Every put is deferred."""
        job, vm, gem = h
        self.act("PutDeferred", job=job, vm=vm, gem=gem)

    @rule(gem=gem_names)
    def evict(self, gem: str) -> None:
        """Evictions only: Validate is what brings a GEM back."""
        self.act("Evict", gem=gem, evict=True)


class Rfc2023Machine(VmBoMachine):
    """Seed 003, every action but an early VmPut: finds the duplicate vm_bos of Y1."""

    profile = "rfc2023"
    vm_put_any_time = False


class Rfc2023SerialMachine(VmBoMachine):
    """Seed 003 used with the discipline that avoids Y1 and Y5: must pass."""

    profile = "rfc2023"
    serial = True
    vm_put_any_time = False


MACHINES = {
    "vmbo-upstream": UpstreamMachine,
    "vmbo-upstream-immediate": UpstreamImmediateMachine,
    "vmbo-rfc2023": Rfc2023Machine,
    "vmbo-rfc2023-serial": Rfc2023SerialMachine,
}


# ------------------------------------------------------------ random walks

def record_runs(n: int, seed: int, variant: str = "upstream-spinlock",
                steps: int = 10) -> list[Trace]:
    """``n`` recorded random walks of ``steps`` actions, for trace validation.

    ``variant``: ``upstream-spinlock``, ``upstream-resv``,
    ``upstream-immediate`` (resv mode, deferred puts and cleanups) or
    ``rfc2023`` (with the discipline of :class:`Rfc2023SerialMachine`, so the
    runs stay inside what the spec's invariants allow).
    """
    from checks.replay import recorder
    from checks.systems import get

    profile, _, mode = variant.partition("-")
    cfg = config(profile, "resv" if mode in ("resv", "immediate") else "spinlock",
                 mode == "immediate")
    rng = random.Random(seed)
    system = get("vmbo")
    actions = ["Obtain", "ObtainPrealloc", "Map", "Map", "Unmap", "Put", "UnmapOpsCreate"]
    if profile == "upstream":
        actions += ["ExtobjAdd", "Evict", "Validate", "VmPut"]
        if mode == "immediate":
            actions += ["PutDeferred", "DeferredCleanup"]
    traces = []
    for i in range(n):
        s = VmBoSystem.from_config(cfg)
        rec = recorder(system, s, source="random-walk")
        for _ in range(steps):
            action = rng.choice(actions)
            job, vm, gem = rng.choice(JOBS), rng.choice(sorted(VMS)), rng.choice(sorted(GEMS))
            held = [h for j in JOBS for h in s.jobs[j]]
            if action in ("Map", "Put", "PutDeferred", "ExtobjAdd") and held and rng.random() < 0.8:
                job = next(j for j in JOBS if s.jobs[j]) if rng.random() < 0.5 else job
                if s.jobs[job]:
                    vm, gem = s.jobs[job][0][0], s.jobs[job][0][1]
            if profile == "rfc2023" and action in ("Obtain", "ObtainPrealloc") and any(
                    b.vm == vm and b.gem == gem and not b.listed and not b.freed
                    for b in s.vmbos.values()):
                continue
            args: dict[str, Any]
            if action in ("Obtain", "ObtainPrealloc", "Put", "PutDeferred", "ExtobjAdd"):
                args = {"job": job, "vm": vm, "gem": gem}
            elif action == "Map":
                a = rng.randint(0, 3)
                args = {"job": job, "vm": vm, "addr": a, "range": rng.randint(1, 2),
                        "gem": gem, "offset": a + rng.randint(0, 1)}
            elif action == "Unmap":
                args = {"vm": vm, "addr": rng.randint(0, 3), "range": rng.randint(1, 2)}
            elif action == "UnmapOpsCreate":
                args = {"vm": vm, "gem": gem}
            elif action == "Evict":
                args = {"gem": gem, "evict": rng.random() < 0.6}
            else:
                args = {"vm": vm}
            with contextlib.suppress(GpuVmError):
                VOCABULARY.perform(s, action, args)
        rec.trace.description = f"random walk {i} of seed {seed} ({variant})"
        traces.append(rec.trace)
    return traces
