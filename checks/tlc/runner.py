"""Running TLC once: the command line, tool-mode output, a closed verdict.

TLC 2.15 runs in tool mode (``-tool``), which frames every message as a
numbered block::

    @!@!@STARTMSG 2110:1 @!@!@
    Invariant TranslationInv is violated.
    @!@!@ENDMSG 2110 @!@!@

and :func:`run_tlc` reads the blocks into one closed :class:`Outcome`
(``pass``, ``violation``, ``deadlock``, ``liveness``, ``timeout``,
``tool_error``), the statistics (distinct and total states, depth, seconds),
the counterexample's states and the lines the spec printed with
``PrintT("@...")``.  TLC's metadata goes to a temporary directory, never
into the repository; the JVM runs in its own process group, which is killed
when the hard timeout passes or the run is interrupted (SIGINT, SIGTERM),
and the temporary directory goes with it.  A spec that does not parse is a
:class:`ToolError` at the ``file:line`` SANY names.
"""

from __future__ import annotations

import os
import queue
import re
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

from checks.budget import positive_seconds
from checks.java import toolchain
from checks.outcome import Outcome, ToolError
from checks.report import progress, progress_done
from checks.tlc.values import tla_value

# TLC message codes (tlc2.output.EC / MP) the runner acts on.
MSG_STARTING = 2185
MSG_INITIAL = 2190
MSG_FINISHED = 2186
MSG_STATS = 2199
MSG_DEPTH = 2194
MSG_PROGRESS = (2200, 2209)
MSG_INVARIANT = (2107, 2110)
MSG_ACTION_PROPERTY = 2112
MSG_DEADLOCK = 2114
MSG_LIVENESS = (2116, 2117)
MSG_STATE = 2217
MSG_BACK_TO_STATE = 2122
MSG_COUNTER_EXAMPLE = 2264  # "the following behavior constitutes a counter-example"
MSG_PARSE_FAILED = 3002
LEVEL_ERROR = 1


_MARK = re.compile(r"@!@!@(?:STARTMSG (\d+):(\d+)|ENDMSG (\d+)) @!@!@")


def cfg_constants(cfg: Path) -> dict[str, Any]:
    """The ``NAME = value`` constants of a ``.cfg``: integers, strings, booleans and
    sets of them (a set as a list)."""
    try:
        text = cfg.read_text()
    except OSError as e:
        raise ToolError(f"cannot read config: {e.strerror}", str(cfg)) from None
    out: dict[str, Any] = {}
    scalar = r'-?\d+|"[^"]*"|TRUE|FALSE'
    for m in re.finditer(rf'^\s*([A-Za-z_]\w*)\s*=\s*({scalar}|\{{[^}}]*\}})\s*(?:\\\*.*)?$',
                         text, re.MULTILINE):
        try:
            out[m.group(1)] = tla_value(m.group(2))
        except ValueError:
            continue
    return out


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
    initial: int | None = None
    depth: int | None = None
    violated: str | None = None
    message: str = ""
    where: str | None = None
    states: list[TlcState] = field(default_factory=list)
    #: a liveness counterexample's lasso: the number of the state its last one
    #: returns to ("Back to state"), or None
    loop: int | None = None
    prints: list[str] = field(default_factory=list)
    command: list[str] = field(default_factory=list)


def _int(text: str) -> int:
    return int(text.replace(",", ""))


def tlc_command(spec: Path, cfg: Path, workdir: Path, *, workers: int = 1,
                mode: str = "exhaustive", depth: int | None = None,
                check_deadlock: bool = False, seed: int = 0,
                stop_after: float | None = None, short: bool = False) -> list[str]:
    """The exact java command line for one TLC run (metadata under ``workdir``).

    ``short``: a run expected to end within seconds (a failure model stops at
    its first counterexample) uses the JIT's first tier only, which halves its
    CPU time; a long run would lose by it.
    """
    tools = toolchain()
    cmd = [tools.java, f"-Djava.io.tmpdir={workdir}"]
    if short:
        cmd.append("-XX:TieredStopAtLevel=1")
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


