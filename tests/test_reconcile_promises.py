"""``reconcile``: the input read again as the load read it (encoding, delimiter, mapping, conversions), rule (a) on
its own, the attempt window ending at ``answered_at``, the capped summary lists, and the promises around it
(``--resume --retry-failed`` afterwards, exit 3 on 401/403, exit 2 for a held log, a log on stdout, stdin input):
the real command line and library against the simulator over loopback HTTP."""

from __future__ import annotations

import fcntl
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
import pytest

from cartloader import reconcile
from cartloader.models import Outcome, RecordError
from cartloader.outcomes.format import encode_outcome, parse_sent_at
from cartloader.reconcile import summary as summary_module
from tests.test_cli_support import (
    SimThread,
    Start,
    ids_by_external_id,
    last_entries,
    log_entries,
    run_cli,
    start_cli,
    wait_for,
)

pytestmark = pytest.mark.anyio
SCOPES = frozenset({"crm.objects.carts.write", "crm.objects.carts.read", "crm.schemas.carts.read"})
TOKENS = {"sim-token": SCOPES, "write-only-5ecret": frozenset({"crm.objects.carts.write"})}


def _start(simulator: Start, **config: Any) -> SimThread:
    return simulator(tokens=TOKENS, echo_trace_ids="never", search_rate=None, **config)


def _write_ndjson(folder: Path, count: int) -> Path:
    source = folder / "in.ndjson"
    carts = (
        {"hs_cart_name": f"cart {n}", "hs_external_cart_id": f"T-{n}", "hs_total_price": n} for n in range(1, count + 1)
    )
    source.write_bytes(b"".join(orjson.dumps(cart) + b"\n" for cart in carts))
    return source


def _load(sim: SimThread, folder: Path, source: Path, *options: str, out: str = "out.ndjson") -> Path:
    done = run_cli(source, "--base-url", sim.url, "--out", out, "--no-progress", *options, cwd=folder)
    assert done.returncode in (0, 1), done.stderr
    return folder / out


def _copies(sim: SimThread) -> dict[str, list[str]]:
    return {value: ids for value, ids in ids_by_external_id(sim.objects()).items() if len(ids) > 1}


def _iso(moment: datetime) -> str:
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _add_object(sim: SimThread, properties: dict[str, str], created: str) -> str:
    """An object made by another system (not through this log), created at ``created`` (ISO 8601)."""
    store = sim.sim._hubspot.store
    holder: list[str] = []

    def add() -> None:
        from cartloader.simulator.state import StoredObject

        object_id = store.new_id()
        store.put(StoredObject(object_id, dict(properties), None, 0, created, created))
        holder.append(object_id)

    sim._call(add)
    return holder[0]


def _created_at(sim: SimThread, object_id: str) -> str:
    return next(obj.created_at for obj in sim.objects() if obj.id == object_id)


def _error_lines(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if line.strip()]


# --- 1. the input read again as the load read it -----------------------------------------------------------------


