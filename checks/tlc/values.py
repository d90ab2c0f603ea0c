"""TLA+ values: reading what TLC prints, and writing data as TLA+.

:func:`tla_value` parses a value as TLC prints it (records, tuples, sets,
functions ``(k :> v @@ ...)``, strings, integers, booleans, model values)
into plain data; :func:`tla` writes plain data back as a TLA+ expression
(dicts as records, lists as tuples).  Both are system-neutral: each system's
codec maps its abstract values to and from this plain data.
"""

from __future__ import annotations

import json
import re
from typing import Any

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


def _quoted_field(m: re.Match[str]) -> str:
    return f'"{m[1]}":'


def tla_value(text: str) -> Any:
    """A value as TLC prints it -> plain data.

    Records become dicts, tuples and sets lists, functions ``(k :> v @@ ...)``
    dicts, strings, integers and booleans themselves.  ``ValueError`` if the
    text is not a value.
    """
    if "(" not in text and not any(_UNSAFE.search(lit) for lit in _STRING.findall(text)):
        # no functions and no brackets inside strings: tuples and sets are JSON
        # arrays, records JSON objects
        fast = text.replace("<<", "\x01").replace(">>", "\x02")
        fast = fast.replace("{", "\x01").replace("}", "\x02")
        fast = _FIELD.sub(_quoted_field, fast.replace("[", "{").replace("]", "}"))
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


class TlaSet(list):  # type: ignore[type-arg]
    """A list to be written as a TLA+ set ``{...}`` rather than a tuple."""


class TlaFcn(dict):  # type: ignore[type-arg]
    """A dict to be written as a TLA+ function ``(k :> v @@ ...)`` (keys need not be
    identifiers, as a record's field names must)."""


def tla(value: Any) -> str:
    """Plain data -> a TLA+ value: dicts are records (``<<>>`` when empty), lists tuples,
    :class:`TlaSet` sets."""
    if value is True:
        return "TRUE"
    if value is False:
        return "FALSE"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(value, TlaSet):
        return "{" + ", ".join(tla(v) for v in value) + "}"
    if isinstance(value, list | tuple):
        return "<<" + ", ".join(tla(v) for v in value) + ">>"
    if isinstance(value, TlaFcn) and value:
        return "(" + " @@ ".join(f"{tla(k)} :> {tla(v)}" for k, v in value.items()) + ")"
    if isinstance(value, dict):
        if not value:
            return "<<>>"
        return "[" + ", ".join(f"{k} |-> {tla(v)}" for k, v in value.items()) + "]"
    raise TypeError(f"no TLA+ value for {value!r}")
