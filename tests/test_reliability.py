"""The fault matrix through the library: each of the simulator's nine faults at 20 %, and all of them at once,
over a few thousand records, seeded. Every record ends with exactly one final outcome; the simulator holds no
record twice unless that record's outcome says ``duplicate_risk``; in upsert mode it holds none twice."""

from __future__ import annotations

import time
from collections import Counter
from typing import Any

import anyio
import pytest

from cartloader.api.loader import bulk_create
from cartloader.config import Backoff
from cartloader.models import Outcome, Summary
from cartloader.simulator import Simulator
from cartloader.simulator.faults import BASIC_FAULTS, POST_FAULTS
from tests.test_simulator_support import eventually

pytestmark = pytest.mark.anyio

RECORDS = 2000
QUICK = Backoff(base_s=0.005, cap_s=0.05)
#: Every fault at once: nine faults at 5 % each, so 45 % of requests hit one (they cannot add up past 100 %).
ALL_FAULTS = dict.fromkeys(BASIC_FAULTS, 0.05)
MATRIX = [pytest.param({name: 0.2}, seed, id=name) for seed, name in enumerate(BASIC_FAULTS, 1)] + [
    pytest.param(ALL_FAULTS, 10, id="all")
]
EXTERNAL_ID = "hs_external_cart_id"
ORDER_REF = "order_ref"
#: Room for a loaded machine in the hang tests' time bounds (far below the simulator's 600 s hang).
SLACK_S = 3.0
#: Upsert mode: lines that exist before the faulty load.
PRELOADED = frozenset(range(1, RECORDS + 1, 7))


def carts(count: int) -> list[dict[str, Any]]:
    """``count`` distinct carts, each with its own external id (``ext-<line>``) and order reference."""
    return [
        {
            "hs_cart_name": f"cart {n}",
            EXTERNAL_ID: f"ext-{n}",
            ORDER_REF: f"ord-{n}",
            "hs_total_price": f"{n}.5",
            "hs_currency_code": "EUR",
        }
        for n in range(1, count + 1)
    ]


async def load_under_faults(
    faults: dict[str, float], *, seed: int, upsert_by: str | None = None, **options: Any
) -> tuple[Simulator, dict[int, Outcome], Summary]:
    """Load ``RECORDS`` carts into a faulty simulator; return it (stopped, objects kept), the outcomes by line
    and the summary. Fails the test if a line gets more than one final outcome. In upsert mode the lines in
    ``PRELOADED`` exist before the faulty load (created by a clean load), so their outcomes must be ``updated``."""
    # Create mode: no unique property, so a resent record that HubSpot had processed is created again
    # (as at HubSpot). Upsert mode: the key is unique, as the idProperty must be; it is a custom property, not
    # hs_external_cart_id, which matching also uses when no upsert key is given.
    order_ref = f"{ORDER_REF}:string:unique" if upsert_by else ORDER_REF
    sim = Simulator(seed=seed, properties=(order_ref,), hang_s=30)
    await sim.start()
    outcomes: list[Outcome] = []
    common: dict[str, Any] = {
        "token": "sim-token", "base_url": sim.url, "rate": "10000/1s", "concurrency": 16, "batch_size": 50,
        "timeout": 0.5, "max_attempts": 12, "backoff": QUICK, "upsert_by": upsert_by, **options,
    }  # fmt: skip
    try:
        if upsert_by:
            records = carts(RECORDS)
            await bulk_create([records[line - 1] for line in PRELOADED], **common)
            assert len(sim.objects) == len(PRELOADED)
        for name, probability in faults.items():
            sim.set_fault(name, probability)
        summary = await bulk_create(carts(RECORDS), on_outcome=outcomes.append, **common)
    finally:
        await sim.stop()
    per_line = Counter(outcome.line for outcome in outcomes)
    assert [line for line, n in per_line.items() if n != 1] == []
    return sim, {outcome.line: outcome for outcome in outcomes}, summary


def copies_by_line(sim: Simulator) -> Counter[int]:
    """How many objects the simulator holds for each line (from the ``ext-<line>`` external id)."""
    return Counter(int(obj.properties[EXTERNAL_ID].removeprefix("ext-")) for obj in sim.objects.values())


@pytest.mark.parametrize(("faults", "seed"), MATRIX)
async def test_create_under_faults_gives_each_record_one_outcome_and_duplicates_only_where_flagged(
    faults: dict[str, float], seed: int
) -> None:
    sim, outcomes, summary = await load_under_faults(faults, seed=seed)
    assert sorted(outcomes) == list(range(1, RECORDS + 1))
    assert {o.status for o in outcomes.values()} <= {"created", "failed"}
    copies = copies_by_line(sim)
    twice = {line for line, n in copies.items() if n > 1}
    flagged = {line for line, o in outcomes.items() if o.duplicate_risk}
    assert twice <= flagged
    if POST_FAULTS & set(faults):  # processed-then-failed requests were resent: real duplicates, all flagged
        assert twice
    held_ids = {obj.id: int(obj.properties[EXTERNAL_ID].removeprefix("ext-")) for obj in sim.objects.values()}
    for line, outcome in outcomes.items():
        if outcome.status == "created":
            assert held_ids.get(outcome.id or "") == line, outcome  # its own object, never another record's
        else:  # failed only after every attempt hit a fault; never for a record HubSpot refused
            assert outcome.error is not None and outcome.error.category != "VALIDATION_ERROR", outcome
    # Nothing lost: every created outcome is held by the simulator, and every line either exists or failed.
    assert {line for line, o in outcomes.items() if o.status == "created"} <= set(copies)
    assert summary.total == RECORDS
    assert summary.created + summary.failed == RECORDS
    assert summary.duplicate_risk == len(flagged)
    assert summary.unmatched == 0
    assert summary.failed <= RECORDS // 100  # a fault on 12 attempts in a row is rare, not the rule
    assert sim.stats().faults_injected  # the faults did strike


