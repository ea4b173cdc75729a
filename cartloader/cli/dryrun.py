"""``--dry-run``: read, normalize and check every record as a real run would, and send nothing."""

from __future__ import annotations

from contextlib import aclosing

from cartloader.cli.options import Options
from cartloader.cli.setup import Setup, input_records
from cartloader.config import MAX_BATCH_SIZE
from cartloader.engine.chunker import Chunker
from cartloader.engine.collector import Collector
from cartloader.models import InvalidInput, Summary


async def dry_run(options: Options, setup: Setup) -> tuple[Summary, int]:
    """Read and check every record; invalid ones are logged (if there is a log). Returns (summary, valid)."""
    collector = Collector(setup.sinks)
    collector.skipped = setup.skipped(options)
    # The same chunker as a real run, so a record it would refuse (no upsert key) is counted invalid here too.
    chunker = Chunker(batch_size=MAX_BATCH_SIZE, run_id="dry-run", unique_by=options.upsert_by)
    valid = 0
    async with aclosing(input_records(setup, options)) as records:
        async for item in records:
            refused = item if isinstance(item, InvalidInput) else chunker.feed(item)
            if isinstance(refused, InvalidInput):
                await collector.refuse(refused)
            else:
                collector.seen()
                valid += 1
    return collector.summary(), valid
