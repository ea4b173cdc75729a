"""Reading the outcome log (and its shard siblings) into an on-disk index (sqlite3), so that memory stays bounded
whatever the log's length: each line's last entry, the ``sent_at`` of its ``pending`` lines and the ``answered_at``
of its final lines (in log order), and every id any line names."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator

import orjson

from cartloader.errors import ConfigError
from cartloader.outcomes.format import parse_sent_at

_SCHEMA = """
CREATE TABLE entries (
    line INTEGER PRIMARY KEY, status TEXT NOT NULL, dr INTEGER NOT NULL, id TEXT, own INTEGER, key TEXT,
    attempts INTEGER, amb INTEGER NOT NULL
);
CREATE TABLE chk (line INTEGER PRIMARY KEY);
CREATE TABLE sent (line INTEGER NOT NULL, seq INTEGER NOT NULL, answered INTEGER NOT NULL, at REAL);
CREATE INDEX sent_line ON sent (line);
CREATE TABLE named (id TEXT PRIMARY KEY);
CREATE TABLE input (line INTEGER PRIMARY KEY, value TEXT, props BLOB);
CREATE INDEX input_value ON input (value);
"""
_BATCH = 5000


def open_index(path: str) -> sqlite3.Connection:
    """A fresh index database at ``path`` (a temporary file of the caller's)."""
    db = sqlite3.connect(path)
    db.execute("PRAGMA journal_mode=OFF")
    db.execute("PRAGMA synchronous=OFF")
    db.executescript(_SCHEMA)
    return db


def _entries(path: str) -> Iterator[dict[str, object]]:
    try:
        stream = open(path, "rb")  # noqa: SIM115
    except OSError as exc:
        raise ConfigError(f"cannot read outcome log {path}: {exc.strerror or exc}") from None
    with stream:
        for number, raw in enumerate(stream, 1):
            if not raw.endswith(b"\n"):
                return  # a torn last line: as --resume, it is not an entry
            if not raw.strip():
                continue
            try:
                entry = orjson.loads(raw)
            except orjson.JSONDecodeError:
                raise ConfigError(f"outcome log {path}: line {number} is not JSON") from None
            if isinstance(entry, dict) and type(entry.get("line")) is int:
                yield entry


def _ambiguous(entry: dict[str, object]) -> int:
    """1 for a ``failed`` entry of category ``AMBIGUOUS`` (HubSpot may have processed it; it was not resent)."""
    error = entry.get("error")
    category = error.get("category") if isinstance(error, dict) else None
    return 1 if entry.get("status") == "failed" and category == "AMBIGUOUS" else 0


def index_log(db: sqlite3.Connection, path: str, *, own: bool) -> None:
    """Add the log at ``path`` to the index (``own``: the log being reconciled; its ``sent_at`` times count)."""
    entries: list[tuple[object, ...]] = []
    sent: list[tuple[object, ...]] = []
    named: list[tuple[object, ...]] = []

    def flush() -> None:
        db.executemany("INSERT OR REPLACE INTO entries VALUES (?, ?, ?, ?, ?, ?, ?, ?)", entries)
        db.executemany("INSERT INTO sent VALUES (?, ?, ?, ?)", sent)
        db.executemany("INSERT OR IGNORE INTO named VALUES (?)", named)
        entries.clear()
        sent.clear()
        named.clear()

    for seq, entry in enumerate(_entries(path)):
        line = entry["line"]
        status = entry.get("status")
        record_id = entry.get("id") if isinstance(entry.get("id"), str) else None
        key = entry.get("key") if isinstance(entry.get("key"), str) else None
        attempts = entry.get("attempts") if type(entry.get("attempts")) is int else 0
        flag = 1 if entry.get("duplicate_risk") is True else 0
        entries.append((line, status, flag, record_id, 1 if own else 0, key, attempts, _ambiguous(entry)))
        for name in ("id", "existing_id"):
            value = entry.get(name)
            if isinstance(value, str):
                named.append((value,))
        if own and status == "pending":
            sent.append((line, seq, 0, parse_sent_at(entry.get("sent_at"))))
        elif own and "answered_at" in entry:
            sent.append((line, seq, 1, parse_sent_at(entry.get("answered_at"))))
        if len(entries) >= _BATCH:
            flush()
    flush()
    db.commit()


def mark_checked(db: sqlite3.Connection) -> int:
    """Mark the lines of the reconciled log to check (table ``chk``): last entry flagged ``duplicate_risk``, left
    ``pending``, or ``failed`` ``AMBIGUOUS`` (not resent: its cart may exist once); how many."""
    db.execute("INSERT INTO chk SELECT line FROM entries WHERE own = 1 AND (dr = 1 OR status = 'pending' OR amb = 1)")
    db.commit()
    return int(db.execute("SELECT COUNT(*) FROM chk").fetchone()[0])


def is_checked(db: sqlite3.Connection, line: int) -> bool:
    """Whether ``line`` is to be checked."""
    return db.execute("SELECT 1 FROM chk WHERE line = ?", (line,)).fetchone() is not None


def attempt_times(db: sqlite3.Connection, line: int) -> list[tuple[bool, float | None]]:
    """A line's times in log order: ``(False, sent_at)`` for each ``pending`` entry (None: written without it),
    ``(True, answered_at)`` for each final entry carrying ``answered_at``."""
    query = "SELECT answered, at FROM sent WHERE line = ? ORDER BY seq"
    return [(bool(answered), at) for answered, at in db.execute(query, (line,))]


def is_named(db: sqlite3.Connection, object_id: str) -> bool:
    """Whether any line of any indexed log names ``object_id`` (as its ``id`` or ``existing_id``)."""
    return db.execute("SELECT 1 FROM named WHERE id = ?", (object_id,)).fetchone() is not None
