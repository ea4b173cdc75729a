"""Delivery's retry loop and circuit breaker (``cartloader/engine/delivery.py``): the wait before each resend,
the error that stops a run whose requests mostly fail the same way, what a processed batch fails with when it
may not be resent, and what HubSpot refused being refused again without a request. Fast and focused (the
module's mutation run uses them): the real loader over loopback against the simulator; the waits are read, not
slept (the delivery's ``anyio.sleep`` and the budget's pause are recorded)."""

from __future__ import annotations

import random
import re
import socket
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import aiohttp
import anyio
import orjson
import pytest
from anyio import wait_all_tasks_blocked
from anyio.lowlevel import checkpoint

from cartloader.api.loader import CartLoader
from cartloader.budget.local import RateBudget
from cartloader.config import Backoff, LoaderConfig
from cartloader.engine import delivery
from cartloader.errors import AuthenticationError, FatalApiError
from cartloader.models import Outcome, RecordError, Summary
from cartloader.rate import Rate
from cartloader.simulator import Simulator
from tests.test_delivery import ExpiringBudget

pytestmark = pytest.mark.anyio

QUICK = Backoff(base_s=0.001, cap_s=0.005)


class AttemptBackoff(Backoff):
    """A backoff whose wait names the attempt it was asked for (attempt n: n milliseconds)."""

    def delay(self, attempt: int, rng: random.Random) -> float:
        assert isinstance(rng, random.Random)
        return attempt / 1000


class PauseBudget(RateBudget):
    """A real budget that records each pause it is asked for (and pauses a hundredth of it); before the request
    slots named in ``spend``, another integration spends HubSpot's whole window (five reads)."""

    def __init__(self, rate: Rate, spend: dict[int, str]) -> None:
        super().__init__(rate)
        self.pauses: list[float] = []
        self.spend, self.slots, self.spent_rejected = spend, 0, 0

    async def acquire(self) -> None:
        await super().acquire()
        self.slots += 1
        url = self.spend.get(self.slots)
        if url is not None:
            async with aiohttp.ClientSession() as other:
                for _ in range(5):
                    headers = {"Authorization": "Bearer sim-token"}
                    async with other.get(f"{url}/crm/v3/objects/carts/1", headers=headers) as answer:
                        self.spent_rejected += answer.status == 429

    def pause(self, seconds: float) -> None:
        self.pauses.append(seconds)
        super().pause(seconds / 100)


