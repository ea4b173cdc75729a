"""Associations that name their target by a property (contacts by email, orders by a unique custom property):
resolved through batch reads against the simulator before any cart is sent, coalesced and cached; a value naming
nothing fails its record ``ASSOCIATION_TARGET_MISSING`` (or, with ``missing_target="skip"``, the cart is created
without that link); lookups counted by the loader and by the simulator."""

from __future__ import annotations

import math
import random
from pathlib import Path
from typing import Any

import orjson
import pytest

from cartloader.api.loader import CartLoader, bulk_create
from cartloader.errors import MissingScopesError
from cartloader.models import Outcome
from cartloader.simulator import Simulator
from tests.test_cli_support import Start, last_entries, run_cli

pytestmark = pytest.mark.anyio

FAST = "1000/1s"
READ = "POST /crm/objects/2026-09/contacts/batch/read"


def by_email(email: str, **extra: Any) -> dict[str, Any]:
    return {"to": {"objectType": "contacts", "idProperty": "email", "id": email}, **extra}


def shop(count: int, known: int, seed: int = 7) -> tuple[list[dict[str, Any]], list[str]]:
    """``count`` carts from a shop whose customers return (~60% of carts from a customer seen before); 70% of the
    customers are contacts of the portal (``customer{N}@example.com``, N <= ``known``), 10% of the emails are
    written in mixed case. Returns the carts and each cart's email as written."""
    rng = random.Random(seed)
    customers: list[str] = []
    emails = []
    for _ in range(count):
        if customers and rng.random() < 0.6:
            email = rng.choice(customers)
        else:
            n = len(customers) + 1
            email = f"customer{rng.randint(1, known)}@example.com" if rng.random() < 0.7 else f"new{n}@shop.test"
            customers.append(email)
        if rng.random() < 0.1:
            email = " " + email.upper().replace("@", "@") + " "
        emails.append(email)
    records = [
        {"properties": {"hs_cart_name": f"cart {i}"}, "associations": [by_email(email)]}
        for i, email in enumerate(emails)
    ]
    return records, emails


async def test_carts_naming_customers_by_email_are_linked_to_exactly_that_contact() -> None:
    records, emails = shop(600, known=300)
    async with Simulator(contacts=300, seed=1) as sim:
        outcomes: list[Outcome] = []
        summary = await bulk_create(records, token="sim-token", base_url=sim.url, rate=FAST, on_outcome=outcomes.append)
        stats = sim.stats()
        links = sim.associations
        objects = sim.objects
    by_line = {outcome.line: outcome for outcome in outcomes}
    assert len(outcomes) == len(by_line) == len(records)  # nothing lost, nothing twice
    distinct = {email.strip().lower() for email in emails}
    assert summary.lookups == stats.by_endpoint[READ]
    assert summary.lookups <= 1.05 * math.ceil(len(distinct) / 100)
    created = 0
    for line, email in enumerate(emails, 1):
        outcome = by_line[line]
        key = email.strip().lower()
        if key.startswith("customer"):
            assert outcome.status == "created", outcome
            contact = sim_contact(key)
            assert [(link["toObjectId"], link["associationTypeId"]) for link in links[str(outcome.id)]] == [
                (contact, 586)
            ]
            created += 1
        else:
            assert outcome.status == "failed"
            assert outcome.error is not None and outcome.error.category == "ASSOCIATION_TARGET_MISSING"
            assert email in outcome.error.message and "contacts" in outcome.error.message
    assert len(objects) == created == summary.created
    assert summary.failed == len(records) - created


def sim_contact(email: str) -> str:
    """The simulator's id of ``customer{N}@example.com`` (seeded by count: ids count up from 100000001)."""
    number = int(email.removeprefix("customer").split("@")[0])
    return str(100_000_000 + number)


async def test_skip_creates_the_cart_without_the_link_and_says_what_was_skipped() -> None:
    records = [
        {"properties": {"hs_cart_name": f"c{i}"}, "associations": [by_email(f"customer{i}@example.com")]}
        for i in range(1, 201)
    ]
    async with Simulator(contacts=100, seed=2) as sim:
        outcomes: list[Outcome] = []
        summary = await bulk_create(
            records, token="sim-token", base_url=sim.url, rate=FAST, missing_target="skip", on_outcome=outcomes.append
        )
        links = dict(sim.associations)
    assert summary.created == 200 and summary.lookups == 2
    for outcome in outcomes:
        if outcome.line <= 100:
            assert outcome.skipped_associations == ()
            assert links[str(outcome.id)][0]["toObjectId"] == str(100_000_000 + outcome.line)
        else:
            assert outcome.skipped_associations == (
                {"objectType": "contacts", "idProperty": "email", "id": f"customer{outcome.line}@example.com"},
            )
            assert not links.get(str(outcome.id))


async def test_a_refused_lookup_stops_the_run_before_any_cart_needing_it_is_sent() -> None:
    records = [{"properties": {"hs_cart_name": "a"}, "associations": [by_email("customer1@example.com")]}] * 300
    async with Simulator(contacts=10, seed=3) as sim:
        sim.add_token("no-contacts", frozenset({"crm.objects.carts.write"}))
        with pytest.raises(MissingScopesError) as raised:
            await bulk_create(records, token="no-contacts", base_url=sim.url, rate=FAST, preflight=False)
        assert "crm.objects.contacts.read" in str(raised.value)
        assert not sim.objects
        assert sim.stats().inputs_received == 0


