"""Resolving associations that name their target by a property (``{"objectType": "contacts", "idProperty":
"email", "id": "ana@example.com"}``) to HubSpot ids, between the producer and the chunker.

A record whose targets are all known (the cache) is ready at once; the others wait in a bounded buffer while the
values they need are asked by batch read, 100 distinct values a request, coalesced across records: a partial
request leaves only when the producer has nothing more to give (the source is slow or ended, or the buffer is full
with nothing else under way). The reads take slots of the same rate budget, count in ``requests`` and in
``lookups``, and never create anything. A record leaves the buffer for the chunker only once each of its targets is
resolved: found (the item becomes ``{"to": {"id": ID}}``), missing (the record fails ``ASSOCIATION_TARGET_MISSING``,
or with ``missing_target="skip"`` is sent without it), or not answered after a few requests (``LOOKUP_FAILED``).
A 403 on a read stops the run before any record needing it is sent.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Awaitable, Callable
from typing import Any

import anyio
from anyio.abc import TaskGroup

from cartloader.config import LoaderConfig
from cartloader.engine.calls import Exchange, Requester, call, fatal_error
from cartloader.engine.lookup_cache import MISSING, LookupCache, Slot
from cartloader.engine.stats import RunStats
from cartloader.errors import MissingScopesError
from cartloader.hubspot.failures import Action
from cartloader.hubspot.lookups import (
    ALWAYS_UNIQUE,
    ASSOCIATION_TARGET_MISSING,
    LOOKUP_BATCH,
    Target,
    default_types,
    lookup_body,
    natural_target,
    read_lookup,
    unique_properties,
)
from cartloader.hubspot.protocol import Endpoint
from cartloader.models import CartInput, InvalidInput, Outcome, RecordError, Settled

logger = logging.getLogger("cartloader")

Ready = CartInput | InvalidInput | Settled
Feed = Callable[[Ready], Awaitable[None]]
#: Records held at most while their targets are resolved.
MAX_HELD = 2000
#: Requests that may ask one value before its record fails ``LOOKUP_FAILED`` (an answer naming it neither found
#: nor missing asks it again).
LOOKUP_ATTEMPTS = 3
LOOKUP_FAILED = "LOOKUP_FAILED"
_UNKNOWN = None  # a value no answer settled


class LookupRequester(Requester):
    """A requester that counts each batch read (POST) in ``lookups`` (and, as every request, in ``requests``); the
    reads of target types' property definitions (GET) count in ``requests`` only."""

    __slots__ = ()

    async def send(
        self,
        method: str,
        url: str,
        body: bytes | None,
        stats: RunStats,
        *,
        before: Callable[[], bytes | None] | None = None,
    ) -> Exchange:
        if method == "POST":
            stats.lookups += 1
        return await super().send(method, url, body, stats, before=before)


class _Waiting:
    """A held record: its natural-key targets (None for ``{"id"}`` items) and what each resolved to."""

    __slots__ = ("record", "remaining", "resolved", "targets")

    def __init__(self, record: CartInput, targets: list[Target | None]) -> None:
        self.record = record
        self.targets = targets
        self.remaining = 0
        self.resolved: dict[Slot, str | None] = {}


