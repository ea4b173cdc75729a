"""Repeated keys in one input (engine/repeats.py), through the real command line and library against the
simulator: a later line repeating an earlier line's unique value waits for it, and is refused once it is created
(``DUPLICATE_IN_INPUT``, naming the earlier line) or sent once it failed; every run reports ``repeated_values``."""

from __future__ import annotations

import logging
import sqlite3
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import orjson
import pytest

from cartloader.api.loader import bulk_create
from cartloader.models import Outcome
from cartloader.simulator import Simulator
from tests.test_cli_support import Start, last_entries, run_cli

LINES = 300
HOLDER = 5
# Ten lines repeating line 5's value: in its own batch (7, 40), in later ones, and the last line.
REPEATS = (7, 40, 99, 100, 101, 150, 201, 250, 299, 300)


def _carts(path: Path, *, unique_name: str = "hs_external_cart_id") -> None:
    with path.open("wb") as stream:
        for line in range(1, LINES + 1):
            ref = f"X-{HOLDER}" if line in REPEATS else f"X-{line}"
            cart = {"hs_cart_name": f"cart {line}", unique_name: ref, "hs_currency_code": "EUR", "hs_total_price": 1}
            stream.write(orjson.dumps(cart) + b"\n")


def _names(folder: Path) -> list[str]:
    return [path.name for path in folder.iterdir()]


def _check_refused(
    entries: dict[int, dict[str, Any]], holder: int, repeats: tuple[int, ...], name: str = "hs_external_cart_id"
) -> None:
    for line in repeats:
        entry = entries[line]
        assert entry["status"] == "invalid", entry
        assert entry["error"]["category"] == "DUPLICATE_IN_INPUT", entry
        assert f"repeats line {holder}," in entry["error"]["message"], entry
        assert entry[name] == f"X-{HOLDER}", entry  # --echo


def test_ten_repeats_of_a_created_unique_value_are_refused_locally_with_no_409(
    simulator: Start, tmp_path: Path
) -> None:
    sim = simulator(unique=("hs_external_cart_id",), seed=3)
    _carts(tmp_path / "carts.ndjson")
    result = run_cli(
        "carts.ndjson", "--base-url", sim.url, "--rate", "100/1s", "--batch-size", "50",
        "--echo", "hs_external_cart_id", "--summary-json", "summary.json", "--no-progress", cwd=tmp_path,
    )  # fmt: skip
    assert result.returncode == 1, result.stderr
    entries = last_entries(tmp_path / "carts.outcomes.ndjson")
    assert entries[HOLDER]["status"] == "created"
    _check_refused(entries, HOLDER, REPEATS)
    assert sum(entry["status"] == "created" for entry in entries.values()) == LINES - len(REPEATS)
    stats = sim.stats()
    assert 409 not in stats.by_status, stats
    summary = orjson.loads((tmp_path / "summary.json").read_bytes())
    expected = {"lines": 11, "first": sorted((HOLDER, *REPEATS))[:10]}
    assert summary["repeated_values"] == {"hs_external_cart_id": expected}
    assert summary["invalid"] == len(REPEATS) and summary["failures_by_category"] == {"DUPLICATE_IN_INPUT": 10}


def test_a_repeat_is_sent_when_the_earlier_line_fails(simulator: Start, tmp_path: Path) -> None:
    # The first request is answered 418: its records (line 5 among them) fail; the first repeat waiting for line 5
    # is then sent in its place and created, and the other nine are refused naming it.
    sim = simulator(unique=("hs_external_cart_id",), seed=3, faults_at={1: "teapot_418"})
    _carts(tmp_path / "carts.ndjson")
    result = run_cli(
        "carts.ndjson", "--base-url", sim.url, "--rate", "100/1s", "--batch-size", "50",
        "--echo", "hs_external_cart_id", "--no-progress", cwd=tmp_path,
    )  # fmt: skip
    assert result.returncode == 1, result.stderr
    entries = last_entries(tmp_path / "carts.outcomes.ndjson")
    assert entries[HOLDER]["status"] == "failed"
    assert entries[REPEATS[0]]["status"] == "created", entries[REPEATS[0]]
    _check_refused(entries, REPEATS[0], REPEATS[1:])
    assert 409 not in sim.stats().by_status
    holders = [obj for obj in sim.objects() if obj.properties.get("hs_external_cart_id") == f"X-{HOLDER}"]
    assert len(holders) == 1


