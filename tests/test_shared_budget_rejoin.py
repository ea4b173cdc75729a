"""A partial rejoin after Redis restarted (issue 25), against a real Redis server: the participants back in Redis
run at the share of the limit that matches how many of the expected participants are back (a burst and an
interval scaled by members/expected), so with the others still on their 1/N fallback the total never exceeds the
limit; once every participant is back, the whole limit again."""

from __future__ import annotations

import math

import anyio
import pytest

from cartloader.budget.pacing import burst_capacity, guard_s, reserve, spacing_s
from cartloader.budget.shared import SharedBudget
from cartloader.models import RateLimitHeaders
from cartloader.rate import Rate
from tests.test_shared_budget_support import RedisServer

pytestmark = pytest.mark.anyio

LIMIT = Rate(100, 0.2)  # a short window: losing Redis under the burst pace waits one out
PARTICIPANTS = 4
REJOIN_S = 0.05
ANSWER = RateLimitHeaders(max=100, remaining=99, interval_ms=200, daily=None, daily_remaining=None)


def _rate(budget: SharedBudget) -> float:
    """Requests per second this participant (or, in Redis, the participants there together) may draw."""
    return budget.statistics().effective_per_s


@pytest.mark.parametrize("pace", ["burst", "even"])
async def test_participants_rejoining_a_restarted_redis_share_the_limit_with_those_still_on_their_own(
    redis_server: RedisServer, pace: str
) -> None:
    url = redis_server.url(f"rejoin-{pace}")
    budgets = [SharedBudget.from_url(url, rate=LIMIT, pace=pace, rejoin_after_s=REJOIN_S) for _ in range(4)]
    for budget in budgets:
        await budget.connect()
    try:
        for budget in budgets:  # every participant joined, and HubSpot answered each
            await budget.acquire()
            budget.observe(ANSWER, 0.0)
        for budget in budgets:
            await budget.acquire()
        assert [b.participants for b in budgets] == [PARTICIPANTS] * 4
        full_burst = budgets[0].burst

        await anyio.to_thread.run_sync(redis_server.kill)
        with anyio.fail_after(10):  # each notices and goes on alone at 1/4 (together: each waits out a window first)
            async with anyio.create_task_group() as group:
                for budget in budgets:
                    group.start_soon(budget.acquire)
        assert all(budget.statistics().fallback for budget in budgets)
        alone = _rate(budgets[0])
        assert alone == pytest.approx(((LIMIT.requests - reserve(LIMIT)) / PARTICIPANTS - 1) / LIMIT.window_s, rel=0.01)

        await anyio.to_thread.run_sync(redis_server.start)
        await anyio.sleep(2 * REJOIN_S)
        for back in (1, 2, 3):
            rejoining = budgets[back - 1]
            with anyio.fail_after(10):
                await rejoining.acquire()  # rejoins the restarted Redis, expecting the 4 it last saw
            in_redis, on_their_own = budgets[:back], budgets[back:]
            assert not any(b.statistics().fallback for b in in_redis)
            assert all(b.statistics().fallback for b in on_their_own)
            share = back / PARTICIPANTS
            for budget in in_redis:
                await budget.acquire()  # each learns the share of the current members
                assert budget.participants == back
            answer = in_redis[-1]
            # The interval is stretched by expected/members; the burst shrunk by members/expected.
            assert answer._answer.interval_s == pytest.approx(spacing_s(LIMIT, 0.0) / share, rel=0.01)
            if pace == "burst":
                assert answer.burst == math.floor(burst_capacity(LIMIT, 0.0) * share)
                assert answer.burst < full_burst
                together = answer.burst / (LIMIT.window_s + guard_s(LIMIT.window_s))
            else:
                together = _rate(answer)
            # Those in Redis together, plus each one still alone: never above the limit.
            total = together + sum(_rate(b) for b in on_their_own)
            assert total <= LIMIT.per_second
            assert together == pytest.approx(share * LIMIT.per_second, rel=0.05)

        last = budgets[-1]
        with anyio.fail_after(10):
            await last.acquire()  # the last one is back: the whole limit again
        for budget in budgets:
            await budget.acquire()
        assert last.participants == PARTICIPANTS
        if pace == "burst":
            assert last.burst == full_burst
        assert last._answer.interval_s == pytest.approx(spacing_s(LIMIT, 0.0), rel=0.01)
    finally:
        for budget in budgets:
            await budget.aclose()
