"""The wiring: producer -> chunker -> bounded send stream -> workers -> collector, in one task group.

The send stream holds one batch, so the source is read only as fast as workers take batches:
memory is O(concurrency x batch size) whatever the input. A batch leaves when it is full or when its
oldest record has waited ``linger`` (the chunker is pure, so the clock lives here: a slow source never keeps
a record waiting longer than that for its batch to fill). The workers follow the in-flight limit: with
``concurrency="auto"`` more start when it rises and some leave when it falls, each holding at most one batch.
Cancellation (Ctrl-C, a fatal error, a caller cancelling) stops the producer and the workers at their next
await; a request already on the wire is still answered and logged (see :mod:`cartloader.engine.delivery`).
"""

from __future__ import annotations

from collections.abc import AsyncIterable, Awaitable, Callable

import anyio
from anyio.abc import ObjectSendStream, TaskGroup
from anyio.streams.memory import MemoryObjectReceiveStream

from cartloader.engine.association_types import RunTypes
from cartloader.engine.chunker import Chunker
from cartloader.engine.collector import Collector
from cartloader.engine.concurrency import InFlightLimit
from cartloader.engine.delivery import Sender
from cartloader.engine.preflight import RunSchema
from cartloader.engine.refused import RefusalMemory
from cartloader.engine.resolver import Ready, Resolver
from cartloader.hubspot.lookups import has_natural
from cartloader.models import CartInput, InvalidInput

Batches = MemoryObjectReceiveStream[list[CartInput]]


async def run_pipeline(
    source: AsyncIterable[CartInput | InvalidInput],
    *,
    sender: Sender,
    collector: Collector,
    concurrency: InFlightLimit,
    chunker: Chunker,
    linger_s: float,
    schema: RunSchema | None = None,
    refused: RefusalMemory | None = None,
    resolver: Resolver | None = None,
    types: RunTypes | None = None,
) -> None:
    """Load every record of ``source``; outcomes reach ``collector``. With ``schema``, each record is checked
    against the portal's schema first (the preflight): read when the first record comes, and again once it goes
    stale; with ``refused``, against what HubSpot refused earlier in the run; with ``types``, its associations'
    types against those the portal defines; with ``resolver``, records whose
    associations name their targets by a property wait there until those are resolved. Raises what stops the run
    (a ``FatalApiError``, an ``OutcomeLogError``, an ``InputReadError``) as itself, not wrapped in an
    exception group; other errors raised beside it are kept in its ``__notes__``."""
    send, receive = anyio.create_memory_object_stream[list[CartInput]](1)
    try:
        with receive:  # the crew clones it for each worker it hires, until the run ends
            async with anyio.create_task_group() as group:
                batcher = _Batcher(chunker, collector, linger_s, schema, refused, resolver, types)
                if resolver is not None:
                    resolver.start(group, batcher.feeder(send))  # open until produce ends
                group.start_soon(batcher.linger, send.clone())
                group.start_soon(batcher.produce, source, send)
                _Crew(receive, sender, concurrency).start(group)
    except BaseExceptionGroup as errors:
        raise first_cause(errors) from None


def first_cause(group: BaseExceptionGroup[BaseException]) -> BaseException:
    """The first error of a task group's exception group (depth first), so callers see the ``FatalApiError``
    (or whatever stopped the run) as itself. The group's other errors are added to its ``__notes__``."""
    leaves = _leaves(group)
    first = leaves[0]
    for other in leaves[1:]:
        if other is not first:
            first.add_note(f"also raised: {type(other).__name__}: {other}")
    return first


def _leaves(error: BaseException) -> list[BaseException]:
    if isinstance(error, BaseExceptionGroup):
        return [leaf for inner in error.exceptions for leaf in _leaves(inner)]
    return [error]


