"""The documented split/merge cases: every diagram in model.profiles is a test."""

from __future__ import annotations

import pytest

import model.profiles
from checks.systems.gpuvm.diagram import Case, format_ops, parse_cases, render
from model import Va, VaSpace, profile_by_name

CASES = parse_cases(model.profiles.__doc__ or "")


def test_all_sixteen_cases_are_documented() -> None:
    assert [c.number for c in CASES] == list(range(1, 17))
    for c in CASES:
        assert c.old and c.req is not None, c.number
        assert set(c.new) == set(c.ops) == {"rfc2023", "upstream"}, c.number


def _run(case: Case, profile: str) -> tuple[str, list[Va]]:
    vm = VaSpace(0, 64, profile=profile_by_name(profile))
    for va in case.old:
        vm.insert(va)
    assert case.req is not None
    ops = vm.map(case.req.addr, case.req.range, case.req.gem, case.req.offset)
    return format_ops(ops), list(vm)


@pytest.mark.parametrize("profile", ["rfc2023", "upstream"])
@pytest.mark.parametrize("case", CASES, ids=[f"case{c.number}" for c in CASES])
def test_documented_case(case: Case, profile: str) -> None:
    ops, new = _run(case, profile)
    assert ops == case.ops[profile]
    assert new == case.new[profile]


@pytest.mark.parametrize("case", CASES, ids=[f"case{c.number}" for c in CASES])
def test_profiles_agree_on_translation(case: Case) -> None:
    def pages(vas: list[Va]) -> dict[int, tuple[str | None, int]]:
        return {a: (v.gem, v.offset + a - v.addr) for v in vas for a in range(v.addr, v.end)}

    assert pages(case.new["rfc2023"]) == pages(case.new["upstream"])


def test_case_15_right_piece_is_n_plus_1_not_the_seeds_n_plus_2() -> None:
    case = CASES[14]
    _, new = _run(case, "upstream")
    right = new[-1]
    assert (right.addr, right.gem) == (2, "a")
    old = case.old[0]
    assert right.offset == old.offset + 1 != old.offset + 2


def test_render_parses_back() -> None:
    old = [Va(0, 2, "a", 1000), Va(3, 4, "b", 2003)]
    req = Va(1, 3, None, 7)
    text = ["9) round trip", "", *render([("old", old), ("req", [req]), ("new", old)])]
    (case,) = parse_cases("\n".join(text))
    assert case.old == old and case.req is not None and case.req.va() == req
    assert case.new["upstream"] == old


def test_diagram_with_a_mislabelled_bar_is_rejected() -> None:
    bad = "1) bad\n     0     1\nold:   |--a--|  a@n\n"
    with pytest.raises(ValueError, match="no address above it"):
        parse_cases(bad)
