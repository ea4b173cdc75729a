"""``kill -9`` at random points, then ``--resume`` (the command line as a subprocess, over several seeds):
nothing is lost, and HubSpot holds a record twice only if it was ``pending`` at the kill, flagged
``duplicate_risk`` on resume; in upsert mode nothing is held twice and nothing is flagged."""

from __future__ import annotations

import random
import time
from pathlib import Path

import pytest

from tests.test_cli_support import (
    SimThread,
    Start,
    complete_last_entries,
    ids_by_external_id,
    last_entries,
    run_cli,
    start_cli,
    wait_for,
    write_carts,
)

RECORDS = 1500
PACE = ("--batch-size", "20", "--concurrency", "4", "--rate", "200/1s")


def _entries(log: Path) -> int:
    """How many complete entries the log holds so far (0 before it exists)."""
    try:
        return log.read_bytes().count(b"\n")
    except FileNotFoundError:
        return 0


def _kill_at_a_random_point(args: tuple[str | Path, ...], log: Path, sim: SimThread, *, seed: int, cwd: Path) -> int:
    """Start a load and SIGKILL it while it runs: once the log holds a seeded random number of entries (at
    least one, so the load has begun: ``pending`` and final entries alike, up to ~4/5 of the load's), plus a
    random fraction of a request's latency. Returns the number of entries the log held at the kill."""
    rng = random.Random(seed)
    threshold = rng.randrange(1, RECORDS * 2 * 4 // 5)
    process = start_cli(*args, cwd=cwd)
    wait_for(lambda: _entries(log) >= threshold, what=f"{threshold} log entries")
    time.sleep(rng.uniform(0.0, 0.08))
    process.kill()
    assert process.wait(timeout=10) == -9  # killed, not finished
    wait_for(lambda: sim.stats().in_flight == 0, what="the simulator to finish the requests it had")
    at_kill = _entries(log)
    assert at_kill >= threshold
    return at_kill


@pytest.mark.parametrize("seed", [1, 2, 3, 4])
def test_kill_9_at_a_random_point_then_resume_loses_nothing_and_duplicates_only_flagged_pending_lines(
    tmp_path: Path, simulator: Start, seed: int
) -> None:
    sim = simulator(latency_ms=(40, 80), seed=seed, unique=())  # no unique property: a resend creates again
    source = tmp_path / "carts.ndjson"
    external_ids = write_carts(source, RECORDS)
    log = tmp_path / "carts.outcomes.ndjson"
    args: tuple[str | Path, ...] = (source, "--base-url", sim.url, *PACE)
    _kill_at_a_random_point(args, log, sim, seed=seed, cwd=tmp_path)
    before = complete_last_entries(log)
    assert before  # the load was running: the kill came after its first entries
    pending_at_kill = {line for line, entry in before.items() if entry["status"] == "pending"}
    held_at_kill = ids_by_external_id(sim.objects())
    assert len(held_at_kill) < RECORDS  # the kill came before the end

    result = run_cli(*args, "--resume", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    after = last_entries(log)
    assert sorted(after) == list(range(1, RECORDS + 1))  # nothing lost: every line has its outcome
    assert {entry["status"] for entry in after.values()} == {"created"}
    flagged = {line for line, entry in after.items() if entry.get("duplicate_risk")}
    assert flagged == pending_at_kill
    held = ids_by_external_id(sim.objects())
    assert set(held) == set(external_ids)
    twice = {line for line, external_id in enumerate(external_ids, 1) if len(held[external_id]) > 1}
    assert twice <= pending_at_kill
    for line, external_id in enumerate(external_ids, 1):
        assert len(held[external_id]) <= 2
        assert after[line]["id"] in held[external_id]
    # What the killed run had sent was either pending or settled in its log: nothing went out unlogged.
    assert {external_ids.index(e) + 1 for e in held_at_kill} <= set(before)


@pytest.mark.parametrize("seed", [5, 6])
def test_kill_9_then_resume_in_upsert_mode_holds_each_record_once_and_flags_nothing(
    tmp_path: Path, simulator: Start, seed: int
) -> None:
    sim = simulator(latency_ms=(40, 80), seed=seed, unique=("hs_external_cart_id",))
    source = tmp_path / "carts.ndjson"
    external_ids = write_carts(source, RECORDS)
    log = tmp_path / "carts.outcomes.ndjson"
    args: tuple[str | Path, ...] = (
        source, "--base-url", sim.url, *PACE, "--upsert-by", "hs_external_cart_id",
    )  # fmt: skip
    _kill_at_a_random_point(args, log, sim, seed=seed, cwd=tmp_path)
    pending_at_kill = {line for line, entry in complete_last_entries(log).items() if entry["status"] == "pending"}

    result = run_cli(*args, "--resume", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    after = last_entries(log)
    assert sorted(after) == list(range(1, RECORDS + 1))
    assert {entry["status"] for entry in after.values()} <= {"created", "updated"}
    assert not any(entry.get("duplicate_risk") for entry in after.values())
    # A pending record HubSpot had processed before the kill comes back "updated", not twice.
    assert {line for line, entry in after.items() if entry["status"] == "updated"} <= pending_at_kill
    held = ids_by_external_id(sim.objects())
    assert all(len(held[external_id]) == 1 for external_id in external_ids)
    assert all(after[line]["id"] == held[external_id][0] for line, external_id in enumerate(external_ids, 1))
