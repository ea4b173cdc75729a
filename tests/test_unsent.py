"""The ``unsent`` status: a record whose request was answered without being processed (401, 403, a DAILY 429, a
503, a failed connection) or that never left is logged ``unsent`` when the run stops, and ``--resume`` sends it
again without ``duplicate_risk``; a record once resent after an ambiguous answer stays ``pending`` (flagged)."""

from __future__ import annotations

import signal
import socket
from pathlib import Path

import orjson

from cartloader.models import CartInput, Outcome
from cartloader.outcomes.log import OutcomeLog
from cartloader.outcomes.meta import RunMeta
from cartloader.outcomes.resume import ResumeCounts
from tests.test_cli_support import (
    Start,
    assert_one_line,
    cli_env,
    ids_by_external_id,
    last_entries,
    log_entries,
    run_cli,
    start_cli,
    wait_for,
    write_carts,
)

WRITE = frozenset({"crm.objects.carts.write"})


def _closed_port() -> int:
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        return int(listener.getsockname()[1])


def _summary(path: Path) -> dict[str, object]:
    loaded: dict[str, object] = orjson.loads(path.read_bytes())
    return loaded


def test_a_401_leaves_every_sent_record_unsent_and_resume_sends_them_without_duplicate_risk(
    tmp_path: Path, simulator: Start
) -> None:
    sim = simulator(tokens={"good-token": WRITE})
    source = tmp_path / "carts.ndjson"
    external_ids = write_carts(source, 300)
    log = tmp_path / "carts.outcomes.ndjson"
    args = (source, "--base-url", sim.url, "--batch-size", "50", "--no-preflight")  # the 401 meets the batches

    refused = run_cli(*args, cwd=tmp_path, token="bad-token")
    assert refused.returncode == 3, refused.stderr
    assert sim.stats().by_status.get(401, 0) >= 1
    last = last_entries(log)
    assert last, "the batches sent were logged"
    assert {entry["status"] for entry in last.values()} == {"unsent"}
    assert all(entry["error"]["status"] == 401 for entry in last.values())
    assert "unsent" in refused.stderr

    resumed = run_cli(*args, "--resume", "--summary-json", "summary.json", cwd=tmp_path, token="good-token")
    assert resumed.returncode == 0, resumed.stderr
    after = last_entries(log)
    assert {entry["status"] for entry in after.values()} == {"created"}
    assert not any(entry.get("duplicate_risk") for entry in after.values())
    assert _summary(tmp_path / "summary.json")["duplicate_risk"] == 0
    held = ids_by_external_id(sim.objects())
    assert all(len(held[external_id]) == 1 for external_id in external_ids)


def test_a_daily_limit_stop_leaves_the_unprocessed_records_unsent(tmp_path: Path, simulator: Start) -> None:
    sim = simulator(tokens={"first-token": WRITE, "second-token": WRITE}, daily=3)
    source = tmp_path / "carts.ndjson"
    external_ids = write_carts(source, 400)
    log = tmp_path / "carts.outcomes.ndjson"
    # No preflight: the day's three requests all go to batches.
    args = (source, "--base-url", sim.url, "--batch-size", "20", "--concurrency", "2", "--no-preflight")

    stopped = run_cli(*args, cwd=tmp_path, token="first-token")
    assert stopped.returncode == 3, stopped.stderr
    last = last_entries(log)
    created = [line for line, entry in last.items() if entry["status"] == "created"]
    unsent = [line for line, entry in last.items() if entry["status"] == "unsent"]
    assert len(created) == 60
    assert unsent, "the requests refused with the DAILY 429 left their records unsent"
    assert set(created) | set(unsent) == set(last)

    resumed = run_cli(*args, "--resume", cwd=tmp_path, token="second-token")
    assert resumed.returncode == 3, resumed.stderr  # the second token's day is short too
    resumed_last = last_entries(log)
    assert not any(entry.get("duplicate_risk") for entry in resumed_last.values())
    assert all(resumed_last[line]["status"] == "created" for line in unsent)
    held = ids_by_external_id(sim.objects())
    assert all(len(held.get(external_id, [])) <= 1 for external_id in external_ids)


def test_a_host_that_cannot_be_reached_stops_the_run_in_one_line_and_leaves_records_unsent(
    tmp_path: Path, simulator: Start
) -> None:
    source = tmp_path / "carts.ndjson"
    external_ids = write_carts(source, 200)
    log = tmp_path / "carts.outcomes.ndjson"
    unreachable = f"http://127.0.0.1:{_closed_port()}"
    stopped = run_cli(
        source,
        "--base-url",
        unreachable,
        "--batch-size",
        "5",
        "--max-retries",
        "50",
        "--rate",
        "100/1s",  # resends paced at a tenth of a second, not HubSpot's 1 s: the breaker's 32 failures in ~3 s
        "--summary-json",
        "s.json",
        cwd=tmp_path,
    )
    assert stopped.returncode == 3, stopped.stderr
    # One line says why the run stopped (the circuit breaker, once 32 requests in a row could not connect).
    assert_one_line(stopped.stderr, "could not reach 127.0.0.1: ")
    assert "stopped by HubSpot" not in stopped.stderr
    assert orjson.loads((tmp_path / "s.json").read_bytes())["exit_status"] == 3
    last = last_entries(log)
    assert last
    assert {entry["status"] for entry in last.values()} == {"unsent"}
    assert {entry["error"]["category"] for entry in last.values()} == {"CONNECTION_ERROR"}

    sim = simulator()
    resumed = run_cli(source, "--base-url", sim.url, "--batch-size", "5", "--resume", cwd=tmp_path)
    assert resumed.returncode == 0, resumed.stderr
    after = last_entries(log)
    assert sorted(after) == list(range(1, 201))
    assert not any(entry.get("duplicate_risk") for entry in after.values())
    held = ids_by_external_id(sim.objects())
    assert all(len(held[external_id]) == 1 for external_id in external_ids)


