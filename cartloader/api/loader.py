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
from anyio.abc import ObjectReceiveStream

from cartloader.budget.base import Budget
from cartloader.budget.local import RateBudget
from cartloader.budget.quota import DailyQuotaWatch
from cartloader.budget.shared import SharedBudget
from cartloader.config import (
    DEFAULT_API_VERSION,
    DEFAULT_BASE_URL,
    DEFAULT_CONCURRENCY,
    DEFAULT_MAX_ATTEMPTS,
    DEFAULT_TIMEOUT_S,
    MAX_BATCH_SIZE,
    Backoff,
    LoaderConfig,
    TokenCallable,
)
from cartloader.engine.breaker import CircuitBreaker
from cartloader.engine.chunker import Chunker
from cartloader.engine.collector import Collector
from cartloader.engine.delivery import Sender
from cartloader.engine.pipeline import first_cause, run_pipeline
from cartloader.errors import ConfigError
from cartloader.hubspot.auth import TokenSource
from cartloader.hubspot.transport import Transport
from cartloader.input.normalize import normalized
from cartloader.models import CartInput, InvalidInput, Outcome, OutcomeSink, Summary
from cartloader.outcomes.meta import new_run_id
from cartloader.outcomes.sinks import open_library_log
from cartloader.rate import Rate

Records = Iterable[Any] | AsyncIterable[Any]
OutcomeLogTarget = str | os.PathLike[str] | OutcomeSink


def _records(records: Records) -> AsyncIterator[CartInput | InvalidInput]:
    if isinstance(records, str | bytes | dict):
        raise ConfigError(
            f"records must be an iterable of records (dicts), not a {type(records).__name__}: "
            "to load a file, use the command line or iterate its lines"
        )
    return normalized(records)


def _rate(rate: str | Rate | None) -> Rate | None:
    if rate is None or isinstance(rate, Rate):
        return rate
    return Rate.parse(rate)


