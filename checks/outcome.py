"""Closed verdicts and typed results shared by every checker.

A checker run ends in exactly one :class:`Outcome`.  Only ``PASS`` is a
pass: a timeout, a solver ``unknown`` or a tool error never is.  A
:class:`Result` is one item checked; ``expected`` records what the item is
meant to give (a bad variant is *meant* to give ``VIOLATION``), and ``ok``
compares the two.
"""

from __future__ import annotations

import enum
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


class Outcome(enum.StrEnum):
    PASS = "pass"
    VIOLATION = "violation"
    DEADLOCK = "deadlock"
    LIVENESS = "liveness"
    TIMEOUT = "timeout"
    UNKNOWN = "unknown"
    TOOL_ERROR = "tool_error"


class ToolError(Exception):
    """Bad input to the tool or a broken tool: one clear line, exit 2.

    ``where`` is ``file:line`` (or just ``file``) when the fault has a place.
    """

    def __init__(self, message: str, where: str | None = None) -> None:
        self.message = message
        self.where = where
        super().__init__(f"{where}: error: {message}" if where else f"error: {message}")


def load_json(path: Path, what: str) -> Any:
    """Parse a JSON file; :class:`ToolError` naming ``file:line`` if it is unreadable or bad."""
    try:
        text = path.read_text()
    except OSError as e:
        raise ToolError(f"cannot read {what}: {e.strerror}", str(path)) from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as e:
        raise ToolError(f"not valid JSON: {e.msg} (column {e.colno})",
                        f"{path}:{e.lineno}") from None


@dataclass
class Result:
    """One item checked: a model, an obligation, a machine, a mutant ..."""

    name: str
    outcome: Outcome
    seconds: float
    expected: Outcome = Outcome.PASS
    detail: str = ""
    trace: Path | None = None
    figures: dict[str, Any] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.outcome == self.expected

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "name": self.name,
            "outcome": str(self.outcome),
            "expected": str(self.expected),
            "ok": self.ok,
            "seconds": round(self.seconds, 3),
        }
        if self.detail:
            out["detail"] = self.detail
        if self.trace is not None:
            out["trace"] = str(self.trace)
        out.update(self.figures)
        return out
