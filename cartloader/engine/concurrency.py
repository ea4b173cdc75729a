"""How many requests may be in flight at once: one limit shared by every run of a loader, fixed or automatic.

Automatic (``concurrency="auto"``): HubSpot's window admits ``rate`` requests per second and each request stays
in flight for its latency, so a full window keeps ``rate x mean latency`` requests in flight on average (Little's
law). The count around that mean moves from moment to moment (at most like a Poisson count, whose standard
deviation is the square root of its mean), and a request that finds no free place leaves a hole in the window
for good. So the limit is the mean plus three standard deviations plus one, taken from the budget's rate and the
mean latency of the last answers, kept within 1..128. It rises at once when more is needed and falls only when
a quarter fewer would do, so it does not flap. Under the burst pace (:mod:`cartloader.budget.pacing`) the budget
lets every free place of the window go at once, so the limit is at least that many (``budget.burst``, within the
same 1..128): a window's worth leaves within a latency or two instead of over the whole window. Workers follow the
limit (see :mod:`cartloader.engine.pipeline`), so records held in memory follow it too: about one batch per place.
"""

from __future__ import annotations

import math
from collections import deque

import anyio

from cartloader.budget.base import Budget
from cartloader.config import MAX_AUTO_CONCURRENCY, Concurrency
from cartloader.models import ConcurrencyStatistics

#: Before any answer, how many requests auto lets out (HubSpot's lowest tier allows ten before its headers say more).
INITIAL_AUTO_LIMIT = 10
#: Standard deviations of headroom above the mean in-flight count.
HEADROOM_SIGMAS = 3.0
#: Answers whose latencies make the mean auto works from.
LATENCY_HISTORY = 64
#: Auto lowers its limit only below this share of the current one.
SHRINK_BELOW = 0.75


def needed_in_flight(rate_per_s: float, latency_s: float, *, maximum: int = MAX_AUTO_CONCURRENCY) -> int:
    """Requests in flight that keep a window of ``rate_per_s`` full at a mean latency of ``latency_s``:
    ``m + 3 sqrt(m) + 1`` for ``m = rate x latency``, rounded up, within 1..``maximum``."""
    mean = max(0.0, rate_per_s * latency_s)
    return max(1, min(maximum, math.ceil(mean + HEADROOM_SIGMAS * math.sqrt(mean) + 1)))


class InFlightLimit:
    """The places for requests in flight: ``async with limit:`` around one request (its rate slot and its answer);
    ``observe(latency)`` after each answer. Fixed, the limit never moves; ``"auto"``, it follows the rate of
    ``budget`` times the observed latency."""

    __slots__ = ("_auto", "_budget", "_changed", "_latencies", "_latency_sum", "_limiter", "_maximum")

    def __init__(self, setting: Concurrency, budget: Budget, *, maximum: int = MAX_AUTO_CONCURRENCY) -> None:
        self._auto = not isinstance(setting, int)
        self._budget = budget
        self._maximum = maximum
        start = setting if isinstance(setting, int) else min(INITIAL_AUTO_LIMIT, maximum)
        self._limiter = anyio.CapacityLimiter(start)
        self._latencies: deque[float] = deque(maxlen=LATENCY_HISTORY)
        self._latency_sum = 0.0
        self._changed = anyio.Event()

    @property
    def auto(self) -> bool:
        """Whether the limit follows rate x latency."""
        return self._auto

    @property
    def limit(self) -> int:
        """Requests in flight at most, now."""
        return int(self._limiter.total_tokens)

    @property
    def in_flight(self) -> int:
        """Places in use: requests waiting for their rate slot or for their answer."""
        return self._limiter.borrowed_tokens

    @property
    def latency_s(self) -> float | None:
        """The mean latency of the last answers (None before the first)."""
        count = len(self._latencies)
        return self._latency_sum / count if count else None

    async def __aenter__(self) -> None:
        await self._limiter.acquire()

    async def __aexit__(self, *exc_info: object) -> None:
        self._limiter.release()

    def observe(self, latency_s: float) -> None:
        """Learn one answer's latency; auto moves its limit when the rate times the mean latency calls for it."""
        latencies = self._latencies
        if len(latencies) == latencies.maxlen:
            self._latency_sum -= latencies[0]
        latencies.append(latency_s)
        self._latency_sum += latency_s
        if not self._auto:
            return
        needed = needed_in_flight(
            self._budget.limit.per_second, self._latency_sum / len(latencies), maximum=self._maximum
        )
        # A burst-paced budget lets a window's free places go at once: enough places to send them in one latency.
        needed = max(needed, min(self._maximum, int(getattr(self._budget, "burst", 1))))
        limit = self.limit
        if needed > limit or needed < limit * SHRINK_BELOW:
            self._limiter.total_tokens = needed
            changed, self._changed = self._changed, anyio.Event()
            changed.set()

    async def changed(self) -> None:
        """Wait until the limit moves."""
        await self._changed.wait()

    def statistics(self) -> ConcurrencyStatistics:
        """A snapshot of the limit and its use."""
        latency = self.latency_s
        return ConcurrencyStatistics(
            self._auto, self.limit, self.in_flight, None if latency is None else round(latency * 1000, 1)
        )

    def __repr__(self) -> str:
        mode = "auto" if self._auto else "fixed"
        return f"InFlightLimit({mode}, limit={self.limit}, in_flight={self.in_flight})"
