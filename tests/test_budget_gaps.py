"""Gaps in the rate budget's proofs that hand-made mutants showed (issue 25), closed on a clock moved by hand: a
request that reaches HubSpot late at random keeps its place from its arrival (burst pace); a ``--rate`` cap above
what HubSpot advertises is lowered to it; a pause is never dropped nor cut short by a shorter one (even pace)."""

from __future__ import annotations

import random

import anyio
import pytest

from cartloader.budget.local import RateBudget
from cartloader.budget.pacing import guard_s
from cartloader.models import RateLimitHeaders
from cartloader.rate import Rate
from tests.test_budget_support import OURS, HubSpotWindow, VirtualClock, Workers, virtual_time

pytestmark = pytest.mark.anyio

LIMIT = Rate(190, 1.0)
LATENCY_S = 0.03
STEP_S = 0.001


async def test_requests_reaching_hubspot_late_at_random_hold_their_place_from_their_arrival() -> None:
    # Each request reaches HubSpot 0 to 120 ms after it went (a new connection, a busy event loop), in any order:
    # far beyond the guard (15 ms). Counted from when they went, the places would free too early and HubSpot,
    # counting arrivals, would refuse what the budget let out.
    lag_s = 0.12
    assert lag_s > 5 * guard_s(LIMIT.window_s)
    with virtual_time() as clock:
        hubspot = HubSpotWindow(LIMIT.requests, LIMIT.window_s)
        budget = RateBudget(clock=clock)
        rng = random.Random(7)
        sending = Workers(budget, hubspot, clock, LATENCY_S, lag=lambda: rng.uniform(0, lag_s))
        async with anyio.create_task_group() as group:
            group.start_soon(sending.run, 256)
            await clock.run_until(5 * LIMIT.window_s, STEP_S)
            group.cancel_scope.cancel()
    assert hubspot.refused == 0
    assert hubspot.peak(LIMIT.window_s) <= LIMIT.requests
    # ... and the budget still fills the windows (it does not hold places longer than it must).
    assert hubspot.count(5 * LIMIT.window_s, 4 * LIMIT.window_s, OURS) >= 4 * LIMIT.requests * 0.9


def _headers(limit: Rate, remaining: int) -> RateLimitHeaders:
    return RateLimitHeaders(
        max=limit.requests,
        remaining=remaining,
        interval_ms=round(limit.window_s * 1000),
        daily=None,
        daily_remaining=None,
    )


async def _slots(budget: RateBudget, clock: VirtualClock, count: int, *, until: float) -> list[float]:
    """``count`` slots taken one after the other from ``budget``, on the virtual clock run until ``until``."""
    taken: list[float] = []

    async def take() -> None:
        for _ in range(count):
            await budget.acquire()
            taken.append(clock.now)

    async with anyio.create_task_group() as group:
        group.start_soon(take)
        await clock.run_until(until, STEP_S)
        group.cancel_scope.cancel()
    return taken


@pytest.mark.parametrize("pace", ["even", "burst"])
async def test_a_cap_above_the_advertised_limit_is_lowered_to_it(pace: str) -> None:
    cap, advertised = Rate(200, 1.0), Rate(100, 1.0)
    with virtual_time() as clock:
        budget = RateBudget(cap, pace=pace, clock=clock, before_first_answer=None)
        assert budget.limit == cap
        budget.observe(_headers(advertised, advertised.requests - 1), clock())
        assert budget.limit == advertised
        taken = await _slots(budget, clock, 400, until=2.0)
    # At most HubSpot's 100 in any second (the even pace less its reserve), never the cap's 200.
    peak = max(sum(1 for t in taken if end - 1.0 < t <= end) for end in taken)
    assert 90 <= peak <= advertised.requests
    if pace == "even":
        assert budget.statistics().effective_per_s == pytest.approx(98, rel=0.01)


async def test_a_cap_below_the_advertised_limit_stays_the_limit() -> None:
    cap = Rate(50, 1.0)
    with virtual_time() as clock:
        budget = RateBudget(cap, pace="even", clock=clock, before_first_answer=None)
        budget.observe(_headers(Rate(100, 1.0), 99), clock())
        assert budget.limit == cap
        assert budget.statistics().effective_per_s == pytest.approx(48, rel=0.01)


@pytest.mark.parametrize("pace", ["even", "burst"])
async def test_a_pause_holds_the_next_slot_until_it_ends(pace: str) -> None:
    with virtual_time() as clock:
        budget = RateBudget(Rate(100, 1.0), pace=pace, clock=clock, before_first_answer=None)
        first = await _slots(budget, clock, 1, until=0.01)
        budget.pause(0.4)
        assert first
        assert budget.statistics().paused_for_s == pytest.approx(0.4, abs=1e-6)
        paused_at = clock.now
        taken = await _slots(budget, clock, 3, until=1.0)
    assert min(taken) >= paused_at + 0.4 - 1e-6


@pytest.mark.parametrize("pace", ["even", "burst"])
async def test_a_shorter_later_pause_never_cuts_a_longer_one_short(pace: str) -> None:
    with virtual_time() as clock:
        budget = RateBudget(Rate(100, 1.0), pace=pace, clock=clock, before_first_answer=None)
        budget.pause(0.5)
        paused_at = clock.now
        await clock.run_until(0.1, STEP_S)
        budget.pause(0.1)  # a later 429 asking less: the first pause still holds until 0.5
        budget.pause(0.05)
        taken = await _slots(budget, clock, 2, until=1.0)
    assert min(taken) >= paused_at + 0.5 - 1e-6


async def test_overlapping_pauses_do_not_add_up() -> None:
    with virtual_time() as clock:
        budget = RateBudget(Rate(100, 1.0), pace="even", clock=clock, before_first_answer=None)
        budget.pause(0.3)
        budget.pause(0.3)
        taken = await _slots(budget, clock, 1, until=1.0)
    assert 0.3 - 1e-6 <= taken[0] <= 0.3 + 2 * STEP_S
