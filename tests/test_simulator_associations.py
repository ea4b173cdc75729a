"""Associations: target ids as real ids look, upsert ignoring them, and the v4 batch associations endpoint."""

from __future__ import annotations

from typing import Any

import pytest

from cartloader.errors import ConfigError
from cartloader.simulator import IdRanges, Simulator
from tests.test_simulator_support import cart, running

pytestmark = pytest.mark.anyio

CONTACT = {"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": 586}
V4 = "/crm/v4/associations/carts/contacts/batch/create"
V2026 = "/crm/associations/2026-09/carts/contacts/batch/create"


def linked(i: int, target: str) -> dict[str, Any]:
    return {**cart(i), "associations": [{"to": {"id": target}, "types": [CONTACT]}]}


@pytest.mark.parametrize(
    ("target", "valid"), [("123456789", True), ("999999999999", True), ("12345678", False), ("1000000000000", False)]
)
async def test_default_association_ids_look_like_real_ids(target: str, valid: bool) -> None:
    async with running() as client:
        answer = await client.create([linked(1, target)])
        links = dict(client.sim.associations)
    if valid:
        assert answer.status == 201
        assert links[answer.body["results"][0]["id"]] == [{"toObjectId": target, **_type()}]
    else:
        assert answer.status == 207
        assert answer.body["errors"][0]["context"]["INVALID_OBJECT_IDS"] == [target]


def _type() -> dict[str, Any]:
    return {"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": 586}


def test_association_id_ranges_parse_and_refuse_nonsense() -> None:
    ranges = IdRanges.parse("1-10,500")
    assert (5 in ranges, 500 in ranges, 11 in ranges) == (True, True, False)
    with pytest.raises(ConfigError):
        Simulator(association_ids="ten-twenty")
    with pytest.raises(ConfigError):
        IdRanges.parse("9-1")


async def test_upsert_ignores_associations_as_hubspots_parser_does() -> None:
    upsert = {
        "id": "k",
        "idProperty": "hs_external_cart_id",
        "properties": {},
        "associations": [{"to": {"id": "1"}, "types": [CONTACT]}],
    }
    async with running(unique=("hs_external_cart_id",)) as client:
        answer = await client.upsert([upsert])
        links = dict(client.sim.associations)
    assert answer.status == 200
    assert links == {}


@pytest.mark.parametrize(("path", "ok", "partial"), [(V4, 201, 207), (V2026, 200, 200)])
async def test_v4_batch_create_attaches_existing_carts(path: str, ok: int, partial: int) -> None:
    async with running() as client:
        cart_id = (await client.create([cart(1)])).body["results"][0]["id"]
        good = {"from": {"id": cart_id}, "to": {"id": "123456789"}, "types": [CONTACT]}
        answer = await client.request("POST", path, {"inputs": [good]})
        unknown_cart = {"from": {"id": "999"}, "to": {"id": "123456789"}, "types": [CONTACT]}
        missing_target = {"from": {"id": cart_id}, "to": {"id": "5"}, "types": [CONTACT]}
        wrong_type = {
            "from": {"id": cart_id},
            "to": {"id": "123456789"},
            "types": [{**CONTACT, "associationTypeId": 590}],
        }
        mixed = await client.request("POST", path, {"inputs": [good, unknown_cart, missing_target, wrong_type]})
        links = dict(client.sim.associations)
    assert answer.status == ok
    assert answer.body["results"] == [
        {
            "fromObjectTypeId": "0-142",
            "fromObjectId": cart_id,
            "toObjectTypeId": "0-1",
            "toObjectId": "123456789",
            "labels": [],
        }
    ]
    assert mixed.status == partial
    assert mixed.body["numErrors"] == 3
    assert [sorted(e["context"]) for e in mixed.body["errors"]] == [
        ["fromObjectId"],
        ["toObjectId"],
        ["associationTypes"],
    ]
    assert links == {cart_id: [{"toObjectId": "123456789", **_type()}]}


async def test_v4_batch_create_refuses_unknown_object_types_and_malformed_bodies() -> None:
    async with running() as client:
        unknown = await client.request("POST", "/crm/v4/associations/carts/wagons/batch/create", {"inputs": []})
        malformed = await client.request("POST", V4, {"nope": []})
        no_scope = await client.request("POST", V4, {"inputs": []}, token="nobody")
    assert unknown.status == 404
    assert (malformed.status, malformed.body["category"]) == (400, "VALIDATION_ERROR")
    assert no_scope.status == 401
