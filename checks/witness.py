"""A violation says why: the spec line of an invariant, and the witness of a trace.

Every violation a checker reports names the invariant, where the spec
defines it (``specs/GpuVm/GpuVm.tla:301``) and its *witness*: the page,
mapping, op or object that breaks it, expected against actual ("page 2:
expected a@2 flags 0, found unmapped").  A TLC counterexample carries no
witness of its own, so each system may explain one from the trace's states
alone (``System.extra["explain"]``: ``(trace) -> (step, witness) | None``),
with checks written independently of the model; the witness is stored in
the trace's ``#meta.violation`` and drawn by ``gpuvm-check show``.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from checks.systems import SYSTEMS
from checks.traces import Trace

_ROOT = Path(__file__).resolve().parent.parent


def spec_line(spec: str, name: str) -> str:
    """``path:line`` of the definition of ``name`` in ``spec``'s folder (or the folder)."""
    system = next((s for s in SYSTEMS.values() if s.spec == spec), None)
    if system is None:
        return spec
    pattern = re.compile(rf"^{re.escape(name)}\s*(\(|==)")
    for path in sorted(system.spec_dir.glob("*.tla")):
        try:
            lines = path.read_text().splitlines()
        except OSError:
            continue
        for i, line in enumerate(lines, 1):
            if pattern.match(line):
                return f"{_rel(path)}:{i}"
    main = system.spec_dir / f"{spec}.tla"
    return _rel(main if main.is_file() else system.manifest_path)  # a system without TLA+


def _rel(path: Path) -> str:
    try:
        return str(path.relative_to(_ROOT))
    except ValueError:
        return str(path)


def annotate(trace: Trace, invariant: str | None, step: int | None = None,
             witness: str | None = None) -> Trace:
    """Record in ``trace.meta["violation"]`` which invariant it breaks, where and why.

    Without a ``witness``, the system's ``explain`` hook is asked for one from
    the trace's states; failing that the witness says which state breaks it.
    """
    system = next((s for s in SYSTEMS.values() if s.spec == trace.spec), None)
    found: tuple[int, str] | None = None
    explain: Any = system.extra.get("explain") if system is not None else None
    if witness is None and explain is not None:
        trace.meta["violation"] = {"invariant": invariant or "?"}  # what explain looks for
        try:
            found = explain(trace)
        except (KeyError, TypeError, ValueError, IndexError, AttributeError):
            found = None
    last = len(trace.steps) - 1
    if found is not None:
        step, witness = found
    trace.meta["violation"] = {
        "invariant": invariant or "?",
        "step": last if step is None else step,
        "witness": witness or f"state {last if step is None else step} breaks it",
        "where": spec_line(trace.spec, invariant) if invariant else trace.spec,
    }
    return trace
