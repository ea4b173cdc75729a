"""The pipeline's path for records whose associations name their targets by a property (the resolver feeds them on
once resolved): each record gets one outcome and is counted once, whether it was sent in a full batch, in the last
one, failed for a target naming nothing, or refused (by the resolver, or by the chunker for a missing upsert key);
and a lone resolved record starts its batch's linger clock. Against the simulator over loopback HTTP, a few records."""

from __future__ import annotations

import time
from typing import Any

import anyio
import pytest

from cartloader import CartLoader
from cartloader.api.loader import bulk_create
from cartloader.models import Outcome
from cartloader.simulator import Simulator

pytestmark = pytest.mark.anyio

FAST = "1000/1s"
SCOPES = frozenset({"crm.objects.carts.write", "crm.objects.orders.read", "crm.schemas.orders.read"})


def order(value: str, prop: str = "shop_order_id") -> dict[str, Any]:
    return {"to": {"objectType": "orders", "idProperty": prop, "id": value}}


def cart(name: str, *associations: dict[str, Any], **properties: str) -> dict[str, Any]:
    return {"properties": {"hs_cart_name": name, **properties}, "associations": list(associations)}


async def test_resolved_records_each_get_one_outcome_and_are_counted_once() -> None:
    records = [
        cart("c1", order("SO-1")),
        cart("c2", order("SO-2")),
        cart("c3", order("SO-3")),  # batch size 2: c1 and c2 leave full, c3 in the last batch
        cart("gone", order("SO-999")),  # names nothing: failed, never sent
        cart("vague", order("Order 1", "hs_order_name")),  # not a unique property: refused by the resolver
    ]
    async with Simulator(orders=5, seed=61) as sim:
        sim.add_token("t", SCOPES)
        outcomes: list[Outcome] = []
        async with CartLoader("t", base_url=sim.url, rate=FAST, preflight=False, batch_size=2) as loader:
            summary = await loader.create(records, on_outcome=outcomes.append)
        received = sim.stats().inputs_received
    by_line = {outcome.line: outcome.status for outcome in outcomes}
    assert len(outcomes) == len(by_line) == 5
    assert by_line == {1: "created", 2: "created", 3: "created", 4: "failed", 5: "invalid"}
    assert summary.total == 5 and summary.pending == 0
    assert (summary.created, summary.failed, summary.invalid) == (3, 1, 1)
    assert received == 3


async def test_a_resolved_record_without_its_upsert_key_is_refused_and_counted_once() -> None:
    records = [
        cart("keyed", order("SO-1"), hs_external_cart_id="x1"),
        cart("keyless", order("SO-2")),
    ]
    async with Simulator(orders=2, unique=("hs_external_cart_id",), seed=62) as sim:
        sim.add_token("t", SCOPES)
        outcomes: list[Outcome] = []
        summary = await bulk_create(
            records,
            token="t",
            base_url=sim.url,
            rate=FAST,
            upsert_by="hs_external_cart_id",
            preflight=False,
            on_outcome=outcomes.append,
        )
    assert sorted((outcome.line, outcome.status) for outcome in outcomes) == [(1, "created"), (2, "invalid")]
    refused = outcomes[[outcome.line for outcome in outcomes].index(2)]
    assert refused.error is not None and "hs_external_cart_id" in refused.error.message
    assert summary.total == 2 and summary.invalid == 1 and summary.pending == 0


async def test_a_lone_submitted_record_naming_its_target_by_key_is_sent_within_linger() -> None:
    linger = 0.2
    async with Simulator(orders=3, seed=63) as sim:
        sim.add_token("t", SCOPES)
        with anyio.fail_after(3):  # without its linger clock, the record would wait for the loader to close
            async with CartLoader("t", base_url=sim.url, rate=FAST, linger=linger, preflight=False) as loader:
                warm = await loader.submit(cart("warm-up", order("SO-1")))  # connection opened, first answer in
                assert warm.status == "created"
                started = time.monotonic()
                outcome = await loader.submit(cart("lone", order("SO-2")))
                waited = time.monotonic() - started
    assert outcome.status == "created"
    # Resolved (a lookup), then it lingers (its batch might have filled), then leaves: never much later.
    assert linger * 0.9 <= waited < linger + 0.8, waited
