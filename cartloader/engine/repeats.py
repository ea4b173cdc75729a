"""Repeated keys in one input: values of the identifying properties (the upsert key, the properties the portal
marks unique, ``hs_external_cart_id``) that several lines carry.

Every run reports them (``Summary.repeated_values``). In create mode, for a property the portal marks unique, a
later line carrying a value an earlier line carries waits for that line's outcome, outside the send stream:
once the earlier line is ``created`` the later one is refused locally (``invalid``, ``DUPLICATE_IN_INPUT``,
naming the earlier line), and once it fails (or is refused) the later one is sent in its place. At most
``max_held`` lines wait at once; beyond that a line is sent at once and HubSpot's 409 decides.

Tracking is exact for any input size: each value's first line, the line that holds it now and that line's state
live in a SQLite file in a temporary folder (made on the first value seen, removed when the run ends). Memory
holds only the waiting lines (at most ``max_held``), the lines in flight that hold a value (bounded by the
pipeline) and, per property, ten line numbers.

The index is a helper, not the record of truth: when it cannot be made, written or read (disk full, a file size
limit), one warning says so, every waiting line is released into the send stream (HubSpot's 409 decides), later
lines pass straight through, and ``repeated_values`` keeps what was counted until then, each entry marked
``"partial": true``.

The stage wraps the pipeline's source (:meth:`Repeats.stage`); the collector tells it each final outcome
(:meth:`Repeats.settled`). On ``--resume``, lines an earlier run created are read again for their values only
(``earlier``): a line repeating one of them is refused, never sent.
"""

from __future__ import annotations

import heapq
import logging
import shutil
import sqlite3
import tempfile
from collections import deque
from collections.abc import AsyncIterable, AsyncIterator, Awaitable, Callable, Sequence
from pathlib import Path

import anyio
import orjson

from cartloader.engine.collector import Collector
from cartloader.models import CartInput, InvalidInput, Outcome, PropertyProblem, RecordError, Settled

#: Lines waiting for an earlier line's outcome at most, at once (beyond it, the line is sent: HubSpot decides).
MAX_HELD = 1000
#: Line numbers listed per property in ``repeated_values`` (the smallest ones).
FIRST_LINES = 10
DUPLICATE_IN_INPUT = "DUPLICATE_IN_INPUT"
#: The property every run reports, unique or not.
EXTERNAL_ID = "hs_external_cart_id"

_OPEN, _CREATED, _FREE = 0, 1, 2  # the holder's state: not final yet, created, gone (failed or refused)

Pairs = tuple[tuple[str, str], ...]

logger = logging.getLogger("cartloader")
#: What the index can fail with: any SQLite error, and the temporary folder that cannot be made.
_INDEX_ERRORS = (sqlite3.Error, OSError)


