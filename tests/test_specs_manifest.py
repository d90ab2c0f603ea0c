"""Every system's manifest against its schema, and against what the system brings.

- each manifest conforms to ``specs/manifest.schema.json`` (the ``jsonschema``
  library), and broken manifests are refused with file, line and JSON path;
- every ``.tla``/``.cfg`` under ``specs/`` is named by a manifest (or is the
  system's spec or trace module), every file a manifest names exists;
- the machines, obligations and mutants a manifest lists are exactly the
  ones the system registers; every mutant's patch applies;
- every action of a system's vocabulary is an operator of its spec with the
  same number of parameters, and every spec has the module shape of
  ``shared/STYLE.md`` (header comment, commented CONSTANTS and VARIABLES,
  the sections, ``TypeOK`` first among the invariants).
"""

from __future__ import annotations

import copy
import itertools
import json
import re
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from checks.manifest import load_manifest
from checks.mutants import patched_model
from checks.outcome import ToolError
from checks.systems import SPECS_ROOT, SYSTEMS, System, load

SCHEMA = json.loads((SPECS_ROOT / "manifest.schema.json").read_text())
ALL = list(SYSTEMS.values())
IDS = [s.name for s in ALL]
#: the systems with a TLA+ spec (i915's front end is synchronous: machines, Z3, mutants)
WITH_TLA = [s for s in ALL if s.extra.get("tla", True)]
TLA_IDS = [s.name for s in WITH_TLA]


@pytest.mark.parametrize("system", ALL, ids=IDS)
def test_manifest_conforms_to_its_schema(system: System) -> None:
    doc = json.loads(system.manifest_path.read_text())
    jsonschema.Draft202012Validator(SCHEMA).validate(doc)
    m = load_manifest(system)
    assert m.machines and m.mutants
    if system in WITH_TLA:
        assert m.models and m.conform
    else:
        assert not m.models and not m.conform
        assert not list(system.spec_dir.glob("*.tla"))


@pytest.mark.parametrize(("break_it", "message"), [
    (lambda m: m["models"][0].pop("cfg"), "'cfg' is a required property"),
    (lambda m: m["models"][0].update(mode="random"), "'random' is not one of"),
    (lambda m: m["models"][0].update(result="violation"), "'violated' is a required"),
    (lambda m: m["models"][0].update(distinct_states=-1), "less than the minimum"),
    (lambda m: m["models"][0].update(colour="red"), "Additional properties"),
    (lambda m: m["mutants"][0].update(checkers=["nonsense"]), "does not match"),
    (lambda m: m.update(system="other"), "not 'gpuvm'"),
])
def test_a_broken_manifest_is_refused(tmp_path: Path, break_it: Any, message: str) -> None:
    system = SYSTEMS["gpuvm"]
    doc = copy.deepcopy(json.loads(system.manifest_path.read_text()))
    break_it(doc)
    bad = tmp_path / "manifest.json"
    bad.write_text(json.dumps(doc, indent=1))
    with pytest.raises(ToolError) as e:
        load_manifest(system, bad)
    assert message in str(e.value) and str(bad) in str(e.value)


def test_every_spec_file_is_in_a_manifest() -> None:
    named: set[Path] = set()
    for system in ALL:
        m = load_manifest(system)
        for model in m.models:
            assert model.spec_path.is_file() and model.cfg_path.is_file(), model.name
            named |= {model.spec_path, model.cfg_path}
        named |= {system.spec_dir / f"{system.spec}.tla",
                  system.spec_dir / f"Trace{system.spec}.tla"}
    on_disk = {p for p in SPECS_ROOT.rglob("*") if p.suffix in (".tla", ".cfg")}
    assert on_disk - named == set()
    assert not list(SPECS_ROOT.rglob("states"))  # TLC's metadata never lands here


