"""A strict reader of the project's ITF trace files (Apalache ADR-015 shape).

:func:`read_json` accepts only a regular file of at most :data:`MAX_BYTES`
of strict UTF-8 JSON: no duplicate keys, ``NaN``/``Infinity``, fractions or
exponents, lone surrogates, nor nesting deeper than :data:`MAX_DEPTH`.
:func:`validate_trace` checks :data:`TRACE_SCHEMA` (shipped as
``itf.schema.json``), then that every state holds exactly the variables of
``vars``, that ``#meta.index`` is the state's position and that state 0 is
``Init``.  Every failure is one line of :class:`~checks.outcome.ToolError`
at ``file`` or ``file:line`` naming the JSON path, as
``$.states[3]["#meta"].args.addr``.
"""

from __future__ import annotations

import itertools
import json
import os
import re
import stat
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator
from jsonschema.exceptions import ValidationError
from jsonschema.validators import extend

from checks.outcome import ToolError

MAX_BYTES = 64 * 1024 * 1024
MAX_DEPTH = 64
_SAFE = 2**53
_DIGITS = 4300  # the most decimal digits Python's int() takes
_SHOW = 60

# ------------------------------------------------------------------- schema

# Python's re.search lets ``$`` match before a final newline; the look-ahead
# ``(?!\n)`` (a no-op in ECMA-262) keeps "vas\n" from passing for "vas".
_IDENT = r"^[A-Za-z_][A-Za-z0-9_]*$(?!\n)"
_BIGINT = r"^-?(0|[1-9][0-9]*)$(?!\n)"
_MARKS = ("#bigint", "#tup", "#set", "#map")
_VALUE = {"$ref": "#/$defs/value"}
_STR_T = {"type": "string"}
_NONEMPTY = {"type": "string", "minLength": 1}


def _closed(required: list[str], props: dict[str, Any]) -> dict[str, Any]:
    return {"type": "object", "required": required, "properties": props,
            "additionalProperties": False}


TRACE_SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "$id": "urn:gpuvm-check:itf-trace",
    "title": "gpuvm-check ITF trace",
    "description": "A trace in the shape of Apalache ADR-015, as gpuvm-check writes and reads it.",
    **_closed(["#meta", "vars", "states"], {
        "#meta": {"$ref": "#/$defs/traceMeta"},
        "params": {"type": "array", "items": _STR_T},
        "vars": {"type": "array", "minItems": 1, "uniqueItems": True,
                 "items": {"type": "string", "pattern": _IDENT}},
        "states": {"type": "array", "minItems": 1, "items": {"$ref": "#/$defs/state"}},
        "loop": {"type": ["integer", "null"]},
    }),
    "$defs": {
        "traceMeta": _closed(["spec"], {
            "format": _STR_T, "format-description": _STR_T, "spec": _NONEMPTY,
            "source": _STR_T, "description": _STR_T, "config": {"$ref": "#/$defs/record"},
            "mutant": _STR_T, "obligation": _STR_T, "system": _STR_T,
            "violation": _closed(["invariant", "step", "witness"], {
                "invariant": _NONEMPTY, "step": {"type": "integer", "minimum": 0},
                "witness": _STR_T, "where": _STR_T})}),
        "state": {"type": "object", "required": ["#meta"],
                  "properties": {"#meta": {"$ref": "#/$defs/stateMeta"}},
                  "additionalProperties": _VALUE},
        "stateMeta": _closed(["index", "action", "args"], {
            "index": {"type": "integer", "minimum": 0}, "action": _NONEMPTY,
            "args": {"$ref": "#/$defs/record"}, "thread": _NONEMPTY}),
        # an object is a record unless it has one of _MARKS as its one key
        "value": {
            "type": ["null", "boolean", "integer", "string", "array", "object"],
            "minimum": -(_SAFE - 1), "maximum": _SAFE - 1, "items": _VALUE,
            "propertyNames": {"not": {"pattern": r"^#(?!(bigint|tup|set|map)$(?!\n))"}},
            "patternProperties": {"^(?!#)": _VALUE},
            "dependentSchemas": {m: {"$ref": f"#/$defs/{m[1:]}"} for m in _MARKS},
        },
        "bigint": _closed(["#bigint"], {"#bigint": {"type": "string", "pattern": _BIGINT,
                                                    "maxLength": _DIGITS}}),
        "tup": _closed(["#tup"], {"#tup": {"type": "array", "items": _VALUE}}),
        "set": _closed(["#set"], {"#set": {"type": "array", "items": _VALUE}}),
        "map": _closed(["#map"], {"#map": {"type": "array", "items": {
            "type": "array", "minItems": 2, "maxItems": 2, "items": _VALUE}}}),
        "record": {"type": "object", "propertyNames": {"not": {"pattern": "^#"}},
                   "additionalProperties": _VALUE},
    },
}

