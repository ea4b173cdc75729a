"""``--resume``: after a SIGKILL every line ends with one final outcome and HubSpot holds each record once,
except those left ``pending`` at the kill, which come back flagged ``duplicate_risk``; ``--retry-failed``."""

from __future__ import annotations

from pathlib import Path

from tests.test_cli_support import (
    EXAMPLES,
    SENSITIVE_READER,
    Start,
    complete_last_entries,
    created_count,
    ids_by_external_id,
    last_entries,
    run_cli,
    start_cli,
    statuses,
    wait_for,
    write_carts,
)


def test_sigkill_then_resume_gives_every_line_one_final_outcome_and_duplicates_only_pending_lines(
    tmp_path: Path, simulator: Start
) -> None:
    # No unique property: a record resent after the kill is created again, as with HubSpot's create.
    sim = simulator(rate="20/1s", latency_ms=(300, 600), unique=())
    source = tmp_path / "carts.ndjson"
    external_ids = write_carts(source, 1200)
    log = tmp_path / "carts.outcomes.ndjson"
    args = (source, "--base-url", sim.url, "--batch-size", "20", "--concurrency", "4")
    process = start_cli(*args, cwd=tmp_path)
    wait_for(lambda: created_count(log) >= 100, what="100 records created")
    process.kill()
    process.wait(timeout=10)
    wait_for(lambda: sim.stats().in_flight == 0, what="the simulator to finish the requests it had")
    before = complete_last_entries(log)
    pending_at_kill = {line for line, entry in before.items() if entry["status"] == "pending"}
    assert pending_at_kill

    result = run_cli(*args, "--resume", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    after = last_entries(log)
    assert sorted(after) == list(range(1, 1201))
    assert {entry["status"] for entry in after.values()} == {"created"}
    assert {line for line, entry in after.items() if entry.get("duplicate_risk")} == pending_at_kill
    held = ids_by_external_id(sim.objects())
    for line, external_id in enumerate(external_ids, 1):
        copies = len(held.get(external_id, []))
        if line in pending_at_kill:
            assert copies in (1, 2), (line, copies)
        else:
            assert copies == 1, (line, copies)
        assert after[line]["id"] in held[external_id]
    assert f"{len(before) - len(pending_at_kill)} skipped" in result.stderr


def test_resume_skips_failed_lines_unless_retry_failed(tmp_path: Path, simulator: Start) -> None:
    sim = simulator(tokens={"sim-token": SENSITIVE_READER})  # as --simulate: unknown properties refused locally
    source = EXAMPLES / "carts-with-errors.ndjson"
    log = tmp_path / "carts-with-errors.outcomes.ndjson"
    assert run_cli(source, "--base-url", sim.url, cwd=tmp_path).returncode == 1
    requests = sim.stats().requests

    skipped = run_cli(source, "--base-url", sim.url, "--resume", cwd=tmp_path)
    assert skipped.returncode == 1, skipped.stderr
    assert sim.stats().requests == requests
    assert "16 skipped" in skipped.stderr

    retried = run_cli(source, "--base-url", sim.url, "--resume", "--retry-failed", cwd=tmp_path)
    assert retried.returncode == 1, retried.stderr
    # The preflight's two reads, the association labels of the seven documented cart pairs (line 15 names its
    # target by id: engine/association_types.py), then one batch: the failed line (15; lines the preflight refused
    # stay invalid).
    assert sim.stats().requests == requests + 2 + 7 + 1
    assert sim.stats().inputs_received == 6 + 1
    assert list(statuses(log).values()).count("failed") == 1


def test_resume_without_a_log_starts_fresh(tmp_path: Path, simulator: Start) -> None:
    sim = simulator()
    source = tmp_path / "in.ndjson"
    write_carts(source, 10)
    result = run_cli(source, "--base-url", sim.url, "--resume", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert statuses(tmp_path / "in.outcomes.ndjson") == dict.fromkeys(range(1, 11), "created")
