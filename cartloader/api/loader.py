"""The library API: ``CartLoader`` (one connection pool, one rate budget, many concurrent calls) and
``bulk_create``, a one-call fold over it."""

from __future__ import annotations

import os
import random
from collections.abc import AsyncIterable, AsyncIterator, Callable, Iterable, Sequence, Sized
from contextlib import AsyncExitStack, asynccontextmanager
from types import TracebackType
from typing import Any, Self

import anyio
from anyio.abc import ObjectReceiveStream, TaskGroup

from cartloader.api.statistics import LoaderStatistics, Tally
from cartloader.api.submissions import Submissions
from cartloader.budget.base import Budget, BudgetStatistics
from cartloader.budget.local import RateBudget
from cartloader.budget.quota import DailyQuotaWatch
from cartloader.budget.shared import SharedBudget, SharedBudgetStatistics
from cartloader.config import (
    DEFAULT_API_VERSION,
    DEFAULT_BASE_URL,
    DEFAULT_CONCURRENCY,
    DEFAULT_LINGER_S,
    DEFAULT_MAX_ATTEMPTS,
    DEFAULT_MAX_PENDING,
    DEFAULT_TIMEOUT_S,
    MAX_BATCH_SIZE,
    Backoff,
    Concurrency,
    LoaderConfig,
    TokenCallable,
)
from cartloader.engine.breaker import CircuitBreaker
from cartloader.engine.calls import Requester
from cartloader.engine.chunker import Chunker
from cartloader.engine.collector import Collector
from cartloader.engine.concurrency import InFlightLimit
from cartloader.engine.delivery import Sender
from cartloader.engine.pipeline import first_cause, run_pipeline
from cartloader.engine.preflight import SchemaSource, check_upsert_key
from cartloader.engine.refused import RefusalMemory
from cartloader.engine.stats import RunStats
from cartloader.errors import ConfigError, FatalApiError, LoaderClosedError
from cartloader.hubspot.auth import TokenSource
from cartloader.hubspot.transport import Transport
from cartloader.input.normalize import normalized
from cartloader.input.preflight import Preflight
from cartloader.models import CartInput, InvalidInput, Outcome, OutcomeSink, Summary
from cartloader.outcomes.format import RESERVED_FIELDS
from cartloader.outcomes.meta import new_run_id
from cartloader.outcomes.resume import ResumeIndex
from cartloader.outcomes.sinks import open_library_log
from cartloader.rate import Rate

Records = Iterable[Any] | AsyncIterable[Any]
OutcomeLogTarget = str | os.PathLike[str] | OutcomeSink


def _records(records: Records, index: ResumeIndex | None = None) -> AsyncIterator[CartInput | InvalidInput]:
    if isinstance(records, str | bytes | dict):
        raise ConfigError(
            f"records must be an iterable of records (dicts), not a {type(records).__name__}: "
            "to load a file, use the command line or iterate its lines"
        )
    if index is None:
        return normalized(records)
    return normalized(records, skip=lambda line: not index.should_send(line), pending=index.may_exist)


def _rate(rate: str | Rate | None) -> Rate | None:
    if rate is None or isinstance(rate, Rate):
        return rate
    return Rate.parse(rate)


