"""Reading a system's manifest: ``specs/<Spec>/manifest.json``.

The manifest is the oracle of every checker for its system: each TLC
model, Z3 obligation, state machine, conformance run and model mutant, with
the outcome it must give and its runtime class (``checks.budget``).  It is
checked against ``specs/manifest.schema.json`` with the ``jsonschema``
library; a broken manifest is a :class:`~checks.outcome.ToolError` naming
the file, the line and the JSON path.
"""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jsonschema

from checks.outcome import Outcome, ToolError, load_json
from checks.systems import SPECS_ROOT, System

SCHEMA_PATH = SPECS_ROOT / "manifest.schema.json"


@dataclass(frozen=True)
class Model:
    """One TLC model of a manifest."""

    system: str
    spec_dir: Path
    name: str
    module: str
    cfg: str
    mode: str
    expected: Outcome
    runtime: str
    violated: str | None = None
    distinct_states: int | None = None
    total_states: int | None = None
    depth: int | None = None
    check_deadlock: bool = False
    workers: int | None = None
    simulate_depth: int | None = None
    simulate_seconds: float | None = None
    mutant: str | None = None
    description: str = ""

    @property
    def spec_path(self) -> Path:
        return self.spec_dir / self.module

    @property
    def cfg_path(self) -> Path:
        return self.spec_dir / self.cfg


@dataclass(frozen=True)
class Item:
    """An obligation, a machine or a conformance run of a manifest."""

    system: str
    name: str
    expected: Outcome
    runtime: str
    kind: str = ""
    mode: str = "exact"
    model: str | None = None
    runs: int | None = None
    violated: str | None = None
    mutant: str | None = None
    description: str = ""


@dataclass(frozen=True)
class MutantEntry:
    system: str
    name: str
    source: str
    description: str
    patch: Path
    checkers: tuple[str, ...]
    runtime: str = "small"


@dataclass(frozen=True)
class Manifest:
    system: str
    spec: str
    path: Path
    models: tuple[Model, ...]
    obligations: tuple[Item, ...]
    machines: tuple[Item, ...]
    conform: tuple[Item, ...]
    mutants: tuple[MutantEntry, ...]
    trace_invariants: tuple[str, ...]
    trace_properties: tuple[str, ...] = ()

    def model(self, name: str) -> Model:
        for m in self.models:
            if m.name == name:
                return m
        raise ToolError(f"{self.system} has no TLC model {name!r} (models: "
                        f"{', '.join(m.name for m in self.models)})", str(self.path))


@functools.lru_cache(maxsize=1)
def schema() -> dict[str, Any]:
    doc = load_json(SCHEMA_PATH, "the manifest schema")
    assert isinstance(doc, dict)
    return doc


def json_path(parts: Any) -> str:
    out = "$"
    for p in parts:
        out += f"[{p}]" if isinstance(p, int) else (f".{p}" if str(p).isidentifier()
                                                     else f"[{json.dumps(p)}]")
    return out


def _line_of(text: str, entry: Any) -> int:
    """The line of a manifest entry, found by its name (1 if not found)."""
    name = entry.get("name") if isinstance(entry, dict) else None
    if isinstance(name, str):
        needle = f'"name": {json.dumps(name)}'
        for i, line in enumerate(text.splitlines(), 1):
            if needle in line:
                return i
    return 1


def load_manifest(system: System, path: Path | None = None) -> Manifest:
    """Read and check ``system``'s manifest (or the one at ``path``)."""
    path = system.manifest_path if path is None else path
    doc = load_json(path, "the manifest")
    text = path.read_text(errors="replace")
    validator = jsonschema.Draft202012Validator(schema())
    error = jsonschema.exceptions.best_match(validator.iter_errors(doc))
    if error is not None:
        entry = doc
        for part in list(error.absolute_path)[:2]:
            try:
                entry = entry[part]
            except (KeyError, IndexError, TypeError):
                break
        raise ToolError(f"at {json_path(error.absolute_path)}: {error.message[:200]}",
                        f"{path}:{_line_of(text, entry)}")
    if doc["system"] != system.name or doc["spec"] != system.spec:
        raise ToolError(f"the manifest is for system {doc['system']!r} / spec "
                        f"{doc['spec']!r}, not {system.name!r} / {system.spec!r}", str(path))
    spec_dir = path.parent
    names: set[str] = set()

    def unique(section: str, entry: dict[str, Any]) -> str:
        key = f"{section}:{entry['name']}"
        if key in names:
            raise ToolError(f"{section} entry {entry['name']!r} appears twice",
                            f"{path}:{_line_of(text, entry)}")
        names.add(key)
        return str(entry["name"])

    models = tuple(Model(
        system=system.name, spec_dir=spec_dir, name=unique("models", m), module=m["module"],
        cfg=m["cfg"], mode=m["mode"], expected=Outcome(m["result"]), runtime=m["runtime"],
        violated=m.get("violated"), distinct_states=m.get("distinct_states"),
        total_states=m.get("total_states"), depth=m.get("depth"),
        check_deadlock=m.get("check_deadlock", False), workers=m.get("workers"),
        simulate_depth=m.get("simulate_depth"),
        simulate_seconds=(None if m.get("simulate_seconds") is None
                          else float(m["simulate_seconds"])),
        mutant=m.get("mutant"), description=m.get("description", ""))
        for m in doc["models"])

    def items(section: str) -> tuple[Item, ...]:
        out = []
        for e in doc.get(section, []):
            out.append(Item(system=system.name, name=unique(section, e),
                            expected=Outcome(e.get("result", "pass")), runtime=e["runtime"],
                            kind=e.get("kind", ""), mode=e.get("mode", "exact"),
                            model=e.get("model"), runs=e.get("runs"),
                            violated=e.get("violated"), mutant=e.get("mutant"),
                            description=e.get("description", "")))
        return tuple(out)

    conform = items("conform")
    model_names = {m.name for m in models}
    for c in conform:
        if c.model is not None and c.model not in model_names:
            raise ToolError(f"conform entry {c.name!r} names no model of this manifest",
                            str(path))
    mutants_dir = Path(__file__).resolve().parent / "systems" / system.name / "mutants"
    mutants = tuple(MutantEntry(
        system=system.name, name=unique("mutants", e), source=e["source"],
        description=e["description"], patch=mutants_dir / e["patch"],
        checkers=tuple(e["checkers"]), runtime=e.get("runtime", "small"))
        for e in doc.get("mutants", []))
    return Manifest(system.name, system.spec, path, models, items("obligations"),
                    items("machines"), conform, mutants,
                    tuple(doc.get("trace_invariants", [])), tuple(doc.get("trace_properties", [])))


def manifests(systems: list[System]) -> list[Manifest]:
    return [load_manifest(s) for s in systems]
