"""The TLC runner: the models of ``specs/manifest.json``, run and judged.

``gpuvm-check tlc [MODEL ... | --all] [--workers N] [--timeout S] [-n] [--json] [--out DIR]``

Each model is one ``MC*.tla`` module with one ``.cfg``.  TLC 2.15 runs in
tool mode (``-tool``), which frames every message as a numbered block::

    @!@!@STARTMSG 2110:1 @!@!@
    Invariant TranslationInv is violated.
    @!@!@ENDMSG 2110 @!@!@

and the runner reads the blocks into one closed :class:`Outcome`
(``pass``, ``violation``, ``deadlock``, ``liveness``, ``timeout``,
``tool_error``), the statistics (distinct and total states, depth, seconds)
and the counterexample, which it writes as an ITF trace under ``--out``.
TLC's metadata goes to a temporary directory, never into the repository;
the JVM is killed when the hard timeout passes.  A spec that does not parse
is a :class:`ToolError` at the ``file:line`` SANY names.

The manifest is the oracle: a model's outcome, the invariant it violates and,
for small exhaustive models, the exact distinct and total state counts must
match it, or the result is not ok (exit 1).
"""

from __future__ import annotations

import argparse
import json
import os
import queue
import re
import shlex
import shutil
import signal
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

from checks.java import toolchain
from checks.outcome import Outcome, Result, ToolError, load_json
from checks.report import emit, progress, progress_done
from checks.traces import Step, Trace

SPECS_DIR = Path(__file__).resolve().parent.parent / "specs"
MANIFEST = SPECS_DIR / "manifest.json"

MODES = ("exhaustive", "simulate")
RUNTIME_CLASSES = ("small", "medium", "large")
#: Default hard timeout per model, by runtime class (seconds).
TIMEOUTS = {"small": 120.0, "medium": 600.0, "large": 3600.0}
#: Runtime classes run by ``gpuvm-check run`` at each budget.
BUDGET_CLASSES = {"quick": ("small",), "default": ("small", "medium"),
                  "thorough": ("small", "medium", "large")}

# TLC message codes (tlc2.output.EC / MP) the runner acts on.
MSG_STARTING = 2185
MSG_FINISHED = 2186
MSG_STATS = 2199
MSG_DEPTH = 2194
MSG_PROGRESS = (2200, 2209)
MSG_INVARIANT = (2107, 2110)
MSG_ACTION_PROPERTY = 2112
MSG_DEADLOCK = 2114
MSG_LIVENESS = (2116, 2117)
MSG_STATE = 2217
MSG_PARSE_FAILED = 3002
LEVEL_ERROR = 1

_MARK = re.compile(r"@!@!@(?:STARTMSG (\d+):(\d+)|ENDMSG (\d+)) @!@!@")


# ------------------------------------------------------------------ TLA+ values

_TOKEN = re.compile(r'\s*("(?:[^"\\]|\\.)*"|<<|>>|\|->|:>|@@|-?\d+|[A-Za-z_][A-Za-z0-9_]*|\S)')
_STRING = re.compile(r'"(?:[^"\\]|\\.)*"')
_UNSAFE = re.compile(r"[\[\]{}<>|\\]|TRUE|FALSE")
_FIELD = re.compile(r"([A-Za-z_][A-Za-z0-9_]*) \|->")