# ------------------------------------------------------------ paths, words

_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_SURROGATE = re.compile("[\ud800-\udfff]")
_KIND = {"null": "null", "boolean": "a boolean", "integer": "an integer", "string": "a string",
         "array": "an array", "object": "an object", "number": "a number"}


def _quote(s: str) -> str:
    """A string as one ASCII line of JSON, cut to about 60 characters."""
    return json.dumps(s if len(s) <= _SHOW else s[: _SHOW - 3] + "...")


def json_path(path: Iterable[str | int]) -> str:
    """``$.states[3]["#meta"].args.addr``: ``["..."]`` for keys that are not identifiers."""
    return "$" + "".join(f"[{p}]" if isinstance(p, int) else f".{_name(p)}" if _NAME.fullmatch(p)
                         else f"[{_quote(p)}]" for p in path)


def _name(s: str) -> str:
    """An identifier as it is, anything else quoted; either cut to about 60 characters."""
    return s if _NAME.fullmatch(s) and len(s) <= _SHOW else _quote(s)


def _show(v: Any) -> str:
    """A value in a few words, never more than about 60 characters."""
    if v is None or isinstance(v, bool):
        return json.dumps(v)
    if isinstance(v, int):
        return str(v) if abs(v) < 10**_SHOW else f"{str(v)[:_SHOW]}..."
    if isinstance(v, str):
        return _quote(v)
    if isinstance(v, list):
        return f"an array of {len(v)} items"
    if isinstance(v, dict):
        return f"an object with key {_quote(next(iter(v)))}" if v else "an empty object"
    return repr(v)[:_SHOW] if isinstance(v, float) else type(v).__name__


def _kind(v: Any) -> str:
    if isinstance(v, int | str) and not isinstance(v, bool):
        return f"{'a string' if isinstance(v, str) else 'an integer'} {_show(v)}"
    return "an array" if isinstance(v, list) else "an object" if isinstance(v, dict) else _show(v)


# --------------------------------------------------------------- read_json

class _Flaw(str):
    """Stands for a value the JSON parser met and the reader refuses: says why."""


class _DupObject(dict[str, Any]):
    duplicate = ""