@pytest.mark.parametrize("name", ["hs_external_cart_id", "order_ref"])
def test_a_resumed_run_refuses_repeats_of_lines_an_earlier_run_created(
    simulator: Start, tmp_path: Path, name: str
) -> None:
    # order_ref: a custom unique property, known only from the schema the resumed run reads after line 5 was read.
    sim = simulator(unique=("hs_external_cart_id",), properties=("order_ref:string:unique",), seed=3)
    _carts(tmp_path / "carts.ndjson", unique_name=name)
    common = ("--base-url", sim.url, "--rate", "100/1s", "--batch-size", "50", "--echo", name)
    first = run_cli("carts.ndjson", *common, "--limit", "6", "--no-progress", cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    second = run_cli("carts.ndjson", *common, "--resume", "--summary-json", "s.json", "--no-progress", cwd=tmp_path)
    assert second.returncode == 1, second.stderr
    entries = last_entries(tmp_path / "carts.outcomes.ndjson")
    _check_refused(entries, HOLDER, REPEATS, name)
    assert 409 not in sim.stats().by_status
    summary = orjson.loads((tmp_path / "s.json").read_bytes())
    assert summary["repeated_values"][name]["lines"] == 11
    assert summary["created"] == LINES - 6 - len(REPEATS)


@pytest.mark.anyio
async def test_the_library_reports_repeats_and_upsert_mode_holds_nothing_back(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))  # where the index lives while the run goes
    # Lines 251-300 repeat the order_ref of lines 1-50.
    records = [{"order_ref": f"R-{n % 250}", "hs_external_cart_id": f"E-{n}", "hs_cart_name": "a"} for n in range(300)]
    repeated = {"lines": 100, "first": [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]}
    outcomes: list[Outcome] = []
    folders: set[str] = set()

    def seen(outcome: Outcome) -> None:
        outcomes.append(outcome)
        folders.update(_names(tmp_path))

    async with Simulator(properties=("order_ref:string:unique",)) as sim:
        common: dict[str, Any] = {"token": "sim-token", "base_url": sim.url, "rate": "100/1s"}
        created = await bulk_create(records, echo="order_ref", on_outcome=seen, **common)
        assert 409 not in sim.stats().by_status
    assert created.repeated_values == {"order_ref": repeated}
    assert [name.startswith("cartloader-repeats-") for name in folders] == [True]
    assert _names(tmp_path) == []  # removed at the end
    assert created.created == 250 and created.failures_by_category == {"DUPLICATE_IN_INPUT": 50}
    refused = sorted(outcome.line for outcome in outcomes if outcome.status == "invalid")
    assert refused == list(range(251, 301))
    for outcome in outcomes:
        if outcome.status == "invalid":
            assert outcome.echoed == {"order_ref": f"R-{(outcome.line - 1) % 250}"}
            assert outcome.error is not None and f"repeats line {outcome.line - 250}," in outcome.error.message
    async with Simulator(properties=("order_ref:string:unique",)) as sim:
        common = {"token": "sim-token", "base_url": sim.url, "rate": "100/1s"}
        upserted = await bulk_create(records, upsert_by="order_ref", **common)
    assert upserted.repeated_values == {"order_ref": repeated}
    assert upserted.invalid == 0 and upserted.failed == 0 and upserted.created + upserted.updated == 300


