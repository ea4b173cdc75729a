"""Design rule 4, row by row: what each failure means, against the simulator over real HTTP."""

from __future__ import annotations

import socket
import time
from collections.abc import Callable
from typing import Any

import aiohttp
import anyio
import pytest

from cartloader.api.loader import CartLoader, bulk_create
from cartloader.budget.local import RateBudget
from cartloader.config import Backoff
from cartloader.errors import AuthenticationError, DailyLimitError, FatalApiError, MissingScopesError
from cartloader.models import Outcome, RateLimitHeaders
from cartloader.rate import Rate
from cartloader.simulator import Simulator

pytestmark = pytest.mark.anyio

QUICK = Backoff(base_s=0.01, cap_s=0.05)


def carts(count: int, *, unique: bool = True) -> list[dict[str, Any]]:
    records = []
    for i in range(1, count + 1):
        record = {"hs_cart_name": f"cart {i}", "hs_total_price": str(i)}
        if unique:
            record["hs_external_cart_id"] = f"ext-{i}"
        records.append(record)
    return records


class HookedBudget(RateBudget):
    """A real budget that runs a hook before the n-th request slot (to change the simulator mid-run)."""

    def __init__(self, hooks: dict[int, Callable[[], None]]) -> None:
        super().__init__(Rate(1000, 1.0))
        self.hooks = hooks
        self.slots = 0

    async def acquire(self) -> None:
        await super().acquire()
        self.slots += 1
        hook = self.hooks.get(self.slots)
        if hook is not None:
            hook()


async def load(sim: Simulator, records: list[dict[str, Any]], **options: Any) -> tuple[list[Outcome], Any]:
    outcomes: list[Outcome] = []
    options.setdefault("rate", "1000/1s")
    options.setdefault("backoff", QUICK)
    # These rows are about what HubSpot answers: the preflight would refuse bad records before it could.
    options.setdefault("preflight", False)
    summary = await bulk_create(records, token="sim-token", base_url=sim.url, on_outcome=outcomes.append, **options)
    return outcomes, summary


@pytest.mark.parametrize(
    ("fault", "processed"),
    [
        ("pre_503", False),
        ("post_500", True),
        ("post_502", True),
        ("post_504", True),
        ("post_reset", True),
        ("malformed_2xx", True),
        ("post_hang", True),
        # The server read the request before resetting: the client cannot tell it did nothing.
        ("pre_reset", False),
    ],
)
async def test_transient_failure_is_resent_up_to_max_attempts_and_flagged_only_if_ambiguous(
    fault: str, processed: bool
) -> None:
    ambiguous = fault != "pre_503"
    async with Simulator(faults={fault: 1.0}, seed=1) as sim:
        outcomes, summary = await load(sim, carts(5, unique=False), max_attempts=3, timeout=0.5)
        assert sim.stats().requests == 3
        assert len(sim.objects) == (15 if processed else 0)
    assert summary.failed == 5 and summary.requests == 3 and summary.retries == 2
    assert all(o.status == "failed" and o.attempts == 3 for o in outcomes)
    assert all(o.duplicate_risk is ambiguous for o in outcomes)


async def test_a_timeout_after_a_request_was_written_on_a_reused_connection_is_flagged_duplicate_risk() -> None:
    # The first batch leaves its keep-alive connection in the pool; the second reuses it and hangs after
    # HubSpot processed it: a timeout there may follow a write, so its records are flagged.
    async with Simulator(faults_at={2: "post_hang"}, hang_s=600, seed=1) as sim:
        outcomes, summary = await load(sim, carts(10), batch_size=5, concurrency=1, max_attempts=1, timeout=0.5)
        assert len(sim.objects) == 10
    assert summary.requests == 2
    first = {o.line for o in outcomes if o.status == "created"}
    flagged = {o.line for o in outcomes if o.status == "failed" and o.duplicate_risk}
    assert len(first) == 5 and len(flagged) == 5 and first.isdisjoint(flagged)


async def test_connect_error_is_resent_without_duplicate_risk() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]  # closed again at once: nothing listens there
    outcomes: list[Outcome] = []
    summary = await bulk_create(
        carts(3),
        token="t",
        base_url=f"http://127.0.0.1:{port}",
        on_outcome=outcomes.append,
        max_attempts=2,
        backoff=QUICK,
        rate="1000/1s",
        preflight=False,
    )
    assert summary.failed == 3 and summary.requests == 2
    assert all(o.error is not None and o.error.category == "CONNECTION_ERROR" for o in outcomes)
    assert not any(o.duplicate_risk for o in outcomes)


