"""Regenerate the model-made part of the regression corpus (``tests/corpus/``).

``python tests/make_corpus.py [--tlc]`` writes

- ``documented-cases-<profile>.itf.json``: the sixteen documented split/merge
  cases of :mod:`model.profiles` in one trace per profile.  Case *k* lives
  in its own window of the VA space, ``[16 k, 16 k + 16)``, addresses and
  offsets shifted alike (so every old mapping keeps its base); state 0 is all
  sixteen old layouts, step *k* the request of case *k*.  The model must
  follow it exactly, op lists included.
- with ``--tlc``, ``tlc-<model>.itf.json`` for every failure model of the
  gpuvm manifest that names a model mutant: TLC's counterexample of the
  bad variant, which the real model must refuse and the mutant reproduce.

The ``fuzz-*`` traces are counterexamples of the kill matrix
(``gpuvm-check mutants NAME --out DIR``), copied in by hand.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import model.profiles  # noqa: E402
from checks.replay import recorder  # noqa: E402
from checks.systems import SYSTEMS  # noqa: E402
from checks.systems.gpuvm.diagram import parse_cases  # noqa: E402
from model import Va, VaSpace, profile_by_name  # noqa: E402

CORPUS = ROOT / "tests" / "corpus"
WINDOW = 16


def documented_cases(profile: str) -> Path:
    cases = parse_cases(model.profiles.__doc__ or "")
    vm = VaSpace(0, WINDOW * (len(cases) + 1), profile=profile_by_name(profile))
    old = [Va(v.addr + WINDOW * c.number, v.range, v.gem, v.offset + WINDOW * c.number)
           for c in cases for v in c.old]
    vm.restore({"vas": [v.to_json() for v in old]})
    rec = recorder(SYSTEMS["gpuvm"], vm)
    rec.trace.description = (f"The sixteen documented split/merge cases, profile {profile}: "
                             f"case k in [{WINDOW}k, {WINDOW}k + {WINDOW}), state 0 their "
                             "old layouts, step k its request.")
    for c in cases:
        assert c.req is not None
        base = WINDOW * c.number
        vm.map(c.req.addr + base, c.req.range, c.req.gem, c.req.offset + base)
    return rec.trace.write(CORPUS / f"documented-cases-{profile}.itf.json")


def tlc_counterexamples() -> list[Path]:
    from checks.manifest import load_manifest
    from checks.outcome import Outcome
    from checks.tlc import check_model

    out = []
    for m in load_manifest(SYSTEMS["gpuvm"]).models:
        if m.expected == Outcome.VIOLATION and m.mutant:
            res = check_model(m, out_dir=CORPUS)
            assert res.ok and res.trace is not None, (m.name, res.detail)
            out.append(res.trace)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--tlc", action="store_true", help="also rerun the failure models")
    args = ap.parse_args()
    written = [documented_cases(p) for p in ("upstream", "rfc2023")]
    if args.tlc:
        written += tlc_counterexamples()
    for p in written:
        print(p.relative_to(ROOT))


if __name__ == "__main__":
    main()
