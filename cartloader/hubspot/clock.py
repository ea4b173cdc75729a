"""HubSpot's clock as far as the loader knows it: the local clock plus the offset read from the latest ``Date``
header of HubSpot's answers (RFC 9110: the time the answer was made, to the second).

The ``Date`` header has whole seconds, so the offset is taken from the middle of that second: the estimate is
within about half a second (plus the answer's travel time) of HubSpot's clock. Before any answer, the offset is 0.
"""

from __future__ import annotations

import time
from email.utils import parsedate_to_datetime


class HubSpotClock:
    """``observe()`` each answer's ``Date`` header; ``now()`` is the time on HubSpot's clock (epoch seconds)."""

    __slots__ = ("offset_s",)

    def __init__(self) -> None:
        self.offset_s = 0.0

    def observe(self, date_header: str | None, received_at: float | None = None) -> None:
        """Learn the offset from an answer's ``Date`` header received at ``received_at`` (local epoch seconds,
        default now); a missing or unreadable header changes nothing."""
        if not date_header:
            return
        try:
            stamped = parsedate_to_datetime(date_header)
        except (TypeError, ValueError, IndexError):
            return
        if stamped.tzinfo is None:
            return
        local = time.time() if received_at is None else received_at
        self.offset_s = stamped.timestamp() + 0.5 - local

    def now(self) -> float:
        """The time now on HubSpot's clock, in epoch seconds."""
        return time.time() + self.offset_s

    def __repr__(self) -> str:
        return f"HubSpotClock(offset_s={self.offset_s:.3f})"