class CartLoader:
    """Loads cart records into HubSpot. One connection pool and one rate budget serve every
    ``create()``, ``stream()`` and ``submit()`` call made on it, so an async service can call it from many
    tasks at once without exceeding HubSpot's per-app limit; ``concurrency`` bounds the requests in flight
    across all of them.

        async with CartLoader(token=..., base_url=...) as loader:
            summary = await loader.create(records)
            outcome = await loader.submit(record)   # from any number of tasks: they share batches

    A fatal error (``FatalApiError``) closes the loader: later calls raise ``LoaderClosedError``.
    """

    def __init__(
        self,
        token: str | TokenCallable,
        *,
        base_url: str | None = None,
        object_type: str = "carts",
        api_path: str | None = None,
        concurrency: Concurrency = DEFAULT_CONCURRENCY,
        rate: str | Rate | None = None,
        batch_size: int = MAX_BATCH_SIZE,
        timeout: float = DEFAULT_TIMEOUT_S,
        max_attempts: int = DEFAULT_MAX_ATTEMPTS,
        upsert_by: str | None = None,
        retry_ambiguous: bool = True,
        allow_insecure: bool = False,
        budget: Budget | str | None = None,
        backoff: Backoff | None = None,
        api_version: str = DEFAULT_API_VERSION,
        linger: float = DEFAULT_LINGER_S,
        max_pending: int = DEFAULT_MAX_PENDING,
        submit_log: OutcomeLogTarget | None = None,
        echo: str | Sequence[str] | None = None,
        config: LoaderConfig | None = None,
        pace: str = "burst",
        preflight: bool = True,
    ) -> None:
        if config is None:
            config = LoaderConfig(
                base_url=base_url or os.environ.get("HUBSPOT_BASE_URL") or DEFAULT_BASE_URL,
                api_path=api_path,
                api_version=api_version,
                preflight=preflight,
                object_type=object_type,
                concurrency=concurrency,
                rate=_rate(rate),
                batch_size=batch_size,
                timeout_s=timeout,
                max_attempts=max_attempts,
                upsert_by=upsert_by,
                retry_ambiguous=retry_ambiguous,
                allow_insecure=allow_insecure,
                backoff=backoff or Backoff(),
                linger_s=linger,
                max_pending=max_pending,
                pace=pace,
            )
        self.config = config
        self._echo = _echo(echo)
        self._token = TokenSource(token)
        # A budget URL (redis://HOST:PORT/DB?key=NAME) makes a shared budget this loader connects and closes.
        self._own_budget: SharedBudget | None = None
        if isinstance(budget, str):
            budget = self._own_budget = SharedBudget.from_url(budget, rate=config.rate, pace=config.pace)
        self.budget: Budget = budget if budget is not None else RateBudget(config.rate, pace=config.pace)
        self._breaker = CircuitBreaker(config.breaker_window, config.breaker_threshold)
        self._capacity = InFlightLimit(config.concurrency, self.budget)
        self._transport = Transport(
            connections=config.connections, timeout_s=config.timeout_s, connect_timeout_s=config.connect_timeout_s
        )
        self._rng = random.Random()
        self._tally = Tally()
        if submit_log is not None and not isinstance(submit_log, str | os.PathLike):
            _check_sink(submit_log)
        self._submit_log = submit_log
        self._submit_stack = AsyncExitStack()
        self._submit_sinks: Sequence[OutcomeSink] = ()
        self._submit_run_id: str | None = None
        self._submissions = Submissions(max_pending=config.max_pending)
        self._group: TaskGroup | None = None
        self._closed: LoaderClosedError | None = None
        # create()/stream() runs of other tasks still going: leaving the block waits for them before it closes the
        # connections their requests use (a request already on the wire is awaited even when its run is cancelled).
        self._runs = 0
        self._runs_ended: anyio.Event | None = None
        requester = Requester(transport=self._transport, token=self._token, budget=self.budget, capacity=self._capacity)
        self._schema = SchemaSource(requester, config, self._rng) if config.preflight else None

    async def __aenter__(self) -> Self:
        if self._closed is not None or self._group is not None:
            raise LoaderClosedError("a CartLoader is entered once: make a new one")
        if isinstance(self.budget, SharedBudget):
            await self.budget.connect()  # Redis unreachable: ConfigError before anything is sent
        self._submit_sinks, self._submit_run_id, _ = self._sinks(self._submit_stack, self._submit_log)
        await self._transport.open()
        # The task group that runs submit()'s pipeline, started by the first submission.
        group = anyio.create_task_group()
        await group.__aenter__()
        self._group = group
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._close(LoaderClosedError("the loader is closed: make a new CartLoader"))
        self._submissions.close()  # what was submitted is still sent: the group waits for the drain
        try:
            group, self._group = self._group, None
            if group is not None:
                cancelled = isinstance(exc, anyio.get_cancelled_exc_class())
                await group.__aexit__(*((exc_type, exc, tb) if cancelled else (None, None, None)))
            while self._runs:
                self._runs_ended = anyio.Event()
                await self._runs_ended.wait()
        finally:
            with anyio.CancelScope(shield=True):
                await self._transport.close()
                await self._submit_stack.aclose()
            if self._own_budget is not None:
                await self._own_budget.aclose()

    def _close(self, reason: LoaderClosedError) -> None:
        if self._closed is None:
            self._closed = reason

    def _stop(self, fatal: FatalApiError) -> None:
        """A fatal error closes the loader: callers waiting in ``submit()`` get it, later calls are refused."""
        closed = LoaderClosedError(f"the loader stopped after a fatal error ({fatal}): make a new one")
        closed.__cause__ = fatal
        self._close(closed)
        self._submissions.abort(fatal)

    def _check_open(self) -> None:
        if self._closed is not None:
            closed = self._closed
            raise LoaderClosedError(*closed.args) from closed.__cause__
        if not self._transport.is_open:
            raise RuntimeError("use CartLoader inside `async with CartLoader(...) as loader:`")

    async def _run(
        self, source: AsyncIterable[CartInput | InvalidInput], collector: Collector, *, run_id: str | None = None
    ) -> Summary:
        """Load already-normalized inputs; outcomes go to ``collector`` (the command line's way in)."""
        self._check_open()
        return await self._pipeline(source, collector, run_id=run_id)

    async def _pipeline(
        self, source: AsyncIterable[CartInput | InvalidInput], collector: Collector, *, run_id: str | None
    ) -> Summary:
        refused = RefusalMemory()  # what HubSpot refuses in this run is not sent again
        sender = Sender(
            transport=self._transport,
            config=self.config,
            token=self._token,
            budget=self.budget,
            breaker=self._breaker,
            capacity=self._capacity,
            collector=collector,
            rng=self._rng,
            refused=refused,
        )
        chunker = Chunker(
            batch_size=self.config.batch_size,
            run_id=run_id or new_run_id(),
            unique_by=self.config.upsert_by,
            object_type=self.config.object_type,
        )

        def on_read(preflight: Preflight) -> None:
            self._check_upsert_key(preflight)
            chunker.unique = preflight.schema.unique_properties

        schema = self._schema.for_run(collector.stats, on_read) if self._schema is not None else None
        self._tally.begin(collector)
        self._runs += 1
        try:
            await run_pipeline(
                source,
                sender=sender,
                collector=collector,
                concurrency=self._capacity,
                chunker=chunker,
                linger_s=self.config.linger_s,
                schema=schema,
                refused=refused,
            )
        except FatalApiError as exc:
            self._stop(exc)
            raise
        finally:
            self._tally.end(collector)
            self._runs -= 1
            if self._runs_ended is not None and not self._runs:
                self._runs_ended.set()
        return collector.summary()

    def _check_upsert_key(self, preflight: Preflight) -> None:
        if self.config.upsert_by is not None:
            check_upsert_key(preflight.schema, self.config.upsert_by, self.config.object_type)

    async def _preflight(self, stats: RunStats) -> Preflight | None:
        """The preflight check for the portal's schema (read through the budget when stale, counted in
        ``stats``), or None when it is off or the schema could not be read. Raises ``ConfigError`` when the
        upsert key is not a unique property."""
        if self._schema is None:
            return None
        if not self._transport.is_open:
            raise RuntimeError("use CartLoader inside `async with CartLoader(...) as loader:`")
        preflight = await self._schema.current(stats)
        if preflight is not None:
            self._check_upsert_key(preflight)
        return preflight

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
        return await self._pipeline(source, collector, run_id=self._submit_run_id)

    def statistics(self) -> LoaderStatistics:
        """A frozen snapshot: records waiting, batches in flight, the concurrency limit, the budget's state,
        requests and error responses so far (every call on this loader)."""
        budget = self.budget
        budget_statistics: BudgetStatistics | SharedBudgetStatistics | None = None
        if isinstance(budget, RateBudget | SharedBudget):
            budget_statistics = budget.statistics()
        return self._tally.snapshot(
            submissions=self._submissions.statistics(),
            concurrency=self._capacity.statistics(),
            budget=budget_statistics,
            closed=self._closed is not None,
        )

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
            return await self._run(_records(records, index), collector, run_id=run_id)
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
            source = _records(records, index)
            collector = Collector(sinks, stream=send, echo=self._echo)
            if index is not None:
                collector.skipped = index.counts().skipped(retry_failed=False)

            async def produce() -> None:
                async with send:
                    await self._run(source, collector, run_id=run_id)

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

    def _sinks(
        self, stack: AsyncExitStack, outcome_log: OutcomeLogTarget | None, *, resume: bool = False
    ) -> tuple[Sequence[OutcomeSink], str | None, ResumeIndex | None]:
        """The sinks for ``outcome_log``, the run id its meta file names (so generated keys agree with it), and
        with ``resume`` what the log already holds."""
        if outcome_log is None or not isinstance(outcome_log, str | os.PathLike):
            if resume:
                raise ConfigError("resume=True continues an outcome log: give outcome_log as a path")
            if outcome_log is None:
                return (), None, None
            _check_sink(outcome_log)
            return (outcome_log,), None, None
        options = {
            "object_type": self.config.object_type,
            "upsert_by": self.config.upsert_by,
            "api_version": self.config.api_version,
            "echo": list(self._echo),
        }
        log = open_library_log(os.fspath(outcome_log), resume=resume, options=options, echo=self._echo)
        stack.callback(log.close)
        index = log.log.resume_index if log.log.resumed else None
        return (log,), log.log.meta.run_id, index

    def __repr__(self) -> str:
        return f"CartLoader(base_url={self.config.base_url!r}, concurrency={self._capacity!r}, {self.budget!r})"


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


