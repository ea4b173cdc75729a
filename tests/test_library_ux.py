"""The library as a user meets it: ``echo=`` lets ``on_outcome`` and ``stream()`` see which record an outcome is
about, a library outcome log resumes (``resume=True``), and ``stream()`` exposes the run's ``Summary`` after the
block. Real client, real loopback HTTP, the simulator."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
import pytest

from cartloader import CartLoader, ConfigError, Outcome, bulk_create
from cartloader.simulator import Simulator
from tests.test_cli_support import last_entries

pytestmark = pytest.mark.anyio
WRITE = frozenset({"crm.objects.carts.write"})


def carts(count: int, start: int = 1) -> list[dict[str, Any]]:
    return [
        {"hs_cart_name": f"cart {n}", "hs_external_cart_id": f"L-{n}", "hs_total_price": n}
        for n in range(start, start + count)
    ]


async def test_echo_puts_the_records_own_values_on_each_outcome_and_in_the_log(tmp_path: Path) -> None:
    outcomes: list[Outcome] = []
    records = [*carts(4), {"hs_cart_name": "bad", "hs_external_cart_id": "L-bad", "no_such_property": "x"}]
    log = tmp_path / "lib.outcomes.ndjson"
    async with Simulator() as sim:
        summary = await bulk_create(
            records, token="sim-token", base_url=sim.url, echo=["hs_external_cart_id", "hs_cart_name"],
            on_outcome=outcomes.append, outcome_log=log, preflight=False,  # HubSpot fails the bad one
        )  # fmt: skip
    assert (summary.created, summary.failed) == (4, 1)
    by_id = {o.echoed["hs_external_cart_id"]: o for o in outcomes if o.echoed}
    assert set(by_id) == {"L-1", "L-2", "L-3", "L-4", "L-bad"}
    assert by_id["L-bad"].status == "failed"
    assert all(records[o.line - 1]["hs_external_cart_id"] == key for key, o in by_id.items())
    assert by_id["L-2"].echoed == {"hs_external_cart_id": "L-2", "hs_cart_name": "cart 2"}
    assert last_entries(log)[3]["hs_external_cart_id"] == "L-3"


async def test_without_echo_outcomes_carry_nothing_more_and_a_reserved_name_is_refused() -> None:
    outcomes: list[Outcome] = []
    async with Simulator() as sim:
        await bulk_create(carts(2), token="sim-token", base_url=sim.url, on_outcome=outcomes.append)
        with pytest.raises(ConfigError, match="field of the outcome log"):
            CartLoader("sim-token", base_url=sim.url, echo="status")
    assert [o.echoed for o in outcomes] == [None, None]


async def test_a_library_outcome_log_resumes_sending_only_what_it_did_not_settle(tmp_path: Path) -> None:
    log = tmp_path / "lib.outcomes.ndjson"
    async with Simulator() as sim:
        first = await bulk_create(carts(10), token="sim-token", base_url=sim.url, outcome_log=log)
        assert first.created == 10
        second = await bulk_create(carts(15), token="sim-token", base_url=sim.url, outcome_log=log, resume=True)
        assert (second.skipped, second.created, second.total) == (10, 5, 5)
        assert sim.stats().inputs_received == 15
        assert sorted(obj.properties["hs_external_cart_id"] for obj in sim.objects.values()) == sorted(
            f"L-{n}" for n in range(1, 16)
        )
        with pytest.raises(ConfigError, match="exists: use --resume"):
            await bulk_create(carts(1), token="sim-token", base_url=sim.url, outcome_log=log)
        with pytest.raises(ConfigError, match="upsert-by"):
            await bulk_create(
                carts(15), token="sim-token", base_url=sim.url, outcome_log=log, resume=True,
                upsert_by="hs_external_cart_id",
            )  # fmt: skip
        with pytest.raises(ConfigError, match="give outcome_log as a path"):
            await bulk_create(carts(1), token="sim-token", base_url=sim.url, resume=True)
    meta = orjson.loads((tmp_path / "lib.outcomes.ndjson.meta.json").read_bytes())
    assert meta["options"]["object_type"] == "carts" and len(meta["resumed"]) == 1


async def test_resume_after_a_refused_token_sends_the_unsent_records_without_duplicate_risk(tmp_path: Path) -> None:
    log = tmp_path / "lib.outcomes.ndjson"
    async with Simulator(tokens={"good": WRITE}) as sim:
        with pytest.raises(Exception, match="access token"):
            # No preflight: the 401 comes to the batches (else to the schema read, before anything is logged).
            await bulk_create(carts(30), token="bad", base_url=sim.url, outcome_log=log, batch_size=10, preflight=False)
        assert {e["status"] for e in last_entries(log).values()} == {"unsent"}
        outcomes: list[Outcome] = []
        summary = await bulk_create(
            carts(30), token="good", base_url=sim.url, outcome_log=log, batch_size=10, resume=True,
            on_outcome=outcomes.append,
        )  # fmt: skip
    assert (summary.created, summary.duplicate_risk) == (30, 0)
    assert not any(o.duplicate_risk for o in outcomes)


async def test_stream_exposes_the_runs_summary_after_the_block() -> None:
    # Evenly paced, so that the second stream is left while most of its records are still unsent.
    async with (
        Simulator() as sim,
        CartLoader("sim-token", base_url=sim.url, echo="hs_external_cart_id", pace="even") as loader,
    ):
        async with loader.stream(carts(250)) as outcomes:
            assert outcomes.summary is None
            seen = [outcome async for outcome in outcomes]
        assert outcomes.summary is not None
        assert (outcomes.summary.created, outcomes.summary.total) == (250, 250)
        assert len(seen) == 250 and all(o.echoed for o in seen)

        async with loader.stream(carts(500, start=1000)) as early:
            await early.receive()
        assert early.summary is not None
        assert 1 <= early.summary.created < 500
