"""What a rate budget is to the loader: the ``Budget`` protocol, and the snapshot its ``statistics()`` gives."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from cartloader.models import RateLimitHeaders
from cartloader.rate import Rate


class Budget(Protocol):
    """What the workers need from a rate budget (``RateBudget`` in one process, ``SharedBudget`` through Redis,
    or your own: pass it as ``budget=``)."""

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
    #: ``"burst"`` or ``"even"``.
    pace: str = "burst"
    #: How many requests go at once into a window empty of ours (1 under the even pace).
    burst: int = 1
