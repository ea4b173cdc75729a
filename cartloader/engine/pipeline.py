"""The wiring: producer -> chunker -> bounded send stream -> workers -> collector, in one task group.

The send stream holds one batch, so the source is read only as fast as workers take batches:
memory is O(concurrency x batch size) whatever the input. Cancellation (Ctrl-C, a fatal error, a
caller cancelling) stops the producer and the workers at their next await; a request already on
the wire is still answered and logged (see :mod:`cartloader.engine.delivery`).
"""

from __future__ import annotations

from collections.abc import AsyncIterable

import anyio
from anyio.abc import ObjectReceiveStream, ObjectSendStream

from cartloader.engine.chunker import Chunker
from cartloader.engine.collector import Collector
from cartloader.engine.delivery import Sender
from cartloader.models import CartInput, InvalidInput


async def run_pipeline(
    source: AsyncIterable[CartInput | InvalidInput],
    *,
    sender: Sender,
    collector: Collector,
    concurrency: int,
    chunker: Chunker,
) -> None:
    """Load every record of ``source``; outcomes reach ``collector``. Raises what stops the run
    (a ``FatalApiError``, an ``OutcomeLogError``, an ``InputReadError``) as itself, not wrapped in an
    exception group; other errors raised beside it are kept in its ``__notes__``."""
    send, receive = anyio.create_memory_object_stream[list[CartInput]](1)
    try:
        async with anyio.create_task_group() as group:
            group.start_soon(_produce, source, send, collector, chunker)
            async with receive:
                for _ in range(concurrency):
                    group.start_soon(_work, receive.clone(), sender)
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


async def _produce(
    source: AsyncIterable[CartInput | InvalidInput],
    send: ObjectSendStream[list[CartInput]],
    collector: Collector,
    chunker: Chunker,
) -> None:
    async with send:
        async for item in source:
            if isinstance(item, InvalidInput):
                await collector.refuse(item)
                continue
            batch = chunker.feed(item)
            if batch is None:
                continue
            if isinstance(batch, InvalidInput):
                await collector.refuse(batch)
                continue
            collector.seen(len(batch))
            await send.send(batch)
        batch = chunker.flush()
        if batch:
            collector.seen(len(batch))
            await send.send(batch)


async def _work(receive: ObjectReceiveStream[list[CartInput]], sender: Sender) -> None:
    async with receive:
        async for batch in receive:
            await sender.deliver(batch)