async def test_ambiguous_failure_then_success_creates_duplicates_only_where_flagged() -> None:
    async with Simulator(faults={"post_500": 1.0}, seed=2) as sim:
        budget = HookedBudget({2: lambda: sim.set_fault("post_500", 0.0)})
        outcomes, summary = await load(sim, carts(20, unique=False), budget=budget, batch_size=10, concurrency=1)
        names = [o.properties["hs_cart_name"] for o in sim.objects.values()]
    duplicated = {name for name in names if names.count(name) > 1}
    flagged = {f"cart {o.line}" for o in outcomes if o.duplicate_risk}
    assert summary.created == 20
    assert duplicated == flagged == {f"cart {i}" for i in range(1, 11)}
    assert summary.duplicate_risk == 10


async def test_conflict_on_resend_after_ambiguous_attempt_fails_with_duplicate_risk() -> None:
    # Without the preflight the loader does not know which properties are unique, so it cannot tell whether
    # another line carries the value: nothing is read back (tests/test_readback.py reads back with it).
    async with Simulator(faults={"post_500": 1.0}, seed=3, unique=("hs_external_cart_id",)) as sim:
        budget = HookedBudget({2: lambda: sim.set_fault("post_500", 0.0)})
        outcomes, summary = await load(sim, carts(10), budget=budget)
        assert len(sim.objects) == 10  # the unique property kept HubSpot from duplicating
    assert summary.failed == 10
    assert all(o.error is not None and o.error.category == "CONFLICT" and o.duplicate_risk for o in outcomes)
    assert all(o.error is not None and o.error.status == 409 for o in outcomes)


async def test_no_retry_ambiguous_fails_the_batch_as_ambiguous_after_one_request() -> None:
    async with Simulator(faults={"post_502": 1.0}, seed=4) as sim:
        outcomes, summary = await load(sim, carts(4), retry_ambiguous=False)
        assert sim.stats().requests == 1
    assert summary.failed == 4
    assert all(o.error is not None and o.error.category == "AMBIGUOUS" and o.attempts == 1 for o in outcomes)


async def test_locked_423_waits_at_least_two_seconds_before_resending() -> None:
    async with Simulator(faults={"locked_423": 1.0}, seed=5) as sim:
        started = time.monotonic()
        outcomes, summary = await load(sim, carts(2), max_attempts=2)
        elapsed = time.monotonic() - started
    assert elapsed >= 2.0
    assert summary.requests == 2 and summary.failed == 2
    assert not any(o.duplicate_risk for o in outcomes)


async def test_ten_secondly_429_is_resent_after_a_pause_without_duplicate_risk_and_never_uses_up_attempts() -> None:
    async with Simulator(rate="5/1s", seed=6) as sim:
        # Another integration on the same app has just spent the whole window.
        async with aiohttp.ClientSession() as other:
            for _ in range(5):
                async with other.get(
                    f"{sim.url}/crm/v3/objects/carts/1", headers={"Authorization": "Bearer sim-token"}
                ):
                    pass
        sim.reset_stats()
        # One batch and a single attempt allowed: only a 429 that does not count as an attempt lets it through.
        outcomes, summary = await load(sim, carts(10), batch_size=10, concurrency=1, max_attempts=1)
        assert len(sim.objects) == 10
        stats = sim.stats()
    rejected = stats.rate_limited.get("TEN_SECONDLY_ROLLING", 0)
    assert rejected >= 1
    assert summary.rate_limited == rejected == stats.by_status[429]
    assert summary.created == 10
    assert summary.requests == rejected + 1 == stats.requests
    # Every request carried the whole batch: each record's attempts count them all, 429s included.
    assert {o.attempts for o in outcomes} == {rejected + 1}
    assert not any(o.duplicate_risk for o in outcomes)


async def test_expired_token_is_refreshed_once_and_the_batch_resent() -> None:
    calls = 0

    async def token() -> str:
        nonlocal calls
        calls += 1
        return f"tok-{calls}"

    async with Simulator(tokens={"tok-1": frozenset({"crm.objects.carts.write"})}, seed=7) as sim:
        sim.add_token("tok-2")
        sim.expire_token("tok-1")
        outcomes: list[Outcome] = []
        summary = await bulk_create(
            carts(30), token=token, base_url=sim.url, on_outcome=outcomes.append, batch_size=10, rate="1000/1s"
        )
        assert sim.stats().by_status.get(401, 0) >= 1
    assert calls == 2
    assert summary.created == 30


async def test_a_token_still_refused_after_refresh_stops_the_run() -> None:
    async def token() -> str:
        return "never-valid"

    async with Simulator(seed=8) as sim:
        with pytest.raises(AuthenticationError) as caught:
            await bulk_create(carts(5), token=token, base_url=sim.url, rate="1000/1s")
        assert sim.stats().requests == 2  # the first, then one after the refresh
    assert caught.value.category == "INVALID_AUTHENTICATION"
    assert caught.value.correlation_id


