"""The library API: ``CartLoader``'s run entry points (``create``, ``stream``, ``submit``, ``load``, and the
``preflight`` and ``properties`` reads) and ``bulk_create``, a one-call fold over it. The loader's lifecycle
(its session, budget, and opening and closing) is ``lifecycle.py``."""

from __future__ import annotations

from collections.abc import AsyncIterable, AsyncIterator, Callable, Iterable, Sequence, Sized
from contextlib import AsyncExitStack, asynccontextmanager
from typing import Any

import anyio
from anyio.abc import ObjectReceiveStream

from cartloader.api.lifecycle import LoaderLifecycle, OutcomeLogTarget
from cartloader.api.progress import LoadProgress
from cartloader.budget.base import Budget
from cartloader.budget.quota import DailyQuotaWatch
from cartloader.config import (
    DEFAULT_API_VERSION,
    DEFAULT_CONCURRENCY,
    DEFAULT_LINGER_S,
    DEFAULT_MAX_ATTEMPTS,
    DEFAULT_TIMEOUT_S,
    MAX_BATCH_SIZE,
    Backoff,
    Concurrency,
    TokenCallable,
)
from cartloader.engine.collector import Collector
from cartloader.engine.pipeline import first_cause
from cartloader.engine.properties import list_properties
from cartloader.errors import ConfigError
from cartloader.input.associations import ColumnAssociation
from cartloader.input.normalize import normalized
from cartloader.input.preflight import Preflight
from cartloader.models import CartInput, InvalidInput, Outcome, OutcomeSink, PropertyDefinition, Summary
from cartloader.outcomes.resume import ResumeIndex
from cartloader.rate import Rate

Records = Iterable[Any] | AsyncIterable[Any]


def _records(
    records: Records, index: ResumeIndex | None = None, earlier: Callable[[int], bool] | None = None
) -> AsyncIterator[CartInput | InvalidInput]:
    if isinstance(records, str | bytes | dict):
        raise ConfigError(
            f"records must be an iterable of records (dicts), not a {type(records).__name__}: "
            "to load a file, use the command line or iterate its lines"
        )
    if index is None:
        return normalized(records)
    if earlier is not None:  # created lines are read again for their values (engine/repeats.py)
        return normalized(
            records, skip=lambda line: not (index.should_send(line) or earlier(line)), pending=index.may_exist
        )
    return normalized(records, skip=lambda line: not index.should_send(line), pending=index.may_exist)


def _created(loader: LoaderLifecycle, index: ResumeIndex | None) -> Callable[[int], bool] | None:
    """Resuming in create mode: whether the log shows a line created."""
    if index is None or loader.config.upsert_by is not None:
        return None
    return lambda line: index.last_status(line) == "created"


