"""The chunker: groups normalized records into batches of up to ``batch_size``, each input with an
``objectWriteTraceId`` unique within its request (design rule 1)."""

from __future__ import annotations

from collections.abc import AsyncIterable, AsyncIterator

from cartloader.records import CartInput, InvalidInput


def missing_upsert_key(record: CartInput, unique_by: str) -> InvalidInput:
    """The invalid outcome of a record without the property that upsert mode keys on."""
    return InvalidInput(record.line, f'line {record.line}: property "{unique_by}" is required for upsert', record.raw)


async def batches(
    source: AsyncIterable[CartInput | InvalidInput],
    *,
    batch_size: int,
    run_id: str,
    unique_by: str | None = None,
) -> AsyncIterator[list[CartInput] | InvalidInput]:
    """Yield batches of valid records, and invalid records one by one as they come.

    A record's own trace id is kept; others get ``<run id>-<line>``. A trace id already in the
    batch (or, with ``unique_by``, a unique value already in it) starts a new batch, so two inputs of
    one request never share a trace id or an upsert key.
    """
    batch: list[CartInput] = []
    keys: set[str] = set()
    values: set[str] = set()
    async for record in source:
        if isinstance(record, InvalidInput):
            yield record
            continue
        key = record.trace_id or f"{run_id}-{record.line}"
        record.key = key
        value: str | None = None
        if unique_by is not None:
            value = record.properties.get(unique_by)
            if not value:
                yield missing_upsert_key(record, unique_by)
                continue
        if len(batch) >= batch_size or key in keys or (value is not None and value in values):
            yield batch
            batch = []
            keys = set()
            values = set()
        batch.append(record)
        keys.add(key)
        if value is not None:
            values.add(value)
    if batch:
        yield batch
