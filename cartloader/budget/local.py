"""The per-process rate budget: requests paced so that no rolling window sees more than HubSpot allows.

HubSpot's 10-second limit is a rolling window per app, shared with every other integration of that
app. When a request may go, and the share left to others, are computed by :mod:`cartloader.budget.pacing`
(which says why a window count or a fixed slot grid, and not a leaky bucket).

Before HubSpot's first answer at most ten requests go. Then the limit is the hard cap, lowered to what
``X-HubSpot-RateLimit-Max`` and ``-Interval-Milliseconds`` advertise (100/10s, HubSpot's lowest tier, while
neither is known); what others draw from the same window (read off ``-Remaining``) is left to them. A
TEN_SECONDLY_ROLLING 429 pauses every worker at once.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable

import anyio

from cartloader.budget.base import BudgetStatistics
from cartloader.budget.pacing import (
    BEFORE_FIRST_ANSWER,
    SAFETY_MARGIN,
    burst_capacity,
    burst_others,
    first_others,
    guard_s,
    highest_lower,
    lower_others,
    measured_others,
    next_burst_slot,
    next_slot,
    smoothed_others,
    spacing_s,
)
from cartloader.budget.places import HeldPlaces
from cartloader.config import INITIAL_RATE, PACES
from cartloader.errors import ConfigError
from cartloader.models import RateLimitHeaders
from cartloader.rate import Rate

logger = logging.getLogger("cartloader")

_RESPACE_TOLERANCE = 0.02  # smaller moves of the interval are header noise


class RateBudget:
    """A per-process rolling-window budget. Share one instance between loaders to share the limit.

    ``cap`` is a hard cap on our own requests (``None``: follow HubSpot's headers). ``pace="burst"`` lets
    out at once what the window holds free, then frees each place a window after it was taken;
    ``pace="even"`` spaces requests evenly, never in a burst.
    """

    __slots__ = (
        "_advertised",
        "_answered",
        "_backlog",
        "_before_first_answer",
        "_cap",
        "_clock",
        "_daily_remaining",
        "_horizon_s",
        "_interval",
        "_lock",
        "_lowers",
        "_margin",
        "_observed_at",
        "_others",
        "_pace",
        "_paused_until",
        "_places",
        "_rules",
        "_tat",
    )

    def __init__(
        self,
        cap: Rate | None = None,
        *,
        pace: str = "burst",
        margin: float = SAFETY_MARGIN,
        clock: Callable[[], float] = time.monotonic,
        before_first_answer: int | None = BEFORE_FIRST_ANSWER,
    ) -> None:
        if pace not in PACES:
            raise ConfigError(f"invalid pace {pace!r}: expected one of {', '.join(PACES)}")
        self._cap = cap
        self._pace = pace
        self._advertised: Rate | None = None
        self._margin = margin
        self._clock = clock
        self._others = 0.0
        self._observed_at: float | None = None  # when others' draw was last measured
        self._lowers = (0.0, -math.inf, 0.0)  # burst pace: see pacing.highest_lower
        # Burst pace: what HubSpot's first answer counted that is not ours, and until when it can still be in the
        # window (a window after that answer): a backlog, e.g. the requests of a run stopped just before this one.
        self._backlog = (0.0, -math.inf)
        self._paused_until = 0.0
        self._tat = 0.0  # even pace: the theoretical time of the next slot
        self._daily_remaining: int | None = None
        self._places = HeldPlaces()
        self._lock = anyio.Lock()
        self._before_first_answer = before_first_answer
        self._answered = anyio.Event()
        if before_first_answer is None:
            self._answered.set()
        self._rules: tuple[tuple[float, int], ...] = ()
        self._horizon_s = 0.0
        self._interval = 0.0
        self._respace()

    @property
    def limit(self) -> Rate:
        """The window in force: the hard cap, lowered to what HubSpot advertises."""
        advertised = self._advertised
        cap = self._cap
        if advertised is None:
            return cap or INITIAL_RATE
        if cap is None or advertised.per_second < cap.per_second:
            return advertised
        return cap

    @property
    def pace(self) -> str:
        """``"burst"`` or ``"even"``."""
        return self._pace

    @property
    def daily_remaining(self) -> int | None:
        """The last ``X-HubSpot-RateLimit-Daily-Remaining`` seen."""
        return self._daily_remaining

    async def acquire(self) -> None:
        """Wait until one more request keeps every rolling window within the budget (and any pause is over)."""
        async with self._lock:
            slot = None
            while True:
                now = self._clock()
                target = self._next(now)
                if target <= now:
                    break
                slot = target
                if self._answered.is_set():
                    await anyio.sleep(target - now)
                else:
                    with anyio.move_on_after(target - now):
                        await self._answered.wait()  # the first answer tells what the window holds
            if self._pace == "even":
                self._tat = next_slot(slot, now, self._interval)
            places = self._places
            places.take(now)
            if places.sent[0] < now - 2 * self._horizon_s:
                places.forget_before(now - self._horizon_s)

    def _next(self, now: float) -> float:
        """The earliest time from ``now`` that one more request may go."""
        backlog, gone_at = self._backlog
        if backlog and now >= gone_at:  # the first answer's count has left the window: estimate without it
            self._backlog = (0.0, gone_at)
            self._others = burst_others(self._lowers, self._backlog, now)
            self._respace()
        target = max(now, self._paused_until)
        if self._pace == "even":
            target = max(target, self._tat)
        held = self._places.held
        for span, capacity in self._rules:
            target = max(target, next_burst_slot(held, now, span, capacity))
        if self._backlog[0] and target > self._backlog[1]:
            target = max(now, self._backlog[1], self._paused_until)  # look again once the backlog has left
        return target

    def waiting(self) -> tuple[float, str] | None:
        """How long the next request must wait and why (``"pause"``: a 429's pause, ``"window"``: HubSpot's rate
        window is full), or None when it may go at once."""
        now = self._clock()
        target = self._next(now)
        if target <= now + 0.05:
            return None
        return target - now, "pause" if self._paused_until >= target else "window"

    def observe(self, headers: RateLimitHeaders, sent_at: float) -> None:
        """Follow the advertised limit and leave room for what others draw from the same window."""
        self._answered.set()
        # Under the burst pace our requests are counted from the latest they can have reached HubSpot.
        places = self._places
        now = self._clock()
        if self._pace == "burst":
            places.answered(sent_at, now)
        if headers.daily_remaining is not None:
            self._daily_remaining = headers.daily_remaining
        if headers.max is None or headers.max <= 0:
            self._respace()
            return
        window_s = headers.interval_ms / 1000 if headers.interval_ms else self.limit.window_s
        self._advertised = Rate(headers.max, window_s)
        if headers.remaining is not None:
            if self._pace == "even":
                ours = places.between(places.sent, sent_at - window_s, sent_at)
                measured = measured_others(headers.max, headers.remaining, ours)
                elapsed = now - (self._observed_at if self._observed_at is not None else now)
                self._others = smoothed_others(self._others, measured, elapsed, window_s)
            else:
                if self._observed_at is None:
                    # An upper bound of others' draw, held one window only: all it counted has left the window
                    # a window after it answered (a draw that goes on is measured again by the answers after).
                    self._backlog = (first_others(headers.max, headers.remaining), now + window_s)
                else:
                    ours = places.between(places.held, sent_at - window_s, math.inf)
                    measured = lower_others(headers.max, headers.remaining, ours)
                    self._lowers = highest_lower(self._lowers, measured, now, window_s)
                self._others = burst_others(self._lowers, self._backlog, now)
            self._observed_at = now
        self._respace()

    def _respace(self) -> None:
        """Recompute what the budget allows after the limit or the others' draw moved."""
        margin = self._margin
        cap = self._cap
        # HubSpot's window: advertised, or its lowest tier while nothing is known and no cap was given.
        hubspot = self._advertised or (None if cap is not None else INITIAL_RATE)
        rules: list[tuple[float, int]] = []
        windows = [limit.window_s for limit in (hubspot, cap) if limit is not None]
        if self._pace == "burst":
            if hubspot is not None:
                span = hubspot.window_s + guard_s(hubspot.window_s, margin)
                rules.append((span, burst_capacity(hubspot, self._others, margin)))
            if cap is not None:
                rules.append((cap.window_s + guard_s(cap.window_s, margin), burst_capacity(cap, 0.0, margin)))
        else:
            interval = spacing_s(self.limit, self._others, margin)
            if not self._interval or abs(interval - self._interval) > _RESPACE_TOLERANCE * self._interval:
                if self._interval:
                    logger.debug("rate budget: spacing %.1f ms -> %.1f ms", self._interval * 1000, interval * 1000)
                self._interval = interval
        if not self._answered.is_set() and self._before_first_answer is not None:
            first = self.limit
            capacity = min([self._before_first_answer, *(c for _, c in rules)])
            rules.append((first.window_s + guard_s(first.window_s, margin), max(1, capacity)))
        self._rules = tuple(rules)
        self._horizon_s = 2 * max(windows)

    def pause(self, seconds: float) -> None:
        """Hold every worker for ``seconds``; overlapping pauses do not add up."""
        self._paused_until = max(self._paused_until, self._clock() + seconds)

    @property
    def burst(self) -> int:
        """How many requests go at once into a window empty of ours (1 under the even pace)."""
        if self._pace == "even":
            return 1
        return min(capacity for _, capacity in self._rules)

    def _per_second(self) -> float:
        if self._pace == "even":
            return 1 / self._interval
        return min(capacity / span for span, capacity in self._rules)

    def statistics(self) -> BudgetStatistics:
        """A snapshot of the budget's state."""
        return BudgetStatistics(
            limit=self.limit,
            effective_per_s=self._per_second(),
            others_in_window=round(self._others, 1),
            paused_for_s=max(0.0, self._paused_until - self._clock()),
            daily_remaining=self._daily_remaining,
            pace=self._pace,
            burst=self.burst,
        )

    def __repr__(self) -> str:
        if self._pace == "even":
            return f"RateBudget(limit={self.limit}, even, every {self._interval * 1000:.1f} ms)"
        return f"RateBudget(limit={self.limit}, burst of {self.burst}, {len(self._places.sent)} recent)"