@pytest.mark.parametrize("system", ALL, ids=IDS)
def test_manifest_items_are_the_systems_own(system: System) -> None:
    m = load_manifest(system)
    assert {x.name for x in m.machines} == set(system.machines())
    if system.obligations_ref:
        code = {ob.name for ob in load(system.obligations_ref)(3)}
        listed = {x.name for x in m.obligations}
        assert code <= listed | {n for n in code if n.endswith(".vectors")}, code - listed
        assert listed <= code | {f"{p}.vectors" for p in ("upstream", "rfc2023")}, listed - code
    for mutant in m.mutants:
        assert mutant.patch.is_file(), mutant.name
        for checker in mutant.checkers:
            kind, _, arg = checker.partition(":")
            if kind == "tlc":
                assert arg in {x.name for x in m.models}, checker
            if kind == "fuzz" and arg:
                assert arg in system.machines(), checker


@pytest.mark.parametrize("name", [m.name for s in ALL for m in load_manifest(s).mutants])
def test_every_mutant_patch_applies(name: str) -> None:
    with patched_model(name) as d:
        assert (d / "model").is_dir()


def _operators(text: str) -> dict[str, int]:
    """Top-level operator definitions of a module and their number of parameters."""
    out: dict[str, int] = {}
    for m in re.finditer(r"^([A-Z][A-Za-z0-9_]*)(\(([^)]*)\))?\s*==", text, re.MULTILINE):
        out[m.group(1)] = len([p for p in (m.group(3) or "").split(",") if p.strip()])
    return out


@pytest.mark.parametrize("system", WITH_TLA, ids=TLA_IDS)
def test_every_action_is_a_spec_operator_with_its_arity(system: System) -> None:
    ops = _operators((system.spec_dir / f"{system.spec}.tla").read_text())
    for action in system.vocabulary:
        assert action.name in ops, f"{system.spec} has no action {action.name}"
        assert ops[action.name] == len(action.params), (action.name, ops[action.name])
    for name in ("Init", "Next", "TypeOK", "Observed", "Internal"):
        assert name in ops, f"{system.spec} defines no {name}"


@pytest.mark.parametrize("system", WITH_TLA, ids=TLA_IDS)
def test_every_spec_has_the_module_shape(system: System) -> None:
    text = (system.spec_dir / f"{system.spec}.tla").read_text()
    lines = text.splitlines()
    assert lines[0].startswith("-") and f"MODULE {system.spec}" in lines[0]
    assert lines[1].startswith("(*"), "a header comment says what is and is not modelled"
    header = "\n".join(ln for ln in itertools.takewhile(lambda x: x.startswith("(*"),
                                                        lines[1:]))
    assert "Not modelled" in header or "not modelled" in header
    for section in ("Types", "Init", "Actions", "Next", "Invariants"):
        assert re.search(rf"\(\*+\s*{section}", text), f"no {section} section"
    for block in ("CONSTANTS?", "VARIABLES?"):
        m = re.search(rf"^{block}\n((?:[ \t]+.*\n)+)", text, re.MULTILINE)
        assert m, block
        for entry in m.group(1).splitlines():
            if entry.strip() and not entry.strip().startswith("\\*"):
                assert "\\*" in entry, f"{block} entry without a comment: {entry.strip()}"
    heading = re.search(r"^\(\*+\s*Invariants", text, re.MULTILINE)
    assert heading, "no Invariants section heading"
    inv = text[heading.start():]
    # TypeOK is the first invariant (helpers written for the properties may precede it)
    first = re.search(r"^(TypeOK|[A-Z][A-Za-z0-9_]*Inv)\s*==", inv, re.MULTILINE)
    assert first and first.group(1) == "TypeOK"
    for name in re.findall(r"^([A-Z][A-Za-z0-9]*Inv)\s*==", inv, re.MULTILINE):
        i = inv.index(f"\n{name} ==")
        assert inv[:i].rstrip().splitlines()[-1].lstrip().startswith("\\*"), (
            f"{name} is not explained")