@pytest.mark.parametrize(("faults", "seed"), MATRIX)
async def test_upsert_under_faults_never_holds_a_record_twice_and_flags_no_duplicate_risk(
    faults: dict[str, float], seed: int
) -> None:
    sim, outcomes, summary = await load_under_faults(faults, seed=seed, upsert_by=ORDER_REF)
    assert sorted(outcomes) == list(range(1, RECORDS + 1))
    copies = copies_by_line(sim)
    assert max(copies.values()) == 1
    assert not any(o.duplicate_risk for o in outcomes.values())
    assert {o.status for o in outcomes.values()} <= {"created", "updated", "failed"}
    held_ids = {obj.id: int(obj.properties[ORDER_REF].removeprefix("ord-")) for obj in sim.objects.values()}
    for line, outcome in outcomes.items():
        if outcome.status in ("created", "updated"):
            assert held_ids.get(outcome.id or "") == line, outcome  # its own object, never another record's
        else:
            assert outcome.error is not None and outcome.error.category != "VALIDATION_ERROR", outcome
    updated = {line for line, o in outcomes.items() if o.status == "updated"}
    # What existed before comes back updated; so does a record whose processed batch was resent.
    assert {line for line in PRELOADED if outcomes[line].status != "failed"} <= updated
    if POST_FAULTS & set(faults):
        assert updated - PRELOADED
    assert summary.updated == len(updated)
    assert summary.duplicate_risk == 0
    assert summary.failed <= RECORDS // 100
    assert sim.stats().faults_injected


async def test_no_retry_ambiguous_under_all_faults_never_resends_a_processed_batch() -> None:
    sim, outcomes, summary = await load_under_faults(ALL_FAULTS, seed=11, retry_ambiguous=False)
    assert sorted(outcomes) == list(range(1, RECORDS + 1))
    assert max(copies_by_line(sim).values()) == 1
    assert not any(o.duplicate_risk for o in outcomes.values())
    ambiguous = {line for line, o in outcomes.items() if o.error is not None and o.error.category == "AMBIGUOUS"}
    assert ambiguous  # post_* faults struck and were not resent
    assert {line for line, o in outcomes.items() if o.status == "failed"} == ambiguous
    assert summary.failed == len(ambiguous)


@pytest.mark.timing
async def test_a_server_that_always_hangs_fails_each_record_within_attempts_times_the_timeout() -> None:
    sim = Simulator(faults={"post_hang": 1.0}, hang_s=600, properties=(ORDER_REF,))
    await sim.start()
    outcomes: list[Outcome] = []
    started = time.monotonic()
    try:
        summary = await bulk_create(
            carts(40), token="sim-token", base_url=sim.url, on_outcome=outcomes.append, rate="1000/1s",
            batch_size=10, concurrency=4, timeout=0.3, max_attempts=2, backoff=QUICK, preflight=False,
        )  # fmt: skip
    finally:
        await sim.stop()
    elapsed = time.monotonic() - started
    assert summary.failed == 40
    assert {(o.error.category if o.error else None, o.attempts) for o in outcomes} == {("TIMEOUT", 2)}
    assert sim.stats().requests == 8  # four batches, two attempts each
    assert elapsed < 2 * 0.3 + 0.05 + SLACK_S, elapsed  # two timeouts and one short backoff, not 600 s


@pytest.mark.timing
async def test_cancelling_a_load_while_the_server_hangs_returns_within_the_request_timeout() -> None:
    sim = Simulator(faults={"post_hang": 1.0}, hang_s=600, properties=(ORDER_REF,))
    await sim.start()
    outcomes: list[Outcome] = []
    try:
        with anyio.CancelScope() as scope:

            async def load() -> None:
                await bulk_create(
                    carts(20), token="sim-token", base_url=sim.url, on_outcome=outcomes.append,
                    rate="1000/1s", batch_size=10, timeout=0.5, max_attempts=5, backoff=QUICK, preflight=False,
                )  # fmt: skip

            async with anyio.create_task_group() as group:
                group.start_soon(load)
                # Both requests are on the wire: the simulator holds them, hanging.
                await eventually(lambda: sim.stats().in_flight >= 2, timeout_s=10)
                cancelled_at = time.monotonic()
                scope.cancel()
        waited = time.monotonic() - cancelled_at
    finally:
        await sim.stop()
    # The sender waits for a request already sent (its answer would say what HubSpot did), but only up to
    # the request's timeout; the timed-out batches stay pending for --resume, with no final outcome.
    assert waited < 0.5 + SLACK_S, waited  # one request timeout, not the 600 s hang
    assert outcomes == []
    assert sim.stats().requests == 2  # nothing was sent after the cancel