class _ValueParser:
    """Recursive descent over TLC's printed values."""

    def __init__(self, text: str) -> None:
        self.tokens = [m.group(1) for m in _TOKEN.finditer(text)]
        self.pos = 0

    def peek(self) -> str:
        return self.tokens[self.pos] if self.pos < len(self.tokens) else ""

    def take(self, want: str | None = None) -> str:
        tok = self.peek()
        if want is not None and tok != want:
            raise ValueError(f"expected {want!r}, found {tok or 'end of value'!r}")
        self.pos += 1
        return tok

    def items(self, close: str) -> list[Any]:
        out: list[Any] = []
        if self.peek() == close:
            self.take()
            return out
        while True:
            out.append(self.value())
            sep = self.take()
            if sep == close:
                return out
            if sep != ",":
                raise ValueError(f"expected ',' or {close!r}, found {sep or 'end of value'!r}")

    def value(self) -> Any:
        tok = self.take()
        if tok == "<<":
            return self.items(">>")
        if tok == "{":
            return self.items("}")
        if tok == "[":
            rec: dict[str, Any] = {}
            if self.peek() == "]":
                self.take()
                return rec
            while True:
                name = self.take()
                self.take("|->")
                rec[name] = self.value()
                sep = self.take()
                if sep == "]":
                    return rec
                if sep != ",":
                    raise ValueError("expected ',' or ']' in a record")
        if tok == "(":
            fun: dict[Any, Any] = {}
            while True:
                key = self.value()
                self.take(":>")
                fun[key if isinstance(key, int | str) else json.dumps(key)] = self.value()
                sep = self.take()
                if sep == ")":
                    return fun
                if sep != "@@":
                    raise ValueError("expected '@@' or ')' in a function")
        if tok.startswith('"'):
            return tok[1:-1].replace('\\"', '"').replace("\\\\", "\\")
        if tok == "TRUE":
            return True
        if tok == "FALSE":
            return False
        if re.fullmatch(r"-?\d+", tok):
            return int(tok)
        if tok and (tok[0].isalpha() or tok[0] == "_"):
            return tok  # a model value
        raise ValueError(f"unexpected {tok or 'end of value'!r}")


def tla_value(text: str) -> Any:
    """A value as TLC prints it -> plain data.

    Records become dicts, tuples and sets lists, functions ``(k :> v @@ ...)``
    dicts, strings, integers and booleans themselves.  ``ValueError`` if the
    text is not a value.
    """
    if "(" not in text and "{" not in text and not any(
            _UNSAFE.search(lit) for lit in _STRING.findall(text)):
        fast = text.replace("<<", "\x01").replace(">>", "\x02")
        fast = _FIELD.sub(r'"\1":', fast.replace("[", "{").replace("]", "}"))
        fast = fast.replace("\x01", "[").replace("\x02", "]")
        fast = fast.replace("TRUE", "true").replace("FALSE", "false")
        try:
            return json.loads(fast)
        except json.JSONDecodeError:
            pass
    parser = _ValueParser(text)
    value = parser.value()
    if parser.pos != len(parser.tokens):
        raise ValueError(f"trailing text after the value: {parser.peek()!r}")
    return value


# ------------------------------------------------------------------- manifest

@dataclass(frozen=True)
class Model:
    """One entry of ``specs/manifest.json``."""

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
        return SPECS_DIR / self.module

    @property
    def cfg_path(self) -> Path:
        return SPECS_DIR / self.cfg


def _where(text: str, path: Path, needle: str) -> str:
    line = next((i for i, t in enumerate(text.splitlines(), 1) if needle in t), 1)
    return f"{path}:{line}"


def load_manifest(path: Path | None = None) -> list[Model]:
    """Read and check the manifest; :class:`ToolError` at ``file:line`` if malformed."""
    path = MANIFEST if path is None else path
    doc = load_json(path, "the manifest")
    text = path.read_text()  # to name the line of a bad entry
    if not isinstance(doc, dict) or not isinstance(doc.get("models"), list):
        raise ToolError('the manifest must be an object with a "models" list', str(path))
    models: list[Model] = []
    seen: set[str] = set()
    for i, raw in enumerate(doc["models"]):
        name = raw.get("name") if isinstance(raw, dict) else None
        where = _where(text, path, f'"{name}"') if isinstance(name, str) else str(path)
        if not isinstance(raw, dict) or not isinstance(name, str):
            raise ToolError(f"model {i} has no name", where)
        try:
            m = _model(raw)
        except (KeyError, TypeError, ValueError) as e:
            raise ToolError(f"model {name}: {e}", where) from None
        if name in seen:
            raise ToolError(f"model {name} appears twice", where)
        seen.add(name)
        models.append(m)
    return models


