"""Associations in upsert mode are never dropped: batch upsert inputs have no ``associations`` field (the simulator,
like HubSpot, ignores them there), so after each upsert the loader writes them through the v4 batch associations
API, through the same budget; a record stays ``pending`` until they are in place, and one whose associations
fail is ``failed`` ``ASSOCIATION_FAILED`` with its id."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import anyio
import anyio.lowlevel
import pytest

from cartloader.api.loader import CartLoader, bulk_create
from cartloader.budget.local import RateBudget
from cartloader.models import CartInput, Outcome, Settled
from cartloader.rate import Rate
from cartloader.simulator import Simulator
from tests.test_cli_support import Start, last_entries, run_cli

pytestmark = pytest.mark.anyio

EXTERNAL_ID = "hs_external_cart_id"
FAST = "1000/1s"
TYPES = {"contacts": 586, "line_items": 590, "orders": 592}


def link(to_id: int, kind: str = "contacts", category: str = "HUBSPOT_DEFINED") -> dict[str, Any]:
    type_id = TYPES.get(kind, 12)
    return {"to": {"id": str(to_id)}, "types": [{"associationCategory": category, "associationTypeId": type_id}]}


def links_of(associations: Any) -> set[tuple[str, int]]:
    return {(item["to"]["id"], item["types"][0]["associationTypeId"]) for item in associations or ()}


def carts(count: int) -> list[dict[str, Any]]:
    """Carts each associated with one to three objects of different types (9-digit ids, as real ones)."""
    records = []
    for n in range(1, count + 1):
        links = [link(100_000_000 + n, "contacts")]
        if n % 2:
            links.append(link(200_000_000 + n, "line_items"))
        if n % 3 == 0:
            links.append(link(300_000_000 + n, "orders"))
        records.append({"properties": {"hs_cart_name": f"cart {n}", EXTERNAL_ID: f"ext-{n}"}, "associations": links})
    return records


def expected_links(record: dict[str, Any]) -> set[tuple[str, int]]:
    return links_of(record["associations"])


def held_links(sim: Simulator, object_id: str) -> set[tuple[str, int]]:
    return {(link["toObjectId"], link["associationTypeId"]) for link in sim.associations.get(object_id, [])}


async def load(sim: Simulator, records: list[Any], **options: Any) -> tuple[dict[int, Outcome], Any]:
    outcomes: list[Outcome] = []
    summary = await bulk_create(
        records,
        token="sim-token",
        base_url=sim.url,
        on_outcome=outcomes.append,
        rate=FAST,
        upsert_by=EXTERNAL_ID,
        **options,
    )
    return {o.line: o for o in outcomes}, summary


async def test_upsert_leaves_every_association_in_place_and_a_second_upsert_duplicates_none() -> None:
    records = carts(250)
    async with Simulator(unique=(EXTERNAL_ID,), seed=1) as sim:
        first, summary = await load(sim, records)
        assert summary.created == 250 and summary.failed == 0
        for line, outcome in first.items():
            assert outcome.id is not None
            assert held_links(sim, outcome.id) == expected_links(records[line - 1])
        # The schema, the labels of the seven documented cart pairs (the items name ids, not target types), three
        # upserts and, per target type, one associations request per upserted batch.
        assert summary.requests == sim.stats().requests == 2 + 7 + 3 + 3 * 3

        second, again = await load(sim, records)
        assert again.updated == 250
        for line, outcome in second.items():
            assert outcome.id == first[line].id
            assert held_links(sim, outcome.id or "") == expected_links(records[line - 1])
            assert len(sim.associations[outcome.id or ""]) == len(expected_links(records[line - 1]))


async def test_a_record_is_pending_until_its_associations_are_written() -> None:
    class Check:
        """A sink that looks, when each record settles, whether its associations are already in the simulator."""

        def __init__(self, sim: Simulator) -> None:
            self.sim = sim
            self.missing: list[int] = []
            self.count = 0

        def pending(self, inputs: Sequence[CartInput]) -> None:
            pass

        def settled(self, results: Sequence[Settled]) -> None:
            for outcome, record in results:
                self.count += 1
                assert isinstance(record, CartInput) and outcome.id is not None
                if not links_of(record.associations) <= held_links(self.sim, outcome.id):
                    self.missing.append(outcome.line)

    async with Simulator(unique=(EXTERNAL_ID,), seed=2) as sim:
        check = Check(sim)
        await load(sim, carts(120), outcome_log=check)
    assert check.count == 120
    assert check.missing == []


async def test_a_record_whose_association_fails_is_failed_with_its_id_and_the_others_are_linked() -> None:
    records = carts(30)
    records[9]["associations"].append(link(7, "contacts"))  # 7 is no real id: real ids have 9-12 digits
    async with Simulator(unique=(EXTERNAL_ID,), seed=3) as sim:
        outcomes, summary = await load(sim, records)
        failed = outcomes[10]
        assert failed.status == "failed" and failed.error is not None
        assert failed.error.category == "ASSOCIATION_FAILED"
        assert failed.error.status == 400
        assert "contacts 7 (HUBSPOT_DEFINED/586)" in failed.error.message
        assert failed.id is not None and failed.id in sim.objects  # upserted: its id is on the outcome
        assert held_links(sim, failed.id) == expected_links(records[9]) - {("7", 586)}
    assert summary.created == 29 and summary.failed == 1


async def test_an_association_whose_target_type_cannot_be_known_is_refused_before_sending_in_upsert_mode() -> None:
    record = {
        "properties": {"hs_cart_name": "labelled", EXTERNAL_ID: "ext-x"},
        "associations": [
            {"to": {"id": "123456789"}, "types": [{"associationCategory": "USER_DEFINED", "associationTypeId": 12}]}
        ],
    }
    async with Simulator(unique=(EXTERNAL_ID,), seed=4) as sim:
        outcomes, summary = await load(sim, [record, *carts(2)])
        assert sim.stats().inputs_received == 2
    assert outcomes[1].status == "invalid" and outcomes[1].error is not None
    assert "USER_DEFINED/12" in outcomes[1].error.message
    assert summary.created == 2


async def test_a_run_stopped_between_the_upsert_and_the_associations_leaves_the_records_pending() -> None:
    class StopBeforeLinking(RateBudget):
        """A real budget that cancels the run when the eleventh slot is asked for: the first associations request
        (after the two schema reads, the labels of the seven documented cart pairs and the upsert)."""

        def __init__(self, scope: anyio.CancelScope) -> None:
            super().__init__(Rate(1000, 1.0))
            self.scope = scope
            self.slots = 0

        async def acquire(self) -> None:
            self.slots += 1
            if self.slots == 11:
                self.scope.cancel()
                await anyio.lowlevel.checkpoint()
            await super().acquire()

    class Log:
        def __init__(self) -> None:
            self.final: dict[int, str] = {}
            self.unsent_lines: list[int] = []

        def unsent(self, results: Sequence[Settled]) -> None:
            self.unsent_lines.extend(outcome.line for outcome, _ in results)

        def pending(self, inputs: Sequence[CartInput]) -> None:
            pass

        def settled(self, results: Sequence[Settled]) -> None:
            for outcome, _ in results:
                self.final[outcome.line] = outcome.status

    records = carts(10)
    async with Simulator(unique=(EXTERNAL_ID,), seed=5) as sim:
        log = Log()
        with anyio.CancelScope() as scope:
            budget = StopBeforeLinking(scope)
            async with CartLoader("sim-token", base_url=sim.url, upsert_by=EXTERNAL_ID, budget=budget) as loader:
                await loader.create(records, outcome_log=log)
        assert len(sim.objects) == 10  # upserted...
        assert not sim.associations  # ...but not yet linked
        assert log.final == {}  # no record has a final outcome: each is still pending...
        assert log.unsent_lines == []  # ...and none is called unsent: HubSpot did upsert them
        # Loading again (what --resume does) upserts and links them.
        outcomes, summary = await load(sim, records)
        assert summary.updated == 10
        assert all(held_links(sim, o.id or "") == expected_links(records[o.line - 1]) for o in outcomes.values())


def test_the_command_line_links_upserted_records_and_logs_their_id(tmp_path: Path, simulator: Start) -> None:
    import orjson

    sim = simulator(unique=(EXTERNAL_ID,))
    source = tmp_path / "in.ndjson"
    source.write_bytes(b"".join(orjson.dumps(record) + b"\n" for record in carts(40)))
    result = run_cli(source, "--base-url", sim.url, "--upsert-by", EXTERNAL_ID, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    entries = last_entries(tmp_path / "in.outcomes.ndjson")
    assert {entry["status"] for entry in entries.values()} == {"created"}
    objects = {obj.id: obj for obj in sim.objects()}
    assert all(entry["id"] in objects for entry in entries.values())
