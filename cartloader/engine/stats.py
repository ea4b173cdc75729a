"""Request statistics of a run: counters and a fixed-size latency histogram (the summary's percentiles)."""

from __future__ import annotations

import math
from collections import Counter


class LatencyHistogram:
    """Request latencies in log-spaced buckets (about 4% wide, 1 ms to 30 min): fixed memory however
    many requests a run makes."""

    __slots__ = ("_counts", "_total")

    _GROWTH = 1.04
    _BUCKETS = math.ceil(math.log(1_800_000) / math.log(_GROWTH)) + 2

    def __init__(self) -> None:
        self._counts = [0] * self._BUCKETS
        self._total = 0

    def add(self, milliseconds: float) -> None:
        """Record one latency."""
        index = 0 if milliseconds <= 1.0 else 1 + int(math.log(milliseconds) / math.log(self._GROWTH))
        self._counts[min(index, self._BUCKETS - 1)] += 1
        self._total += 1

    @property
    def count(self) -> int:
        """How many latencies were recorded."""
        return self._total

    def percentile(self, fraction: float) -> float:
        """The latency below which ``fraction`` of requests fall (bucket midpoint; 0.0 when empty)."""
        if not self._total:
            return 0.0
        rank = max(1, math.ceil(fraction * self._total))
        seen = 0
        for index, count in enumerate(self._counts):
            seen += count
            if seen >= rank:
                if index == 0:
                    return 1.0
                low = self._GROWTH ** (index - 1)
                return round(low * (1 + self._GROWTH) / 2, 1)
        return float("inf")  # unreachable: the counts add up to the total

    def __repr__(self) -> str:
        return f"LatencyHistogram(count={self._total}, p50={self.percentile(0.5)}ms)"


class RunStats:
    """Request counters and latencies, kept by the delivery for the summary. ``error_responses`` counts answers
    that are neither 2xx nor 429 (HubSpot wants them under 5% of requests), ``error_causes`` them by description
    (a status and category: a handful of keys whatever the run's size)."""

    __slots__ = ("error_causes", "error_responses", "latency", "lookups", "rate_limited", "requests", "retries")

    def __init__(self) -> None:
        self.requests = 0
        self.lookups = 0  # requests resolving associations by idProperty (also counted in requests)
        self.retries = 0
        self.rate_limited = 0
        self.error_responses = 0
        self.error_causes: Counter[str] = Counter()
        self.latency = LatencyHistogram()

    def error_response(self, cause: str) -> None:
        """Count one error response."""
        self.error_responses += 1
        self.error_causes[cause] += 1

    def main_error(self) -> tuple[str, int] | None:
        """The most frequent error response and its count (None when there was none)."""
        common = self.error_causes.most_common(1)
        return common[0] if common else None

    def __repr__(self) -> str:
        return (
            f"RunStats(requests={self.requests}, retries={self.retries}, rate_limited={self.rate_limited}, "
            f"error_responses={self.error_responses})"
        )
