"""Burst pacing (design rule 5), proven on a clock moved by hand: before HubSpot's first answer ten requests go;
the first answer opens every free place of the rolling window at once; then no window, as HubSpot counts it
(arrivals in the trailing interval), ever holds more than the limit allows, alone or beside another integration,
whatever order simultaneous requests arrive in."""

from __future__ import annotations

import itertools
import random
from bisect import bisect_right

import anyio
import pytest

from cartloader.budget.local import RateBudget
from cartloader.budget.pacing import BEFORE_FIRST_ANSWER, burst_capacity, guard_s
from cartloader.rate import Rate
from tests.test_budget_support import OTHER, OURS, HubSpotWindow, Workers, other_integration, virtual_time

pytestmark = pytest.mark.anyio

LIMIT = Rate(190, 1.0)
LATENCY_S = 0.03
STEP_S = 0.001
GUARD_S = guard_s(LIMIT.window_s)


def _peak(times: list[float], span: float) -> int:
    """The most of ``times`` (sorted) any trailing ``span`` holds."""
    return max((bisect_right(times, t) - bisect_right(times, t - span) for t in times), default=0)


async def _run(
    windows: float,
    *,
    others_per_window: float = 0.0,
    workers: int = 128,
    lag_s: float = 0.0,
    cap: Rate | None = None,
    pace: str = "burst",
    seed: int = 1,
) -> tuple[RateBudget, HubSpotWindow, Workers]:
    """Workers sending through a RateBudget for ``windows`` windows against a model of HubSpot's window; each
    request reaches HubSpot up to ``lag_s`` after it went (in any order), and is answered LATENCY_S later."""
    with virtual_time() as clock:
        hubspot = HubSpotWindow(LIMIT.requests, LIMIT.window_s)
        budget = RateBudget(cap, pace=pace, clock=clock)
        rng = random.Random(seed)
        sending = Workers(budget, hubspot, clock, LATENCY_S, lag=lambda: rng.uniform(0, lag_s))
        async with anyio.create_task_group() as group:
            if others_per_window:
                group.start_soon(other_integration, hubspot, others_per_window, seed)
                await clock.run_until(LIMIT.window_s, STEP_S)  # the other integration is drawing already
            start = clock.now
            group.start_soon(sending.run, workers)
            await clock.run_until(start + windows * LIMIT.window_s, STEP_S)
            group.cancel_scope.cancel()
    return budget, hubspot, sending


async def test_before_the_first_answer_ten_requests_go_at_once_and_no_more() -> None:
    _, _, sending = await _run(0.02)  # less than one latency: no answer yet
    assert len(sending.slots) == BEFORE_FIRST_ANSWER
    assert max(sending.slots) - min(sending.slots) < STEP_S


async def test_the_first_answer_opens_every_free_place_of_the_window_at_once() -> None:
    budget, _, sending = await _run(0.04, workers=256)
    first_answer = min(sending.answered_at)
    at_once = [t for t in sending.slots if first_answer <= t < first_answer + STEP_S]
    assert len(at_once) == LIMIT.requests - BEFORE_FIRST_ANSWER
    assert budget.statistics().burst == LIMIT.requests


async def test_alone_no_rolling_window_ever_holds_more_than_the_limit_and_every_window_is_filled() -> None:
    # Requests sent together reach HubSpot up to 10 ms apart, in any order (within the guard).
    budget, hubspot, sending = await _run(6, lag_s=0.01)
    assert hubspot.refused == 0
    assert hubspot.peak(LIMIT.window_s) == LIMIT.requests  # as HubSpot counts: full, never over
    assert _peak(sending.slots, LIMIT.window_s + GUARD_S) <= LIMIT.requests
    # Out-of-order arrivals did not pass for another integration's draw: the whole window stays ours.
    assert budget.statistics().others_in_window < 1
    assert len(sending.slots) >= 6 * LIMIT.requests * 0.95


async def test_beside_another_integration_the_rolling_count_stays_under_the_limit_from_the_burst_on() -> None:
    others = 57  # 30% of the window
    budget, hubspot, sending = await _run(6, others_per_window=others, lag_s=0.005)
    assert hubspot.refused == 0
    # HubSpot's count, every window from before the first burst on: never more than the limit less one request.
    assert hubspot.peak(LIMIT.window_s) <= LIMIT.requests - 1
    # Ours: never more than what the budget left itself after others' draw and the reserve.
    allowed = burst_capacity(LIMIT, others - 2)
    assert _peak(sending.slots, LIMIT.window_s) <= allowed
    assert budget.statistics().others_in_window == pytest.approx(others, abs=3)
    assert hubspot.peak(LIMIT.window_s, OURS) >= allowed - 6  # and it still uses what is left


async def test_a_request_that_reached_hubspot_late_holds_its_place_a_window_after_it_arrived() -> None:
    # Every tenth request waits 60 ms before it reaches HubSpot (a new connection, say): far beyond the guard.
    lags = iter(lambda: 0.0, None)
    count = 0

    def lag() -> float:
        nonlocal count
        count += 1
        return 0.06 if count % 10 == 1 else next(lags)

    with virtual_time() as clock:
        hubspot = HubSpotWindow(LIMIT.requests, LIMIT.window_s)
        budget = RateBudget(clock=clock)
        sending = Workers(budget, hubspot, clock, LATENCY_S, lag=lag)
        async with anyio.create_task_group() as group:
            group.start_soon(sending.run, 128)
            await clock.run_until(4 * LIMIT.window_s, STEP_S)
            group.cancel_scope.cancel()
    assert hubspot.refused == 0
    assert hubspot.peak(LIMIT.window_s) <= LIMIT.requests


async def test_a_hard_cap_holds_in_every_window_of_its_own() -> None:
    cap = Rate(20, 0.25)
    _, hubspot, sending = await _run(3, cap=cap)
    assert hubspot.refused == 0
    assert _peak(sending.slots, cap.window_s) == cap.requests


async def test_the_even_pace_never_sends_two_requests_closer_than_its_interval() -> None:
    budget, hubspot, sending = await _run(3, pace="even")
    interval = 1 / budget.statistics().effective_per_s
    answered = min(sending.answered_at)
    after_first_answer = [t for t in sorted(sending.slots) if t > answered + LIMIT.window_s]
    gaps = [b - a for a, b in itertools.pairwise(after_first_answer)]
    assert min(gaps) >= interval / 2  # a late wake-up is made up by at most half an interval
    assert hubspot.refused == 0
    assert hubspot.peak(LIMIT.window_s, OTHER) == 0