def _model(raw: dict[str, Any]) -> Model:
    def opt_int(key: str) -> int | None:
        v = raw.get(key)
        if v is not None and (not isinstance(v, int) or isinstance(v, bool) or v < 0):
            raise ValueError(f'"{key}" must be a non-negative integer')
        return v

    mode = raw["mode"]
    if mode not in MODES:
        raise ValueError(f'"mode" must be one of {", ".join(MODES)}')
    runtime = raw["runtime"]
    if runtime not in RUNTIME_CLASSES:
        raise ValueError(f'"runtime" must be one of {", ".join(RUNTIME_CLASSES)}')
    expected = Outcome(raw["result"])
    violated = raw.get("violated")
    if (expected == Outcome.VIOLATION) != isinstance(violated, str):
        raise ValueError('"violated" names the invariant exactly when "result" is "violation"')
    for key in ("module", "cfg"):
        if not isinstance(raw[key], str):
            raise ValueError(f'"{key}" must be a file name')
    seconds = raw.get("simulate_seconds")
    if seconds is not None and not isinstance(seconds, int | float):
        raise ValueError('"simulate_seconds" must be a number')
    mutant = raw.get("mutant")
    return Model(
        name=raw["name"], module=raw["module"], cfg=raw["cfg"], mode=mode,
        expected=expected, runtime=runtime, violated=violated,
        distinct_states=opt_int("distinct_states"), total_states=opt_int("total_states"),
        depth=opt_int("depth"), check_deadlock=bool(raw.get("check_deadlock", False)),
        workers=opt_int("workers"), simulate_depth=opt_int("simulate_depth"),
        simulate_seconds=None if seconds is None else float(seconds),
        mutant=mutant if isinstance(mutant, str) else None,
        description=str(raw.get("description", "")),
    )


def select_models(names: Sequence[str], all_models: bool,
                  path: Path | None = None) -> list[Model]:
    models = load_manifest(path)
    if all_models or not names:
        if not all_models:
            raise ToolError("name a MODEL or pass --all (models: "
                            + ", ".join(m.name for m in models) + ")")
        return models
    by_name = {m.name: m for m in models}
    unknown = [n for n in names if n not in by_name]
    if unknown:
        raise ToolError(f"unknown model(s) {', '.join(unknown)} (known: {', '.join(by_name)})")
    return [by_name[n] for n in names]


def cfg_constants(cfg: Path) -> dict[str, Any]:
    """The ``NAME = value`` constants of a ``.cfg`` (integers and strings only)."""
    try:
        text = cfg.read_text()
    except OSError as e:
        raise ToolError(f"cannot read config: {e.strerror}", str(cfg)) from None
    out: dict[str, Any] = {}
    for m in re.finditer(r'^\s*([A-Za-z_]\w*)\s*=\s*(-?\d+|"[^"]*")\s*(?:\\\*.*)?$', text,
                         re.MULTILINE):
        raw = m.group(2)
        out[m.group(1)] = int(raw) if raw[0] != '"' else raw[1:-1]
    return out


# -------------------------------------------------------------------- running

@dataclass
class TlcState:
    """One state of a counterexample: its number, action and variables (TLA+ text)."""

    number: int
    action: str
    values: dict[str, str]


@dataclass
class TlcRun:
    """What one TLC invocation gave."""

    outcome: Outcome
    seconds: float
    startup: float | None = None
    distinct: int | None = None
    total: int | None = None
    depth: int | None = None
    violated: str | None = None
    message: str = ""
    where: str | None = None
    states: list[TlcState] = field(default_factory=list)
    prints: list[str] = field(default_factory=list)
    command: list[str] = field(default_factory=list)


def _int(text: str) -> int:
    return int(text.replace(",", ""))


def tlc_command(spec: Path, cfg: Path, workdir: Path, *, workers: int = 1,
                mode: str = "exhaustive", depth: int | None = None,
                check_deadlock: bool = False, seed: int = 0,
                stop_after: float | None = None) -> list[str]:
    """The exact java command line for one TLC run (metadata under ``workdir``)."""
    tools = toolchain()
    cmd = [tools.java, f"-Djava.io.tmpdir={workdir}"]
    if stop_after is not None:
        cmd.append(f"-Dtlc2.TLC.stopAfter={max(1, round(stop_after))}")
    cmd += tools.tlc_prefix()[1:]
    # TLC 2.15 reads -config relative to the spec's directory.
    config = os.path.relpath(cfg, spec.parent)
    cmd += ["-tool", "-workers", str(max(1, workers)), "-config", config,
            "-metadir", str(workdir / "states")]
    if not check_deadlock:
        cmd.append("-deadlock")
    if mode == "simulate":
        cmd += ["-simulate", "-depth", str(depth or 100), "-seed", str(seed)]
    cmd.append(str(spec))
    return cmd


