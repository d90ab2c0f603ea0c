"""The strict ITF reader: hostile files are refused with one clear line, good ones read."""

from __future__ import annotations

import json
import os
import re
import threading
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator

from checks import itf
from checks.itf import (
    TRACE_SCHEMA,
    decode,
    json_path,
    load_trace_doc,
    locate,
    read_json,
    validate_trace,
)
from checks.outcome import ToolError
from tests.malformed_traces import (
    SPECIAL_KINDS,
    CannotSetUp,
    Case,
    base_trace,
    cases,
    dump,
    materialise,
)

CORPUS = sorted((Path(__file__).parent / "corpus").glob("*.itf.json"))
CASES = list(cases(base_trace()))


def _setup(case: Case, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The path a case names, made ready; skips what cannot be set up here."""
    try:
        return materialise(case, tmp_path)
    except CannotSetUp as e:
        pytest.skip(str(e))


_SAYS = {"fifo": "it is a FIFO", "dev-zero": "it is a device", "directory": "it is a directory",
         "symlink-to-dir": "it is a directory", "missing": "cannot open trace",
         "unreadable": "cannot open trace", "socket": "it is a socket",
         "huge": "larger than the limit"}


def _refused(path: Path) -> ToolError:
    with pytest.raises(ToolError) as info:
        load_trace_doc(path)
    return info.value


# ------------------------------------------------------------ the generator

def test_generator_makes_hundreds_of_distinct_cases() -> None:
    assert len(CASES) >= 400
    assert len({c.name for c in CASES}) == len(CASES)
    files = [c.data for c in CASES if c.kind == "file"]
    assert len(set(files)) == len(files)
    assert {c.kind for c in CASES} == {"file", *SPECIAL_KINDS}
    assert all((c.data is None) == (c.kind != "file") for c in CASES)


SMALL = sorted(CORPUS, key=lambda p: p.stat().st_size)[:3]


@pytest.mark.parametrize("path", SMALL, ids=[p.name for p in SMALL])
def test_generator_works_from_any_valid_trace(path: Path, tmp_path: Path) -> None:
    made = list(cases(json.loads(path.read_text())))
    assert len(made) >= 400 and len({c.name for c in made}) == len(made)
    for case in made[::25]:
        if case.kind == "file":
            assert case.data is not None
            file = tmp_path / "t.itf.json"
            file.write_bytes(case.data)
            where = _refused(file).where
            assert where is not None and where.startswith(f"{file}:"), case.name


def test_the_base_trace_is_valid(tmp_path: Path) -> None:
    path = tmp_path / "base.itf.json"
    path.write_text(dump(base_trace()))
    doc, _ = load_trace_doc(path)
    assert doc == base_trace()


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_malformed_trace_is_refused(case: Case, tmp_path: Path,
                                    monkeypatch: pytest.MonkeyPatch) -> None:
    path = _setup(case, tmp_path, monkeypatch)
    err = _refused_in_thread(path) if case.kind == "fifo" else _refused(path)
    assert type(err) is ToolError
    assert err.where is not None
    if case.kind == "file":
        assert re.fullmatch(re.escape(str(path)) + r":[1-9][0-9]*", err.where), err.where
    else:
        assert err.where == str(path)
        assert _SAYS[case.kind] in err.message, err.message
    assert err.message and "\n" not in str(err) and "\r" not in str(err)
    assert len(err.message) < 300
    str(err).encode("utf-8")  # printable: no lone surrogate leaks into the message


def _refused_in_thread(path: Path) -> ToolError:
    got: list[BaseException] = []

    def run() -> None:
        try:
            load_trace_doc(path)
        except BaseException as e:  # handed to the test's thread
            got.append(e)

    t = threading.Thread(target=run, daemon=True)
    t.start()
    t.join(10)
    assert not t.is_alive(), f"reading the FIFO {path} hangs"
    assert len(got) == 1 and isinstance(got[0], ToolError), got
    return got[0]


def test_fifo_with_a_writer_is_refused_too(tmp_path: Path) -> None:
    path = tmp_path / "pipe.itf.json"
    os.mkfifo(path)
    fd = os.open(path, os.O_RDWR | os.O_NONBLOCK)  # keeps a writer end open
    try:
        assert "FIFO" in _refused_in_thread(path).message
    finally:
        os.close(fd)


# ---------------------------------------------------- what the messages say

def _refuse_text(tmp_path: Path, text: str | bytes) -> ToolError:
    path = tmp_path / "t.itf.json"
    path.write_bytes(text if isinstance(text, bytes) else text.encode())
    return _refused(path)


def _line_of(text: str, needle: str) -> int:
    return text[: text.index(needle)].count("\n") + 1


def test_messages_name_the_path_and_the_line(tmp_path: Path) -> None:
    text = dump(base_trace())
    bad = text.replace('"offset": 0,\n', '"offset": 1.5,\n', 1)
    err = _refuse_text(tmp_path, bad)
    assert err.message == 'at $.states[1]["#meta"].args.offset: 1.5 is not allowed: integers only'
    assert err.where == f"{tmp_path / 't.itf.json'}:{_line_of(bad, '1.5')}"

    doc = base_trace()
    del doc["states"][3]["vas"]
    err = _refuse_text(tmp_path, dump(doc))
    assert "state 3 lacks variable vas" in err.message
    doc = base_trace()
    doc["states"][3]["x"] = 1
    err = _refuse_text(tmp_path, dump(doc))
    assert err.message == "at $.states[3].x: state 3 has variable x not in vars"
    line = _line_of(dump(doc), '"x": 1')
    assert err.where == f"{tmp_path / 't.itf.json'}:{line}"

    bad = text.replace('"addr": 0', '"addr": 0, "addr": 1', 1)
    err = _refuse_text(tmp_path, bad)
    assert err.message == 'at $.states[1]["#meta"].args: duplicate key "addr"'

    doc = base_trace()
    doc["states"][2]["#meta"]["index"] = 7
    err = _refuse_text(tmp_path, dump(doc))
    assert err.message == 'at $.states[2]["#meta"].index: state 2 has index 7, expected 2'
    line = _line_of(dump(doc), '"index": 7')
    assert err.where == f"{tmp_path / 't.itf.json'}:{line}"


def test_huge_values_are_cut_short_in_messages(tmp_path: Path) -> None:
    doc = base_trace()
    doc["#meta"]["spec"] = ["x" * 100_000]
    err = _refuse_text(tmp_path, dump(doc))
    assert err.message == 'at $["#meta"].spec: expected a string, found an array'
    doc["#meta"]["spec"] = "GpuVm"
    doc["vars"].append("y" * 100_000 + "-")
    err = _refuse_text(tmp_path, dump(doc))
    assert len(err.message) < 150 and "is not an identifier" in err.message
    doc["vars"][-1] = "y" * 100_000
    err = _refuse_text(tmp_path, dump(doc))
    assert len(err.message) < 150 and "state 0 lacks variable" in err.message
    doc["vars"].pop()
    for s in doc["states"]:
        s["z" * 100_000] = 1
    err = _refuse_text(tmp_path, dump(doc))
    assert len(err.message) < 250 and "state 0 has variable" in err.message


def test_plain_integers_of_2_53_and_more_must_be_bigint(tmp_path: Path) -> None:
    doc = base_trace()
    doc["states"][1]["vas"][0][0] = 2**53 - 1
    doc["states"][1]["lastOps"][0]["addr"] = -(2**53 - 1)
    path = tmp_path / "ok.itf.json"
    path.write_text(dump(doc))
    load_trace_doc(path)
    doc["states"][1]["vas"][0][0] = 2**53
    err = _refuse_text(tmp_path, dump(doc))
    assert "$.states[1].vas[0][0]" in err.message and "#bigint" in err.message


def test_nesting_up_to_the_limit_is_fine(tmp_path: Path) -> None:
    # the document, states and a state make 3 levels
    for depth, ok in [(itf.MAX_DEPTH - 3, True), (itf.MAX_DEPTH - 2, False)]:
        doc = base_trace()
        value: Any = {"#bigint": "1"}
        for n in range(depth - 1):
            value = [value] if n % 2 else {"k": value}
        doc["states"][1]["vas"] = value
        path = tmp_path / f"deep{depth}.itf.json"
        path.write_text(dump(doc))
        if ok:
            load_trace_doc(path)
        else:
            assert "nested more than 64" in _refused(path).message


def test_read_json_refuses_what_it_must_and_keeps_the_rest(tmp_path: Path) -> None:
    path = tmp_path / "x.json"
    path.write_text('{"a": [1, -2, {"b": null}], "c": "\\ud83d\\ude00", "d": true}')
    doc, text = read_json(path, "config")
    assert doc == {"a": [1, -2, {"b": None}], "c": "\U0001f600", "d": True}
    assert text.startswith('{"a"')
    path.write_text('"\\u0000 is fine, \\ud800 is not"')
    with pytest.raises(ToolError, match=r"at \$: string contains a lone surrogate"):
        read_json(path)
    with pytest.raises(ToolError, match="cannot open config: No such file"):
        read_json(tmp_path / "nope.json", "config")
    with pytest.raises(ToolError, match="cannot open"):
        read_json(Path("bad\0name"))


def test_validate_trace_on_a_hostile_vars_list_is_linear(tmp_path: Path) -> None:
    # jsonschema's own uniqueItems is quadratic on distinct items it cannot sort
    doc = base_trace()
    doc["vars"] = [1, *({"k": i} for i in range(20_000))]
    with pytest.raises(ToolError, match=r"at \$\.vars\[0\]: expected a string, found an integer"):
        validate_trace(doc, tmp_path / "t.json", "")
    doc["vars"] = ["a", "b", "c", "b"]
    with pytest.raises(ToolError, match=r'at \$\.vars\[3\]: "b" repeats an earlier item'):
        validate_trace(doc, tmp_path / "t.json", "")


# ------------------------------------------------------------- the corpus

@pytest.mark.parametrize("path", CORPUS, ids=[p.name for p in CORPUS])
def test_corpus_trace_reads_and_validates(path: Path) -> None:
    doc, text = load_trace_doc(path)
    assert doc == json.loads(path.read_text())
    validate_trace(doc, path, text)
    plain = decode(doc)
    assert "#bigint" not in json.dumps(plain)
    assert all(isinstance(s["#meta"]["index"], int) for s in plain["states"])


def test_corpus_has_bigints_and_decode_gives_ints() -> None:
    path = next(p for p in CORPUS if "#bigint" in p.read_text())
    doc, _ = load_trace_doc(path)
    plain = decode(doc)
    raw = json.dumps(doc)

    def ints(v: object) -> list[int]:
        if isinstance(v, bool):
            return []
        if isinstance(v, int):
            return [v]
        if isinstance(v, dict):
            return [i for x in v.values() for i in ints(x)]
        if isinstance(v, list):
            return [i for x in v for i in ints(x)]
        return []

    big = [i for i in ints(plain) if i > 2**53]
    assert big and all(f'"#bigint": "{i}"' in raw for i in big)
    assert "#bigint" not in json.dumps(plain)
    assert type(plain["#meta"]["config"]["regions"]) is bool


def test_decode() -> None:
    assert decode({"#bigint": "-18446744073709551615"}) == -18446744073709551615
    assert decode({"#tup": [1, {"#bigint": "2"}]}) == [1, 2]
    assert decode({"#set": []}) == []
    assert decode({"#map": [[{"#bigint": "1"}, "a"], ["k", [True]]]}) == [[1, "a"], ["k", [True]]]
    assert decode({"a": None, "b": [False, "s"]}) == {"a": None, "b": [False, "s"]}
    assert decode(True) is True


# ---------------------------------------------------------------- locate

def test_locate_in_a_pretty_printed_document() -> None:
    text = """{
 "a\\"b": "x{[\\"",
 "k\\\\n": [
  1,
  {"y": [2,
         3]}
 ],
 "\\u00e9t\\u00e9": {
  "\\ud83d\\ude00": null,
  "z": "}]"
 }
}
"""
    json.loads(text)
    assert locate(text, []) == 1
    assert locate(text, ['a"b']) == 2
    assert locate(text, ["k\\n"]) == 3
    assert locate(text, ["k\\n", 0]) == 4
    assert locate(text, ["k\\n", 1]) == 5
    assert locate(text, ["k\\n", 1, "y", 1]) == 6
    assert locate(text, ["été"]) == 8
    assert locate(text, ["été", "\U0001f600"]) == 9
    assert locate(text, ["été", "z"]) == 10
    assert locate(text, ["nope"]) == 1
    assert locate(text, ["k\\n", 5]) == 1
    assert locate(text, ["a\"b", 0]) == 1
    assert locate("[1, 2", [5]) == 1
    assert locate('{"a": "unterminated', ["b"]) == 1


def test_locate_does_not_recurse() -> None:
    depth = 50_000
    text = "[\n" * depth + "7" + "\n]" * depth
    assert locate(text, [0] * depth) == depth + 1
    assert locate(text, [0] * (depth + 1)) == 1


def test_json_path() -> None:
    assert json_path([]) == "$"
    assert json_path(["states", 3, "#meta", "args", "addr"]) == '$.states[3]["#meta"].args.addr'
    assert json_path(["format-description", "a b", "x\n"]) == \
        '$["format-description"]["a b"]["x\\n"]'


# ---------------------------------------------------------------- schema

def test_schema_file_is_the_schema() -> None:
    path = Path(itf.__file__).with_name("itf.schema.json")
    assert json.loads(path.read_text()) == TRACE_SCHEMA


def test_schema_is_a_valid_2020_12_schema() -> None:
    Draft202012Validator.check_schema(TRACE_SCHEMA)
    validator = Draft202012Validator(TRACE_SCHEMA)
    for path in CORPUS:
        assert not list(validator.iter_errors(json.loads(path.read_text()))), path
    assert not validator.is_valid({"#meta": {"spec": "S"}, "vars": ["v"], "states": [{}]})
    assert validator.is_valid({"#meta": {"spec": "S"}, "vars": ["v"], "params": [], "loop": None,
                               "states": [{"#meta": {"index": 0, "action": "Init", "args": {}},
                                           "v": {"#map": [[{"#tup": [1]}, {"#set": []}]]}}]})


# ----------------------------------------------------- against itf-py

def _plain(value: Any) -> Any:
    """itf-py's values as plain data, to compare with :func:`decode`."""
    if hasattr(value, "_fields"):  # a record: a namedtuple
        return {k: _plain(getattr(value, k)) for k in value._fields}
    if hasattr(value, "items"):  # a #map
        return [[_plain(k), _plain(v)] for k, v in value.items()]
    if isinstance(value, frozenset):
        return sorted((_plain(v) for v in value), key=json.dumps)
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


@pytest.mark.parametrize("path", CORPUS, ids=[p.name for p in CORPUS])
def test_itf_py_reads_the_corpus_alike(path: Path) -> None:
    itf_py = pytest.importorskip("itf_py")
    doc, _ = load_trace_doc(path)
    trace = itf_py.trace_from_json(json.loads(path.read_text()))
    assert trace.vars == doc["vars"]
    assert trace.loop is None and trace.params == []
    assert len(trace.states) == len(doc["states"])
    for theirs, ours in zip(trace.states, doc["states"], strict=True):
        assert theirs.meta == ours["#meta"]
        assert set(theirs.values) == set(doc["vars"])
        for name in doc["vars"]:
            # json.dumps tells true from 1, which == does not
            assert json.dumps(_plain(theirs.values[name]), sort_keys=True) == \
                json.dumps(decode(ours[name]), sort_keys=True), (path.name, name)
