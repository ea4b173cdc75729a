"""cartloader.outcomes.meta, in process: the input's fingerprint (file, stdin, iterable) and why a log from another
input is refused, the options that change what a line means, and the meta file written and read back. (These are
the focused tests that tests/mutation.py runs for ``meta``.)"""

from __future__ import annotations

import hashlib
import os
import re
from pathlib import Path

import orjson
import pytest

from cartloader._version import __version__
from cartloader.errors import ConfigError
from cartloader.outcomes.meta import (
    MEANING_OPTIONS,
    InputFingerprint,
    RunMeta,
    meta_path_for,
    new_run_id,
)

HEAD = 64 * 1024


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def test_the_meta_file_is_beside_the_log() -> None:
    assert meta_path_for("out/log.ndjson") == "out/log.ndjson.meta.json"


def test_a_file_is_fingerprinted_by_its_resolved_path_size_and_first_64_kib(tmp_path: Path) -> None:
    data = bytes(range(256)) * 300  # 76,800 bytes: more than the head
    (tmp_path / "in.ndjson").write_bytes(data)
    (tmp_path / "link").symlink_to(tmp_path / "in.ndjson")
    found = InputFingerprint.of_input(str(tmp_path / "link"))
    resolved = os.path.realpath(tmp_path / "in.ndjson")
    assert found == InputFingerprint("file", resolved, len(data), HEAD, _sha(data[:HEAD]))
    small = tmp_path / "small.ndjson"
    small.write_bytes(b"{}\n")
    assert InputFingerprint.of_input(str(small)) == InputFingerprint("file", str(small), 3, 3, _sha(b"{}\n"))


def test_stdin_and_an_iterable_are_only_their_kind() -> None:
    assert InputFingerprint.of_input(None) == InputFingerprint("iterable", None, None, 0, None)
    assert InputFingerprint.of_input("-") == InputFingerprint("stdin", "-", None, 0, None)
    assert InputFingerprint.of_stdin(b"") == InputFingerprint("stdin", "-", None, 0, None)
    assert InputFingerprint.of_stdin(b"abc") == InputFingerprint("stdin", "-", None, 3, _sha(b"abc"))


def test_an_unreadable_input_is_refused_naming_it_and_why(tmp_path: Path) -> None:
    missing = str(tmp_path / "missing.ndjson")
    with pytest.raises(ConfigError) as info:
        InputFingerprint.of_input(missing)
    assert str(info.value) == f"cannot read input {missing}: No such file or directory"


def test_a_file_that_grew_is_the_same_input_a_shrunk_or_changed_one_is_not(tmp_path: Path) -> None:
    path = tmp_path / "in.ndjson"
    path.write_bytes(b"a" * 100)
    before = InputFingerprint.of_input(str(path))
    assert before.mismatch(InputFingerprint.of_input(str(path))) is None
    path.write_bytes(b"a" * 150)  # grew: its first 100 bytes are read again and agree
    assert before.mismatch(InputFingerprint.of_input(str(path))) is None
    path.write_bytes(b"a" * 99)
    assert before.mismatch(InputFingerprint.of_input(str(path))) == (
        f"it was made from input {path} of 100 bytes; this input has 99"
    )
    path.write_bytes(b"b" + b"a" * 99)  # same size, other first bytes
    assert before.mismatch(InputFingerprint.of_input(str(path))) == (
        f"it was made from input {path}, whose first bytes differ from this input's"
    )
    path.write_bytes(b"b" + b"a" * 149)  # grew and changed at the start
    assert before.mismatch(InputFingerprint.of_input(str(path))) == (
        f"it was made from input {path}, whose first bytes differ from this input's"
    )


