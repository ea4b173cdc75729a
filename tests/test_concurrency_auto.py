"""``concurrency="auto"``: the in-flight limit follows rate x latency with headroom, within 1..128, and the loader
never has more requests in flight than it. Properties, not speeds."""

from __future__ import annotations

import math
from collections.abc import AsyncIterator
from typing import cast

import anyio
import pytest
from hypothesis import given
from hypothesis import strategies as st

from cartloader import CartLoader, Outcome, bulk_create
from cartloader.budget.local import RateBudget
from cartloader.cli.options import UsageError, parse_options
from cartloader.config import MAX_AUTO_CONCURRENCY, LoaderConfig
from cartloader.engine.chunker import Chunker
from cartloader.engine.collector import Collector
from cartloader.engine.concurrency import (
    HEADROOM_SIGMAS,
    INITIAL_AUTO_LIMIT,
    LATENCY_HISTORY,
    InFlightLimit,
    needed_in_flight,
)
from cartloader.engine.delivery import Sender
from cartloader.engine.pipeline import run_pipeline
from cartloader.errors import ConfigError
from cartloader.input.normalize import normalize
from cartloader.models import CartInput, InvalidInput, RateLimitHeaders
from cartloader.rate import Rate
from cartloader.simulator import Simulator


@given(rate=st.floats(0.01, 10_000), latency=st.floats(0.0, 120.0))
def test_the_limit_covers_rate_times_latency_within_1_to_128(rate: float, latency: float) -> None:
    needed = needed_in_flight(rate, latency)
    assert 1 <= needed <= MAX_AUTO_CONCURRENCY
    assert needed >= rate * latency or needed == MAX_AUTO_CONCURRENCY
    mean = rate * latency
    # Headroom for the tail: three standard deviations of a Poisson count around the mean, plus one.
    assert needed == MAX_AUTO_CONCURRENCY or mean + 3 * math.sqrt(mean) + 1 <= needed <= mean + 3 * math.sqrt(mean) + 2


@given(rate=st.floats(0.01, 1000), latency=st.floats(0.0, 30.0), more=st.floats(1.0, 10.0))
def test_the_limit_never_falls_when_rate_or_latency_rises(rate: float, latency: float, more: float) -> None:
    needed = needed_in_flight(rate, latency)
    assert needed_in_flight(rate * more, latency) >= needed
    assert needed_in_flight(rate, latency * more) >= needed


def observe(limit: InFlightLimit, latency_s: float, times: int = LATENCY_HISTORY) -> None:
    for _ in range(times):
        limit.observe(latency_s)


def test_auto_follows_latency_up_and_down_at_the_budgets_rate() -> None:
    limit = InFlightLimit("auto", RateBudget(Rate(190, 10.0)))
    assert limit.limit == INITIAL_AUTO_LIMIT
    observe(limit, 0.3)
    assert limit.limit == needed_in_flight(19.0, 0.3)
    observe(limit, 1.0)
    high = limit.limit
    assert high == needed_in_flight(19.0, 1.0)
    observe(limit, 0.3)
    # Down again, lazily: somewhere between what is needed and a third more.
    needed = needed_in_flight(19.0, 0.3)
    assert needed <= limit.limit <= needed / 0.75 < high


def test_auto_keeps_its_limit_through_small_moves_of_latency() -> None:
    limit = InFlightLimit("auto", RateBudget(Rate(190, 10.0)))
    observe(limit, 1.0)
    before = limit.limit
    observe(limit, 0.85)
    assert needed_in_flight(19.0, 0.85) < before
    assert limit.limit == before


def test_auto_follows_the_rate_the_budget_learns() -> None:
    budget = RateBudget(Rate(100, 10.0))
    limit = InFlightLimit("auto", budget)
    observe(limit, 0.5)
    low = limit.limit
    assert low == needed_in_flight(10.0, 0.5)
    budget_high = RateBudget(Rate(1000, 10.0))
    high = InFlightLimit("auto", budget_high)
    observe(high, 0.5)
    assert high.limit == needed_in_flight(100.0, 0.5) > low


def test_a_fixed_limit_never_moves() -> None:
    limit = InFlightLimit(7, RateBudget(Rate(190, 10.0)))
    observe(limit, 5.0)
    assert limit.limit == 7
    assert not limit.statistics().auto


def test_concurrency_is_auto_or_a_positive_number() -> None:
    assert LoaderConfig().concurrency == "auto"
    assert LoaderConfig(concurrency=3).connections == 3
    assert LoaderConfig().connections == MAX_AUTO_CONCURRENCY
    for bad in (0, -1, "fast", 2.5, True):
        with pytest.raises(ConfigError):
            LoaderConfig(concurrency=bad)  # type: ignore[arg-type]


