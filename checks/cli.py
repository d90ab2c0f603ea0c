"""``gpuvm-check``: one command line, a subcommand per mode.

Exit codes: 0 everything as expected, 1 findings (an unexpected outcome),
2 usage or tool error.  Each subcommand is ``func(args, out, err) -> int`` in
its own module, so tests call them directly with their own streams.

Any exception that escapes a command is exit 2 with one line, ``internal
error in <command>: <what>`` (the traceback only with ``--debug``): exit 1
means findings only.  SIGTERM is turned into an exception like SIGINT's, so
every running TLC, solver or mutant subprocess group is killed and every
temporary directory removed on the way out.
"""

from __future__ import annotations

import argparse
import functools
import importlib
import math
import os
import signal
import sys
import traceback
from collections.abc import Callable, Sequence
from typing import Any, TextIO

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
    "sched": "checks.sched.suites:cmd_sched",
    "bench": "checks.bench:cmd_bench",
    "systems": "checks.systems_cmd:cmd_systems",
}


class Terminated(BaseException):
    """SIGTERM arrived: unwind like an interrupt, cleaning up on the way."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        raise ToolError(f"{self.prog}: {message}")


def seconds(text: str) -> float:
    """An argument that is a number of seconds: finite and above zero."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds") from None
    if not math.isfinite(value) or value <= 0:
        raise argparse.ArgumentTypeError(f"{text!r}: seconds must be a finite positive number")
    return value


def _at_least(text: str, minimum: int) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an integer") from None
    if value < minimum:
        raise argparse.ArgumentTypeError(f"{text!r}: must be at least {minimum}")
    return value


def natural(text: str) -> int:
    return _at_least(text, 0)


def count(text: str) -> int:
    return _at_least(text, 1)


@functools.lru_cache(maxsize=1)
def build_parser() -> argparse.ArgumentParser:
    p = _Parser(prog="gpuvm-check", description=(
        "Model checks of DRM GPU VM management: the executable model, its TLA+ and Z3 "
        "specifications, and the checks that tie them together."))
    p.add_argument("--debug", action="store_true", help="show the traceback of an internal error")
    sub = p.add_subparsers(dest="command", required=True, parser_class=_Parser)

    def common(sp: argparse.ArgumentParser, out: bool = True) -> None:
        sp.add_argument("--json", action="store_true", help="print one JSON object")
        if out:
            sp.add_argument("--out", default="gpuvm-check-out", help="where counterexamples go")

    sp = sub.add_parser("run", help="the main job: every check at a budget")
    sp.add_argument("systems", nargs="*", metavar="SYSTEM", help="only these systems")
    sp.add_argument("--budget", choices=BUDGETS, default="default")
    sp.add_argument("--workers", type=count, default=2, help="TLC worker threads")
    common(sp)

    sp = sub.add_parser("tlc", help="TLC models of the systems' manifests")
    sp.add_argument("models", nargs="*", metavar="MODEL|SYSTEM")
    sp.add_argument("--all", action="store_true", help="every model of every manifest")
    sp.add_argument("--workers", type=count, default=2)
    sp.add_argument("--timeout", type=seconds, default=None, help="seconds per model")
    sp.add_argument("--record", action="store_true",
                    help="rewrite the manifests' exact state counts with what TLC found")
    sp.add_argument("-n", dest="dry_run", action="store_true",
                    help="print the exact java command lines, run nothing")
    common(sp)

    sp = sub.add_parser("prove", help="Z3 obligations")
    sp.add_argument("obligations", nargs="*", metavar="OBLIGATION")
    sp.add_argument("--timeout", type=seconds, default=None, help="seconds per obligation")
    common(sp)

    sp = sub.add_parser("fuzz", help="Hypothesis state machines")
    sp.add_argument("machines", nargs="*", metavar="MACHINE|SYSTEM")
    sp.add_argument("--seconds", type=seconds, default=20.0)
    sp.add_argument("--seed", type=int, default=0)
    common(sp)

    sp = sub.add_parser("conform", help="model <-> spec, both directions")
    sp.add_argument("specs", nargs="*", metavar="SYSTEM")
    sp.add_argument("--runs", type=count, default=None, help="recorded runs per variant")
    sp.add_argument("--seed", type=int, default=0)
    sp.add_argument("--workers", type=count, default=2)
    common(sp)

    sp = sub.add_parser("replay", help="re-execute a trace on the model")
    sp.add_argument("trace", metavar="TRACE")
    sp.add_argument("--mutant", default=None, help="replay on this model mutant")
    common(sp, out=False)

    sp = sub.add_parser("show", help="render a trace")
    sp.add_argument("trace", metavar="TRACE")
    sp.add_argument("--html", default=None, metavar="FILE", help="write one HTML page")

    sp = sub.add_parser("mutants", help="known-bad variants: the kill matrix")
    sp.add_argument("names", nargs="*", metavar="NAME|SYSTEM")
    sp.add_argument("--system", default=None, help="only this system's mutants")
    sp.add_argument("--seed", type=int, default=0)
    common(sp)

    sp = sub.add_parser("sched", help="the concurrency suites under the schedule explorer")
    sp.add_argument("programs", nargs="*", metavar="SUITE[:PROGRAM]")
    sp.add_argument("--preemptions", type=natural, default=None,
                    help="the preemption bound (default: 2; the userptr suite 1)")
    common(sp)

    sp = sub.add_parser("bench", help="performance figures, as ratios")
    sp.add_argument("target", nargs="?", default="vaspace",
                    choices=("vaspace", "fuzz", "tlc", "prove", "mutants", "sched"))
    sp.add_argument("--quick", action="store_true", help="smaller sizes")
    common(sp, out=False)

    sp = sub.add_parser("systems", help="the registered systems and their checkers")
    common(sp, out=False)
    return p


