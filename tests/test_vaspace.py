"""Unit tests of the VA space: queries, validation, errno, atomicity."""

from __future__ import annotations

import copy

import pytest

from model import (
    AlreadyExists,
    Busy,
    GpuVmError,
    InvalidArgument,
    Map,
    NotFound,
    Prefetch,
    Remap,
    Rfc2023,
    Unmap,
    Upstream,
    Va,
    VaSpace,
)
from model.errors import InvariantViolation
from model.gpuva import U64_MAX
from model.invariants import check_vaspace
from model.ops import Op, check_op_bounds
from model.store import SortedStore
from model.vaspace import SPARSE


def vm_with(*vas: Va, **kw: object) -> VaSpace:
    vm = VaSpace(0, 100, 90, 10, **kw)  # type: ignore[arg-type]
    for va in vas:
        vm.insert(va)
    return vm


def snapshot(vm: VaSpace) -> object:
    return copy.deepcopy((vm.abstract(), vm.regions, {g: vm.gem_vas(g) for g in "abc"}))


A = Va(10, 10, "a", 0)
B = Va(20, 5, "b", 7)
C = Va(40, 10, None, 0)


def test_queries() -> None:
    vm = vm_with(A, B, C)
    assert vm.find_first(0, 100) == A
    assert vm.find_first(21, 100) == B
    assert vm.find(10, 10) == A
    assert vm.find(11, 10) is None  # range alone must not match
    assert vm.find(10, 9) is None
    assert vm.find_prev(20) == A and vm.find_prev(25) == B
    assert vm.find_prev(26) is None  # a gap: not adjacent
    assert vm.find_prev(0) is None
    assert vm.find_next(20) == B and vm.find_next(19) is None
    assert list(vm.iter_range(15, 30)) == [A, B, C]
    assert list(vm.iter_range(25, 15)) == []
    assert vm.lookup(24) == B and vm.lookup(25) is None
    assert vm.translate(12) == ("a", 2, 0) and vm.translate(22) == ("b", 9, 0)
    assert vm.translate(45) == (None, 5, 0) and vm.translate(30) is None
    assert vm.gem_vas("a") == [A] and vm.gem_vas("zz") == []


def test_the_kernel_node_is_a_node_that_lookups_return() -> None:
    vm = vm_with(A)
    k = Va(90, 10)
    assert vm.kernel_node == k
    assert vm.find(90, 10) == k and vm.find(90, 9) is None
    assert vm.find_first(85, 10) == k
    assert vm.lookup(95) == k and vm.translate(95) is None
    assert list(vm.iter_range(0, 100)) == [A, k]
    assert list(vm) == [A] and len(vm) == 1 and vm.abstract()["vas"] == [A.to_json()]
    # find_prev/find_next ask about an address a request could hold: never the node
    assert vm.find_prev(100) is None and vm.find_next(89) is None
    with pytest.raises(NotFound):
        vm.remove(k)


def test_prefetch_validates_nothing_and_may_name_the_kernel_node() -> None:
    vm = vm_with(A)
    k = Va(90, 10)
    assert vm.prefetch(85, 10) == [Prefetch(k)]
    assert vm.prefetch(0, 1000) == [Prefetch(A), Prefetch(k)]  # past the VM: no EINVAL
    assert vm.prefetch(15, 0) == []
    assert vm.prefetch(15, U64_MAX) == []  # the end wraps to 14: below the start
    with pytest.raises(InvalidArgument):
        vm.prefetch(-1, 2)  # not a u64 at all


def test_offsets_are_the_drivers_business_and_pieces_wrap() -> None:
    vm = VaSpace(0, 100)
    top = U64_MAX - 1
    ops = vm.map(10, 10, "a", top)  # offset + range is past 2^64: accepted
    assert ops == [Map(10, 10, "a", top)]
    ops = vm.map(12, 2, "b", 0)
    assert ops[0] == Remap(Unmap(Va(10, 10, "a", top)), Map(10, 2, "a", top),
                           Map(14, 6, "a", 2))  # top + 4 wraps to 2
    assert vm.translate(11) == ("a", U64_MAX, 0) and vm.translate(15) == ("a", 3, 0)


def test_split_pieces_keep_their_flags() -> None:
    for profile in (Upstream(), Rfc2023()):
        vm = VaSpace(0, 100, profile=profile)
        vm.map(0, 6, "a", 0, flags=3)
        vm.map(2, 2, "b", 0, flags=1)
        assert list(vm) == [Va(0, 2, "a", 0, 3), Va(2, 2, "b", 0, 1), Va(4, 2, "a", 4, 3)]


