"""The regression corpus: every trace under tests/corpus/ is replayed.

``tests/make_corpus.py`` regenerates the documented-case and TLC traces.

A trace whose ``#meta`` names a ``mutant`` is a counterexample of that
known-bad variant: the real model must refuse it (diverge or break an
invariant) and the mutant must reproduce it.  Any other trace is a
behaviour the model must follow exactly.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from checks.replay_cmd import replay_any
from checks.traces import read_trace

CORPUS = sorted((Path(__file__).parent / "corpus").glob("*.itf.json"))


def _mutant(path: Path) -> str | None:
    meta = json.loads(path.read_text()).get("#meta", {})
    name = meta.get("mutant")
    return str(name) if name else None


def test_corpus_is_not_empty() -> None:
    assert CORPUS


@pytest.mark.parametrize("path", CORPUS, ids=[p.name for p in CORPUS])
def test_corpus_trace(path: Path) -> None:
    report = replay_any(read_trace(path), str(path))
    if _mutant(path) is None:
        assert report.clean, (report.divergence and report.divergence.describe(),
                              report.violation)
    else:
        assert not report.clean, "the real model follows a known-bad counterexample"


MUTANT_TRACES = [p for p in CORPUS if _mutant(p) is not None]


@pytest.mark.parametrize("path", MUTANT_TRACES, ids=[p.name for p in MUTANT_TRACES])
def test_corpus_counterexample_reproduces_on_its_mutant(path: Path) -> None:
    from checks.mutants import run_on_mutant

    mutant = _mutant(path)
    assert mutant is not None
    proc = run_on_mutant(mutant, ["replay", str(path), "--json"], timeout=120)
    doc = json.loads(proc.stdout)
    result = doc["results"][0]
    # the mutant either follows the whole trace or breaks an invariant at its last step
    assert result["outcome"] == "pass" or result["reproduced"], proc.stdout
