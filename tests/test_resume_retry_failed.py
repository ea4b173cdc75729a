"""``--resume --retry-failed`` resends a failed record that may already exist in HubSpot with ``duplicate_risk``:
one whose last outcome carried the flag, or one failed ``AMBIGUOUS`` (never resent, maybe processed). A record
HubSpot refused outright is resent without it."""

from __future__ import annotations

import io
from dataclasses import replace
from pathlib import Path

import pytest

from cartloader.models import Outcome, RecordError
from cartloader.outcomes.format import encode_outcome
from cartloader.outcomes.resume import ResumeCounts, ResumeIndex, scan_log
from tests.test_cli_support import Start, last_entries, run_cli, write_carts


def test_a_failed_record_flagged_duplicate_risk_keeps_the_flag_when_retried(tmp_path: Path, simulator: Start) -> None:
    # The first request is processed, but its answer leaves one result out: that record fails MISSING_RESULT,
    # flagged duplicate_risk (it exists in HubSpot).
    sim = simulator(faults_at={1: "missing_result"})
    source = tmp_path / "carts.ndjson"
    write_carts(source, 3)
    log = tmp_path / "carts.outcomes.ndjson"
    first = run_cli(source, "--base-url", sim.url, "--no-preflight", cwd=tmp_path)
    assert first.returncode == 1, first.stderr
    failed = {line for line, entry in last_entries(log).items() if entry["status"] == "failed"}
    assert len(failed) == 1
    assert all(last_entries(log)[line]["duplicate_risk"] is True for line in failed)

    retried = run_cli(source, "--base-url", sim.url, "--no-preflight", "--resume", "--retry-failed", cwd=tmp_path)
    assert retried.returncode == 0, retried.stderr
    after = last_entries(log)
    assert {line for line, entry in after.items() if entry.get("duplicate_risk")} == failed
    assert all(after[line]["status"] == "created" for line in failed)
    assert "1 with duplicate risk" in retried.stderr


def test_a_record_failed_ambiguous_is_retried_with_duplicate_risk(tmp_path: Path, simulator: Start) -> None:
    # Processed, then a 500: with --no-retry-ambiguous the records fail AMBIGUOUS; they may exist in HubSpot.
    sim = simulator(faults_at={1: "post_500"})
    source = tmp_path / "carts.ndjson"
    write_carts(source, 3)
    log = tmp_path / "carts.outcomes.ndjson"
    args = (source, "--base-url", sim.url, "--no-preflight")
    first = run_cli(*args, "--no-retry-ambiguous", cwd=tmp_path)
    assert first.returncode == 1, first.stderr
    assert {entry["error"]["category"] for entry in last_entries(log).values()} == {"AMBIGUOUS"}

    retried = run_cli(*args, "--resume", "--retry-failed", cwd=tmp_path)
    assert retried.returncode == 0, retried.stderr
    after = last_entries(log)
    assert {entry["status"] for entry in after.values()} == {"created"}
    assert all(entry.get("duplicate_risk") is True for entry in after.values())


def test_a_record_hubspot_refused_is_retried_without_duplicate_risk(tmp_path: Path, simulator: Start) -> None:
    # A whole-batch 418 refuses the records without processing them: resent, they cannot be duplicates.
    sim = simulator(faults_at={1: "teapot_418"})
    source = tmp_path / "carts.ndjson"
    write_carts(source, 3)
    log = tmp_path / "carts.outcomes.ndjson"
    args = (source, "--base-url", sim.url, "--no-preflight")
    first = run_cli(*args, cwd=tmp_path)
    assert first.returncode == 1, first.stderr
    assert {entry["status"] for entry in last_entries(log).values()} == {"failed"}

    retried = run_cli(*args, "--resume", "--retry-failed", cwd=tmp_path)
    assert retried.returncode == 0, retried.stderr
    after = last_entries(log)
    assert {entry["status"] for entry in after.values()} == {"created"}
    assert not any(entry.get("duplicate_risk") for entry in after.values())


# --- the resume index: which lines HubSpot may hold already ---------------------------------------------

RISKY_LOG = b"".join(
    encode_outcome(o)
    for o in [
        Outcome(1, "pending", "r-1"),
        Outcome(2, "failed", "r-2", error=RecordError("MISSING_RESULT", "m", 201), attempts=1, duplicate_risk=True),
        Outcome(3, "failed", "r-3", error=RecordError("AMBIGUOUS", "m", 500), attempts=1),
        Outcome(4, "failed", "r-4", error=RecordError("VALIDATION_ERROR", "m", 400), attempts=1),
        Outcome(5, "unsent", "r-5", attempts=1),
        Outcome(6, "created", "r-6", "16", attempts=2, duplicate_risk=True),
        # Resent by --retry-failed and refused for good: the record may still exist from the first time.
        Outcome(2, "failed", "r-2", error=RecordError("VALIDATION_ERROR", "m", 400), attempts=1),
    ]
)


@pytest.mark.parametrize("block_size", [1, 7, 64, 1 << 20])
def test_the_scan_marks_the_lines_hubspot_may_hold_and_keeps_their_status(block_size: int) -> None:
    index = scan_log(io.BytesIO(RISKY_LOG), block_size=block_size).index
    assert [index.may_exist(line) for line in range(1, 8)] == [True, True, True, False, False, True, False]
    assert [index.last_status(line) for line in range(1, 8)] == [
        "pending", "failed", "failed", "failed", "unsent", "created", None,
    ]  # fmt: skip
    assert index.counts() == ResumeCounts(pending=1, created=1, failed=3, unsent=1)
    assert [index.should_send(line, retry_failed=True) for line in range(1, 7)] == [True] * 5 + [False]


def test_a_flag_spelled_in_a_message_or_an_echoed_property_marks_nothing() -> None:
    message = 'HubSpot said "duplicate_risk":true and "category":"AMBIGUOUS"'
    failed = Outcome(1, "failed", "r-1", error=RecordError("X", message, 400), attempts=1)
    data = encode_outcome(failed) + encode_outcome(replace(failed, line=2), {"category": "AMBIGUOUS"})
    index = scan_log(io.BytesIO(data)).index
    assert [index.last_status(line) for line in (1, 2)] == ["failed", "failed"]
    assert not index.may_exist(1) and not index.may_exist(2)


def test_a_marked_line_keeps_the_mark_and_its_neighbours_status() -> None:
    index = ResumeIndex()
    for line in (1, 2, 3):
        index.record(line, "failed")
    index.mark_may_exist(2)
    index.record(2, "created")
    index.record(3, "unsent")
    assert [index.may_exist(line) for line in (1, 2, 3)] == [False, True, False]
    assert [index.last_status(line) for line in (1, 2, 3)] == ["failed", "created", "unsent"]
    with pytest.raises(ValueError, match=r"^line numbers start at 1, not 0$"):
        index.mark_may_exist(0)