def test_a_grown_file_compares_only_the_bytes_the_log_saw(tmp_path: Path) -> None:
    path = tmp_path / "in.ndjson"
    path.write_bytes(b"x" * 10)
    before = InputFingerprint.of_input(str(path))
    path.write_bytes(b"x" * 10 + b"y" * (HEAD + 5))
    current = InputFingerprint.of_input(str(path))
    assert current.head_bytes == HEAD
    assert before.mismatch(current) is None
    # the other way round: a log of the long file is not continued by a file with other first bytes
    longer = InputFingerprint.of_input(str(path))
    path.write_bytes(b"x" * 10 + b"z" * (HEAD + 5))
    assert longer.mismatch(InputFingerprint.of_input(str(path))) is not None


def test_a_grown_file_that_can_no_longer_be_read_is_refused_saying_why(tmp_path: Path) -> None:
    path = tmp_path / "in.ndjson"
    path.write_bytes(b"x" * 10)
    before = InputFingerprint.of_input(str(path))
    gone = InputFingerprint("file", str(tmp_path / "gone.ndjson"), 20, 20, _sha(b"x" * 20))
    assert before.mismatch(gone) == "this input cannot be read (No such file or directory)"


def test_another_kind_of_input_is_refused_naming_both() -> None:
    file = InputFingerprint("file", "/data/in.ndjson", 3, 3, _sha(b"{}\n"))
    stdin = InputFingerprint.of_stdin(b"")
    iterable = InputFingerprint.of_input(None)
    assert file.mismatch(stdin) == "it was made from input /data/in.ndjson, not stdin"
    assert stdin.mismatch(iterable) == "it was made from stdin, not an iterable"
    assert iterable.mismatch(file) == "it was made from an iterable, not input /data/in.ndjson"
    assert iterable.mismatch(InputFingerprint.of_input(None)) is None


def test_stdin_is_compared_by_its_first_bytes() -> None:
    before = InputFingerprint.of_stdin(b"abcdef")
    assert before.mismatch(InputFingerprint.of_stdin(b"abcdef")) is None
    assert before.mismatch(InputFingerprint.of_stdin(b"abc")) == (
        "it was made from stdin whose first 6 bytes this stdin does not have"
    )
    assert before.mismatch(InputFingerprint.of_stdin(b"")) == (
        "it was made from stdin whose first 6 bytes this stdin does not have"
    )
    assert before.mismatch(InputFingerprint.of_stdin(b"abcdeX")) == (
        "it was made from stdin whose first 6 bytes differ from this stdin's"
    )
    # more bytes read this time: a head of another length is another stdin (stdin's head is read once, whole)
    assert before.mismatch(InputFingerprint.of_stdin(b"abcdefg")) == (
        "it was made from stdin whose first 6 bytes differ from this stdin's"
    )


def test_a_log_from_an_unfingerprinted_stdin_accepts_any_stdin() -> None:
    for old in (InputFingerprint.of_stdin(b""), InputFingerprint("stdin", "-", None, 5, None)):
        assert old.mismatch(InputFingerprint.of_stdin(b"anything")) is None
        assert old.mismatch(InputFingerprint.of_stdin(b"")) is None


def test_a_fingerprint_goes_through_its_dict_unchanged(tmp_path: Path) -> None:
    path = tmp_path / "in.ndjson"
    path.write_bytes(b"{}\n")
    for fingerprint in (
        InputFingerprint.of_input(str(path)),
        InputFingerprint.of_stdin(b"abc"),
        InputFingerprint.of_input(None),
    ):
        data = fingerprint.to_dict()
        assert set(data) == {"kind", "path", "size", "head_bytes", "head_sha256"}
        assert InputFingerprint.from_dict(data) == fingerprint
    assert InputFingerprint.of_input(str(path)).to_dict() == {
        "kind": "file",
        "path": str(path),
        "size": 3,
        "head_bytes": 3,
        "head_sha256": _sha(b"{}\n"),
    }
    assert InputFingerprint.from_dict({"kind": "stdin"}) == InputFingerprint("stdin")
    assert InputFingerprint.from_dict({"kind": "stdin", "head_bytes": "7"}).head_bytes == 7


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"kind": "socket"}, "unknown input kind 'socket'"),
        ({"kind": "file", "size": 3}, "a file fingerprint needs a size and a hash"),
        ({"kind": "file", "head_sha256": "ab"}, "a file fingerprint needs a size and a hash"),
        ({"kind": "file", "size": True, "head_sha256": "ab"}, "a file fingerprint needs a size and a hash"),
        ({"kind": "file", "size": 3, "head_sha256": 5}, "a file fingerprint needs a size and a hash"),
    ],
)
def test_a_malformed_fingerprint_is_refused(data: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=f"^{re.escape(message)}$"):
        InputFingerprint.from_dict(data)


