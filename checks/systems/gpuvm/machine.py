"""Stateful fuzzing of the VA space against a page-granular oracle.

:class:`VaSpaceMachine` drives one :class:`~model.vaspace.VaSpace` per
profile (``upstream`` and ``rfc2023``) with the same requests -- ``Map``,
``Unmap``, ``Prefetch`` through the system's vocabulary -- plus direct calls
of the API that no spec action reaches: the queries at their boundaries,
``remove()`` of a mapping that is not there, ``apply()`` of a malformed op
list, and ``apply()`` with a failure injected at every store update (remap
pieces included).  :class:`RegionsMachine` adds ``RegionAlloc`` and
``RegionFree`` in a VM with regions.  The requests come from
``checks.systems.gpuvm.domain``; what they must do from
``checks.systems.gpuvm.oracle``, which knows nothing of the model's code.

Invariants, checked after every step for each profile (named
``@invariant()`` methods):

``errno_inv``
    a request the oracle rejects raises the predicted errno, both profiles
    give the same errno, and ``abstract()`` is exactly as before;
``op_list_inv``
    :func:`~checks.systems.gpuvm.oracle.check_ops` (bound, targets, keep,
    pieces with their offsets and flags, the map, merges, prefetch, effect),
    and on a sample of steps the Z3 relation (``checks.z3step``);
``state_inv``
    no overlap, every mapping valid, inside one region when regions are on,
    the regions as the oracle has them;
``translation_inv``
    every page translates as the oracle says: ``(gem, offset, flags)``,
    sparse in a sparse region, or unmapped;
``gem_list_inv``
    each GEM's list holds exactly its mappings.

A failing run's shrunk example prints as a program of ``state.act(...)``
calls with real arguments, and becomes an ITF trace
(:meth:`~checks.machines.base.SystemMachine.failure_trace`).
:func:`record_runs` records seeded random walks over a small domain, with
the same request generator, for trace validation against the TLA+ spec.
"""

from __future__ import annotations

import contextlib
import random
from collections.abc import Callable, Sequence
from typing import Any, ClassVar, cast

import hypothesis.strategies as st
from hypothesis.stateful import initialize, invariant, precondition, rule

from checks.machines.base import Args, CheckFailed, SystemMachine, say
from checks.systems.gpuvm.domain import (
    LAYOUTS,
    RAW,
    BytesChooser,
    Domain,
    Layout,
    RandomChooser,
    Span,
    pick,
)
from checks.systems.gpuvm.oracle import Oracle, check_ops
from checks.traces import Trace
from model.errors import GpuVmError, InvalidArgument, InvariantViolation, NotFound, error_class
from model.gpuva import Va
from model.invariants import check_vaspace
from model.ops import Map, Op, Remap, Unmap
from model.store import SortedStore
from model.vaspace import SPARSE, VOCABULARY, VaSpace

PROFILE_NAMES = ("upstream", "rfc2023")


class InjectedFault(Exception):
    """The failure a :class:`FaultStore` raises once, where the machine armed it."""


class Injector:
    """Counts store updates down to one that fails (one-shot)."""

    def __init__(self) -> None:
        self.left: int | None = None
        self.updates = 0

    def tick(self) -> None:
        self.updates += 1
        if self.left is not None:
            self.left -= 1
            if self.left == 0:
                self.left = None
                raise InjectedFault(f"injected at store update {self.updates}")


class FaultStore(SortedStore[Any]):
    """The model's store, failing one update when the machine arms its injector."""

    def __init__(self, injector: Injector) -> None:
        super().__init__()
        self.injector = injector

    def insert(self, item: Any) -> None:
        self.injector.tick()
        super().insert(item)

    def remove(self, addr: int) -> Any:
        self.injector.tick()
        return super().remove(addr)


def z3_step_function() -> Callable[..., str | None]:
    """``checks.z3step.check_step``, imported on first use (it loads Z3)."""
    from checks.z3step import check_step

    return check_step


def perform(vm: VaSpace, action: str, args: Args) -> Any:
    """Run one spec action on ``vm`` through the vocabulary; ``GpuVmError`` propagates."""
    return VOCABULARY.perform(vm, action, args)


