"""The rate budget: requests evenly spaced so that no rolling window sees more than HubSpot allows.

HubSpot's 10-second limit is a rolling window per app, shared with every other integration of that
app. A leaky bucket sized to the limit would let a whole window's worth through at once and then
keep going, up to twice the limit in one window; so requests are spaced one interval apart, at a
small reserve under the limit. The spacing follows a fixed grid (GCRA: each slot is one interval
after the previous *scheduled* slot), not the previous actual send: a bucket of capacity 1 such as
``aiolimiter.AsyncLimiter(1, interval)`` loses each event-loop wake-up delay for good, which cost 2%
of HubSpot's window on a busy machine and 15% when the window is compressed for benchmarks. A late
slot may catch up by at most half an interval, so no rolling window ever holds more than one extra
request, well inside the reserve.

The limit starts at the hard cap (or 100/10s, HubSpot's lowest tier) and follows
``X-HubSpot-RateLimit-Max`` and ``-Interval-Milliseconds``; what others draw from the same window (read
off ``-Remaining``) is left to them. A TEN_SECONDLY_ROLLING 429 pauses every worker at once.
"""

from __future__ import annotations

import logging
import math
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

import anyio

from cartloader.config import INITIAL_RATE
from cartloader.hubspot import RateLimitHeaders
from cartloader.rate import Rate

logger = logging.getLogger("cartloader")

SAFETY_MARGIN = 0.985
EDGE_NOISE = 1.0
MIN_RESERVE = 2.0  # requests per window left unused however small the window, for timing jitter
_RESPACE_TOLERANCE = 0.02  # smaller moves of the interval are header noise


class Budget(Protocol):
    """What the workers need from a rate budget (local, or shared through Redis)."""

    @property
    def limit(self) -> Rate:
        """The rolling window in force."""

    async def acquire(self) -> None:
        """Wait for the next request slot."""

    def observe(self, headers: RateLimitHeaders, sent_at: float) -> None:
        """Learn from the rate-limit headers of an answer to a request sent at ``sent_at`` (monotonic)."""

    def pause(self, seconds: float) -> None:
        """Hold every request for ``seconds`` (after a TEN_SECONDLY_ROLLING 429)."""


@dataclass(frozen=True, slots=True)
class BudgetStatistics:
    """A snapshot of a budget's state."""

    limit: Rate
    effective_per_s: float
    others_in_window: float
    paused_for_s: float
    daily_remaining: int | None


class RateBudget:
    """A per-process rolling-window budget. Share one instance between loaders to share the limit."""

    __slots__ = (
        "_advertised",
        "_cap",
        "_clock",
        "_daily_remaining",
        "_interval",
        "_lock",
        "_margin",
        "_observed_at",
        "_others",
        "_paused_until",
        "_sent",
        "_tat",
    )

    def __init__(
        self,
        cap: Rate | None = None,
        *,
        margin: float = SAFETY_MARGIN,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._cap = cap
        self._advertised: Rate | None = None
        self._margin = margin
        self._clock = clock
        self._others = 0.0
        self._observed_at = 0.0
        self._paused_until = 0.0
        self._tat = 0.0  # the theoretical time of the next slot
        self._daily_remaining: int | None = None
        self._sent: deque[float] = deque()
        self._lock = anyio.Lock()
        self._interval = self._target_interval()

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
    def daily_remaining(self) -> int | None:
        """The last ``X-HubSpot-RateLimit-Daily-Remaining`` seen."""
        return self._daily_remaining

    def _target_interval(self) -> float:
        limit = self.limit
        # The reserve is taken from the whole window, not from our share of it: with two senders
        # each leaving a margin only of its own share, together they would leave almost none.
        reserve = max(limit.requests * (1 - self._margin), MIN_RESERVE)
        ours = max(1.0, limit.requests - reserve - self._others)
        return limit.window_s / ours

    async def acquire(self) -> None:
        """Wait for the next evenly spaced slot (and for any shared pause to end)."""
        async with self._lock:
            slot = None
            while True:
                now = self._clock()
                target = max(self._tat, self._paused_until)
                if target <= now:
                    break
                slot = target
                await anyio.sleep(target - now)
            interval = self._interval
            if slot is None:  # the budget was idle: the grid starts again from now
                self._tat = now + interval
            else:  # woken late: the next slot keeps to the grid, catching up half an interval at most
                self._tat = max(slot + interval, now + interval / 2)
            sent = self._sent
            sent.append(now)
            horizon = now - 2 * self.limit.window_s
            while sent[0] < horizon:
                sent.popleft()

    def observe(self, headers: RateLimitHeaders, sent_at: float) -> None:
        """Follow the advertised limit and leave room for what others draw from the same window."""
        if headers.daily_remaining is not None:
            self._daily_remaining = headers.daily_remaining
        if headers.max is None or headers.max <= 0:
            return
        window_s = headers.interval_ms / 1000 if headers.interval_ms else self.limit.window_s
        advertised = Rate(headers.max, window_s)
        if advertised != self._advertised:
            self._advertised = advertised
        if headers.remaining is not None:
            ours = self._ours_in_window(sent_at, window_s)
            # Less the one request at the window's edge that HubSpot (counting arrivals) and we
            # (counting slots) may place on different sides: alone, we would give way to ourselves.
            others = max(0.0, headers.max - headers.remaining - ours - EDGE_NOISE)
            # Rise at once, fall over about a window: giving way matters more than taking back a
            # slot, and two budgets that both jumped to what the other left would oscillate.
            now = self._clock()
            if others >= self._others:
                self._others = others
            else:
                keep = math.exp(-(now - self._observed_at) / window_s)
                self._others = others + (self._others - others) * keep
            self._observed_at = now
        self._respace()

    def _ours_in_window(self, at: float, window_s: float) -> int:
        return sum(1 for t in self._sent if at - window_s < t <= at)

    def _respace(self) -> None:
        interval = self._target_interval()
        if abs(interval - self._interval) > _RESPACE_TOLERANCE * self._interval:
            logger.debug("rate budget: spacing %.1f ms -> %.1f ms", self._interval * 1000, interval * 1000)
            self._interval = interval

    def pause(self, seconds: float) -> None:
        """Hold every worker for ``seconds``; overlapping pauses do not add up."""
        self._paused_until = max(self._paused_until, self._clock() + seconds)

    def statistics(self) -> BudgetStatistics:
        """A snapshot of the budget's state."""
        return BudgetStatistics(
            limit=self.limit,
            effective_per_s=1 / self._interval,
            others_in_window=round(self._others, 1),
            paused_for_s=max(0.0, self._paused_until - self._clock()),
            daily_remaining=self._daily_remaining,
        )

    def __repr__(self) -> str:
        return f"RateBudget(limit={self.limit}, every {self._interval * 1000:.1f} ms)"
