"""Outcome sinks that write files: the outcome log (``LogSink``) and the rejects file (``RejectsSink``).

Both follow the collector's ``OutcomeSink`` protocol and hand their bytes to the operating system once per
batch, so a killed run loses at most the batch being written, and a ``pending`` entry is on disk before its
request leaves (design rule 6).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, BinaryIO

import orjson

from cartloader.errors import ConfigError, OutcomeLogError
from cartloader.models import CartInput, Settled, echoed_values
from cartloader.outcomes.log import STDOUT, OpenMode, OutcomeLog
from cartloader.outcomes.meta import RunMeta

REJECTS_ERRORS_SUFFIX = ".errors.ndjson"


class LogSink:
    """Writes every outcome to an ``OutcomeLog``: ``pending`` before a batch is sent, final outcomes after.

    After a write error it writes nothing more: every later ``pending`` raises that error again (so nothing
    more is sent), and the lines of final outcomes it could not log are kept in ``unlogged`` (they were sent,
    and stay ``pending`` in the log, so ``--resume`` sends them again flagged ``duplicate_risk``).
    """

    __slots__ = ("error", "log", "unlogged")

    def __init__(self, log: OutcomeLog) -> None:
        self.log = log
        self.error: OutcomeLogError | None = None
        self.unlogged: list[int] = []

    @property
    def path(self) -> str:
        """Where the log is."""
        return self.log.path

    def pending(self, inputs: Sequence[CartInput]) -> None:
        """Log the batch as ``pending`` and flush, before its request is sent."""
        if self.error is not None:
            raise self.error
        try:
            self.log.write_pending(inputs)  # flushes: the entries are with the OS before the request leaves
        except OutcomeLogError as exc:
            self.error = exc
            raise

    def settled(self, results: Sequence[Settled]) -> None:
        """Log final outcomes and flush."""
        if self.error is None:
            try:
                self.log.write_settled(results)
                self.log.flush()
                return
            except OutcomeLogError as exc:
                self.error = exc
        self.unlogged.extend(outcome.line for outcome, _ in results if outcome.status != "invalid")
        raise self.error

    def unsent(self, results: Sequence[Settled]) -> None:
        """Log ``unsent`` outcomes and flush; after a write error, nothing (those records stay ``pending``)."""
        if self.error is not None:
            return
        try:
            self.log.write_settled(results)
            self.log.flush()
        except OutcomeLogError as exc:
            self.error = exc

    def flush(self) -> None:
        """Hand buffered entries to the operating system."""
        self.log.flush()

    def close(self) -> None:
        """Flush and close the log (idempotent)."""
        self.log.close()

    def __repr__(self) -> str:
        return f"LogSink({self.log!r})"


def open_log_sink(path: str, *, mode: OpenMode, meta: RunMeta, echo: Sequence[str] = ()) -> LogSink:
    """Open the outcome log at ``path`` (see ``OutcomeLog.open``; ``-`` is stdout) as a sink; ``ConfigError`` if
    it must not be."""
    if path == STDOUT:
        return LogSink(OutcomeLog.to_stdout(meta=meta, echo=echo))
    return LogSink(OutcomeLog.open(path, mode=mode, meta=meta, echo=echo))


def open_library_log(
    path: str, *, resume: bool = False, options: Mapping[str, Any] | None = None, echo: Sequence[str] = ()
) -> LogSink:
    """The outcome log of a library call (``outcome_log="path"``): a new log (an existing one is refused), or
    with ``resume`` the log continued (checked against ``options``, as ``--resume`` checks them)."""
    return open_log_sink(path, mode="resume" if resume else "new", meta=RunMeta.new(None, options), echo=echo)


class RejectsSink:
    """Writes every ``failed`` or ``invalid`` input line to ``PATH`` verbatim, ready to fix and reload, and
    its error to ``PATH.errors.ndjson``, line for line: line k of one explains line k of the other.

    An input without its raw text (a line over the size limit) leaves a blank line in ``PATH``, which a
    reload skips, so the two files stay aligned. For a CSV input, ``header`` (its header row) starts ``PATH``
    (unless appending to a file that has content), so the rejects reload with the same options. With ``echo``
    (``--echo``), each error entry carries the record's values of those properties, as the outcome log does.
    The lines are UTF-8 (an input read with ``--encoding`` is written back as UTF-8: reload without it).
    """

    __slots__ = ("_echo", "_errors", "_lines", "errors_path", "path")

    def __init__(
        self, path: str, *, append: bool = False, header: bytes | None = None, echo: Sequence[str] = ()
    ) -> None:
        self.path = path
        self._echo = tuple(echo)
        self.errors_path = path + REJECTS_ERRORS_SUFFIX
        try:
            self._lines: BinaryIO = open(path, "ab" if append else "wb")  # noqa: SIM115 - closed by close()
            if header is not None and self._lines.tell() == 0:
                self._lines.write(header + b"\n")  # a CSV input's rejects are a CSV: its header comes first
        except OSError as exc:
            raise ConfigError(f"cannot write rejects file {path}: {exc.strerror or exc}") from None
        try:
            self._errors: BinaryIO = open(self.errors_path, "ab" if append else "wb")  # noqa: SIM115
        except OSError as exc:
            self._lines.close()
            raise ConfigError(f"cannot write rejects file {self.errors_path}: {exc.strerror or exc}") from None

    def pending(self, inputs: Sequence[CartInput]) -> None:
        """Nothing to do: only final refusals are rejects."""

    def settled(self, results: Sequence[Settled]) -> None:
        """Write the refused inputs of ``results`` and their errors."""
        lines: list[bytes] = []
        errors: list[bytes] = []
        for outcome, record in results:
            if outcome.status != "failed" and outcome.status != "invalid":
                continue
            lines.append((record.raw or b"") + b"\n")
            entry: dict[str, object] = {"line": outcome.line, "status": outcome.status}
            if outcome.error is not None:
                entry["error"] = outcome.error.to_dict()
            if self._echo:
                entry.update(echoed_values(record, self._echo))
            errors.append(orjson.dumps(entry, option=orjson.OPT_APPEND_NEWLINE))
        if not lines:
            return
        try:
            self._lines.write(b"".join(lines))
            self._errors.write(b"".join(errors))
            self._lines.flush()
            self._errors.flush()
        except OSError as exc:
            raise OutcomeLogError(f"cannot write rejects file {self.path}: {exc.strerror or exc}") from None

    def flush(self) -> None:
        """Hand buffered lines to the operating system."""
        self._lines.flush()
        self._errors.flush()

    def close(self) -> None:
        """Close both files (idempotent)."""
        for stream in (self._lines, self._errors):
            try:
                stream.close()
            except OSError:
                pass  # a write error was raised already; closing must not hide the real outcome

    def __repr__(self) -> str:
        return f"RejectsSink({self.path!r})"
