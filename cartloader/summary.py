"""The final summary of a run, and the fixed-size latency histogram behind its percentiles."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass


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


@dataclass(frozen=True, slots=True)
class LatencyPercentiles:
    """Request latency percentiles in milliseconds."""

    p50: float
    p95: float
    p99: float


@dataclass(frozen=True, slots=True)
class Summary:
    """What a run did. ``requests`` counts HTTP requests (splits and retries included),
    ``rate_limited`` 429 answers, ``skipped`` lines skipped by ``--resume``; ``unmatched`` counts
    created results that could not be matched to their input (zero unless something is wrong)."""

    total: int
    created: int
    updated: int
    failed: int
    invalid: int
    skipped: int
    duplicate_risk: int
    requests: int
    retries: int
    rate_limited: int
    elapsed_s: float
    records_per_s: float
    latency_ms: LatencyPercentiles
    unmatched: int = 0
    pending: int = 0

    @property
    def all_loaded(self) -> bool:
        """True when every record was created or updated (exit status 0)."""
        return self.failed == 0 and self.invalid == 0 and self.pending == 0

    def to_dict(self) -> dict[str, object]:
        """The summary as the JSON of ``--summary-json``."""
        return asdict(self)
