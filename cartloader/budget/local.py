"""The per-process rate budget: requests spaced so that no rolling window sees more than HubSpot allows.

HubSpot's 10-second limit is a rolling window per app, shared with every other integration of that
app. The spacing and the share left to others are computed by :mod:`cartloader.budget.pacing` (which says
why a fixed slot grid, and not a leaky bucket).

The limit starts at the hard cap (or 100/10s, HubSpot's lowest tier) and follows
``X-HubSpot-RateLimit-Max`` and ``-Interval-Milliseconds``; what others draw from the same window (read
off ``-Remaining``) is left to them. A TEN_SECONDLY_ROLLING 429 pauses every worker at once.
"""

from __future__ import annotations

import logging
import time
from collections import deque
from collections.abc import Callable

import anyio

from cartloader.budget.base import BudgetStatistics
from cartloader.budget.pacing import SAFETY_MARGIN, measured_others, next_slot, smoothed_others, spacing_s
from cartloader.config import INITIAL_RATE
from cartloader.models import RateLimitHeaders
from cartloader.rate import Rate

logger = logging.getLogger("cartloader")

_RESPACE_TOLERANCE = 0.02  # smaller moves of the interval are header noise


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
        return spacing_s(self.limit, self._others, self._margin)

    async def acquire(self) -> None:
        """Wait for the next slot on the grid (and for any shared pause to end)."""
        async with self._lock:
            slot = None
            while True:
                now = self._clock()
                target = max(self._tat, self._paused_until)
                if target <= now:
                    break
                slot = target
                await anyio.sleep(target - now)
            self._tat = next_slot(slot, now, self._interval)
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
            measured = measured_others(headers.max, headers.remaining, self._ours_in_window(sent_at, window_s))
            now = self._clock()
            self._others = smoothed_others(self._others, measured, now - self._observed_at, window_s)
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
