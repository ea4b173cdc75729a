"""The simulator's search API and batch archive, over loopback HTTP on each path family (docs/simulator.md,
"Search and batch archive")."""

from __future__ import annotations

from typing import Any

import anyio
import pytest

from cartloader.simulator.search import SearchRefused, search
from cartloader.simulator.state import StoredObject
from tests.test_simulator_support import cart, running

pytestmark = pytest.mark.anyio

#: The default token with the read scope (which HubSpot's search needs).
READER = {"sim-token": frozenset({"crm.objects.carts.write", "crm.objects.carts.read"})}
PATHS = ("/crm/v3/objects/carts", "/crm/objects/2026-03/carts", "/crm/objects/2026-09/carts")


def _in(values: list[str], prop: str = "hs_external_cart_id", **extra: Any) -> dict[str, Any]:
    return {"filterGroups": [{"filters": [{"propertyName": prop, "operator": "IN", "values": values}]}], **extra}


@pytest.mark.parametrize("path", PATHS)
async def test_search_finds_by_in_and_eq_ignoring_case_with_the_properties_asked(path: str) -> None:
    async with running(tokens=READER, search_rate=None) as client:
        await client.create([*(cart(i) for i in range(1, 5)), cart(5, hs_external_cart_id="Ext-Mixed")])
        found = await client.request(
            "POST", path + "/search", _in(["EXT-2", "ext-mixed", "nope"], properties=["hs_external_cart_id"])
        )
        eq = await client.request(
            "POST",
            path + "/search",
            {"filterGroups": [{"filters": [{"propertyName": "hs_cart_name", "operator": "EQ", "value": "cart 3"}]}]},
        )
    assert found.status == 200
    assert found.body["total"] == 2
    assert sorted(r["properties"]["hs_external_cart_id"] for r in found.body["results"]) == ["Ext-Mixed", "ext-2"]
    assert all(
        r["createdAt"].endswith("Z") and r["properties"]["hs_object_id"] == r["id"] for r in found.body["results"]
    )
    assert [r["properties"]["hs_object_id"] for r in eq.body["results"]] == [r["id"] for r in eq.body["results"]]
    assert eq.body["total"] == 1
    assert "hs_cart_name" not in eq.body["results"][0]["properties"]  # not asked for


async def test_search_pages_with_after_and_refuses_a_limit_over_200() -> None:
    async with running(tokens=READER, search_rate=None) as client:
        await client.create([cart(i) for i in range(1, 26)])
        ids: list[str] = []
        after: str | None = None
        pages = 0
        while True:
            body: dict[str, Any] = {"limit": 10}
            if after is not None:
                body["after"] = after
            answer = await client.request("POST", PATHS[2] + "/search", body)
            pages += 1
            ids += [r["id"] for r in answer.body["results"]]
            after = answer.body.get("paging", {}).get("next", {}).get("after")
            if after is None:
                break
        too_many = await client.request("POST", PATHS[0] + "/search", {"limit": 201})
    assert pages == 3
    assert len(ids) == len(set(ids)) == 25
    assert too_many.status == 400


def _stored(i: int) -> StoredObject:
    return StoredObject(str(i), {"hs_external_cart_id": "same"}, None, 1, "2020-01-01T00:00:00.000Z", "x")


def test_a_query_returns_at_most_10000_results() -> None:
    objects = [_stored(i) for i in range(1, 10_102)]
    last = search(objects, {**_in(["same"]), "limit": 200, "after": "9800"})
    assert last["total"] == 10_101
    assert len(last["results"]) == 200
    assert "paging" not in last
    with pytest.raises(SearchRefused):
        search(objects, {**_in(["same"]), "limit": 200, "after": "9900"})


def test_an_in_filter_over_100_values_and_a_26th_filter_are_refused() -> None:
    with pytest.raises(SearchRefused):
        search([], _in([str(i) for i in range(101)]))
    flt = {"propertyName": "a", "operator": "EQ", "value": "1"}
    with pytest.raises(SearchRefused):
        search([], {"filterGroups": [{"filters": [flt] * 13}, {"filters": [flt] * 13}]})
    search([], _in([str(i) for i in range(100)]))


async def test_a_new_object_is_found_only_after_the_index_delay() -> None:
    async with running(tokens=READER, search_rate=None, search_index_delay_ms=400) as client:
        await client.create([cart(1)])
        early = await client.request("POST", PATHS[1] + "/search", _in(["ext-1"]))
        await anyio.sleep(0.5)
        late = await client.request("POST", PATHS[1] + "/search", _in(["ext-1"]))
    assert early.body["total"] == 0
    assert late.body["total"] == 1


async def test_search_has_its_own_per_second_limit_with_no_rate_limit_headers_outside_the_window() -> None:
    async with running(tokens=READER, search_rate=3, rate="4/10s") as client:
        answers = [await client.request("POST", PATHS[2] + "/search", {}) for _ in range(4)]
        created = await client.create([cart(1)])  # the ten-secondly window is untouched by searches
        await anyio.sleep(1.1)
        again = await client.request("POST", PATHS[2] + "/search", {})
    assert [a.status for a in answers] == [200, 200, 200, 429]
    assert answers[3].body["errorType"] == "RATE_LIMIT"
    assert not any(h.lower().startswith("x-hubspot-ratelimit") for a in answers for h in a.headers)
    assert created.headers["X-HubSpot-RateLimit-Remaining"] == "3"
    assert again.status == 200


async def test_search_needs_the_read_scope() -> None:
    async with running(tokens=READER, search_rate=None) as client:
        client.sim.add_token("writer", scopes=frozenset({"crm.objects.carts.write"}))
        refused = await client.request("POST", PATHS[0] + "/search", {}, token="writer")
    assert (refused.status, refused.body["category"]) == (403, "MISSING_SCOPES")


@pytest.mark.parametrize("path", PATHS)
async def test_batch_archive_answers_204_and_the_objects_are_gone(path: str) -> None:
    async with running(tokens=READER, search_rate=None) as client:
        await client.create([cart(i) for i in range(1, 4)])
        ids = sorted(client.sim.objects)
        answer = await client.request("POST", path + "/batch/archive", {"inputs": [{"id": ids[0]}, {"id": "999"}]})
        found = await client.request("POST", path + "/search", _in(["ext-1", "ext-2", "ext-3"]))
        left = sorted(client.sim.objects)
    assert answer.status == 204
    assert answer.text == ""
    assert left == ids[1:]
    assert sorted(r["id"] for r in found.body["results"]) == ids[1:]
