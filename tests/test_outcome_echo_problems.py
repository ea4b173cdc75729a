"""Promises kept: ``--echo`` values on every outcome, ``invalid`` ones included (every named property, null when the
line could not be read), in the outcome log, the rejects file and the library's ``on_outcome`` and ``stream()``; the
summary's ``problems_by_code`` counts every problem of every record, where ``failures_by_category`` counts each
record once. Through the real command line and library against the simulator."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
import pytest

from cartloader import CartLoader, Outcome, bulk_create
from cartloader.simulator import Simulator
from cartloader.simulator.config import DEFAULT_SCOPES
from tests.test_cli_support import Start, last_entries, run_cli

ECHO = ("hs_external_cart_id", "hs_cart_name")


def mixed_lines(count: int) -> list[bytes]:
    """Good carts, with lines that are not JSON, a nested value, and two bad booleans and a bad number."""
    lines = []
    for n in range(1, count + 1):
        if n % 50 == 0:
            lines.append(b"{not json")
        elif n % 50 == 10:
            lines.append(orjson.dumps({"hs_external_cart_id": f"E-{n}", "hs_tags": {"nested": 1}}))
        elif n % 50 == 20:
            bad = {"hs_external_cart_id": f"E-{n}", "hs_cart_name": f"c{n}", "hs_buyer_accepts_marketing": "yes"}
            lines.append(orjson.dumps({**bad, "flag_two": "no", "hs_total_price": "1,5"}))
        else:
            lines.append(orjson.dumps({"hs_external_cart_id": f"E-{n}", "hs_cart_name": f"c{n}"}))
    return lines


def test_echo_on_every_outcome_and_problems_by_code_through_the_cli(tmp_path: Path, simulator: Start) -> None:
    sim = simulator(properties=("flag_two:bool",))
    source = tmp_path / "in.ndjson"
    source.write_bytes(b"\n".join(mixed_lines(200)) + b"\n")
    result = run_cli(
        source, "--base-url", sim.url, *(arg for name in ECHO for arg in ("--echo", name)), "--rejects",
        tmp_path / "rejects.ndjson", "--summary-json", tmp_path / "summary.json", "--no-progress", cwd=tmp_path,
    )  # fmt: skip
    assert result.returncode == 1, result.stderr
    entries = last_entries(tmp_path / "in.outcomes.ndjson")
    assert len(entries) == 200 and all(set(ECHO) <= set(entry) for entry in entries.values())
    assert entries[50]["status"] == "invalid" and (entries[50]["hs_external_cart_id"], entries[50]["hs_cart_name"]) == (
        None,
        None,
    )  # not JSON: nothing could be read
    assert entries[10]["status"] == "invalid" and entries[10]["hs_external_cart_id"] == "E-10"
    assert entries[10]["hs_cart_name"] is None
    assert entries[20]["status"] == "invalid" and entries[20]["hs_external_cart_id"] == "E-20"  # the preflight
    assert entries[1]["hs_external_cart_id"] == "E-1" and entries[1]["status"] == "created"
    errors = [orjson.loads(line) for line in (tmp_path / "rejects.ndjson.errors.ndjson").read_bytes().splitlines()]
    assert len(errors) == 12 and {error["line"]: error["hs_external_cart_id"] for error in errors}[20] == "E-20"
    summary = orjson.loads((tmp_path / "summary.json").read_bytes())
    assert summary["failures_by_category"] == {"INVALID_INPUT": 8, "INVALID_BOOLEAN": 4}
    assert summary["problems_by_code"] == {"INVALID_INPUT": 8, "INVALID_BOOLEAN": 8, "INVALID_DECIMAL": 4}
    assert "problems, by code (every problem of every record): INVALID_BOOLEAN 8, INVALID_INPUT 8" in result.stderr


@pytest.mark.anyio
async def test_a_callback_and_the_stream_read_echo_on_invalid_outcomes_without_raising() -> None:
    records: list[Any] = [{"hs_external_cart_id": f"L-{n}", "hs_cart_name": f"c{n}"} for n in range(1, 201)]
    records[4] = {"hs_external_cart_id": "L-5", "hs_tags": ["a", 1]}  # invalid locally
    records[9] = "not an object"
    records[14] = {"hs_external_cart_id": "L-15", "no_such_property": "x"}  # refused by the preflight
    seen: dict[int, str | None] = {}

    def on_outcome(outcome: Outcome) -> None:
        assert outcome.echoed is not None
        seen[outcome.line] = outcome.echoed["hs_external_cart_id"]  # a KeyError here stopped bulk_create before

    # A token that may read the sensitive lists: the preflight then refuses the unknown property locally.
    sensitive = {"crm.objects.carts.sensitive.read", "crm.objects.carts.highly_sensitive.read"}
    async with Simulator(tokens={"sim-token": DEFAULT_SCOPES | sensitive}) as sim:
        summary = await bulk_create(records, token="sim-token", base_url=sim.url, on_outcome=on_outcome, echo=ECHO)
        async with CartLoader("sim-token", base_url=sim.url, echo=ECHO) as loader, loader.stream(records) as outcomes:
            streamed = {outcome.line: outcome async for outcome in outcomes}
    assert (summary.created, summary.invalid) == (197, 3)
    assert (seen[5], seen[10], seen[15], seen[16]) == ("L-5", None, "L-15", "L-16")
    assert streamed[10].echoed == {"hs_external_cart_id": None, "hs_cart_name": None}
    assert streamed[15].status == "invalid" and streamed[15].echoed == {
        "hs_external_cart_id": "L-15",
        "hs_cart_name": None,
    }
    assert summary.problems_by_code == {"INVALID_INPUT": 2, "PROPERTY_DOESNT_EXIST": 1}


@pytest.mark.anyio
async def test_a_failed_records_hubspot_details_count_each_problem() -> None:
    records = [{"hs_external_cart_id": f"F-{n}", "hs_total_price": "x", "hs_tax": "y"} for n in range(1, 4)]
    async with Simulator() as sim:
        summary = await bulk_create(records, token="sim-token", base_url=sim.url, preflight=False)
    assert summary.failed == 3
    assert sum(summary.failures_by_category.values()) == 3
    assert sum(summary.problems_by_code.values()) == 6, summary.problems_by_code