def test_the_command_line_takes_auto_or_a_number() -> None:
    assert parse_options(["in.ndjson"]).concurrency == "auto"
    assert parse_options(["in.ndjson", "--concurrency", "auto"]).concurrency == "auto"
    assert parse_options(["in.ndjson", "--concurrency", "12"]).concurrency == 12
    with pytest.raises(UsageError, match="auto or a whole number"):
        parse_options(["in.ndjson", "--concurrency", "lots"])


@pytest.mark.anyio
async def test_a_loaded_run_keeps_in_flight_under_the_limit_auto_derives_from_rate_and_latency() -> None:
    samples: list[tuple[int, float | None, int]] = []
    async with (
        Simulator(latency_ms=(200.0, 200.0), seed=1) as sim,  # ~70 ms for a batch of five
        # Evenly paced: under the burst pace auto also makes room for the whole burst (test_concurrency_burst.py).
        CartLoader("sim-token", base_url=sim.url, rate="400/1s", batch_size=5, pace="even") as loader,
    ):

        def sample(_: Outcome) -> None:
            s = loader.statistics().concurrency
            samples.append((s.limit, s.latency_ms, s.in_flight))

        summary = await loader.create([{"hs_cart_name": f"c{i}"} for i in range(1500)], on_outcome=sample)
        final = loader.statistics().concurrency
    assert summary.created == 1500
    limits = [limit for limit, _, _ in samples]
    assert all(1 <= limit <= MAX_AUTO_CONCURRENCY for limit in limits)
    assert final.auto and final.latency_ms is not None
    # The limit it settled on is what rate x latency asks for (or up to a quarter more: it shrinks lazily).
    needed = needed_in_flight(400.0, final.latency_ms / 1000)
    assert needed <= final.limit <= max(needed / 0.75, needed + 1)
    assert final.limit > INITIAL_AUTO_LIMIT  # 400/s x ~70 ms needs more than the starting ten
    # HubSpot never saw more requests at once than the highest limit the loader had set.
    assert sim.stats().peak_concurrency <= max(limits)
    # ... and workers followed the limit up: more than the starting ten were in flight at once.
    assert sim.stats().peak_concurrency > INITIAL_AUTO_LIMIT


@pytest.mark.anyio
async def test_a_fixed_concurrency_bounds_the_requests_in_flight() -> None:
    async with Simulator(latency_ms=(30.0, 30.0), seed=2) as sim:
        summary = await bulk_create(
            [{"hs_cart_name": f"c{i}"} for i in range(300)],
            token="sim-token",
            base_url=sim.url,
            rate="1000/1s",
            batch_size=5,
            concurrency=3,
        )
        assert summary.created == 300
        assert sim.stats().peak_concurrency <= 3


@pytest.mark.anyio
async def test_a_small_run_starts_workers_for_its_batches_not_for_the_whole_limit() -> None:
    # Many create() calls of a few records each share one loader whose limit may be 128: each run must not start
    # a worker task per place (a service with 1,000 such calls would start 128,000 tasks).
    workers: list[int] = []
    answered = anyio.Event()

    def count(_: object) -> None:
        workers.append(sum("_Crew._work" in (task.name or "") for task in anyio.get_running_tasks()))
        answered.set()

    async def records() -> AsyncIterator[dict[str, str]]:
        for i in range(25):
            yield {"hs_external_cart_id": f"ext-{i}"}
        await answered.wait()  # the source stays open (a slow source): idle workers would still be waiting

    async with Simulator(seed=21) as sim:
        summary = await bulk_create(
            records(),
            token="sim-token",
            base_url=sim.url,
            concurrency=100,
            batch_size=10,
            linger=0.01,
            preflight=False,
            on_outcome=count,
        )
    assert summary.created == 25
    assert workers and max(workers) <= 4  # three batches, and one worker waiting for a fourth


def latency_for(needed: int, rate_per_s: float) -> float:
    """A mean latency for which ``needed_in_flight`` gives ``needed`` at ``rate_per_s``, half a place from either
    edge (so a mean read back from a sum of latencies rounds to the same)."""
    root = (-HEADROOM_SIGMAS + math.sqrt(HEADROOM_SIGMAS**2 + 4 * (needed - 1.5))) / 2  # m + 3 sqrt(m) + 1 = n - 0.5
    latency = root * root / rate_per_s
    assert needed_in_flight(rate_per_s, latency) == needed
    return latency


class OwnBudget:
    """A budget of the caller's own (``budget=``): the ``Budget`` protocol only, no ``burst``."""

    limit = Rate(19, 1.0)

    async def acquire(self) -> None:
        pass

    def observe(self, headers: RateLimitHeaders, sent_at: float) -> None:
        pass

    def pause(self, seconds: float) -> None:
        pass


def test_a_mean_latency_of_zero_needs_a_single_place() -> None:
    assert needed_in_flight(19.0, 0.0) == 1
    assert needed_in_flight(0.0, 3.0) == 1


def test_auto_over_a_budget_without_burst_follows_rate_times_latency_down_to_one_place() -> None:
    limit = InFlightLimit("auto", OwnBudget())
    limit.observe(0.0)  # answers too fast to measure: one place keeps the window full
    assert limit.limit == 1
    observe(limit, latency_for(20, 19.0))
    assert limit.limit == 20


