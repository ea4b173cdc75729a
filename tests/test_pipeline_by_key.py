"""The pipeline's path for records whose associations name their targets by a property (the resolver feeds them on
once resolved): each record gets one outcome and is counted once, whether it was sent in a full batch, in the last
one, failed for a target naming nothing, or refused (by the resolver, or by the chunker for a missing upsert key);
and a lone resolved record starts its batch's linger clock. Against the simulator over loopback HTTP, a few records."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from typing import Any, cast

import anyio
import pytest

from cartloader import CartLoader
from cartloader.api.loader import bulk_create
from cartloader.budget.local import RateBudget
from cartloader.config import LoaderConfig
from cartloader.engine.chunker import Chunker
from cartloader.engine.collector import Collector
from cartloader.engine.concurrency import InFlightLimit
from cartloader.engine.delivery import Sender
from cartloader.engine.pipeline import run_pipeline
from cartloader.input.normalize import normalize
from cartloader.models import CartInput, InvalidInput, Outcome
from cartloader.simulator import Simulator
from tests.test_budget_support import virtual_time
from tests.test_linger_bound import LINGER_S, STEP_S, _Departures

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


async def test_a_batch_opened_after_a_full_one_left_lingers_from_its_own_first_record() -> None:
    # Records 1 and 2 come at 0 and fill a batch of two (it leaves at once); record 3 opens the next at 0.2: the
    # clock started for record 1 (due at 0.3) must not send it; it leaves at 0.5.
    arrivals = {1: 0.0, 2: 0.0, 3: 0.2}
    with virtual_time() as clock:

        async def source() -> AsyncIterator[CartInput | InvalidInput]:
            for line, at in arrivals.items():
                await anyio.sleep_until(at)
                yield normalize({"hs_cart_name": f"cart {line}"}, line)
            await anyio.sleep_until(2.0)  # the source stays open: only the linger clock sends

        sender = _Departures()
        async with anyio.create_task_group() as group:
            group.start_soon(
                lambda: run_pipeline(
                    source(),
                    sender=cast(Sender, sender),
                    collector=Collector(),
                    concurrency=InFlightLimit(4, RateBudget()),
                    chunker=Chunker(batch_size=2, run_id="r"),
                    linger_s=LINGER_S,
                )
            )
            await clock.run_until(1.0, STEP_S)
            group.cancel_scope.cancel()
    assert [lines for _, lines in sender.left] == [[1, 2], [3]]
    (full, _), (last, _) = sender.left
    assert full < STEP_S
    assert 0.2 + LINGER_S <= last <= 0.2 + LINGER_S + 5 * STEP_S


async def test_a_second_run_of_a_loader_checks_its_records_against_the_schema_still_fresh() -> None:
    not_a_number = {"hs_cart_name": "typo", "hs_total_price": "ten"}
    async with Simulator(seed=64) as sim:
        config = LoaderConfig(base_url=sim.url, schema_max_age_s=600, linger_s=0)
        async with CartLoader("sim-token", config=config) as loader:
            first = await loader.create([{"hs_cart_name": "one"}, not_a_number])
            second = await loader.create([{"hs_cart_name": "two"}, not_a_number])
        received = sim.stats().inputs_received
    # Refused here both times (never sent), though the second run read no schema of its own.
    assert (first.created, first.invalid) == (second.created, second.invalid) == (1, 1)
    assert received == 2


def by_email(email: str) -> dict[str, Any]:
    return {"to": {"objectType": "contacts", "idProperty": "email", "id": email}}


async def test_batches_opened_by_resolved_and_plain_records_each_linger_from_their_own_first_record() -> None:
    linger = 0.3
    known = by_email("customer1@example.com")

    async def lone(loader: CartLoader, record: dict[str, Any]) -> float:
        await anyio.sleep(0.1)  # a while after the clock started for the batch that left full
        started = time.monotonic()
        outcome = await loader.submit(record)
        assert outcome.status == "created"
        return time.monotonic() - started

    async def pair(loader: CartLoader, *records: dict[str, Any]) -> None:
        async with anyio.create_task_group() as group:
            for record in records:
                group.start_soon(loader.submit, record)

    async with (
        Simulator(contacts=3, seed=65) as sim,
        CartLoader("sim-token", base_url=sim.url, rate=FAST, linger=linger, batch_size=2) as loader,
    ):
        # Resolved records fill a batch (it leaves at once), then a resolved record (its target known by now)
        # opens the next: it waits its own linger, not what is left of the first record's.
        await pair(loader, cart("r1", known), cart("r2", by_email("customer2@example.com")))
        resolved = await lone(loader, cart("r3", known))
        # Plain records fill a batch, resolved ones the next (both leave at once), then a plain record opens one.
        await pair(loader, cart("p1"), cart("p2"))
        await pair(loader, cart("r4", known), cart("r5", known))
        plain = await lone(loader, cart("p3"))
    assert resolved >= linger * 0.9, resolved
    assert plain >= linger * 0.9, plain


async def test_batches_sent_one_after_another_keep_two_workers() -> None:
    # Each record is read only once the one before was answered: one worker delivers, a second waits for the next
    # batch; no more are hired however many batches go by (the count of busy workers comes back down each time).
    workers: list[int] = []
    answered = anyio.Event()

    def count(_: object) -> None:
        nonlocal answered
        workers.append(sum("_Crew._work" in (task.name or "") for task in anyio.get_running_tasks()))
        answered.set()

    async def records() -> AsyncIterator[dict[str, str]]:
        nonlocal answered
        for i in range(6):
            answered = anyio.Event()
            yield {"hs_cart_name": f"cart {i}"}
            await answered.wait()

    async with Simulator(seed=66) as sim:
        summary = await bulk_create(
            records(),
            token="sim-token",
            base_url=sim.url,
            concurrency=8,
            batch_size=1,
            preflight=False,
            on_outcome=count,
        )
    assert summary.created == 6
    assert max(workers) == 2, workers
