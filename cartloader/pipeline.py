"""The wiring: producer -> chunker -> bounded send stream -> workers -> collector, in one task group.

The send stream holds one batch, so the source is read only as fast as workers take batches:
memory is O(concurrency x batch size) whatever the input. Cancellation (Ctrl-C, a fatal error, a
caller cancelling) stops the producer and the workers at their next await; a request already on
the wire is still answered and logged (see :mod:`cartloader.sender`).
"""

from __future__ import annotations

from collections.abc import AsyncIterable

import anyio
from anyio.abc import ObjectReceiveStream, ObjectSendStream

from cartloader.batching import batches
from cartloader.collector import Collector
from cartloader.outcome import Outcome, RecordError
from cartloader.records import CartInput, InvalidInput
from cartloader.sender import Sender


async def run_pipeline(
    source: AsyncIterable[CartInput | InvalidInput],
    *,
    sender: Sender,
    collector: Collector,
    concurrency: int,
    batch_size: int,
    run_id: str,
    unique_by: str | None = None,
) -> None:
    """Load every record of ``source``; outcomes reach ``collector``. Raises what stops the run
    (a ``FatalApiError``, an ``OutcomeLogError``) as itself, not wrapped in an exception group."""
    send, receive = anyio.create_memory_object_stream[list[CartInput]](1)
    try:
        async with anyio.create_task_group() as group:
            group.start_soon(_produce, source, send, collector, batch_size, run_id, unique_by)
            async with receive:
                for _ in range(concurrency):
                    group.start_soon(_work, receive.clone(), sender)
    except BaseExceptionGroup as errors:
        raise first_cause(errors) from None


def first_cause(group: BaseExceptionGroup[BaseException]) -> BaseException:
    """The error that stopped the run: the first one that is not a consequence of cancellation."""
    for error in group.exceptions:
        if isinstance(error, BaseExceptionGroup):
            return first_cause(error)
        return error
    return group  # an empty group cannot be built; kept for the type checker


async def _produce(
    source: AsyncIterable[CartInput | InvalidInput],
    send: ObjectSendStream[list[CartInput]],
    collector: Collector,
    batch_size: int,
    run_id: str,
    unique_by: str | None,
) -> None:
    async with send:
        async for item in batches(source, batch_size=batch_size, run_id=run_id, unique_by=unique_by):
            if isinstance(item, InvalidInput):
                collector.seen()
                outcome = Outcome(item.line, "invalid", error=RecordError("INVALID_INPUT", item.message))
                await collector.settle([(outcome, item)], was_pending=False)
            else:
                collector.seen(len(item))
                await send.send(item)


async def _work(receive: ObjectReceiveStream[list[CartInput]], sender: Sender) -> None:
    async with receive:
        async for batch in receive:
            await sender.deliver(batch)