def test_a_record_resent_after_an_ambiguous_answer_stays_pending_when_a_401_stops_the_run(
    tmp_path: Path, simulator: Start
) -> None:
    # No unique property: the resend creates the records again, as batch/create does after a processed 500.
    sim = simulator(tokens={"sim-token": WRITE, "later-token": WRITE}, faults={"post_500": 1.0}, unique=())
    source = tmp_path / "carts.ndjson"
    write_carts(source, 20)
    log = tmp_path / "carts.outcomes.ndjson"
    args = (source, "--base-url", sim.url, "--batch-size", "20", "--max-retries", "100")
    process = start_cli(*args, cwd=tmp_path)
    wait_for(lambda: sim.stats().by_status.get(500, 0) >= 1, what="a 500 (processed, then failed)")
    sim.expire_token("sim-token")  # the next resend is refused: 401, nothing processed
    _, stderr = process.communicate(timeout=60)
    assert process.returncode == 3, stderr.decode()
    assert sim.stats().by_status.get(401, 0) == 1
    assert {entry["status"] for entry in last_entries(log).values()} == {"pending"}
    assert not any(entry["status"] == "unsent" for entry in log_entries(log))

    sim._call(lambda: sim.sim.set_fault("post_500", 0.0))
    resumed = run_cli(*args, "--resume", cwd=tmp_path, token="later-token")
    assert resumed.returncode == 0, resumed.stderr
    assert all(entry["duplicate_risk"] is True for entry in last_entries(log).values())


def test_sigint_while_a_batch_waits_to_be_resent_after_a_503_leaves_it_unsent(tmp_path: Path, simulator: Start) -> None:
    sim = simulator(faults={"pre_503": 1.0})
    source = tmp_path / "carts.ndjson"
    external_ids = write_carts(source, 40)
    log = tmp_path / "carts.outcomes.ndjson"
    args = (source, "--base-url", sim.url, "--batch-size", "20", "--max-retries", "100")
    process = start_cli(*args, cwd=tmp_path)
    wait_for(lambda: sim.stats().by_status.get(503, 0) >= 2, what="both batches answered 503")
    process.send_signal(signal.SIGINT)
    _, stderr = process.communicate(timeout=60)
    assert process.returncode == 130, stderr.decode()
    assert {entry["status"] for entry in last_entries(log).values()} == {"unsent"}
    assert sim.objects() == []

    sim._call(lambda: sim.sim.set_fault("pre_503", 0.0))
    resumed = run_cli(*args, "--resume", cwd=tmp_path, env=cli_env())
    assert resumed.returncode == 0, resumed.stderr
    after = last_entries(log)
    assert {entry["status"] for entry in after.values()} == {"created"}
    assert not any(entry.get("duplicate_risk") for entry in after.values())
    held = ids_by_external_id(sim.objects())
    assert all(len(held[external_id]) == 1 for external_id in external_ids)


def test_the_resume_index_sends_unsent_lines_again_as_never_pending(tmp_path: Path) -> None:
    path = str(tmp_path / "log.ndjson")
    with OutcomeLog.open(path, mode="new", meta=RunMeta.new(None)) as log:
        log.write_pending([CartInput(n, {}, key=f"k-{n}") for n in (1, 2, 3)])
        log.write([Outcome(1, "unsent", "k-1", attempts=1), Outcome(2, "created", "k-2", "7", attempts=1)])
    with OutcomeLog.open(path, mode="resume", meta=RunMeta.new(None)) as log:
        index = log.resume_index
    assert [index.status(n) for n in (1, 2, 3, 4)] == ["unsent", "done", "pending", "absent"]
    assert [index.should_send(n) for n in (1, 2, 3, 4)] == [True, False, True, True]
    assert [index.is_pending(n) for n in (1, 3)] == [False, True]
    assert index.counts() == ResumeCounts(pending=1, created=1, unsent=1)
    assert len(index) == 3


def test_a_migration_477_too_long_to_wait_for_leaves_its_records_unsent(tmp_path: Path, simulator: Start) -> None:
    sim = simulator(faults_at={1: "migration_477"}, retry_after_s=3600)
    source = tmp_path / "carts.ndjson"
    write_carts(source, 20)
    log = tmp_path / "carts.outcomes.ndjson"
    args = (source, "--base-url", sim.url, "--batch-size", "20", "--concurrency", "1")
    stopped = run_cli(*args, cwd=tmp_path)
    assert stopped.returncode == 3, stopped.stderr
    assert {(entry["status"], entry["error"]["status"]) for entry in last_entries(log).values()} == {("unsent", 477)}

    resumed = run_cli(*args, "--resume", cwd=tmp_path)
    assert resumed.returncode == 0, resumed.stderr
    assert not any(entry.get("duplicate_risk") for entry in last_entries(log).values())
    assert len(sim.objects()) == 20
