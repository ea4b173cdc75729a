"""Batch read of carts by id and by a unique property (``idProperty``) on every API version, and the read scope."""

from __future__ import annotations

from typing import Any

import pytest

from cartloader.simulator.config import DEFAULT_SCOPES
from tests.test_simulator_support import Client, cart, running

pytestmark = pytest.mark.anyio

READS = {
    "v3": "/crm/v3/objects/carts/batch/read",
    "2026-03": "/crm/objects/2026-03/carts/batch/read",
    "2026-09": "/crm/objects/2026-09/carts/batch/read",
}


async def _created(client: Client, count: int, **props: str) -> list[str]:
    """Create ``count`` carts (``ext-0``...); their ids in that order."""
    answer = await client.create([cart(i, True, **props) for i in range(count)])
    assert answer.status == 201
    by_ext = {r["properties"]["hs_external_cart_id"]: r["id"] for r in answer.body["results"]}
    return [by_ext[f"ext-{i}"] for i in range(count)]


def _read(ids: list[str], properties: list[str] | None = None, **extra: Any) -> dict[str, Any]:
    return {"inputs": [{"id": i} for i in ids], "properties": properties or [], "propertiesWithHistory": [], **extra}


@pytest.mark.parametrize("version", list(READS))
async def test_carts_are_read_by_id_with_the_requested_properties(version: str) -> None:
    async with running() as client:
        ids = await _created(client, 3, hs_tags="x")
        answer = await client.request("POST", READS[version], _read(ids[:2], ["hs_cart_name", "hs_tags"]))
    assert answer.status == 200, answer.body
    assert answer.body["status"] == "COMPLETE"
    assert "errors" not in answer.body
    by_id = {r["id"]: r for r in answer.body["results"]}
    assert set(by_id) == set(ids[:2])
    first = by_id[ids[0]]
    assert first["properties"]["hs_cart_name"] == "cart 0"
    assert first["properties"]["hs_tags"] == "x"
    assert first["properties"]["hs_object_id"] == ids[0]
    assert {"hs_createdate", "hs_lastmodifieddate"} <= set(first["properties"])
    assert "hs_external_cart_id" not in first["properties"]  # not requested
    assert first["archived"] is False
    assert first["createdAt"] and first["updatedAt"]


@pytest.mark.parametrize(("version", "status"), [("v3", 207), ("2026-03", 207), ("2026-09", 200)])
async def test_ids_that_name_no_cart_come_back_as_object_not_found(version: str, status: int) -> None:
    async with running() as client:
        ids = await _created(client, 1)
        answer = await client.request("POST", READS[version], _read([ids[0], "999", "998"]))
    assert answer.status == status, answer.body
    assert [r["id"] for r in answer.body["results"]] == ids
    assert answer.body["numErrors"] == 1
    (error,) = answer.body["errors"]
    assert error["category"] == "OBJECT_NOT_FOUND"
    assert error["status"] == "error"
    assert error["context"] == {"ids": ["999", "998"]}


async def test_a_read_with_no_cart_found_has_no_results_and_the_error() -> None:
    async with running() as client:
        answer = await client.request("POST", READS["v3"], _read(["1"]))
    assert answer.status == 207
    assert answer.body["results"] == []
    assert answer.body["errors"][0]["context"] == {"ids": ["1"]}


@pytest.mark.parametrize("version", list(READS))
async def test_carts_are_read_by_a_unique_property_which_each_result_carries(version: str) -> None:
    async with running(unique=("hs_external_cart_id",)) as client:
        ids = await _created(client, 2)
        body = _read(["ext-1", " ext-0 ", "ext-9"], ["hs_cart_name"], idProperty="hs_external_cart_id")
        answer = await client.request("POST", READS[version], body)
    assert answer.status == (200 if version == "2026-09" else 207), answer.body
    found = {r["properties"]["hs_external_cart_id"]: r["id"] for r in answer.body["results"]}
    assert found == {"ext-0": ids[0], "ext-1": ids[1]}
    assert answer.body["errors"][0]["context"] == {"ids": ["ext-9"]}


@pytest.mark.parametrize("id_property", ["hs_cart_name", "nope"])
async def test_reading_by_a_property_that_is_not_unique_is_refused_whole(id_property: str) -> None:
    async with running() as client:
        await _created(client, 1)
        answer = await client.request("POST", READS["v3"], _read(["cart 0"], idProperty=id_property))
    assert answer.status == 400
    assert answer.body["category"] == "VALIDATION_ERROR"
    assert id_property in answer.body["message"]


async def test_a_cart_named_twice_comes_back_once() -> None:
    async with running() as client:
        ids = await _created(client, 1)
        answer = await client.request("POST", READS["v3"], _read([ids[0], ids[0]]))
    assert answer.status == 200
    assert [r["id"] for r in answer.body["results"]] == ids


async def test_a_property_without_a_value_is_left_out_of_a_read() -> None:
    async with running() as client:
        ids = await _created(client, 1, hs_tags="")
        answer = await client.request("POST", READS["v3"], _read(ids, ["hs_tags", "hs_cart_name"]))
    assert answer.body["results"][0]["properties"]["hs_cart_name"] == "cart 0"
    assert "hs_tags" not in answer.body["results"][0]["properties"]


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"inputs": [{"id": str(i)} for i in range(101)], "properties": []}, "limit"),
        ({"properties": []}, "inputs"),
        ({"inputs": [{}], "properties": []}, "id"),
        ({"inputs": [{"id": "1"}], "properties": "hs_cart_name"}, "properties"),
    ],
)
async def test_a_malformed_read_is_refused_whole(body: dict[str, Any], message: str) -> None:
    async with running() as client:
        answer = await client.request("POST", READS["v3"], body)
    assert answer.status == 400
    assert message in answer.body["message"]


async def test_a_read_of_100_inputs_is_served() -> None:
    async with running() as client:
        answer = await client.request("POST", READS["v3"], _read([str(i) for i in range(100)]))
    assert answer.status == 207
    assert len(answer.body["errors"][0]["context"]["ids"]) == 100


async def test_a_batch_read_needs_the_carts_read_scope() -> None:
    async with running(tokens={"w": frozenset({"crm.objects.carts.write"}), "r": {"crm.objects.carts.read"}}) as client:
        refused = await client.request("POST", READS["v3"], _read(["1"]), token="w")
        allowed = await client.request("POST", READS["v3"], _read(["1"]), token="r")
    assert refused.status == 403
    assert refused.body["errors"][0]["context"]["requiredGranularScopes"] == ["crm.objects.carts.read"]
    assert allowed.status == 207


async def test_the_default_token_reads_carts() -> None:
    async with running() as client:
        answer = await client.request("POST", READS["2026-09"], _read(["1"]))
    assert answer.status == 200


def test_the_default_token_has_the_scopes_the_contract_lists() -> None:
    assert (
        frozenset(
            {"crm.objects.carts.write", "crm.objects.carts.read", "crm.schemas.carts.read", "crm.objects.contacts.read"}
        )
        == DEFAULT_SCOPES
    )


async def test_a_read_of_another_object_type_is_404() -> None:
    async with running() as client:
        answer = await client.request("POST", "/crm/v3/objects/widgets/batch/read", _read(["1"]))
    assert answer.status == 404
