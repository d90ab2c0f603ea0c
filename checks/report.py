"""Printing results: one table for people, one JSON object for programs.

Every command ends by handing its :class:`~checks.outcome.Result` list to
:func:`emit`, which returns the exit code: 0 when every item gave what it
was expected to give, 1 otherwise.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable, Sequence
from typing import Any, TextIO

from checks.outcome import Outcome, Result


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.3g}" if abs(value) < 1000 else f"{value:,.0f}"
    return str(value)


def table(results: Sequence[Result], figures: Iterable[str] = ()) -> str:
    cols = ["name", "outcome", "expected", "ok", "seconds", *figures]
    rows = []
    for r in results:
        d = r.to_json()
        rows.append([_fmt(d.get(c, "")) if c != "ok" else ("yes" if r.ok else "NO") for c in cols])
    widths = [max(len(c), *(len(row[i]) for row in rows)) if rows else len(c)
              for i, c in enumerate(cols)]
    lines = ["  ".join(c.ljust(w) for c, w in zip(cols, widths, strict=True)).rstrip()]
    lines.append("  ".join("-" * w for w in widths))
    for row in rows:
        lines.append("  ".join(v.ljust(w) for v, w in zip(row, widths, strict=True)).rstrip())
    return "\n".join(lines)


def emit(results: Sequence[Result], as_json: bool, out: TextIO, *,
         figures: Iterable[str] = (), extra: dict[str, Any] | None = None) -> int:
    """Print ``results``; return 0 if all are as expected, else 1."""
    ok = all(r.ok for r in results)
    if as_json:
        doc: dict[str, Any] = {"ok": ok, "results": [r.to_json() for r in results]}
        if extra:
            doc.update(extra)
        out.write(json.dumps(doc, indent=1) + "\n")
    else:
        out.write(table(results, figures) + "\n")
        for r in results:
            if not r.ok and r.detail:
                out.write(f"\n{r.name}: {r.outcome} (expected {r.expected})\n{r.detail}\n")
            if r.trace is not None and not r.ok:
                out.write(f"{r.name}: trace written to {r.trace}\n")
        bad = sum(1 for r in results if not r.ok)
        out.write(f"\n{len(results) - bad} as expected, {bad} unexpected\n")
    return 0 if ok else 1


def exit_code(results: Sequence[Result], code: int, err: TextIO) -> int:
    """``code``, or 2 with one line per result that is a tool error or a timeout."""
    broken = [r for r in results if r.outcome in (Outcome.TOOL_ERROR, Outcome.TIMEOUT)]
    for r in broken:
        err.write(f"gpuvm-check: {r.detail.splitlines()[0] if r.detail else r.outcome}\n")
    return 2 if broken else code


def progress(err: TextIO, message: str) -> None:
    """Progress goes to stderr, and only on a terminal."""
    if err.isatty() and err is sys.stderr:
        err.write(f"\r\033[K{message}")
        err.flush()


def progress_done(err: TextIO) -> None:
    if err.isatty() and err is sys.stderr:
        err.write("\r\033[K")
        err.flush()