def test_auto_keeps_within_its_maximum_when_rate_times_latency_needs_more() -> None:
    limit = InFlightLimit("auto", RateBudget(Rate(190, 10.0), pace="even"), maximum=5)
    assert limit.limit == 5  # the starting ten, within the maximum
    observe(limit, 10.0)  # 19/s x 10 s needs 190 places
    assert limit.limit == 5


def test_auto_shrinks_only_below_three_quarters_of_its_limit() -> None:
    limit = InFlightLimit("auto", RateBudget(Rate(190, 10.0), pace="even"))
    observe(limit, latency_for(20, 19.0))
    assert limit.limit == 20
    observe(limit, latency_for(15, 19.0))  # exactly three quarters of 20: kept
    assert limit.limit == 20
    observe(limit, latency_for(14, 19.0))  # below: shrinks to what is needed
    assert limit.limit == 14


@pytest.mark.anyio
async def test_changed_wakes_waiters_only_when_the_limit_moves() -> None:
    limit = InFlightLimit("auto", RateBudget(Rate(190, 10.0), pace="even"))
    woken: list[int] = []

    async def waiter() -> None:
        await limit.changed()
        woken.append(limit.limit)

    async with anyio.create_task_group() as group:
        group.start_soon(waiter)
        await anyio.wait_all_tasks_blocked()
        limit.observe(latency_for(INITIAL_AUTO_LIMIT, 19.0))  # needs exactly the ten it has: no move
        await anyio.wait_all_tasks_blocked()
        assert woken == []
        limit.observe(5.0)
        await anyio.wait_all_tasks_blocked()
        assert woken == [limit.limit] and limit.limit > INITIAL_AUTO_LIMIT


def test_statistics_give_the_mean_latency_in_milliseconds_to_a_tenth() -> None:
    limit = InFlightLimit(3, RateBudget())
    assert limit.statistics().latency_ms is None
    limit.observe(0.0123456)
    limit.observe(0.0123456)
    statistics = limit.statistics()
    assert (statistics.auto, statistics.limit, statistics.in_flight, statistics.latency_ms) == (False, 3, 0, 12.3)


@pytest.mark.anyio
async def test_the_repr_names_the_mode_the_limit_and_the_places_in_use() -> None:
    fixed = InFlightLimit(3, RateBudget())
    async with fixed:
        assert repr(fixed) == "InFlightLimit(fixed, limit=3, in_flight=1)"
    assert repr(InFlightLimit("auto", RateBudget())) == f"InFlightLimit(auto, limit={INITIAL_AUTO_LIMIT}, in_flight=0)"


class HeldSender:
    """A sender whose deliveries wait until released: counts the batches in hand at once."""

    def __init__(self) -> None:
        self.in_hand = 0
        self.delivered = 0
        self._gate = anyio.Event()

    async def deliver(self, batch: list[CartInput]) -> None:
        self.in_hand += 1
        try:
            await self._gate.wait()
        finally:
            self.in_hand -= 1
        self.delivered += len(batch)

    def release(self) -> None:
        """Let every delivery in hand end; later ones wait again."""
        gate, self._gate = self._gate, anyio.Event()
        gate.set()


@pytest.mark.anyio
async def test_workers_follow_the_auto_limit_up_at_once_and_down_as_they_finish() -> None:
    limit = InFlightLimit("auto", RateBudget(Rate(190, 10.0), pace="even"))
    sender = HeldSender()

    async def source() -> AsyncIterator[CartInput | InvalidInput]:
        for line in range(1, 61):
            yield normalize({"hs_cart_name": f"cart {line}"}, line)

    async with anyio.create_task_group() as group:
        group.start_soon(
            lambda: run_pipeline(
                source(),
                sender=cast(Sender, sender),
                collector=Collector(),
                concurrency=limit,
                chunker=Chunker(batch_size=1, run_id="r"),
                linger_s=60,
            )
        )
        await anyio.wait_all_tasks_blocked()
        assert sender.in_hand == INITIAL_AUTO_LIMIT
        limit.observe(latency_for(20, 19.0))  # the limit rises while every worker is busy: more are hired
        await anyio.wait_all_tasks_blocked()
        assert sender.in_hand == 20
        observe(limit, latency_for(5, 19.0))
        low = limit.limit  # it falls in steps, each below three quarters of the last
        assert low < INITIAL_AUTO_LIMIT
        await anyio.wait_all_tasks_blocked()
        assert sender.in_hand == 20  # no batch in hand is dropped
        sender.release()  # the workers above the new limit leave as they finish
        await anyio.wait_all_tasks_blocked()
        assert sender.in_hand == low
        while sender.delivered < 60:
            sender.release()
            await anyio.wait_all_tasks_blocked()
            assert sender.in_hand <= low
    assert sender.delivered == 60
