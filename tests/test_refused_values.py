"""What HubSpot refused earlier in a run is not sent again: a later record carrying the same property HubSpot said
does not exist, or the same value it refused for a reason that depends on the value alone, is ``invalid`` at once
(with HubSpot's code). Only what the answer makes certain is remembered, and memory is bounded."""

from __future__ import annotations

from typing import Any

import pytest

from cartloader.api.loader import bulk_create
from cartloader.engine import refused
from cartloader.engine.refused import RefusalMemory
from cartloader.models import CartInput, Outcome, PropertyProblem, RecordError
from cartloader.simulator import Simulator

FAST = "1000/1s"


def carts(count: int) -> list[dict[str, Any]]:
    return [{"hs_cart_name": f"cart {i}", "hs_total_price": str(i)} for i in range(1, count + 1)]


async def load(sim: Simulator, records: list[dict[str, Any]], **options: Any) -> tuple[dict[int, Outcome], Any]:
    outcomes: list[Outcome] = []
    summary = await bulk_create(
        records,
        token="sim-token",
        base_url=sim.url,
        on_outcome=outcomes.append,
        rate=FAST,
        preflight=False,  # HubSpot must see the first bad record: what it refuses is what is remembered
        concurrency=1,
        batch_size=10,
        **options,
    )
    return {o.line: o for o in outcomes}, summary


@pytest.mark.anyio
async def test_a_value_hubspot_refused_is_not_sent_again_in_the_same_run() -> None:
    records = carts(100)
    for line in (5, 55, 95):
        records[line - 1]["hs_total_price"] = "12,50"
    async with Simulator(seed=1) as sim:
        outcomes, summary = await load(sim, records)
        received = sim.stats().inputs_received
    assert outcomes[5].status == "failed"  # HubSpot refused it
    for line in (55, 95):  # sent long after: refused at once
        error = outcomes[line].error
        assert outcomes[line].status == "invalid" and error is not None
        assert error.category == "INVALID_DECIMAL"
        assert "was refused by HubSpot earlier in this run" in error.message
        assert error.details[0].value == "12,50"
    assert received == 98
    assert summary.created == 97


@pytest.mark.anyio
async def test_a_property_hubspot_said_does_not_exist_is_not_sent_again_whatever_its_value() -> None:
    records = carts(80)
    for line in (3, 50, 70):
        records[line - 1]["hs_cart_nmae"] = f"typo {line}"
    async with Simulator(seed=2) as sim:
        outcomes, _ = await load(sim, records)
    assert outcomes[3].status == "failed"
    assert {outcomes[line].status for line in (50, 70)} == {"invalid"}
    assert outcomes[70].error is not None and outcomes[70].error.category == "PROPERTY_DOESNT_EXIST"


@pytest.mark.anyio
async def test_a_missing_required_property_teaches_nothing_so_each_such_record_is_still_sent() -> None:
    # A required property missing (API 2026-09): nothing the record carries is to blame, so nothing is learnt.
    records = carts(60)
    for line in (2, 40, 59):
        records[line - 1] = {"hs_total_price": "1"}
    async with Simulator(seed=3, required=("hs_cart_name",)) as sim:
        outcomes, summary = await load(sim, records)
    assert {outcomes[line].status for line in (2, 40, 59)} == {"failed"}
    assert summary.invalid == 0


def problem(code: str, message: str, name: str = "price") -> RecordError:
    return RecordError("VALIDATION_ERROR", "...", 400, (PropertyProblem(name, code, message, None),))


def test_a_value_is_remembered_only_where_hubspots_message_names_it() -> None:
    memory = RefusalMemory()
    # An error HubSpot named no input for, handed to an input with a good price: nothing learnt about "10".
    memory.learn(problem("INVALID_DECIMAL", "ten was not a valid number."), CartInput(1, {"price": "10"}))
    assert memory.check(CartInput(2, {"price": "10"})) is None
    memory.learn(problem("INVALID_DECIMAL", "ten was not a valid number."), CartInput(3, {"price": "ten"}))
    refusal = memory.check(CartInput(4, {"price": "ten", "name": "x"}))
    assert refusal is not None and refusal.category == "INVALID_DECIMAL" and refusal.line == 4
    assert memory.check(CartInput(5, {"price": "ten "})) is None  # another value


def test_memory_stops_learning_past_its_bound(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(refused, "MAX_REMEMBERED", 3)
    memory = RefusalMemory()
    for i in range(10):
        memory.learn(
            problem("INVALID_OPTION", f"v{i} was not one of the allowed options"), CartInput(i, {"price": f"v{i}"})
        )
    assert len(memory) == 3
    assert memory.check(CartInput(20, {"price": "v9"})) is None
