"""``CartLoader.statistics()``: a frozen snapshot of one loader across every call made on it.

Counts come from the collectors of the loader's runs (``create()``, ``stream()``, ``submit()``'s pipeline):
those still running are read live, finished ones were folded into the totals when they ended.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

from cartloader.api.submissions import SubmissionStatistics
from cartloader.budget.base import BudgetStatistics
from cartloader.budget.shared import SharedBudgetStatistics
from cartloader.engine.collector import Collector
from cartloader.models import ConcurrencyStatistics

_STATUSES = ("created", "updated", "failed", "invalid")


@dataclass(frozen=True, slots=True)
class LoaderStatistics:
    """What a ``CartLoader`` is doing and has done (since it was made).

    ``records_waiting``: records given to ``submit()`` and not yet sent; ``callers_waiting``: ``submit()`` calls
    waiting for their outcome; ``records_submitted`` and ``records_withdrawn`` (caller cancelled before its record
    was sent). ``batches_in_flight``: requests holding a place under the concurrency limit (waiting for a rate
    slot or for HubSpot's answer); ``concurrency``: the limit now (``auto``'s choice or the fixed number) and the
    recent mean latency it works from. ``requests`` (HTTP requests, retries and splits included), ``retries``,
    ``rate_limited`` (429 answers) and ``error_responses`` (answers neither 2xx nor 429) count every call;
    ``outcomes`` counts final outcomes by status. ``budget`` is the rate budget's own snapshot (None for a
    budget of your own without ``statistics()``). ``closed``: the loader takes no more calls.
    """

    records_waiting: int
    callers_waiting: int
    records_submitted: int
    records_withdrawn: int
    batches_in_flight: int
    concurrency: ConcurrencyStatistics
    requests: int
    retries: int
    rate_limited: int
    error_responses: int
    outcomes: Mapping[str, int]
    budget: BudgetStatistics | SharedBudgetStatistics | None
    closed: bool


class Tally:
    """The loader's counts: live collectors plus the totals of finished ones."""

    __slots__ = ("_error_responses", "_live", "_outcomes", "_rate_limited", "_requests", "_retries")

    def __init__(self) -> None:
        self._live: set[Collector] = set()
        self._requests = 0
        self._retries = 0
        self._rate_limited = 0
        self._error_responses = 0
        self._outcomes = dict.fromkeys(_STATUSES, 0)

    def begin(self, collector: Collector) -> None:
        """Count ``collector``'s run from now on."""
        self._live.add(collector)

    def end(self, collector: Collector) -> None:
        """Fold a finished run into the totals."""
        if collector in self._live:
            self._live.discard(collector)
            self._fold(collector, self)

    @staticmethod
    def _fold(collector: Collector, into: Tally) -> None:
        stats = collector.stats
        into._requests += stats.requests
        into._retries += stats.retries
        into._rate_limited += stats.rate_limited
        into._error_responses += stats.error_responses
        for status in _STATUSES:
            into._outcomes[status] += collector.counts[status]

    def snapshot(
        self,
        *,
        submissions: SubmissionStatistics,
        concurrency: ConcurrencyStatistics,
        budget: BudgetStatistics | SharedBudgetStatistics | None,
        closed: bool,
    ) -> LoaderStatistics:
        """The loader's statistics now."""
        total = Tally()
        self._fold_totals(total)
        for collector in self._live:
            self._fold(collector, total)
        return LoaderStatistics(
            records_waiting=submissions.waiting,
            callers_waiting=submissions.callers_waiting,
            records_submitted=submissions.submitted,
            records_withdrawn=submissions.withdrawn,
            batches_in_flight=concurrency.in_flight,
            concurrency=concurrency,
            requests=total._requests,
            retries=total._retries,
            rate_limited=total._rate_limited,
            error_responses=total._error_responses,
            outcomes=MappingProxyType(dict(total._outcomes)),
            budget=budget,
            closed=closed,
        )

    def _fold_totals(self, into: Tally) -> None:
        into._requests += self._requests
        into._retries += self._retries
        into._rate_limited += self._rate_limited
        into._error_responses += self._error_responses
        for status in _STATUSES:
            into._outcomes[status] += self._outcomes[status]

    def __repr__(self) -> str:
        return f"Tally(live={len(self._live)}, requests={self._requests})"