class VaSpaceMachine(SystemMachine):
    """Map/Unmap/Prefetch against both profiles and the page oracle."""

    regions_enabled: ClassVar[bool] = False
    #: check every n-th accepted Map/Unmap step with ``checks.z3step`` (0 = never)
    z3_every: ClassVar[int] = 0

    def __init__(self) -> None:
        super().__init__()
        self.injector = Injector()
        self._setup(LAYOUTS[0])
        self.stale: list[Va] = []
        self.z3_count = 0
        self.steps = 0

    # ------------------------------------------------------------ set-up

    def make_vm(self, layout: Layout, profile: str) -> VaSpace:
        injector = self.injector
        return VaSpace(layout.mm_start, layout.mm_range, layout.reserve_offset,
                       layout.reserve_range, profile=_profile(profile),
                       regions=self.regions_enabled, store=lambda: FaultStore(injector))

    def _setup(self, layout: Layout) -> None:
        self.layout = layout
        self.domain = Domain(layout)
        self.oracle = Oracle(layout, self.regions_enabled)
        self.vms = {p: self.make_vm(layout, p) for p in PROFILE_NAMES}
        #: per profile, what the last step did: (before, abstract before, ops or errno)
        self.last: dict[str, tuple[list[Va], dict[str, Any], list[Op] | str]] = {}
        self.expected: str | None = None
        self.last_action: tuple[str, Args] | None = None

    @initialize(layout=st.sampled_from(LAYOUTS))
    def init_vm(self, layout: Layout) -> None:
        say(f"VM {layout.name}: [{layout.mm_start:#x}, +{layout.mm_range}), kernel node "
             f"[{layout.reserve_offset:#x}, +{layout.reserve_range})")
        self._calls.append(f"state.setup({layout.name!r})")
        self.setup(layout.name)

    def setup(self, name: str) -> None:
        """Start in the VM layout ``name`` (what a printed program's first line calls)."""
        self.setup_args = (name,)
        self._setup(next(lay for lay in LAYOUTS if lay.name == name))

    # ------------------------------------------------------------- rules

    def _hints(self) -> list[Span]:
        vm = self.vms[PROFILE_NAMES[0]]
        hs = [(va.addr, va.range) for va in vm]
        if self.regions_enabled:
            hs.extend((r.addr, r.range) for r in vm.regions)
        return hs

    def _request(self, raw: bytes, action: str) -> Args:
        return self.domain.request(BytesChooser(raw), action, self._hints)

    @rule(raw=RAW)
    def map(self, raw: bytes) -> None:
        self.act("Map", **self._request(raw, "Map"))

    @rule(raw=RAW)
    def unmap(self, raw: bytes) -> None:
        self.act("Unmap", **self._request(raw, "Unmap"))

    @rule(raw=RAW)
    def prefetch(self, raw: bytes) -> None:
        self.act("Prefetch", **self._request(raw, "Prefetch"))

    def run_action(self, action: str, args: Args, thread: str | None) -> None:
        """Run one request on every profile; the invariants check what it did."""
        self.steps += 1
        self.last_action = (action, args)
        self.expected = self.oracle.expect(action, args)
        if self.expected is None:
            self.oracle.apply(action, args)
        self.last = {}
        for name, vm in self.vms.items():
            before = list(vm)
            before_abs = vm.abstract()
            try:
                ops = perform(vm, action, args)
            except GpuVmError as e:
                self.last[name] = (before, before_abs, e.errno_name)
                continue
            self.last[name] = (before, before_abs, list(ops))
            if action in ("Map", "Unmap"):
                self.stale.extend(op.va if isinstance(op, Unmap) else op.unmap.va
                                  for op in ops if isinstance(op, Unmap | Remap))
        del self.stale[:-16]

    @precondition(lambda self: any(len(vm) for vm in self.vms.values()))
    @rule(raw=RAW)
    def remove_stale(self, raw: bytes) -> None:
        """``remove()`` of a mapping that is not there: ``-ENOENT``, nothing changes."""
        live = [set(vm) for vm in self.vms.values()]
        cands = [va for va in self.stale if not any(va in s for s in live)]
        for va in self.vms[PROFILE_NAMES[0]]:
            other = "b" if va.gem == "a" else "a"
            for v in (Va(va.addr, va.range + 1, va.gem, va.offset, va.flags),
                      Va(va.addr, va.range, other, va.offset, va.flags),
                      Va(va.addr, va.range, va.gem, va.offset + 1, va.flags),
                      Va(va.addr, va.range, va.gem, va.offset, va.flags + 1)):
                if not any(v in s for s in live):
                    cands.append(v)
        if not cands:
            return
        va = cands[pick(BytesChooser(raw), len(cands))]
        self.direct(f"remove_absent({va!r})")
        self.remove_absent(va)

    def remove_absent(self, va: Va) -> None:
        """``remove(va)`` for a ``va`` no profile holds: ``-ENOENT`` and no change."""
        for name, vm in self.vms.items():
            before = vm.abstract()
            gems = {g: vm.gem_vas(g) for g in ("a", "b")}
            try:
                vm.remove(va)
            except NotFound:
                pass
            else:
                raise self.fail("ErrnoInv", f"[{name}] remove({va}) succeeded; that mapping "
                                "is not there")
            if vm.abstract() != before or {g: vm.gem_vas(g) for g in gems} != gems:
                raise self.fail("ErrnoInv", f"[{name}] the failed remove({va}) changed the "
                                f"state from {before} to {vm.abstract()}")

    @rule(raw=RAW)
    def apply_with_fault(self, raw: bytes) -> None:
        """``apply()`` of a request's op list with a failure at one store update."""
        c = BytesChooser(raw)
        action = ("Map", "Unmap")[pick(c, 2)]
        args = self.domain.request(c, action, self._hints)
        vm = self.vms[PROFILE_NAMES[pick(c, 2)]]
        try:
            ops = (vm.sm_map(**_py(args)) if action == "Map"
                   else vm.sm_unmap(**_py(args)))
        except GpuVmError:
            return
        updates = sum(1 + int(op.prev is not None) + int(op.next is not None)
                      if isinstance(op, Remap) else 1 for op in ops)
        if not updates:
            return
        at = 1 + pick(c, updates)
        self.direct(f"apply_failing({vm.profile.name!r}, {ops!r}, at={at})")
        self.apply_failing(vm.profile.name, ops, at)

    def apply_failing(self, profile: str, ops: Sequence[Op], at: int) -> None:
        """``apply(ops)`` on ``profile``'s VM with the ``at``-th store update failing:
        all or nothing."""
        vm = self.vms[profile]
        before = vm.abstract()
        gems = {g: vm.gem_vas(g) for g in ("a", "b")}
        self.injector.left = at
        try:
            vm.apply(ops)
        except InjectedFault:
            pass
        else:
            self.injector.left = None
            raise self.fail("ApplyAtomicInv", f"apply() of {list(ops)} did not reach store "
                            f"update {at}")
        if vm.abstract() != before:
            raise self.fail("ApplyAtomicInv", f"apply() failing at store update {at} left "
                            f"{vm.abstract()['vas']}, not {before['vas']}")
        if {g: vm.gem_vas(g) for g in gems} != gems:
            raise self.fail("ApplyAtomicInv", f"apply() failing at store update {at} changed "
                            f"the GEM lists from {gems}")

    @rule(raw=RAW)
    def apply_malformed(self, raw: bytes) -> None:
        """``apply()`` of an op list with one non-op in it: ``-EINVAL``, no change."""
        c = BytesChooser(raw)
        vm = self.vms[PROFILE_NAMES[pick(c, 2)]]
        try:
            ops: list[Any] = vm.sm_map(**_py(self.domain.request(c, "Map", self._hints)))
        except GpuVmError:
            return
        junk: tuple[Any, ...] = (("map", 0, 1), None, Unmap(cast(Va, "va"), False),
                                 Remap(Unmap(Va(0, 1)), cast(Map, "p"), None))
        ops.insert(pick(c, len(ops) + 1), junk[pick(c, len(junk))])
        self.direct(f"apply_malformed_ops({vm.profile.name!r}, {ops!r})")
        self.apply_malformed_ops(vm.profile.name, ops)

    def apply_malformed_ops(self, profile: str, ops: list[Any]) -> None:
        """``apply(ops)`` on ``profile``'s VM, ``ops`` holding a non-op: ``-EINVAL``,
        no change."""
        vm = self.vms[profile]
        before = vm.abstract()
        try:
            vm.apply(ops)
        except InvalidArgument:
            pass
        else:
            raise self.fail("ApplyAtomicInv", f"apply() accepted the malformed {ops}")
        if vm.abstract() != before:
            raise self.fail("ApplyAtomicInv", "a malformed op list changed the state")

    @rule(raw=RAW)
    def query(self, raw: bytes) -> None:
        """One of the lookups at a boundary, against the mapping list."""
        c = BytesChooser(raw)
        vm = self.vms[PROFILE_NAMES[pick(c, 2)]]
        lay = self.layout
        edges = [lay.mm_start, lay.mm_end, lay.reserve_offset, lay.reserve_end]
        for va in vm:
            edges += [va.addr, va.end]
        x = edges[pick(c, len(edges))] + (-1, 0, 1)[pick(c, 3)]
        what = ("find", "find_first", "find_prev", "find_next", "lookup", "iter_range",
                "translate")[pick(c, 7)]
        r = (1, 2, 3)[pick(c, 3)]
        self.direct(f"check_query({vm.profile.name!r}, {what!r}, {x}, {r})")
        self.check_query(vm.profile.name, what, x, r)

    def check_query(self, profile: str, what: str, x: int, r: int) -> None:
        """Compare one lookup on ``profile``'s VM with what the mapping list and the
        oracle say."""
        vm = self.vms[profile]
        nodes = self.oracle.nodes(list(vm))
        user = [va for va in nodes if va in set(vm)]
        k = next((n for n in nodes if n not in user), None)

        def first(pred: Callable[[Va], bool], among: Sequence[Va] = nodes) -> Va | None:
            return next((va for va in among if pred(va)), None)

        def request_ok(a: int) -> bool:  # an address a request could hold
            return self.oracle.range_ok(a, 1)

        if what == "find":
            got, want = vm.find(x, r), first(lambda va: va.addr == x and va.range == r)
        elif what == "find_first":
            got, want = vm.find_first(x, r), first(lambda va: va.overlaps(x, x + r))
        elif what == "find_prev":
            got = vm.find_prev(x)
            want = first(lambda va: va.end == x, user) if request_ok(x - 1) else None
        elif what == "find_next":
            got = vm.find_next(x)
            want = first(lambda va: va.addr == x, user) if request_ok(x) else None
        elif what == "lookup":
            got, want = vm.lookup(x), first(lambda va: va.addr <= x < va.end)
        elif what == "iter_range":
            got_l, want_l = list(vm.iter_range(x, r)), [va for va in nodes if va.overlaps(x, x + r)]
            if got_l != want_l:
                raise self.fail("FindInv", f"iter_range({x:#x}, {r}) = {got_l}, the nodes "
                                f"met are {want_l}")
            return
        else:
            t = vm.translate(x)
            want_t = self.oracle.translation(x)
            if k is not None and k.addr <= x < k.end:
                want_t = None
            if t != (SPARSE if want_t == "sparse" else want_t):
                raise self.fail("TranslationInv", f"translate({x:#x}) = {t}, the oracle says "
                                f"{want_t}")
            return
        if got != want:
            call = f"{what}({x:#x})" if what in ("find_prev", "find_next", "lookup") else (
                f"{what}({x:#x}, {r})")
            raise self.fail("FindInv", f"{call} = {got}, the mapping list says {want}")

    # -------------------------------------------------------- invariants

    @invariant()
    def errno_inv(self) -> None:
        if self.last_action is None:
            return
        _action, _args = self.last_action
        errnos = {}
        for name, vm in self.vms.items():
            _, before_abs, got = self.last[name]
            errnos[name] = got if isinstance(got, str) else "OK"
            want = self.expected
            if isinstance(got, str):
                if want is None or error_class(got) is not error_class(want):
                    raise self.fail("ErrnoInv", f"[{name}] -{got}, expected "
                                    f"{'success' if want is None else '-' + want}")
                if vm.abstract() != before_abs:
                    raise self.fail("ErrnoInv", f"[{name}] the rejected request changed the "
                                    f"state from {before_abs} to {vm.abstract()}")
            elif want is not None:
                raise self.fail("ErrnoInv", f"[{name}] accepted with ops {got}, expected "
                                f"-{want}")
        if len(set(errnos.values())) > 1:
            raise self.fail("ErrnoInv", f"the profiles disagree: {errnos}")

    @invariant()
    def op_list_inv(self) -> None:
        if self.last_action is None:
            return
        action, args = self.last_action
        z3_now = False
        if self.z3_every > 0 and self.expected is None and action in ("Map", "Unmap"):
            self.z3_count += 1
            z3_now = self.z3_count % self.z3_every == 0
        for name, vm in self.vms.items():
            before, _, got = self.last[name]
            if isinstance(got, str):
                continue
            try:
                check_ops(name, action, args, before, got, list(vm), self.layout)
            except CheckFailed as bad:
                raise self.fail(bad.invariant, f"[{name}] {bad.detail}") from None
            if z3_now:
                answer = z3_step_function()(name, before, action, dict(args), list(got),
                                            regions=vm.regions if vm.regions_enabled else None)
                if answer is not None:
                    raise self.fail("Z3StepInv", f"[{name}] ops {got}: {answer}")

    @invariant()
    def state_inv(self) -> None:
        for name, vm in self.vms.items():
            try:
                check_vaspace(vm)
            except InvariantViolation as bad:
                raise self.fail(bad.invariant, f"[{name}] {bad.detail}") from None
            if self.regions_enabled:
                got = [(r.addr, r.range, r.sparse) for r in vm.regions]
                if got != self.oracle.regions:
                    raise self.fail("RegionInv", f"[{name}] regions {got}, the oracle has "
                                    f"{self.oracle.regions}")

    @invariant()
    def translation_inv(self) -> None:
        pages = self.oracle.pages
        for name, vm in self.vms.items():
            n = 0
            for va in vm:
                for i in range(va.range):
                    got = (va.gem, (va.offset + i) % (1 << 64), va.flags)
                    if pages.get(va.addr + i) != got:
                        raise self.fail("TranslationInv", f"[{name}] page {va.addr + i:#x} "
                                        f"maps to {got} through {va}, the oracle says "
                                        f"{pages.get(va.addr + i)}")
                n += va.range
            if n != len(pages):
                lost = sorted(p for p in pages if vm.lookup(p) is None)
                raise self.fail("TranslationInv", f"[{name}] page {lost[0]:#x} should map to "
                                f"{pages[lost[0]]} but is unmapped" if lost else
                                f"[{name}] {n} pages mapped, the oracle has {len(pages)}")

    @invariant()
    def gem_list_inv(self) -> None:
        for name, vm in self.vms.items():
            vas = list(vm)
            for g in ("a", "b"):
                want = sorted(va for va in vas if va.gem == g)
                if sorted(vm.gem_vas(g)) != want:
                    raise self.fail("GemListInv", f"[{name}] GEM {g}'s list is "
                                    f"{vm.gem_vas(g)}, its mappings are {want}")

    # -------------------------------------------------------------- traces

    def fail(self, invariant: str, detail: str) -> CheckFailed:
        for name in PROFILE_NAMES:  # the trace is of the profile that failed
            if detail.startswith(f"[{name}]"):
                self.failing = name
        return super().fail(invariant, detail)

    def fresh_component(self) -> VaSpace:
        return self.make_vm(self.layout, getattr(self, "failing", PROFILE_NAMES[0]))

    def recorder_for(self, component: Any) -> Any:
        from checks.replay import recorder
        from checks.systems import get

        return recorder(get("gpuvm"), component)

    def perform(self, component: Any, action: str, args: Args) -> Any:
        return perform(component, action, args)


