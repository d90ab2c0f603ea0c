"""Test tiers and Hypothesis profiles.

Profiles (``HYPOTHESIS_PROFILE=dev|ci|nightly``; ``ci`` when ``CI`` is set,
``dev`` otherwise):

``dev``
    quick local runs: 100 examples, state machines of up to 30 steps;
``ci``
    300 examples of up to 50 steps, and the VA-space machine checks a
    sample of its steps against the Z3 relation (``checks.z3step``);
``nightly``
    5000 examples of up to 80 steps, not derandomized: pass
    ``--hypothesis-seed=N`` to pick (and reproduce) the night's seed.

``dev`` and ``ci`` are derandomized: the same code runs the same examples.
No profile keeps an example database, so a run never depends on the last.

Tests marked ``slow`` (long fuzzing, big models, the whole kill matrix)
run only with ``--run-slow``.
"""

from __future__ import annotations

import os

import pytest
from hypothesis import HealthCheck, settings

_COMMON = settings(deadline=None, database=None, print_blob=True,
                   suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
settings.register_profile("dev", _COMMON, max_examples=100, stateful_step_count=30,
                          derandomize=True)
settings.register_profile("ci", _COMMON, max_examples=300, stateful_step_count=50,
                          derandomize=True)
settings.register_profile("nightly", _COMMON, max_examples=5000, stateful_step_count=80,
                          derandomize=False)

PROFILE = os.environ.get("HYPOTHESIS_PROFILE", "ci" if os.environ.get("CI") else "dev")
settings.load_profile(PROFILE)

#: every n-th accepted Map/Unmap step of the VA-space machine is checked with Z3
Z3_EVERY = {"dev": 0, "ci": 20, "nightly": 5}.get(PROFILE, 0)


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--run-slow", action="store_true", default=False,
                     help="also run the tests marked slow")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if config.getoption("--run-slow"):
        return
    skip = pytest.mark.skip(reason="slow: run with --run-slow")
    for item in items:
        if "slow" in item.keywords:
            item.add_marker(skip)