def test_upstream_keep_ignores_flags() -> None:
    vm = vm_with(Va(0, 4, "a", 0, 1))
    ops = vm.map(0, 4, "a", 0, flags=2)
    assert ops == [Unmap(Va(0, 4, "a", 0, 1), True), Map(0, 4, "a", 0, 2)]


def test_rfc2023_compares_flags_for_no_ops_and_merges() -> None:
    vm = vm_with(Va(0, 4, "a", 0, 1), profile=Rfc2023())
    assert vm.map(1, 2, "a", 1, flags=1) == []  # covered, same flags: nothing to do
    ops = vm.map(1, 2, "a", 1, flags=2)  # other flags: split, not a no-op
    assert ops[0] == Remap(Unmap(Va(0, 4, "a", 0, 1)), Map(0, 1, "a", 0, 1), Map(3, 1, "a", 3, 1))
    vm = vm_with(Va(0, 2, "a", 0, 1), profile=Rfc2023())
    assert vm.map(2, 2, "a", 2, flags=2) == [Map(2, 2, "a", 2, 2)]  # no merge across flags
    assert vm.map(4, 2, "a", 4, flags=2) == [Unmap(Va(2, 2, "a", 2, 2), True),
                                             Map(2, 4, "a", 2, 2)]


def test_gem_lists_are_in_link_order() -> None:
    vm = VaSpace(0, 100)
    vm.map(50, 2, "a", 0)
    vm.map(10, 2, "a", 0)
    assert vm.gem_vas("a") == [Va(50, 2, "a", 0), Va(10, 2, "a", 0)]
    assert vm.gem_unmap_ops("a") == [Unmap(Va(50, 2, "a", 0)), Unmap(Va(10, 2, "a", 0))]


def test_unmapped_pages_of_a_sparse_region_read_as_sparse() -> None:
    vm = VaSpace(0, 100, regions=True)
    vm.region_alloc(0, 10, sparse=True)
    vm.region_alloc(10, 10)
    vm.map(2, 2, "a", 0)
    assert vm.translate(2) == ("a", 0, 0)
    assert vm.translate(5) == SPARSE and vm.translate(15) is None
    vm.unmap(2, 2)
    assert vm.translate(2) == SPARSE


def test_config_and_restore_round_trip() -> None:
    vm = vm_with(A, B, C, profile=Rfc2023())
    other = VaSpace.from_config(vm.config())
    other.restore(vm.abstract())
    assert other.abstract() == vm.abstract() and other.config() == vm.config()
    before = other.abstract()
    with pytest.raises(AlreadyExists):
        other.restore({"vas": [A.to_json(), Va(15, 2, "b", 0).to_json()]})
    with pytest.raises(InvalidArgument):
        other.restore({"vas": [[1, 2, "a", 0]]})  # a 4-tuple: not a mapping
    with pytest.raises(InvalidArgument):
        other.restore({"vas": [], "regions": []})  # regions are off
    assert other.abstract() == before
    for bad in ({"mm_start": 0}, {"mm_start": 0, "mm_range": True}, {"mm_start": 0, "mm_range": 4,
                                                                     "colour": 1}):
        with pytest.raises(InvalidArgument):
            VaSpace.from_config(bad)


@pytest.mark.parametrize(
    ("addr", "range_", "error"),
    [
        (0, 0, InvalidArgument),  # empty
        (99, 2, InvalidArgument),  # past the VM's end
        (85, 6, InvalidArgument),  # touches the kernel node
        (90, 1, InvalidArgument),  # inside the kernel node
        (U64_MAX, 1, InvalidArgument),  # wraps
        (1 << 64, 1, InvalidArgument),  # not u64
        (-1, 2, InvalidArgument),
        (15, 2, AlreadyExists),  # overlaps A
        (19, 2, AlreadyExists),  # overlaps A and B
    ],
)
def test_insert_rejects_and_leaves_state(addr: int, range_: int,
                                         error: type[GpuVmError]) -> None:
    vm = vm_with(A, B)
    before = snapshot(vm)
    with pytest.raises(error) as exc:
        vm.insert(Va(addr, range_, "c", 0))
    assert exc.value.errno_name == error.errno_name
    assert snapshot(vm) == before


def test_errno_values() -> None:
    import errno

    assert InvalidArgument("x").errno == errno.EINVAL
    assert AlreadyExists("x").errno == errno.EEXIST
    assert NotFound("x").errno == errno.ENOENT
    assert Busy("x").errno == errno.EBUSY
    assert str(InvalidArgument("bad")) == "-EINVAL: bad"


