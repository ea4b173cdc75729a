"""The safety options of the command line: ``--upsert-by``, ``--no-retry-ambiguous``, ``--allow-insecure``,
against a simulator over loopback (``python -m cartloader`` as a subprocess)."""

from __future__ import annotations

import re
import resource
from collections.abc import Callable
from pathlib import Path

import orjson

from tests.test_cli_support import (
    Start,
    assert_one_line,
    capped_env,
    ids_by_external_id,
    last_entries,
    run_cli,
    write_carts,
)
from tests.test_unprivileged_support import popen_kwargs


def test_upsert_by_creates_then_updates_the_same_objects_and_refuses_records_without_the_property(
    tmp_path: Path, simulator: Start
) -> None:
    sim = simulator(unique=("hs_external_cart_id",))
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
    args = (source, "--base-url", sim.url, "--batch-size", "5", "--no-retry-ambiguous", "--no-preflight")

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


def _limit_file_size(limit: int) -> Callable[[], None]:
    def apply() -> None:
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))  # writes beyond it fail with EFBIG

    return apply


def _named_lines(stderr: str) -> set[int]:
    """The line numbers an exit-4 error names as sent but not logged."""
    found = re.search(r"could not be logged \(lines ([0-9, -]+)\)", stderr)
    assert found, stderr
    lines: set[int] = set()
    for part in found.group(1).split(", "):
        first, _, last = part.partition("-")
        lines.update(range(int(first), int(last or first) + 1))
    return lines


def test_outcome_log_folder_that_cannot_be_written_exits_2_before_any_request(tmp_path: Path, simulator: Start) -> None:
    sim = simulator()
    source = tmp_path / "carts.ndjson"
    write_carts(source, 5)
    (tmp_path / "not-a-folder").write_bytes(b"")
    result = run_cli(source, "--base-url", sim.url, "--out", tmp_path / "not-a-folder" / "log.ndjson", cwd=tmp_path)
    assert result.returncode == 2
    # Checked with every output's folder before the input is read (cli/setup.py check_folder).
    assert_one_line(result.stderr, "--out", "not-a-folder is not a folder")
    assert sim.stats().requests == 0


def test_outcome_log_folder_without_write_permission_exits_2_before_any_request(
    tmp_path: Path, simulator: Start
) -> None:
    sim = simulator()
    source = tmp_path / "carts.ndjson"
    write_carts(source, 5)
    folder = tmp_path / "read-only"
    folder.mkdir()
    folder.chmod(0o555)
    # Run without root's permission overrides, so that the folder's mode applies as it would to any user.
    result = run_cli(source, "--base-url", sim.url, "--out", folder / "log.ndjson", cwd=tmp_path, **popen_kwargs())
    assert result.returncode == 2, result.stderr
    assert_one_line(result.stderr, "--out", "read-only is not writable")
    assert sim.stats().requests == 0
    assert list(folder.iterdir()) == []


def test_log_write_failure_mid_run_stops_sending_exits_4_and_names_the_lines_sent_but_not_logged(
    tmp_path: Path, simulator: Start
) -> None:
    sim = simulator(unique=())
    source = tmp_path / "carts.ndjson"
    external_ids = write_carts(source, 400)
    log = tmp_path / "carts.outcomes.ndjson"
    args = (source, "--base-url", sim.url, "--batch-size", "20", "--concurrency", "1")
    # Entry sizes (run ids are 5 characters, sent_at is to the millisecond, ids 11 digits): a pending entry
    # (with sent_at) takes 83 bytes for lines 1-9 and 85 from line 10 on, a created one 78 and 80. The first
    # batch takes 9*83 + 11*85 = 1,682 bytes pending and 9*78 + 11*80 = 1,582 settled, each later one 1,700
    # and 1,600: the log holds 3,264 + 2*3,300 + 1,700 = 11,564 bytes once the fourth batch is pending, and
    # 13,164 once it is settled. A cap between the two fails the write of the fourth batch's outcomes, after
    # its request was answered. The cap applies to the repeats index too: 11,900 is below the 12,288 bytes
    # (three 4 KiB pages) its SQLite file needs for its tables, so the index fails at the start, as when the
    # temporary folder's disk is full, and the run must go on without it.
    result = run_cli(*args, cwd=tmp_path, env=capped_env(), preexec_fn=_limit_file_size(11_900))
    assert result.returncode == 4, result.stderr
    assert_one_line(result.stderr, "cannot write outcome log carts.outcomes.ndjson", "File too large")
    # The repeats index (engine/repeats.py) hit the cap first and the run went on without it.
    assert "warning: repeated values are no longer tracked: disk I/O error;" in result.stderr
    named = _named_lines(result.stderr)
    assert named == set(range(61, 81))
    sent = {
        int(external_id.removeprefix("T-"))
        for external_id in (o.properties["hs_external_cart_id"] for o in sim.objects())
    }
    assert sent == set(range(1, 81))  # sending stopped at the failure: no request after it
    entries = [orjson.loads(line) for line in log.read_bytes().splitlines() if line.endswith(b"}")]
    pending = {entry["line"] for entry in entries if entry["status"] == "pending"}
    final = {entry["line"] for entry in entries if entry["status"] != "pending"}
    assert sent <= pending  # every record sent was logged pending first
    assert sent - final <= named  # whatever lacks its final outcome is named

    resumed = run_cli(*args, "--resume", cwd=tmp_path)
    assert resumed.returncode == 0, resumed.stderr
    entries_by_line = last_entries(log)
    assert sorted(entries_by_line) == list(range(1, 401))
    assert {entry["status"] for entry in entries_by_line.values()} == {"created"}
    flagged = {line for line, entry in entries_by_line.items() if entry.get("duplicate_risk")}
    assert flagged == named - final
    held = ids_by_external_id(sim.objects())
    assert {line for line, external_id in enumerate(external_ids, 1) if len(held[external_id]) > 1} <= flagged
