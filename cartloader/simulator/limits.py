"""HubSpot's request limits per token: a rolling window (TEN_SECONDLY_ROLLING) and a daily count (DAILY).

A request that is refused with 429 still uses up the window and the daily count when ``count_rejected``
is set (the default), as HubSpot counts every call an app makes: a client that hammers on 429s stays
locked out until it backs off.
"""

from __future__ import annotations

import time
from collections import deque
from dataclasses import dataclass

from cartloader.rate import Rate

TEN_SECONDLY = "TEN_SECONDLY_ROLLING"
DAILY = "DAILY"


@dataclass(frozen=True, slots=True)
class LimitVerdict:
    """Whether a request may go on, and the headers that describe the budget after it."""

    refused_by: str | None
    headers: dict[str, str]


class _TokenBudget:
    __slots__ = ("daily_used", "window")

    def __init__(self) -> None:
        self.window: deque[float] = deque()
        self.daily_used = 0


class RequestLimits:
    """The rolling-window and daily limits of every token (several clients on one token share them)."""

    __slots__ = ("_budgets", "_clock", "count_rejected", "daily", "rate")

    def __init__(self, rate: Rate | None, daily: int | None, *, count_rejected: bool = True) -> None:
        self.rate = rate
        self.daily = daily
        self.count_rejected = count_rejected
        self._budgets: dict[str, _TokenBudget] = {}
        self._clock = time.monotonic

    @property
    def active(self) -> bool:
        """Whether any limit is set."""
        return self.rate is not None or self.daily is not None

    def admit(self, token: str) -> LimitVerdict:
        """Count one request of ``token`` and say whether a limit refuses it."""
        budget = self._budgets.get(token)
        if budget is None:
            budget = self._budgets[token] = _TokenBudget()
        refused_by: str | None = None
        headers: dict[str, str] = {}
        if self.daily is not None and budget.daily_used >= self.daily:
            refused_by = DAILY
        in_window = 0
        if self.rate is not None:
            window = budget.window
            horizon = self._clock() - self.rate.window_s
            while window and window[0] <= horizon:
                window.popleft()
            in_window = len(window)
            if refused_by is None and in_window >= self.rate.requests:
                refused_by = TEN_SECONDLY
        if refused_by is None or self.count_rejected:
            budget.daily_used += 1
            if self.rate is not None:
                budget.window.append(self._clock())
                in_window += 1
        if self.rate is not None:
            headers["X-HubSpot-RateLimit-Max"] = str(self.rate.requests)
            headers["X-HubSpot-RateLimit-Remaining"] = str(max(0, self.rate.requests - in_window))
            headers["X-HubSpot-RateLimit-Interval-Milliseconds"] = str(round(self.rate.window_s * 1000))
        if self.daily is not None:
            headers["X-HubSpot-RateLimit-Daily"] = str(self.daily)
            headers["X-HubSpot-RateLimit-Daily-Remaining"] = str(max(0, self.daily - budget.daily_used))
        return LimitVerdict(refused_by, headers)

    def window_reopens_in_s(self, token: str) -> float:
        """Seconds until the oldest request of ``token`` leaves the rolling window (0 if none)."""
        budget = self._budgets.get(token)
        if self.rate is None or budget is None or not budget.window:
            return 0.0
        return max(0.0, budget.window[0] + self.rate.window_s - self._clock())

    def __repr__(self) -> str:
        return f"RequestLimits(rate={self.rate}, daily={self.daily}, count_rejected={self.count_rejected})"