def test_vm_at_the_top_of_u64() -> None:
    vm = VaSpace(U64_MAX - 15, 15)
    vm.insert(Va(U64_MAX - 2, 2, "a", 0))
    with pytest.raises(InvalidArgument):
        vm.insert(Va(U64_MAX - 1, 2, "a", 0))
    with pytest.raises(InvalidArgument):
        VaSpace(U64_MAX - 15, 16)  # the VM itself would wrap
    with pytest.raises(InvalidArgument):
        vm.map(U64_MAX - 4, 2, "a", U64_MAX + 1)  # the offset is not a u64


def test_remove_is_by_identity() -> None:
    vm = vm_with(A)
    with pytest.raises(NotFound):
        vm.remove(Va(10, 10, "a", 1))  # same address, other mapping
    vm.remove(A)
    with pytest.raises(NotFound):
        vm.remove(A)  # double remove
    assert len(vm) == 0 and vm.gem_vas("a") == []


def test_inserts_of_disjoint_ranges_commute() -> None:
    hi, lo = Va(0xC0000, 0x40000, "a", 0), Va(0, 0xC0000, "b", 0)
    for order in ((hi, lo), (lo, hi)):
        vm = VaSpace(0, 1 << 20)
        for va in order:
            vm.insert(va)
        assert list(vm) == [lo, hi]


def test_sm_unmap_splits_with_none_on_the_aligned_side() -> None:
    vm = vm_with(A, B)
    ops = vm.sm_unmap(15, 7)
    assert ops == [
        Remap(Unmap(A), Map(10, 5, "a", 0), None),
        Remap(Unmap(B), None, Map(22, 3, "b", 9)),
    ]
    assert vm.sm_unmap(12, 2) == [Remap(Unmap(A), Map(10, 2, "a", 0), Map(14, 6, "a", 4))]
    assert vm.sm_unmap(0, 80) == [Unmap(A), Unmap(B)]
    assert vm.sm_unmap(50, 10) == []


def test_unmap_action() -> None:
    vm = vm_with(A, B)
    vm.unmap(15, 7)
    assert list(vm) == [Va(10, 5, "a", 0), Va(22, 3, "b", 9)]
    check_vaspace(vm)


def test_prefetch_is_whole_mappings_and_changes_nothing() -> None:
    vm = vm_with(A, B)
    before = snapshot(vm)
    assert vm.prefetch(15, 6) == [Prefetch(A), Prefetch(B)]
    assert snapshot(vm) == before


def test_apply_is_all_or_nothing() -> None:
    vm = vm_with(A, B)
    before = snapshot(vm)
    stale: list[Op] = [Unmap(A), Map(10, 10, "c", 0), Unmap(Va(60, 1, "a", 0))]
    with pytest.raises(NotFound):
        vm.apply(stale)
    assert snapshot(vm) == before
    with pytest.raises(AlreadyExists):
        vm.apply([Unmap(A), Map(10, 11, "c", 0)])  # overlaps B
    assert snapshot(vm) == before


class _Boom(Exception):
    pass


class _FailingStore(SortedStore[Va]):
    """Fails the n-th insert or remove (once): what an allocation failure would be."""

    left = -1

    def _tick(self) -> None:
        _FailingStore.left -= 1
        if _FailingStore.left == 0:
            raise _Boom()

    def insert(self, item: Va) -> None:
        self._tick()
        super().insert(item)

    def remove(self, addr: int) -> Va:
        self._tick()
        return super().remove(addr)


@pytest.mark.parametrize("at", range(1, 5))
def test_apply_is_all_or_nothing_for_any_exception_at_any_op(at: int) -> None:
    vm = VaSpace(0, 100, store=_FailingStore)
    vm.map(50, 2, "b", 0)
    vm.map(10, 10, "a", 0)
    vm.map(30, 2, "a", 0)
    ops = vm.sm_map(12, 20, "c", 0)  # remap a (two updates), unmap a@30, map c: four
    before = snapshot(vm)
    order = vm.gem_vas("a")
    _FailingStore.left = at
    with pytest.raises(_Boom):
        vm.apply(ops)
    _FailingStore.left = -1
    assert snapshot(vm) == before and vm.gem_vas("a") == order


def test_apply_checks_every_op_before_changing_anything() -> None:
    vm = vm_with(A, B)
    before = snapshot(vm)
    bad: list[object] = [Unmap(A), ("map", 0, 1)]
    with pytest.raises(InvalidArgument):
        vm.apply(bad)  # type: ignore[arg-type]
    with pytest.raises(InvalidArgument):
        vm.apply([Unmap(A), Remap(Unmap(B), "piece", None)])  # type: ignore[arg-type]
    assert snapshot(vm) == before