def _location_from_sany(lines: Sequence[str], spec_dir: Path) -> tuple[str, str]:
    """(where, message) of the first SANY error in the plain output."""
    module_file: str | None = None
    for i, line in enumerate(lines):
        m = re.match(r"Parsing file (.+\.tla)$", line.strip())
        if m:
            module_file = m.group(1)
        if "***Parse Error***" in line:
            detail = next((t.strip() for t in lines[i + 1:] if t.strip()), "parse error")
            loc = re.search(r"line (\d+), column (\d+)", detail)
            where = f"{module_file or spec_dir}:{loc.group(1) if loc else 1}"
            detail = re.sub(r"\s+", " ", detail)
            return where, f"parse error: {detail}"
        if line.strip().startswith("Semantic errors:") or line.strip().startswith("*** Errors:"):
            for j in range(i + 1, len(lines)):
                loc = re.match(r"\s*line (\d+), col (\d+) to .* of module (\w+)", lines[j])
                if loc:
                    msg = next((t.strip() for t in lines[j + 1:] if t.strip()), "semantic error")
                    return (f"{spec_dir / (loc.group(3) + '.tla')}:{loc.group(1)}",
                            f"semantic error: {msg}")
        m = re.search(r"Cannot find source file for module (\w+)", line)
        if m:
            return str(spec_dir), f"cannot find module {m.group(1)}"
    tail = " ".join(t.strip() for t in lines if t.strip())[-300:]
    return str(module_file or spec_dir), f"SANY failed: {tail}"


class _Reader:
    """Turns TLC's tool-mode output into messages, prints and a verdict."""

    def __init__(self, on_print: Callable[[str], None] | None,
                 on_progress: Callable[[str], None] | None) -> None:
        self.stack: list[tuple[int, int, list[str]]] = []
        self.messages: list[tuple[int, int, str]] = []
        self.plain: list[str] = []
        self.prints: list[str] = []
        self.on_print = on_print
        self.on_progress = on_progress
        self.sany_done = False
        self.started_at: float | None = None

    def feed(self, line: str) -> None:
        line = line.rstrip("\n")
        pos = 0
        for m in _MARK.finditer(line):
            self._text(line[pos:m.start()], partial=True)
            pos = m.end()
            if m.group(1) is not None:
                self.stack.append((int(m.group(1)), int(m.group(2)), []))
            elif self.stack:
                code, level, body = self.stack.pop()
                text = "\n".join(body).strip("\n")
                self._message(code, level, text)
                if self.stack:
                    self.stack[-1][2].append(text)
        self._text(line[pos:], partial=pos > 0)

    def _text(self, text: str, partial: bool) -> None:
        if partial and not text.strip():
            return
        if self.stack:
            self.stack[-1][2].append(text)
        elif self.sany_done and text.startswith('"@'):
            body = text[1:-1] if text.endswith('"') else text[1:]
            if self.on_print is not None:
                self.on_print(body.replace('\\"', '"'))
            else:
                self.prints.append(body.replace('\\"', '"'))
        else:
            self.plain.append(text)

    def _message(self, code: int, level: int, text: str) -> None:
        self.messages.append((code, level, text))
        if code == 2219:
            self.sany_done = True
        elif code == MSG_STARTING:
            self.started_at = time.monotonic()
        elif code in MSG_PROGRESS and self.on_progress is not None:
            self.on_progress(text)


def _assignments(body: Sequence[str]) -> dict[str, str]:
    """``/\\ name = value`` lines (values may continue on indented lines)."""
    values: dict[str, str] = {}
    current: str | None = None
    conj = any(t.startswith("/\\ ") for t in body)
    for t in body:
        m = re.match(r"(?:/\\ )?([A-Za-z_]\w*) = (.*)$", t) if (
            not conj or t.startswith("/\\ ")) else None
        if m:
            current = m.group(1)
            values[current] = m.group(2)
        elif current is not None and t.strip():
            values[current] += " " + t.strip()
    return values


