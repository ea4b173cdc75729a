"""The pacing math is written once (cartloader.budget.pacing) and mirrored by the shared budget's Lua script: on the
same schedule of answers, the per-process budget and the Redis budget let the same requests go at once, arrive at
the same spacing and the same estimate of what other integrations draw."""

from __future__ import annotations

import time

import anyio
import pytest

from cartloader.budget.local import RateBudget
from cartloader.budget.pacing import (
    BEFORE_FIRST_ANSWER,
    EDGE_NOISE,
    burst_capacity,
    first_others,
    guard_s,
    highest_lower,
    latest_arrival,
    lower_others,
    measured_others,
    next_burst_slot,
    reserve,
    smoothed_others,
    spacing_s,
)
from cartloader.budget.shared import SharedBudget
from cartloader.models import RateLimitHeaders
from cartloader.rate import Rate
from tests.test_shared_budget_support import RedisServer

pytestmark = pytest.mark.anyio

WINDOW_S = 0.5
LIMIT = 100


def _headers(remaining: int) -> RateLimitHeaders:
    return RateLimitHeaders(
        max=LIMIT, remaining=remaining, interval_ms=int(WINDOW_S * 1000), daily=None, daily_remaining=None
    )


def test_the_formulas_give_the_documented_numbers() -> None:
    limit = Rate(190, 10.0)
    assert reserve(limit) == pytest.approx(2.85)
    assert reserve(Rate(20, 1.0)) == 2.0  # never fewer than two requests
    assert spacing_s(limit, others=0.0) == pytest.approx(10 / (190 - 2.85))
    assert spacing_s(limit, others=500.0) == 10.0  # at least one request per window
    assert measured_others(190, 100, 30) == 190 - 100 - 30 - EDGE_NOISE
    assert smoothed_others(10.0, 40.0, 5.0, 10.0) == 40.0  # rises at once
    assert smoothed_others(40.0, 10.0, 10.0, 10.0) == pytest.approx(10 + 30 / 2.718281828, rel=1e-6)
    # Burst pace
    assert guard_s(10.0) == pytest.approx(0.15)
    assert burst_capacity(limit, others=0.0) == 190  # alone, the guard in time is the whole reserve
    assert burst_capacity(limit, others=0.9) == 190  # less than one request is none
    assert burst_capacity(limit, others=1.0) == 188  # one drawn, one held back for the error
    assert burst_capacity(limit, others=57.0) == 190 - 57 - 3  # 2.85 held back, whole requests only
    assert burst_capacity(limit, others=500.0) == 1
    assert next_burst_slot([], now=5.0, span_s=1.0, capacity=2) == 5.0
    assert next_burst_slot([4.5], now=5.0, span_s=1.0, capacity=2) == 5.0  # a free place: at once
    assert next_burst_slot([4.5, 4.7], now=5.0, span_s=1.0, capacity=2) == 5.5  # when the oldest is a span old
    assert next_burst_slot([3.0, 4.7], now=5.0, span_s=1.0, capacity=2) == 5.0
    assert latest_arrival(1.0, answered_at=1.5, fastest_s=0.3) == pytest.approx(1.2)
    assert latest_arrival(1.0, answered_at=1.2, fastest_s=0.3) == 1.0
    assert first_others(190, 150) == 39.0
    assert lower_others(190, 10, 170) == 10.0
    assert lower_others(190, 10, 185) == 0.0
    assert highest_lower((5.0, 0.0, 3.0), 4.0, 0.5, 1.0) == (5.0, 0.0, 3.0)  # the highest of this window
    assert highest_lower((5.0, 0.0, 3.0), 4.0, 1.2, 1.0) == (4.0, 1.2, 5.0)  # a new window keeps the last one


@pytest.mark.timing
async def test_the_local_and_the_redis_budget_pace_alike_on_the_same_answers(redis_server: RedisServer) -> None:
    local = RateBudget()
    async with SharedBudget.from_url(redis_server.url("pacing")) as shared:
        # The Redis budget measures others only over windows its log of slots fully covers.
        await anyio.sleep(WINDOW_S * 1.1)
        steps = [60, 90, 75]  # Remaining as HubSpot would report it: others draw 39, then 9, then 24
        for step, remaining in enumerate(steps):
            # As in a run: a slot, then the request, then its answer's headers. Each budget counts that one
            # request as its own in the window HubSpot reported on.
            for budget in (local, shared):
                await budget.acquire()
                budget.observe(_headers(remaining), time.monotonic())
            await shared.acquire()  # delivers the observation to Redis
            await local.acquire()
            mine, theirs = local.statistics(), shared.statistics()
            assert theirs.limit == mine.limit == Rate(LIMIT, WINDOW_S), step
            assert theirs.others_in_window == pytest.approx(mine.others_in_window, abs=0.3), step
            assert theirs.effective_per_s == pytest.approx(mine.effective_per_s, rel=0.01), step
            if step < len(steps) - 1:
                # Three windows apart: a falling estimate has decayed most of the way, so the two clocks (this
                # process's and Redis's) differing by a loaded event loop's lag barely move it.
                await anyio.sleep(3 * WINDOW_S)


async def _taken_at_once(budget: RateBudget | SharedBudget) -> int:
    """How many slots the budget gives before one would have to wait."""
    taken = 0
    while True:
        with anyio.move_on_after(0.05):
            await budget.acquire()
            taken += 1
            continue
        return taken


@pytest.mark.parametrize("remaining", [99, 60])
async def test_the_local_and_the_redis_budget_burst_alike_on_the_same_first_answer(
    redis_server: RedisServer, remaining: int
) -> None:
    local = RateBudget()
    async with SharedBudget.from_url(redis_server.url(f"burst-{remaining}")) as shared:
        for budget in (local, shared):
            assert await _taken_at_once(budget) == BEFORE_FIRST_ANSWER
        # HubSpot's first answer: its first request counted, and (remaining=60) 39 of others'.
        sent_at = time.monotonic() - 0.01
        expected = burst_capacity(Rate(LIMIT, WINDOW_S), first_others(LIMIT, remaining))
        for budget in (local, shared):
            budget.observe(_headers(remaining), sent_at)
            assert await _taken_at_once(budget) == expected - BEFORE_FIRST_ANSWER
        assert local.statistics().burst == shared.statistics().burst == expected


async def test_four_participants_of_one_redis_budget_burst_as_one(redis_server: RedisServer) -> None:
    url = redis_server.url("four-burst")
    async with (
        SharedBudget.from_url(url) as first,
        SharedBudget.from_url(url) as second,
        SharedBudget.from_url(url) as third,
        SharedBudget.from_url(url) as fourth,
    ):
        budgets = (first, second, third, fourth)
        taken = [0] * 4

        async def take(index: int) -> None:
            taken[index] = await _taken_at_once(budgets[index])

        async with anyio.create_task_group() as group:
            for index in range(4):
                group.start_soon(take, index)
        assert sum(taken) == BEFORE_FIRST_ANSWER
        second.observe(_headers(LIMIT - 1), time.monotonic() - 0.01)
        await second.acquire()  # carries the first answer to Redis
        async with anyio.create_task_group() as group:
            for index in range(4):
                group.start_soon(take, index)
        # Together they took the whole window once, never more: the first ten, the one above, and the rest.
        assert BEFORE_FIRST_ANSWER + 1 + sum(taken) == LIMIT
        assert all(count > 0 for count in taken)
