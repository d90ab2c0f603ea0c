"""The per-step check: one concrete Map/Unmap step against the Z3 relation."""

from __future__ import annotations

import random
from dataclasses import replace

import pytest

from checks.z3step import apply_ops, check_step, spec_ops
from model import GpuVmError, Map, Op, Region, Remap, Unmap, Va, VaSpace, profile_by_name
from model.gpuva import U64_MAX
from specs.z3.splitmerge import VARIANTS

CONFIG = {"mm_start": 0, "mm_range": 64, "reserve_offset": 60, "reserve_range": 4}


Step = tuple[list[Va], str, dict[str, object], list[Op], str | None, list[Region]]


def _random_steps(profile: str, seed: int, regions: bool = False, n: int = 12,
                  runs: int = 40) -> list[Step]:
    rnd = random.Random(seed)
    steps: list[Step] = []
    for _ in range(runs):
        vm = VaSpace(0, 64, 60, 4, profile=profile_by_name(profile), regions=regions)
        if regions:
            for a, r in ((0, 16), (16, 8), (24, 20)):
                vm.region_alloc(a, r)
        for _ in range(n):
            before, held = list(vm), vm.regions
            addr, range_ = rnd.randrange(0, 62), rnd.randrange(1, 9)
            args: dict[str, object]
            ops: list[Op]
            err: str | None
            action = "Map" if rnd.random() < 0.7 else "Unmap"
            try:
                if action == "Map":
                    gem = rnd.choice(["a", "b", None])
                    off = rnd.randrange(0, 6)
                    args = {"addr": addr, "range": range_, "gem": gem, "offset": off}
                    ops, err = vm.map(addr, range_, gem, off), None
                else:
                    args = {"addr": addr, "range": range_}
                    ops, err = vm.unmap(addr, range_), None
            except GpuVmError as e:
                ops, err = [], e.errno_name
            steps.append((before, action, args, list(ops), err, held))
    return steps


@pytest.mark.parametrize("profile", ["upstream", "rfc2023"])
def test_the_model_agrees_with_the_relation_on_random_steps(profile: str) -> None:
    checked = 0
    for before, action, args, ops, err, _ in _random_steps(profile, seed=7):
        msg = check_step(profile, before, action, args, ops, config=CONFIG, error=err)
        assert msg is None, msg
        checked += err is None
    assert checked > 200


def test_merges_follow_the_regions_when_given() -> None:
    for before, action, args, ops, err, held in _random_steps("rfc2023", seed=3, regions=True):
        if err is None:
            msg = check_step("rfc2023", before, action, args, ops, regions=held)
            assert msg is None, msg


def test_a_merge_across_a_region_boundary_is_flagged() -> None:
    left, right = Region(0, 4), Region(4, 4)
    before = [Va(0, 4, "a", 0)]
    args = {"addr": 4, "range": 2, "gem": "a", "offset": 4}
    merged: list[Op] = [Unmap(before[0], True), Map(0, 6, "a", 0)]
    assert check_step("rfc2023", before, "Map", args, merged) is None  # regions off: merge
    msg = check_step("rfc2023", before, "Map", args, merged, regions=[left, right])
    assert msg is not None and "disagree" in msg
    assert check_step("rfc2023", before, "Map", args, [Map(4, 2, "a", 4)],
                      regions=[left, right]) is None


def test_a_wrong_next_offset_is_flagged() -> None:
    before = [Va(0, 8, "a", 100)]
    args = {"addr": 2, "range": 2, "gem": "b", "offset": 0}
    vm = VaSpace(0, 64)
    vm.insert(before[0])
    ops = vm.map(2, 2, "b", 0)
    assert check_step("upstream", before, "Map", args, ops) is None
    remap = ops[0]
    assert isinstance(remap, Remap) and remap.next is not None
    bad = [replace(remap, next=replace(remap.next, offset=remap.next.offset + 1)), ops[1]]
    msg = check_step("upstream", before, "Map", args, bad)
    assert msg is not None and "[4, 4, 'a', 104]" in msg and "[4, 4, 'a', 105]" in msg


@pytest.mark.parametrize("variant", ["next-offset-from-request", "keep-ignores-offset"])
def test_the_ops_of_a_bad_variant_are_flagged(variant: str) -> None:
    """Ops computed by a known-bad variant of the relation fail the check on some step."""
    flagged = 0
    for before, action, args, _, err, _ in _random_steps("upstream", seed=11):
        if err is not None:
            continue
        wrong = spec_ops("upstream", before, action, args, config=CONFIG, variant=variant)
        if check_step("upstream", before, action, args, wrong.ops, config=CONFIG) is not None:
            flagged += 1
    assert flagged > 0


def test_rejections_are_checked_with_a_config() -> None:
    args = {"addr": U64_MAX - 1, "range": 4, "gem": "a", "offset": 0}
    assert spec_ops("upstream", [], "Map", args).error == "EINVAL"  # wraps
    assert check_step("upstream", [], "Map", args, [], error="EINVAL") is None
    inside = {"addr": 10, "range": 4, "gem": "a", "offset": 0}
    msg = check_step("upstream", [], "Map", inside, [], config=CONFIG, error="EINVAL")
    assert msg is not None and "accepts" in msg
    node = {"addr": 58, "range": 4, "gem": "a", "offset": 0}  # touches the kernel node
    assert check_step("upstream", [], "Map", node, [], config=CONFIG, error="EINVAL") is None
    msg = check_step("upstream", [], "Map", node, [Map(58, 4, "a", 0)], config=CONFIG)
    assert msg is not None and "rejects" in msg


def test_values_near_two_to_the_64() -> None:
    top = U64_MAX - 16
    before = [Va(top, 8, "a", U64_MAX - 8)]
    args = {"addr": top + 2, "range": 2, "gem": "b", "offset": 3}
    config = {"mm_start": top - 16, "mm_range": 30}
    vm = VaSpace(top - 16, 30)
    vm.insert(before[0])
    ops = vm.map(top + 2, 2, "b", 3)
    assert check_step("upstream", before, "Map", args, ops, config=config) is None
    assert apply_ops(before, ops) == list(vm)


def test_only_map_and_unmap_are_covered() -> None:
    with pytest.raises(ValueError, match="Prefetch"):
        check_step("upstream", [], "Prefetch", {"addr": 0, "range": 1}, [])


def test_every_variant_is_known() -> None:
    assert set(VARIANTS) == {"next-offset-from-request", "keep-ignores-offset",
                             "range-check-no-overflow"}
