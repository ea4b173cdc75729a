"""``--dry-run``: read, normalize and check every record as a real run would (the preflight too, when it could
read the portal's schema), say why each invalid line is refused, and send no batch."""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import aclosing

from cartloader.cli import console
from cartloader.cli.options import Options
from cartloader.cli.setup import Setup, input_records
from cartloader.config import MAX_BATCH_SIZE
from cartloader.engine.chunker import Chunker
from cartloader.engine.collector import Collector
from cartloader.engine.stats import RunStats
from cartloader.input.preflight import Preflight
from cartloader.models import CartInput, InvalidInput, Settled, Summary


class InvalidLines:
    """A sink that prints each invalid line's reason on stderr, one line each."""

    def pending(self, inputs: Sequence[CartInput]) -> None:
        """Nothing is sent in a dry run."""

    def settled(self, results: Sequence[Settled]) -> None:
        """Print the reason of each invalid record."""
        for outcome, _ in results:
            error = outcome.error
            if error is not None:
                console.emit(f"invalid: {error.message}", event="invalid", line=outcome.line, category=error.category)


async def dry_run(
    options: Options, setup: Setup, *, preflight: Preflight | None = None, stats: RunStats | None = None
) -> tuple[Summary, int]:
    """Read and check every record; invalid ones are printed and logged (if there is a log). ``stats`` holds
    the requests that read the schema, if any. Returns (summary, valid)."""
    collector = Collector([*setup.sinks, InvalidLines()])
    if stats is not None:
        collector.stats = stats
    collector.skipped = setup.skipped(options)
    # The same chunker as a real run, so a record it would refuse (no upsert key) is counted invalid here too.
    chunker = Chunker(
        batch_size=MAX_BATCH_SIZE, run_id="dry-run", unique_by=options.upsert_by, object_type=options.object_type
    )
    valid = 0
    async with aclosing(input_records(setup, options)) as records:
        async for item in records:
            refused: InvalidInput | list[CartInput] | None
            if isinstance(item, InvalidInput):
                refused = item
            else:
                refused = preflight.check(item) if preflight is not None else None
                if refused is None:
                    refused = chunker.feed(item)
            if isinstance(refused, InvalidInput):
                await collector.refuse(refused)
            else:
                collector.seen()
                valid += 1
    return collector.summary(), valid
