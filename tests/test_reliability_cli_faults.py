"""The fault matrix through the command line (a subprocess against a faulty simulator): every line ends with
one final outcome, and the simulator holds a record twice only where its outcome says ``duplicate_risk``;
a server that hangs never holds the run past its timeout budget."""

from __future__ import annotations

import time
from pathlib import Path

import orjson
import pytest

from cartloader.simulator.faults import BASIC_FAULTS
from tests.test_cli_support import (
    Start,
    cli_env,
    ids_by_external_id,
    last_entries,
    log_entries,
    run_cli,
    write_carts,
)
from tests.test_shared_budget_support import forks

RECORDS = 2000
ALL_FAULTS = dict.fromkeys(BASIC_FAULTS, 0.05)  # every fault at once: 45 % of requests hit by one


def test_cli_under_every_fault_at_once_logs_one_final_outcome_per_line_and_flags_every_duplicate(
    tmp_path: Path, simulator: Start
) -> None:
    sim = simulator(faults=ALL_FAULTS, seed=2024, unique=(), hang_s=30)
    source = tmp_path / "carts.ndjson"
    external_ids = write_carts(source, RECORDS)
    result = run_cli(
        source, "--base-url", sim.url, "--batch-size", "50", "--concurrency", "16", "--rate", "10000/1s",
        "--timeout", "0.5", "--max-retries", "12", "--summary-json", "summary.json",
        cwd=tmp_path,
    )  # fmt: skip
    assert result.returncode in (0, 1), result.stderr
    log = tmp_path / "carts.outcomes.ndjson"
    finals = [entry for entry in log_entries(log) if entry["status"] != "pending"]
    assert sorted(entry["line"] for entry in finals) == list(range(1, RECORDS + 1))  # exactly one each
    entries = last_entries(log)
    held = ids_by_external_id(sim.objects())
    twice = {line for line, external_id in enumerate(external_ids, 1) if len(held.get(external_id, [])) > 1}
    flagged = {line for line, entry in entries.items() if entry.get("duplicate_risk")}
    assert twice  # post_* faults were resent: real duplicates
    assert twice <= flagged
    for line, entry in entries.items():
        if entry["status"] == "created":
            assert entry["id"] in held[external_ids[line - 1]]
    summary = orjson.loads((tmp_path / "summary.json").read_bytes())
    assert summary["total"] == RECORDS
    assert summary["created"] + summary["failed"] == RECORDS
    assert summary["duplicate_risk"] == len(flagged)
    assert (result.returncode == 0) == (summary["failed"] == 0)
    assert summary["failed"] <= RECORDS // 100  # a fault on 12 attempts in a row is rare
    assert summary["requests"] == sim.stats().requests
    assert summary["retries"] > 0


@pytest.mark.timing
def test_a_server_that_always_hangs_ends_the_run_within_its_timeout_budget(tmp_path: Path, simulator: Start) -> None:
    sim = simulator(faults={"post_hang": 1.0}, hang_s=600)
    source = tmp_path / "carts.ndjson"
    write_carts(source, 40)
    runs = [[str(source), "--base-url", sim.url, "--batch-size", "10", "--concurrency", "4", "--timeout", "0.5",
             "--max-retries", "2"]]  # fmt: skip
    # Forked from a process that imported the command line already: the time measured is the run's alone.
    started = time.monotonic()
    [(status, _, stderr)] = forks().run(runs, cli=True, cwd=str(tmp_path), env=cli_env())
    elapsed = time.monotonic() - started
    assert status == 1, stderr
    entries = last_entries(tmp_path / "carts.outcomes.ndjson")
    assert {entry["status"] for entry in entries.values()} == {"failed"}
    assert {entry["error"]["category"] for entry in entries.values()} == {"TIMEOUT"}
    assert {entry["attempts"] for entry in entries.values()} == {2}
    # Four batches in parallel, two attempts of 0.5 s each and a backoff under 1 s between them: far below the
    # 600 s the server would hold each answer.
    assert elapsed < 8, elapsed