def _states(messages: Iterable[tuple[int, int, str]]) -> list[TlcState]:
    out: list[TlcState] = []
    for code, _, text in messages:
        lines = text.splitlines()
        if code == MSG_INVARIANT[0] and len(lines) > 1:  # violated by an initial state
            out.append(TlcState(1, "Init", _assignments(lines[1:])))
            continue
        if code != MSG_STATE:
            continue
        head = re.match(r"(\d+): (?:<([^\s>]+)|(\w+))", lines[0]) if lines else None
        if head is None:
            continue
        action = head.group(2) or head.group(3) or "?"
        if action == "Initial":
            action = "Init"
        out.append(TlcState(int(head.group(1)), action, _assignments(lines[1:])))
    return out


_BOILERPLATE = ("TLC threw an unexpected exception", "probably caused by an error",
                "See the User Output")


def _verdict(run: TlcRun, reader: _Reader, returncode: int, spec_dir: Path) -> None:
    """Fill outcome, statistics and message from the messages read."""
    finished = False
    errors: list[tuple[int, str]] = []
    for code, level, text in reader.messages:
        first = text.strip().splitlines()[0] if text.strip() else ""
        if code == MSG_STATS:
            m = re.search(r"([\d,]+) states generated, ([\d,]+) distinct states found", text)
            if m:
                run.total, run.distinct = _int(m.group(1)), _int(m.group(2))
        elif code in MSG_PROGRESS:
            m = re.search(r"([\d,]+) states generated", text)
            if m and run.total is None:
                run.total = _int(m.group(1))
            if code == 2209 and m:
                run.total = _int(m.group(1))
        elif code == MSG_DEPTH:
            m = re.search(r"is (\d+)", text)
            if m:
                run.depth = int(m.group(1))
        elif code == MSG_FINISHED:
            finished = True
        elif code in MSG_INVARIANT:
            m = re.search(r"Invariant (\S+) is violated", text)
            run.outcome, run.violated = Outcome.VIOLATION, m.group(1) if m else None
            run.message = first
        elif code == MSG_ACTION_PROPERTY:
            m = re.search(r"Action property (\S+) is violated", text)
            run.outcome, run.violated = Outcome.VIOLATION, m.group(1) if m else None
            run.message = first
        elif code == MSG_DEADLOCK:
            run.outcome, run.message = Outcome.DEADLOCK, first or "Deadlock reached."
        elif code in MSG_LIVENESS:
            run.outcome, run.message = Outcome.LIVENESS, first
        elif code == MSG_PARSE_FAILED:
            where, message = _location_from_sany(reader.plain, spec_dir)
            raise ToolError(message, where)
        elif level == LEVEL_ERROR and code not in (2121, 2103):
            errors.append((code, text))
    if errors:
        code, text = errors[0]
        flat = " ".join(t.strip().lstrip(": ") for t in text.splitlines()
                        if t.strip() and not t.startswith("@!@!@") and not any(
                            b in t for b in _BOILERPLATE))
        run.outcome = Outcome.TOOL_ERROR
        run.message = f"TLC error {code}: {flat}"[:500]
        for c, _, t in reader.messages:
            if c == 2103:
                locs = re.findall(r"[Ll]ine (\d+), column \d+ to line \d+, column \d+ in (\w+)", t)
                if locs:
                    line, module = locs[-1]
                    run.where = f"{spec_dir / (module + '.tla')}:{line}"
    elif run.outcome == Outcome.TOOL_ERROR and finished:
        run.outcome = Outcome.PASS
    elif run.outcome == Outcome.TOOL_ERROR:
        tail = [t.strip() for t in reader.plain if t.strip()][-3:]
        run.message = (f"TLC exited with code {returncode} without a verdict"
                       + (f": {' '.join(tail)}" if tail else ""))[:500]
    run.states = _states(reader.messages)
    run.prints = reader.prints