class _Batcher:
    """Feeds the chunker from the source and hands out batches: full ones at once, a partial one when its
    oldest record has waited ``linger_s`` (the linger clock, a task of its own), the last one when the source
    ends. With ``schema``, each record is checked against the portal's schema first (the preflight): read when
    the first record comes, and again once it goes stale."""

    __slots__ = (
        "_chunker",
        "_collector",
        "_ended",
        "_generation",
        "_linger_s",
        "_nap",
        "_opened",
        "_opened_at",
        "_refused",
        "_resolver",
        "_schema",
        "_types",
    )

    def __init__(
        self,
        chunker: Chunker,
        collector: Collector,
        linger_s: float,
        schema: RunSchema | None,
        refused: RefusalMemory | None,
        resolver: Resolver | None = None,
        types: RunTypes | None = None,
    ) -> None:
        self._resolver = resolver
        self._types = types
        self._schema = schema
        self._refused = refused
        self._chunker = chunker
        self._collector = collector
        self._linger_s = linger_s
        self._generation = 0  # batches opened so far: tells the clock whether the batch it timed is still open
        self._opened_at = 0.0
        self._opened = anyio.Event()
        self._ended = False
        self._nap: anyio.CancelScope | None = None

    async def produce(
        self, source: AsyncIterable[CartInput | InvalidInput], send: ObjectSendStream[list[CartInput]]
    ) -> None:
        chunker = self._chunker
        collector = self._collector
        schema = self._schema
        memory = self._refused
        resolver = self._resolver
        preflight = None
        read = False
        async with send:
            try:
                async for item in source:
                    if isinstance(item, InvalidInput):
                        await collector.refuse(item)
                        continue
                    # Read when the first record comes, and again before the first record checked once it is stale
                    # (a long-running loader, submit(): the next record may come long after the last batch left).
                    if schema is not None and (not read or schema.stale):
                        preflight = await schema.current()
                        read = True
                    if preflight is not None and preflight.needs_sensitive(item):
                        assert schema is not None
                        preflight = await schema.including_sensitive(preflight.unlisted(item))
                    refused = preflight.check(item) if preflight is not None else None
                    if refused is None and memory is not None:
                        refused = memory.check(item)
                    if refused is None and item.associations and self._types is not None:
                        refused = await self._types.check(item)
                    if refused is not None:
                        refused.properties = item.properties  # for --echo
                        await collector.refuse(refused)
                        continue
                    if item.associations and resolver is not None and has_natural(item.associations):
                        await resolver.add(item)  # fed on to the chunker once its targets are resolved
                        continue
                    batch = chunker.feed(item)
                    if len(chunker) == 1:  # this record opened a batch: start its clock
                        self._generation += 1
                        self._opened_at = anyio.current_time()
                        self._opened.set()
                    if batch is None:
                        continue
                    if isinstance(batch, InvalidInput):
                        batch.properties = item.properties  # for --echo
                        await collector.refuse(batch)
                        continue
                    collector.seen(len(batch))
                    await send.send(batch)
                if resolver is not None:
                    await resolver.close()
            finally:
                self._stop_clock()
            batch = chunker.flush()
            if batch:
                collector.seen(len(batch))
                await send.send(batch)

    def feeder(self, send: ObjectSendStream[list[CartInput]]) -> Callable[[Ready], Awaitable[None]]:
        """What the resolver feeds resolved records into: the chunker (as the producer does), or the collector
        for a record refused or failed while resolving. ``send`` is the producer's: it closes it once the
        resolver has fed every record on."""
        chunker = self._chunker
        collector = self._collector

        async def feed(item: Ready) -> None:
            if isinstance(item, InvalidInput):
                await collector.refuse(item)
                return
            if isinstance(item, tuple):  # failed before sending: its targets named nothing
                collector.seen()
                await collector.settle([item], was_pending=False)
                return
            batch = chunker.feed(item)
            if len(chunker) == 1:
                self._generation += 1
                self._opened_at = anyio.current_time()
                self._opened.set()
            if isinstance(batch, InvalidInput):
                await collector.refuse(batch)
            elif batch is not None:
                collector.seen(len(batch))
                await send.send(batch)

        return feed

    def _stop_clock(self) -> None:
        self._ended = True
        self._opened.set()
        if self._nap is not None:
            self._nap.cancel()

    async def linger(self, send: ObjectSendStream[list[CartInput]]) -> None:
        """Hand out the open batch once its oldest record has waited ``linger_s``; end with the source."""
        chunker = self._chunker
        async with send:
            while True:
                await self._opened.wait()
                if self._ended:
                    return
                self._opened = anyio.Event()
                generation = self._generation
                # Only the nap may be cancelled by the source's end: never a batch in hand.
                with anyio.CancelScope() as self._nap:
                    await anyio.sleep_until(self._opened_at + self._linger_s)
                self._nap = None
                if self._ended:
                    return
                if generation == self._generation and len(chunker):
                    batch = chunker.flush()
                    assert batch is not None
                    self._collector.seen(len(batch))
                    await send.send(batch)


class _Crew:
    """The workers of one run, each delivering one batch at a time: hired as batches come while every worker is
    busy, up to the in-flight limit (a run of three records never starts a hundred workers, however high the limit
    of its shared loader), and leaving when the limit falls."""

    __slots__ = ("_busy", "_ended", "_follower", "_group", "_limit", "_receive", "_sender", "_size")

    def __init__(self, receive: Batches, sender: Sender, limit: InFlightLimit) -> None:
        self._receive = receive
        self._sender = sender
        self._limit = limit
        self._size = 0
        self._busy = 0
        self._ended = False
        self._follower: anyio.CancelScope | None = None
        self._group: TaskGroup | None = None

    def start(self, group: TaskGroup) -> None:
        """Start the first worker (and, for auto, the task that hires when the limit rises while all are busy)."""
        self._group = group
        self._hire()
        if self._limit.auto:
            group.start_soon(self._follow)

    def _hire(self) -> None:
        """One more worker, if the limit allows it."""
        if self._size < self._limit.limit and not self._ended:
            assert self._group is not None
            self._size += 1
            self._group.start_soon(self._work, self._receive.clone())

    async def _follow(self) -> None:
        with anyio.CancelScope() as self._follower:  # cancelled when the stream ends
            while not self._ended:
                await self._limit.changed()
                if self._busy >= self._size:  # a batch may be waiting for a worker the old limit forbade
                    self._hire()

    async def _work(self, receive: Batches) -> None:
        sender = self._sender
        async with receive:
            while self._size <= self._limit.limit:
                try:
                    batch = await receive.receive()
                except anyio.EndOfStream:
                    self._ended = True
                    if self._follower is not None:
                        self._follower.cancel()
                    return
                self._busy += 1
                if self._busy >= self._size:  # every worker is busy: the next batch gets a new one
                    self._hire()
                try:
                    await sender.deliver(batch)
                finally:
                    self._busy -= 1
            self._size -= 1  # the limit fell: this worker leaves
