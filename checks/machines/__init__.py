"""Hypothesis state machines that drive the model against oracles.

Each machine lives here, in the package, so that pytest only binds and runs
it (``tests/test_fuzz.py``) and ``gpuvm-check fuzz`` runs it for a time
budget (``checks/fuzz.py``).  :data:`MACHINES` maps the names the command
line accepts to the machine classes.
"""

from __future__ import annotations

from checks.machines.vaspace import (
    RegionsMachine,
    VaSpaceMachine,
    record_runs,
)

#: machine name (as given to ``gpuvm-check fuzz``) -> machine class
MACHINES: dict[str, type[VaSpaceMachine]] = {
    "vaspace": VaSpaceMachine,
    "vaspace-regions": RegionsMachine,
}

__all__ = ["MACHINES", "RegionsMachine", "VaSpaceMachine", "record_runs"]
