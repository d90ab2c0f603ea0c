"""The per-step check: one concrete Map/Unmap step against the Z3 relation."""

from __future__ import annotations

import random
from dataclasses import replace

import pytest

from checks.replay import replay
from checks.z3step import Inputs, apply_ops, check_step, gpuvm_trace, spec_ops
from model import GpuVmError, Map, Op, Region, Remap, Unmap, Va, VaSpace, profile_by_name
from model.gpuva import U64_MAX
from specs.z3.splitmerge import VARIANT_RELATIONS, VARIANTS

CONFIG = {"mm_start": 0, "mm_range": 64, "reserve_offset": 60, "reserve_range": 4}
TOP = U64_MAX - 3  # offsets this high make split pieces wrap past 2^64

Step = tuple[list[Va], str, dict[str, object], list[Op], str | None, list[Region]]


def _random_steps(profile: str, seed: int, regions: bool = False, n: int = 12,
                  runs: int = 40) -> list[Step]:
    """Random Map/Unmap steps of the model: few GEMs, offsets near 0 and near 2^64,
    two flag values, so compatible, mergeable and wrapping cases all come up."""
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
                    gem = rnd.choice(["a", "a", "b", None])
                    base = rnd.choice([0, TOP])
                    off = (base + addr + rnd.choice([0, 0, 1])) % (U64_MAX + 1)
                    flags = rnd.choice([0, 5])
                    args = {"addr": addr, "range": range_, "gem": gem, "offset": off,
                            "flags": flags}
                    ops, err = vm.map(addr, range_, gem, off, flags), None
                else:
                    args = {"addr": addr, "range": range_}
                    ops, err = vm.unmap(addr, range_), None
            except GpuVmError as e:
                ops, err = [], e.errno_name
            steps.append((before, action, args, list(ops), err, held))
    return steps


@pytest.mark.parametrize("profile", ["upstream", "rfc2023"])
def test_the_model_agrees_with_the_relation_on_random_steps(profile: str) -> None:
    checked = keeps = wraps = flagged = 0
    for before, action, args, ops, err, _ in _random_steps(profile, seed=7):
        msg = check_step(profile, before, action, args, ops, config=CONFIG, error=err)
        assert msg is None, msg
        checked += err is None
        keeps += any((isinstance(op, Unmap) and op.keep)
                     or (isinstance(op, Remap) and op.unmap.keep) for op in ops)
        flagged += any(isinstance(op, Map) and op.flags for op in ops)
        for op in ops:
            if isinstance(op, Remap) and op.next is not None:
                wraps += op.next.offset < op.unmap.va.offset
    assert checked > 200 and keeps > 5 and flagged > 20 and wraps > 0


def test_merges_follow_the_regions_when_given() -> None:
    for before, action, args, ops, err, held in _random_steps("rfc2023", seed=3, regions=True):
        if err is None:
            msg = check_step("rfc2023", before, action, args, ops, regions=held)
            assert msg is None, msg


def test_a_merge_across_a_region_boundary_is_flagged() -> None:
    left, right = Region(0, 4), Region(4, 4)
    before = [Va(0, 4, "a", 0)]
    args = {"addr": 4, "range": 2, "gem": "a", "offset": 4, "flags": 0}
    merged: list[Op] = [Unmap(before[0], True), Map(0, 6, "a", 0)]
    assert check_step("rfc2023", before, "Map", args, merged) is None  # regions off: merge
    msg = check_step("rfc2023", before, "Map", args, merged, regions=[left, right])
    assert msg is not None and "disagree" in msg
    assert check_step("rfc2023", before, "Map", args, [Map(4, 2, "a", 4)],
                      regions=[left, right]) is None


def test_flags_block_rfc2023_merges_and_stay_on_pieces() -> None:
    before = [Va(0, 4, "a", 0, 7)]
    other = {"addr": 4, "range": 2, "gem": "a", "offset": 4, "flags": 1}
    assert check_step("rfc2023", before, "Map", other, [Map(4, 2, "a", 4, 1)]) is None
    merged: list[Op] = [Unmap(before[0], True), Map(0, 6, "a", 0, 1)]
    assert check_step("rfc2023", before, "Map", other, merged) is not None
    same = dict(other, flags=7)
    assert check_step("rfc2023", before, "Map", same,
                      [Unmap(before[0], True), Map(0, 6, "a", 0, 7)]) is None
    # A split keeps the old mapping's flags on both pieces; the Map has the request's.
    inside = {"addr": 1, "range": 2, "gem": "b", "offset": 0, "flags": 2}
    ops: list[Op] = [Remap(Unmap(before[0], False), Map(0, 1, "a", 0, 7), Map(3, 1, "a", 3, 7)),
                     Map(1, 2, "b", 0, 2)]
    assert check_step("upstream", before, "Map", inside, ops) is None
    remap = ops[0]
    assert isinstance(remap, Remap) and remap.next is not None
    wrong = [replace(remap, next=replace(remap.next, flags=2)), ops[1]]
    msg = check_step("upstream", before, "Map", inside, wrong)
    assert msg is not None and "[3, 1, 'a', 3, 7]" in msg