def _last_line(path: str | None) -> int:
    """The number of the last line of ``path`` (where a module that ends early ends)."""
    try:
        return max(1, len(Path(path).read_text(errors="replace").splitlines())) if path else 1
    except OSError:
        return 1


def _location_from_sany(lines: Sequence[str], spec_dir: Path) -> tuple[str, str]:
    """(where, message) of the first SANY error in the plain output."""
    module_file: str | None = None
    for i, line in enumerate(lines):
        m = re.match(r"Parsing file (.+\.tla)$", line.strip())
        if m:
            module_file = m.group(1)
        lexical = re.search(r"Lexical error at line (\d+), column (\d+)\.\s*(.*)", line)
        if lexical:
            return (f"{module_file or spec_dir}:{lexical.group(1)}",
                    f"lexical error at column {lexical.group(2)}: {lexical.group(3).strip()}")
        if "***Parse Error***" in line:
            detail = next((t.strip() for t in lines[i + 1:] if t.strip()), "parse error")
            loc = re.search(r"line (\d+), column (\d+)", detail)
            line_no = loc.group(1) if loc else str(_last_line(module_file))
            where = f"{module_file or spec_dir}:{line_no}"
            detail = re.sub(r"\s+", " ", detail)
            if loc is None and "====" in detail:
                detail += " (the module ends without its ==== line)"
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
        if code == MSG_INITIAL:
            m = re.search(r"([\d,]+) distinct states? generated", text)
            if m:
                run.initial = _int(m.group(1))
        elif code == MSG_STATS:
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
        elif code == MSG_BACK_TO_STATE:
            m = re.match(r"\s*(\d+): Back to state", text)
            run.loop = int(m.group(1)) if m else None
        elif level == LEVEL_ERROR and code not in (2121, 2103, MSG_COUNTER_EXAMPLE):
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
            label: str = "", err: TextIO | None = None, short: bool = False) -> TlcRun:
    """Run TLC once, with a hard timeout, and read its verdict.

    Lines that TLC prints with ``PrintT("@...")`` after parsing go to
    ``on_print`` (or are kept in :attr:`TlcRun.prints`).  A spec that does
    not parse raises :class:`ToolError`; Java or the jar missing too.
    """
    for path in (spec, cfg):
        if not path.is_file():
            raise ToolError("no such file", str(path))
    try:
        timeout = positive_seconds(timeout, "the TLC timeout")
    except ValueError as e:
        raise ToolError(str(e)) from None
    workdir = Path(tempfile.mkdtemp(prefix="gpuvm-check-tlc-"))
    try:
        cmd = tlc_command(spec, cfg, workdir, workers=workers, mode=mode, depth=depth,
                          check_deadlock=check_deadlock, seed=seed, stop_after=stop_after,
                          short=short)
    except BaseException:  # no Java or no jar: nothing ran, nothing stays behind
        shutil.rmtree(workdir, ignore_errors=True)
        raise
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
        with _LIVE_LOCK:
            _LIVE.add(proc)
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
            with _LIVE_LOCK:
                _LIVE.discard(proc)
            raise
        if timed_out:
            _kill(proc)
        returncode = proc.wait()
        with _LIVE_LOCK:
            _LIVE.discard(proc)
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


_LIVE: set[subprocess.Popen[str]] = set()
_LIVE_LOCK = threading.Lock()


def kill_all() -> None:
    """Kill every JVM still running (runs in other threads, on an interrupt)."""
    with _LIVE_LOCK:
        live = list(_LIVE)
    for proc in live:
        _kill(proc)


def _kill(proc: subprocess.Popen[str]) -> None:
    """Kill the JVM we started (its own process group)."""
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        proc.kill()
