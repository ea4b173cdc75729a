"""SIGINT and SIGTERM: the run drains (requests already sent are answered and logged), says how to resume
and exits 130/143; a second signal aborts at once."""

from __future__ import annotations

import signal
import time
from pathlib import Path

import pytest

from tests.test_cli_support import (
    Start,
    created_count,
    last_entries,
    log_entries,
    start_cli,
    wait_for,
    write_carts,
)


@pytest.mark.parametrize(("signum", "status"), [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_a_signal_drains_logs_every_batch_the_simulator_processed_and_exits_130_or_143(
    tmp_path: Path, simulator: Start, signum: int, status: int
) -> None:
    sim = simulator(rate="20/1s", latency_ms=(150, 300))
    source = tmp_path / "carts.ndjson"
    write_carts(source, 1500)
    log = tmp_path / "carts.outcomes.ndjson"
    process = start_cli(source, "--base-url", sim.url, "--batch-size", "20", "--concurrency", "4", cwd=tmp_path)
    wait_for(lambda: created_count(log) >= 100, what="100 records created")
    process.send_signal(signum)
    _, stderr = process.communicate(timeout=30)
    assert process.returncode == status, stderr.decode()
    wait_for(lambda: sim.stats().in_flight == 0, what="the simulator to finish")
    entries = last_entries(log)
    created = {entry["id"]: entry for entry in entries.values() if entry["status"] == "created"}
    objects = sim.objects()
    assert 100 <= len(objects) < 1500
    assert {obj.id for obj in objects} == set(created)
    assert all(created[obj.id]["key"] == obj.trace_id for obj in objects if obj.trace_id is not None)
    assert {entry["status"] for entry in entries.values()} == {"created"}
    assert f" -m cartloader {source} --base-url {sim.url} " in stderr.decode()  # the command as the user ran it


@pytest.mark.timing
def test_a_second_sigint_aborts_at_once_with_130_and_the_log_flushed(tmp_path: Path, simulator: Start) -> None:
    sim = simulator(latency_ms=(5000, 5000))
    source = tmp_path / "carts.ndjson"
    write_carts(source, 400)
    log = tmp_path / "carts.outcomes.ndjson"
    process = start_cli(source, "--base-url", sim.url, "--concurrency", "2", cwd=tmp_path)
    wait_for(lambda: log.exists() and log.read_bytes().count(b'"pending"') >= 200, what="two batches in flight")
    process.send_signal(signal.SIGINT)
    time.sleep(0.3)
    started = time.monotonic()
    process.send_signal(signal.SIGINT)
    _, stderr = process.communicate(timeout=10)
    assert process.returncode == 130, stderr.decode()
    assert time.monotonic() - started < 3  # the answers would take 5 s
    assert "aborted" in stderr.decode()
    assert {entry["status"] for entry in log_entries(log)} == {"pending"}
    assert len(log_entries(log)) == 200