def test_a_wrong_next_offset_is_flagged() -> None:
    before = [Va(0, 8, "a", 100)]
    args = {"addr": 2, "range": 2, "gem": "b", "offset": 0, "flags": 0}
    vm = VaSpace(0, 64)
    vm.insert(before[0])
    ops = vm.map(2, 2, "b", 0)
    assert check_step("upstream", before, "Map", args, ops) is None
    remap = ops[0]
    assert isinstance(remap, Remap) and remap.next is not None
    bad = [replace(remap, next=replace(remap.next, offset=remap.next.offset + 1)), ops[1]]
    msg = check_step("upstream", before, "Map", args, bad)
    assert msg is not None and "[4, 4, 'a', 104, 0]" in msg and "[4, 4, 'a', 105, 0]" in msg


def test_piece_offsets_wrap_modulo_2_64() -> None:
    before = [Va(0, 8, "a", U64_MAX - 1, 3)]
    args = {"addr": 2, "range": 2, "gem": "b", "offset": U64_MAX, "flags": 0}
    pred = spec_ops("upstream", before, "Map", args)
    remap = pred.ops[0]
    assert isinstance(remap, Remap) and remap.next is not None
    assert remap.next.offset == 2 and remap.next.flags == 3  # (2^64 - 2) + 4, mod 2^64
    vm = VaSpace(0, 64)
    vm.insert(before[0])
    ops = vm.map(2, 2, "b", U64_MAX)  # offset + range passes 2^64: accepted
    assert check_step("upstream", before, "Map", args, ops, config={"mm_start": 0,
                                                                   "mm_range": 64}) is None


_VARIANT_PROFILE = {v: ("upstream" if "upstream" in rs else "rfc2023")
                    for v, rs in VARIANT_RELATIONS.items()}


@pytest.mark.parametrize("variant", [v for v in VARIANTS
                                     if v not in ("range-check-no-overflow",
                                                  "merge-across-regions",
                                                  "rfc2023-merge-always",
                                                  "rfc2023-noop-as-remap")])
def test_the_ops_of_a_bad_variant_are_flagged(variant: str) -> None:
    """Ops computed by a known-bad variant of the relation fail the check on some step."""
    profile = _VARIANT_PROFILE[variant]
    flagged = 0
    for before, action, args, _, err, _ in _random_steps(profile, seed=11):
        if err is not None or (action == "Unmap" and variant != "range-check-no-overflow"):
            continue
        wrong = spec_ops(profile, before, action, args, config=CONFIG, variant=variant)
        if check_step(profile, before, action, args, wrong.ops, config=CONFIG) is not None:
            flagged += 1
    assert flagged > 0


def test_the_region_skip_and_overflow_variants_are_flagged() -> None:
    # A1 with another GEM, then a mergeable right neighbour the seed's walk skips.
    before = [Va(5, 2, "a", 2), Va(7, 1, "c", 5, 1)]
    args = {"addr": 5, "range": 2, "gem": "c", "offset": 3, "flags": 1}
    wrong = spec_ops("rfc2023", before, "Map", args, variant="rfc2023-merge-always")
    assert [op.to_json()["op"] for op in wrong.ops] == ["unmap", "unmap", "map"]
    assert check_step("rfc2023", before, "Map", args, wrong.ops) is not None
    # The request is part of a mergeable mapping: no ops, not a remap and a map.
    inside = {"addr": 6, "range": 1, "gem": "a", "offset": 3, "flags": 0}
    assert spec_ops("rfc2023", before, "Map", inside).ops == []
    wrong = spec_ops("rfc2023", before, "Map", inside, variant="rfc2023-noop-as-remap")
    assert [op.to_json()["op"] for op in wrong.ops] == ["remap", "map"]
    assert check_step("rfc2023", before, "Map", inside, wrong.ops) is not None
    regions = [Region(0, 4), Region(4, 4)]
    before = [Va(0, 4, "a", 0)]
    args = {"addr": 4, "range": 2, "gem": "a", "offset": 4, "flags": 0}
    wrong = spec_ops("rfc2023", before, "Map", args, regions=regions,
                     variant="merge-across-regions")
    assert check_step("rfc2023", before, "Map", args, wrong.ops, regions=regions) is not None
    wraps = {"addr": U64_MAX - 1, "range": 4, "gem": "a", "offset": 0, "flags": 0}
    cfg = {"mm_start": 0, "mm_range": 64}
    accepted = spec_ops("upstream", [], "Map", wraps, config=cfg,
                        variant="range-check-no-overflow")
    assert accepted.error is None and accepted.ops
    assert check_step("upstream", [], "Map", wraps, accepted.ops, config=cfg) is not None


