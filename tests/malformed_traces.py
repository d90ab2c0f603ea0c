"""Malformed ITF trace files: every case must be refused by ``checks.itf``.

:func:`cases` derives them from a valid trace (:func:`base_trace` by
default).  A :class:`Case` of kind ``"file"`` is ``data`` written to a
file; the other kinds name a path the test sets up itself:

``fifo``            a named pipe (must not hang the reader)
``dev-zero``        ``/dev/zero``
``directory``       a directory
``symlink-to-dir``  a symbolic link to a directory
``missing``         a path that does not exist
``unreadable``      a valid trace with mode 000 (moot when running as root)
``socket``          a Unix socket
``huge``            a sparse file one MiB over the 64 MiB limit
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

#: what a "huge" file outgrows (the reader's limit is 64 MiB)
HUGE_BYTES = 65 * 1024 * 1024

SPECIAL_KINDS = ("fifo", "dev-zero", "directory", "symlink-to-dir", "missing", "unreadable",
                 "socket", "huge")
_HOLE = "\x00hole\x00"  # a string json.dumps writes as "\u0000hole\u0000", found nowhere else


@dataclass(frozen=True)
class Case:
    name: str
    data: bytes | None
    kind: str = "file"


def base_trace() -> dict[str, Any]:
    """A small valid trace in the project's shape."""
    def state(i: int, action: str, args: dict[str, Any], vas: list[Any], ops: list[Any],
              err: str = "OK", thread: str | None = None) -> dict[str, Any]:
        meta: dict[str, Any] = {"index": i, "action": action, "args": args}
        if thread is not None:
            meta["thread"] = thread
        return {"#meta": meta, "vas": vas, "lastOps": ops, "lastErr": err}

    def a() -> list[Any]:
        return [0, 2, "a", 0, 0]

    def null() -> list[Any]:
        return [4, 2, None, 0, 0]

    return {
        "#meta": {
            "format": "ITF",
            "format-description": "Apalache ADR-015 informal trace format",
            "spec": "GpuVm",
            "source": "model",
            "description": "Two maps and an unmap, one of a NULL GEM.",
            "config": {"mm_start": 0, "mm_range": 12, "reserve_offset": 8, "reserve_range": 2,
                       "regions": False, "profile": "upstream"},
        },
        "vars": ["vas", "lastOps", "lastErr"],
        "states": [
            state(0, "Init", {}, [], []),
            state(1, "Map", {"addr": 0, "range": 2, "gem": "a", "offset": 0, "flags": 0}, [a()],
                  [{"op": "map", "addr": 0, "range": 2, "gem": "a", "offset": 0, "flags": 0}],
                  thread="t1"),
            state(2, "Map", {"addr": 4, "range": 2, "gem": None, "offset": 0, "flags": 0},
                  [a(), null()], [{"op": "map", "addr": 4, "range": 2, "gem": None,
                                   "offset": 0, "flags": 0}], thread="t2"),
            state(3, "Unmap", {"addr": {"#bigint": "18446744073709551612"}, "range": 4},
                  [a(), null()], [], "EINVAL", thread="t1"),
        ],
    }


def dump(doc: Any) -> str:
    return json.dumps(doc, indent=1) + "\n"


def _get(doc: Any, path: tuple[Any, ...]) -> Any:
    for p in path:
        doc = doc[p]
    return doc


def _copy(doc: dict[str, Any]) -> dict[str, Any]:
    copied: dict[str, Any] = json.loads(json.dumps(doc))  # shares no list between states
    return copied


def _put(base: dict[str, Any], path: tuple[Any, ...], raw: str | bytes | None) -> bytes:
    """``base`` with the value at ``path`` (new or not) replaced by the JSON text ``raw``.

    ``raw`` None deletes the value.
    """
    doc = _copy(base)
    parent = _get(doc, path[:-1])
    if raw is None:
        del parent[path[-1]]
        return dump(doc).encode()
    parent[path[-1]] = _HOLE
    text = dump(doc).encode()
    hole = json.dumps(_HOLE).encode()
    assert text.count(hole) == 1
    return text.replace(hole, raw if isinstance(raw, bytes) else raw.encode())