def _profile(name: str) -> Any:
    from model.profiles import profile_by_name

    return profile_by_name(name)


def _py(args: Args) -> dict[str, Any]:
    """A request's arguments as ``sm_map``'s keyword arguments."""
    return {("range_" if k == "range" else k): v for k, v in args.items()}


class RegionsMachine(VaSpaceMachine):
    """The same, in a VM with regions: mappings only inside one region."""

    regions_enabled: ClassVar[bool] = True

    @initialize(layout=st.sampled_from(LAYOUTS), regions=st.integers(0, 3))
    def init_vm(self, layout: Layout, regions: int) -> None:
        say(f"VM {layout.name} with regions; {regions} region(s) of 4 pages to start")
        self._calls.append(f"state.setup({layout.name!r})")
        self.setup(layout.name)
        for a, r in layout.chunks(4)[:regions]:
            self.act("RegionAlloc", addr=a, range=r, sparse=bool(a % 8))

    def _request(self, raw: bytes, action: str) -> Args:
        regions = self.vms[PROFILE_NAMES[0]].regions
        c = BytesChooser(raw)
        if action != "Map" or not regions or not pick(c, 4):
            return super()._request(raw, action)
        # mostly a map inside one region, so that maps are not all rejected
        reg = regions[pick(c, len(regions))]
        start = reg.addr + c.integer(0, reg.range - 1)
        return {"addr": start, "range": c.integer(1, reg.end - start),
                "gem": self.domain.gem(c), "offset": self.domain.offset(c, start),
                "flags": self.domain.flags_value(c)}

    @rule(raw=RAW)
    def region_alloc(self, raw: bytes) -> None:
        self.act("RegionAlloc", **self._request(raw, "RegionAlloc"))

    @rule(raw=RAW)
    def region_free(self, raw: bytes) -> None:
        vm = self.vms[PROFILE_NAMES[0]]
        spans = [(r.addr, r.range) for r in vm.regions]
        c = BytesChooser(raw)
        if spans and pick(c, 4):
            a, r = spans[pick(c, len(spans))]
        else:
            a, r = self.domain.span(c, self._hints)
        self.act("RegionFree", addr=a, range=r)