async def test_a_latin1_csv_with_conversions_is_read_as_the_load_read_it(simulator: Start, tmp_path: Path) -> None:
    sim = _start(simulator, faults_at={1: "post_502", 3: "post_reset"})
    rows = [f"Bäckerei Nr. {n};BÄ-{n};{n}.234,{n % 100:02d} £" for n in range(1, 301)]
    source = tmp_path / "export.csv"
    source.write_bytes(("Name;Bestellnr;Preis\r\n" + "\r\n".join(rows) + "\r\n").encode("latin-1"))
    options = ["--encoding", "latin-1", "--convert", "Preis=number:,", "--map", "Name=hs_cart_name"]
    options += ["--map", "Bestellnr=hs_external_cart_id", "--map", "Preis=hs_total_price"]
    out = _load(sim, tmp_path, source, *options)
    copies = _copies(sim)
    assert len(copies) == 200 and "BÄ-1" in copies
    named = {entry["id"] for entry in last_entries(out).values()}
    done = run_cli("reconcile", out, "--base-url", sim.url, "--apply", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    summary = orjson.loads(done.stdout)
    assert (summary["checked"], summary["archived"], summary["not_checkable"]) == (200, 200, 0)
    assert _copies(sim) == {}
    assert named <= {obj.id for obj in sim.objects()}
    assert {obj.properties["hs_total_price"] for obj in sim.objects() if obj.id in named} >= {"1234.01", "200234"}


# --- 2. rule (a) decides alone -----------------------------------------------------------------------------------


async def test_an_object_holding_the_value_in_another_case_is_never_archived(simulator: Start, tmp_path: Path) -> None:
    sim = _start(simulator, faults_at={1: "post_502"})
    out = _load(sim, tmp_path, _write_ndjson(tmp_path, 100))
    copy = next(i for i in _copies(sim)["T-3"] if i != last_entries(out)[3]["id"])
    inside = _created_at(sim, copy)  # within line 3's attempt window
    # the same values as line 3 but the value in another case (search ignores case): rule (a) alone keeps it
    upper = _add_object(sim, {"hs_cart_name": "cart 3", "hs_external_cart_id": "t-3", "hs_total_price": "3"}, inside)
    # the same value but another price: rule (b) keeps it
    other = _add_object(sim, {"hs_cart_name": "cart 4", "hs_external_cart_id": "T-4", "hs_total_price": "5"}, inside)
    summary = await reconcile(out, apply=True, token="sim-token", base_url=sim.url)
    assert {upper, other} <= {obj.id for obj in sim.objects()}
    assert copy not in {obj.id for obj in sim.objects()}
    assert summary.archived == 100


# --- 3. promises around reconcile --------------------------------------------------------------------------------


async def test_after_apply_resume_retry_failed_sends_no_record_whose_cart_exists(
    simulator: Start, tmp_path: Path
) -> None:
    # one request at a time: batch 1 answered 502 twice (failed, flagged, two objects each), batch 2 reset once
    # (created, flagged, two objects each), batches 3-4 clean; then a kill cuts batch 4's final lines (pending)
    sim = _start(simulator, faults_at={1: "post_502", 2: "post_504", 3: "post_reset"})
    source = _write_ndjson(tmp_path, 400)
    out = _load(sim, tmp_path, source, "--concurrency", "1", "--max-retries", "2")
    entries = log_entries(out)
    assert [last_entries(out)[n]["status"] for n in (1, 101, 201)] == ["failed", "created", "created"]
    killed = [entry for entry in entries if not (entry["line"] > 300 and entry["status"] != "pending")]
    out.write_bytes(b"".join(orjson.dumps(entry) + b"\n" for entry in killed))
    assert {last_entries(out)[n]["status"] for n in range(301, 401)} == {"pending"}
    assert len(_copies(sim)) == 200
    done = run_cli("reconcile", out, "--base-url", sim.url, "--apply", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    summary = orjson.loads(done.stdout)
    assert (summary["archived"], summary["settled"]) == (200, 300)
    received = sim.stats().inputs_received
    resumed = run_cli(
        source, "--base-url", sim.url, "--out", "out.ndjson", "--resume", "--retry-failed", "--no-progress",
        "--summary-json", "resume.json", cwd=tmp_path,
    )  # fmt: skip
    assert resumed.returncode == 0, resumed.stderr
    resume = orjson.loads((tmp_path / "resume.json").read_bytes())
    assert (resume["created"], resume["skipped"], resume["duplicate_risk"]) == (0, 400, 0)
    counts = {value: len(ids) for value, ids in ids_by_external_id(sim.objects()).items()}
    assert counts == {f"T-{n}": 1 for n in range(1, 401)}
    assert sim.stats().inputs_received == received  # not one record sent again


async def test_carts_failed_ambiguous_and_not_resent_are_settled_so_a_retry_never_copies_them(
    simulator: Start, tmp_path: Path
) -> None:
    sim = _start(simulator, faults_at={2: "post_502"})
    source = _write_ndjson(tmp_path, 300)
    out = _load(sim, tmp_path, source, "--concurrency", "1", "--no-retry-ambiguous")
    ambiguous = {line for line, entry in last_entries(out).items() if entry["status"] == "failed"}
    assert len(ambiguous) == 100 and not any(last_entries(out)[line].get("duplicate_risk") for line in ambiguous)
    assert len(sim.objects()) == 300  # HubSpot processed the batch whose answer was lost: each cart exists once
    done = run_cli("reconcile", out, "--base-url", sim.url, "--apply", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    summary = orjson.loads(done.stdout)
    assert (summary["checked"], summary["archived"], summary["settled"]) == (100, 0, 100)
    assert {last_entries(out)[line]["status"] for line in ambiguous} == {"created"}
    received = sim.stats().inputs_received
    resumed = run_cli(source, "--base-url", sim.url, "--out", "out.ndjson", "--resume", "--retry-failed",
                      "--no-progress", "--no-retry-ambiguous", cwd=tmp_path)  # fmt: skip
    assert resumed.returncode == 0, resumed.stderr
    assert sim.stats().inputs_received == received
    assert {value: len(ids) for value, ids in ids_by_external_id(sim.objects()).items()} == {
        f"T-{n}": 1 for n in range(1, 301)
    }


async def test_a_refused_token_or_scope_is_exit_3_on_one_line_without_the_token(
    simulator: Start, tmp_path: Path
) -> None:
    sim = _start(simulator, faults_at={1: "post_502"})
    out = _load(sim, tmp_path, _write_ndjson(tmp_path, 100))
    for token, status in (("unknown-5ecret-token", "401"), ("write-only-5ecret", "403")):
        done = run_cli("reconcile", out, "--base-url", sim.url, "--apply", cwd=tmp_path, token=token)
        assert done.returncode == 3, (status, done.stderr)
        errors = _error_lines(done.stderr)
        assert len(errors) == 1 and errors[0].startswith("cartloader reconcile: error:"), done.stderr
        assert "Traceback" not in done.stderr
        assert token not in done.stderr + done.stdout
    assert len(_copies(sim)) == 100  # nothing archived


async def test_a_log_another_process_holds_is_exit_2(simulator: Start, tmp_path: Path) -> None:
    # A load that lasts (40 requests at 4 a second, each ~0.5 s): reconcile starts while it still holds its log.
    sim = _start(simulator, rate="4/1s", latency_ms=(400, 600))
    source = _write_ndjson(tmp_path, 400)
    loading = start_cli(source, "--base-url", sim.url, "--out", "out.ndjson", "--batch-size", "10", cwd=tmp_path)
    try:
        out = tmp_path / "out.ndjson"
        wait_for(lambda: out.exists() and b'"pending"' in out.read_bytes(), what="the load to log pending lines")
        done = run_cli("reconcile", out, "--base-url", sim.url, cwd=tmp_path)
        assert loading.poll() is None, "the load ended before reconcile ran"
        assert done.returncode == 2, done.stderr
        assert _error_lines(done.stderr) == [
            f"cartloader reconcile: error: outcome log {out} is in use by another cartloader run"
        ]
    finally:
        loading.terminate()
        loading.communicate(timeout=60)
    with out.open("ab") as held:  # and a lock held by any process, not only a load
        fcntl.flock(held.fileno(), fcntl.LOCK_EX)
        done = run_cli("reconcile", out, "--base-url", sim.url, cwd=tmp_path)
        assert done.returncode == 2 and "in use" in done.stderr


async def test_a_log_written_to_stdout_or_an_input_read_from_stdin_is_exit_2(simulator: Start, tmp_path: Path) -> None:
    sim = _start(simulator, faults_at={1: "post_502"})
    source = _write_ndjson(tmp_path, 100)
    to_stdout = run_cli(source, "--base-url", sim.url, "--out", "-", "--no-progress", cwd=tmp_path)
    assert to_stdout.returncode == 0, to_stdout.stderr
    (tmp_path / "saved.ndjson").write_text(to_stdout.stdout)
    from_stdin = run_cli("-", "--base-url", sim.url, "--out", "piped.ndjson", "--no-progress", cwd=tmp_path,
                         stdin=source.read_bytes())  # fmt: skip
    assert from_stdin.returncode == 0, from_stdin.stderr
    objects = len(sim.objects())
    for log, needle in (("-", "stdout"), ("saved.ndjson", "no readable meta file"), ("piped.ndjson", "stdin")):
        done = run_cli("reconcile", log, "--base-url", sim.url, "--apply", cwd=tmp_path)
        assert done.returncode == 2, (log, done.stderr)
        errors = _error_lines(done.stderr)
        assert len(errors) == 1 and needle in errors[0], done.stderr
    assert len(sim.objects()) == objects  # nothing archived


# --- 4. the attempt window ends at answered_at ---------------------------------------------------------------


async def test_the_window_ends_at_the_answer_of_the_records_last_attempt(simulator: Start, tmp_path: Path) -> None:
    sim = _start(simulator, faults_at={1: "post_502"})
    out = _load(sim, tmp_path, _write_ndjson(tmp_path, 200))
    finals = last_entries(out)
    # only final lines that may be copied carry answered_at: the log does not grow for every record
    assert {line for line, entry in finals.items() if "answered_at" in entry} == set(range(1, 101))
    answered = parse_sent_at(finals[1]["answered_at"])
    assert answered is not None
    sent = [parse_sent_at(e["sent_at"]) for e in log_entries(out) if e["line"] == 1 and e["status"] == "pending"]
    # Both on HubSpot's clock as the loader knows it: from its Date headers (whole seconds), so the first
    # pending line, stamped before any answer set the offset, may read up to a second off.
    assert len(sent) == 1 and sent[0] is not None and sent[0] <= answered + 1.0
    # same value and values, made 20 s after line 1's last answer: outside its attempts (a guess from the
    # timeouts would reach minutes past the send)
    later = _iso(datetime.fromtimestamp(answered, UTC) + timedelta(seconds=20))
    made_later = _add_object(
        sim, {"hs_cart_name": "cart 1", "hs_external_cart_id": "T-1", "hs_total_price": "1"}, later
    )
    summary = await reconcile(out, apply=True, token="sim-token", base_url=sim.url)
    assert summary.archived == 100
    assert made_later in {obj.id for obj in sim.objects()}
    assert {value for value, ids in _copies(sim).items()} == {"T-1"}


# --- 5. the summary lists at most LISTED_IDS ids; the report file holds them all ------------------------------------


async def test_the_summary_lists_a_bounded_number_of_ids(
    simulator: Start, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(summary_module, "LISTED_IDS", 30)
    sim = _start(simulator, faults_at={1: "post_502", 2: "post_502"})
    out = _load(sim, tmp_path, _write_ndjson(tmp_path, 200))
    dry = await reconcile(out, token="sim-token", base_url=sim.url)
    assert (dry.duplicates_found, len(dry.would_archive)) == (200, 30)
    applied = await reconcile(out, apply=True, token="sim-token", base_url=sim.url)
    assert (applied.archived, len(applied.archived_ids)) == (200, 30)
    report = [orjson.loads(line) for line in (tmp_path / "out.ndjson.reconcile.ndjson").read_bytes().splitlines()]
    assert len({entry["archived"] for entry in report}) == 200
    assert set(applied.archived_ids) <= {entry["archived"] for entry in report}


def test_answered_at_is_written_only_on_lines_that_may_be_copied() -> None:
    at = "2026-03-01T12:00:00.123Z"
    ambiguous = RecordError("AMBIGUOUS", "HubSpot may have processed this batch", 502)
    refused = RecordError("VALIDATION_ERROR", "bad", 400)
    cases = [
        (Outcome(1, "created", "k-1", "11", attempts=1), False),
        (Outcome(2, "created", "k-2", "12", attempts=2, duplicate_risk=True), True),
        (Outcome(3, "failed", "k-3", None, ambiguous, 1), True),
        (Outcome(4, "failed", "k-4", None, refused, 1), False),
        (Outcome(5, "failed", "k-5", None, refused, 2, duplicate_risk=True), True),
    ]
    for outcome, carries in cases:
        entry = orjson.loads(encode_outcome(outcome, None, at))
        assert ("answered_at" in entry) is carries, outcome
        assert entry.get("answered_at", at) == at
