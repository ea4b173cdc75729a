"""Delivery (``cartloader/engine/delivery.py``), outcome by outcome: the exact status, error, attempts and flags
each record ends with, for the answers of the failure table. Fast and focused (what the module's mutation run
uses): the real loader over loopback against the simulator, one small load per test, faults forced on a
chosen request."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
import pytest

from cartloader.api.loader import bulk_create
from cartloader.budget.local import RateBudget
from cartloader.cli.main import main
from cartloader.config import Backoff
from cartloader.errors import AuthenticationError, FatalApiError
from cartloader.models import CartInput, Outcome, RecordError, Summary
from cartloader.outcomes.log import OutcomeLog
from cartloader.outcomes.meta import RunMeta
from cartloader.rate import Rate
from cartloader.simulator import Simulator
from tests.test_cli_support import Start, write_carts

pytestmark = pytest.mark.anyio

QUICK = Backoff(base_s=0.001, cap_s=0.005)


def carts(count: int, **extra: str) -> list[dict[str, Any]]:
    return [{"hs_cart_name": f"cart {n}", "hs_external_cart_id": f"ext-{n}", **extra} for n in range(1, count + 1)]


async def load(sim: Simulator, records: list[dict[str, Any]], **options: Any) -> tuple[dict[int, Outcome], Summary]:
    outcomes: list[Outcome] = []
    options.setdefault("rate", "10000/1s")
    options.setdefault("backoff", QUICK)
    options.setdefault("concurrency", 1)
    options.setdefault("preflight", False)  # the delivery's own requests, and HubSpot seeing every bad record
    summary = await bulk_create(records, token="sim-token", base_url=sim.url, on_outcome=outcomes.append, **options)
    by_line = {o.line: o for o in outcomes}
    assert len(by_line) == len(outcomes)  # one final outcome per line
    assert sorted(by_line) == list(range(1, len(records) + 1))  # and none missing
    return by_line, summary


def ids_by_line(sim: Simulator) -> dict[int, str]:
    return {int(o.properties["hs_external_cart_id"].removeprefix("ext-")): o.id for o in sim.objects.values()}


async def test_created_records_carry_their_own_ids_and_one_attempt() -> None:
    async with Simulator(seed=1, echo_trace_ids="never") as sim:
        outcomes, summary = await load(sim, carts(12), batch_size=5)
        held = ids_by_line(sim)
        keys = {int(o.properties["hs_external_cart_id"].removeprefix("ext-")): o.trace_id for o in sim.objects.values()}
    assert {line: (o.status, o.id, o.attempts, o.duplicate_risk, o.error) for line, o in outcomes.items()} == {
        line: ("created", held[line], 1, False, None) for line in range(1, 13)
    }
    assert {line: o.key for line, o in outcomes.items()} == keys  # the trace id each record was sent with
    assert (summary.requests, summary.retries, summary.created) == (3, 0, 12)


async def test_an_upsert_of_existing_records_is_updated_and_of_new_ones_created() -> None:
    async with Simulator(seed=2, unique=("hs_external_cart_id",)) as sim:
        await load(sim, carts(4), upsert_by="hs_external_cart_id")
        outcomes, summary = await load(sim, carts(8), upsert_by="hs_external_cart_id")
        held = ids_by_line(sim)
    assert {line: (o.status, o.id) for line, o in outcomes.items()} == {
        line: ("updated" if line <= 4 else "created", held[line]) for line in range(1, 9)
    }
    assert (summary.updated, summary.created) == (4, 4)


async def test_a_partial_failure_fails_the_named_inputs_with_their_error_and_400() -> None:
    records = carts(6)
    records[2]["hs_total_price"] = "not a number"
    async with Simulator(seed=3) as sim:
        outcomes, _ = await load(sim, records, api_version="v3")
        assert sim.stats().by_status == {207: 1}  # the v3 path: a partial failure is a 207
    bad = outcomes[3]
    assert bad.status == "failed" and bad.attempts == 1 and not bad.duplicate_risk
    assert bad.error is not None and (bad.error.category, bad.error.status) == ("VALIDATION_ERROR", 400)
    assert "hs_total_price" in bad.error.message
    assert {o.status for line, o in outcomes.items() if line != 3} == {"created"}


async def test_a_whole_batch_refusal_naming_inputs_fails_them_with_its_status_and_resends_the_rest() -> None:
    records = carts(6)
    records[1]["hs_total_price"] = "x"
    records[4]["hs_total_price"] = "y"
    async with Simulator(seed=4, faults_at={1: "batch_error_traced"}) as sim:
        outcomes, summary = await load(sim, records, api_version="v3")
    for line in (2, 5):
        error = outcomes[line].error
        assert outcomes[line].status == "failed" and outcomes[line].attempts == 1
        assert error is not None and (error.category, error.status) == ("VALIDATION_ERROR", 400)
        assert error.message
    assert {line: o.status for line, o in outcomes.items() if line not in (2, 5)} == dict.fromkeys(
        (1, 3, 4, 6), "created"
    )
    assert all(outcomes[line].attempts == 2 for line in (1, 3, 4, 6))  # resent once, without the named ones
    assert summary.requests == 2


async def test_a_conflict_on_a_unique_value_fails_that_input_with_409() -> None:
    async with Simulator(seed=5, unique=("hs_external_cart_id",), conflicts="per-input") as sim:
        await load(sim, carts(1))
        outcomes, _ = await load(sim, carts(3), api_version="v3")
    error = outcomes[1].error
    assert outcomes[1].status == "failed"
    assert error is not None and (error.category, error.status) == ("CONFLICT", 409)
    assert {outcomes[2].status, outcomes[3].status} == {"created"}


async def test_a_missing_result_fails_that_input_flagged_and_says_why() -> None:
    async with Simulator(seed=6, faults_at={1: "missing_result"}) as sim:
        outcomes, summary = await load(sim, carts(5))
    missing = [o for o in outcomes.values() if o.status == "failed"]
    assert len(missing) == 1
    assert missing[0].error == RecordError(
        "MISSING_RESULT", "HubSpot's answer had neither a result nor an error for it"
    )
    assert missing[0].duplicate_risk and missing[0].attempts == 1
    assert summary.failed == 1 and summary.created == 4


async def test_a_2xx_whose_status_is_not_complete_fails_its_inputs_naming_the_status() -> None:
    async with Simulator(seed=7, faults_at={1: "status_not_complete"}) as sim:
        outcomes, _ = await load(sim, carts(3))
    assert {o.error for o in outcomes.values()} == {
        RecordError(
            "MISSING_RESULT", "HubSpot's answer had neither a result nor an error for it (batch status PENDING)"
        )
    }
    assert all(o.status == "failed" and o.duplicate_risk for o in outcomes.values())


async def test_untraced_errors_resend_the_inputs_left_without_a_result_then_fail_them_with_that_error() -> None:
    records = carts(4)
    records[0]["hs_total_price"] = "bad"
    records[2]["hs_total_price"] = "worse"
    async with Simulator(seed=8, faults={"errors_untraced": 1.0}) as sim:
        outcomes, summary = await load(sim, records, api_version="v3", max_attempts=3)
    for bad in (outcomes[1], outcomes[3]):
        assert bad.status == "failed" and bad.attempts == 3 and not bad.duplicate_risk
        assert bad.error is not None and (bad.error.category, bad.error.status) == ("VALIDATION_ERROR", 400)
        assert "hs_total_price" in bad.error.message
    assert {outcomes[line].status for line in (2, 4)} == {"created"}
    assert summary.requests == 3


async def test_a_stray_result_is_counted_and_given_to_nobody() -> None:
    async with Simulator(seed=9, faults_at={1: "stray_result"}, echo_trace_ids="never") as sim:
        outcomes, summary = await load(sim, carts(4))
        held = ids_by_line(sim)
    assert {line: o.id for line, o in outcomes.items()} == held
    assert summary.unmatched == 1


async def test_a_teapot_fails_the_batch_with_its_status_and_no_resend() -> None:
    async with Simulator(seed=10, faults_at={1: "teapot_418"}) as sim:
        outcomes, summary = await load(sim, carts(3))
    assert {(o.status, o.attempts, o.error.status if o.error else None) for o in outcomes.values()} == {
        ("failed", 1, 418)
    }
    assert summary.requests == 1


class ExpiringBudget(RateBudget):
    """A real budget that expires the token at the simulator just before the n-th request slot."""

    def __init__(self, sim: Simulator, at_slot: int) -> None:
        super().__init__(Rate(10000, 1.0))
        self.sim, self.at_slot, self.slots = sim, at_slot, 0

    async def acquire(self) -> None:
        await super().acquire()
        self.slots += 1
        if self.slots == self.at_slot:
            self.sim.expire_token("sim-token")


async def test_a_401_stops_the_run_and_leaves_the_sent_records_unsent_with_the_error(tmp_path: Path) -> None:
    log = tmp_path / "out.ndjson"
    async with Simulator(seed=11) as sim:
        with pytest.raises(AuthenticationError):
            await bulk_create(carts(3), token="sim-token", base_url=sim.url, outcome_log=str(log),
                              budget=ExpiringBudget(sim, 1), backoff=QUICK, preflight=False)  # fmt: skip
    entries = [orjson.loads(line) for line in log.read_bytes().splitlines()]
    assert [e["status"] for e in entries] == ["pending"] * 3 + ["unsent"] * 3
    for entry in entries[3:]:
        assert entry["attempts"] == 1 and "duplicate_risk" not in entry
        assert entry["error"]["status"] == 401 and entry["error"]["category"]


async def test_a_record_that_may_have_been_processed_stays_pending_when_the_run_stops(tmp_path: Path) -> None:
    log = tmp_path / "out.ndjson"
    async with Simulator(seed=14, faults_at={1: "post_500"}) as sim:
        with pytest.raises(AuthenticationError):
            await bulk_create(carts(2), token="sim-token", base_url=sim.url, outcome_log=str(log),
                              budget=ExpiringBudget(sim, 2), backoff=QUICK, preflight=False)  # fmt: skip
    assert [orjson.loads(line)["status"] for line in log.read_bytes().splitlines()] == ["pending", "pending"]


async def test_a_retried_5xx_flags_duplicate_risk_and_counts_every_attempt() -> None:
    async with Simulator(seed=12, faults_at={1: "post_500", 2: "post_500"}) as sim:
        outcomes, summary = await load(sim, carts(3), max_attempts=3)
    assert {(o.status, o.attempts, o.duplicate_risk) for o in outcomes.values()} == {("created", 3, True)}
    assert (summary.requests, summary.retries, summary.duplicate_risk) == (3, 2, 3)


async def test_attempts_run_out_after_max_attempts_with_the_last_error() -> None:
    async with Simulator(seed=13, faults={"pre_503": 1.0}) as sim:
        outcomes, summary = await load(sim, carts(2), max_attempts=2)
    assert {(o.status, o.attempts, o.duplicate_risk) for o in outcomes.values()} == {("failed", 2, False)}
    assert {o.error.status if o.error else None for o in outcomes.values()} == {503}
    assert summary.requests == 2


async def test_an_api_path_overrides_the_api_versions_path() -> None:
    records = carts(3)
    records[0]["hs_total_price"] = "bad"
    async with Simulator(seed=15) as sim:
        outcomes, _ = await load(sim, records, api_path="/crm/v3/objects", api_version="2026-09")
        assert sim.stats().by_status == {207: 1}
    assert outcomes[1].status == "failed"


async def test_a_whole_batch_404_stops_the_run_naming_the_object_type_and_the_url() -> None:
    async with Simulator(seed=16) as sim:
        with pytest.raises(
            FatalApiError, match=r"object type 'wagons' at http://127\.0\.0\.1:[0-9]+/.*/wagons/batch/create"
        ):
            await load(sim, carts(2), object_type="wagons")


async def test_identical_records_with_different_associations_go_in_separate_requests_each_with_its_own_id() -> None:
    # Issue 24 part 2: the chunker never puts into one request two inputs an answer cannot tell apart whose
    # associations differ (they used to share one and come back created without an id, flagged unmatched).
    records: list[dict[str, Any]] = [
        {"properties": {"hs_cart_name": "same"}, "associations": [association(contact)]}
        for contact in ("123456789", "987654321")
    ]
    async with Simulator(seed=17, echo_trace_ids="never") as sim:
        outcomes, summary = await load(sim, records)
        assert len(sim.objects) == 2
        targets = {source: [str(link["toObjectId"]) for link in links] for source, links in sim.associations.items()}
    assert {line: (o.status, o.unmatched, o.error) for line, o in outcomes.items()} == {
        1: ("created", False, None),
        2: ("created", False, None),
    }
    assert {line: targets[o.id or ""] for line, o in outcomes.items()} == {1: ["123456789"], 2: ["987654321"]}
    assert (summary.unmatched, summary.requests) == (0, 2)


def association(target: str) -> dict[str, Any]:
    return {"to": {"id": target}, "types": [{"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": 586}]}


async def test_a_401_after_settled_batches_leaves_only_the_unsettled_ones_unsent(tmp_path: Path) -> None:
    log = tmp_path / "out.ndjson"
    async with Simulator(seed=18) as sim:
        with pytest.raises(AuthenticationError):
            await bulk_create(carts(4), token="sim-token", base_url=sim.url, outcome_log=str(log), batch_size=2,
                              concurrency=1, budget=ExpiringBudget(sim, 2), backoff=QUICK,
                              preflight=False)  # fmt: skip
    entries = [orjson.loads(line) for line in log.read_bytes().splitlines()]
    statuses = sorted((e["line"], e["status"]) for e in entries)
    assert statuses == [
        (1, "created"), (1, "pending"), (2, "created"), (2, "pending"),
        (3, "pending"), (3, "unsent"), (4, "pending"), (4, "unsent"),
    ]  # fmt: skip


def test_a_resumed_record_that_was_pending_stays_pending_when_a_401_stops_the_run(
    tmp_path: Path, simulator: Start, monkeypatch: pytest.MonkeyPatch
) -> None:
    # In process (the command line's main), so that the mutation run reaches the delivery it drives.
    sim = simulator()
    source = tmp_path / "carts.ndjson"
    write_carts(source, 3)
    log = tmp_path / "carts.outcomes.ndjson"
    with OutcomeLog.open(str(log), mode="new", meta=RunMeta.new(str(source))) as earlier:
        earlier.write_pending([CartInput(1, {}, key="r-1"), CartInput(2, {}, key="r-2")])  # a run stopped here
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("HUBSPOT_ACCESS_TOKEN", "not-the-token")
    assert main([str(source), "--base-url", sim.url, "--resume", "--no-progress", "--no-preflight"]) == 3
    last = {e["line"]: e["status"] for e in map(orjson.loads, log.read_bytes().splitlines())}
    # Lines 1 and 2 may exist in HubSpot from the earlier run: still pending. Line 3 was provably not processed.
    assert last == {1: "pending", 2: "pending", 3: "unsent"}