class CartLoader(LoaderLifecycle):
    """Loads cart records into HubSpot. One connection pool and one rate budget serve every
    ``create()``, ``stream()`` and ``submit()`` call made on it, so an async service can call it from many
    tasks at once without exceeding HubSpot's per-app limit; ``concurrency`` bounds the requests in flight
    across all of them.

        async with CartLoader(token=..., base_url=...) as loader:
            summary = await loader.create(records)
            outcome = await loader.submit(record)   # from any number of tasks: they share batches

    A fatal error (``FatalApiError``) closes the loader: later calls raise ``LoaderClosedError``.
    """

    async def _run(
        self,
        source: AsyncIterable[CartInput | InvalidInput],
        collector: Collector,
        *,
        run_id: str | None = None,
        earlier: Callable[[int], bool] | None = None,
    ) -> Summary:
        """Load already-normalized inputs; outcomes go to ``collector``."""
        self._check_open()
        return await self._pipeline(source, collector, run_id=run_id, earlier=earlier)

    async def load(
        self,
        inputs: AsyncIterable[CartInput | InvalidInput],
        progress: LoadProgress | None = None,
        *,
        run_id: str | None = None,
        earlier: Callable[[int], bool] | None = None,
    ) -> Summary:
        """Load records already read and normalized, each with its own line number (``CartInput``), and
        refuse those already found invalid (``InvalidInput``) as ``invalid`` outcomes; return the summary.

        This is the command line's way in: it reads a file, numbers each record by its line and gives the
        outcomes to sinks of its own. ``progress`` holds those sinks and the counts as the load goes (read its
        ``summary()`` from another task); ``run_id`` makes the generated trace ids ``<run_id>-<line>`` (a new one
        when None); ``earlier(line)`` true marks a line an earlier run created (``--resume``): read only for its
        identifying values, never sent. Otherwise as ``create()``: per-record failures are outcomes, a fatal error
        raises and closes the loader.
        """
        progress = progress if progress is not None else LoadProgress()
        return await self._run(inputs, progress._collector, run_id=run_id, earlier=earlier)

    async def preflight(self, progress: LoadProgress | None = None, *, sensitive: bool = False) -> Preflight | None:
        """The check a load applies before sending (``Preflight.check(record)`` returns the ``InvalidInput``
        HubSpot's property definitions and validation rules would make of a record, or None), reading the
        portal's schema through the rate budget when the loader has none younger than ``schema_max_age_s``;
        those requests are counted in ``progress``. None when the loader was made with ``preflight=False`` or the
        schema could not be read (a warning on the "cartloader" logger says why). Raises ``ConfigError`` when
        ``upsert_by`` is not a property HubSpot marks unique.

        HubSpot's default list leaves out sensitive properties: when ``Preflight.needs_sensitive(record)`` is
        true, ask again with ``sensitive=True``, which reads the sensitive lists too (where a list is refused, a
        property in no list is left to HubSpot, after one warning)."""
        if self._schema is None:
            return None
        if not self._transport.is_open:
            raise RuntimeError("use CartLoader inside `async with CartLoader(...) as loader:`")
        progress = progress if progress is not None else LoadProgress()
        stats = progress._collector.stats
        schema = self._schema
        preflight = await (schema.including_sensitive(stats) if sensitive else schema.current(stats))
        if preflight is not None:
            self._check_upsert_key(preflight)
        return preflight

    async def properties(self, progress: LoadProgress | None = None) -> tuple[PropertyDefinition, ...]:
        """The portal's property definitions of the object type (name, label, type, options, unique, read-only,
        sensitivity), as its Properties API lists them: the default list, then the sensitive lists where the
        token may read them (one warning on the "cartloader" logger names those it may not). The requests go
        through the rate budget and count in ``progress``. Raises ``MissingScopesError`` naming the scope (403),
        ``AuthenticationError`` (401), ``FatalApiError`` (any other refusal, or no answer)."""
        if not self._transport.is_open:
            raise RuntimeError("use CartLoader inside `async with CartLoader(...) as loader:`")
        progress = progress if progress is not None else LoadProgress()
        stats = progress._collector.stats
        return tuple(await list_properties(self._requester, self.config, self._rng, stats))

    async def check_associations(
        self, columns: Sequence[ColumnAssociation], progress: LoadProgress | None = None
    ) -> None:
        """Check association columns (``--associate``) before anything is sent, reading through the rate budget
        (counted in ``progress``): a column naming its targets by a property that does not identify one object
        (neither contacts' ``email`` nor marked ``hasUniqueValue``), or, with the preflight, whose association type
        the portal does not define for the pair, raises ``ConfigError`` naming what would do. Definitions or
        labels that cannot be read: one warning on the "cartloader" logger, and HubSpot decides."""
        if not self._transport.is_open:
            raise RuntimeError("use CartLoader inside `async with CartLoader(...) as loader:`")
        progress = progress if progress is not None else LoadProgress()
        await self._check_columns(columns, progress._collector.stats)

    async def submit(self, record: Any) -> Outcome:
        """Load one record, batched with whatever other tasks submit meanwhile, and return its final outcome.

        Any number of tasks may submit at once: records are coalesced into shared batches of up to
        ``batch_size``; a batch leaves when full or when its oldest record has waited ``linger``. The outcome is
        exactly what ``create()`` would report (``line`` is the record's position in submission order, from 1).
        At most ``max_pending`` records wait unsent; then ``submit`` waits. A caller cancelled before its record
        was sent gets nothing and the record is withdrawn; once sent, its outcome still reaches ``submit_log``.
        A fatal error is raised to every waiting caller and closes the loader (``LoaderClosedError`` afterwards);
        leaving the loader's ``async with`` block sends what was submitted first.
        """
        self._check_open()
        if self._submissions.start():
            assert self._group is not None
            self._group.start_soon(self._submissions.serve, self._serve_submissions, self._submit_sinks)
        return await self._submissions.submit(record)

    async def _serve_submissions(
        self, source: AsyncIterator[CartInput | InvalidInput], collector: Collector
    ) -> Summary:
        # Not through _run: the loader is already closing while this run drains what was submitted.
        # No holding back of repeats: a submitter cancelled before sending withdraws a record that then never settles.
        return await self._pipeline(source, collector, run_id=self._submit_run_id, hold=False)

    async def create(
        self,
        records: Records,
        *,
        outcome_log: OutcomeLogTarget | None = None,
        on_outcome: Callable[[Outcome], object] | None = None,
        resume: bool = False,
    ) -> Summary:
        """Load ``records`` (dicts in HubSpot's shape or flat) and return the summary.

        Per-record failures are outcomes, never exceptions; ``on_outcome`` sees each final outcome (with
        ``echoed`` values when the loader has ``echo=``). ``resume=True`` continues the outcome log at
        ``outcome_log`` (a path): records it settled are skipped, the others sent, as ``--resume`` does.
        Safe to call from many tasks at once. When ``records`` has a length, a warning goes to the
        "cartloader" logger once HubSpot's remaining daily requests cannot cover the rest.
        """
        self._check_open()
        async with AsyncExitStack() as stack:
            sinks, run_id, index = self._sinks(stack, outcome_log, resume=resume)
            collector = Collector([*sinks, *self._quota_watch(records)], on_outcome=on_outcome, echo=self._echo)
            if index is not None:
                collector.skipped = index.counts().skipped(retry_failed=False)
            earlier = _created(self, index)
            return await self._run(_records(records, index, earlier), collector, run_id=run_id, earlier=earlier)
        raise AssertionError("unreachable")  # pragma: no cover

    def _quota_watch(self, records: Records) -> list[OutcomeSink]:
        if not isinstance(records, Sized):
            return []
        total = len(records)
        return [DailyQuotaWatch(self.budget, lambda settled: max(0, total - settled), self.config.batch_size)]

    @asynccontextmanager
    async def stream(
        self, records: Records, *, outcome_log: OutcomeLogTarget | None = None, resume: bool = False
    ) -> AsyncIterator[OutcomeStream]:
        """Yield a receive stream of final outcomes as they come; after the block, its ``summary`` is the run's.

            async with loader.stream(records) as outcomes:
                async for outcome in outcomes: ...
            print(outcomes.summary.created)

        Leaving the block early cancels the run: requests already sent are answered and logged. ``resume`` as
        for ``create()``.
        """
        self._check_open()
        send, receive = anyio.create_memory_object_stream[Outcome](self.config.batch_size)
        outcomes = OutcomeStream(receive)
        async with AsyncExitStack() as stack:
            sinks, run_id, index = self._sinks(stack, outcome_log, resume=resume)
            earlier = _created(self, index)
            source = _records(records, index, earlier)
            collector = Collector(sinks, stream=send, echo=self._echo)
            if index is not None:
                collector.skipped = index.counts().skipped(retry_failed=False)

            async def produce() -> None:
                async with send:
                    await self._run(source, collector, run_id=run_id, earlier=earlier)

            try:
                async with anyio.create_task_group() as group, receive:
                    group.start_soon(produce)
                    try:
                        yield outcomes
                    finally:
                        group.cancel_scope.cancel()
            except BaseExceptionGroup as errors:
                raise first_cause(errors) from None
            finally:
                outcomes.summary = collector.summary()


