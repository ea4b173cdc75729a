"""The safety options of the command line: ``--upsert-by``, ``--no-retry-ambiguous``, ``--allow-insecure``,
against a simulator over loopback (``python -m cartloader`` as a subprocess)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import orjson
import pytest

from tests.test_cli_support import (
    SimThread,
    assert_one_line,
    ids_by_external_id,
    last_entries,
    run_cli,
    simulators,
    write_carts,
)

Start = Callable[..., SimThread]


@pytest.fixture
def simulator() -> Iterator[Start]:
    yield from simulators()


def test_upsert_by_creates_then_updates_the_same_objects_and_refuses_records_without_the_property(
    tmp_path: Path, simulator: Start
) -> None:
    sim = simulator()
    source = tmp_path / "carts.ndjson"
    external_ids = write_carts(source, 30)
    with source.open("ab") as stream:
        stream.write(orjson.dumps({"hs_cart_name": "no external id"}) + b"\n")
    args = (source, "--base-url", sim.url, "--upsert-by", "hs_external_cart_id", "--batch-size", "7")

    first = run_cli(*args, cwd=tmp_path)
    assert first.returncode == 1, first.stderr
    log = tmp_path / "carts.outcomes.ndjson"
    entries = last_entries(log)
    assert [entries[line]["status"] for line in range(1, 31)] == ["created"] * 30
    assert entries[31]["status"] == "invalid"
    assert "hs_external_cart_id" in entries[31]["error"]["message"]
    ids_after_first = {line: entries[line]["id"] for line in range(1, 31)}

    second = run_cli(*args, "--overwrite", cwd=tmp_path)
    assert second.returncode == 1, second.stderr
    entries = last_entries(log)
    assert [entries[line]["status"] for line in range(1, 31)] == ["updated"] * 30
    assert {line: entries[line]["id"] for line in range(1, 31)} == ids_after_first
    held = ids_by_external_id(sim.objects())
    assert all(len(held[external_id]) == 1 for external_id in external_ids)
    assert len(sim.objects()) == 30
    assert sim.stats().objects_updated == 30


def test_no_retry_ambiguous_fails_processed_batches_once_and_resume_leaves_them_unless_retry_failed(
    tmp_path: Path, simulator: Start
) -> None:
    sim = simulator(faults={"post_500": 1.0}, unique=())
    source = tmp_path / "carts.ndjson"
    write_carts(source, 20)
    log = tmp_path / "carts.outcomes.ndjson"
    args = (source, "--base-url", sim.url, "--batch-size", "5", "--no-retry-ambiguous")

    first = run_cli(*args, cwd=tmp_path)
    assert first.returncode == 1, first.stderr
    entries = last_entries(log)
    assert sorted(entries) == list(range(1, 21))
    assert {entry["status"] for entry in entries.values()} == {"failed"}
    assert {entry["error"]["category"] for entry in entries.values()} == {"AMBIGUOUS"}
    assert {entry["attempts"] for entry in entries.values()} == {1}
    assert sim.stats().requests == 4  # one per batch: none resent
    assert len(sim.objects()) == 20  # HubSpot did process them: the reason not to resend

    sim._call(lambda: sim.sim.set_fault("post_500", 0.0))
    resumed = run_cli(*args, "--resume", cwd=tmp_path)
    assert resumed.returncode == 1, resumed.stderr
    assert sim.stats().requests == 4
    assert "20 skipped" in resumed.stderr

    retried = run_cli(*args, "--resume", "--retry-failed", cwd=tmp_path)
    assert retried.returncode == 0, retried.stderr
    assert {entry["status"] for entry in last_entries(log).values()} == {"created"}
    assert len(sim.objects()) == 40  # the user chose to resend: each now exists twice


def test_plain_http_base_url_off_loopback_is_refused_with_exit_2_before_any_request(tmp_path: Path) -> None:
    source = tmp_path / "carts.ndjson"
    write_carts(source, 3)
    result = run_cli(source, "--base-url", "http://192.0.2.1:9", cwd=tmp_path)
    assert result.returncode == 2
    assert_one_line(result.stderr, "plain-http", "--allow-insecure")
    assert not (tmp_path / "carts.outcomes.ndjson").exists()


def test_allow_insecure_lets_a_plain_http_non_loopback_base_url_through(tmp_path: Path) -> None:
    # 192.0.2.1 (TEST-NET-1) is never routed: the run gets past the check and fails to connect, which
    # --max-retries 1 and a short timeout turn into failed records (exit 1), not a refusal (exit 2).
    source = tmp_path / "carts.ndjson"
    write_carts(source, 2)
    result = run_cli(
        source,
        "--base-url",
        "http://192.0.2.1:9",
        "--allow-insecure",
        "--max-retries",
        "1",
        "--timeout",
        "0.5",
        cwd=tmp_path,
    )
    assert result.returncode == 1, result.stderr
    entries = last_entries(tmp_path / "carts.outcomes.ndjson")
    assert {entry["status"] for entry in entries.values()} == {"failed"}