@pytest.mark.parametrize("profile", [Upstream(), Rfc2023()])
def test_map_rejects_and_leaves_state(profile: Upstream | Rfc2023) -> None:
    vm = vm_with(A, B, profile=profile)
    before = snapshot(vm)
    for args in [(0, 0, "a", 0), (95, 10, "a", 0), (85, 10, "a", 0), (U64_MAX, 2, "a", 0)]:
        with pytest.raises(InvalidArgument):
            vm.map(*args)
        assert snapshot(vm) == before


def test_rfc2023_merge_neighbours_and_null_gem_never_merges() -> None:
    vm = vm_with(Va(0, 2, "a", 100), Va(4, 2, "a", 104), profile=Rfc2023())
    ops = vm.map(2, 2, "a", 102)
    assert ops[-1] == Map(0, 6, "a", 100)
    assert list(vm) == [Va(0, 6, "a", 100)]
    vm = vm_with(Va(0, 2, None, 0), profile=Rfc2023())
    assert vm.map(2, 2, None, 2) == [Map(2, 2, None, 2)]
    assert vm.map(0, 2, None, 0) == [Unmap(Va(0, 2, None, 0)), Map(0, 2, None, 0)]


def test_rfc2023_never_merges_left_across_a_gap() -> None:
    vm = vm_with(Va(0, 2, "a", 100), profile=Rfc2023())
    assert vm.map(3, 2, "a", 103) == [Map(3, 2, "a", 103)]


def test_rfc2023_request_from_a_gap_over_two_mappings_does_not_merge_left() -> None:
    # the seed's asymmetry: the left merge looks only at the last overlap walked
    vm = vm_with(Va(0, 2, "a", 100), Va(3, 1, "b", 0), Va(5, 1, "b", 0), profile=Rfc2023())
    ops = vm.map(2, 4, "a", 102)
    assert ops[-1] == Map(2, 4, "a", 102)
    assert Va(0, 2, "a", 100) in list(vm)


def test_regions() -> None:
    vm = VaSpace(0, 100, 90, 10, regions=True, profile=Rfc2023())
    with pytest.raises(InvalidArgument):
        vm.map(0, 2, "a", 0)  # no region
    vm.region_alloc(0, 10)
    vm.region_alloc(10, 10, sparse=True)
    with pytest.raises(AlreadyExists):
        vm.region_alloc(5, 10)
    with pytest.raises(InvalidArgument):
        vm.region_alloc(85, 10)  # touches the kernel node
    with pytest.raises(InvalidArgument):
        vm.map(8, 4, "a", 0)  # crosses a region boundary
    vm.map(6, 4, "a", 6)
    vm.map(10, 2, "a", 10)  # compatible neighbour in the other region: no merge
    assert list(vm) == [Va(6, 4, "a", 6), Va(10, 2, "a", 10)]
    with pytest.raises(Busy):
        vm.region_free(0, 10)
    with pytest.raises(NotFound):
        vm.region_free(5, 10)  # a region of that size exists, but not at 5
    vm.unmap(0, 20)  # unmap may cross regions
    vm.region_free(0, 10)
    assert [r.addr for r in vm.regions] == [10]
    check_vaspace(vm)
    plain = VaSpace(0, 10)
    with pytest.raises(InvalidArgument):
        plain.region_alloc(0, 1)


def test_op_bounds_are_enforced() -> None:
    m = Map(0, 1, "a", 0)
    check_op_bounds([Unmap(A), Unmap(B), m])
    with pytest.raises(InvariantViolation, match="OpBoundInv"):
        check_op_bounds([m, Unmap(A)])
    with pytest.raises(InvariantViolation, match="OpBoundInv"):
        check_op_bounds([m, m])
    r = Remap(Unmap(A), m, None)
    with pytest.raises(InvariantViolation, match="OpBoundInv"):
        check_op_bounds([r, r, r])
    with pytest.raises(InvariantViolation, match="OpBoundInv"):
        check_op_bounds([Remap(Unmap(A), Map(10, 0, "a", 0), m)])
    with pytest.raises(InvariantViolation, match="OpBoundInv"):
        check_op_bounds([Remap(Unmap(A), None, None)])


def test_invariant_checker_bites() -> None:
    vm = vm_with(A)
    vm._link(Va(15, 10, "b", 0))  # corrupt on purpose, past the API
    with pytest.raises(InvariantViolation, match="NoOverlapInv"):
        check_vaspace(vm)
