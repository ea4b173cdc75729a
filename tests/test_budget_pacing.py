"""The pacing math is written once (cartloader.budget.pacing) and mirrored by the shared budget's Lua script: on the
same schedule of answers, the per-process budget and the Redis budget arrive at the same spacing and the same
estimate of what other integrations draw."""

from __future__ import annotations

import time

import anyio
import pytest

from cartloader.budget.local import RateBudget
from cartloader.budget.pacing import EDGE_NOISE, measured_others, reserve, smoothed_others, spacing_s
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
            # Three windows apart: a falling estimate has decayed most of the way, so the two clocks (this
            # process's and Redis's) differing by a loaded event loop's lag barely move it.
            await anyio.sleep(3 * WINDOW_S)
