"""Hypothesis state machines: the shared base, and every system's machines.

Each system's machines live in its package (``checks/systems/<name>/``);
:func:`machines` collects them by the names ``gpuvm-check fuzz`` accepts.
Tests only bind and run them.
"""

from __future__ import annotations

from typing import Any

from checks.systems import SYSTEMS


def machines() -> dict[str, tuple[str, Any]]:
    """Machine name -> (system name, machine class), over every system."""
    out: dict[str, tuple[str, Any]] = {}
    for system in SYSTEMS.values():
        for name, cls in system.machines().items():
            out[name] = (system.name, cls)
    return out