class OutcomeStream(ObjectReceiveStream[Outcome]):
    """The outcomes of a ``stream()`` call as they come (``async for outcome in outcomes``); ``summary`` is the
    run's ``Summary`` once the ``async with`` block has ended (``None`` until then)."""

    def __init__(self, receive: ObjectReceiveStream[Outcome]) -> None:
        self._receive = receive
        self.summary: Summary | None = None

    async def receive(self) -> Outcome:
        """The next outcome; ``anyio.EndOfStream`` when the run is over."""
        return await self._receive.receive()

    async def aclose(self) -> None:
        """Stop receiving (the run is cancelled when the block ends)."""
        await self._receive.aclose()


async def bulk_create(
    records: Records,
    *,
    token: str | TokenCallable,
    base_url: str | None = None,
    object_type: str = "carts",
    outcome_log: OutcomeLogTarget | None = None,
    concurrency: Concurrency = DEFAULT_CONCURRENCY,
    rate: str | Rate | None = None,
    on_outcome: Callable[[Outcome], object] | None = None,
    upsert_by: str | None = None,
    budget: Budget | str | None = None,
    api_path: str | None = None,
    batch_size: int = MAX_BATCH_SIZE,
    timeout: float = DEFAULT_TIMEOUT_S,  # noqa: ASYNC109 - each request's timeout, not this call's
    max_attempts: int = DEFAULT_MAX_ATTEMPTS,
    retry_ambiguous: bool = True,
    allow_insecure: bool = False,
    backoff: Backoff | None = None,
    api_version: str = DEFAULT_API_VERSION,
    linger: float = DEFAULT_LINGER_S,
    echo: str | Sequence[str] | None = None,
    resume: bool = False,
    pace: str = "burst",
    preflight: bool = True,
    missing_target: str = "fail",
) -> Summary:
    """Load ``records`` into HubSpot with one call and return the ``Summary``.

    ``records`` is any iterable or async iterable of dicts; ``token`` a string or an async callable
    returning one; ``concurrency`` a number or ``"auto"``; ``linger`` the longest (seconds) a record of a slow
    source waits for its batch to fill; ``rate=None`` follows HubSpot's headers, ``"190/10s"`` is a hard cap;
    ``pace="even"`` spaces requests evenly instead of using what the rolling window holds free at once;
    ``budget`` a
    ``Budget`` or a URL ``redis://HOST:PORT/DB?key=NAME`` shared with every process using that key
    (extra ``cartloader[redis]``); ``echo`` a property name (or names) whose values each outcome carries in
    ``echoed`` (and the outcome log); ``resume=True`` continues the outcome log at ``outcome_log`` (a path);
    ``missing_target="skip"`` sends a record whose association names by ``idProperty`` an object that does not
    exist without that association (default ``"fail"``: it fails ``ASSOCIATION_TARGET_MISSING``).
    The other options are those of :class:`CartLoader`.
    """
    async with CartLoader(
        token,
        base_url=base_url,
        object_type=object_type,
        api_path=api_path,
        api_version=api_version,
        preflight=preflight,
        concurrency=concurrency,
        rate=rate,
        batch_size=batch_size,
        timeout=timeout,
        max_attempts=max_attempts,
        upsert_by=upsert_by,
        retry_ambiguous=retry_ambiguous,
        allow_insecure=allow_insecure,
        budget=budget,
        backoff=backoff,
        linger=linger,
        echo=echo,
        pace=pace,
        missing_target=missing_target,
    ) as loader:
        return await loader.create(records, outcome_log=outcome_log, on_outcome=on_outcome, resume=resume)
