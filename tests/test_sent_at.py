"""``sent_at`` on ``pending`` lines: when that attempt left, ISO 8601 UTC with milliseconds, on HubSpot's clock as
the loader knows it (the local clock plus the offset from the latest ``Date`` header of HubSpot's answers)."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path

import orjson
import pytest

from cartloader import CartLoader
from cartloader.hubspot.clock import HubSpotClock
from cartloader.models import CartInput
from cartloader.outcomes.format import ENTRY_HEAD, encode_pending, format_sent_at, parse_sent_at
from tests.test_cli_support import Start


def test_a_pending_line_carries_sent_at_after_its_status() -> None:
    line = encode_pending(CartInput(4, {}, key="k"), "2026-03-01T12:00:00.123Z")
    assert line == b'{"line":4,"key":"k","status":"pending","sent_at":"2026-03-01T12:00:00.123Z"}\n'
    head = ENTRY_HEAD.match(line)
    assert head is not None
    assert (head.group(1), head.group(2)) == (b"4", b"pending")


def test_sent_at_is_iso_utc_with_milliseconds_and_reads_back() -> None:
    moment = datetime(2026, 3, 1, 12, 0, 0, 123456, tzinfo=UTC).timestamp()
    text = format_sent_at(moment)
    assert text == "2026-03-01T12:00:00.123Z"
    parsed = parse_sent_at(text)
    assert parsed is not None
    assert abs(parsed - moment) < 0.001
    assert parse_sent_at("2026-03-01T12:00:00") is None  # no zone: not a sent_at
    assert parse_sent_at(None) is None


def test_the_clock_follows_the_offset_of_the_date_header() -> None:
    clock = HubSpotClock()
    local = time.time()
    assert abs(clock.now() - local) < 1
    ahead = datetime.fromtimestamp(local, UTC) + timedelta(seconds=90)
    clock.observe(format_datetime(ahead, usegmt=True), received_at=local)
    assert 89 <= clock.now() - time.time() <= 91
    clock.observe("not a date", received_at=local)
    clock.observe(None)
    assert 89 <= clock.offset_s <= 91  # unreadable headers change nothing


@pytest.mark.anyio
async def test_the_loader_stamps_pending_lines_on_hubspots_clock(simulator: Start, tmp_path: Path) -> None:
    sim = simulator()
    out = tmp_path / "out.ndjson"
    before = time.time()
    async with CartLoader(token="sim-token", base_url=sim.url, preflight=False) as loader:
        loader._transport.clock.offset_s = 3600.0  # as if HubSpot's Date said an hour later
        await loader.create([{"hs_cart_name": f"c{i}"} for i in range(5)], outcome_log=str(out))
        # the simulator's answer carried a Date header on the local clock: the offset was learnt from it
        assert abs(loader._transport.clock.offset_s) < 1.5
    pending = [entry for entry in map(orjson.loads, out.read_bytes().splitlines()) if entry["status"] == "pending"]
    assert len(pending) == 5
    for entry in pending:
        sent = parse_sent_at(entry["sent_at"])
        assert sent is not None
        # stamped before the only request left, so with the offset as it was then
        assert before + 3599 <= sent <= time.time() + 3601
