"""Progress for machines and for the start of a run: a progress line every ``--progress-interval`` seconds when
stderr is not a terminal (cron, Kubernetes, nohup) or the log format is JSON, and one estimate line once HubSpot's
first answer has told the rate and the day's remaining requests."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any, Protocol

import anyio

from cartloader.api.progress import LoadProgress
from cartloader.budget.base import Budget
from cartloader.cli import console
from cartloader.input.meter import InputMeter
from cartloader.models import CartInput, Settled


def duration(seconds: float) -> str:
    """``42 s``, ``3 min 05 s``, ``2 h 07 min`` (at least ``1 s``)."""
    seconds = max(1, round(seconds))
    if seconds < 60:
        return f"{seconds} s"
    if seconds < 3600:
        return f"{seconds // 60} min {seconds % 60:02d} s"
    return f"{seconds // 3600} h {seconds % 3600 // 60:02d} min"


def budget_wait(budget: Budget | None) -> tuple[float, str] | None:
    """How long the next request waits on HubSpot and why: ``(seconds, text)``, or None when it need not wait
    (or the budget cannot say: only the per-process budget tells its waits)."""
    waiting = getattr(budget, "waiting", None)
    found = waiting() if callable(waiting) else None
    if not isinstance(found, tuple):
        return None
    seconds, reason = found
    if reason == "pause":
        return seconds, f"paused {duration(seconds)} after HubSpot's 429 (rate limit)"
    return seconds, f"waiting {duration(seconds)} for room in HubSpot's rate window"


def progress_line(progress: LoadProgress, meter: InputMeter, budget: Budget | None = None) -> None:
    """Write one progress line: records done (of the estimate), the counts, the rate, the time left, and what the
    load waits for when it waits on HubSpot."""
    summary = progress.summary()
    done = summary.created + summary.updated + summary.failed + summary.invalid
    total = meter.estimated_total()
    if total is not None:
        total = max(total, done)
        text = f"progress: {done} of about {total} records ({done / total:.0%})" if total else "progress: 0 records"
    else:
        text = f"progress: {done} records"
    text += (
        f": {summary.created} created, {summary.updated} updated, {summary.failed} failed, "
        f"{summary.invalid} invalid; {summary.records_per_s:g} records/s"
    )
    eta = None
    if total is not None and summary.records_per_s > 0:
        eta = round((total - done) / summary.records_per_s, 1)
        text += f"; about {duration(eta)} left"
    wait = budget_wait(budget)
    if wait is not None:
        text += f"; {wait[1]}"
    console.emit(
        text,
        event="progress",
        done=done,
        total_estimate=total,
        created=summary.created,
        updated=summary.updated,
        failed=summary.failed,
        invalid=summary.invalid,
        pending=summary.pending,
        records_per_s=summary.records_per_s,
        elapsed_s=summary.elapsed_s,
        eta_s=eta,
        wait_s=round(wait[0], 1) if wait is not None else None,
    )


async def report_progress(
    progress: LoadProgress,
    meter: InputMeter,
    interval_s: float,
    scope: anyio.CancelScope,
    budget: Budget | None = None,
) -> None:
    """One progress line every ``interval_s`` seconds until ``scope`` is cancelled."""
    with scope:
        while True:
            await anyio.sleep(interval_s)
            progress_line(progress, meter, budget)


class Refreshable(Protocol):
    def refresh(self) -> None: ...


async def refresh_bar(bar: Refreshable, scope: anyio.CancelScope) -> None:
    """Redraw the bar every second until ``scope`` is cancelled, so that a wait shows while no outcome comes."""
    with scope:
        while True:
            await anyio.sleep(1)
            bar.refresh()


def _percent(share: float) -> str:
    if share >= 0.1 or share == 0:
        return f"{share:.0%}"
    return f"{share * 100:.2g}%"


class EstimateLine:
    """An outcome sink that writes, once HubSpot has first answered, what the load will take: requests, time at the
    rate in force (learned from HubSpot's headers unless ``--rate`` caps it), and its share of the requests HubSpot
    allows for the rest of the day."""

    __slots__ = ("_batch_size", "_budget", "_meter", "written")

    def __init__(self, budget: Budget, meter: InputMeter, batch_size: int) -> None:
        self._budget = budget
        self._meter = meter
        self._batch_size = batch_size
        self.written = False

    def pending(self, inputs: Sequence[CartInput]) -> None:
        """Nothing is known before the first answer."""

    def settled(self, results: Sequence[Settled]) -> None:
        """Write the estimate after the first answer."""
        if self.written or not any(outcome.status != "invalid" for outcome, _ in results):
            return
        self.written = True
        rate = self._budget.limit
        daily: int | None = getattr(self._budget, "daily_remaining", None)
        total = self._meter.estimated_total()
        fields: dict[str, Any] = {"rate": str(rate), "daily_remaining": daily}
        if total is None:
            text = f"estimate: input size unknown (stdin or compressed); pacing at {rate}"
            if daily is not None:
                text += f"; HubSpot allows {daily:,} more requests today"
        else:
            requests = math.ceil(total / self._batch_size)
            seconds = requests / rate.per_second
            noun = "request" if requests == 1 else "requests"
            text = f"estimate: about {total:,} records in {requests:,} {noun}: about {duration(seconds)} at {rate}"
            fields.update(records=total, requests=requests, seconds=round(seconds, 1))
            if daily is not None:
                share = requests / daily if daily else math.inf
                text += f"; {_percent(share)} of the {daily:,} requests HubSpot allows for the rest of today"
                fields["daily_share"] = round(share, 6) if daily else None
        console.emit(text, event="estimate", **fields)
