"""Recorded runs of the userptr system for trace validation against Userptr.tla.

Each layout is one VM over three CPU pages with two userptrs, two GTs, two
invalidations (unmap or migrate of any page) and both populate failures:
the userptrs share page 1 (an invalidation of it runs both callbacks, in
address order) in lr, fault and dma-fence mode, or are apart (lr, fault); in
two of them the bind thread then unbinds and destroys both.  A run
is a random schedule of the enabled steps of every thread
(``UserptrSystem.enabled``) until nothing is enabled; the model's
invariants are checked after every step.
"""

from __future__ import annotations

from typing import Any

from checks.traces import Trace
from model.userptr import UserptrSystem

SHARED = {"u1": [0, 2], "u2": [1, 3]}
APART = {"u1": [0, 1], "u2": [1, 3]}

LAYOUTS: dict[str, dict[str, Any]] = {
    "lr-shared": {"userptrs": SHARED, "mode": "lr"},
    "lr-apart": {"userptrs": APART, "mode": "lr"},
    "fault-shared": {"userptrs": SHARED, "mode": "fault"},
    "fault-apart": {"userptrs": APART, "mode": "fault", "write_pages": [1]},
    "dmafence-shared": {"userptrs": SHARED, "mode": "dmafence", "max_exec": 2},
    "lr-destroy": {"userptrs": SHARED, "mode": "lr", "destroy": True},
    "fault-destroy": {"userptrs": APART, "mode": "fault", "destroy": True},
}


def config(layout: str, profile: str = "upstream") -> dict[str, Any]:
    lay = LAYOUTS[layout]
    return UserptrSystem(3, lay["userptrs"], mode=lay["mode"], max_inv=2,
                         max_exec=lay.get("max_exec", 0), pin_errors=("EBUSY", "ENOMEM"),
                         write_pages=lay.get("write_pages"), destroy=lay.get("destroy", False),
                         profile=profile).config()


def record_runs(n: int, seed: int, variant: str = "upstream", steps: int = 80) -> list[Trace]:
    """``n`` random schedules over the layouts in turn, each to its end."""
    from checks.conform.random_runs import record_random_runs
    from model.userptr_check import check_userptr

    return record_random_runs("userptr",
                              lambda lay: UserptrSystem.from_config(config(lay, variant)),
                              list(LAYOUTS), n, seed, variant, steps, check_userptr)
