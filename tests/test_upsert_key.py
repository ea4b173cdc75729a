"""Upsert mode keyed on a property other than ``hs_external_cart_id``: results are matched by the upsert key.

HubSpot's upsert answer echoes the object's properties after the update, so a property the input left out
comes back with the value the object already held. Here each record of the second load leaves out
``hs_external_cart_id`` while another record of the same batch sends the value its object holds: matching
that keyed on ``hs_external_cart_id`` (create mode's key) instead of the upsert key would give that record
the other one's id."""

from __future__ import annotations

from typing import Any

import pytest

from cartloader.api.loader import bulk_create
from cartloader.models import Outcome
from cartloader.simulator import Simulator

pytestmark = pytest.mark.anyio

PAIRS = 40


async def test_upsert_results_are_matched_by_the_upsert_key_not_the_external_id() -> None:
    # Trace ids never echoed, so matching must go by the key (as HubSpot sometimes answers).
    async with Simulator(properties=("order_ref:string:unique",), echo_trace_ids="never", seed=4) as sim:
        common: dict[str, Any] = {"token": "sim-token", "base_url": sim.url, "upsert_by": "order_ref", "rate": "100/1s"}
        first = [{"order_ref": f"old-{n}", "hs_external_cart_id": f"X-{n}", "hs_cart_name": "a"} for n in range(PAIRS)]
        await bulk_create(first, **common)
        # In one batch: the old objects again without their external id, and new ones that take it over.
        second: list[dict[str, Any]] = []
        for n in range(PAIRS):
            second.append({"order_ref": f"old-{n}", "hs_cart_name": f"kept {n}"})
            second.append({"order_ref": f"new-{n}", "hs_external_cart_id": f"X-{n}", "hs_cart_name": f"new {n}"})
        outcomes: list[Outcome] = []
        summary = await bulk_create(second, on_outcome=outcomes.append, batch_size=100, **common)
        id_by_ref = {obj.properties["order_ref"]: obj.id for obj in sim.objects.values()}
    assert summary.updated == PAIRS and summary.created == PAIRS and summary.unmatched == 0
    for outcome in outcomes:
        ref = second[outcome.line - 1]["order_ref"]
        assert outcome.status == ("updated" if ref.startswith("old-") else "created"), outcome
        assert outcome.id == id_by_ref[ref], outcome
