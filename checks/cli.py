"""``gpuvm-check``: one command line, a subcommand per mode.

Exit codes: 0 everything as expected, 1 findings (an unexpected outcome),
2 usage or tool error.  Each subcommand is ``func(args, out, err) -> int`` in
its own module, so tests call them directly with their own streams.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Callable, Sequence
from typing import TextIO

from checks.outcome import ToolError

Command = Callable[[argparse.Namespace, TextIO, TextIO], int]

BUDGETS = ("quick", "default", "thorough")

#: subcommand -> "module:function"
COMMANDS = {
    "run": "checks.run:cmd_run",
    "tlc": "checks.tlc:cmd_tlc",
    "prove": "checks.prove:cmd_prove",
    "fuzz": "checks.fuzz:cmd_fuzz",
    "conform": "checks.conform:cmd_conform",
    "replay": "checks.replay_cmd:cmd_replay",
    "show": "checks.replay_cmd:cmd_show",
    "mutants": "checks.mutants:cmd_mutants",
    "bench": "checks.bench:cmd_bench",
}


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        raise ToolError(f"{self.prog}: {message}")


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(prog="gpuvm-check", description=(
        "Model checks of DRM GPU VM management: the executable model, its TLA+ and Z3 "
        "specifications, and the checks that tie them together."))
    sub = p.add_subparsers(dest="command", required=True, parser_class=_Parser)

    def common(sp: argparse.ArgumentParser) -> None:
        sp.add_argument("--json", action="store_true", help="print one JSON object")

    sp = sub.add_parser("run", help="the main job: every check at a budget")
    sp.add_argument("--budget", choices=BUDGETS, default="default")
    sp.add_argument("--out", default="gpuvm-check-out", help="where counterexamples go")
    sp.add_argument("--workers", type=int, default=2, help="TLC worker threads")
    common(sp)

    sp = sub.add_parser("tlc", help="TLC models from specs/manifest.json")
    sp.add_argument("models", nargs="*", metavar="MODEL")
    sp.add_argument("--all", action="store_true", help="every model in the manifest")
    sp.add_argument("--workers", type=int, default=2)
    sp.add_argument("--timeout", type=float, default=None, help="seconds per model")
    sp.add_argument("--out", default="gpuvm-check-out", help="where counterexamples go")
    sp.add_argument("-n", dest="dry_run", action="store_true",
                    help="print the exact java command lines, run nothing")
    common(sp)

    sp = sub.add_parser("prove", help="Z3 obligations")
    sp.add_argument("obligations", nargs="*", metavar="OBLIGATION")
    sp.add_argument("--timeout", type=float, default=None, help="seconds per obligation")
    sp.add_argument("--out", default="gpuvm-check-out", help="where counterexamples go")
    common(sp)

    sp = sub.add_parser("fuzz", help="Hypothesis state machines")
    sp.add_argument("machines", nargs="*", metavar="MACHINE")
    sp.add_argument("--seconds", type=float, default=20.0)
    sp.add_argument("--seed", type=int, default=0)
    sp.add_argument("--out", default="gpuvm-check-out", help="where counterexamples go")
    common(sp)

    sp = sub.add_parser("conform", help="model <-> spec, both directions")
    sp.add_argument("specs", nargs="*", metavar="SPEC")
    sp.add_argument("--runs", type=int, default=None, help="state-machine runs to validate")
    sp.add_argument("--seed", type=int, default=0)
    sp.add_argument("--workers", type=int, default=2)
    sp.add_argument("--out", default="gpuvm-check-out", help="where divergences go")
    common(sp)

    sp = sub.add_parser("replay", help="re-execute a trace on the model")
    sp.add_argument("trace", metavar="TRACE")
    sp.add_argument("--mutant", default=None, help="replay on this model mutant")
    common(sp)

    sp = sub.add_parser("show", help="render a trace")
    sp.add_argument("trace", metavar="TRACE")
    sp.add_argument("--html", default=None, metavar="FILE", help="write one HTML page")

    sp = sub.add_parser("mutants", help="known-bad variants: the kill matrix")
    sp.add_argument("names", nargs="*", metavar="NAME")
    sp.add_argument("--seed", type=int, default=0)
    sp.add_argument("--out", default="gpuvm-check-out", help="where counterexamples go")
    common(sp)

    sp = sub.add_parser("bench", help="performance figures, as ratios")
    sp.add_argument("target", nargs="?", default="vaspace",
                    choices=("vaspace", "fuzz", "tlc", "prove", "mutants"))
    sp.add_argument("--quick", action="store_true", help="smaller sizes")
    common(sp)
    return p


def main(argv: Sequence[str] | None = None, out: TextIO | None = None,
         err: TextIO | None = None) -> int:
    out = out if out is not None else sys.stdout
    err = err if err is not None else sys.stderr
    try:
        args = build_parser().parse_args(argv)
        module, func = COMMANDS[args.command].split(":")
        command: Command = getattr(importlib.import_module(module), func)
        return command(args, out, err)
    except ToolError as e:
        err.write(f"gpuvm-check: {e}\n")
        return 2
    except KeyboardInterrupt:
        err.write("gpuvm-check: interrupted\n")
        return 2