def test_a_file_fingerprint_with_a_size_and_a_hash_is_read() -> None:
    data = {"kind": "file", "path": "/x", "size": 0, "head_bytes": 0, "head_sha256": ""}
    assert InputFingerprint.from_dict(data) == InputFingerprint("file", "/x", 0, 0, "")


def test_a_new_run_gets_a_fresh_short_run_id(tmp_path: Path) -> None:
    ids = {new_run_id() for _ in range(50)}
    assert all(re.fullmatch(r"r[0-9a-f]{4}", run_id) for run_id in ids)
    assert len(ids) > 40
    path = tmp_path / "in.ndjson"
    path.write_bytes(b"{}\n")
    meta = RunMeta.new(str(path), {"upsert_by": "ext"})
    assert re.fullmatch(r"r[0-9a-f]{4}", meta.run_id)
    assert meta.input == InputFingerprint.of_input(str(path))
    assert meta.options == {"upsert_by": "ext"}
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", meta.started)
    assert (meta.resumed, meta.version) == ((), __version__)
    assert RunMeta.new(None).options == {}


def test_stdin_is_fingerprinted_from_its_head_when_given() -> None:
    assert RunMeta.new("-", stdin_head=b"abc").input == InputFingerprint.of_stdin(b"abc")
    assert RunMeta.new("-").input == InputFingerprint("stdin", "-")
    assert RunMeta.new("-", stdin_head=b"").input == InputFingerprint("stdin", "-")


def test_the_meta_file_goes_through_json_unchanged(tmp_path: Path) -> None:
    meta = RunMeta(
        "r1234",
        InputFingerprint.of_stdin(b"abc"),
        {"upsert_by": "ext", "convert": ["a:number"]},
        "2026-01-01T00:00:00Z",
        ("2026-01-02T00:00:00Z",),
        "9.9",
    )
    data = meta.to_json()
    assert data.endswith(b"}\n")
    assert b'\n  "run_id": "r1234"' in data  # indented
    assert orjson.loads(data) == {
        "run_id": "r1234",
        "input": meta.input.to_dict(),
        "options": {"upsert_by": "ext", "convert": ["a:number"]},
        "started": "2026-01-01T00:00:00Z",
        "resumed": ["2026-01-02T00:00:00Z"],
        "version": "9.9",
    }
    assert RunMeta.from_json(data) == meta
    path = tmp_path / "log.ndjson.meta.json"
    path.write_bytes(data)
    assert RunMeta.read(str(path)) == meta


def test_a_meta_file_without_its_optional_fields_reads_with_defaults() -> None:
    meta = RunMeta.from_json(b'{"run_id": "r1", "input": {"kind": "iterable"}, "options": null, "resumed": null}')
    assert meta == RunMeta("r1", InputFingerprint("iterable"), {}, "", (), "unknown")
    assert RunMeta.from_json(b'{"run_id": "r1", "input": {"kind": "iterable"}, "resumed": [1]}').resumed == ("1",)


