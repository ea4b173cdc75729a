"""A ``CartLoader``'s lifecycle: the session it opens (transport, token, rate budget, circuit breaker, in-flight
limit), entering and leaving its ``async with`` block, closing after a fatal error, and the one pipeline every
run of the loader goes through. The run entry points (``create``, ``stream``, ``submit``, ``load``) are in
``loader.py``."""

from __future__ import annotations

import os
import random
from collections.abc import AsyncIterable, Callable, Sequence
from contextlib import AsyncExitStack
from types import TracebackType
from typing import Self

import anyio
from anyio.abc import TaskGroup

from cartloader.api.statistics import LoaderStatistics, Tally
from cartloader.api.submissions import Submissions
from cartloader.budget.base import Budget, BudgetStatistics
from cartloader.budget.local import RateBudget
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
from cartloader.engine.association_types import PortalTypes
from cartloader.engine.breaker import CircuitBreaker
from cartloader.engine.calls import Requester
from cartloader.engine.chunker import Chunker
from cartloader.engine.collector import Collector
from cartloader.engine.concurrency import InFlightLimit
from cartloader.engine.delivery import Sender
from cartloader.engine.gone import GoneTargets
from cartloader.engine.lookup_cache import LookupCache
from cartloader.engine.matching import property_kinds
from cartloader.engine.pipeline import run_pipeline
from cartloader.engine.preflight import SchemaSource, check_upsert_key
from cartloader.engine.refused import RefusalMemory
from cartloader.engine.repeats import EXTERNAL_ID, Repeats
from cartloader.engine.resolver import LookupRequester, Resolver
from cartloader.engine.stats import RunStats
from cartloader.errors import ConfigError, FatalApiError, LoaderClosedError
from cartloader.hubspot.auth import TokenSource
from cartloader.hubspot.transport import Transport
from cartloader.input.associations import ColumnAssociation
from cartloader.input.preflight import Preflight
from cartloader.models import CartInput, InvalidInput, OutcomeSink, Summary
from cartloader.outcomes.format import RESERVED_FIELDS
from cartloader.outcomes.meta import new_run_id
from cartloader.outcomes.resume import ResumeIndex
from cartloader.outcomes.sinks import open_library_log
from cartloader.rate import Rate

OutcomeLogTarget = str | os.PathLike[str] | OutcomeSink


def _rate(rate: str | Rate | None) -> Rate | None:
    if rate is None or isinstance(rate, Rate):
        return rate
    return Rate.parse(rate)


class LoaderLifecycle:
    """What a ``CartLoader`` holds from its making to its closing (see ``CartLoader`` for the options): one
    connection pool, one rate budget, one circuit breaker and one in-flight limit shared by every run, the task
    group of ``submit()``'s pipeline, and whether the loader still takes calls."""

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
        missing_target: str = "fail",
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
                missing_target=missing_target,
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
        self._requester = requester
        self._schema = SchemaSource(requester, config, self._rng) if config.preflight else None
        # The association types the portal defines, read as target types appear (with the preflight).
        self._types = PortalTypes(requester, config, self._rng) if config.preflight else None
        # Associations named by a property: resolved through batch reads counted as lookups, cached for the loader.
        self._lookups = LookupRequester(
            transport=self._transport, token=self._token, budget=self.budget, capacity=self._capacity
        )
        self.lookup_cache = LookupCache()
        self._unique_targets: dict[tuple[str, str], str | None] = {}

    async def __aenter__(self) -> Self:
        if self._closed is not None or self._group is not None:
            raise LoaderClosedError("a CartLoader is entered once: make a new one")
        if isinstance(self.budget, SharedBudget):
            await self.budget.connect()  # Redis unreachable: ConfigError before anything is sent
        self._submit_sinks, self._submit_run_id, _ = self._sinks(self._submit_stack, self._submit_log)
        self._submit_run_id = self._submissions.run_id = self._submit_run_id or new_run_id()
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

    async def _pipeline(
        self,
        source: AsyncIterable[CartInput | InvalidInput],
        collector: Collector,
        *,
        run_id: str | None,
        earlier: Callable[[int], bool] | None = None,
        hold: bool = True,
    ) -> Summary:
        refused = RefusalMemory()  # what HubSpot refuses in this run is not sent again
        collector.use_clock(self._transport.clock.now)  # pending lines' sent_at on HubSpot's clock
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
            gone=GoneTargets(self.lookup_cache),
        )
        chunker = Chunker(
            batch_size=self.config.batch_size,
            run_id=run_id or new_run_id(),
            unique_by=self.config.upsert_by,
            object_type=self.config.object_type,
        )

        def on_read(preflight: Preflight) -> None:
            self._check_upsert_key(preflight)
            chunker.unique = sender.readback.unique = preflight.schema.unique_properties
            repeats.hold(chunker.unique if upsert_by is None and hold else (), preflight.schema.unique_properties)
            chunker.kinds = sender.kinds = property_kinds(preflight.schema)

        schema = self._schema.for_run(collector.stats, on_read) if self._schema is not None else None
        resolver = Resolver(
            self._lookups, self.config, collector.stats, self._rng, self.lookup_cache, unique=self._unique_targets
        )
        collector.track_skips = self.config.missing_target == "skip"
        upsert_by = self.config.upsert_by
        tracked = (upsert_by or EXTERNAL_ID, EXTERNAL_ID)
        repeats = Repeats(collector, tracked=tracked, earlier=earlier, schema=schema.current if schema else None)
        collector.repeats = repeats
        source = repeats.stage(source)
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
                resolver=resolver,
                types=self._types.for_run(collector.stats) if self._types is not None else None,
            )
        except FatalApiError as exc:
            self._stop(exc)
            raise
        finally:
            self._tally.end(collector)
            repeats.close()
            self._runs -= 1
            if self._runs_ended is not None and not self._runs:
                self._runs_ended.set()
        return collector.summary()

    async def _check_columns(self, columns: Sequence[ColumnAssociation], stats: RunStats) -> None:
        """Each natural-key column's property identifies one object; each column's type is one the portal defines
        for its pair (with the preflight); else ``ConfigError``. What cannot be read: a warning, HubSpot decides."""
        resolver = Resolver(
            self._lookups, self.config, stats, self._rng, self.lookup_cache, unique=self._unique_targets
        )
        for column in columns:
            if column.object_type is not None and column.id_property is not None:
                why = await resolver.not_unique(column.object_type, column.id_property)
                if why is not None:
                    raise ConfigError(f"--associate {column.describe_option()}: {why}")
        if self._types is not None:
            await self._types.check_columns(columns, stats)

    def _check_upsert_key(self, preflight: Preflight) -> None:
        if self.config.upsert_by is not None:
            check_upsert_key(preflight.schema, self.config.upsert_by, self.config.object_type)

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