# ------------------------------------------------------------ random walks

RUN_ACTIONS = ("Map", "Unmap", "Prefetch")


def record_runs(n: int, seed: int, variant: str = "upstream", pages: int = 6,
                steps: int = 8, max_offset: int = 3) -> list[Trace]:
    """``n`` recorded random walks of ``steps`` requests each, over a small domain.

    ``variant`` is a profile name, optionally with ``-regions``: then the VM
    has regions (two of three pages, one sparse, allocated first) and the
    walks allocate and free regions too.  The VM is ``[0, pages)`` with no
    kernel node; every request has ``addr`` and ``range`` in ``0..pages``
    (so some are rejected), GEM ``a`` or ``b``, an offset that half the time
    keeps the base of the others (so keeps and merges happen) and flags 0 or
    1.  The requests come from the machines' generator driven by
    ``random.Random(seed)``: the same arguments give the same traces.
    """
    from checks.replay import recorder
    from checks.systems import get

    profile, _, regions = variant.partition("-")
    layout = Layout("small", 0, pages)
    dom = Domain(layout, gems=("a", "b"), max_offset=max_offset, bounded=True, flags=(0, 1))
    c = RandomChooser(random.Random(seed))
    actions = RUN_ACTIONS + (("RegionAlloc", "RegionFree") if regions else ())
    system = get("gpuvm")
    traces = []
    for i in range(n):
        vm = VaSpace(0, pages, profile=_profile(profile), regions=bool(regions))
        rec = recorder(system, vm, source="random-walk")
        if regions:
            perform(vm, "RegionAlloc", {"addr": 0, "range": pages // 2, "sparse": False})
            perform(vm, "RegionAlloc", {"addr": pages // 2, "range": pages - pages // 2,
                                        "sparse": True})

        def hints(vm: VaSpace = vm) -> list[Span]:
            return [(va.addr, va.range) for va in vm]

        for _ in range(steps):
            action = dom.action(c, actions)
            args = dom.request(c, action, hints)
            if action == "RegionFree" and vm.regions and pick(c, 2):
                r = vm.regions[pick(c, len(vm.regions))]
                args = {"addr": r.addr, "range": r.range}
            with contextlib.suppress(GpuVmError):
                perform(vm, action, args)
        rec.trace.description = f"random walk {i} of seed {seed} ({variant})"
        traces.append(rec.trace)
    return traces
