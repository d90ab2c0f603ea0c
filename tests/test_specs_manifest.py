"""specs/manifest.json against its schema, and the specs it names.

The schema is checked with a small validator written here for the subset
of JSON Schema the schema uses (no new dependency), which is itself shown
to reject broken manifests.
"""

from __future__ import annotations

import copy
import json
import re
from pathlib import Path
from typing import Any

import pytest

from checks import tlc
from checks.outcome import ToolError

SPECS = Path(__file__).resolve().parent.parent / "specs"
SCHEMA = json.loads((SPECS / "manifest.schema.json").read_text())
MANIFEST = json.loads((SPECS / "manifest.json").read_text())

_TYPES: dict[str, Any] = {"object": dict, "array": list, "string": str, "boolean": bool,
                          "number": (int, float), "integer": int}


def errors(value: Any, schema: dict[str, Any], root: dict[str, Any], at: str = "$") -> list[str]:
    """Where ``value`` breaks ``schema`` (a JSON Schema subset); empty if it conforms."""
    out: list[str] = []
    if "$ref" in schema:
        node: Any = root
        for part in schema["$ref"].lstrip("#/").split("/"):
            node = node[part]
        return errors(value, node, root, at)
    t = schema.get("type")
    if t is not None:
        ok = isinstance(value, _TYPES[t]) and not (
            t in ("integer", "number") and isinstance(value, bool))
        if not ok:
            return [f"{at}: not of type {t}"]
    if "enum" in schema and value not in schema["enum"]:
        out.append(f"{at}: {value!r} not one of {schema['enum']}")
    if "const" in schema and value != schema["const"]:
        out.append(f"{at}: {value!r} is not {schema['const']!r}")
    if isinstance(value, str) and "pattern" in schema and not re.search(schema["pattern"], value):
        out.append(f"{at}: {value!r} does not match {schema['pattern']}")
    if isinstance(value, int | float) and not isinstance(value, bool):
        if "minimum" in schema and value < schema["minimum"]:
            out.append(f"{at}: {value} < {schema['minimum']}")
        if "exclusiveMinimum" in schema and value <= schema["exclusiveMinimum"]:
            out.append(f"{at}: {value} <= {schema['exclusiveMinimum']}")
    if isinstance(value, list):
        if len(value) < schema.get("minItems", 0):
            out.append(f"{at}: fewer than {schema['minItems']} items")
        if "items" in schema:
            for i, item in enumerate(value):
                out += errors(item, schema["items"], root, f"{at}[{i}]")
    if isinstance(value, dict):
        for key in schema.get("required", []):
            if key not in value:
                out.append(f"{at}: missing {key!r}")
        props = schema.get("properties", {})
        for key, item in value.items():
            if key in props:
                out += errors(item, props[key], root, f"{at}.{key}")
            elif schema.get("additionalProperties") is False:
                out.append(f"{at}: unexpected {key!r}")
    for sub in schema.get("allOf", []):
        out += errors(value, sub, root, at)
    if "anyOf" in schema and all(errors(value, s, root, at) for s in schema["anyOf"]):
        out.append(f"{at}: matches none of anyOf")
    if "not" in schema and not errors(value, schema["not"], root, at):
        out.append(f"{at}: matches a 'not' schema")
    if "if" in schema:
        branch = "then" if not errors(value, schema["if"], root, at) else "else"
        if branch in schema:
            out += errors(value, schema[branch], root, at)
    return out


def test_manifest_conforms_to_its_schema() -> None:
    assert errors(MANIFEST, SCHEMA, SCHEMA) == []


@pytest.mark.parametrize("break_it, message", [
    (lambda m: m["models"][0].pop("cfg"), "missing 'cfg'"),
    (lambda m: m["models"][0].update(mode="random"), "not one of"),
    (lambda m: m["models"][0].update(result="violation"), "missing 'violated'"),
    (lambda m: m["models"][0].update(violated="TypeOK"), "matches a 'not' schema"),
    (lambda m: m["models"][0].update(distinct_states=-1), "< 0"),
    (lambda m: m["models"][0].update(distinct_states=True), "not of type integer"),
    (lambda m: m["models"][0].update(cfg="MCGpuVm.tla"), "does not match"),
    (lambda m: m["models"][0].update(colour="blue"), "unexpected 'colour'"),
    (lambda m: m.update(models=[]), "fewer than 1 items"),
])
def test_schema_rejects_broken_manifests(break_it: Any, message: str) -> None:
    broken = copy.deepcopy(MANIFEST)
    break_it(broken)
    found = errors(broken, SCHEMA, SCHEMA)
    assert any(message in e for e in found), found


def test_every_model_names_existing_files_and_definitions() -> None:
    models = tlc.load_manifest()
    assert {m.name for m in models} >= {"MCGpuVm", "MCGpuVmRfc2023"}
    definitions: set[str] = set()
    for tla in SPECS.glob("*.tla"):
        definitions |= set(re.findall(r"^([A-Za-z]\w*)(?:\(.*?\))? ==", tla.read_text(),
                                      re.MULTILINE))
    for m in models:
        assert m.spec_path.is_file() and m.cfg_path.is_file(), m.name
        cfg = m.cfg_path.read_text()
        for section in re.findall(r"^(?:INVARIANT|PROPERTY)\s+(.*)$", cfg, re.MULTILINE):
            for name in section.split():
                assert name in definitions, (m.name, name)
        if m.expected.value == "violation":
            assert m.violated in definitions, m.name
        if m.mode == "exhaustive" and m.expected.value == "pass":
            assert m.distinct_states and m.total_states, f"{m.name}: record the state counts"


def test_failure_models_name_known_mutants() -> None:
    mutants = json.loads((SPECS.parent / "checks" / "mutants" / "mutants.json").read_text())
    known = {m["name"] for m in mutants["mutants"]}
    failing = [m for m in tlc.load_manifest() if m.expected.value == "violation"]
    assert {"sm-unmap-always-prev-next", "remap-prev-overunmap"} <= {m.mutant for m in failing}
    for m in failing:
        assert m.mutant in known, m.name


def test_gpuvm_module_shape() -> None:
    text = (SPECS / "GpuVm.tla").read_text()
    sections = [text.index(f"{name} ") for name in
                ("Types", "Init", "Actions", "Next", "Invariants")]
    assert sections == sorted(sections)
    invariants = re.findall(r"^([A-Za-z]\w*) ==", text[sections[-1]:], re.MULTILINE)
    assert invariants[0] == "TypeOK"
    assert all(name.endswith("Inv") for name in invariants[1:]), invariants
    assert {"NoOverlapInv", "TranslationInv", "OpBoundInv"} <= set(invariants)
    declared = re.search(r"CONSTANTS(.*?)VARIABLES(.*?)\n\n", text, re.DOTALL)
    assert declared is not None
    for block in declared.groups():
        for line in block.strip().splitlines():
            assert "\\*" in line, f"every CONSTANT/VARIABLE has a comment: {line!r}"


def test_load_manifest_reports_file_and_line(tmp_path: Path) -> None:
    bad = tmp_path / "manifest.json"
    bad.write_text('{"models": [\n {"name": "X", "module": "X.tla"}\n]}\n')
    with pytest.raises(ToolError) as e:
        tlc.load_manifest(bad)
    assert str(e.value).startswith(f"{bad}:2: error: model X:")
    bad.write_text('{"models": [\n')
    with pytest.raises(ToolError) as e:
        tlc.load_manifest(bad)
    assert str(e.value).startswith(f"{bad}:2: error: not valid JSON")
