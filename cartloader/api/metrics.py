"""Prometheus exposition of ``loader.statistics()`` for a service to mount (extra ``cartloader[metrics]``).

    from prometheus_client import REGISTRY
    from cartloader import LoaderMetrics

    REGISTRY.register(LoaderMetrics(loader))   # each scrape reads one statistics() snapshot

The metric names are stable; docs/library.md lists them with their meaning (a test keeps the two equal).
``labels`` adds constant labels to every series, to tell several loaders of one process apart. Counters count
since the loader was made.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from typing import TYPE_CHECKING, Any

from cartloader.api.statistics import LoaderStatistics
from cartloader.errors import ConfigError

if TYPE_CHECKING:
    from cartloader.api.loader import CartLoader


def _prometheus() -> Any:
    try:
        import prometheus_client.core
    except ImportError:
        raise ConfigError(
            "Prometheus metrics need the prometheus-client package: pip install 'cartloader[metrics]'"
        ) from None
    return prometheus_client.core


class LoaderMetrics:
    """A Prometheus collector reading a loader's statistics at each scrape."""

    def __init__(
        self, loader: CartLoader | Callable[[], LoaderStatistics], *, labels: Mapping[str, str] | None = None
    ) -> None:
        self._core = _prometheus()
        self._statistics: Callable[[], LoaderStatistics] = loader if callable(loader) else loader.statistics
        self._labels = dict(labels or {})

    def describe(self) -> Iterator[Any]:
        """The metric families without samples (so registering does not read the statistics)."""
        return self._families(None)

    def collect(self) -> Iterator[Any]:
        """The metric families with one snapshot's samples."""
        return self._families(self._statistics())

    def _families(self, s: LoaderStatistics | None) -> Iterator[Any]:
        core = self._core

        def pick(field: str) -> float | None:
            return None if s is None else float(getattr(s, field))

        names = list(self._labels)
        values = list(self._labels.values())

        def counter(name: str, documentation: str, value: float | None) -> Any:
            family = core.CounterMetricFamily(name, documentation, labels=names)
            if value is not None:
                family.add_metric(values, value)
            return family

        def gauge(name: str, documentation: str, value: float | None) -> Any:
            family = core.GaugeMetricFamily(name, documentation, labels=names)
            if value is not None:
                family.add_metric(values, value)
            return family

        yield counter("cartloader_records_submitted", "Records given to submit()", pick("records_submitted"))
        yield counter(
            "cartloader_records_withdrawn",
            "Submitted records withdrawn because their caller was cancelled before they were sent",
            pick("records_withdrawn"),
        )
        outcomes = core.CounterMetricFamily(
            "cartloader_outcomes", "Final outcomes of every call, by status", labels=[*names, "status"]
        )
        if s is not None:
            for status, count in s.outcomes.items():
                outcomes.add_metric([*values, status], count)
        yield outcomes
        yield counter("cartloader_requests", "HTTP requests sent (retries and splits included)", pick("requests"))
        yield counter("cartloader_retries", "Requests that were resends", pick("retries"))
        yield counter("cartloader_rate_limited", "429 answers", pick("rate_limited"))
        yield counter("cartloader_error_responses", "Answers neither 2xx nor 429", pick("error_responses"))
        yield gauge("cartloader_records_waiting", "Submitted records not yet sent", pick("records_waiting"))
        yield gauge("cartloader_callers_waiting", "submit() calls waiting for their outcome", pick("callers_waiting"))
        yield gauge(
            "cartloader_batches_in_flight",
            "Requests holding a place under the concurrency limit (waiting for a rate slot or an answer)",
            pick("batches_in_flight"),
        )
        limit = None if s is None else s.concurrency.limit
        yield gauge("cartloader_concurrency_limit", "Requests in flight at most, now", limit)
        latency_ms = s.concurrency.latency_ms if s is not None else None
        yield gauge(
            "cartloader_latency_seconds",
            "Mean latency of the last answers",
            None if latency_ms is None else latency_ms / 1000,
        )
        budget = s.budget if s is not None else None
        yield gauge(
            "cartloader_rate_limit_requests",
            "Requests per window in force",
            None if budget is None else budget.limit.requests,
        )
        yield gauge(
            "cartloader_rate_limit_window_seconds",
            "Length of the rate-limit window in force",
            None if budget is None else budget.limit.window_s,
        )
        yield gauge(
            "cartloader_rate_paused_seconds",
            "How long every request is still held after a 429",
            None if budget is None else budget.paused_for_s,
        )
        yield gauge(
            "cartloader_daily_remaining",
            "HubSpot's last X-HubSpot-RateLimit-Daily-Remaining",
            None if budget is None else budget.daily_remaining,
        )
        yield gauge(
            "cartloader_closed", "1 once the loader takes no more calls", None if s is None else float(s.closed)
        )

    def __repr__(self) -> str:
        return f"LoaderMetrics(labels={self._labels!r})"