def run_tlc(spec: Path, cfg: Path, *, workers: int = 1, mode: str = "exhaustive",
            depth: int | None = None, check_deadlock: bool = False, seed: int = 0,
            stop_after: float | None = None, timeout: float = 600.0,
            on_print: Callable[[str], None] | None = None,
            label: str = "", err: TextIO | None = None) -> TlcRun:
    """Run TLC once, with a hard timeout, and read its verdict.

    Lines that TLC prints with ``PrintT("@...")`` after parsing go to
    ``on_print`` (or are kept in :attr:`TlcRun.prints`).  A spec that does
    not parse raises :class:`ToolError`; Java or the jar missing too.
    """
    for path in (spec, cfg):
        if not path.is_file():
            raise ToolError("no such file", str(path))
    workdir = Path(tempfile.mkdtemp(prefix="gpuvm-check-tlc-"))
    cmd = tlc_command(spec, cfg, workdir, workers=workers, mode=mode, depth=depth,
                      check_deadlock=check_deadlock, seed=seed, stop_after=stop_after)
    start = time.monotonic()

    def show(text: str) -> None:
        if err is not None:
            m = re.search(r"([\d,]+) states generated.*?([-\d,]+) distinct", text)
            counts = f": {m.group(1)} states, {m.group(2)} distinct" if m else ""
            progress(err, f"tlc {label}{counts} ({time.monotonic() - start:.0f} s)")

    reader = _Reader(on_print, show)
    run = TlcRun(Outcome.TOOL_ERROR, 0.0, command=cmd)
    try:
        try:
            proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                    text=True, cwd=workdir, start_new_session=True)
        except OSError as e:
            raise ToolError(f"cannot run Java {cmd[0]}: {e.strerror}") from None
        lines: queue.Queue[str | None] = queue.Queue()

        def pump() -> None:
            assert proc.stdout is not None
            for line in proc.stdout:
                lines.put(line)
            lines.put(None)

        threading.Thread(target=pump, daemon=True).start()
        timed_out = False
        last_shown = start
        try:
            while True:
                left = start + timeout - time.monotonic()
                if left <= 0:
                    timed_out = True
                    break
                try:
                    line = lines.get(timeout=min(1.0, left))
                except queue.Empty:
                    line = ""
                if line is None:
                    break
                if line:
                    reader.feed(line)
                now = time.monotonic()
                if err is not None and now - last_shown >= 1.0:
                    progress(err, f"tlc {label} ({now - start:.0f} s)")
                    last_shown = now
        except BaseException:
            _kill(proc)
            proc.wait()
            raise
        if timed_out:
            _kill(proc)
        returncode = proc.wait()
        run.seconds = time.monotonic() - start
        if reader.started_at is not None:
            run.startup = reader.started_at - start
        if timed_out:
            run.outcome = Outcome.TIMEOUT
            run.message = f"TLC timed out after {timeout:g} s (JVM killed)"
            run.where = str(cfg)
            run.states = []
            return run
        _verdict(run, reader, returncode, spec.parent)
        if run.outcome == Outcome.TOOL_ERROR and run.where is None:
            run.where = str(cfg)
        return run
    finally:
        if err is not None:
            progress_done(err)
        shutil.rmtree(workdir, ignore_errors=True)


def _kill(proc: subprocess.Popen[str]) -> None:
    """Kill the JVM we started (its own process group)."""
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        proc.kill()


# ------------------------------------------------- GpuVm states -> ITF traces

GPUVM_VARS = ("vas", "lastOps", "lastErr")


def _gem(g: Any, null_gem: str) -> Any:
    return None if g == null_gem else g


def _va(v: Any, null_gem: str) -> list[Any]:
    return [v[0], v[1], _gem(v[2], null_gem), v[3]]


def _piece(p: Any, null_gem: str) -> list[Any] | None:
    return None if p in ([], {}) else _va(p, null_gem)


def abstract_op(op: dict[str, Any], null_gem: str) -> dict[str, Any]:
    """A spec op record -> the model's ``to_json()`` of that op."""
    kind = op["op"]
    if kind == "map":
        return {"op": "map", "addr": op["addr"], "range": op["range"],
                "gem": _gem(op["gem"], null_gem), "offset": op["offset"]}
    if kind == "unmap":
        return {"op": "unmap", "va": _va(op["va"], null_gem), "keep": op["keep"]}
    if kind == "remap":
        return {"op": "remap", "va": _va(op["va"], null_gem), "keep": op["keep"],
                "prev": _piece(op["prev"], null_gem), "next": _piece(op["next"], null_gem)}
    return {"op": kind, "va": _va(op["va"], null_gem)}


