"""``gpuvm-check systems [--json]``: every registered system and its checkers."""

from __future__ import annotations

import argparse
import json
from typing import Any, TextIO

from checks.manifest import load_manifest
from checks.systems import SYSTEMS


def describe() -> list[dict[str, Any]]:
    """One record per system: its spec, actions and every item of its manifest."""
    out = []
    for s in SYSTEMS.values():
        m = load_manifest(s)
        out.append({
            "name": s.name,
            "outcome": "pass",
            "spec": s.spec,
            "summary": s.summary,
            "spec_dir": str(s.spec_dir),
            "actions": [a.name for a in s.vocabulary],
            "models": [{"name": x.name, "result": str(x.expected), "runtime": x.runtime}
                       for x in m.models],
            "obligations": [{"name": x.name, "result": str(x.expected), "runtime": x.runtime}
                            for x in m.obligations],
            "machines": [{"name": x.name, "result": str(x.expected), "runtime": x.runtime}
                         for x in m.machines],
            "conform": [{"name": x.name, "kind": x.kind, "runtime": x.runtime}
                        for x in m.conform],
            "mutants": [{"name": x.name, "checkers": list(x.checkers)} for x in m.mutants],
        })
    return out


def cmd_systems(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    systems = describe()
    if args.json:
        out.write(json.dumps({"ok": True, "results": systems}, indent=1) + "\n")
        return 0
    for s in systems:
        out.write(f"{s['name']} ({s['spec']}): {s['summary']}\n")
        out.write(f"  actions    {', '.join(s['actions'])}\n")
        for key in ("models", "obligations", "machines", "conform", "mutants"):
            names = [x["name"] for x in s[key]]
            out.write(f"  {key:<10} {len(names):3}  {', '.join(names[:8])}"
                      f"{' ...' if len(names) > 8 else ''}\n")
    return 0
