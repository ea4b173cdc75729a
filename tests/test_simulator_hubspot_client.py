"""The official ``hubspot-api-client`` parses the simulator's 201 and 207 answers."""

from __future__ import annotations

from typing import Any

import anyio
import pytest
from hubspot import HubSpot
from hubspot.crm.objects import BatchInputSimplePublicObjectBatchInputForCreate, SimplePublicObjectBatchInputForCreate

from tests.test_simulator_support import running

pytestmark = pytest.mark.anyio


def _create(url: str, inputs: list[dict[str, Any]]) -> Any:
    # Each access to ``batch_api`` builds a new API object, so keep the one whose host is changed.
    batch_api = HubSpot(access_token="sim-token").crm.objects.batch_api
    batch_api.api_client.configuration.host = url
    batch = BatchInputSimplePublicObjectBatchInputForCreate(
        inputs=[SimplePublicObjectBatchInputForCreate(**item) for item in inputs]
    )
    return batch_api.create("carts", batch)


async def test_official_client_parses_201_and_207() -> None:
    async with running(echo_trace_ids="always") as client:
        good = [{"properties": {"hs_external_cart_id": f"e{i}"}, "object_write_trace_id": f"t{i}"} for i in range(3)]
        created = await anyio.to_thread.run_sync(_create, client.sim.url, good)
        bad = {"properties": {"hs_tax": "x"}, "object_write_trace_id": "bad"}
        mixed = [{"properties": {"hs_external_cart_id": "e9"}, "object_write_trace_id": "ok"}, bad]
        partial = await anyio.to_thread.run_sync(_create, client.sim.url, mixed)
    assert created.status == "COMPLETE"
    assert sorted(r.properties["hs_external_cart_id"] for r in created.results) == ["e0", "e1", "e2"]
    assert {r.object_write_trace_id for r in created.results} == {"t0", "t1", "t2"}
    assert partial.num_errors == 1
    assert partial.errors[0].context["objectWriteTraceId"] == ["bad"]
    assert partial.errors[0].category == "VALIDATION_ERROR"
    assert [r.properties["hs_external_cart_id"] for r in partial.results] == ["e9"]
