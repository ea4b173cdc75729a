"""``LoadProgress``: one load's outcome sinks and its counts as it goes, for ``CartLoader.load()`` and
``CartLoader.preflight()`` (the command line's way in)."""

from __future__ import annotations

from collections.abc import Sequence

from cartloader.engine.collector import Collector
from cartloader.models import InvalidInput, OutcomeSink, Summary


class LoadProgress:
    """The sinks one load's outcomes go to (each ``pending`` before its request, then ``settled``), and its
    counts as it goes: ``summary()`` may be read from another task while the load runs (a progress line), and
    once it has ended. ``skipped`` counts records left out before the load (``Summary.skipped``: lines a resumed
    log settled). Give the same ``LoadProgress`` to ``preflight()`` and ``load()`` to count the schema reads in
    the load's summary.

    A caller that checks records without loading them (a dry run) settles the ones it refuses with ``refuse()``
    and counts the others with ``seen()``.
    """

    __slots__ = ("_collector",)

    def __init__(self, sinks: Sequence[OutcomeSink] = (), *, skipped: int = 0) -> None:
        self._collector = Collector(sinks)
        self._collector.skipped = skipped

    def summary(self) -> Summary:
        """The summary so far."""
        return self._collector.summary()

    def main_error(self) -> tuple[str, int] | None:
        """The most frequent error response (described by its status and category) and how many answers were
        that one; None when no answer was an error response (every one 2xx or 429)."""
        return self._collector.stats.main_error()

    def seen(self, count: int = 1) -> None:
        """Count records read and not refused, without loading them (``Summary.total``)."""
        self._collector.seen(count)

    async def refuse(self, record: InvalidInput) -> None:
        """Settle a record refused locally as ``invalid`` (never sent): counted, and given to the sinks."""
        await self._collector.refuse(record)

    def __repr__(self) -> str:
        summary = self._collector.summary()
        return f"LoadProgress(total={summary.total}, requests={summary.requests})"
