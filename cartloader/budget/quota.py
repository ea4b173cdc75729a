"""A sink that warns once when HubSpot's remaining daily requests will not cover the rest of the load."""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Sequence

from cartloader.budget.base import Budget
from cartloader.models import CartInput, Settled

logger = logging.getLogger("cartloader")


class DailyQuotaWatch:
    """After each answer, compares the records still to send with ``X-HubSpot-RateLimit-Daily-Remaining``.

    ``unsent(settled)`` tells how many records are still to send once ``settled`` have a final outcome
    (``None``: unknown, no warning). ``advice`` ends the warning (what to do about it).
    """

    __slots__ = ("_advice", "_batch_size", "_budget", "_settled", "_unsent", "warned")

    def __init__(
        self,
        budget: Budget,
        unsent: Callable[[int], int | None],
        batch_size: int,
        *,
        advice: str = "the run will stop when it is spent",
    ) -> None:
        self._budget = budget
        self._unsent = unsent
        self._batch_size = batch_size
        self._advice = advice
        self._settled = 0
        self.warned = False

    def pending(self, inputs: Sequence[CartInput]) -> None:
        """Nothing to check before a request."""

    def settled(self, results: Sequence[Settled]) -> None:
        """Count the settled records, and warn the first time the day's quota falls short."""
        self._settled += len(results)
        if self.warned:
            return
        daily_remaining: int | None = getattr(self._budget, "daily_remaining", None)
        unsent = self._unsent(self._settled)
        if daily_remaining is None or unsent is None:
            return
        needed = math.ceil(unsent / self._batch_size)
        if needed > daily_remaining:
            self.warned = True
            logger.warning(
                "HubSpot's daily limit leaves %d requests today, and about %d more are needed: %s",
                daily_remaining,
                needed,
                self._advice,
            )

    def __repr__(self) -> str:
        return f"DailyQuotaWatch(settled={self._settled}, warned={self.warned})"
