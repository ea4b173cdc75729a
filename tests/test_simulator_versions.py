"""API versions: the legacy v3 path and the date-versioned ones, and 2026-09's partial failures inside a 2xx."""

from __future__ import annotations

import uuid

import pytest

from tests.test_simulator_support import cart, running

pytestmark = pytest.mark.anyio

BAD = {"properties": {"hs_tax": "x"}, "objectWriteTraceId": "bad"}
UPSERT_OK = {"id": "k1", "idProperty": "hs_external_cart_id", "properties": {}, "objectWriteTraceId": "ok"}
UPSERT_BAD = {"id": "k2", "idProperty": "hs_external_cart_id", "properties": {"hs_tax": "x"}, "objectWriteTraceId": "b"}


@pytest.mark.parametrize(
    ("prefix", "partial"), [("/crm/v3/objects", 207), ("/crm/objects/2026-03", 207), ("/crm/objects/2026-09", 201)]
)
async def test_create_partial_failure_status_per_version(prefix: str, partial: int) -> None:
    async with running() as client:
        ok = await client.request("POST", f"{prefix}/carts/batch/create", {"inputs": [cart(1)]})
        mixed = await client.request("POST", f"{prefix}/carts/batch/create", {"inputs": [cart(2), BAD]})
        assert len(client.sim.objects) == 2
    assert ok.status == 201
    assert "errors" not in ok.body
    assert mixed.status == partial
    assert mixed.body["numErrors"] == 1
    assert mixed.body["errors"][0]["context"]["objectWriteTraceId"] == ["bad"]
    assert len(mixed.body["results"]) == 1


@pytest.mark.parametrize(("prefix", "partial"), [("/crm/v3/objects", 207), ("/crm/objects/2026-09", 200)])
async def test_upsert_partial_failure_status_per_version(prefix: str, partial: int) -> None:
    async with running(unique=("hs_external_cart_id",)) as client:
        answer = await client.request("POST", f"{prefix}/0-142/batch/upsert", {"inputs": [UPSERT_OK, UPSERT_BAD]})
    assert answer.status == partial
    assert answer.body["errors"][0]["context"]["objectWriteTraceId"] == ["b"]
    assert answer.body["results"][0]["new"] is True


async def test_whole_batch_failures_stay_4xx_under_2026_09() -> None:
    async with running() as client:
        answer = await client.request(
            "POST", "/crm/objects/2026-09/carts/batch/create", {"inputs": [{"properties": {"hs_tax": "x"}}]}
        )
    assert (answer.status, answer.body["category"]) == (400, "VALIDATION_ERROR")


@pytest.mark.parametrize(
    "path",
    [
        "/crm/objects/2025-09/carts/batch/create",
        "/crm/v2/objects/carts/batch/create",
        "/anything/carts/batch/create",
        "/crm/objects/2026-09/carts/batch/merge",
    ],
)
async def test_unserved_versions_and_paths_get_404(path: str) -> None:
    async with running() as client:
        answer = await client.request("POST", path, {"inputs": [cart(1)]})
        assert not client.sim.objects
    assert answer.status == 404


async def test_get_by_id_is_served_on_every_version() -> None:
    async with running() as client:
        created = (await client.create([cart(1)])).body["results"][0]["id"]
        answers = [
            await client.request("GET", f"{p}/carts/{created}")
            for p in ("/crm/v3/objects", "/crm/objects/2026-03", "/crm/objects/2026-09")
        ]
    assert [a.status for a in answers] == [200, 200, 200]


async def test_every_answer_carries_a_correlation_id_matching_the_error_body() -> None:
    async with running(faults_at={2: "post_502"}) as client:
        created = await client.create([cart(1)])
        gateway = await client.create([cart(2)])
        refused = await client.create([cart(3)], token="nobody")
        unknown = await client.request("GET", "/nowhere")
    for answer in (created, gateway, refused, unknown):
        uuid.UUID(answer.headers["X-HubSpot-Correlation-Id"])
    assert gateway.status == 502
    assert gateway.body is None
    assert refused.headers["X-HubSpot-Correlation-Id"] == refused.body["correlationId"]
    assert unknown.headers["X-HubSpot-Correlation-Id"] == unknown.body["correlationId"]