@pytest.mark.parametrize("concurrency", [1, 8])
async def test_fatal_401_stops_with_at_most_concurrency_requests(concurrency: int) -> None:
    async with Simulator(seed=9) as sim:
        with pytest.raises(AuthenticationError):
            await bulk_create(
                carts(2000), token="wrong", base_url=sim.url, batch_size=10, concurrency=concurrency, rate="1000/1s"
            )
        assert 1 <= sim.stats().requests <= concurrency


async def test_missing_scopes_403_raises_with_category_and_correlation_id() -> None:
    async with Simulator(tokens={"reader": frozenset({"crm.objects.carts.read"})}, seed=10) as sim:
        with pytest.raises(MissingScopesError) as caught:
            await bulk_create(carts(5), token="reader", base_url=sim.url, rate="1000/1s")
    assert caught.value.category == "MISSING_SCOPES"
    assert caught.value.status == 403
    assert caught.value.correlation_id


async def test_daily_limit_429_stops_the_run() -> None:
    async with Simulator(daily=2, seed=11) as sim:
        outcomes: list[Outcome] = []
        with pytest.raises(DailyLimitError) as caught:
            await bulk_create(
                carts(500),
                token="sim-token",
                base_url=sim.url,
                batch_size=100,
                concurrency=1,
                on_outcome=outcomes.append,
                rate="1000/1s",
                preflight=False,  # the two requests of the day go to batches
            )
        assert len(sim.objects) == 200
    assert caught.value.category == "DAILY"
    assert len([o for o in outcomes if o.status == "created"]) == 200


async def test_whole_batch_404_for_the_object_type_stops_the_run() -> None:
    async with Simulator(seed=12) as sim:
        with pytest.raises(FatalApiError) as caught:
            await bulk_create(carts(5), token="sim-token", base_url=sim.url, object_type="kart", rate="1000/1s")
    assert caught.value.status == 404
    assert "kart" in str(caught.value)


async def test_circuit_breaker_stops_a_run_whose_requests_mostly_fail_the_same_way() -> None:
    async with Simulator(faults={"pre_503": 1.0}, seed=13) as sim:
        with pytest.raises(FatalApiError) as caught:
            await load(sim, carts(5000), batch_size=10, concurrency=4, max_attempts=1000)
        requests = sim.stats().requests
    assert caught.value.category == "CIRCUIT_OPEN"
    assert "HTTP 503" in str(caught.value)
    assert 24 <= requests <= 32 + 4


async def test_cancelling_a_run_loses_no_answered_outcome() -> None:
    outcomes: list[Outcome] = []
    async with Simulator(latency_ms=(80.0, 120.0), seed=14) as sim:
        async with CartLoader("sim-token", base_url=sim.url, concurrency=4, batch_size=10, rate="1000/1s") as loader:
            with anyio.move_on_after(0.5):
                await loader.create(carts(3000), on_outcome=outcomes.append)
        assert sim.stats().in_flight == 0
        stored = dict(sim.objects)
    created = {o.id: o for o in outcomes if o.status == "created" and o.id is not None}
    assert 0 < len(created) < 3000
    assert set(created) == set(stored)  # every object HubSpot made has its outcome, and no more
    for object_id, outcome in created.items():
        assert stored[object_id].properties["hs_external_cart_id"] == f"ext-{outcome.line}"


async def test_budget_headers_lower_the_pace_when_others_draw_on_the_same_window() -> None:
    budget = RateBudget(margin=1.0)
    now = time.monotonic()
    budget.observe(RateLimitHeaders(max=100, remaining=99, interval_ms=1000, daily=None, daily_remaining=None), now)
    alone = budget.statistics().effective_per_s
    budget.observe(RateLimitHeaders(max=100, remaining=40, interval_ms=1000, daily=None, daily_remaining=None), now)
    shared = budget.statistics().effective_per_s
    assert budget.limit == Rate(100, 1.0)
    assert alone == pytest.approx(99, rel=0.05)
    assert shared == pytest.approx(40, rel=0.1)


async def test_a_known_load_the_daily_quota_cannot_cover_is_warned_once(caplog: pytest.LogCaptureFixture) -> None:
    async with Simulator(daily=4, seed=15) as sim:
        with caplog.at_level("WARNING", logger="cartloader"), pytest.raises(DailyLimitError):
            await bulk_create(carts(1000), token="sim-token", base_url=sim.url, concurrency=1, rate="1000/1s")
    warnings = [r.getMessage() for r in caplog.records if "daily limit leaves" in r.getMessage()]
    assert len(warnings) == 1
    assert "about 9 more are needed" in warnings[0]
