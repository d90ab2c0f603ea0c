"""The gpuvm system's state machines, by the names ``gpuvm-check fuzz`` takes."""

from __future__ import annotations

from checks.systems.gpuvm.machine import RegionsMachine, VaSpaceMachine

MACHINES = {
    "vaspace": VaSpaceMachine,
    "vaspace-regions": RegionsMachine,
}