def _object(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    obj = dict(pairs)
    if len(obj) != len(pairs):
        seen: set[str] = set()
        for k, _ in pairs:
            if k in seen:
                dup = _DupObject(obj)
                dup.duplicate = k
                return dup
            seen.add(k)
    return obj


_PARSE: dict[str, Any] = {  # int() itself refuses more than 4300 digits, with a ValueError
    "object_pairs_hook": _object,
    "parse_int": lambda s: int(s) if len(s) <= 32 else _Flaw(
        f'integer of {len(s)} digits: write big integers as {{"#bigint": "..."}}'),
    "parse_float": lambda s: _Flaw(f"{_quote(s)[1:-1]} is not allowed: integers only"),
    "parse_constant": lambda s: _Flaw(f"{s} is not allowed: integers only"),
}
_TOKEN = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"|[\[\]{}]|"', re.S)
_STR = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"', re.S)
_WS = re.compile(r"[ \t\n\r]*")
_SCALAR = re.compile(r"[^ \t\n\r,\]}]+")


def _ws(text: str, i: int) -> int:
    m = _WS.match(text, i)
    return m.end() if m else i


def _line(text: str, at: int) -> int:
    return text.count("\n", 0, at) + 1


def _check_depth(text: str, where: str) -> None:
    """Refuse nesting deeper than MAX_DEPTH before ``json`` recurses into it."""
    if text.count("[") + text.count("{") <= MAX_DEPTH:
        return
    depth = 0
    for m in _TOKEN.finditer(text):
        t = m.group()
        if t in ("[", "{"):
            depth += 1
            if depth > MAX_DEPTH:
                raise ToolError(f"arrays and objects nested more than {MAX_DEPTH} deep",
                                f"{where}:{_line(text, m.start())}")
        elif t in ("]", "}"):
            depth = max(0, depth - 1)
        elif t == '"':
            return  # an unterminated string: json reports it


def _first_flaw(doc: Any) -> tuple[list[str | int], str] | None:
    """The first refused value (pre-order) and its path, without recursion."""
    stack: list[tuple[Any, Any]] = [(doc, None)]
    while stack:
        value, node = stack.pop()
        why = ""
        if isinstance(value, _Flaw):
            why = str(value)
        elif isinstance(value, str):
            if _SURROGATE.search(value):
                why = "string contains a lone surrogate (\\ud800-\\udfff)"
        elif isinstance(value, dict):
            if isinstance(value, _DupObject):
                why = f"duplicate key {_quote(value.duplicate)}"
            bad = "" if why else next((k for k in value if _SURROGATE.search(k)), "")
            if bad:
                node, why = (node, bad), "key contains a lone surrogate (\\ud800-\\udfff)"
            stack.extend((v, (node, k)) for k, v in reversed(value.items()))
        elif isinstance(value, list):
            stack.extend((value[j], (node, j)) for j in range(len(value) - 1, -1, -1))
        if why:
            path: list[str | int] = []
            while node is not None:
                node, key = node
                path.append(key)
            return path[::-1], why
    return None


def _not_regular(mode: int, what: str, where: str) -> ToolError:
    kind = ("a directory" if stat.S_ISDIR(mode) else "a FIFO" if stat.S_ISFIFO(mode)
            else "a socket" if stat.S_ISSOCK(mode) else "a device")
    return ToolError(f"cannot read {what}: it is {kind}, not a regular file", where)


def _read_bytes(path: Path, what: str) -> bytes:
    where = str(path)
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)  # a FIFO must not block the open
    except (OSError, ValueError) as e:
        try:  # a socket cannot be opened at all
            mode = os.stat(path).st_mode
        except (OSError, ValueError):
            mode = stat.S_IFREG
        if not stat.S_ISREG(mode):
            raise _not_regular(mode, what, where) from None
        reason = e.strerror if isinstance(e, OSError) and e.strerror else str(e)
        raise ToolError(f"cannot open {what}: {reason}", where) from None
    try:
        mode = os.fstat(fd).st_mode
        if not stat.S_ISREG(mode):
            raise _not_regular(mode, what, where)
        chunks: list[bytes] = []
        left = MAX_BYTES + 1
        while left > 0 and os.fstat(fd).st_size <= MAX_BYTES:
            chunk = os.read(fd, min(left, 1 << 20))
            if not chunk:
                return b"".join(chunks)
            chunks.append(chunk)
            left -= len(chunk)
        raise ToolError(f"{what} is larger than the limit of {MAX_BYTES} bytes", where)
    except OSError as e:
        raise ToolError(f"cannot read {what}: {e.strerror or e}", where) from None
    finally:
        os.close(fd)


def read_json(path: Path, what: str = "trace") -> tuple[Any, str]:
    """(document, text) of a strict JSON file; :class:`ToolError` for anything else."""
    where = str(path)
    data = _read_bytes(path, what)
    if data.startswith(b"\xef\xbb\xbf"):
        raise ToolError("starts with a UTF-8 byte order mark, which is not allowed",
                        f"{where}:1")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as e:
        line, col = data.count(b"\n", 0, e.start) + 1, e.start - data.rfind(b"\n", 0, e.start)
        raise ToolError(f"not valid UTF-8: byte 0x{data[e.start]:02x} (column {col})",
                        f"{where}:{line}") from None
    _check_depth(text, where)
    try:
        doc = json.loads(text, **_PARSE)
    except json.JSONDecodeError as e:
        raise ToolError(f"not valid JSON: {e.msg} (column {e.colno})",
                        f"{where}:{e.lineno}") from None
    except (ValueError, RecursionError, MemoryError) as e:
        raise ToolError(f"not valid JSON: {type(e).__name__}", where) from None
    flaw = _first_flaw(doc)
    if flaw is not None:
        raise ToolError(f"at {json_path(flaw[0])}: {flaw[1]}", f"{where}:{locate(text, flaw[0])}")
    return doc, text


