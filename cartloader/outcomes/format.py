"""The outcome log's line format, in one place: encoding, decoding, the status set, and the resume fast path.

One JSON object per line, written by orjson with keys in a fixed order (docs/outcome-log.md). ``ENTRY_HEAD``
reads the ``line`` and ``status`` of a line in that exact form without parsing it, which is how ``--resume``
indexes a log of millions of lines in seconds; anything else is parsed exactly (``read_entry_head``).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

import orjson

from cartloader.models import CartInput, Outcome, PropertyProblem, RecordError

#: Every status a log line may carry, in the order of the resume index's codes (new ones only ever appended,
#: so the codes of the others never change).
STATUSES: tuple[str, ...] = ("pending", "created", "updated", "failed", "invalid", "unsent")
#: Fields of a log entry; an echoed property may not take one of these names.
RESERVED_FIELDS = frozenset(
    {
        "line",
        "key",
        "status",
        "id",
        "error",
        "existing_id",
        "attempts",
        "duplicate_risk",
        "unmatched",
        "skipped_associations",
        "answered_at",
    }
)
#: The head of an entry as ``encode_outcome`` and ``encode_pending`` write it: ``line`` and ``status``.
ENTRY_HEAD = re.compile(
    rb'^\{"line":([1-9][0-9]{0,17}),(?:"key":"[^"\\\n]*(?:\\.[^"\\\n]*)*",)?"status":"([a-z]+)"', re.M
)
_APPEND_NEWLINE = orjson.OPT_APPEND_NEWLINE


def encode_outcome(
    outcome: Outcome, echoed: Mapping[str, str | None] | None = None, answered_at: str | None = None
) -> bytes:
    """One log line (with its ``"\\n"``) for an outcome; absent fields are omitted.

    Keys in order: ``line, key, status, id, error, existing_id, attempts, duplicate_risk, answered_at, unmatched``,
    then the echoed properties (``--echo``: name -> value). ``answered_at`` (``format_sent_at``: when the outcome
    was settled, i.e. at or after the record's last answer) is written only on the lines ``may_be_copied`` holds
    for, so that the log does not grow for every record. ``id`` is written as ``null`` for a created/updated record
    without one (``unmatched``); ``attempts`` only for created, updated, failed and unsent records.
    """
    entry: dict[str, Any] = {"line": outcome.line}
    if outcome.key is not None:
        entry["key"] = outcome.key
    status = outcome.status
    entry["status"] = status
    if outcome.id is not None or status == "created" or status == "updated":
        entry["id"] = outcome.id
    if outcome.error is not None:
        entry["error"] = outcome.error.to_dict()
    if outcome.existing_id is not None:
        entry["existing_id"] = outcome.existing_id
    if status == "created" or status == "updated" or status == "failed" or status == "unsent":
        entry["attempts"] = outcome.attempts
    if outcome.duplicate_risk:
        entry["duplicate_risk"] = True
    if answered_at is not None and may_be_copied(outcome):
        entry["answered_at"] = answered_at
    if outcome.unmatched:
        entry["unmatched"] = True
    if outcome.skipped_associations:
        entry["skipped_associations"] = list(outcome.skipped_associations)
    if echoed:
        entry.update(echoed)
    return orjson.dumps(entry, option=_APPEND_NEWLINE)


def may_be_copied(outcome: Outcome) -> bool:
    """Whether HubSpot may hold this record more than once or without the log naming it: flagged
    ``duplicate_risk``, or ``failed`` as ``AMBIGUOUS`` (its final line then carries ``answered_at``, the end of its
    attempts for ``reconcile``)."""
    if outcome.duplicate_risk:
        return True
    error = outcome.error
    return outcome.status == "failed" and error is not None and error.category == "AMBIGUOUS"


def encode_pending(record: CartInput, sent_at: str | None = None) -> bytes:
    """The ``pending`` line written for a record before its batch is sent; ``sent_at`` (``format_sent_at``) is
    when that attempt left, written after ``status`` so that ``ENTRY_HEAD`` reads the line as before."""
    entry: dict[str, Any] = {"line": record.line}
    if record.key is not None:
        entry["key"] = record.key
    entry["status"] = "pending"
    if sent_at is not None:
        entry["sent_at"] = sent_at
    return orjson.dumps(entry, option=_APPEND_NEWLINE)


def format_sent_at(epoch_s: float) -> str:
    """A ``sent_at`` time: ISO 8601 UTC with milliseconds and ``Z`` (``2026-03-01T12:00:00.123Z``)."""
    stamp = datetime.fromtimestamp(int(epoch_s * 1000) / 1000, UTC)
    return stamp.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def parse_sent_at(text: object) -> float | None:
    """The epoch seconds a ``sent_at`` names, or None when it is not one (absent, or not ISO 8601 with a zone)."""
    if not isinstance(text, str):
        return None
    try:
        stamp = datetime.fromisoformat(text)
    except ValueError:
        return None
    return None if stamp.tzinfo is None else stamp.timestamp()


def decode(data: bytes) -> Outcome:
    """Read one log line back into an ``Outcome``; raises ``ValueError`` if it is not an outcome entry."""
    entry = orjson.loads(data)
    if not isinstance(entry, dict):
        raise ValueError("an outcome entry is a JSON object")
    line = entry.get("line")
    status = entry.get("status")
    if type(line) is not int or line < 1:
        raise ValueError('"line" must be a positive integer')
    if status not in STATUSES:
        raise ValueError(f'unknown "status" {status!r}')
    key = _optional(entry, "key", str)
    record_id = _optional(entry, "id", str)
    error = None
    raw_error = entry.get("error")
    if raw_error is not None:
        if not isinstance(raw_error, dict):
            raise ValueError('"error" must be an object')
        error = RecordError(
            _required(raw_error, "category", str),
            _required(raw_error, "message", str),
            _optional(raw_error, "status", int),
            _details(raw_error.get("details")),
        )
    attempts = entry.get("attempts", 0)
    if type(attempts) is not int:
        raise ValueError('"attempts" must be an integer')
    return Outcome(
        line,
        status,
        key,
        record_id,
        error,
        attempts,
        entry.get("duplicate_risk") is True,
        entry.get("unmatched") is True,
        None,
        _optional(entry, "existing_id", str),
    )


def _details(raw: object) -> tuple[PropertyProblem, ...]:
    if raw is None:
        return ()
    if not isinstance(raw, list) or not all(isinstance(item, dict) for item in raw):
        raise ValueError('"error.details" must be a list of objects')
    return tuple(
        PropertyProblem(
            _required(item, "property", str),
            _required(item, "code", str),
            _required(item, "message", str),
            _optional(item, "value", str),
        )
        for item in raw
    )


def _optional(entry: dict[str, Any], name: str, kind: type[Any]) -> Any:
    value = entry.get(name)
    if value is not None and type(value) is not kind:
        raise ValueError(f'"{name}" must be a {kind.__name__}')
    return value


def _required(entry: dict[str, Any], name: str, kind: type[Any]) -> Any:
    value = entry.get(name)
    if type(value) is not kind:
        raise ValueError(f'"{name}" must be a {kind.__name__}')
    return value


class LogFormatError(ValueError):
    """A complete line of the outcome log is not an outcome entry."""

    def __init__(self, log_line: int, reason: str) -> None:
        super().__init__(f"line {log_line} is not an outcome entry ({reason})")
        self.log_line = log_line


def read_entry_head(content: bytes, log_line: int) -> tuple[int, str]:
    """The ``line`` and ``status`` of one log entry, parsed exactly (the slow path beside ``ENTRY_HEAD``);
    raises ``LogFormatError`` naming ``log_line`` when it is not an outcome entry."""
    try:
        entry = orjson.loads(content)
    except orjson.JSONDecodeError as exc:
        raise LogFormatError(log_line, f"invalid JSON: {exc.msg}") from None
    if not isinstance(entry, dict):
        raise LogFormatError(log_line, "not an object")
    line = entry.get("line")
    status = entry.get("status")
    if type(line) is not int or line < 1:
        raise LogFormatError(log_line, '"line" must be a positive integer')
    if status not in STATUSES:
        raise LogFormatError(log_line, f'unknown "status" {status!r}')
    return line, status
