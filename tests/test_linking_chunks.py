"""Associations of upserted records written in several chunks (issue 25), against the simulator over loopback
HTTP: when one upsert batch carries more links of a type than one associations request holds (the loader's batch
size), every chunk is written, the last short one too; a record with one link per type (one entry per request) is
linked as well. Every link ends up in the simulator, in exactly as many requests as the chunks need."""

from __future__ import annotations

import math
from typing import Any

import pytest

from cartloader.models import Outcome
from cartloader.simulator import Simulator
from tests.test_upsert_associations import EXTERNAL_ID, expected_links, held_links, link, load

pytestmark = pytest.mark.anyio

BATCH = 3


def cart(n: int, links: list[dict[str, Any]]) -> dict[str, Any]:
    return {"properties": {"hs_cart_name": f"cart {n}", EXTERNAL_ID: f"ext-{n}"}, "associations": links}


def one_per_type(n: int) -> list[dict[str, Any]]:
    return [link(100_000_000 + n, "contacts"), link(200_000_000 + n, "line_items"), link(300_000_000 + n, "orders")]


async def test_associations_of_one_upsert_batch_are_written_in_every_chunk_of_the_batch_size() -> None:
    records = [
        # First batch (3 records): 8 + 1 + 1 = 10 contacts (chunks of 3, 3, 3, 1), 2 line items, 2 orders.
        cart(1, [link(110_000_000 + k, "contacts") for k in range(8)]),
        cart(2, one_per_type(2)),
        cart(3, one_per_type(3)),
        # Second batch: a lone record with one link per type, one entry in each request.
        cart(4, one_per_type(4)),
    ]
    contacts_chunks = math.ceil(10 / BATCH)
    async with Simulator(unique=(EXTERNAL_ID,), seed=31) as sim:
        outcomes, summary = await load(sim, records, batch_size=BATCH, preflight=False)
        assert summary.created == 4 and summary.failed == 0
        for line, record in enumerate(records, start=1):
            outcome: Outcome = outcomes[line]
            assert outcome.status == "created" and outcome.error is None, outcome
            assert outcome.id is not None
            assert held_links(sim, outcome.id) == expected_links(record), line
        # 2 upserts; the first batch's links in 4 + 1 + 1 requests, the lone record's in 3 (one per type).
        assert sim.stats().requests == 2 + (contacts_chunks + 1 + 1) + 3


@pytest.mark.parametrize("records", [1, 2, BATCH])
async def test_records_with_one_link_per_type_are_linked_whatever_the_batch_holds(records: int) -> None:
    batch = [cart(n, one_per_type(n)) for n in range(1, records + 1)]
    async with Simulator(unique=(EXTERNAL_ID,), seed=32) as sim:
        outcomes, summary = await load(sim, batch, batch_size=BATCH, preflight=False)
        assert summary.created == records
        for line, record in enumerate(batch, start=1):
            object_id = outcomes[line].id
            assert object_id is not None
            assert held_links(sim, object_id) == expected_links(record)
        assert sim.stats().requests == 1 + 3
