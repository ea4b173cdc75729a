"""No path mix-up destroys data: an output path that is the input, the token file or another output (hard links
included) is refused with exit 2 before anything is sent, leaving every file byte-for-byte as it was; and
``--overwrite`` keeps the replaced log and its meta file as ``NAME.1``."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from tests.test_cli_support import Start, assert_one_line, cli_env, command, run_cli, statuses, write_carts


def _snapshot(folder: Path) -> dict[str, bytes]:
    return {path.name: path.read_bytes() for path in sorted(folder.iterdir()) if path.is_file()}


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["--rejects", "redo.ndjson"], "--rejects redo.ndjson is the same file as the input"),
        (["--out", "redo.ndjson", "--overwrite"], "--out redo.ndjson is the same file as the input"),
        (["--out", "redo.ndjson", "--resume"], "--out redo.ndjson is the same file as the input"),
        (["--summary-json", "redo.ndjson"], "--summary-json redo.ndjson is the same file as the input"),
        (["--rejects", "./sub/../redo.ndjson"], "is the same file as the input"),
        (["--rejects", "hard-link.ndjson"], "--rejects hard-link.ndjson is the same file as the input"),
        (["--summary-json", "symlink.ndjson"], "is the same file as the input"),
        (["--out", "redo.ndjson-log", "--rejects", "redo.ndjson-log.meta.json"], "the same file as the meta file"),
        (["--rejects", "redo.outcomes.ndjson"], "--rejects redo.outcomes.ndjson is the same file as --out"),
        (["--rejects", "rj", "--summary-json", "rj.errors.ndjson"], "is the same file as the errors file of --rejects"),
        (["--out", "log", "--summary-json", "log.meta.json"], "is the same file as the meta file of --out"),
        (
            ["--token-file", "token.txt", "--rejects", "token.txt"],
            "--rejects token.txt is the same file as --token-file",
        ),
    ],
)
def test_an_output_path_that_is_the_input_or_another_output_exits_2_and_changes_no_file(
    tmp_path: Path, simulator: Start, args: list[str], needle: str
) -> None:
    sim = simulator()
    source = tmp_path / "redo.ndjson"
    write_carts(source, 30)
    (tmp_path / "sub").mkdir()
    os.link(source, tmp_path / "hard-link.ndjson")
    (tmp_path / "symlink.ndjson").symlink_to(source)
    (tmp_path / "token.txt").write_text("sim-token\n")
    # A log from an earlier run, the only place its HubSpot ids are kept.
    (tmp_path / "redo.outcomes.ndjson").write_bytes(b'{"line":1,"key":"r1-1","status":"created","id":"5"}\n')
    before = _snapshot(tmp_path)
    result = run_cli("redo.ndjson", "--base-url", sim.url, *args, cwd=tmp_path)
    assert result.returncode == 2, result.stderr
    assert_one_line(result.stderr, needle)
    assert _snapshot(tmp_path) == before
    assert sim.stats().requests == 0


def test_an_input_that_would_be_the_meta_file_of_the_log_exits_2_unchanged(tmp_path: Path, simulator: Start) -> None:
    sim = simulator()
    source = tmp_path / "loaded.meta.json"
    write_carts(source, 3)
    before = source.read_bytes()
    result = run_cli(source, "--base-url", sim.url, "--out", "loaded", cwd=tmp_path)
    assert result.returncode == 2
    assert_one_line(result.stderr, "the meta file of --out loaded.meta.json is the same file as the input")
    assert source.read_bytes() == before
    assert not (tmp_path / "loaded").exists()


def test_a_dry_run_refuses_rejects_over_its_input_too(tmp_path: Path) -> None:
    source = tmp_path / "redo.ndjson"
    write_carts(source, 3)
    before = source.read_bytes()
    result = run_cli(source, "--dry-run", "--rejects", source, cwd=tmp_path, token=None)
    assert result.returncode == 2
    assert_one_line(result.stderr, "is the same file as the input")
    assert source.read_bytes() == before


def test_overwrite_keeps_the_replaced_log_and_meta_as_name_1_and_replaces_an_older_backup(
    tmp_path: Path, simulator: Start
) -> None:
    sim = simulator()
    source = tmp_path / "carts.ndjson"
    write_carts(source, 10)
    log = tmp_path / "carts.outcomes.ndjson"
    meta = tmp_path / "carts.outcomes.ndjson.meta.json"
    assert run_cli(source, "--base-url", sim.url, cwd=tmp_path).returncode == 0
    first_log, first_meta = log.read_bytes(), meta.read_bytes()

    second = run_cli(source, "--base-url", sim.url, "--overwrite", cwd=tmp_path)
    assert second.returncode == 0, second.stderr
    assert (tmp_path / "carts.outcomes.ndjson.1").read_bytes() == first_log
    assert (tmp_path / "carts.outcomes.ndjson.meta.json.1").read_bytes() == first_meta
    assert statuses(log) == dict.fromkeys(range(1, 11), "created")
    second_log = log.read_bytes()
    assert second_log != first_log  # new run id, new keys

    third = run_cli(source, "--base-url", sim.url, "--overwrite", cwd=tmp_path)
    assert third.returncode == 0, third.stderr
    assert (tmp_path / "carts.outcomes.ndjson.1").read_bytes() == second_log
    assert not (tmp_path / "carts.outcomes.ndjson.2").exists()


def test_overwrite_refuses_a_backup_path_that_is_the_input(tmp_path: Path, simulator: Start) -> None:
    sim = simulator()
    source = tmp_path / "log.ndjson.1"
    write_carts(source, 3)
    before = source.read_bytes()
    (tmp_path / "log.ndjson").write_bytes(b'{"line":1,"key":"r1-1","status":"created","id":"5"}\n')
    result = run_cli(source, "--base-url", sim.url, "--out", "log.ndjson", "--overwrite", cwd=tmp_path)
    assert result.returncode == 2
    assert_one_line(result.stderr, "the backup of --out log.ndjson.1 is the same file as the input")
    assert source.read_bytes() == before


@pytest.mark.parametrize(
    ("args", "stdout_to", "needle"),
    [
        # The command: `cartloader in.ndjson --simulate --out - --summary-json s.json > s.json`.
        (["--summary-json", "s.json"], "s.json", "--summary-json s.json is the same file as --out - (stdout)"),
        (["--summary-json", "s.json"], "s-link.json", "--summary-json s.json is the same file as --out - (stdout)"),
        (["--rejects", "redo.rejects"], "redo.rejects", "--rejects redo.rejects is the same file as --out - (stdout)"),
        (
            ["--rejects", "redo.rejects"],
            "redo.rejects.errors.ndjson",
            "the errors file of --rejects redo.rejects.errors.ndjson is the same file as --out - (stdout)",
        ),
        (["--token-file", "token.txt"], "token.txt", "--out - (stdout) is the same file as --token-file token.txt"),
    ],
)
@pytest.mark.parametrize("append", [False, True], ids=["truncating", "appending"])
def test_out_dash_redirected_onto_another_output_or_the_token_file_exits_2_and_writes_nothing(
    tmp_path: Path, args: list[str], stdout_to: str, needle: str, append: bool
) -> None:
    source = tmp_path / "redo.ndjson"
    write_carts(source, 5)
    (tmp_path / "token.txt").write_text("sim-token\n")
    for name in ("s.json", "redo.rejects", "redo.rejects.errors.ndjson"):
        (tmp_path / name).write_bytes(b"kept\n")
    os.link(tmp_path / "s.json", tmp_path / "s-link.json")
    mode = "ab" if append else "wb"  # `>> FILE` or `> FILE`
    if not append:
        (tmp_path / stdout_to).write_bytes(b"")  # what `> FILE` leaves before the command starts
    before = _snapshot(tmp_path)
    with (tmp_path / stdout_to).open(mode) as stdout:
        completed = subprocess.run(
            command("redo.ndjson", "--simulate", "--out", "-", *args),
            cwd=tmp_path, env=cli_env(token=None), stdout=stdout, stderr=subprocess.PIPE, timeout=60, check=False,
        )  # fmt: skip
    assert completed.returncode == 2, completed.stderr
    assert_one_line(completed.stderr.decode(), needle)
    assert _snapshot(tmp_path) == before


def test_out_dash_to_a_pipe_or_a_terminal_beside_every_other_output_still_runs(tmp_path: Path) -> None:
    source = tmp_path / "redo.ndjson"
    write_carts(source, 3)
    result = run_cli(
        source,
        "--simulate",
        "--out",
        "-",
        "--summary-json",
        "s.json",
        "--rejects",
        "r.ndjson",
        cwd=tmp_path,
        token=None,
    )
    assert result.returncode == 0, result.stderr
    assert len(result.stdout.splitlines()) == 6  # pending and created for each line
    assert (tmp_path / "s.json").exists()


def test_out_dash_into_a_pipe_with_dev_stdout_as_another_output_exits_2(tmp_path: Path) -> None:
    source = tmp_path / "redo.ndjson"
    write_carts(source, 3)
    result = run_cli(source, "--simulate", "--out", "-", "--summary-json", "/dev/stdout", cwd=tmp_path, token=None)
    assert result.returncode == 2, result.stderr
    assert_one_line(result.stderr, "--summary-json /dev/stdout is the same file as --out - (stdout)")
    assert result.stdout == ""