# ------------------------------------------------------------------ locate

def _skip_value(text: str, i: int) -> int:
    """The end of the JSON value starting at ``i``, or -1."""
    if text.startswith('"', i):
        m = _STR.match(text, i)
        return m.end() if m else -1
    if text.startswith(("[", "{"), i):
        depth = 0
        for m in _TOKEN.finditer(text, i):
            t = m.group()
            depth += 1 if t in ("[", "{") else -1 if t in ("]", "}") else 0
            if depth == 0 or t == '"':
                return m.end() if t != '"' else -1
        return -1
    m = _SCALAR.match(text, i)
    return m.end() if m else -1


def _key(raw: str) -> str | None:
    if "\\" not in raw:
        return raw[1:-1]
    try:
        key = json.loads(raw)
    except ValueError:
        return None
    return key if isinstance(key, str) else None


def _member(text: str, i: int, part: str | int) -> int:
    """From the container starting at ``i``, the start of its member ``part``, or -1."""
    if not text.startswith("[" if isinstance(part, int) else "{", i):
        return -1
    i = _ws(text, i + 1)
    for n in itertools.count():
        if isinstance(part, int):
            if n == part:
                return i if not text.startswith("]", i) else -1
        else:
            m = _STR.match(text, i)
            if m is None:
                return -1
            key = _key(m.group())
            i = _ws(text, m.end())
            if not text.startswith(":", i):
                return -1
            i = _ws(text, i + 1)
            if key == part:
                return i
        i = _skip_value(text, i)
        if i < 0 or not text.startswith(",", i := _ws(text, i)):
            return -1
        i = _ws(text, i + 1)
    return -1  # pragma: no cover


def locate(text: str, path: Sequence[str | int]) -> int:
    """The 1-based line where the value at ``path`` starts in ``text``; 1 if not found."""
    i = _ws(text, 0)
    for part in path:
        i = _member(text, i, part)
        if i < 0:
            return 1
    return _line(text, i)


# ---------------------------------------------------------------- validate

def _unique_items(validator: Any, unique: Any, instance: Any, schema: Any) -> Iterator[Any]:
    """uniqueItems in linear time: jsonschema's own is quadratic on a hostile [1, {}, {}, ...]."""
    if not (unique and validator.is_type(instance, "array")):
        return
    seen: set[str] = set()
    for j, item in enumerate(instance):
        try:
            key = json.dumps(item, sort_keys=True)
        except (TypeError, ValueError, RecursionError):  # not JSON data: jsonschema's own check
            yield from Draft202012Validator.VALIDATORS["uniqueItems"](
                validator, unique, instance, schema)
            return
        if key in seen:
            yield ValidationError(f"{_show(item)} repeats an earlier item", path=[j])
            return
        seen.add(key)


# 1.0 is no integer here (the reader refuses it anyway; this is for documents built in Python)
_TYPES = Draft202012Validator.TYPE_CHECKER.redefine(
    "integer", lambda _, v: isinstance(v, int) and not isinstance(v, bool))
_VALIDATOR = extend(Draft202012Validator, {"uniqueItems": _unique_items},
                    type_checker=_TYPES)(TRACE_SCHEMA)
_PATTERN_WORDS = {_IDENT: "is not an identifier", _BIGINT: "is not a decimal integer"}


