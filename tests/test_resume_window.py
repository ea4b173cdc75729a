"""A resume right after Ctrl-C, into the rolling window the stopped run filled: one request goes until HubSpot's
headers are read, at most one 429 is met, the progress lines name the wait, and the load starts again once the
stopped run's requests have left the window (not one or two windows later)."""

from __future__ import annotations

import json
import signal
import time
from pathlib import Path

import pytest

from tests.test_cli_support import Start, created_count, run_cli, start_cli, wait_for, write_carts
from tests.test_shared_budget_support import RedisServer

pytestmark = pytest.mark.timing


def test_resume_into_a_full_window_meets_one_429_and_names_the_wait(simulator: Start, tmp_path: Path) -> None:
    # About 100 records went before the stop (the first window's burst): the resume sends the fifty or so left.
    _resume_into_a_full_window(simulator, tmp_path, 150, ())


def test_resume_with_a_shared_budget_into_a_full_window_does_not_stall(
    simulator: Start, tmp_path: Path, redis_server: RedisServer
) -> None:
    # The stopped run paced itself; the resume's budget is in Redis and first learns of that run from HubSpot.
    # About 100 records went before the stop (the first window's burst): the resume sends the fifty or so left.
    _resume_into_a_full_window(simulator, tmp_path, 150, ("--budget", redis_server.url("resume")))


def _resume_into_a_full_window(simulator: Start, tmp_path: Path, records: int, resume_options: tuple[str, ...]) -> None:
    sim = simulator(rate="100/5s", latency_ms=(5, 10))
    source = tmp_path / "carts.ndjson"
    write_carts(source, records)
    common = ("--base-url", sim.url, "--batch-size", "1", "--no-preflight", "--progress-interval", "0.1")
    first = start_cli(source, *common, cwd=tmp_path)
    # The window is full once the first second's requests went: stop there, as a user's Ctrl-C would.
    wait_for(lambda: created_count(tmp_path / "carts.outcomes.ndjson") >= 100, what="a full window")
    first.send_signal(signal.SIGINT)
    assert first.wait(timeout=30) == 130
    before = sum(sim.stats().rate_limited.values())
    started = time.monotonic()
    resumed = run_cli(
        source,
        *common,
        *resume_options,
        "--resume",
        "--summary-json",
        tmp_path / "s.json",
        cwd=tmp_path,
    )
    elapsed = time.monotonic() - started
    assert resumed.returncode == 0, resumed.stderr
    summary = json.loads((tmp_path / "s.json").read_text())
    assert summary["rate_limited"] <= 1
    assert sum(sim.stats().rate_limited.values()) - before <= 1
    # The resume had work to do (a test of an empty resume proves nothing): the records the stop left.
    assert summary["created"] >= 40 and summary["created"] == records - summary["skipped"], summary
    waits = [line for line in resumed.stderr.splitlines() if "HubSpot's rate window" in line or "429" in line]
    assert waits, resumed.stderr  # the window was full at the start: the wait is named while nothing moves
    print(f"resume: {elapsed:.1f} s, {summary['rate_limited']} 429s, {summary['requests']} requests")
    # 50 records at 100/5s fit one window once the stopped run's requests have left theirs (within one window):
    # not two windows more (the interpreter's start and the drain aside).
    assert elapsed < 10, (elapsed, resumed.stderr)
