"""The circuit breaker: stop a run whose recent requests mostly fail the same way.

HubSpot wants error responses under 5% of requests, and a systematic failure (a wrong property
name in every record, an outage) would otherwise spend the daily quota on errors.
"""

from __future__ import annotations

from collections import Counter, deque


class CircuitBreaker:
    """Trips when at least ``threshold`` of the last ``window`` requests failed with one signature."""

    __slots__ = ("_failures", "_recent", "_threshold", "_window")

    def __init__(self, window: int = 32, threshold: float = 0.75) -> None:
        self._window = window
        self._threshold = threshold
        self._recent: deque[str | None] = deque(maxlen=window)
        self._failures: Counter[str] = Counter()

    def record(self, failure: str | None) -> str | None:
        """Record one request (``None``: it went well); return the signature if the breaker trips."""
        if len(self._recent) == self._window:
            oldest = self._recent[0]
            if oldest is not None:
                self._failures[oldest] -= 1
        self._recent.append(failure)
        if failure is None:
            return None
        self._failures[failure] += 1
        if len(self._recent) == self._window and self._failures[failure] >= self._threshold * self._window:
            return failure
        return None

    def __repr__(self) -> str:
        worst = self._failures.most_common(1)
        return f"CircuitBreaker(window={self._window}, worst={worst[0] if worst else None})"
