"""Association types checked before sending (issue 26 part 4): the portal's labels, read through the rate budget
when a target type first appears (every documented cart pair for ``{"id"}`` items), refuse locally a type the portal
does not define (``ASSOCIATION_TYPE_UNKNOWN``, naming the types that exist) so that no request is spent on it; custom
labels count; a refused labels read warns once and leaves the types to HubSpot. The simulator's labels routes, on
both path families, over loopback HTTP."""

from __future__ import annotations

import logging
import math
from typing import Any

import aiohttp
import pytest

from cartloader.api.loader import bulk_create
from cartloader.models import Outcome
from cartloader.simulator import Simulator

pytestmark = pytest.mark.anyio

FAST = "1000/1s"
CREATE = "POST /crm/objects/2026-09/carts/batch/create"
PAIRS = ("contacts", "discounts", "line_items", "orders", "quotes", "tasks", "tickets")
LABELS = ("carts:contacts:USER_DEFINED:42:Buyer", "carts:contacts:INTEGRATOR_DEFINED:77:Payer")


def by_id(object_id: int, category: str, type_id: int) -> dict[str, Any]:
    return {"to": {"id": str(object_id)}, "types": [{"associationCategory": category, "associationTypeId": type_id}]}


def kind_of(line: int) -> tuple[str, int]:
    """The association type of cart ``line``: mostly HubSpot's 586, the portal's custom labels, and types the
    portal does not define (1347, which HubSpot documents nowhere, and 586 as a USER_DEFINED label: only the
    category differs from a type that exists)."""
    return [
        ("HUBSPOT_DEFINED", 586),
        ("HUBSPOT_DEFINED", 592),
        ("USER_DEFINED", 42),
        ("INTEGRATOR_DEFINED", 77),
        ("HUBSPOT_DEFINED", 1347),
        ("USER_DEFINED", 586),
    ][line % 6]


REFUSED = {("HUBSPOT_DEFINED", 1347), ("USER_DEFINED", 586)}


async def test_a_type_the_portal_does_not_define_is_refused_locally_and_no_request_is_spent_on_it() -> None:
    records = [
        {"properties": {"hs_cart_name": f"c{line}"}, "associations": [by_id(100_000_000 + line, *kind_of(line))]}
        for line in range(1, 601)
    ]
    outcomes: list[Outcome] = []
    async with Simulator(labels=LABELS, seed=1) as sim:
        summary = await bulk_create(records, token="sim-token", base_url=sim.url, rate=FAST, on_outcome=outcomes.append)
        stats = sim.stats()
        links = dict(sim.associations)
    refused = {line for line in range(1, 601) if kind_of(line) in REFUSED}
    assert summary.invalid == len(refused) == 200 and summary.created == 400 and summary.failed == 0
    for outcome in outcomes:
        if outcome.line in refused:
            assert outcome.status == "invalid" and outcome.error is not None, outcome
            assert outcome.error.category == "ASSOCIATION_TYPE_UNKNOWN"
            category, type_id = kind_of(outcome.line)
            assert f"{category}/{type_id}" in outcome.error.message
            for exists in ("HUBSPOT_DEFINED/586", "HUBSPOT_DEFINED/592", "USER_DEFINED/42", "INTEGRATOR_DEFINED/77"):
                assert exists in outcome.error.message  # the types that exist, named
            assert [d.value for d in outcome.error.details] == [f"{category}/{type_id}"]
        else:
            assert outcome.status == "created", outcome
            assert [link["associationTypeId"] for link in links[str(outcome.id)]] == [kind_of(outcome.line)[1]]
    # Each documented pair's labels read once; the refused records never reached HubSpot.
    for to_type in PAIRS:
        assert stats.by_endpoint[f"GET /crm/associations/2026-09/carts/{to_type}/labels"] == 1
    assert stats.inputs_received == 400 and stats.by_endpoint[CREATE] == math.ceil(400 / 100)
    assert summary.requests == stats.requests == 2 + len(PAIRS) + 4