class Repeats:
    """Counts repeated values and, for the ``hold`` properties (create mode, unique), holds later lines back.

    ``tracked``: the properties whose repeats are reported; ``hold`` (set when the portal's schema is read): those
    whose repeats wait. ``earlier(line)``: whether an earlier run created that line (``--resume``). ``schema``:
    read the portal's schema (its ``on_read`` calls :meth:`hold`), awaited before the first record is looked at."""

    __slots__ = (
        "_broken",
        "_by_holder",
        "_changed",
        "_db",
        "_dir",
        "_earlier",
        "_first",
        "_held",
        "_hold",
        "_lines",
        "_max_held",
        "_open",
        "_ready",
        "_schema",
        "_tracked",
        "collector",
    )

    def __init__(
        self,
        collector: Collector,
        *,
        tracked: Sequence[str],
        earlier: Callable[[int], bool] | None = None,
        schema: Callable[[], Awaitable[object]] | None = None,
        max_held: int = MAX_HELD,
    ) -> None:
        self.collector = collector
        self._schema = schema
        self._tracked = tuple(dict.fromkeys(tracked))
        self._hold: frozenset[str] = frozenset()
        self._earlier = earlier
        self._max_held = max_held
        self._db: sqlite3.Connection | None = None
        self._dir: str | None = None
        self._lines: dict[str, int] = {}  # property -> lines carrying a value another line carries
        self._first: dict[str, list[int]] = {}  # property -> a max-heap (negated) of the smallest such lines
        self._open: dict[int, Pairs] = {}  # line -> its held values, while it holds one and its outcome is not final
        self._by_holder: dict[int, deque[CartInput]] = {}  # holder line -> the lines waiting for it, in order
        self._held = 0
        self._ready: deque[tuple[CartInput, Outcome | None]] = deque()
        self._changed = anyio.Event()
        self._broken = False  # the index failed: nothing is tracked any more

    def hold(self, held: Sequence[str], unique: Sequence[str]) -> None:
        """Once the portal's schema is read: track its ``unique`` properties too, and hold back repeats of
        ``held`` (those unique properties, in create mode)."""
        self._hold = frozenset(held)
        self._tracked = tuple(dict.fromkeys((*self._tracked, *unique)))

    # -- the stage -----------------------------------------------------------------------------------------

    async def stage(self, source: AsyncIterable[CartInput | InvalidInput]) -> AsyncIterator[CartInput | InvalidInput]:
        """``source`` with repeats held back (yielded or refused once their earlier line's outcome is known, with
        the next record read); after the source, waits until no line is held back."""
        earlier = self._earlier
        ready = self._ready
        async for item in source:
            if ready:
                for released in await self._take():
                    yield released
            if type(item) is not CartInput:
                # A line created in an earlier run is read again for its values only: read differently now (it
                # cannot be, the meta file checks the options; a changed file), it is still settled in the log.
                if earlier is None or not earlier(item.line):
                    yield item
                continue
            if earlier is not None and earlier(item.line):
                if not self._broken:
                    self._guarded(self._note_earlier, item.line, item.properties)
                continue
            if self._schema is not None:  # the first record to send: which properties are unique decides the rest
                read, self._schema = self._schema, None
                await read()
                self._guarded(self._replay_earlier)
            if self._broken or item.properties.keys().isdisjoint(self._tracked):  # most records: no identifying value
                yield item
                continue
            try:
                admitted = self._admit(item)
            except _INDEX_ERRORS as exc:
                self._stop(exc)
                admitted = item  # sent: HubSpot decides
            if isinstance(admitted, Outcome):
                await self._refuse(admitted, item)
            elif admitted is not None:
                yield admitted
        while self._held or ready:
            for released in await self._take():
                yield released
            if self._held and not ready:
                self._changed = anyio.Event()
                await self._changed.wait()

    async def _take(self) -> list[CartInput]:
        """The lines released since last time; those refused meanwhile are refused now."""
        taken: list[CartInput] = []
        ready = self._ready
        while ready:
            record, refusal = ready.popleft()
            if refusal is None:
                taken.append(record)
            else:
                await self._refuse(refusal, record)
        return taken

    async def _refuse(self, outcome: Outcome, record: CartInput) -> None:
        """Refuse ``record`` locally (``invalid``): the outcome keeps the record, so ``--echo`` and the rejects
        file have its values and its line."""
        collector = self.collector
        collector.seen()
        await collector.settle([(outcome, record)], was_pending=False)

    # -- counting and deciding ------------------------------------------------------------------------------

    def _pairs(self, record: CartInput) -> Pairs:
        return self._values(record.properties)

    def _values(self, properties: dict[str, str]) -> Pairs:
        return tuple((name, value) for name in self._tracked if (value := properties.get(name)))

    def _connect(self) -> sqlite3.Connection:
        db = self._db
        if db is None:
            self._dir = tempfile.mkdtemp(prefix="cartloader-repeats-")
            db = self._db = sqlite3.connect(Path(self._dir, "values.sqlite"), isolation_level=None)
            db.execute("PRAGMA journal_mode=OFF")
            db.execute("PRAGMA synchronous=OFF")
            db.execute("PRAGMA locking_mode=EXCLUSIVE")
            db.execute(
                "CREATE TABLE v (prop TEXT, value TEXT, first INTEGER, holder INTEGER, state INTEGER, "
                "repeats INTEGER, id TEXT, PRIMARY KEY (prop, value)) WITHOUT ROWID"
            )
            db.execute("CREATE TABLE early (line INTEGER PRIMARY KEY, props BLOB)")
            # One transaction for the whole run, never committed (the index dies with the run): no write per value
            # beyond what SQLite's page cache (a few MB) spills to the file.
            db.execute("BEGIN")
        return db

    def _count(self, line: int, pairs: Pairs) -> bool:
        """Note a line's values; True when one of them was carried by an earlier line."""
        db = self._connect()
        repeated = False
        for name, value in pairs:
            inserted = db.execute(
                "INSERT OR IGNORE INTO v VALUES (?, ?, ?, ?, ?, 0, NULL)", (name, value, line, line, _OPEN)
            ).rowcount
            if inserted:
                continue
            repeated = True
            first, repeats = db.execute(
                "SELECT first, repeats FROM v WHERE prop = ? AND value = ?", (name, value)
            ).fetchone()
            db.execute("UPDATE v SET repeats = repeats + 1 WHERE prop = ? AND value = ?", (name, value))
            if not repeats:
                self._report(name, first)
            self._report(name, line)
        return repeated

    def _report(self, name: str, line: int) -> None:
        self._lines[name] = self._lines.get(name, 0) + 1
        heap = self._first.setdefault(name, [])
        if len(heap) < FIRST_LINES:
            heapq.heappush(heap, -line)
        elif -heap[0] > line:
            heapq.heapreplace(heap, -line)

    def _admit(self, record: CartInput) -> CartInput | InvalidInput | Outcome | None:
        """The record to send, its refusal (an ``Outcome``), or None while it waits."""
        pairs = self._pairs(record)
        if not pairs:
            return record
        repeated = self._count(record.line, pairs)
        held = tuple(pair for pair in pairs if pair[0] in self._hold)
        if not held:
            return record
        if not repeated:
            self._open[record.line] = held
            return record
        return self._decide(record, held)

    def _decide(self, record: CartInput, held: Pairs) -> CartInput | Outcome | None:
        assert self._db is not None
        db = self._db
        line = record.line
        wait_for: int | None = None
        claims: list[tuple[str, str]] = []
        for name, value in held:
            holder, state, object_id = db.execute(
                "SELECT holder, state, id FROM v WHERE prop = ? AND value = ?", (name, value)
            ).fetchone()
            if holder == line:
                continue
            if state == _CREATED:
                self._open[line] = held  # what it inserted or claimed is given up
                self._final(line, False, None)
                return _refusal(record, name, value, holder, object_id)
            if state == _FREE:
                claims.append((name, value))
            elif wait_for is None and holder in self._open:  # else its outcome is not followed: HubSpot decides
                wait_for = holder
        for name, value in claims:
            db.execute("UPDATE v SET holder = ?, state = ? WHERE prop = ? AND value = ?", (line, _OPEN, name, value))
        self._open[line] = held
        if wait_for is not None and self._held < self._max_held:
            self._by_holder.setdefault(wait_for, deque()).append(record)
            self._held += 1
            return None
        return record

    # -- outcomes ---------------------------------------------------------------------------------------------

    def settled(self, results: Sequence[Settled]) -> None:
        """Final outcomes (from the collector): a holder's outcome decides the lines waiting for it."""
        if not self._open:
            return
        try:
            for outcome, _ in results:
                if outcome.line in self._open:
                    self._final(outcome.line, outcome.status == "created", outcome.id)
        except _INDEX_ERRORS as exc:
            self._stop(exc)

    def _final(self, line: int, created: bool, object_id: str | None) -> None:
        pairs = self._open.pop(line)
        assert self._db is not None
        db = self._db
        for name, value in pairs:
            if created:
                db.execute(
                    "UPDATE v SET holder = ?, state = ?, id = ? WHERE prop = ? AND value = ? AND state != ?",
                    (line, _CREATED, object_id, name, value, _CREATED),
                )
            else:
                db.execute(
                    "UPDATE v SET state = ? WHERE prop = ? AND value = ? AND holder = ? AND state = ?",
                    (_FREE, name, value, line, _OPEN),
                )
        waiting = self._by_holder.pop(line, None)
        if waiting is None:
            return
        self._held -= len(waiting)
        try:
            while waiting:
                record = waiting[0]
                decided = self._decide(record, tuple(p for p in self._pairs(record) if p[0] in self._hold))
                waiting.popleft()  # only once decided: a line the index failed on is still here
                if decided is not None:
                    self._ready.append((record, decided if isinstance(decided, Outcome) else None))
        finally:
            self._ready.extend((record, None) for record in waiting)  # the index failed: sent, HubSpot decides
            self._changed.set()

    # -- when the index fails ---------------------------------------------------------------------------------

    def _guarded(self, step: Callable[..., None], *args: object) -> None:
        try:
            step(*args)
        except _INDEX_ERRORS as exc:
            self._stop(exc)

    def _stop(self, error: Exception) -> None:
        """The index failed: stop tracking, release every waiting line into the send stream, drop the index."""
        if self._broken:
            return
        self._broken = True
        logger.warning("repeated values are no longer tracked: %s; HubSpot's 409 decides for unique values", error)
        for waiting in self._by_holder.values():
            self._ready.extend((record, None) for record in waiting)
        self._by_holder.clear()
        self._held = 0
        self._open.clear()
        self._hold = frozenset()
        self._close_db()
        self._changed.set()

    def _close_db(self) -> None:
        db, self._db = self._db, None
        if db is not None:
            try:
                db.close()
            except sqlite3.Error:
                pass

    def _note_earlier(self, line: int, properties: dict[str, str]) -> None:
        """A line an earlier run created (``--resume``): its values are noted as created, it is not sent. Until the
        portal's schema is read (with the first line to send: a resumed run with nothing to send reads none), its
        properties wait in the index, since which of them are unique is not known yet."""
        if self._schema is not None:
            self._connect().execute("INSERT INTO early VALUES (?, ?)", (line, orjson.dumps(properties)))
            return
        pairs = self._values(properties)
        if not pairs:
            return
        self._count(line, pairs)
        assert self._db is not None
        for name, value in pairs:
            self._db.execute(
                "UPDATE v SET holder = ?, state = ? WHERE prop = ? AND value = ? AND state != ?",
                (line, _CREATED, name, value, _CREATED),
            )

    def _replay_earlier(self) -> None:
        """Once the schema is read: note the earlier run's created lines that waited for it, in order."""
        db = self._db
        if db is None:
            return
        for line, properties in db.execute("SELECT line, props FROM early ORDER BY line"):
            self._note_earlier(line, orjson.loads(properties))
        db.execute("DELETE FROM early")

    def report(self) -> dict[str, dict[str, object]]:
        """``repeated_values``: per property, the lines carrying a value another line carries, and the first ten;
        once the index failed, what was counted until then, each entry with ``"partial": True``."""
        partial = {"partial": True} if self._broken else {}
        return {
            name: {"lines": count, "first": sorted(-line for line in self._first[name]), **partial}
            for name, count in self._lines.items()
        }

    def close(self) -> None:
        """Drop the index and its temporary folder (never raises)."""
        self._close_db()
        if self._dir is not None:
            shutil.rmtree(self._dir, ignore_errors=True)
            self._dir = None


def _refusal(record: CartInput, name: str, value: str, holder: int, object_id: str | None) -> Outcome:
    shown = orjson.dumps(value).decode()
    created = f"created as {object_id}" if object_id else "created"
    message = f"line {record.line}: {name} {shown} repeats line {holder}, already {created}"
    problem = PropertyProblem(name, DUPLICATE_IN_INPUT, message, value)
    return Outcome(record.line, "invalid", error=RecordError(DUPLICATE_IN_INPUT, message, None, (problem,)))
