"""Exit statuses the other exit tests leave out: 70 for a bug, the precedence 130/143 > 3 > 4 > 1 > 0 when
several apply, 4 when ``--summary-json`` or the rejects file cannot be written (and the rejects never ahead of
a failed log), and 2 when a file fails during a dry run."""

from __future__ import annotations

import gzip
import itertools
import resource
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import orjson
import pytest

from cartloader.cli.command import exit_status
from cartloader.models import LatencyPercentiles, Summary
from tests.test_cli_support import (
    TOKEN,
    Start,
    assert_one_line,
    capped_env,
    cli_env,
    last_entries,
    run_cli,
    write_carts,
)

# --- 70: a bug is one line, never a traceback (unless asked for) ---------------------------------------

#: Runs the command line with a bug planted in the chunker: every record fed to it raises.
_WITH_A_BUG = """
import sys
from cartloader.engine import chunker
def feed(self, record):
    raise RuntimeError("planted bug")
chunker.Chunker.feed = feed
from cartloader.cli.main import main
sys.exit(main(sys.argv[1:]))
"""


def _run_with_a_bug(*args: str | Path, cwd: Path, debug: bool = False) -> subprocess.CompletedProcess[str]:
    extra = {"CARTLOADER_DEBUG": "1"} if debug else {}
    return subprocess.run(
        [sys.executable, "-c", _WITH_A_BUG, *(str(arg) for arg in args)],
        cwd=cwd,
        env=cli_env(**extra),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_a_bug_exits_70_with_one_line_and_the_traceback_only_with_cartloader_debug(
    tmp_path: Path, simulator: Start
) -> None:
    sim = simulator()
    source = tmp_path / "carts.ndjson"
    write_carts(source, 5)
    result = _run_with_a_bug(source, "--base-url", sim.url, cwd=tmp_path)
    assert result.returncode == 70, result.stderr
    assert_one_line(result.stderr, "internal error", "RuntimeError", "planted bug", "CARTLOADER_DEBUG=1")
    assert TOKEN not in result.stdout + result.stderr
    assert sim.stats().inputs_received == 0  # no batch left (only the preflight's reads came before the bug)
    debug = _run_with_a_bug(source, "--base-url", sim.url, "--overwrite", cwd=tmp_path, debug=True)
    assert debug.returncode != 0
    assert "Traceback" in debug.stderr and "planted bug" in debug.stderr
    assert TOKEN not in debug.stdout + debug.stderr


# --- precedence -----------------------------------------------------------------------------------------


def _summary(*, loaded: bool) -> Summary:
    no_latency = LatencyPercentiles(0.0, 0.0, 0.0)
    failed = 0 if loaded else 1
    return Summary(2, 2 - failed, 0, failed, 0, 0, 0, 1, 0, 0, 0.1, 20.0, no_latency)


@pytest.mark.parametrize(
    ("signalled", "fatal", "log_failed", "loaded", "earlier_refusals"),
    list(itertools.product([None, 130, 143], [False, True], [False, True], [False, True], [0, 2])),
)
def test_exit_status_precedence_is_signal_then_fatal_then_local_io_then_failures(
    signalled: int | None, fatal: bool, log_failed: bool, loaded: bool, earlier_refusals: int
) -> None:
    if signalled is not None:
        expected = signalled
    elif fatal:
        expected = 3
    elif log_failed:
        expected = 4
    elif not loaded or earlier_refusals:
        expected = 1
    else:
        expected = 0
    status = exit_status(
        signalled=signalled,
        fatal=fatal,
        log_failed=log_failed,
        summary=_summary(loaded=loaded),
        earlier_refusals=earlier_refusals,
    )
    assert status == expected


def _with_invalid_first_line(path: Path, count: int) -> list[str]:
    external_ids = write_carts(path, count)
    path.write_bytes(b"not json\n" + path.read_bytes())
    return external_ids


def test_a_fatal_answer_exits_3_although_some_lines_were_invalid(tmp_path: Path, simulator: Start) -> None:
    sim = simulator(tokens={"sim-token": frozenset({"crm.objects.carts.read"})})  # 403 MISSING_SCOPES
    source = tmp_path / "carts.ndjson"
    _with_invalid_first_line(source, 5)
    result = run_cli(source, "--base-url", sim.url, cwd=tmp_path)
    assert result.returncode == 3, result.stderr
    assert last_entries(tmp_path / "carts.outcomes.ndjson")[1]["status"] == "invalid"


def _limit_file_size(limit: int) -> Callable[[], None]:
    def apply() -> None:
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    return apply


def test_a_log_failure_exits_4_although_some_lines_were_invalid(tmp_path: Path, simulator: Start) -> None:
    sim = simulator()
    source = tmp_path / "carts.ndjson"
    _with_invalid_first_line(source, 400)
    args = (source, "--base-url", sim.url, "--batch-size", "20", "--concurrency", "1")
    result = run_cli(*args, cwd=tmp_path, env=capped_env(), preexec_fn=_limit_file_size(6_000))
    assert result.returncode == 4, result.stderr
    assert_one_line(result.stderr, "cannot write outcome log", "File too large")
    assert 0 < len(sim.objects()) < 400


# --- write failures of the other outputs ----------------------------------------------------------------


def test_a_summary_json_that_cannot_be_written_exits_4_after_a_complete_load(tmp_path: Path, simulator: Start) -> None:
    sim = simulator()
    source = tmp_path / "carts.ndjson"
    write_carts(source, 30)
    result = run_cli(source, "--base-url", sim.url, "--summary-json", "/dev/full", cwd=tmp_path)
    assert result.returncode == 4, result.stderr
    assert_one_line(result.stderr, "cannot write summary /dev/full", "No space left on device")
    assert "30 created" in result.stderr  # the summary is still printed
    entries = last_entries(tmp_path / "carts.outcomes.ndjson")
    assert sorted(entries) == list(range(1, 31))
    assert {entry["status"] for entry in entries.values()} == {"created"}


def test_a_rejects_file_that_cannot_be_written_stops_the_run_with_exit_4_and_resume_finishes_it(
    tmp_path: Path, simulator: Start
) -> None:
    sim = simulator()
    source = tmp_path / "carts.ndjson"
    external_ids = write_carts(source, 300)
    lines = source.read_bytes().splitlines(keepends=True)
    lines[149] = b'{"hs_cart_name": "broken"\n'  # line 150 is invalid: its reject cannot be written
    source.write_bytes(b"".join(lines))
    args = (source, "--base-url", sim.url, "--batch-size", "10", "--concurrency", "1")
    result = run_cli(*args, "--rejects", "/dev/full", cwd=tmp_path)
    assert result.returncode == 4, result.stderr
    assert_one_line(result.stderr, "cannot write rejects file /dev/full", "No space left on device")
    assert "--resume" in result.stderr
    held = {obj.properties["hs_external_cart_id"] for obj in sim.objects()}
    assert 0 < len(held) < 299
    log = tmp_path / "carts.outcomes.ndjson"
    logged = {line for line, entry in last_entries(log).items()}
    assert {external_ids.index(e) + 1 for e in held} <= logged  # whatever was sent is in the log

    rejects = tmp_path / "rejects.ndjson"
    resumed = run_cli(*args, "--resume", "--rejects", rejects, cwd=tmp_path)
    assert resumed.returncode == 1, resumed.stderr
    entries = last_entries(log)
    assert sorted(entries) == list(range(1, 301))
    assert entries[150]["status"] == "invalid"
    assert {entry["status"] for line, entry in entries.items() if line != 150} == {"created"}


# --- a dry run sends nothing: a file failing during it is exit 2, one line -------------------------------


def _with_invalid_lines(path: Path, count: int) -> None:
    lines = [b'{"hs_cart_name": broken\n' if n % 3 == 0 else b'{"hs_cart_name": "c%d"}\n' % n for n in range(count)]
    path.write_bytes(b"".join(lines))


def test_a_dry_run_whose_rejects_file_cannot_be_written_exits_2_in_one_line(tmp_path: Path) -> None:
    source = tmp_path / "carts.ndjson"
    _with_invalid_lines(source, 30)
    result = run_cli(source, "--dry-run", "--rejects", "/dev/full", cwd=tmp_path, token=None)
    assert result.returncode == 2, result.stderr
    assert_one_line(result.stderr, "cannot write rejects file /dev/full", "No space left on device")
    assert "internal error" not in result.stderr


def test_a_dry_run_whose_outcome_log_fills_up_exits_2_in_one_line(tmp_path: Path) -> None:
    source = tmp_path / "carts.ndjson"
    _with_invalid_lines(source, 300)
    args = (source, "--dry-run", "--out", "dry.outcomes.ndjson")
    env = capped_env(token=None)
    result = run_cli(*args, cwd=tmp_path, env=env, preexec_fn=_limit_file_size(4_000))
    assert result.returncode == 2, result.stderr
    assert_one_line(result.stderr, "cannot write outcome log dry.outcomes.ndjson", "File too large")


def test_a_dry_run_of_an_input_that_breaks_off_exits_2_in_one_line(tmp_path: Path) -> None:
    plain = tmp_path / "carts.ndjson"
    write_carts(plain, 5_000)
    compressed = gzip.compress(plain.read_bytes())
    truncated = tmp_path / "carts.ndjson.gz"
    truncated.write_bytes(compressed[: len(compressed) // 2])
    result = run_cli(truncated, "--dry-run", cwd=tmp_path, token=None)
    assert result.returncode == 2, result.stderr
    assert_one_line(result.stderr, "cannot read input", "carts.ndjson.gz", "truncated")


def test_after_the_outcome_log_fails_the_rejects_file_holds_no_line_the_log_lacks(
    tmp_path: Path, simulator: Start
) -> None:
    sim = simulator()
    source = tmp_path / "carts.ndjson"
    _with_invalid_lines(source, 600)
    args = (source, "--base-url", sim.url, "--rejects", "rejects.ndjson", "--no-preflight")
    result = run_cli(*args, cwd=tmp_path, env=capped_env(), preexec_fn=_limit_file_size(6_000))
    assert result.returncode == 4, result.stderr
    assert_one_line(result.stderr, "cannot write outcome log", "File too large")
    refused = {line for line, entry in _complete_entries(tmp_path / "carts.outcomes.ndjson").items()}
    rejected = set(_complete_entries(tmp_path / "rejects.ndjson.errors.ndjson"))
    rejected_lines = (tmp_path / "rejects.ndjson").read_bytes().count(b"\n")
    assert 0 < len(rejected) == rejected_lines
    assert rejected <= refused


def _complete_entries(path: Path) -> dict[int, dict[str, object]]:
    """The entries of an NDJSON file by line number, leaving out a line the cap cut short."""
    entries = {}
    for content in path.read_bytes().split(b"\n"):
        try:
            entry = orjson.loads(content)
        except orjson.JSONDecodeError:
            continue
        entries[entry["line"]] = entry
    return entries