def check_out(out: str) -> None:
    """``--out`` can be a directory: nothing on its way is a file, and it is writable."""
    path = os.path.abspath(out)
    probe = path
    while not os.path.exists(probe):
        parent = os.path.dirname(probe)
        if parent == probe:
            break
        probe = parent
    if not os.path.isdir(probe):
        raise ToolError(f"--out {out}: {probe} is not a directory", out)
    if not os.access(probe, os.W_OK | os.X_OK):
        raise ToolError(f"--out {out}: {probe} is not writable", out)


def _on_sigterm(signum: int, frame: Any) -> None:
    raise Terminated()


def main(argv: Sequence[str] | None = None, out: TextIO | None = None,
         err: TextIO | None = None) -> int:
    out = out if out is not None else sys.stdout
    err = err if err is not None else sys.stderr
    debug = "--debug" in (sys.argv[1:] if argv is None else list(argv))
    previous = None
    command_name = "gpuvm-check"
    try:
        previous = signal.signal(signal.SIGTERM, _on_sigterm)
    except ValueError:  # not the main thread (a test calling main from a thread)
        previous = None
    try:
        args = build_parser().parse_args(argv)
        command_name = args.command
        if getattr(args, "out", None) is not None:
            check_out(str(args.out))
        module, func = COMMANDS[args.command].split(":")
        command: Command = getattr(importlib.import_module(module), func)
        return command(args, out, err)
    except ToolError as e:
        err.write(f"gpuvm-check: {e}\n")
        return 2
    except KeyboardInterrupt:
        err.write("gpuvm-check: interrupted\n")
        return 2
    except Terminated:
        err.write("gpuvm-check: terminated\n")
        return 2
    except Exception as e:
        if debug:
            traceback.print_exc(file=err)
        first = (str(e).splitlines() or [""])[0][:300]
        err.write(f"gpuvm-check: internal error in {command_name}: {type(e).__name__}: "
                  f"{first}\n")
        return 2
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)