def _dup(base: dict[str, Any], path: tuple[Any, ...], same: bool) -> bytes:
    """``base`` with the object at ``path`` written with its first key twice."""
    obj = dict(_get(base, path)) or {"k": 0}
    key = next(iter(obj))
    again = obj[key] if same else [obj[key]]
    items = [*obj.items(), (key, again)]
    text = "{" + ", ".join(f"{json.dumps(k)}: {json.dumps(v)}" for k, v in items) + "}"
    return text.encode() if not path else _put(base, path, text)


def _ints(value: Any, path: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    """The paths of the plain integers in ``value``."""
    if isinstance(value, bool):
        return
    if isinstance(value, int):
        yield path
    elif isinstance(value, dict):
        for k, v in value.items():
            yield from _ints(v, (*path, k))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield from _ints(v, (*path, i))


def _spread(items: list[Any], most: int) -> list[Any]:
    """At most ``most`` of ``items``, evenly spread, first and last kept."""
    if len(items) <= most:
        return items
    return [items[round(i * (len(items) - 1) / (most - 1))] for i in range(most)]


def _label(path: tuple[Any, ...]) -> str:
    return ".".join(str(p).lstrip("#") for p in path)


def _nested(depth: int, leaf: str = "0") -> str:
    return "[" * depth + leaf + "]" * depth


_WRONG = {  # JSON texts of every type but the one wanted
    "object": ['"x"', "1", "[]", "null", "true"],
    "string": ["1", "[]", "{}", "null", "false", '["x"]'],
    "array": ['"x"', "1", "{}", "null", "true"],
}
_WORD = {'"x"': "string", "1": "number", "[]": "array", "null": "null", "true": "true",
         "false": "false", "{}": "object", '["x"]': "string-array", "[1]": "number-array",
         '[["x"]]': "nested-array", '"0"': "string", "1.5": "fraction", "0": "zero",
         '"state"': "string", "1.0": "fraction", "1e3": "exponent", "-0.5": "negative-fraction",
         "2E+1": "signed-exponent"}
_BAD_UTF8 = [("ff", b"\xff"), ("fe", b"\xfe"), ("continuation", b"\x80"),
             ("overlong-nul", b"\xc0\x80"), ("overlong-slash", b"\xe0\x80\xaf"),
             ("surrogate-encoded", b"\xed\xa0\x80"), ("above-max", b"\xf4\x90\x80\x80"),
             ("f5", b"\xf5\x80\x80\x80"), ("cut-two-byte", b"\xc3"),
             ("cut-three-byte", b"\xe2\x82"), ("latin1-e-acute", b"caf\xe9")]
_LONE = [("high", "\\ud800"), ("low", "\\udc00"), ("middle", "a\\udfffb"),
         ("high-then-letter", "\\ud800\\u0041"), ("reversed-pair", "\\ude00\\ud83d"),
         ("high-at-end", "map\\udbff")]
_BAD_ITF = [
    ("letters", '{"#bigint": "12x"}'), ("number", '{"#bigint": 5}'),
    ("extra-key", '{"#bigint": "1", "x": 2}'), ("empty", '{"#bigint": ""}'),
    ("leading-zero", '{"#bigint": "01"}'), ("plus", '{"#bigint": "+1"}'),
    ("minus-only", '{"#bigint": "-"}'), ("space", '{"#bigint": " 1"}'),
    ("trailing-newline", '{"#bigint": "1\\n"}'), ("fraction", '{"#bigint": "1.0"}'),
    ("hex", '{"#bigint": "0x10"}'), ("fullwidth", '{"#bigint": "\\uff11"}'),
    ("null", '{"#bigint": null}'), ("array", '{"#bigint": ["1"]}'),
    ("too-long", '{"#bigint": "' + "1" * 5000 + '"}'), ("with-tup", '{"#bigint": "1", "#tup": []}'),
    ("tup-string", '{"#tup": "x"}'), ("set-object", '{"#set": {}}'),
    ("tup-extra", '{"#tup": [], "y": 1}'), ("map-object", '{"#map": {}}'),
    ("map-short-pair", '{"#map": [[1]]}'), ("map-long-pair", '{"#map": [[1, 2, 3]]}'),
    ("map-not-pair", '{"#map": [1]}'), ("unserializable", '{"#unserializable": "x"}'),
    ("unknown-tag", '{"#foo": 1}'), ("tag-with-newline", '{"#bigint\\n": "1"}'),
    ("tag-with-space", '{"#tup ": []}'), ("tag-uppercase", '{"#BIGINT": "1"}'),
    ("nested-bad", '{"#tup": [{"#bigint": 1}]}'), ("hash-key-in-record", '{"#op": "map"}'),
    ("meta-key-in-record", '{"#meta": {}}'), ("float-in-set", '{"#set": [0.5]}'),
]


def cases(base: dict[str, Any] | None = None) -> Iterator[Case]:
    """The malformed cases made from ``base``, a valid trace (by default :func:`base_trace`)."""
    base = base_trace() if base is None else base
    text = dump(base)
    raw = text.encode()
    states = base["states"]
    names = list(base["vars"])
    last = len(states) - 1
    spec = ("#meta", "spec")
    config = ("#meta", "config")
    slot = ("states", last, names[0])  # the value of a state variable
    args = ("states", last, "#meta", "args")
    arg = (*args, "x")  # a new argument
    index0 = ("states", 0, "#meta", "index")

    # ---- not JSON at all, or cut short
    body = raw.rstrip()
    step = max(1, len(body) // 90)
    for k in sorted({1, 2, 3, len(body) - 2, len(body) - 1, *range(step, len(body) - 1, step)}):
        yield Case(f"truncated-at-byte-{k}", body[:k])
    yield Case("empty-file", b"")
    for name, ws in [("space", b" "), ("newlines", b"\n\n\n"), ("mixed", b" \t\r\n \n")]:
        yield Case(f"whitespace-only-{name}", ws)
    yield Case("nul-byte-only", b"\x00")
    for name, doc in [("empty-array", "[]"), ("array-of-trace", f"[{text}]"), ("zero", "0"),
                      ("number", "42"), ("string", '"trace"'), ("null", "null"),
                      ("true", "true"), ("false", "false"), ("negative", "-1")]:
        yield Case(f"top-level-{name}", doc.encode())

    # ---- required keys, unknown keys, wrong types
    for key in ("#meta", "vars", "states"):
        yield Case(f"missing-top-{key.lstrip('#')}", _put(base, (key,), None))
    yield Case("missing-meta-spec", _put(base, spec, None))
    yield Case("empty-meta", _put(base, ("#meta",), "{}"))
    yield Case("top-unknown-key", _put(base, ("variables",), "[]"))
    yield Case("meta-unknown-key", _put(base, ("#meta", "author"), '"x"'))
    for path in [("#meta",), config]:
        for w in _WRONG["object"]:
            yield Case(f"wrong-type-{_label(path)}-{_WORD[w]}", _put(base, path, w))
    for key in ("format", "format-description", "spec", "source", "description", "mutant"):
        for w in _WRONG["string"]:
            yield Case(f"wrong-type-meta.{key}-{_WORD[w]}", _put(base, ("#meta", key), w))
    for key in ("obligation", "system"):
        yield Case(f"wrong-type-meta.{key}-number", _put(base, ("#meta", key), "7"))
    yield Case("meta-spec-empty", _put(base, spec, '""'))
    for key in ("vars", "states"):
        for w in _WRONG["array"]:
            yield Case(f"wrong-type-{key}-{_WORD[w]}", _put(base, (key,), w))
    for w in ['"x"', "[1]", '[["x"]]', "{}", "null"]:
        yield Case(f"wrong-type-params-{_WORD[w]}", _put(base, ("params",), w))
    for w in ['"0"', "true", "[]", "{}", "1.5"]:
        yield Case(f"wrong-type-loop-{_WORD[w]}", _put(base, ("loop",), w))

    # ---- vars
    for name, w in [("empty", "[]"), ("duplicate", json.dumps([*names, names[0]])),
                    ("number", json.dumps([*names, 1])), ("null", json.dumps([*names, None])),
                    ("nested", json.dumps([*names, [names[0]]])),
                    ("object", json.dumps([*names, {"name": "x"}])),
                    ("all-objects", json.dumps([{}] * 5)),
                    ("empty-name", json.dumps([*names, ""])),
                    ("digit-first", json.dumps([*names, "9lives"])),
                    ("space", json.dumps([*names, "two words"])),
                    ("dash", json.dumps([*names, "last-op"])),
                    ("hash", json.dumps([*names, "#meta"])),
                    ("unicode", json.dumps([*names, "é"]))]:
        yield Case(f"vars-{name}", _put(base, ("vars",), w))
    # a trailing newline passes Python's ``$``: "vas\n" in vars and in every state
    newline = _copy(base)
    newline["vars"][0] += "\n"
    for state in newline["states"]:
        state[names[0] + "\n"] = state.pop(names[0])
    yield Case("vars-trailing-newline", dump(newline).encode())

    # ---- states
    yield Case("states-empty", _put(base, ("states",), "[]"))
    for w in ["[]", '"state"', "null", "0", "true"]:
        yield Case(f"state-{last}-not-object-{_WORD[w]}", _put(base, ("states", last), w))
    for i in sorted({0, min(1, last), last // 2, last}):
        for var in names:
            yield Case(f"state-{i}-missing-var-{var}", _put(base, ("states", i, var), None))
        yield Case(f"state-{i}-extra-var", _put(base, ("states", i, "extra"), "[]"))
        yield Case(f"state-{i}-meta-missing", _put(base, ("states", i, "#meta"), None))
        for w in _WRONG["object"]:
            yield Case(f"state-{i}-meta-{_WORD[w]}", _put(base, ("states", i, "#meta"), w))
        meta = ("states", i, "#meta")
        for name, w in [("off-by-one", str(i + 1)), ("negative", "-1"), ("huge", "99999"),
                        ("true", "true"), ("false", "false"), ("float", f"{i}.000"),
                        ("exponent", f"{i}e0"), ("string", f'"{i}"'), ("null", "null"),
                        ("array", f"[{i}]")]:
            yield Case(f"state-{i}-index-{name}", _put(base, (*meta, "index"), w))
        yield Case(f"state-{i}-index-missing", _put(base, (*meta, "index"), None))
        yield Case(f"state-{i}-action-missing", _put(base, (*meta, "action"), None))
        for name, w in [("number", "1"), ("null", "null"), ("array", '["Map"]'), ("empty", '""')]:
            yield Case(f"state-{i}-action-{name}", _put(base, (*meta, "action"), w))
        yield Case(f"state-{i}-args-missing", _put(base, (*meta, "args"), None))
        for w in ["[]", '"x"', "null", "1", "true"]:
            yield Case(f"state-{i}-args-{_WORD[w]}", _put(base, (*meta, "args"), w))
        for name, w in [("number", "1"), ("null", "null"), ("array", '["t1"]'), ("object", "{}"),
                        ("empty", '""')]:
            yield Case(f"state-{i}-thread-{name}", _put(base, (*meta, "thread"), w))
        yield Case(f"state-{i}-meta-unknown-key", _put(base, (*meta, "step"), "1"))
    yield Case("state-0-action-not-init", _put(base, ("states", 0, "#meta", "action"), '"Map"'))
    if last > 0:
        yield Case("states-reversed", _put(base, ("states",), dump(states[::-1])))

    # ---- plain integers: each (up to 48 of them) as a fraction or with an exponent
    for path in _spread(list(_ints(base)), 48):
        for w in ["1.0", "1e3", "-0.5", "2E+1"]:
            yield Case(f"int-at-{_label(path)}-as-{_WORD[w]}", _put(base, path, w))
    for where in [(*config, "n"), slot, arg, ("states", last, "#meta", "index")]:
        for w in ["NaN", "Infinity", "-Infinity"]:
            yield Case(f"{w}-at-{_label(where)}", _put(base, where, w))
        for w in ["9007199254740992", "-9007199254740992", "18446744073709551615", "1" * 40,
                  "9" * 5000]:
            yield Case(f"plain-bigint-{w[:24]}-{len(w)}-at-{_label(where)}", _put(base, where, w))

    # ---- ITF tagged values and records
    for name, w in _BAD_ITF:
        yield Case(f"itf-{name}", _put(base, slot, w))
    for where in [args, config]:
        yield Case(f"hash-key-in-{_label(where)}", _put(base, (*where, "#op"), '"map"'))
        yield Case(f"bigint-key-in-{_label(where)}", _put(base, (*where, "#bigint"), '"1"'))

    # ---- duplicate keys
    for name, where in [("top", ()), ("meta", ("#meta",)), ("config", config),
                        ("state-0", ("states", 0)), ("state", ("states", last)),
                        ("state-meta", ("states", last, "#meta")), ("args", args)]:
        yield Case(f"duplicate-key-{name}", _dup(base, where, same=False))
        yield Case(f"duplicate-key-{name}-same-value", _dup(base, where, same=True))
    for name, w in [("record", '{"op": "map", "op": "unmap"}'), ("record-same", '{"a": 1, "a": 1}'),
                    ("bigint", '{"#bigint": "1", "#bigint": "2"}'),
                    ("nested", '[{"a": [{"b": 1, "b": 2}]}]')]:
        yield Case(f"duplicate-key-{name}", _put(base, slot, w))

    # ---- lone surrogates, bad UTF-8, BOM
    for name, s in _LONE:
        yield Case(f"lone-surrogate-value-{name}", _put(base, slot, f'["{s}"]'))
        yield Case(f"lone-surrogate-key-{name}", _put(base, args, f'{{"{s}": 0}}'))
    yield Case("lone-surrogate-in-spec", _put(base, spec, '"\\ud800"'))
    yield Case("lone-surrogate-var-name", text.replace(json.dumps(names[-1]), '"\\udc80"').encode())
    for name, b in _BAD_UTF8:
        yield Case(f"invalid-utf8-in-string-{name}", _put(base, spec, b'"Gpu' + b + b'Vm"'))
        yield Case(f"invalid-utf8-outside-string-{name}", raw.replace(b'"vars"', b + b'"vars"', 1))
    yield Case("invalid-utf8-at-end", body + b"\xff")
    yield Case("utf8-bom", b"\xef\xbb\xbf" + raw)
    yield Case("utf16-le", b"\xff\xfe" + text.encode("utf-16-le"))
    yield Case("utf16-be", b"\xfe\xff" + text.encode("utf-16-be"))
    yield Case("utf32", text.encode("utf-32"))

    # ---- nesting
    yield Case("nested-100000-open-brackets", b"[" * 100_000)
    yield Case("nested-100000-balanced-brackets", _nested(100_000).encode())
    yield Case("nested-100000-objects", b'{"a":' * 100_000)
    yield Case("nested-100000-inside-trace", _put(base, slot, _nested(100_000)))
    # the document, states, a state: 3 levels; 62 more make 65
    yield Case("nested-depth-65-in-value", _put(base, slot, _nested(62)))
    yield Case("nested-depth-65-records", _put(base, slot, '{"a": ' * 62 + "0" + "}" * 62))
    yield Case("nested-depth-100-in-args", _put(base, arg, _nested(100)))
    yield Case("brackets-in-string-then-fraction", _put(base, slot, '["' + "[" * 100 + '", 1.5]'))

    # ---- control characters, trailing garbage, other syntax
    for c in (0, 1, 8, 9, 10, 13, 27, 31):
        yield Case(f"raw-control-char-{c:02x}-in-string", _put(base, spec, f'"a{chr(c)}b"'))
    yield Case("raw-control-char-in-key", _put(base, args, '{"a\x01b": 0}'))
    for name, tail in [("letter", b"x"), ("brace", b"}"), ("bracket", b"]"), ("comma", b","),
                       ("nul", b"\x00"), ("comment", b"// end"), ("number", b"0")]:
        yield Case(f"trailing-garbage-{name}", raw + tail)
    yield Case("two-documents", raw + raw)
    yield Case("two-documents-one-line", body + body)
    yield Case("trace-then-array", raw + b"[]")
    for name, where, w in [
        ("trailing-comma-array", ("vars",), json.dumps(names)[:-1] + ",]"),
        ("trailing-comma-object", config, '{"a": 1,}'), ("single-quotes", spec, "'GpuVm'"),
        ("unquoted-key", config, "{spec: 1}"), ("single-quoted-key", config, "{'a': 1}"),
        ("comment", ("vars",), "/* v */ " + json.dumps(names)), ("leading-zero", index0, "00"),
        ("plus-sign", index0, "+0"), ("hex", index0, "0x0"), ("bare-dot-number", index0, ".5"),
        ("minus-only", index0, "-"), ("python-true", arg, "True"), ("python-none", arg, "None"),
        ("undefined", arg, "undefined"), ("bad-escape", spec, '"Gpu\\xVm"'),
        ("short-unicode-escape", spec, '"\\u12"'), ("missing-colon", config, '{"a" 1}'),
        ("missing-comma", ("vars",), '["a" "b"]'), ("missing-value", config, '{"a": }'),
        ("unclosed-string", spec, '"GpuVm'),
    ]:
        yield Case(f"syntax-{name}", _put(base, where, w))

    # ---- not a regular file, or not there
    for kind in SPECIAL_KINDS:
        yield Case(f"special-{kind}", None, kind)


class CannotSetUp(Exception):
    """This machine cannot make the file a case names (the caller skips it)."""


def materialise(case: Case, d: Path) -> Path:
    """The path ``case`` names, made ready under the directory ``d``."""
    path = d / f"{case.kind}-{abs(hash(case.name))}.itf.json"
    if case.kind == "file":
        assert case.data is not None
        path.write_bytes(case.data)
    elif case.kind == "fifo":
        os.mkfifo(path)
    elif case.kind == "dev-zero":
        path = Path("/dev/zero")
        if not path.exists():
            raise CannotSetUp("no /dev/zero here")
    elif case.kind == "directory":
        path.mkdir()
    elif case.kind == "symlink-to-dir":
        (d / "a-dir").mkdir(exist_ok=True)
        path.symlink_to(d / "a-dir")
    elif case.kind == "missing":
        pass
    elif case.kind == "unreadable":
        path.write_text(dump(base_trace()))
        path.chmod(0)
        if os.access(path, os.R_OK):
            raise CannotSetUp("running as root: mode 000 does not keep the file from being read")
    elif case.kind == "socket":
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:  # a Unix socket's path has a short length limit: bind it relative to d
            with contextlib.chdir(d):
                sock.bind(path.name)
        except OSError as e:
            raise CannotSetUp(f"cannot bind a Unix socket here: {e}") from None
        finally:
            sock.close()
    elif case.kind == "huge":
        with path.open("wb") as f:
            f.truncate(HUGE_BYTES)  # sparse: takes no disk space
    else:  # pragma: no cover
        raise AssertionError(f"unknown case kind {case.kind}")
    return path