def abstract_state(vas: Any, ops: Any, err: Any, null_gem: str) -> dict[str, Any]:
    """The spec's ``vas``/``lastOps``/``lastErr`` -> ``checks.traces.state_of()`` form."""
    return {"vas": [_va(v, null_gem) for v in vas],
            "lastOps": [abstract_op(op, null_gem) for op in ops],
            "lastErr": err}


def abstract_act(act: Any, null_gem: str) -> tuple[str, dict[str, Any]]:
    """The spec's ``lastAct`` -> (action name, args as the model's tracer gives them)."""
    args = act.get("args") if isinstance(act, dict) else None
    args = dict(args) if isinstance(args, dict) else {}
    if "gem" in args:
        args["gem"] = _gem(args["gem"], null_gem)
    return str(act.get("name", "?")) if isinstance(act, dict) else "?", args


def vm_config_of(constants: dict[str, Any]) -> dict[str, Any]:
    """The ``#meta.config`` of a trace from a GpuVm model's constants."""
    return {"mm_start": constants.get("MmStart", 0), "mm_range": constants.get("MmRange", 0),
            "reserve_offset": constants.get("KernelAddr", 0),
            "reserve_range": constants.get("KernelRange", 0),
            "regions": False, "profile": constants.get("Profile", "upstream")}


def gpuvm_trace(states: Sequence[TlcState], constants: dict[str, Any],
                description: str) -> Trace:
    """A TLC counterexample of a GpuVm model -> an ITF trace the model replays."""
    null_gem = str(constants.get("NullGem", "NULL"))
    trace = Trace(spec="GpuVm", config=vm_config_of(constants), source="tlc",
                  description=description)
    for i, s in enumerate(states):
        try:
            values = {k: tla_value(v) for k, v in s.values.items()
                      if k in (*GPUVM_VARS, "lastAct")}
            state = abstract_state(values["vas"], values["lastOps"], values["lastErr"],
                                   null_gem)
            action, args = abstract_act(values.get("lastAct", {}), null_gem)
        except (KeyError, TypeError, ValueError, IndexError) as e:
            raise ToolError(f"cannot read TLC's state {s.number}: {e}") from None
        if i == 0:
            action, args = "Init", {}
        trace.steps.append(Step(i, action, args, state))
    return trace


# ---------------------------------------------------------------- model checks

class ModelResult(Result):
    """A model's result: also not ok when it differs from the manifest's record."""

    mismatch: str = ""

    @property
    def ok(self) -> bool:
        return self.outcome == self.expected and not self.mismatch


def _workers_for(model: Model, workers: int) -> int:
    return max(1, min(workers, model.workers) if model.workers else workers)


def command_for(model: Model, workers: int, workdir: Path) -> list[str]:
    return tlc_command(model.spec_path, model.cfg_path, workdir,
                       workers=_workers_for(model, workers), mode=model.mode,
                       depth=model.simulate_depth, check_deadlock=model.check_deadlock,
                       stop_after=model.simulate_seconds)


def check_model(model: Model, *, workers: int = 2, timeout: float | None = None,
                out_dir: Path | None = None, err: TextIO | None = None) -> ModelResult:
    """Run one manifest model and compare it with its manifest record."""
    limit = timeout if timeout is not None else TIMEOUTS[model.runtime]
    run = run_tlc(model.spec_path, model.cfg_path, workers=_workers_for(model, workers),
                  mode=model.mode, depth=model.simulate_depth,
                  check_deadlock=model.check_deadlock, stop_after=model.simulate_seconds,
                  timeout=limit, label=model.name, err=err)
    figures: dict[str, Any] = {"distinct_states": run.distinct, "total_states": run.total,
                               "depth": run.depth}
    if run.violated:
        figures["violated"] = run.violated
    if run.startup is not None:
        figures["startup_s"] = round(run.startup, 2)
    result = ModelResult(model.name, run.outcome, run.seconds, expected=model.expected,
                         figures=figures)
    problems: list[str] = []
    if run.outcome in (Outcome.TOOL_ERROR, Outcome.TIMEOUT):
        result.detail = f"{run.where or model.cfg_path}: error: {run.message}"
        return result
    if run.outcome == model.expected == Outcome.VIOLATION and run.violated != model.violated:
        problems.append(f"violates {run.violated}, the manifest expects {model.violated}")
    if run.outcome == Outcome.PASS and model.expected == Outcome.PASS:
        for label, got, want in (("distinct", run.distinct, model.distinct_states),
                                 ("total", run.total, model.total_states),
                                 ("depth", run.depth, model.depth)):
            if want is not None and got != want:
                problems.append(f"{label} states {got}, the manifest records {want}"
                                if label != "depth" else
                                f"depth {got}, the manifest records {want}")
    result.mismatch = "; ".join(problems)
    if problems:
        figures["mismatch"] = result.mismatch
    lines = [result.mismatch] if problems else []
    if run.outcome != Outcome.PASS:
        lines.append(run.message)
    if run.states and out_dir is not None:
        constants = cfg_constants(model.cfg_path)
        trace = gpuvm_trace(run.states, constants,
                            f"{model.name}: {run.message}" + (
                                f" (model mutant: {model.mutant})" if model.mutant else ""))
        if model.mutant:
            trace.meta["mutant"] = model.mutant
        path = trace.write(out_dir / f"tlc-{model.name}.itf.json")
        result.trace = path
        figures["trace_len"] = len(trace.steps)
        lines.append(_print_trace(trace))
        lines.append(f"trace: {path}")
        if model.mutant:
            lines.append(f"replay: python3 -m checks replay {path} --mutant {model.mutant}")
    result.detail = "\n".join(t for t in lines if t)
    return result


