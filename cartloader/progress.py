"""What a run shows on stderr: a live progress bar while it runs, and a human summary when it ends.

The bar is a collector sink; its total (and so its ETA) comes from an ``InputMeter`` that estimates the
number of records from the input's size and the bytes per line seen so far.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Sequence
from typing import TextIO

from tqdm import tqdm

from cartloader.collector import Settled
from cartloader.records import CartInput, InvalidInput
from cartloader.summary import Summary


class InputMeter:
    """Counts the records read from the input and estimates how many remain, from the input's size.

    ``size`` is the byte size of a regular, uncompressed input file (``None``: unknown, no estimate);
    ``limit`` caps the estimate (``--limit``); ``shards`` is N of ``--shard I/N`` (this run reads one line in N).
    """

    __slots__ = ("_bytes", "_measured", "last_line", "limit", "read", "shards", "size")

    def __init__(self, size: int | None, limit: int | None = None, shards: int = 1) -> None:
        self.size = size
        self.limit = limit
        self.shards = shards
        self.read = 0
        self.last_line = 0
        self._bytes = 0
        self._measured = 0

    def saw(self, item: CartInput | InvalidInput) -> None:
        """Count one record read from the input."""
        self.read += 1
        self.last_line = item.line
        if item.raw is not None:
            self._bytes += len(item.raw) + 1
            self._measured += 1

    def estimated_total(self) -> int | None:
        """The estimated number of records this run will read, or ``None`` when it cannot be told."""
        if self.size is None or not self._measured:
            return self.limit
        per_line = self._bytes / self._measured
        remaining_lines = max(0, round(self.size / per_line) - self.last_line) // self.shards
        total = self.read + remaining_lines
        return total if self.limit is None else min(total, self.limit)

    def estimated_remaining(self) -> int | None:
        """Records not read yet, estimated; ``None`` when unknown."""
        total = self.estimated_total()
        return None if total is None else max(0, total - self.read)

    def __repr__(self) -> str:
        return f"InputMeter(read={self.read}, size={self.size}, estimated_total={self.estimated_total()})"


class ProgressBar:
    """A live tqdm bar on stderr: records done, records/s, created and failed counts, ETA when the size is
    known. A collector sink; ``close()`` removes it."""

    __slots__ = ("_bar", "_created", "_failed", "_meter")

    def __init__(self, meter: InputMeter, *, stream: TextIO | None = None) -> None:
        self._meter = meter
        self._created = 0
        self._failed = 0
        self._bar = tqdm(
            total=meter.estimated_total(),
            unit=" rec",
            file=stream or sys.stderr,
            dynamic_ncols=True,
            mininterval=0.2,
            smoothing=0.1,
            bar_format="{l_bar}{bar}| {n_fmt}/{total_fmt} [{elapsed}<{remaining}, {rate_fmt}{postfix}]",
        )
        self._bar.set_postfix_str(self._postfix(), refresh=False)

    def pending(self, inputs: Sequence[CartInput]) -> None:
        """Nothing to show until outcomes arrive."""

    def settled(self, results: Sequence[Settled]) -> None:
        """Advance the bar by ``results``."""
        for outcome, _ in results:
            if outcome.status == "created" or outcome.status == "updated":
                self._created += 1
            else:
                self._failed += 1
        total = self._meter.estimated_total()
        if total is not None:
            self._bar.total = max(total, self._bar.n + len(results))
        self._bar.set_postfix_str(self._postfix(), refresh=False)
        self._bar.update(len(results))

    def _postfix(self) -> str:
        return f"created={self._created}, failed={self._failed}"

    def close(self) -> None:
        """Remove the bar from the terminal."""
        self._bar.close()


def write_line(text: str) -> None:
    """Write one line to stderr without tearing a progress bar that may be showing."""
    tqdm.write(text, file=sys.stderr)


class StderrLogHandler(logging.Handler):
    """Shows the library's warnings (logger ``"cartloader"``) as one ``cartloader: warning: ...`` line each."""

    def emit(self, record: logging.LogRecord) -> None:
        """Write the record as one line."""
        try:
            message = " ".join(record.getMessage().split())
            level = record.levelname.lower()
            write_line(f"cartloader: {level}: {message}")
        except Exception:  # a broken stderr must not break the run
            self.handleError(record)


def _count(number: int, singular: str, plural: str | None = None) -> str:
    return f"{number} {singular if number == 1 else plural or singular + 's'}"


def _ms(value: float) -> str:
    return f"{value:.0f} ms"


def describe_summary(summary: Summary, *, log_path: str | None, rejects_path: str | None = None) -> list[str]:
    """The human summary printed at the end of a run."""
    counts = f"{summary.created} created, {summary.updated} updated, {summary.failed} failed, {summary.invalid} invalid"
    extras = []
    if summary.skipped:
        extras.append(f"{summary.skipped} skipped (already in the log)")
    if summary.duplicate_risk:
        extras.append(f"{summary.duplicate_risk} with duplicate risk")
    if summary.pending:
        extras.append(f"{summary.pending} still pending")
    unsent = summary.total - summary.created - summary.updated - summary.failed - summary.invalid - summary.pending
    if unsent > 0:
        extras.append(f"{unsent} read but not sent")
    if summary.unmatched:
        extras.append(f"{summary.unmatched} unmatched (please report this)")
    lines = [f"cartloader: {summary.total} records: {counts}" + (f"; {', '.join(extras)}" if extras else "")]
    latency = summary.latency_ms
    lines.append(
        f"  {_count(summary.requests, 'request')}, {_count(summary.retries, 'retry', 'retries')}, "
        f"{summary.rate_limited} rate-limited (429) "
        f"in {summary.elapsed_s:.1f} s: {summary.records_per_s:g} records/s; latency p50 {_ms(latency.p50)}, "
        f"p95 {_ms(latency.p95)}, p99 {_ms(latency.p99)}"
    )
    if log_path is not None:
        lines.append(f"  outcome log: {log_path}")
    if rejects_path is not None and (summary.failed or summary.invalid):
        lines.append(f"  rejects: {rejects_path} (errors in {rejects_path}.errors.ndjson)")
    return lines


def describe_dry_run(summary: Summary, *, valid: int, log_path: str | None) -> list[str]:
    """The counts printed at the end of a dry run."""
    read = valid + summary.invalid
    line = f"cartloader: dry run: {read} records read: {valid} valid, {summary.invalid} invalid; nothing sent"
    if summary.skipped:
        line += f" ({summary.skipped} lines skipped: already in the log)"
    lines = [line]
    if log_path is not None:
        lines.append(f"  outcome log: {log_path}")
    return lines
