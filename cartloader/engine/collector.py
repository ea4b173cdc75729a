"""The collector: every record's outcome goes through here to the outcome log, the caller's callback,
the outcome stream and the summary counts.

Workers call it directly (the event loop is single-threaded), so a ``pending`` entry is always written
before its request leaves, and a final outcome is written before the worker reaches its next await:
no cancellation can fall between an answer and its log entry.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import replace

from anyio.abc import ObjectSendStream

from cartloader.engine.stats import RunStats
from cartloader.models import (
    CartInput,
    InvalidInput,
    LatencyPercentiles,
    Outcome,
    OutcomeSink,
    RecordError,
    Settled,
    Summary,
)
from cartloader.outcomes.log import OutcomeLog

#: Distinct failure categories counted by name; any further ones are counted together under ``OTHER_CATEGORIES``.
MAX_CATEGORIES = 100
OTHER_CATEGORIES = "OTHER"
MAX_SAMPLE_CHARS = 500


class Collector:
    """Funnels outcomes to the sinks, the callback and the stream, and counts them. With ``echo`` (property names),
    the outcomes the callback and the stream get carry the record's values of those properties (``echoed``)."""

    def __init__(
        self,
        sinks: Sequence[OutcomeSink] = (),
        *,
        on_outcome: Callable[[Outcome], object] | None = None,
        stream: ObjectSendStream[Outcome] | None = None,
        echo: Sequence[str] = (),
    ) -> None:
        self._sinks = tuple(sinks)
        self._echo = tuple(echo)
        self._on_outcome = on_outcome
        self._stream = stream
        self.stats = RunStats()
        self.started = time.monotonic()
        self.counts: dict[str, int] = {"created": 0, "updated": 0, "failed": 0, "invalid": 0, "unsent": 0}
        self.total = 0
        self.skipped = 0
        self.duplicate_risk = 0
        self.unmatched = 0
        self.in_flight = 0
        self.failures_by_category: dict[str, int] = {}
        self.failure_samples: dict[str, str] = {}

    def seen(self, count: int = 1) -> None:
        """Count records read from the source (``Summary.total``; some may not be sent if the run stops)."""
        self.total += count

    def unmatched_results(self, count: int) -> None:
        """Count results of a 2xx that matched no input (never assigned to one: ``Summary.unmatched``)."""
        self.unmatched += count

    def use_clock(self, now: Callable[[], float]) -> None:
        """Stamp the ``sent_at`` of the ``pending`` lines the outcome logs among the sinks write with ``now``
        (HubSpot's clock as the transport knows it)."""
        for sink in self._sinks:
            log = getattr(sink, "log", None)
            if isinstance(log, OutcomeLog):
                log.clock = now

    def pending(self, inputs: Sequence[CartInput]) -> None:
        """Log records as pending just before their first request."""
        for sink in self._sinks:
            sink.pending(inputs)
        self.in_flight += len(inputs)

    async def settle(self, results: Sequence[Settled], *, was_pending: bool = True) -> None:
        """Record final outcomes; ``was_pending`` is False for invalid records that were never sent."""
        if not results:
            return
        counts = self.counts
        for outcome, _ in results:
            counts[outcome.status] += 1
            if outcome.error is not None:
                self._count_failure(outcome.line, outcome.error)
            if outcome.duplicate_risk:
                self.duplicate_risk += 1
            if outcome.unmatched:
                self.unmatched += 1
        if was_pending:
            self.in_flight -= len(results)
        for sink in self._sinks:
            sink.settled(results)
        if self._on_outcome is None and self._stream is None:
            return
        outcomes = [outcome for outcome, _ in results] if not self._echo else [self._echoed(*pair) for pair in results]
        if self._on_outcome is not None:
            for outcome in outcomes:
                self._on_outcome(outcome)
        if self._stream is not None:
            for outcome in outcomes:
                await self._stream.send(outcome)

    def _echoed(self, outcome: Outcome, record: CartInput | InvalidInput) -> Outcome:
        """The outcome carrying the record's values of the ``echo`` properties (``echo=``)."""
        properties = record.properties if isinstance(record, CartInput) else {}
        return replace(outcome, echoed={name: properties[name] for name in self._echo if name in properties})

    def _count_failure(self, line: int, error: RecordError) -> None:
        category = error.category
        by_category = self.failures_by_category
        if category not in by_category:
            if len(by_category) >= MAX_CATEGORIES:
                category = OTHER_CATEGORIES  # a bound on memory whatever a server answers
            else:
                message = error.message
                prefix = f"line {line}: "
                sample = message if message.startswith(prefix) else prefix + message
                self.failure_samples[category] = sample[:MAX_SAMPLE_CHARS]
        by_category[category] = by_category.get(category, 0) + 1

    def unsent(self, results: Sequence[Settled]) -> None:
        """Record outcomes ``unsent``: the run stops, and HubSpot provably processed none of these ``pending``
        records. Only sinks with an ``unsent`` method are told; they are not final, so not the callback nor the
        stream. Called while the run unwinds: a sink's error is dropped (the records then stay ``pending``, the
        safe side) rather than hide what stopped the run."""
        self.counts["unsent"] += len(results)
        self.in_flight -= len(results)
        for sink in self._sinks:
            write = getattr(sink, "unsent", None)
            if write is None:
                continue
            try:
                write(results)
            except Exception:
                continue

    async def refuse(self, item: InvalidInput) -> None:
        """Record a record refused locally (never sent) as ``invalid``."""
        self.seen()
        outcome = Outcome(item.line, "invalid", error=RecordError(item.category, item.message, None, item.details))
        await self.settle([(outcome, item)], was_pending=False)

    def summary(self) -> Summary:
        """The summary so far."""
        elapsed = time.monotonic() - self.started
        counts = self.counts
        done = counts["created"] + counts["updated"] + counts["failed"] + counts["invalid"]
        latency = self.stats.latency
        return Summary(
            total=self.total,
            created=counts["created"],
            updated=counts["updated"],
            failed=counts["failed"],
            invalid=counts["invalid"],
            skipped=self.skipped,
            duplicate_risk=self.duplicate_risk,
            requests=self.stats.requests,
            retries=self.stats.retries,
            rate_limited=self.stats.rate_limited,
            elapsed_s=round(elapsed, 3),
            records_per_s=round(done / elapsed, 1) if elapsed > 0 else 0.0,
            latency_ms=LatencyPercentiles(latency.percentile(0.50), latency.percentile(0.95), latency.percentile(0.99)),
            unmatched=self.unmatched,
            pending=self.in_flight,
            unsent=counts["unsent"],
            error_responses=self.stats.error_responses,
            failures_by_category=dict(self.failures_by_category),
            failure_samples=dict(self.failure_samples),
        )
