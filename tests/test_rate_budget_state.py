"""The per-process rate budget (budget/local.py) read step by step on a clock moved by hand: the limit it
follows, what it learns from each answer's headers (others' draw, the daily count, the window), what it tells
about itself (statistics, waiting, repr), and when it lets the next request go."""

from __future__ import annotations

import logging

import anyio
import pytest

from cartloader.budget.local import RateBudget
from cartloader.budget.pacing import guard_s, spacing_s
from cartloader.config import INITIAL_RATE
from cartloader.errors import ConfigError
from cartloader.models import RateLimitHeaders
from cartloader.rate import Rate
from tests.test_budget_gaps import _slots
from tests.test_budget_support import virtual_time

pytestmark = pytest.mark.anyio

STEP_S = 0.001


class HandClock:
    """A clock that stands still until a test moves it."""

    def __init__(self, now: float = 100.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def _headers(
    max_: int | None = 100,
    remaining: int | None = None,
    interval_ms: int | None = 10_000,
    daily_remaining: int | None = None,
) -> RateLimitHeaders:
    return RateLimitHeaders(
        max=max_, remaining=remaining, interval_ms=interval_ms, daily=None, daily_remaining=daily_remaining
    )


# The limit in force


def test_an_unknown_pace_is_refused_by_name() -> None:
    with pytest.raises(ConfigError, match=r"^invalid pace 'steady': expected one of burst, even$"):
        RateBudget(pace="steady")


def test_the_default_pace_is_burst_and_the_default_limit_hubspots_lowest_tier() -> None:
    budget = RateBudget()
    assert budget.pace == "burst"
    assert budget.limit == INITIAL_RATE
    assert budget.daily_remaining is None


def test_a_cap_is_the_limit_until_hubspot_advertises_a_lower_one() -> None:
    clock = HandClock()
    budget = RateBudget(Rate(20, 1.0), clock=clock)
    assert budget.limit == Rate(20, 1.0)
    budget.observe(_headers(max_=100, interval_ms=10_000), clock())  # 10/s: below the cap's 20/s
    assert budget.limit == Rate(100, 10.0)
    budget.observe(_headers(max_=300, interval_ms=10_000), clock())  # 30/s: the cap again
    assert budget.limit == Rate(20, 1.0)


def test_a_cap_as_fast_as_the_advertised_limit_stays_the_limit() -> None:
    clock = HandClock()
    budget = RateBudget(Rate(10, 1.0), clock=clock)
    budget.observe(_headers(max_=100, interval_ms=10_000), clock())
    assert budget.limit == Rate(10, 1.0)


def test_without_a_cap_the_advertised_limit_is_the_limit() -> None:
    clock = HandClock()
    budget = RateBudget(clock=clock)
    budget.observe(_headers(max_=190, interval_ms=10_000), clock())
    assert budget.limit == Rate(190, 10.0)


def test_an_answer_without_an_interval_keeps_the_window_in_force() -> None:
    clock = HandClock()
    budget = RateBudget(Rate(20, 2.0), clock=clock)
    budget.observe(_headers(max_=8, interval_ms=None), clock())
    assert budget.limit == Rate(8, 2.0)
    budget.observe(_headers(max_=6, interval_ms=0), clock())
    assert budget.limit == Rate(6, 2.0)
    budget.observe(_headers(max_=9, interval_ms=1500), clock())
    assert budget.limit == Rate(9, 1.5)


@pytest.mark.parametrize("max_", [None, 0, -5])
def test_an_answer_without_a_usable_max_leaves_the_limit_but_ends_the_wait_for_the_first_answer(
    max_: int | None,
) -> None:
    clock = HandClock()
    budget = RateBudget(clock=clock)
    assert budget.burst == 10
    budget.observe(_headers(max_=max_, remaining=3, daily_remaining=77), clock())
    assert budget.limit == INITIAL_RATE
    assert budget.burst == INITIAL_RATE.requests
    assert budget.daily_remaining == 77
    assert budget.statistics().others_in_window == 0


def test_an_advertised_limit_of_one_request_is_followed() -> None:
    clock = HandClock()
    budget = RateBudget(clock=clock)
    budget.observe(_headers(max_=1, interval_ms=1000), clock())
    assert budget.limit == Rate(1, 1.0)
    assert budget.burst == 1


def test_the_daily_count_is_the_last_one_seen() -> None:
    clock = HandClock()
    budget = RateBudget(clock=clock)
    budget.observe(_headers(daily_remaining=500), clock())
    budget.observe(_headers(daily_remaining=499), clock())
    budget.observe(_headers(daily_remaining=None), clock())  # an answer without it: still 499
    assert budget.daily_remaining == 499
    assert budget.statistics().daily_remaining == 499


# What it tells about itself


def test_statistics_of_a_new_burst_budget_before_the_first_answer() -> None:
    clock = HandClock()
    budget = RateBudget(clock=clock)
    statistics = budget.statistics()
    span = INITIAL_RATE.window_s + guard_s(INITIAL_RATE.window_s)
    assert statistics.limit == INITIAL_RATE
    assert statistics.pace == "burst"
    assert statistics.burst == 10
    assert statistics.effective_per_s == pytest.approx(10 / span)
    assert statistics.others_in_window == 0
    assert statistics.paused_for_s == 0
    assert statistics.daily_remaining is None
    assert repr(budget) == "RateBudget(limit=100/10s, burst of 10, 0 recent)"


def test_statistics_of_a_burst_budget_after_the_first_answer() -> None:
    clock = HandClock()
    budget = RateBudget(clock=clock)
    budget.observe(_headers(max_=190, remaining=189, interval_ms=10_000, daily_remaining=9), clock())
    statistics = budget.statistics()
    assert statistics.burst == 190
    assert statistics.effective_per_s == pytest.approx(190 / (10 + guard_s(10)))
    assert statistics.daily_remaining == 9
    assert repr(budget) == "RateBudget(limit=190/10s, burst of 190, 0 recent)"


def test_a_burst_budget_with_a_cap_is_held_to_the_slower_of_its_two_windows() -> None:
    clock = HandClock()
    budget = RateBudget(Rate(20, 1.0), clock=clock, before_first_answer=None)
    assert budget.burst == 20
    assert budget.statistics().effective_per_s == pytest.approx(20 / (1 + guard_s(1.0)))
    budget.observe(_headers(max_=100, remaining=99, interval_ms=10_000), clock())
    # HubSpot's 100 in 10 s is slower than 20 in 1 s: it holds, and lets out at most 20 at once still.
    assert budget.burst == 20
    assert budget.statistics().effective_per_s == pytest.approx(100 / (10 + guard_s(10.0)))


def test_statistics_of_a_new_even_budget() -> None:
    budget = RateBudget(pace="even", clock=HandClock())
    statistics = budget.statistics()
    assert statistics.pace == "even"
    assert statistics.burst == 1
    assert statistics.effective_per_s == pytest.approx(1 / spacing_s(INITIAL_RATE, 0.0))
    assert statistics.effective_per_s == pytest.approx(9.8)
    expected = f"RateBudget(limit=100/10s, even, every {spacing_s(INITIAL_RATE, 0.0) * 1000:.1f} ms)"
    assert repr(budget) == expected == "RateBudget(limit=100/10s, even, every 102.0 ms)"


def test_the_margin_given_sets_the_reserve() -> None:
    budget = RateBudget(Rate(1000, 10.0), pace="even", margin=0.9, clock=HandClock())
    assert budget.statistics().effective_per_s == pytest.approx(90)
    burst = RateBudget(Rate(1000, 10.0), margin=0.9, clock=HandClock(), before_first_answer=None)
    assert burst.statistics().effective_per_s == pytest.approx(1000 / 11)


def test_paused_for_counts_down_and_never_below_zero() -> None:
    clock = HandClock()
    budget = RateBudget(clock=clock)
    budget.pause(2.0)
    clock.now += 0.5
    assert budget.statistics().paused_for_s == pytest.approx(1.5)
    clock.now += 5
    assert budget.statistics().paused_for_s == 0


def test_waiting_tells_a_pause_from_a_full_window_and_ignores_a_wait_under_50_ms() -> None:
    clock = HandClock()
    budget = RateBudget(Rate(2, 1.0), clock=clock, before_first_answer=None)
    assert budget.waiting() is None
    budget.pause(0.05)
    assert budget.waiting() is None  # 50 ms: not worth telling
    budget.pause(0.3)
    waited, why = budget.waiting() or (0.0, "")
    assert waited == pytest.approx(0.3)
    assert why == "pause"
    clock.now += 0.3
    assert budget.waiting() is None


async def test_waiting_names_a_full_window() -> None:
    with virtual_time() as clock:
        budget = RateBudget(Rate(2, 1.0), clock=clock, before_first_answer=None)
        taken = await _slots(budget, clock, 2, until=0.01)
        assert len(taken) == 2
        waited, why = budget.waiting() or (0.0, "")
        assert why == "window"
        assert waited == pytest.approx(1 + guard_s(1.0) - clock.now, abs=1e-6)
        budget.pause(0.2)  # shorter than the window's wait: the window is still why
        assert (budget.waiting() or (0.0, ""))[1] == "window"
        budget.pause(2.0)
        assert (budget.waiting() or (0.0, ""))[1] == "pause"


def test_the_even_spacing_is_logged_when_it_moves_more_than_header_noise(caplog: pytest.LogCaptureFixture) -> None:
    clock = HandClock()
    caplog.set_level(logging.DEBUG, logger="cartloader")
    budget = RateBudget(pace="even", clock=clock)
    assert caplog.messages == []
    before = budget.statistics().effective_per_s
    assert before == pytest.approx(9.8)
    # Others draw 1 of 100: the spacing moves about 1 %, header noise: kept.
    budget.observe(_headers(max_=100, remaining=99, interval_ms=10_000), clock())
    assert budget.statistics().others_in_window == 0
    clock.now += 0.001
    budget.observe(_headers(max_=100, remaining=98, interval_ms=10_000), clock())
    assert budget.statistics().others_in_window == 1
    assert budget.statistics().effective_per_s == before
    assert caplog.messages == []
    # Others draw 11: it moves.
    budget.observe(_headers(max_=100, remaining=88, interval_ms=10_000), clock())
    assert budget.statistics().effective_per_s == pytest.approx(8.7)
    assert caplog.messages == ["rate budget: spacing 102.0 ms -> 114.9 ms"]


def test_a_spacing_move_of_exactly_the_tolerance_is_kept_as_noise() -> None:
    # No reserve but the two-request floor (margin 1.0): 1 s / 273 now, 1.7 s / 455 advertised: 2 % slower, exactly.
    clock = HandClock()
    budget = RateBudget(Rate(275, 1.0), pace="even", margin=1.0, clock=clock)
    assert budget.statistics().effective_per_s == pytest.approx(273)
    budget.observe(_headers(max_=457, interval_ms=1700), clock())
    assert budget.limit == Rate(457, 1.7)
    assert budget.statistics().effective_per_s == pytest.approx(273)


def test_before_the_first_answer_at_least_one_request_goes() -> None:
    assert RateBudget(before_first_answer=1, clock=HandClock()).burst == 1
    assert RateBudget(before_first_answer=0, clock=HandClock()).burst == 1


def test_before_the_first_answer_the_margin_given_sets_the_guard() -> None:
    budget = RateBudget(margin=0.9, clock=HandClock())
    assert budget.statistics().effective_per_s == pytest.approx(10 / 11)


def test_the_burst_pace_with_the_margin_given_leaves_its_reserve_beside_others() -> None:
    clock = HandClock()
    budget = RateBudget(margin=0.9, clock=clock, before_first_answer=None)
    assert budget.statistics().effective_per_s == pytest.approx(100 / 11)  # a window and a guard of a tenth
    budget.observe(_headers(max_=100, remaining=79, interval_ms=10_000), clock())
    # Others drew 20: 100 - 20 - a reserve of 10 (a tenth of the window, not the default 2).
    assert budget.burst == 70


def test_a_cap_without_a_margin_lets_out_the_whole_cap_at_once() -> None:
    budget = RateBudget(Rate(20, 1.0), margin=1.0, clock=HandClock(), before_first_answer=None)
    assert budget.burst == 20
    assert budget.statistics().effective_per_s == pytest.approx(20)


async def test_without_any_answer_the_first_requests_free_their_places_a_window_after() -> None:
    with virtual_time() as clock:
        budget = RateBudget(Rate(100, 1.0), clock=clock, before_first_answer=2)
        await clock.run_until(5.0, 0.05)
        taken = await _slots(budget, clock, 3, until=6.2)
    assert taken[:2] == [5.0, 5.0]
    assert taken[2] == pytest.approx(5 + 1 + guard_s(1.0), abs=5 * STEP_S)


async def test_the_first_answer_lets_the_next_request_go_at_once() -> None:
    with virtual_time() as clock:
        budget = RateBudget(Rate(100, 1.0), clock=clock, before_first_answer=2)
        taken: list[float] = []

        async def take() -> None:
            for _ in range(3):
                await budget.acquire()
                taken.append(clock.now)

        async with anyio.create_task_group() as group:
            group.start_soon(take)
            await clock.run_until(0.3, STEP_S)
            budget.observe(_headers(max_=100, remaining=98, interval_ms=1000), 0.0)
            await clock.run_until(0.31, STEP_S)
            group.cancel_scope.cancel()
    assert taken == [0.0, 0.0, pytest.approx(0.3, abs=STEP_S)]


async def test_places_forgotten_are_only_those_long_out_of_every_window() -> None:
    # A 10 s cap: 3 requests at 0, 2 at 5; the window frees the first three at 10.15 and the next two at 15.15.
    cap = Rate(5, 10.0)
    with virtual_time() as clock:
        budget = RateBudget(cap, clock=clock, before_first_answer=None)
        taken = await _slots(budget, clock, 3, until=0.01)
        await clock.run_until(5.0, 0.05)
        taken += await _slots(budget, clock, 2, until=5.01)
        taken += await _slots(budget, clock, 5, until=16.0)
    span = cap.window_s + guard_s(cap.window_s)
    assert max(sum(1 for t in taken if end - span < t <= end) for end in taken) == cap.requests
    assert len(taken) == 10


def test_a_pause_longer_than_the_first_answers_backlog_is_waited_for_in_full() -> None:
    clock = HandClock(100.0)
    budget = RateBudget(Rate(10, 1.0), clock=clock, before_first_answer=None)
    budget.observe(_headers(max_=10, remaining=5, interval_ms=1000), clock())  # a backlog of 4 until 101
    budget.pause(3.0)
    waited, why = budget.waiting() or (0.0, "")
    assert waited == pytest.approx(3.0)
    assert why == "pause"


def test_an_estimate_made_before_the_first_request_is_kept() -> None:
    clock = HandClock()
    budget = RateBudget(pace="even", clock=clock)
    budget.observe(_headers(max_=100, remaining=88, interval_ms=10_000), clock())
    assert budget.statistics().others_in_window == 11
    assert budget.waiting() is None
    assert budget.statistics().others_in_window == 11


# What it learns of others' draw


def test_the_first_answer_holds_back_what_it_counted_for_one_window_then_lets_it_go() -> None:
    clock = HandClock(100.0)
    budget = RateBudget(clock=clock)
    budget.observe(_headers(max_=100, remaining=60, interval_ms=10_000), clock())
    # All HubSpot counted but this request may be others': 39, and a reserve of 2 against error.
    assert budget.statistics().others_in_window == 39
    assert budget.burst == 59
    clock.now = 109.99
    assert budget.waiting() is None
    assert budget.burst == 59
    clock.now = 110.0  # a window after the first answer: all it counted has left the window
    assert budget.waiting() is None
    assert budget.statistics().others_in_window == 0
    assert budget.burst == 100


async def test_later_answers_measure_others_less_every_request_of_ours_the_window_may_hold() -> None:
    clock = HandClock(100.0)
    budget = RateBudget(clock=clock, before_first_answer=None)
    budget.observe(_headers(max_=100, remaining=99, interval_ms=10_000), clock())  # nobody else: backlog 0
    assert budget.statistics().others_in_window == 0
    clock.now = 101.0
    for _ in range(5):
        await budget.acquire()
    clock.now = 101.5
    # HubSpot counted 30 by now: our 5 (sent after 91.5, held until answered) may be among them: 25 are others'.
    budget.observe(_headers(max_=100, remaining=70, interval_ms=10_000), 101.0)
    assert budget.statistics().others_in_window == 25
    assert budget.burst == 100 - 25 - 2
    # A later answer counting less: the highest of this window holds.
    clock.now = 102.0
    budget.observe(_headers(max_=100, remaining=90, interval_ms=10_000), 101.0)
    assert budget.statistics().others_in_window == 25


async def test_the_estimate_of_others_falls_two_windows_after_they_drew_less() -> None:
    clock = HandClock(100.0)
    budget = RateBudget(clock=clock, before_first_answer=None)
    budget.observe(_headers(max_=100, remaining=99, interval_ms=1000), clock())
    clock.now = 100.5
    budget.observe(_headers(max_=100, remaining=70, interval_ms=1000), clock())  # others drew 30
    assert budget.statistics().others_in_window == 30
    clock.now = 101.6
    budget.observe(_headers(max_=100, remaining=95, interval_ms=1000), clock())  # 5 now: the last window's 30 holds
    assert budget.statistics().others_in_window == 30
    clock.now = 102.7
    budget.observe(_headers(max_=100, remaining=95, interval_ms=1000), clock())
    assert budget.statistics().others_in_window == 5


async def test_others_draw_is_told_to_a_tenth_of_a_request() -> None:
    clock = HandClock(100.0)
    budget = RateBudget(pace="even", clock=clock)
    budget.observe(_headers(max_=100, remaining=69, interval_ms=1000), clock())  # others drew 30
    clock.now += 0.4
    budget.observe(_headers(max_=100, remaining=99, interval_ms=1000), clock())  # none now: 30 falls to 20.109...
    assert budget.statistics().others_in_window == 20.1


async def test_our_requests_sent_a_window_before_the_answer_do_not_count_as_ours() -> None:
    clock = HandClock(100.0)
    budget = RateBudget(clock=clock, before_first_answer=None)
    budget.observe(_headers(max_=100, remaining=99, interval_ms=1000), clock())
    for _ in range(3):
        await budget.acquire()  # held from 100.0 (never answered)
    clock.now = 101.2
    await budget.acquire()
    # Sent at 101.2: the window HubSpot counted is (100.2, 101.2]: the three sent at 100.0 are out of it.
    budget.observe(_headers(max_=100, remaining=90, interval_ms=1000), 101.2)
    assert budget.statistics().others_in_window == 9


async def test_the_even_pace_lets_the_first_request_go_at_once_then_keeps_its_grid() -> None:
    with virtual_time() as clock:
        # 10 a second, less the two-request floor of the reserve: one every 125 ms.
        budget = RateBudget(Rate(10, 1.0), pace="even", margin=1.0, clock=clock, before_first_answer=None)
        taken = await _slots(budget, clock, 3, until=0.3)
        await clock.run_until(1.0, STEP_S)  # idle: the grid starts again from the next request
        taken += await _slots(budget, clock, 2, until=1.2)
    assert taken == pytest.approx([0.0, 0.125, 0.25, 1.0, 1.125], abs=3 * STEP_S)


async def test_a_slow_answer_holds_its_requests_place_from_when_it_reached_hubspot_at_the_latest() -> None:
    clock = HandClock(100.0)
    cap = Rate(2, 1.0)
    span = cap.window_s + guard_s(cap.window_s)
    budget = RateBudget(cap, clock=clock, before_first_answer=None)
    await budget.acquire()
    clock.now = 100.2
    await budget.acquire()
    budget.observe(_headers(max_=None), 100.0)  # answered at 100.2: 0.2 s, the fastest
    clock.now = 100.9
    budget.observe(_headers(max_=None), 100.2)  # 0.7 s: it reached HubSpot 100.7 at the latest
    clock.now = 101.3
    assert budget.waiting() is None  # the first place is free again (100.0 + span)
    await budget.acquire()
    # The second holds its place until 100.7 + span, not 100.2 + span.
    waited, why = budget.waiting() or (0.0, "")
    assert why == "window"
    assert waited == pytest.approx(100.7 + span - 101.3)


async def test_the_even_pace_counts_as_ours_the_requests_sent_in_the_window_the_answer_reported_on() -> None:
    with virtual_time() as clock:
        budget = RateBudget(Rate(100, 1.0), pace="even", margin=1.0, clock=clock, before_first_answer=None)
        early = await _slots(budget, clock, 1, until=0.01)
        await clock.run_until(1.5, STEP_S)
        sent = await _slots(budget, clock, 3, until=1.6)
    assert early == [0.0]
    assert len(sent) == 3
    # The answer to the second of the three: HubSpot's window (sent - 1 s, sent] holds it and the first of them,
    # not the request sent 1.5 s before nor the one sent after it: 100 - 70 - 2 ours - 1 at the edge = 27.
    budget.observe(_headers(max_=100, remaining=70, interval_ms=1000), sent[1] + 1e-6)
    assert budget.statistics().others_in_window == 27


async def test_an_answer_three_windows_late_still_holds_its_requests_place_from_its_latest_arrival() -> None:
    # Our requests are remembered for two horizons (four windows) before the next slot forgets them.
    clock = HandClock(100.0)
    cap = Rate(2, 1.0)
    budget = RateBudget(cap, clock=clock, before_first_answer=None)
    await budget.acquire()
    clock.now = 103.0
    await budget.acquire()
    clock.now = 103.1
    budget.observe(_headers(max_=None), 103.0)  # 0.1 s: the fastest
    clock.now = 103.5
    budget.observe(_headers(max_=None), 100.0)  # 3.5 s: it reached HubSpot 103.4 at the latest
    waited, why = budget.waiting() or (0.0, "")
    assert why == "window"
    assert waited == pytest.approx(103.0 + cap.window_s + guard_s(cap.window_s) - 103.5)


async def test_the_budget_remembers_its_requests_four_windows_at_most_then_only_the_last_two() -> None:
    # Memory stays bounded: once the oldest request is more than two horizons (4 windows of 1 s) old, every
    # request older than one horizon (2 windows) is forgotten.
    clock = HandClock(0.0)
    budget = RateBudget(Rate(10, 1.0), clock=clock, before_first_answer=None)
    recent = []
    for second in range(7):
        clock.now = float(second)
        await budget.acquire()
        recent.append(repr(budget).split(", ")[-1])
    assert recent == [f"{n} recent)" for n in (1, 2, 3, 4, 5, 3, 4)]


async def test_once_the_first_answers_backlog_has_left_a_full_window_still_waits() -> None:
    clock = HandClock(100.0)
    cap = Rate(2, 1.0)
    budget = RateBudget(cap, clock=clock, before_first_answer=None)
    budget.observe(_headers(max_=10, remaining=5, interval_ms=1000), clock())  # a backlog of 4 until 101
    clock.now = 101.5
    await budget.acquire()
    await budget.acquire()
    waited, why = budget.waiting() or (0.0, "")
    assert why == "window"
    assert waited == pytest.approx(cap.window_s + guard_s(cap.window_s))
