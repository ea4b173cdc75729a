"""Applying decisions: archive the surplus copies (``--apply``), then settle the log (new outcome lines, append-only)
and write each archived id, with its value, line and the object kept, to ``OUT.reconcile.ndjson``."""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import BinaryIO

import orjson

try:
    import fcntl
except ImportError:  # pragma: no cover - not POSIX
    fcntl = None  # type: ignore[assignment]

from cartloader.errors import ConfigError, OutcomeLogError
from cartloader.models import Outcome
from cartloader.outcomes.format import encode_outcome
from cartloader.reconcile.client import HubSpotClient
from cartloader.reconcile.rules import Decision
from cartloader.reconcile.summary import LISTED_LINES, ReconcileSummary

REPORT_SUFFIX = ".reconcile.ndjson"


def lock_log(path: str) -> BinaryIO:
    """Open the log for appending and hold its lock (as a load does); ``ConfigError`` when another process holds it."""
    try:
        file = open(path, "ab")  # noqa: SIM115 - the caller closes it
    except OSError as exc:
        raise ConfigError(f"cannot write outcome log {path}: {exc.strerror or exc}") from None
    if fcntl is not None:
        try:
            fcntl.flock(file.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            file.close()
            raise ConfigError(f"outcome log {path} is in use by another cartloader run") from None
        except OSError:
            pass  # a file system without locks
    return file


def _torn(path: str) -> bool:
    """Whether the log ends in a torn line (no newline): new lines then start on a line of their own."""
    try:
        with open(path, "rb") as stream:
            stream.seek(0, os.SEEK_END)
            if stream.tell() == 0:
                return False
            stream.seek(-1, os.SEEK_END)
            return stream.read(1) != b"\n"
    except OSError:
        return False


class Ledger:
    """Where reconcile's changes go: HubSpot (archive), the outcome log, the report file."""

    def __init__(self, path: str, log: BinaryIO, key: str, db: sqlite3.Connection, *, apply: bool) -> None:
        self._path = path
        self._log = log
        self._key = key
        self._db = db
        self._apply = apply
        self._report: BinaryIO | None = None
        self._torn = _torn(path)

    async def act(self, decisions: Sequence[Decision], client: HubSpotClient, summary: ReconcileSummary) -> None:
        """Count what ``decisions`` find; with ``apply``, archive, then log and report it."""
        archive: list[str] = []
        for decision in decisions:
            summary.duplicates_found += len(decision.archive)
            summary.not_checkable += len(decision.unchecked)
            for line in decision.unchecked:
                if len(summary.not_checkable_lines) < LISTED_LINES:
                    summary.not_checkable_lines.append(line)
            if decision.lagging:
                summary.lagging_values += 1
                summary.not_checkable += sum(1 for _ in self._checked_lines(decision.value))
            archive.extend(decision.archive)
            if not self._apply:
                summary.list_would_archive(decision.archive)
                summary.would_settle += len(decision.settle) + len(decision.unflag)
        if not self._apply:
            return
        if archive:
            await client.archive(archive)
            summary.archived += len(archive)
            summary.list_archived(archive)
            self._write_report(decisions)
        lines = []
        for decision in decisions:
            for line, object_id in [*decision.settle, *decision.unflag]:
                lines.append(encode_outcome(self._settled(line, object_id)))
        if lines:
            self._write_log(b"".join(lines))
            summary.settled += len(lines)

    def _checked_lines(self, value: str) -> list[int]:
        query = "SELECT chk.line FROM chk JOIN input USING (line) WHERE input.value = ?"
        return [line for (line,) in self._db.execute(query, (value,))]

    def _settled(self, line: int, object_id: str) -> Outcome:
        row = self._db.execute("SELECT key, attempts FROM entries WHERE line = ?", (line,)).fetchone()
        key, attempts = (row[0], row[1] or 0) if row else (None, 0)
        return Outcome(line, "created", key, object_id, attempts=max(1, attempts))

    def _write_log(self, data: bytes) -> None:
        try:
            if self._torn:
                data = b"\n" + data
                self._torn = False
            self._log.write(data)
            self._log.flush()
            os.fsync(self._log.fileno())
        except OSError as exc:
            raise OutcomeLogError(f"cannot write outcome log {self._path}: {exc.strerror or exc}") from None

    def _write_report(self, decisions: Sequence[Decision]) -> None:
        path = self._path + REPORT_SUFFIX
        at = datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
        entries = []
        for decision in decisions:
            kept = next(iter(sorted(decision.kept.items(), key=lambda item: item[1])), None)
            for object_id in decision.archive:
                entry: dict[str, object] = {"archived": object_id, "property": self._key, "value": decision.value}
                if kept is not None:
                    entry["line"] = kept[1]
                    entry["kept"] = kept[0]
                entry["at"] = at
                entries.append(orjson.dumps(entry, option=orjson.OPT_APPEND_NEWLINE))
        try:
            if self._report is None:
                self._report = open(path, "ab")  # noqa: SIM115 - closed by close()
            self._report.write(b"".join(entries))
            self._report.flush()
            os.fsync(self._report.fileno())
        except OSError as exc:
            raise OutcomeLogError(f"cannot write reconcile report {path}: {exc.strerror or exc}") from None

    def close(self) -> None:
        """Close the report file."""
        if self._report is not None:
            self._report.close()
            self._report = None
