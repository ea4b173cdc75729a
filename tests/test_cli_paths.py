"""cartloader.cli.paths, in process: files compared as files (device and inode, or where a new path resolves to),
character devices shared harmlessly, stdin and stdout read through their descriptors, and the message that refuses
an output that is the input, the token file or another output. (The command-line cases, in a child process, are in
tests/test_output_paths.py; these are the focused tests that tests/mutation.py runs for ``paths``.)"""

from __future__ import annotations

import io
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from cartloader.cli.paths import check_outputs, identity, stdin_identity, stdout_identity
from cartloader.errors import ConfigError


def _file(path: Path) -> tuple[str, int, int]:
    status = os.stat(path)
    return ("file", status.st_dev, status.st_ino)


def test_an_existing_file_is_its_device_and_inode_whatever_path_names_it(tmp_path: Path) -> None:
    target = tmp_path / "log.ndjson"
    target.write_text("x")
    (tmp_path / "hard").hardlink_to(target)
    (tmp_path / "soft").symlink_to(target)
    expected = _file(target)
    (tmp_path / "sub").mkdir()
    for name in ("log.ndjson", "hard", "soft", "./log.ndjson", "sub/../log.ndjson"):
        assert identity(f"{tmp_path}/{name}") == expected, name


def test_a_path_that_does_not_exist_yet_is_where_it_resolves_to(tmp_path: Path) -> None:
    (tmp_path / "real").mkdir()
    (tmp_path / "link").symlink_to(tmp_path / "real")
    resolved = os.path.realpath(tmp_path / "real" / "new.ndjson")
    assert identity(str(tmp_path / "link" / "new.ndjson")) == ("path", resolved)
    assert identity(f"{tmp_path}/real/./new.ndjson") == ("path", resolved)


def test_a_character_device_has_no_identity() -> None:
    assert identity(os.devnull) is None


def test_stdin_is_the_file_it_was_redirected_from(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    source = tmp_path / "in.ndjson"
    source.write_text("{}\n")
    with source.open() as stream:
        monkeypatch.setattr(sys, "stdin", stream)
        assert stdin_identity() == _file(source)


def test_stdin_without_a_regular_file_behind_it_has_no_identity(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "stdin", io.StringIO("{}"))  # no descriptor (io.UnsupportedOperation)
    assert stdin_identity() is None
    monkeypatch.setattr(sys, "stdin", object())  # no fileno at all
    assert stdin_identity() is None
    read_end, write_end = os.pipe()
    with os.fdopen(read_end) as pipe:
        monkeypatch.setattr(sys, "stdin", pipe)
        assert stdin_identity() is None  # a pipe
        os.close(write_end)
    closed = pipe  # fileno() of a closed file raises ValueError
    monkeypatch.setattr(sys, "stdin", closed)
    assert stdin_identity() is None
    with open(os.devnull) as null:
        monkeypatch.setattr(sys, "stdin", null)
        assert stdin_identity() is None  # a character device


class _StaleDescriptor:
    """A stream whose descriptor has been closed behind its back: fstat raises OSError."""

    def __init__(self, fd: int) -> None:
        self.fd = fd

    def fileno(self) -> int:
        return self.fd


def test_stdin_on_a_closed_descriptor_has_no_identity(monkeypatch: pytest.MonkeyPatch) -> None:
    fd = os.open(os.devnull, os.O_RDONLY)
    os.close(fd)
    monkeypatch.setattr(sys, "stdin", _StaleDescriptor(fd))
    assert stdin_identity() is None


@contextmanager
def _fd1(fd: int | None) -> Iterator[None]:
    """File descriptor 1 pointed at ``fd`` (None: closed) for the duration."""
    sys.stdout.flush()
    saved = os.dup(1)
    try:
        if fd is None:
            os.close(1)
        else:
            os.dup2(fd, 1)
        yield
    finally:
        os.dup2(saved, 1)
        os.close(saved)


def test_stdout_is_the_file_behind_descriptor_1(tmp_path: Path) -> None:
    target = tmp_path / "s.json"
    with target.open("w") as out, _fd1(out.fileno()):
        found = stdout_identity()
    assert found == _file(target)


def test_stdout_to_a_pipe_is_the_pipe(tmp_path: Path) -> None:
    read_end, write_end = os.pipe()
    try:
        with _fd1(write_end):
            found = stdout_identity()
        status = os.fstat(write_end)
        assert found == ("file", status.st_dev, status.st_ino)
    finally:
        os.close(read_end)
        os.close(write_end)


def test_stdout_to_a_character_device_or_closed_has_no_identity() -> None:
    fd = os.open(os.devnull, os.O_WRONLY)
    try:
        with _fd1(fd):
            assert stdout_identity() is None
    finally:
        os.close(fd)
    with _fd1(None):
        assert stdout_identity() is None


def test_an_output_that_is_a_protected_file_is_refused_naming_both(tmp_path: Path) -> None:
    source = tmp_path / "in.ndjson"
    source.write_text("{}\n")
    protected = [("the token file", None), ("the input file", identity(str(source)))]
    with pytest.raises(ConfigError) as info:
        check_outputs(protected, [("--out", str(tmp_path / "log.ndjson")), ("--rejects", str(source))])
    assert str(info.value) == (
        f"--rejects {source} is the same file as the input file: writing it would destroy that; choose another path"
    )


def test_an_output_that_is_another_output_is_refused_naming_both(tmp_path: Path) -> None:
    summary = tmp_path / "s.json"
    summary.write_text("")
    with pytest.raises(ConfigError) as info:
        check_outputs([], [("--out -", _file(summary)), ("--summary-json", str(summary))])
    assert str(info.value) == (
        f"--summary-json {summary} is the same file as --out -: writing it would destroy that; choose another path"
    )
    new = tmp_path / "new.ndjson"  # not there yet: compared by where it resolves to
    with pytest.raises(ConfigError) as again:
        check_outputs([], [("--out", str(new)), ("--rejects", f"{tmp_path}/./new.ndjson")])
    assert str(again.value).startswith(f"--rejects {tmp_path}/./new.ndjson is the same file as --out {new}: ")


def test_distinct_outputs_and_shared_character_devices_pass(tmp_path: Path) -> None:
    source = tmp_path / "in.ndjson"
    source.write_text("{}\n")
    check_outputs(
        [("the input file", identity(str(source))), ("the token file", None)],
        [
            ("--out", str(tmp_path / "log.ndjson")),
            ("--rejects", os.devnull),
            ("--summary-json", os.devnull),
            ("--out -", None),  # type: ignore[list-item]  # stdout on a terminal
            ("--errors", str(tmp_path / "errors.ndjson")),
        ],
    )


def test_outputs_after_a_character_device_are_still_checked(tmp_path: Path) -> None:
    log = str(tmp_path / "log.ndjson")
    with pytest.raises(ConfigError, match=r"^--summary-json .* is the same file as --out "):
        check_outputs([], [("--rejects", os.devnull), ("--out", log), ("--summary-json", log)])
