"""Output for machines: with stderr not a terminal, one progress line every ``--progress-interval`` seconds; with
``--log-format json`` every stderr line is one JSON object (progress, warnings, errors including usage errors, the
summary); and an estimate line once HubSpot's first answer is in."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import orjson

from tests.test_cli_support import EXAMPLES, Start, run_cli, write_carts


def _json_lines(stderr: str) -> list[dict[str, Any]]:
    objects = []
    for line in stderr.splitlines():
        entry = orjson.loads(line)  # every line is JSON, or this fails
        assert isinstance(entry, dict), line
        assert {"time", "level", "event", "message"} <= set(entry), line
        objects.append(entry)
    return objects


def test_a_load_without_a_terminal_prints_a_progress_line_every_interval(tmp_path: Path, simulator: Start) -> None:
    sim = simulator(rate="10/1s", latency_ms=(100, 200))
    source = tmp_path / "carts.ndjson"
    write_carts(source, 300)
    args = (source, "--base-url", sim.url, "--batch-size", "10", "--concurrency", "2")
    result = run_cli(*args, "--progress-interval", "0.5", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    progress = [line for line in result.stderr.splitlines() if line.startswith("cartloader: progress: ")]
    assert len(progress) >= 3, result.stderr  # 30 requests at 10/s: about three seconds
    # An estimate from what was read so far: the last line may come before the whole file was read.
    estimate = re.search(r"of about (\d+) records", progress[-1])
    assert estimate is not None and 290 <= int(estimate.group(1)) <= 310, progress[-1]
    assert " created, " in progress[-1] and "records/s" in progress[-1]

    quiet = run_cli(*args, "--progress-interval", "0.5", "--no-progress", "--overwrite", cwd=tmp_path)
    assert quiet.returncode == 0, quiet.stderr
    assert "progress:" not in quiet.stderr


def test_log_format_json_makes_every_stderr_line_a_json_object(tmp_path: Path, simulator: Start) -> None:
    sim = simulator(rate="10/1s", daily=2)
    source = tmp_path / "carts.ndjson"
    write_carts(source, 100)
    result = run_cli(
        source, "--base-url", sim.url, "--batch-size", "20", "--log-format", "json", "--progress-interval", "0.2",
        "--no-preflight",  # the day's two requests go to batches
        cwd=tmp_path,
    )  # fmt: skip
    assert result.returncode == 3, result.stderr
    entries = _json_lines(result.stderr)
    events = [entry["event"] for entry in entries]
    assert {"estimate", "warning", "summary", "error", "resume"} <= set(events), events
    summary = next(entry for entry in entries if entry["event"] == "summary")
    assert summary["exit_status"] == 3
    assert summary["summary"]["created"] == 40
    error = next(entry for entry in entries if entry["event"] == "error")
    assert error["level"] == "error" and "daily request limit" in error["message"]
    assert next(e for e in entries if e["event"] == "resume")["resume_command"].endswith("--resume")


def test_log_format_json_covers_usage_errors_and_progress(tmp_path: Path, simulator: Start) -> None:
    usage = run_cli(EXAMPLES / "carts.ndjson", "--log-format=json", "--concurrency", "0", cwd=tmp_path)
    assert usage.returncode == 2
    [entry] = _json_lines(usage.stderr)
    assert entry["level"] == "error" and "--concurrency" in entry["message"]

    sim = simulator(rate="10/1s")
    source = tmp_path / "carts.ndjson"
    write_carts(source, 200)
    result = run_cli(
        source, "--base-url", sim.url, "--batch-size", "10", "--concurrency", "2", "--log-format", "json",
        "--progress-interval", "0.3", cwd=tmp_path,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    progress = [entry for entry in _json_lines(result.stderr) if entry["event"] == "progress"]
    assert progress
    assert {"done", "total_estimate", "created", "failed", "records_per_s", "eta_s"} <= set(progress[-1])


def test_the_estimate_line_names_requests_time_and_share_of_the_daily_quota(tmp_path: Path, simulator: Start) -> None:
    sim = simulator(rate="190/10s", daily=1000)
    result = run_cli(EXAMPLES / "carts.ndjson", "--base-url", sim.url, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    [estimate] = [line for line in result.stderr.splitlines() if line.startswith("cartloader: estimate: ")]
    # The estimate extrapolates the lines read by the first answer over the file's size: the 800 lines within 2 %,
    # however far the reader had got (a loaded machine reads less before that answer).
    found = re.search(
        r"about (\d+) records in (\d+) requests: about \d+ s at 190/10s; ([\d.]+)% of the (\d+) ", estimate
    )
    assert found, estimate
    records, requests, share, allowed = int(found[1]), int(found[2]), float(found[3]), int(found[4])
    assert 784 <= records <= 816, estimate
    assert requests == -(-records // 100), estimate
    # HubSpot's Daily-Remaining on the first answer: 999 down to 992, as the requests sent at once arrive.
    assert 990 <= allowed <= 999, estimate
    assert share == float(f"{100 * requests / allowed:.2g}"), estimate
    assert estimate.endswith("requests HubSpot allows for the rest of today"), estimate


def test_an_estimate_of_one_request_says_request(tmp_path: Path, simulator: Start) -> None:
    sim = simulator()
    source = tmp_path / "carts.ndjson"
    write_carts(source, 16)
    result = run_cli(source, "--base-url", sim.url, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    [estimate] = [line for line in result.stderr.splitlines() if line.startswith("cartloader: estimate: ")]
    assert "about 16 records in 1 request: " in estimate, estimate