def test_rejections_are_checked_with_a_config() -> None:
    args = {"addr": U64_MAX - 1, "range": 4, "gem": "a", "offset": 0, "flags": 0}
    assert spec_ops("upstream", [], "Map", args).error == "EINVAL"  # wraps
    assert check_step("upstream", [], "Map", args, [], error="EINVAL") is None
    inside = {"addr": 10, "range": 4, "gem": "a", "offset": 0, "flags": 0}
    msg = check_step("upstream", [], "Map", inside, [], config=CONFIG, error="EINVAL")
    assert msg is not None and "accepts" in msg
    node = {"addr": 58, "range": 4, "gem": "a", "offset": 0, "flags": 0}  # meets the node
    assert check_step("upstream", [], "Map", node, [], config=CONFIG, error="EINVAL") is None
    msg = check_step("upstream", [], "Map", node, [Map(58, 4, "a", 0)], config=CONFIG)
    assert msg is not None and "rejects" in msg
    # The node's first and last address are refused, the addresses around it are not.
    for addr, range_, ok in ((59, 2, False), (63, 1, False), (56, 4, True)):
        pred = spec_ops("upstream", [], "Map", {**node, "addr": addr, "range": range_},
                        config=CONFIG)
        assert (pred.error is None) == ok, (addr, range_)
    assert spec_ops("upstream", [], "Map", {**node, "flags": -1}).error == "EINVAL"


def test_a_request_ending_at_2_64_minus_1() -> None:
    top = U64_MAX - 8
    before = [Va(top, 8, "a", 5, 1)]
    config = {"mm_start": top - 8, "mm_range": 16}
    vm = VaSpace(top - 8, 16)
    vm.insert(before[0])
    ops = vm.map(top + 4, 4, "b", 3, 2)  # ends at exactly 2^64 - 1
    args = {"addr": top + 4, "range": 4, "gem": "b", "offset": 3, "flags": 2}
    assert check_step("upstream", before, "Map", args, ops, config=config) is None
    assert apply_ops(before, ops) == list(vm)
    assert spec_ops("upstream", before, "Map", {**args, "range": 5}, config=config).error


def test_a_relation_trace_replays_on_the_model() -> None:
    """What the relation prescribes, written as a trace, is what the model does."""
    inp = Inputs("rfc2023", {"mm_start": 0, "mm_range": 64}, None,
                 (Va(0, 2, "a", 10, 1), Va(4, 2, "a", 14, 1)), 2, 2, "a", 12, 1)
    trace = gpuvm_trace(inp, "rfc2023", None, "case 16 with flags")
    assert [s.action for s in trace.steps] == ["Init", "Map"]
    assert trace.steps[1].state["vas"] == [[0, 6, "a", 10, 1]]
    assert replay(trace).clean
    wrong = gpuvm_trace(inp, "rfc2023", "rfc2023-nothing-compatible", "no merge")
    report = replay(wrong)
    assert report.divergence is not None and report.divergence.step == 1


def test_only_map_and_unmap_are_covered() -> None:
    with pytest.raises(ValueError, match="Prefetch"):
        check_step("upstream", [], "Prefetch", {"addr": 0, "range": 1}, [])


def test_every_variant_is_known() -> None:
    assert set(VARIANTS) == {
        "next-offset-from-request", "keep-ignores-offset", "range-check-no-overflow",
        "upstream-never-keep", "rfc2023-nothing-compatible", "rfc2023-merge-always",
        "rfc2023-noop-as-remap", "merge-ignores-flags", "merge-across-regions",
        "doc-case15-offset"}