class Resolver:
    """Resolves natural-key associations for one run. ``start`` once the task group exists; ``add`` each record
    that has such an item (it may wait for room); ``close`` when the source ends (waits until every held record
    was fed on)."""

    def __init__(
        self,
        requester: Requester,
        config: LoaderConfig,
        stats: RunStats,
        rng: random.Random,
        cache: LookupCache,
        *,
        unique: dict[tuple[str, str], str | None] | None = None,
        max_held: int = MAX_HELD,
    ) -> None:
        self._requester = requester
        self._config = config
        self._endpoint = Endpoint(config.base_url, config.api_path, config.object_type, config.api_version)
        self._stats = stats
        self._rng = rng
        self._cache = cache
        self._skip = config.missing_target == "skip"
        self._wait_s = max(config.linger_s, 0.01)
        self._max_held = max_held
        self._unique = unique if unique is not None else {}  # (type, property) -> why not unique, or None
        self._warned: set[str] = set()
        self._group: TaskGroup | None = None
        self._feed: Feed | None = None
        self._started = False
        self._closing = False
        self._held = 0
        self._in_flight = 0
        self._queued = 0
        self._blocked = False
        self._last_add = 0.0
        self._room = anyio.Event()
        self._drained = anyio.Event()
        self._wanted: dict[tuple[str, str], dict[str, str]] = {}  # (type, property) -> compared -> as given
        self._asking: set[Slot] = set()
        self._attempts: dict[Slot, int] = {}
        self._errors: dict[Slot, str] = {}
        self._waiters: dict[Slot, list[_Waiting]] = {}
        self._send, self._receive = anyio.create_memory_object_stream[Ready](max_held + 1)

    def start(self, group: TaskGroup, feed: Feed) -> None:
        """Where the resolver's tasks run, and where resolved records go (the chunker's feed)."""
        self._group = group
        self._feed = feed

    async def add(self, record: CartInput) -> None:
        """Take ``record`` (it has at least one natural-key item); wait while the buffer is full."""
        if not self._started:
            self._begin()
        self._last_add = anyio.current_time()
        self._held += 1
        problem = await self._check(record)
        if problem is not None:
            self._ready(problem)
        else:
            self._hold(record)
        while self._held >= self._max_held:
            self._blocked = True
            if not self._in_flight and not self._queued:
                self._flush()  # nothing else under way would make room: ask what is wanted now
            self._room = anyio.Event()
            await self._room.wait()
        self._blocked = False

    async def close(self) -> None:
        """The source ended: ask what is still wanted, wait until every held record was fed on."""
        self._closing = True
        if not self._started:
            return
        self._flush()
        while self._held:
            self._drained = anyio.Event()
            await self._drained.wait()
        self._send.close()

    # --- taking records in ---------------------------------------------------------------------------------

    def _begin(self) -> None:
        assert self._group is not None, "Resolver.start() first"
        self._started = True
        self._group.start_soon(self._feeder)
        self._group.start_soon(self._timer)

    async def _check(self, record: CartInput) -> InvalidInput | None:
        """The record as invalid when an item names a property that identifies no single object, or gives no types
        where HubSpot documents no default for the pair."""
        for position, item in enumerate(record.associations or (), 1):
            target = natural_target(item)
            if target is None:
                continue
            if not item.get("types") and default_types(self._config.object_type, target.object_type) is None:
                return InvalidInput(
                    record.line,
                    f"line {record.line}: association {position} ({target.describe()}) gives no types, and HubSpot "
                    f"documents no default association type from {self._config.object_type} to "
                    f"{target.object_type}",
                    record.raw,
                )
            why = await self.not_unique(target.object_type, target.id_property)
            if why is not None:
                return InvalidInput(record.line, f"line {record.line}: association {position}: {why}", record.raw)
        return None

    async def not_unique(self, object_type: str, id_property: str) -> str | None:
        """Why ``id_property`` does not identify one object of ``object_type``, or None (unique, or unknown: the
        portal's definitions could not be read, and HubSpot decides)."""
        key = (object_type, id_property)
        if key in self._unique:
            return self._unique[key]
        why: str | None = None
        if id_property not in ALWAYS_UNIQUE.get(object_type, ()):
            unique = await self.unique_properties(object_type)
            if unique is not None and id_property not in unique:
                named = ", ".join(sorted(unique)) or "none"
                why = (
                    f'{object_type} "{id_property}" does not identify one object: HubSpot marks it not unique '
                    f"(hasUniqueValue); properties that do: {', '.join(sorted(ALWAYS_UNIQUE.get(object_type, ())))}"
                    f"{', ' if object_type in ALWAYS_UNIQUE else ''}{named}"
                )
        self._unique[key] = why
        return why

    async def unique_properties(self, object_type: str) -> frozenset[str] | None:
        """The properties the portal marks unique for ``object_type``; None (after one warning) when the
        definitions cannot be read (scope ``crm.schemas.{type}.read``)."""
        exchange = await call(
            self._requester,
            "GET",
            self._endpoint.properties_of(object_type),
            None,
            stats=self._stats,
            config=self._config,
            rng=self._rng,
        )
        found = unique_properties(exchange.body) if exchange.rule.action is Action.ACCEPT else None
        if found is None and object_type not in self._warned:
            self._warned.add(object_type)
            logger.warning(
                "cannot read the properties of %s (%s; scope crm.schemas.%s.read): whether an association's "
                "idProperty identifies one object is left to HubSpot",
                object_type,
                exchange.describe(),
                object_type,
            )
        return found

    def _hold(self, record: CartInput) -> None:
        targets = [natural_target(item) for item in record.associations or ()]
        waiting = _Waiting(record, targets)
        cache = self._cache
        for target in targets:
            if target is None:
                continue
            slot = target.slot
            known = cache.get(slot)
            if known is not None:
                waiting.resolved[slot] = known
                continue
            waiting.remaining += 1
            self._waiters.setdefault(slot, []).append(waiting)
            self._want(target.object_type, target.id_property, target.key, target.value)
        if not waiting.remaining:
            self._finish(waiting)

    def _want(self, object_type: str, id_property: str, key: str, value: str) -> None:
        slot = (object_type, id_property, key)
        group = (object_type, id_property)
        wanted = self._wanted.setdefault(group, {})
        if slot in self._asking or key in wanted:
            return
        wanted[key] = value
        if len(wanted) >= LOOKUP_BATCH:
            self._ask(group)

    def _flush(self) -> None:
        for group in [group for group, wanted in self._wanted.items() if wanted]:
            self._ask(group)

    def _ask(self, group: tuple[str, str]) -> None:
        wanted = self._wanted.pop(group, {})
        if not wanted:
            return
        for key in wanted:
            self._asking.add((*group, key))
        self._in_flight += 1
        assert self._group is not None
        self._group.start_soon(self._lookup, group, wanted)

    async def _timer(self) -> None:
        """Ask partial sets once the producer has nothing more to give for ``linger``: it waits on its source."""
        while not (self._closing and not self._held):
            await anyio.sleep(self._wait_s)
            idle = not self._blocked and anyio.current_time() - self._last_add >= self._wait_s
            if idle or self._closing:
                self._flush()

    # --- asking HubSpot ------------------------------------------------------------------------------------

    async def _lookup(self, group: tuple[str, str], wanted: dict[str, str]) -> None:
        object_type, id_property = group
        try:
            exchange = await call(
                self._requester,
                "POST",
                self._endpoint.read_url(object_type),
                lookup_body(id_property, wanted.values()),
                stats=self._stats,
                config=self._config,
                rng=self._rng,
            )
            answer = exchange.answer
            if exchange.rule.action is Action.FATAL and answer is not None:
                error = fatal_error(answer, what=f"the batch read of {object_type} by {id_property}")
                if isinstance(error, MissingScopesError) and not error.scopes:
                    error.add_note(f"reading {object_type} needs the scope crm.objects.{object_type}.read")
                raise error
            found, missing = {}, set()
            if exchange.rule.action is Action.ACCEPT:
                read = read_lookup(exchange.body, id_property)
                found, missing = read.found, read.missing
            why = "HubSpot's answer named it neither found nor missing"
            if exchange.rule.action is not Action.ACCEPT:
                why = exchange.describe() + (f": {answer.message}" if answer is not None and answer.message else "")
            for key, value in wanted.items():
                slot = (object_type, id_property, key)
                self._asking.discard(slot)
                if key in found:
                    self._cache.put(slot, found[key])
                    self._resolve(slot, found[key])
                elif key in missing:
                    self._cache.miss(slot)
                    self._resolve(slot, MISSING)
                else:
                    attempts = self._attempts.get(slot, 0) + 1
                    if attempts < LOOKUP_ATTEMPTS and exchange.rule.action is Action.ACCEPT:
                        self._attempts[slot] = attempts
                        self._want(object_type, id_property, key, value)  # asked again, never assumed missing
                    else:
                        self._attempts.pop(slot, None)
                        self._errors[slot] = why
                        self._resolve(slot, _UNKNOWN)
        finally:
            self._in_flight -= 1
        if self._closing or (self._blocked and not self._in_flight and not self._queued):
            self._flush()  # the source ended, or nothing else under way would make room

    def _resolve(self, slot: Slot, object_id: str | None) -> None:
        for waiting in self._waiters.pop(slot, ()):
            waiting.resolved[slot] = object_id
            waiting.remaining -= 1
            if not waiting.remaining:
                self._finish(waiting)
        if object_id is _UNKNOWN:
            self._errors.pop(slot, None)

    def _finish(self, waiting: _Waiting) -> None:
        """The record with its targets resolved (ready for the chunker), or its failure."""
        record = waiting.record
        associations: list[Any] = []
        skipped: list[dict[str, str]] = []
        missing: list[Target] = []
        unknown: list[str] = []
        for item, target in zip(record.associations or (), waiting.targets, strict=True):
            if target is None:
                associations.append(item)
                continue
            object_id = waiting.resolved.get(target.slot)
            if object_id is _UNKNOWN:
                unknown.append(f"{target.describe()}: {self._errors.get(target.slot, 'not answered')}")
            elif object_id == MISSING:
                (skipped.append(target.to_dict()) if self._skip else missing.append(target))
            else:
                types = item.get("types") or default_types(self._config.object_type, target.object_type)
                associations.append({"to": {"id": object_id}, "types": types})
        if missing or unknown:
            if missing:
                named = "; ".join(target.describe() for target in missing)
                error = RecordError(ASSOCIATION_TARGET_MISSING, f"no object found: {named}")
            else:
                error = RecordError(LOOKUP_FAILED, f"association target not resolved: {'; '.join(unknown)}")
            self._ready((Outcome(record.line, "failed", record.trace_id, None, error), record))
            return
        record.associations = associations or None
        record.skipped = skipped or None
        self._ready(record)

    def _ready(self, item: Ready) -> None:
        self._queued += 1
        self._send.send_nowait(item)

    async def _feeder(self) -> None:
        feed = self._feed
        assert feed is not None
        async with self._receive:
            async for item in self._receive:
                try:
                    await feed(item)
                finally:
                    self._queued -= 1
                    self._held -= 1
                    if self._held < self._max_held:
                        self._room.set()
                    if not self._held:
                        self._drained.set()