class _FailingIndex:
    """A SQLite connection whose writes fail (``disk I/O error``, as when the disk is full) from the moment
    ``fail_from`` matches a statement on: the index dies mid-run."""

    def __init__(self, db: sqlite3.Connection, fail_from: str) -> None:
        self._db = db
        self._fail_from = fail_from
        self.failed = False

    def execute(self, sql: str, parameters: Sequence[object] = ()) -> sqlite3.Cursor:
        if self.failed or sql.startswith(self._fail_from):
            self.failed = True
            raise sqlite3.OperationalError("disk I/O error")
        return self._db.execute(sql, parameters)

    def close(self) -> None:
        self._db.close()


@pytest.mark.anyio
@pytest.mark.parametrize("when", ["once line 5 is created", "before the first value"])
async def test_an_index_that_fails_mid_run_sends_every_line_and_lets_hubspots_409_decide(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture, when: str
) -> None:
    # Lines 7 and 40 (and whatever repeat is read before line 5's outcome) wait for line 5 when the index fails on
    # noting line 5 created (or cannot even be made: its temporary folder's parent is a file): they are sent, and so
    # are the later repeats; HubSpot's 409 refuses them all, exactly as with no index. Nothing is lost, no crash.
    index: list[_FailingIndex] = []
    if when == "before the first value":
        (tmp_path / "not-a-folder").write_bytes(b"")
        monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "not-a-folder"))
    else:
        monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
        connect = sqlite3.connect

        def failing(*args: Any, **kwargs: Any) -> _FailingIndex:
            index.append(_FailingIndex(connect(*args, **kwargs), "UPDATE v SET holder = ?, state = ?, id = ?"))
            return index[-1]

        monkeypatch.setattr(sqlite3, "connect", failing)  # the index's (the simulator keeps no SQLite)
    records = [
        {"hs_cart_name": f"cart {line}", "hs_external_cart_id": f"X-{HOLDER}" if line in REPEATS else f"X-{line}"}
        for line in range(1, LINES + 1)
    ]
    outcomes: list[Outcome] = []
    caplog.set_level(logging.WARNING, logger="cartloader")
    async with Simulator(unique=("hs_external_cart_id",), seed=3) as sim:
        summary = await bulk_create(
            records, token="sim-token", base_url=sim.url, rate="100/1s", batch_size=50, on_outcome=outcomes.append
        )
        assert sim.stats().by_status.get(409), sim.stats()  # the repeats were sent: HubSpot decided
        holders = [obj for obj in sim.objects.values() if obj.properties.get("hs_external_cart_id") == f"X-{HOLDER}"]
    assert len(holders) == 1
    assert all(failing.failed for failing in index)
    assert sorted(outcome.line for outcome in outcomes) == list(range(1, LINES + 1))  # each line once, none lost
    by_line = {outcome.line: outcome for outcome in outcomes}
    assert by_line[HOLDER].status == "created"
    for line in REPEATS:
        error = by_line[line].error
        assert by_line[line].status == "failed", by_line[line]  # sent, refused by HubSpot; never held for ever
        assert error is not None and error.category != "DUPLICATE_IN_INPUT", error
    assert summary.created == LINES - len(REPEATS) and summary.failed == len(REPEATS) and summary.invalid == 0
    warnings = [record.getMessage() for record in caplog.records if "no longer tracked" in record.getMessage()]
    assert len(warnings) == 1, warnings  # once, however many statements fail after it
    assert warnings[0].startswith("repeated values are no longer tracked: "), warnings
    assert warnings[0].endswith("; HubSpot's 409 decides for unique values"), warnings
    assert "disk I/O error" in warnings[0] if index else "not-a-folder" in warnings[0], warnings
    if index:  # what was counted before the failure: line 5 and the repeats read until then, marked partial
        counted = summary.repeated_values["hs_external_cart_id"]
        assert counted["partial"] is True and {HOLDER, 7, 40} <= set(counted["first"]), counted
    else:
        assert summary.repeated_values == {}
    assert [name for name in _names(tmp_path) if name.startswith("cartloader-repeats-")] == []  # removed