def _print_trace(trace: Trace) -> str:
    out = []
    for s in trace.steps[1:]:
        args = ", ".join(f"{k}={json.dumps(v)}" for k, v in s.args.items())
        ops = json.dumps(s.state.get("lastOps"))
        out.append(f"  {s.index}. {s.action}({args}) -> {s.state.get('lastErr')} {ops}")
    return "\n".join(out)


def check_models(models: Sequence[Model], *, workers: int, timeout: float | None,
                 out_dir: Path | None, err: TextIO | None) -> list[Result]:
    return [check_model(m, workers=workers, timeout=timeout, out_dir=out_dir, err=err)
            for m in models]


FIGURES = ("distinct_states", "total_states", "depth", "violated")


def cmd_tlc(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    """``gpuvm-check tlc``: run manifest models; exit 1 on any mismatch, 2 on tool errors."""
    models = select_models(args.models, args.all)
    if args.timeout is not None and args.timeout <= 0:
        raise ToolError("--timeout must be positive")
    if args.dry_run:
        base = Path(tempfile.gettempdir()) / "gpuvm-check-tlc-XXXXXXXX"
        for m in models:
            out.write(shlex.join(command_for(m, args.workers, base)) + "\n")
        return 0
    results = check_models(models, workers=args.workers, timeout=args.timeout,
                           out_dir=Path(args.out), err=err)
    code = emit(results, args.json, out, figures=FIGURES)
    if not args.json:
        for r in results:
            if r.ok and r.trace is not None:
                out.write(f"\n{r.name}: {r.detail}\n")
    broken = [r for r in results if r.outcome in (Outcome.TOOL_ERROR, Outcome.TIMEOUT)]
    for r in broken:
        err.write(f"gpuvm-check: {r.detail.splitlines()[0]}\n")
    return 2 if broken else code


def results_for_run(budget: str, out_dir: Path, workers: int) -> list[Result]:
    """The manifest models of the budget's runtime classes."""
    classes = BUDGET_CLASSES.get(budget, BUDGET_CLASSES["default"])
    models = [m for m in load_manifest() if m.runtime in classes]
    return check_models(models, workers=workers, timeout=None, out_dir=out_dir, err=None)


BENCH_MODEL = "MCGpuVm"


def bench_tlc() -> list[Result]:
    """States per second of the exhaustive model and TLC's start-up seconds."""
    model = next(m for m in load_manifest() if m.name == BENCH_MODEL)
    r = check_model(model, workers=2, out_dir=None)
    total = r.figures.get("total_states") or 0
    distinct = r.figures.get("distinct_states") or 0
    run_s = max(r.seconds - float(r.figures.get("startup_s") or 0.0), 1e-9)
    r.name = f"tlc:{BENCH_MODEL}"
    r.figures.update(states_per_s=round(total / run_s), distinct_per_s=round(distinct / run_s),
                     workers=2)
    return [r]