class CartLoader:
    """Loads cart records into HubSpot. One connection pool and one rate budget serve every
    ``create()`` and ``stream()`` call made on it, so an async service can call it from many tasks
    at once without exceeding HubSpot's per-app limit; ``concurrency`` bounds the requests in flight
    across all of them.

        async with CartLoader(token=..., base_url=...) as loader:
            summary = await loader.create(records)
    """

    def __init__(
        self,
        token: str | TokenCallable,
        *,
        base_url: str | None = None,
        object_type: str = "carts",
        api_path: str | None = None,
        concurrency: int = DEFAULT_CONCURRENCY,
        rate: str | Rate | None = None,
        batch_size: int = MAX_BATCH_SIZE,
        timeout: float = DEFAULT_TIMEOUT_S,
        max_attempts: int = DEFAULT_MAX_ATTEMPTS,
        upsert_by: str | None = None,
        retry_ambiguous: bool = True,
        allow_insecure: bool = False,
        budget: Budget | str | None = None,
        backoff: Backoff | None = None,
        config: LoaderConfig | None = None,
        api_version: str = DEFAULT_API_VERSION,
    ) -> None:
        if config is None:
            config = LoaderConfig(
                base_url=base_url or os.environ.get("HUBSPOT_BASE_URL") or DEFAULT_BASE_URL,
                api_path=api_path,
                api_version=api_version,
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
            )
        self.config = config
        self._token = TokenSource(token)
        # A budget URL (redis://HOST:PORT/DB?key=NAME) makes a shared budget this loader connects and closes.
        self._own_budget: SharedBudget | None = None
        if isinstance(budget, str):
            budget = self._own_budget = SharedBudget.from_url(budget, rate=config.rate)
        self.budget: Budget = budget if budget is not None else RateBudget(config.rate)
        self._breaker = CircuitBreaker(config.breaker_window, config.breaker_threshold)
        self._capacity = anyio.CapacityLimiter(config.concurrency)
        self._transport = Transport(
            connections=config.concurrency, timeout_s=config.timeout_s, connect_timeout_s=config.connect_timeout_s
        )
        self._rng = random.Random()

    async def __aenter__(self) -> Self:
        if isinstance(self.budget, SharedBudget):
            await self.budget.connect()  # Redis unreachable: ConfigError before anything is sent
        await self._transport.open()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        with anyio.CancelScope(shield=True):
            await self._transport.close()
        if self._own_budget is not None:
            await self._own_budget.aclose()

    async def _run(
        self, source: AsyncIterable[CartInput | InvalidInput], collector: Collector, *, run_id: str | None = None
    ) -> Summary:
        """Load already-normalized inputs; outcomes go to ``collector`` (the command line's way in)."""
        if not self._transport.is_open:
            raise RuntimeError("use CartLoader inside `async with CartLoader(...) as loader:`")
        sender = Sender(
            transport=self._transport,
            config=self.config,
            token=self._token,
            budget=self.budget,
            breaker=self._breaker,
            capacity=self._capacity,
            collector=collector,
            rng=self._rng,
        )
        chunker = Chunker(
            batch_size=self.config.batch_size, run_id=run_id or new_run_id(), unique_by=self.config.upsert_by
        )
        await run_pipeline(
            source, sender=sender, collector=collector, concurrency=self.config.concurrency, chunker=chunker
        )
        return collector.summary()

    async def create(
        self,
        records: Records,
        *,
        outcome_log: OutcomeLogTarget | None = None,
        on_outcome: Callable[[Outcome], object] | None = None,
    ) -> Summary:
        """Load ``records`` (dicts in HubSpot's shape or flat) and return the summary.

        Per-record failures are outcomes, never exceptions; ``on_outcome`` sees each final outcome.
        Safe to call from many tasks at once. When ``records`` has a length, a warning goes to the
        "cartloader" logger once HubSpot's remaining daily requests cannot cover the rest.
        """
        async with AsyncExitStack() as stack:
            sinks, run_id = _sinks(stack, outcome_log)
            collector = Collector([*sinks, *self._quota_watch(records)], on_outcome=on_outcome)
            return await self._run(_records(records), collector, run_id=run_id)
        raise AssertionError("unreachable")  # pragma: no cover

    def _quota_watch(self, records: Records) -> list[OutcomeSink]:
        if not isinstance(records, Sized):
            return []
        total = len(records)
        return [DailyQuotaWatch(self.budget, lambda settled: max(0, total - settled), self.config.batch_size)]

    @asynccontextmanager
    async def stream(
        self, records: Records, *, outcome_log: OutcomeLogTarget | None = None
    ) -> AsyncIterator[ObjectReceiveStream[Outcome]]:
        """Yield a receive stream of final outcomes as they come.

            async with loader.stream(records) as outcomes:
                async for outcome in outcomes: ...

        Leaving the block early cancels the run: requests already sent are answered and logged.
        """
        source = _records(records)
        send, receive = anyio.create_memory_object_stream[Outcome](self.config.batch_size)
        async with AsyncExitStack() as stack:
            sinks, run_id = _sinks(stack, outcome_log)
            collector = Collector(sinks, stream=send)

            async def produce() -> None:
                async with send:
                    await self._run(source, collector, run_id=run_id)

            try:
                async with anyio.create_task_group() as group, receive:
                    group.start_soon(produce)
                    try:
                        yield receive
                    finally:
                        group.cancel_scope.cancel()
            except BaseExceptionGroup as errors:
                raise first_cause(errors) from None

    def __repr__(self) -> str:
        return f"CartLoader(base_url={self.config.base_url!r}, concurrency={self.config.concurrency}, {self.budget!r})"


def _sinks(stack: AsyncExitStack, outcome_log: OutcomeLogTarget | None) -> tuple[Sequence[OutcomeSink], str | None]:
    """The sinks for ``outcome_log``, and the run id its meta file names (so generated keys agree with it)."""
    if outcome_log is None:
        return (), None
    if isinstance(outcome_log, str | os.PathLike):
        log = open_library_log(os.fspath(outcome_log))
        stack.callback(log.close)
        return (log,), log.log.meta.run_id
    if hasattr(outcome_log, "pending") and hasattr(outcome_log, "settled"):
        return (outcome_log,), None
    raise ConfigError("outcome_log must be a path or an outcome sink")


async def bulk_create(
    records: Records,
    *,
    token: str | TokenCallable,
    base_url: str | None = None,
    object_type: str = "carts",
    outcome_log: OutcomeLogTarget | None = None,
    concurrency: int = DEFAULT_CONCURRENCY,
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
) -> Summary:
    """Load ``records`` into HubSpot with one call and return the ``Summary``.

    ``records`` is any iterable or async iterable of dicts; ``token`` a string or an async callable
    returning one; ``rate=None`` follows HubSpot's headers, ``"190/10s"`` is a hard cap; ``budget`` a
    ``Budget`` or a URL ``redis://HOST:PORT/DB?key=NAME`` shared with every process using that key
    (extra ``cartloader[redis]``). The other options are those of :class:`CartLoader`.
    """
    async with CartLoader(
        token,
        base_url=base_url,
        object_type=object_type,
        api_path=api_path,
        api_version=api_version,
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
    ) as loader:
        return await loader.create(records, outcome_log=outcome_log, on_outcome=on_outcome)
