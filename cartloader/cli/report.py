"""What a run shows on stderr: a live progress bar while it runs, warnings, and a human summary when it ends.

The bar is an outcome sink; its total (and so its ETA) comes from the ``InputMeter`` of the input.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Sequence
from typing import TextIO

import orjson
from tqdm import tqdm

from cartloader.budget.base import Budget
from cartloader.cli import console
from cartloader.cli.progress import budget_wait
from cartloader.errors import OutcomeLogError
from cartloader.input.meter import InputMeter
from cartloader.models import CartInput, Settled, Summary
from cartloader.outcomes.sinks import LogSink


class ProgressBar:
    """A live tqdm bar on stderr: records done, records/s, created and failed counts, ETA when the size is
    known. A collector sink; ``close()`` removes it."""

    __slots__ = ("_bar", "_budget", "_created", "_failed", "_meter")

    def __init__(self, meter: InputMeter, *, stream: TextIO | None = None, budget: Budget | None = None) -> None:
        self._meter = meter
        self._budget = budget
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
        text = f"created={self._created}, failed={self._failed}"
        wait = budget_wait(self._budget)
        return text if wait is None else f"{text}, {wait[1]}"

    def refresh(self) -> None:
        """Show what the load waits for now (called every second or so while no outcome arrives)."""
        self._bar.set_postfix_str(self._postfix())

    def close(self) -> None:
        """Remove the bar from the terminal."""
        self._bar.close()


class StderrLogHandler(logging.Handler):
    """Shows the library's warnings (logger ``"cartloader"``) as one ``cartloader: warning: ...`` line each."""

    def emit(self, record: logging.LogRecord) -> None:
        """Write the record as one line."""
        try:
            level = record.levelname.lower()
            console.emit(record.getMessage(), level=level, event=level)
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
    if summary.unsent:
        extras.append(f"{summary.unsent} unsent (HubSpot processed none of them)")
    done = summary.created + summary.updated + summary.failed + summary.invalid
    never_sent = summary.total - done - summary.pending - summary.unsent
    if never_sent > 0:
        extras.append(f"{never_sent} read but not sent")
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
    lines.extend(describe_failures(summary))
    if log_path is not None:
        lines.append(f"  outcome log: {'stdout' if log_path == '-' else log_path}")
    if rejects_path is not None and (summary.failed or summary.invalid):
        lines.append(f"  rejects: {rejects_path} (errors in {rejects_path}.errors.ndjson)")
    return lines


def describe_failures(summary: Summary, *, most: int = 10, width: int = 160) -> list[str]:
    """One line per failure category, the most frequent first: its count and one sample message, shortened."""
    ranked = sorted(summary.failures_by_category.items(), key=lambda item: (-item[1], item[0]))
    lines = ["  failed or invalid, by category:"] if ranked else []
    for category, count in ranked[:most]:
        sample = " ".join(summary.failure_samples.get(category, "").split())
        line = f"    {category}: {count}" + (f", e.g. {sample}" if sample else "")
        lines.append(line if len(line) <= width else line[: width - 3] + "...")
    if len(ranked) > most:
        rest = sum(count for _, count in ranked[most:])
        lines.append(f"    ... {len(ranked) - most} more categories ({rest} records): see the outcome log")
    problems = sorted(summary.problems_by_code.items(), key=lambda item: (-item[1], item[0]))
    if problems and problems != ranked:
        shown = ", ".join(f"{code} {count}" for code, count in problems[:most])
        more = f", ... {len(problems) - most} more" if len(problems) > most else ""
        lines.append(f"  problems, by code (every problem of every record): {shown}{more}")
    return lines


#: HubSpot's guideline: error responses should stay under 5% of an app's requests.
ERROR_GUIDELINE = 0.05


def describe_error_budget(summary: Summary, main_error: tuple[str, int] | None) -> str | None:
    """The end-of-run warning (without its ``cartloader: warning:`` prefix) when error responses exceeded HubSpot's
    5% guideline, naming the main cause."""
    if not summary.requests or summary.error_responses <= ERROR_GUIDELINE * summary.requests:
        return None
    share = summary.error_responses / summary.requests
    line = (
        f"{summary.error_responses} of {summary.requests} requests ({share:.0%}) were "
        "error responses, above HubSpot's 5% guideline"
    )
    if main_error is not None:
        cause, count = main_error
        line += f"; main cause: {cause} ({count})"
    return line


def describe_dry_run(summary: Summary, *, valid: int, log_path: str | None, schema_checked: bool = True) -> list[str]:
    """The counts printed at the end of a dry run (``schema_checked`` False: no token, so the portal's property
    definitions were not read and a valid record may still be refused by HubSpot)."""
    read = valid + summary.invalid
    line = f"cartloader: dry run: {read} records read: {valid} valid, {summary.invalid} invalid; nothing sent"
    if summary.skipped:
        line += f" ({summary.skipped} lines skipped: already in the log)"
    lines = [line]
    if summary.requests:
        lines.append(f"  the preflight read the portal's schema: {_count(summary.requests, 'request')}")
    elif not schema_checked:
        lines.append(
            "  schema not checked (no token): valid here may still be refused by HubSpot; run the dry run with a "
            "token (HUBSPOT_ACCESS_TOKEN or --token-file) to check against the portal's properties; "
            "`python -m cartloader properties` lists them"
        )
    if log_path is not None:
        lines.append(f"  outcome log: {log_path}")
    return lines


def describe_lines(lines: Sequence[int], *, most: int = 12) -> str:
    """Line numbers as sorted ranges, ``"3-5, 9, 12-20"``; past ``most`` ranges, ``", ... (N ranges)"``."""
    ranges: list[tuple[int, int]] = []
    for line in sorted(set(lines)):
        if ranges and line == ranges[-1][1] + 1:
            ranges[-1] = (ranges[-1][0], line)
        else:
            ranges.append((line, line))
    shown = ", ".join(str(a) if a == b else f"{a}-{b}" for a, b in ranges[:most])
    return shown + (f", ... ({len(ranges)} ranges)" if len(ranges) > most else "")


def write_summary_json(path: str, summary: Summary, exit_status: int) -> None:
    """``--summary-json``: the summary as indented JSON with the run's ``exit_status`` (an existing file is
    replaced)."""
    content = {**summary.to_dict(), "exit_status": exit_status}
    try:
        with open(path, "wb") as stream:
            stream.write(orjson.dumps(content, option=orjson.OPT_INDENT_2 | orjson.OPT_APPEND_NEWLINE))
    except OSError as exc:
        raise OutcomeLogError(f"cannot write summary {path}: {exc.strerror or exc}") from None


def unlogged_note(log: LogSink | None) -> str:
    """What a failed outcome log leaves out: the records that were sent but whose outcomes it could not take."""
    if log is None or log.error is None:
        return ""
    if not log.unlogged:
        return "; sending stopped, and every answer received was logged"
    return (
        f"; sending stopped; {len(log.unlogged)} records were sent but their outcomes could not be logged "
        f"(lines {describe_lines(log.unlogged)}): --resume sends again, flagged duplicate_risk, those the log "
        "still holds as pending (a write cut short may have kept some outcomes)"
    )