@pytest.fixture
def sleeps(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """The waits delivery sleeps before its resends, recorded instead of slept."""
    waits: list[float] = []

    async def sleep(seconds: float) -> None:
        waits.append(seconds)
        await checkpoint()

    monkeypatch.setattr(delivery, "anyio", SimpleNamespace(sleep=sleep))
    return waits


def carts(count: int, **extra: str) -> list[dict[str, Any]]:
    return [{"hs_cart_name": f"cart {n}", "hs_external_cart_id": f"ext-{n}", **extra} for n in range(1, count + 1)]


async def load(
    base_url: str,
    records: list[dict[str, Any]],
    budget: RateBudget | None = None,
    log: Path | None = None,
    **fields: Any,
) -> tuple[dict[int, Outcome], Summary]:
    """Load ``records`` with a loader built from ``fields`` (``LoaderConfig``'s own names: breaker included)."""
    fields.setdefault("concurrency", 1)
    fields.setdefault("backoff", QUICK)
    fields.setdefault("preflight", False)
    fields.setdefault("rate", Rate(10000, 1.0))
    outcomes: list[Outcome] = []
    async with CartLoader("sim-token", config=LoaderConfig(base_url=base_url, **fields), budget=budget) as loader:
        summary = await loader.create(records, on_outcome=outcomes.append, outcome_log=str(log) if log else None)
    return {o.line: o for o in outcomes}, summary


async def test_the_breaker_stops_a_run_of_503s_naming_its_window_the_failure_and_the_last_answer(
    tmp_path: Path,
) -> None:
    log = tmp_path / "out.ndjson"
    async with Simulator(seed=1, faults={"pre_503": 1.0}) as sim:
        with pytest.raises(FatalApiError) as caught:
            await load(sim.url, carts(2), max_attempts=100, breaker_window=4, breaker_threshold=0.75, log=log)
        requests = sim.stats().requests
    stop = caught.value
    # The window fills at the 4th request, all four failed the same way: it trips there, not later.
    assert requests == 4
    assert stop.message == (
        "stopping: most of the last 4 requests failed the same way (HTTP 503 UNAVAILABLE); fix the cause, then resume"
    )
    assert (stop.category, stop.status) == ("CIRCUIT_OPEN", 503)
    assert stop.correlation_id is not None and re.fullmatch(r"[0-9a-f-]{36}", stop.correlation_id)
    # Nothing was processed: both records are unsent, with the answer that stopped the run and 4 attempts.
    entries = [orjson.loads(line) for line in log.read_bytes().splitlines()]
    assert [(e["line"], e["status"], e["attempts"], e["error"]["status"]) for e in entries[2:]] == [
        (1, "unsent", 4, 503),
        (2, "unsent", 4, 503),
    ]


async def test_the_breaker_stops_a_run_that_reaches_no_host_naming_the_connection_error() -> None:
    with socket.socket() as closed:  # a port nobody listens on
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    with pytest.raises(FatalApiError) as caught:
        await load(f"http://127.0.0.1:{port}", carts(1), max_attempts=100, breaker_window=3)
    stop = caught.value
    assert re.fullmatch(
        r"could not reach 127\.0\.0\.1: .+ \(most of the last 3 requests failed this way\); fix the cause, then resume",
        stop.message,
    ), stop.message
    assert (stop.category, stop.status, stop.correlation_id) == ("CONNECTION_ERROR", None, None)


async def test_the_breaker_stops_a_run_of_unreadable_answers_with_no_status_to_name() -> None:
    async with Simulator(seed=2, faults={"malformed_2xx": 1.0}) as sim:
        with pytest.raises(FatalApiError) as caught:
            await load(sim.url, carts(1), max_attempts=100, breaker_window=3)
    stop = caught.value
    assert stop.message == (
        "stopping: most of the last 3 requests failed the same way (malformed 2xx answer); fix the cause, then resume"
    )
    assert (stop.category, stop.status, stop.correlation_id) == ("CIRCUIT_OPEN", None, None)


async def test_the_breaker_stops_a_run_whose_answers_refuse_every_input() -> None:
    async with Simulator(seed=3) as sim:
        with pytest.raises(FatalApiError) as caught:
            await load(sim.url, carts(8, hs_total_price="not a number"), batch_size=2, breaker_window=3)
        requests = sim.stats().requests
    stop = caught.value
    assert requests == 3
    assert stop.message == (
        "stopping: most of the last 3 requests failed the same way (every input refused: VALIDATION_ERROR); "
        "fix the cause, then resume"
    )
    assert stop.category == "CIRCUIT_OPEN" and stop.status is not None and 200 <= stop.status < 300
    assert stop.correlation_id is None  # a 2xx carries no correlation id


async def test_answers_that_create_some_inputs_never_trip_the_breaker() -> None:
    records = carts(16)
    for n, record in enumerate(records[::2]):
        record["hs_total_price"] = f"bad {n}"  # half of each batch refused, the other half created
    async with Simulator(seed=4) as sim:
        outcomes, summary = await load(sim.url, records, batch_size=2, breaker_window=3, breaker_threshold=0.5)
    assert (summary.created, summary.failed, summary.requests) == (8, 8, 8)
    assert {o.status for line, o in outcomes.items() if line % 2} == {"failed"}


async def test_resends_wait_the_backoff_of_their_attempt_with_the_loaders_random_source(sleeps: list[float]) -> None:
    async with Simulator(seed=5, faults_at={1: "pre_503", 2: "pre_503", 3: "post_500"}) as sim:
        outcomes, summary = await load(sim.url, carts(2), backoff=AttemptBackoff(), max_attempts=4)
    assert sleeps == [0.001, 0.002, 0.003]
    assert {(o.status, o.attempts, o.duplicate_risk, o.unmatched) for o in outcomes.values()} == {
        ("created", 4, True, False)
    }
    assert (summary.requests, summary.retries) == (4, 3)


async def test_a_retry_after_header_replaces_the_backoff(sleeps: list[float]) -> None:
    async with Simulator(seed=6, faults_at={1: "pre_503"}, retry_after_s=0.2) as sim:
        outcomes, _ = await load(sim.url, carts(1), backoff=AttemptBackoff())
    assert sleeps == [1.0]  # Retry-After is whole seconds: 0.2 rounds up to 1
    assert outcomes[1].status == "created"


async def test_a_423_waits_at_least_two_seconds_whatever_the_backoff(sleeps: list[float]) -> None:
    async with Simulator(seed=7, faults_at={1: "locked_423"}) as sim:
        outcomes, _ = await load(sim.url, carts(1), backoff=AttemptBackoff())
    assert sleeps == [2.0]
    assert (outcomes[1].status, outcomes[1].attempts) == ("created", 2)


@pytest.mark.parametrize(("retry_after_s", "pause_s"), [(None, 0.1), (0.2, 1.0)])
async def test_a_429_pauses_the_budget_a_tenth_of_its_window_or_for_retry_after(
    sleeps: list[float], retry_after_s: float | None, pause_s: float
) -> None:
    async with Simulator(rate="5/1s", seed=8, retry_after_s=retry_after_s) as sim:
        # Another integration spends the whole window before each batch's first request.
        budget = PauseBudget(Rate(1000, 10.0), spend={1: sim.url, 3: sim.url})
        outcomes, summary = await load(sim.url, carts(2), budget=budget, backoff=AttemptBackoff(), batch_size=1,
                                       max_attempts=1)  # fmt: skip
        rejected = sim.stats().by_status[429] - budget.spent_rejected
    assert rejected >= 2
    assert budget.limit == Rate(5, 1.0)  # HubSpot's headers told the budget its window: 1 s
    assert budget.pauses == [pause_s] * rejected  # Retry-After is whole seconds: 0.2 rounds up to 1
    assert sleeps == []  # a 429 pauses the whole budget instead of this batch alone
    assert (summary.rate_limited, summary.retries) == (rejected, rejected)
    assert sum(o.attempts for o in outcomes.values()) == rejected + 2  # every 429 counts, none uses up attempts
    assert {o.status for o in outcomes.values()} == {"created"}


async def test_a_resent_batch_is_logged_pending_once(tmp_path: Path) -> None:
    log = tmp_path / "out.ndjson"
    records = carts(4)
    records[1]["hs_total_price"] = "x"
    async with Simulator(seed=9, faults_at={1: "pre_503", 2: "batch_error_traced"}) as sim:
        outcomes: list[Outcome] = []
        async with CartLoader("sim-token", base_url=sim.url, backoff=QUICK, preflight=False, concurrency=1,
                              api_version="v3") as loader:  # fmt: skip
            await loader.create(records, on_outcome=outcomes.append, outcome_log=str(log))
    entries = [orjson.loads(line) for line in log.read_bytes().splitlines()]
    assert [e["status"] for e in entries[:4]] == ["pending"] * 4
    assert sorted((e["line"], e["status"], e["attempts"]) for e in entries[4:]) == [
        (1, "created", 3), (2, "failed", 2), (3, "created", 3), (4, "created", 3),
    ]  # fmt: skip


async def test_no_retry_ambiguous_fails_a_processed_batch_naming_the_answer_or_the_broken_connection() -> None:
    async with Simulator(seed=10, faults_at={1: "post_500", 2: "post_reset"}) as sim:
        outcomes, summary = await load(sim.url, carts(2), batch_size=1, retry_ambiguous=False)
    answered, lost = outcomes[1], outcomes[2]
    assert answered.error == RecordError(
        "AMBIGUOUS", "HubSpot may have processed this batch (HTTP 500 INTERNAL_ERROR); not resent", 500
    )
    assert lost.error is not None and (lost.error.category, lost.error.status) == ("AMBIGUOUS", None)
    assert re.fullmatch(
        r"HubSpot may have processed this batch \(the connection to 127\.0\.0\.1 broke after the request was "
        r"sent: .+\); not resent",
        lost.error.message,
    ), lost.error.message
    assert {(o.status, o.attempts, o.duplicate_risk, o.unmatched) for o in outcomes.values()} == {
        ("failed", 1, False, False)
    }
    assert (summary.requests, summary.unmatched) == (2, 0)


async def test_a_property_hubspot_refused_fails_later_records_without_a_request() -> None:
    async with Simulator(seed=11) as sim:
        outcomes, summary = await load(sim.url, carts(8, no_such_property="1"), batch_size=1)
        requests = sim.stats().requests
    first = outcomes[1].error
    assert outcomes[1].status == "failed" and first is not None and first.status == 400
    # HubSpot's problem names no value: the outcome carries the record's own.
    problems = [(p.property, p.code, p.value) for p in first.details]
    assert problems == [("no_such_property", "PROPERTY_DOESNT_EXIST", "1")]
    # Records read after that answer are refused here, unsent (those already on their way when it came are sent).
    last = outcomes[8].error
    assert outcomes[8].status == "invalid" and last is not None and "refused by HubSpot earlier" in last.message
    assert requests == summary.failed < 8


@pytest.mark.parametrize(("fault", "settled"), [("batch_error_traced", "failed"), ("errors_untraced", "created")])
async def test_records_settled_before_a_401_stops_their_batch_are_never_logged_unsent(
    tmp_path: Path, fault: str, settled: str
) -> None:
    # The first answer settles some records (refused by trace id, or created beside refusals naming no input)
    # and the rest are resent; the token expires before that resend.
    log = tmp_path / "out.ndjson"
    records = carts(4)
    records[1]["hs_total_price"] = "x"
    records[3]["hs_total_price"] = "y"
    async with Simulator(seed=12, faults_at={1: fault}) as sim:
        with pytest.raises(AuthenticationError):
            await load(sim.url, records, budget=ExpiringBudget(sim, 2), api_version="v3", log=log)
    entries = [orjson.loads(line) for line in log.read_bytes().splitlines()]
    final = sorted((e["line"], e["status"]) for e in entries if e["status"] != "pending")
    resent = (1, 3) if settled == "failed" else (2, 4)
    assert final == sorted([(line, settled) for line in {1, 2, 3, 4} - set(resent)] + [(n, "unsent") for n in resent])


class ClosedBudget(RateBudget):
    """A real budget that never grants a request slot (HubSpot's window stays spent)."""

    async def acquire(self) -> None:
        await anyio.sleep_forever()


async def test_cancelling_a_load_whose_first_request_waits_for_its_slot_ends_quietly_logging_nothing(
    tmp_path: Path,
) -> None:
    log = tmp_path / "out.ndjson"
    async with Simulator(seed=13) as sim:
        with anyio.move_on_after(0.2) as scope:
            await load(sim.url, carts(2), budget=ClosedBudget(), log=log)
        assert sim.stats().requests == 0
    assert scope.cancelled_caught
    assert log.read_bytes() == b""  # never sent: neither pending nor unsent


class GateBudget(RateBudget):
    """A real budget whose request slots wait until ``gate`` is set."""

    def __init__(self) -> None:
        super().__init__(Rate(10000, 1.0))
        self.gate = anyio.Event()

    async def acquire(self) -> None:
        await self.gate.wait()
        await super().acquire()


@pytest.mark.parametrize("withdrawn", [(2,), (1, 2)])
async def test_records_withdrawn_while_their_batch_waits_for_its_slot_are_never_sent(
    withdrawn: tuple[int, ...],
) -> None:
    outcomes: dict[int, Outcome] = {}
    sent: list[int] = []
    budget = GateBudget()
    async with Simulator(seed=14) as sim:
        sink = SimpleNamespace(pending=lambda inputs: sent.extend(r.line for r in inputs), settled=lambda _: None)
        async with CartLoader("sim-token", base_url=sim.url, batch_size=2, linger=60, preflight=False, budget=budget,
                              submit_log=sink) as loader:  # fmt: skip
            scopes: dict[int, anyio.CancelScope] = {}

            async def caller(i: int) -> None:
                with anyio.CancelScope() as scopes[i]:
                    outcomes[i] = await loader.submit({"hs_cart_name": f"cart {i}", "hs_external_cart_id": f"ext-{i}"})

            with anyio.fail_after(30):
                async with anyio.create_task_group() as group:
                    for i in (1, 2):
                        group.start_soon(caller, i)
                    await wait_all_tasks_blocked()
                    assert loader.statistics().batches_in_flight == 1  # full, waiting for its slot
                    for i in withdrawn:
                        scopes[i].cancel()
                    await wait_all_tasks_blocked()
                    budget.gate.set()
            statistics = loader.statistics()
        stored = sorted(o.properties["hs_external_cart_id"] for o in sim.objects.values())
        requests = sim.stats().requests
    kept = sorted({1, 2} - set(withdrawn))
    assert stored == [f"ext-{i}" for i in kept]
    assert requests == len(kept)  # a batch left empty takes no request
    assert sent == kept  # a withdrawn record is never logged pending
    assert {i: (o.status, o.attempts) for i, o in outcomes.items()} == dict.fromkeys(kept, ("created", 1))
    assert statistics.records_withdrawn == len(withdrawn)