@pytest.mark.parametrize(
    "data",
    [
        b"{not json",
        b"[]",
        b"{}",
        b'{"run_id": "", "input": {"kind": "iterable"}}',
        b'{"run_id": 5, "input": {"kind": "iterable"}}',
        b'{"run_id": "r1"}',
        b'{"run_id": "r1", "input": {"kind": "socket"}}',
        b'{"run_id": "r1", "input": {}}',
        b'{"run_id": "r1", "input": []}',
        b'{"run_id": "r1", "input": {"kind": "iterable"}, "resumed": 5}',
    ],
)
def test_what_is_not_a_meta_file_is_refused(data: bytes, tmp_path: Path) -> None:
    with pytest.raises(ValueError):  # noqa: PT011 -- the messages differ by cause
        RunMeta.from_json(data)
    path = tmp_path / "x.meta.json"
    path.write_bytes(data)
    assert RunMeta.read(str(path)) is None


def test_a_meta_file_that_is_not_json_says_so() -> None:
    with pytest.raises(ValueError, match=r"^not a cartloader meta file \(.+\)$"):
        RunMeta.from_json(b"{not json")
    with pytest.raises(ValueError, match=r"^not a cartloader meta file \('run_id'\)$"):
        RunMeta.from_json(b"{}")
    with pytest.raises(ValueError, match=r"^no run id$"):
        RunMeta.from_json(b'{"run_id": "", "input": {"kind": "iterable"}}')


def test_a_missing_or_unreadable_meta_file_reads_as_none(tmp_path: Path) -> None:
    assert RunMeta.read(str(tmp_path / "missing.meta.json")) is None
    assert RunMeta.read(str(tmp_path)) is None  # a folder


def _with(options: dict[str, object]) -> RunMeta:
    return RunMeta("r1", InputFingerprint("iterable"), options)


def test_a_change_of_an_option_that_changes_meaning_is_named() -> None:
    assert _with({"upsert_by": "ext"}).meaning_mismatch(_with({"upsert_by": "ext"})) is None
    assert _with({"upsert_by": "ext"}).meaning_mismatch(_with({})) == (
        "it was made with --upsert-by ext, and this run has none"
    )
    assert _with({"upsert_by": None}).meaning_mismatch(_with({"upsert_by": "ext"})) == (
        "it was made with --upsert-by none, and this run has ext"
    )
    assert _with({"convert": ["a:number"]}).meaning_mismatch(_with({"convert": []})) == (
        'it was made with --convert ["a:number"], and this run has []'
    )
    assert _with({"format": "ndjson", "encoding": "utf-8"}).meaning_mismatch(
        _with({"format": "ndjson", "encoding": "latin-1"})
    ) == ("it was made with --encoding utf-8, and this run has latin-1")


def test_each_meaning_option_is_compared_and_labelled() -> None:
    assert MEANING_OPTIONS == {
        "upsert_by": "--upsert-by",
        "object_type": "--object-type",
        "api_version": "--api-version",
        "format": "--format",
        "csv": "the CSV layout (--map, --associate, --csv-delimiter)",
        "encoding": "--encoding",
        "convert": "--convert",
    }
    for name, label in MEANING_OPTIONS.items():
        assert _with({name: 1}).meaning_mismatch(_with({name: 2})) == f"it was made with {label} 1, and this run has 2"


def test_an_option_the_earlier_run_did_not_record_accepts_any_value() -> None:
    assert _with({}).meaning_mismatch(_with({"upsert_by": "ext", "convert": ["a:b"]})) is None
    assert _with({"concurrency": 4}).meaning_mismatch(_with({"concurrency": 8})) is None  # not a meaning option


def test_a_stdin_head_is_only_read_for_stdin(tmp_path: Path) -> None:
    path = tmp_path / "in.ndjson"
    path.write_bytes(b"{}\n")
    assert RunMeta.new(str(path), stdin_head=b"abc").input == InputFingerprint.of_input(str(path))
    assert RunMeta.new(None, stdin_head=b"abc").input == InputFingerprint("iterable")
