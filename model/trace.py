"""Trace emission: a closed vocabulary of action names with a no-op default.

Every public action of a model component reports itself to a
:class:`Tracer`.  The names are exactly the spec's action names (``Map``,
``Unmap``, ``Prefetch``, ``RegionAlloc``, ``RegionFree``); the recorder that
turns events into ITF traces lives in ``checks.traces``.  The default
:data:`NOP` tracer does nothing, so an untraced model pays one call.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Protocol

from model.errors import GpuVmError
from model.ops import Op

#: The closed vocabulary of VA-space actions.
VASPACE_ACTIONS = ("Map", "Unmap", "Prefetch", "RegionAlloc", "RegionFree")


class Tracer(Protocol):
    def action(
        self,
        name: str,
        args: Mapping[str, object],
        ops: Sequence[Op],
        error: GpuVmError | None,
    ) -> None:
        """Called once after each action: its ops, or the error it returned."""
        ...


class NopTracer:
    """The default tracer: records nothing."""

    def action(
        self,
        name: str,
        args: Mapping[str, object],
        ops: Sequence[Op],
        error: GpuVmError | None,
    ) -> None:
        return None


NOP = NopTracer()