async def test_orders_by_a_unique_custom_property_and_a_property_that_is_not_unique() -> None:
    def order(value: str, prop: str = "shop_order_id") -> dict[str, Any]:
        return {"to": {"objectType": "orders", "idProperty": prop, "id": value}}

    records = [{"properties": {"hs_cart_name": f"c{i}"}, "associations": [order(f"SO-{i}")]} for i in range(1, 151)]
    records.append({"properties": {"hs_cart_name": "x"}, "associations": [order("Order 1", "hs_order_name")]})
    async with Simulator(orders=150, seed=4) as sim:
        sim.add_token("t", frozenset({"crm.objects.carts.write", "crm.objects.orders.read", "crm.schemas.orders.read"}))
        outcomes: list[Outcome] = []
        async with CartLoader("t", base_url=sim.url, rate=FAST, preflight=False) as loader:
            summary = await loader.create(records, on_outcome=outcomes.append)
        links = dict(sim.associations)
    assert summary.created == 150 and summary.invalid == 1 and summary.lookups == 2
    for outcome in outcomes:
        if outcome.status == "created":
            assert [(x["toObjectId"], x["associationTypeId"]) for x in links[str(outcome.id)]] == [
                (str(200_000_000 + outcome.line), 592)
            ]
        else:
            assert outcome.status == "invalid" and outcome.error is not None
            assert "hs_order_name" in outcome.error.message and "shop_order_id" in outcome.error.message


@pytest.mark.parametrize("version", ["2026-03", "2026-09"])
async def test_upsert_writes_associations_through_the_dated_api_of_its_version(version: str) -> None:
    records = [
        {
            "properties": {"hs_external_cart_id": f"x{i}"},
            "associations": [by_email(f"customer{i % 50 + 1}@example.com")],
        }
        for i in range(250)
    ]
    async with Simulator(contacts=50, unique=("hs_external_cart_id",), seed=5) as sim:
        summary = await bulk_create(
            records,
            token="sim-token",
            base_url=sim.url,
            rate=FAST,
            upsert_by="hs_external_cart_id",
            api_version=version,
        )
        endpoints = sim.stats().by_endpoint
        links = dict(sim.associations)
    assert summary.created == 250 and summary.lookups == 1
    assert endpoints[f"POST /crm/objects/{version}/contacts/batch/read"] == 1
    assert endpoints[f"POST /crm/associations/{version}/carts/contacts/batch/create"] == 3
    assert not [name for name in endpoints if "/v4/" in name]
    assert sum(len(found) for found in links.values()) == 250


async def test_a_target_gone_between_lookup_and_send_is_evicted_and_fails_its_record() -> None:
    def cart(i: int) -> dict[str, Any]:
        return {
            "properties": {"hs_cart_name": f"c{i}"},
            "associations": [by_email(f"customer{i % 100 + 1}@example.com")],
        }

    outcomes: list[Outcome] = []
    async with (
        Simulator(contacts=100, seed=6) as sim,
        CartLoader("sim-token", base_url=sim.url, rate=FAST) as loader,
    ):
        first = await loader.create([cart(i) for i in range(200)])
        gone = {sim.directory.archive("contacts", f"customer{n}@example.com") for n in range(1, 11)}
        second = await loader.create([cart(i) for i in range(200)], on_outcome=outcomes.append)
        third = await loader.create([cart(i) for i in range(100)])
    assert (first.created, first.lookups) == (200, 1)
    assert second.lookups == 0  # every value came from the cache: the gone ones were sent and refused
    assert (second.created, second.failed) == (180, 20)
    for outcome in outcomes:
        if outcome.status == "failed":
            assert outcome.error is not None and outcome.error.category == "ASSOCIATION_TARGET_MISSING"
            assert "is gone" in outcome.error.message and "@example.com" in outcome.error.message
            named = {d.value for d in outcome.error.details if d.code == "INVALID_OBJECT_IDS"}
            assert len(named) == 1 and named <= gone
    assert (third.created, third.failed, third.lookups) == (90, 10, 1)  # evicted: asked again, now missing


def test_the_command_line_skips_missing_targets_and_lists_them(simulator: Start, tmp_path: Path) -> None:
    sim = simulator(contacts=100)
    lines = [
        orjson.dumps({"properties": {"hs_cart_name": f"c{i}"}, "associations": [by_email(f"customer{i}@example.com")]})
        for i in range(1, 201)
    ]
    source = tmp_path / "carts.ndjson"
    source.write_bytes(b"\n".join(lines) + b"\n")
    summary_path = tmp_path / "summary.json"
    result = run_cli(
        source, "--base-url", sim.url, "--missing-target", "skip", "--summary-json", summary_path, cwd=tmp_path
    )
    assert result.returncode == 0, result.stderr
    entries = last_entries(tmp_path / "carts.outcomes.ndjson")
    assert len(entries) == 200 and {entry["status"] for entry in entries.values()} == {"created"}
    assert all("skipped_associations" not in entries[line] for line in range(1, 101))
    assert entries[150]["skipped_associations"] == [
        {"objectType": "contacts", "idProperty": "email", "id": "customer150@example.com"}
    ]
    assert orjson.loads(summary_path.read_bytes())["lookups"] == 2
