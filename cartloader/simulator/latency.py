"""Simulated processing time: a log-normal distribution fitted to a p50 and a p95.

The figures describe a request of 100 inputs. A smaller batch takes a fixed 30% of that plus its share
of the other 70%, so a single-input request is about three times faster than a full one, not 100 times.
"""

from __future__ import annotations

import math
import random

# z-score of the 95th percentile of the standard normal distribution.
_Z95 = 1.6448536269514722
FULL_BATCH = 100
FIXED_SHARE = 0.3


class LatencyModel:
    """Seeded log-normal latency in seconds for a batch of ``n`` inputs."""

    __slots__ = ("_mu", "_rng", "_sigma", "p50_ms", "p95_ms")

    def __init__(self, p50_ms: float, p95_ms: float, rng: random.Random) -> None:
        self.p50_ms = p50_ms
        self.p95_ms = p95_ms
        self._mu = math.log(p50_ms / 1000.0) if p50_ms > 0 else -math.inf
        self._sigma = math.log(p95_ms / p50_ms) / _Z95 if p50_ms > 0 else 0.0
        self._rng = rng

    def sample_s(self, inputs: int) -> float:
        """One latency draw in seconds, scaled for a batch of ``inputs`` inputs."""
        if self._mu == -math.inf:
            return 0.0
        base = math.exp(self._mu + self._sigma * self._rng.gauss(0.0, 1.0)) if self._sigma else math.exp(self._mu)
        share = min(max(inputs, 1), FULL_BATCH) / FULL_BATCH
        return base * (FIXED_SHARE + (1.0 - FIXED_SHARE) * share)

    def __repr__(self) -> str:
        return f"LatencyModel(p50_ms={self.p50_ms:g}, p95_ms={self.p95_ms:g})"