def _explain(e: Any) -> tuple[list[str | int], list[str | int], str]:
    """(path for the message, path for the line, plain words) of a schema error."""
    path: list[str | int] = list(e.absolute_path)
    kw, want, inst = e.validator, e.validator_value, e.instance
    if kw == "type":
        kinds = want if isinstance(want, list) else [want]
        return path, path, f"expected {' or '.join(_KIND[k] for k in kinds)}, found {_kind(inst)}"
    if kw == "required":
        return path, path, f"missing key {_quote(next(k for k in want if k not in inst))}"
    if kw == "additionalProperties":
        extra = next(k for k in inst if k not in e.schema.get("properties", {}))
        return path, [*path, extra], f"unexpected key {_quote(extra)}"
    if kw == "not" and list(e.absolute_schema_path)[-2:] == ["propertyNames", "not"]:
        return path, [*path, inst], f'record key {_quote(inst)} must not start with "#"'
    if kw in ("minItems", "minLength") and want == 1:
        return path, path, "must not be empty"
    if kw in ("minItems", "maxItems", "maxLength"):
        n = f"{len(inst)} characters" if kw == "maxLength" else f"{len(inst)} items"
        return path, path, f"has {n}, {kw[:3]}imum {want}"
    if kw == "pattern":
        return path, path, f"{_show(inst)} {_PATTERN_WORDS.get(want, f'does not match {want}')}"
    if kw in ("minimum", "maximum") and abs(want) == _SAFE - 1:
        return path, path, (f"integer {_show(inst)} is 2**53 or more in magnitude: write it as "
                            f'{{"#bigint": "{_show(inst)}"}}')
    if kw == "minimum":
        return path, path, f"{_show(inst)} is less than {want}"
    msg = " ".join(str(e.message).split())
    return path, path, msg if len(msg) <= 100 else msg[:97] + "..."


def validate_trace(doc: Any, path: Path, text: str) -> None:
    """Check ``doc`` (read from ``path`` as ``text``) against the trace schema and rules."""
    file = str(path)

    def fail(at: list[str | int], why: str, line_at: list[str | int] | None = None) -> ToolError:
        line = locate(text, at if line_at is None else line_at)
        return ToolError(f"at {json_path(at)}: {why}", f"{file}:{line}")

    try:
        errors = list(itertools.islice(_VALIDATOR.iter_errors(doc), 256))
    except RecursionError:
        raise ToolError("too deeply nested to validate", file) from None
    if errors:
        # the shallowest, then the first in path order (jsonschema's best_match takes the
        # last of sibling errors); keys and indices never meet at one place of a path
        err = min(errors, key=lambda e: (len(e.path), [(isinstance(p, str), p) for p in e.path]))
        at, line_at, why = _explain(err)
        raise fail(at, why, line_at)
    names = doc["vars"]
    known = set(names)
    for i, state in enumerate(doc["states"]):
        meta = state["#meta"]
        if meta["index"] != i:
            raise fail(["states", i, "#meta", "index"],
                       f"state {i} has index {meta['index']}, expected {i}")
        if i == 0 and meta.get("action", "Init") != "Init":
            raise fail(["states", 0, "#meta", "action"],
                       f'state 0 must be the "Init" state, not {_quote(meta["action"])}')
        for name in names:
            if name not in state:
                raise fail(["states", i], f"state {i} lacks variable {_name(name)}")
        for name in state:
            if name != "#meta" and name not in known:
                raise fail(["states", i, name], f"state {i} has variable {_name(name)} not in vars")


def decode(value: Any) -> Any:
    """An ITF value (one that passed :func:`validate_trace`) -> plain Python data.

    ``#bigint`` -> int, ``#tup``/``#set`` -> list, ``#map`` -> list of [k, v]
    pairs, records -> dict; null, booleans, integers and strings as they are.
    """
    if isinstance(value, list):
        return [decode(v) for v in value]
    if not isinstance(value, dict):
        return value
    if "#bigint" in value:
        return int(value["#bigint"])
    for mark in ("#tup", "#set"):
        if mark in value:
            return [decode(v) for v in value[mark]]
    if "#map" in value:
        return [[decode(k), decode(v)] for k, v in value["#map"]]
    return {k: decode(v) for k, v in value.items()}


def load_trace_doc(path: Path) -> tuple[dict[str, Any], str]:
    """Read and validate a trace: the (undecoded) document and its text."""
    doc, text = read_json(path, "trace")
    validate_trace(doc, path, text)
    return doc, text
