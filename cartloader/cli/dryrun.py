"""``--dry-run``: read, normalize and check every record as a real run would (the preflight too, when it could
read the portal's schema), say why each invalid line is refused, and send no batch."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from contextlib import aclosing

from cartloader.api.progress import LoadProgress
from cartloader.cli import console
from cartloader.cli.options import Options
from cartloader.cli.setup import Setup, input_records
from cartloader.config import MAX_BATCH_SIZE
from cartloader.engine.chunker import Chunker
from cartloader.input.preflight import Preflight, suggestion
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


def dry_run_progress(options: Options, setup: Setup) -> LoadProgress:
    """The dry run's counts and sinks: the log (if any) and the invalid lines printed on stderr."""
    return LoadProgress([*setup.sinks, InvalidLines()], skipped=setup.skipped(options))


async def dry_run(
    options: Options,
    setup: Setup,
    progress: LoadProgress,
    *,
    preflight: Preflight | None = None,
    sensitive: Callable[[], Awaitable[Preflight | None]] | None = None,
) -> tuple[Summary, int]:
    """Read and check every record; invalid ones are printed and logged (if there is a log). ``progress`` (from
    ``dry_run_progress``) holds the requests that read the schema, if any; ``sensitive`` gives the preflight with
    the sensitive lists read too, asked for once a record names a property the default list lacks, as a load
    does. Returns (summary, valid)."""
    # The same chunker as a real run, so a record it would refuse (no upsert key) is counted invalid here too.
    chunker = Chunker(
        batch_size=MAX_BATCH_SIZE, run_id="dry-run", unique_by=options.upsert_by, object_type=options.object_type
    )
    valid = 0
    noted: set[str] = set()
    async with aclosing(input_records(setup, options)) as records:
        async for item in records:
            refused: InvalidInput | list[CartInput] | None
            if isinstance(item, InvalidInput):
                refused = item
            else:
                if preflight is not None and sensitive is not None and preflight.needs_sensitive(item):
                    preflight = await sensitive()
                if preflight is not None and preflight.unlisted_allowed:
                    _note_unlisted(preflight, item, noted)
                refused = preflight.check(item) if preflight is not None else None
                if refused is None:
                    refused = chunker.feed(item)
            if isinstance(refused, InvalidInput):
                await progress.refuse(refused)
            else:
                progress.seen()
                valid += 1
    return progress.summary(), valid


#: Properties in no list named at most this many times in a dry run (each once).
MAX_UNLISTED_NOTES = 10


def _note_unlisted(preflight: Preflight, item: CartInput, noted: set[str]) -> None:
    """Name once each property in no list the token may read (left to HubSpot), with a "did you mean"."""
    for name in preflight.unlisted(item):
        if name not in noted and len(noted) < MAX_UNLISTED_NOTES:
            noted.add(name)
            hint = suggestion(name, preflight.schema)
            console.emit(
                f'property "{name}" is in no list the token may read: left to HubSpot{hint}',
                level="warning",
                event="unlisted_property",
            )
