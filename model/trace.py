"""Trace emission: a closed vocabulary of events with a no-op default.

Every public action of a model component reports itself to a
:class:`Tracer` as one :class:`Event`: the system, the action's name (exactly
the spec's action name, from the system's :class:`~model.actions.Vocabulary`),
its arguments, its result, the errno it returned (``None`` on success) and
the thread that ran it.  The recorder that turns events into ITF traces
lives in ``checks.traces``.  The default :data:`NOP` tracer does nothing, so
an untraced model pays one call.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol


@dataclass(frozen=True)
class Event:
    """One action as the model ran it."""

    system: str
    action: str
    args: Mapping[str, Any]
    result: Any = None
    errno: str | None = None
    thread: str | None = None


class Tracer(Protocol):
    def event(self, ev: Event) -> None:
        """Called once after each action: its result, or the errno it returned."""
        ...


class NopTracer:
    """The default tracer: records nothing."""

    def event(self, ev: Event) -> None:
        return None


NOP = NopTracer()