@pytest.mark.parametrize(
    ("version", "labels_path"),
    [
        ("v3", "GET /crm/v4/associations/carts/contacts/labels"),
        ("2026-03", "GET /crm/associations/2026-03/carts/contacts/labels"),
    ],
)
async def test_a_natural_key_item_reads_only_its_own_pair_on_the_path_of_its_version(
    version: str, labels_path: str
) -> None:
    def cart(line: int) -> dict[str, Any]:
        to = {"objectType": "contacts", "idProperty": "email", "id": f"customer{line % 50 + 1}@example.com"}
        kind = [{"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": 1347}] if line % 4 == 0 else None
        return {"properties": {"hs_cart_name": f"c{line}"}, "associations": [{"to": to, "types": kind}]}

    records = [cart(line) for line in range(1, 301)]
    outcomes: list[Outcome] = []
    async with Simulator(contacts=50, seed=2) as sim:
        summary = await bulk_create(
            records, token="sim-token", base_url=sim.url, rate=FAST, api_version=version, on_outcome=outcomes.append
        )
        endpoints = sim.stats().by_endpoint
    assert (summary.created, summary.invalid) == (225, 75)
    invalid = [outcome for outcome in outcomes if outcome.status == "invalid"]
    assert {outcome.line % 4 for outcome in invalid} == {0}
    message = invalid[0].error.message if invalid[0].error else ""
    assert "HUBSPOT_DEFINED/1347" in message and "to contacts" in message and "HUBSPOT_DEFINED/586" in message
    assert [name for name in endpoints if name.endswith("/labels")] == [labels_path]
    assert endpoints[labels_path] == 1
    assert sum(count for name, count in endpoints.items() if name.endswith("/batch/create")) == 3  # 225 carts


async def test_a_refused_labels_read_warns_once_and_leaves_the_types_to_hubspot(
    caplog: pytest.LogCaptureFixture,
) -> None:
    records = [
        {"properties": {"hs_cart_name": f"c{line}"}, "associations": [by_id(100_000_000 + line, *kind_of(line))]}
        for line in range(1, 301)
    ]
    scopes = frozenset({"crm.objects.carts.write", "crm.schemas.carts.read"})  # no crm.objects.carts.read
    async with Simulator(labels=LABELS, tokens={"writer": scopes}, seed=3) as sim:
        with caplog.at_level(logging.WARNING, logger="cartloader"):
            summary = await bulk_create(records, token="writer", base_url=sim.url, rate=FAST)
        stats = sim.stats()
    warnings = [r.getMessage() for r in caplog.records if "association types" in r.getMessage()]
    assert len(warnings) == 1 and "403" in warnings[0] and "left to HubSpot" in warnings[0]
    assert summary.invalid == 0 and stats.inputs_received >= 300  # every record sent: HubSpot decided
    assert summary.failed == 50 and summary.created == 250  # HubSpot refuses HUBSPOT_DEFINED/1347 itself


async def test_without_the_preflight_no_labels_are_read() -> None:
    records = [{"properties": {"hs_cart_name": "c"}, "associations": [by_id(100_000_001, "HUBSPOT_DEFINED", 1347)]}]
    async with Simulator(seed=4) as sim:
        summary = await bulk_create(records * 150, token="sim-token", base_url=sim.url, rate=FAST, preflight=False)
        endpoints = sim.stats().by_endpoint
    assert summary.failed == 150 and not [name for name in endpoints if name.endswith("/labels")]


async def test_the_simulator_serves_labels_on_both_path_families_with_custom_labels() -> None:
    async with Simulator(labels=LABELS, seed=5) as sim, aiohttp.ClientSession() as session:
        answers = {}
        for path in (
            "/crm/v4/associations/carts/contacts/labels",
            "/crm/associations/v4/carts/contacts/labels",
            "/crm/associations/2026-03/carts/contacts/labels",
            "/crm/associations/2026-09/carts/contacts/labels",
        ):
            async with session.get(sim.url + path, headers={"Authorization": "Bearer sim-token"}) as response:
                assert response.status == 200, path
                answers[path] = await response.json()
        async with session.get(
            sim.url + "/crm/associations/2026-09/carts/orders/labels", headers={"Authorization": "Bearer sim-token"}
        ) as response:
            orders = await response.json()
        sim.add_token("writer", frozenset({"crm.objects.carts.write"}))
        async with session.get(
            sim.url + "/crm/associations/v4/carts/contacts/labels", headers={"Authorization": "Bearer writer"}
        ) as response:
            refused = response.status, await response.json()
        async with session.get(
            sim.url + "/crm/associations/2026-09/carts/widgets/labels", headers={"Authorization": "Bearer sim-token"}
        ) as response:
            unknown = response.status
    expected = {
        "results": [
            {"category": "HUBSPOT_DEFINED", "typeId": 586, "label": None},
            {"category": "USER_DEFINED", "typeId": 42, "label": "Buyer"},
            {"category": "INTEGRATOR_DEFINED", "typeId": 77, "label": "Payer"},
        ]
    }
    assert all(answer == expected for answer in answers.values())
    assert orders == {"results": [{"category": "HUBSPOT_DEFINED", "typeId": 592, "label": None}]}
    assert refused[0] == 403 and refused[1]["category"] == "MISSING_SCOPES"
    assert unknown == 404
