"""The official ``hubspot-api-client`` parses every answer shape the simulator gives.

Answers on the client's own (v3/v4) paths go through the client over HTTP; 2026-09 bodies, whose paths the
client does not know, are fetched over HTTP and handed to the client's deserializer with the v3 model that has
the same fields."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import anyio
import pytest
from hubspot import HubSpot
from hubspot.crm.associations.v4 import BatchInputPublicAssociationMultiPost
from hubspot.crm.objects import (
    ApiException,
    BatchInputSimplePublicObjectBatchInputForCreate,
    BatchInputSimplePublicObjectBatchInputUpsert,
    SimplePublicObjectBatchInputForCreate,
    SimplePublicObjectBatchInputUpsert,
)

from tests.test_simulator_support import Client, cart, running

pytestmark = pytest.mark.anyio

UNIQUE = ("hs_external_cart_id",)


def _create(url: str, inputs: list[dict[str, Any]]) -> Any:
    # Each access to ``batch_api`` builds a new API object, so keep the one whose host is changed.
    batch_api = HubSpot(access_token="sim-token").crm.objects.batch_api
    batch_api.api_client.configuration.host = url
    batch = BatchInputSimplePublicObjectBatchInputForCreate(
        inputs=[SimplePublicObjectBatchInputForCreate(**item) for item in inputs]
    )
    return batch_api.create("carts", batch)


def _upsert(url: str, inputs: list[dict[str, Any]]) -> Any:
    batch_api = HubSpot(access_token="sim-token").crm.objects.batch_api
    batch_api.api_client.configuration.host = url
    batch = BatchInputSimplePublicObjectBatchInputUpsert(
        inputs=[SimplePublicObjectBatchInputUpsert(**i) for i in inputs]
    )
    return batch_api.upsert("carts", batch)


def _properties(url: str) -> Any:
    core_api = HubSpot(access_token="sim-token").crm.properties.core_api
    core_api.api_client.configuration.host = url
    return core_api.get_all("carts"), core_api.get_by_name("carts", "hs_currency_code")


def _associate(url: str, inputs: list[dict[str, Any]]) -> Any:
    batch_api = HubSpot(access_token="sim-token").crm.associations.v4.batch_api
    batch_api.api_client.configuration.host = url
    return batch_api.create("carts", "contacts", BatchInputPublicAssociationMultiPost(inputs=inputs))


def _refusal(url: str, inputs: list[dict[str, Any]]) -> ApiException:
    with pytest.raises(ApiException) as caught:
        _create(url, inputs)
    return caught.value


def _deserialize(text: str, model: str) -> Any:
    api_client = HubSpot(access_token="sim-token").crm.objects.batch_api.api_client
    return api_client.deserialize(SimpleNamespace(data=text), model)


def good(i: int) -> dict[str, Any]:
    return {"properties": {"hs_external_cart_id": f"e{i}"}, "object_write_trace_id": f"t{i}"}


BAD = {"properties": {"hs_tax": "x"}, "object_write_trace_id": "bad"}


async def test_official_client_parses_201_and_207() -> None:
    async with running(echo_trace_ids="always") as client:
        created = await anyio.to_thread.run_sync(_create, client.sim.url, [good(i) for i in range(3)])
        partial = await anyio.to_thread.run_sync(_create, client.sim.url, [good(9), BAD])
    assert created.status == "COMPLETE"
    assert sorted(r.properties["hs_external_cart_id"] for r in created.results) == ["e0", "e1", "e2"]
    assert {r.object_write_trace_id for r in created.results} == {"t0", "t1", "t2"}
    assert partial.num_errors == 1
    assert partial.errors[0].context["objectWriteTraceId"] == ["bad"]
    assert partial.errors[0].category == "VALIDATION_ERROR"
    assert [r.properties["hs_external_cart_id"] for r in partial.results] == ["e9"]


async def test_official_client_parses_upsert_200_and_207() -> None:
    key = {"id": "k1", "id_property": "hs_external_cart_id", "properties": {}, "object_write_trace_id": "a"}
    bad = {
        "id": "k2",
        "id_property": "hs_external_cart_id",
        "properties": {"hs_tax": "x"},
        "object_write_trace_id": "b",
    }
    async with running(unique=UNIQUE) as client:
        first = await anyio.to_thread.run_sync(_upsert, client.sim.url, [key])
        partial = await anyio.to_thread.run_sync(_upsert, client.sim.url, [key, bad])
    assert first.results[0].new is True
    assert partial.results[0].new is False
    assert partial.errors[0].context["objectWriteTraceId"] == ["b"]


@pytest.mark.parametrize(
    "fault", ["missing_result", "stray_result", "mixed_echo", "status_not_complete", "errors_untraced"]
)
async def test_official_client_parses_irregular_2xx_answers(fault: str) -> None:
    async with running(faults_at={1: fault}, echo_trace_ids="always") as client:
        answer = await anyio.to_thread.run_sync(_create, client.sim.url, [good(1), good(2), BAD])
    assert answer.status in ("COMPLETE", "PENDING")
    assert answer.results is not None


async def test_official_client_reads_whole_batch_refusals_as_api_exceptions() -> None:
    async with running(unique=UNIQUE, faults_at={3: "batch_error_traced"}) as client:
        await anyio.to_thread.run_sync(_create, client.sim.url, [good(1)])
        conflict = await anyio.to_thread.run_sync(_refusal, client.sim.url, [good(1)])
        traced = await anyio.to_thread.run_sync(_refusal, client.sim.url, [good(2), BAD])
    assert conflict.status == 409
    assert "Existing ID" in conflict.body
    assert traced.status == 400


async def test_official_client_parses_2026_09_bodies_with_inline_errors() -> None:
    key = {"id": "k1", "idProperty": "hs_external_cart_id", "properties": {"hs_tax": "x"}, "objectWriteTraceId": "u"}
    async with running(unique=UNIQUE) as client:
        create = await _post(
            client, "/crm/objects/2026-09/carts/batch/create", [cart(1), {**cart(2), "properties": {"hs_tax": "x"}}]
        )
        upsert = await _post(client, "/crm/objects/2026-09/carts/batch/upsert", [key])
    created = _deserialize(create, "BatchResponseSimplePublicObjectWithErrors")
    upserted = _deserialize(upsert, "BatchResponseSimplePublicUpsertObjectWithErrors")
    assert (created.num_errors, len(created.results)) == (1, 1)
    assert created.errors[0].context["objectWriteTraceId"] == ["t2"]
    assert (upserted.num_errors, upserted.results) == (1, [])


async def _post(client: Client, path: str, inputs: list[dict[str, Any]]) -> str:
    answer = await client.request("POST", path, {"inputs": inputs})
    assert answer.status in (200, 201)
    return answer.text


async def test_official_client_parses_the_properties_api() -> None:
    async with running(properties=("color:enumeration:options=red|blue",)) as client:
        listed, one = await anyio.to_thread.run_sync(_properties, client.sim.url)
    by_name = {p.name: p for p in listed.results}
    assert by_name["hs_total_price"].type == "number"
    assert [o.value for o in by_name["color"].options] == ["red", "blue"]
    assert by_name["hs_object_id"].modification_metadata.read_only_value is True
    assert one.type == "enumeration"


async def test_official_client_parses_v4_batch_associations_201_and_207() -> None:
    types = [{"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": 586}]
    async with running() as client:
        cart_id = (await client.create([cart(1)])).body["results"][0]["id"]
        ok = {"from": {"id": cart_id}, "to": {"id": "123456789"}, "types": types}
        missing = {"from": {"id": cart_id}, "to": {"id": "1"}, "types": types}
        created = await anyio.to_thread.run_sync(_associate, client.sim.url, [ok])
        partial = await anyio.to_thread.run_sync(_associate, client.sim.url, [ok, missing])
    assert created.results[0].to_object_id == "123456789"
    assert partial.num_errors == 1
