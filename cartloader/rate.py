"""Request-rate specifications such as ``190/10s``."""

from __future__ import annotations

import re
from dataclasses import dataclass

from cartloader.errors import ConfigError

_RATE = re.compile(r"^\s*(\d+)\s*/\s*(\d+(?:\.\d+)?)?\s*(ms|s|m|min|h)?\s*$")
_UNIT_SECONDS = {"ms": 0.001, "s": 1.0, "m": 60.0, "min": 60.0, "h": 3600.0, None: 1.0}


@dataclass(frozen=True, slots=True)
class Rate:
    """At most ``requests`` requests in any rolling window of ``window_s`` seconds."""

    requests: int
    window_s: float

    @property
    def per_second(self) -> float:
        """The rate as requests per second."""
        return self.requests / self.window_s

    @property
    def interval_s(self) -> float:
        """The even spacing between two requests that keeps the rate."""
        return self.window_s / self.requests

    @classmethod
    def parse(cls, text: str) -> Rate:
        """Parse ``N/DURATION`` (``190/10s``, ``20/1s``, ``5/500ms``, ``100/s``); raise ConfigError if malformed."""
        match = _RATE.match(text)
        if not match:
            raise ConfigError(f"invalid rate {text!r}: expected N/DURATION such as 190/10s or 5/500ms")
        count, amount, unit = match.groups()
        window = float(amount or 1) * _UNIT_SECONDS[unit]
        if int(count) < 1 or window <= 0:
            raise ConfigError(f"invalid rate {text!r}: both the count and the duration must be positive")
        return cls(int(count), window)

    def __str__(self) -> str:
        window_ms = self.window_s * 1000
        if window_ms < 1000 or window_ms != int(window_ms) or int(window_ms) % 1000:
            return f"{self.requests}/{window_ms:g}ms"
        return f"{self.requests}/{int(window_ms) // 1000}s"
