"""Auto concurrency under the burst pace: it makes room for everything the budget lets out at once."""

from __future__ import annotations

from cartloader.budget.local import RateBudget
from cartloader.engine.concurrency import InFlightLimit
from cartloader.models import RateLimitHeaders
from cartloader.rate import Rate


def _answer(budget: RateBudget) -> None:
    headers = RateLimitHeaders(max=190, remaining=189, interval_ms=1000, daily=None, daily_remaining=None)
    budget.observe(headers, sent_at=0.0)


def test_auto_makes_room_for_the_whole_burst_the_budget_lets_out() -> None:
    budget = RateBudget()
    _answer(budget)
    limit = InFlightLimit("auto", budget)
    limit.observe(0.03)  # rate x latency alone would be 190/s x 30 ms: about 14 places
    assert limit.limit == 128  # the burst of 190, within auto's ceiling


def test_auto_under_the_even_pace_follows_rate_times_latency_only() -> None:
    budget = RateBudget(pace="even")
    _answer(budget)
    limit = InFlightLimit("auto", budget)
    limit.observe(0.03)
    assert limit.limit < 20


def test_auto_follows_a_burst_smaller_than_its_ceiling() -> None:
    budget = RateBudget(Rate(40, 1.0))
    _answer(budget)
    limit = InFlightLimit("auto", budget)
    limit.observe(0.001)
    assert limit.limit == 40