def _echo(echo: str | Sequence[str] | None) -> tuple[str, ...]:
    names = (echo,) if isinstance(echo, str) else tuple(echo or ())
    for name in names:
        if not isinstance(name, str) or not name:
            raise ConfigError("echo names properties: a non-empty string or a list of them")
        if name in RESERVED_FIELDS:
            raise ConfigError(f"echo {name!r}: that name is a field of the outcome log; echo another property")
    return names


def _check_sink(sink: object) -> None:
    if not (hasattr(sink, "pending") and hasattr(sink, "settled")):
        raise ConfigError("an outcome log must be a path or an outcome sink")


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
) -> Summary:
    """Load ``records`` into HubSpot with one call and return the ``Summary``.

    ``records`` is any iterable or async iterable of dicts; ``token`` a string or an async callable
    returning one; ``concurrency`` a number or ``"auto"``; ``linger`` the longest (seconds) a record of a slow
    source waits for its batch to fill; ``rate=None`` follows HubSpot's headers, ``"190/10s"`` is a hard cap;
    ``pace="even"`` spaces requests evenly instead of using what the rolling window holds free at once;
    ``budget`` a
    ``Budget`` or a URL ``redis://HOST:PORT/DB?key=NAME`` shared with every process using that key
    (extra ``cartloader[redis]``); ``echo`` a property name (or names) whose values each outcome carries in
    ``echoed`` (and the outcome log); ``resume=True`` continues the outcome log at ``outcome_log`` (a path).
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
    ) as loader:
        return await loader.create(records, outcome_log=outcome_log, on_outcome=on_outcome, resume=resume)
