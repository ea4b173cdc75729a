"""Delivery: one batch in, every record's final outcome out (the per-batch state machine).

It sends, retries, splits and maps results, following the failure table in :mod:`cartloader.hubspot.failures`
(design rule 4); what a batch refused whole becomes (the inputs it names fail, the rest is resent or bisected) is
decided in :mod:`cartloader.engine.splitting`. An answer to a request that was sent is never thrown away: the
exchange runs shielded from cancellation (bounded by the request timeout) and its outcomes are logged before the
next await.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence

import anyio

from cartloader.budget.base import Budget
from cartloader.config import LoaderConfig
from cartloader.engine.breaker import CircuitBreaker
from cartloader.engine.calls import Exchange, NothingToSend, Requester, fatal_error
from cartloader.engine.collector import Collector
from cartloader.engine.concurrency import InFlightLimit
from cartloader.engine.linking import Linker
from cartloader.engine.matching import Kinds, match_results, proves_not_created
from cartloader.engine.readback import Attempts, Conflict, Readback
from cartloader.engine.refused import RefusalMemory
from cartloader.engine.splitting import split_refused
from cartloader.errors import FatalApiError
from cartloader.hubspot.auth import TokenSource
from cartloader.hubspot.details import refusal, with_values
from cartloader.hubspot.failures import Action, input_status, missing_result_error
from cartloader.hubspot.protocol import (
    Answer,
    Endpoint,
    ResultItem,
    create_body,
    upsert_body,
)
from cartloader.hubspot.reads import ReadObject
from cartloader.hubspot.refusals import existing_id
from cartloader.hubspot.transport import NoAnswer, Transport
from cartloader.models import CartInput, Outcome, RecordError, Settled, Status

# The answers after which a record left unsent is told why: they refused the request without processing it.
_UNPROCESSED_STOPS = frozenset({Action.RETRY, Action.FATAL, Action.REFRESH_TOKEN})


class InFlight:
    """A record on its way: how many requests carried it, whether a resend may duplicate it, whether HubSpot may
    have processed any request that carried it, and whether this run has written its last entry for it; ``times``:
    when its requests of this run left and were answered (a conflict's read-back window)."""

    __slots__ = ("attempts", "closed", "duplicate_risk", "maybe_processed", "record", "times")

    def __init__(self, record: CartInput, duplicate_risk: bool = False, maybe_processed: bool = False) -> None:
        self.record = record
        self.attempts = 0
        self.duplicate_risk = duplicate_risk
        self.maybe_processed = maybe_processed
        self.closed = False
        self.times = Attempts()

    def __repr__(self) -> str:
        return (
            f"InFlight(line={self.record.line}, attempts={self.attempts}, duplicate_risk={self.duplicate_risk}, "
            f"maybe_processed={self.maybe_processed})"
        )


#: A record refused: its error, the ``existing_id`` a 409 names, and the unique properties it names.
Refused = tuple[InFlight, RecordError, str | None, tuple[str, ...]]


class Sender:
    """Delivers batches to HubSpot for one run; shares transport, budget, token and breaker with its loader."""

    def __init__(
        self,
        *,
        transport: Transport,
        config: LoaderConfig,
        token: TokenSource,
        budget: Budget,
        breaker: CircuitBreaker,
        capacity: InFlightLimit,
        collector: Collector,
        rng: random.Random | None = None,
        refused: RefusalMemory | None = None,
        gone: Callable[[RecordError, CartInput], RecordError] | None = None,
    ) -> None:
        self._gone = gone  # a refusal naming a target resolved from a property: ASSOCIATION_TARGET_MISSING
        self._config = config
        endpoint = Endpoint(config.base_url, config.api_path, config.object_type, config.api_version)
        self._url = endpoint.upsert_url if config.upsert_by else endpoint.create_url
        # An upsert keyed by a unique value cannot create a second object, so no resend is a duplicate risk.
        self._can_duplicate = config.upsert_by is None
        self._token = token
        self._budget = budget
        self._breaker = breaker
        self._requester = Requester(transport=transport, token=token, budget=budget, capacity=capacity)
        self._clock = transport.clock  # HubSpot's clock: when each record's requests left and were answered
        self._collector = collector
        self._stats = collector.stats
        self._rng = rng or random.Random()
        #: Each property's type (from the portal's schema, once the preflight read it): how results are matched.
        self.kinds: Kinds = {}
        self._refused = refused  # what HubSpot refuses is remembered, so that the producer refuses it again
        # Upsert inputs carry no associations: they are written afterwards, through the v4 API.
        self._linker = Linker(self._requester, config, self._stats, self._rng) if config.upsert_by else None
        #: Settles a 409 on a resend after an ambiguous attempt by reading the object back (its ``unique``: the
        #: portal's unique properties, set with ``kinds``).
        self.readback = Readback(self._requester, config, self._stats, self._rng)

    async def deliver(self, batch: Sequence[CartInput]) -> None:
        """Send ``batch`` until every record has a final outcome (or the run is cancelled)."""
        # A record an earlier run was sending may exist already; in upsert mode a resend cannot duplicate it.
        can_duplicate = self._can_duplicate
        # A record withdrawn by its submitter (cancelled) is never sent; a batch left empty takes no rate slot.
        items = [InFlight(r, can_duplicate and r.was_pending, r.was_pending) for r in batch if not r.withdrawn]
        if items:
            self.readback.note([item.record for item in items])
            await self._deliver(items, first=True)

    async def _deliver(self, items: list[InFlight], *, first: bool = False) -> None:
        last: Exchange | None = None
        attempt = 0
        refreshed = False
        try:
            while True:
                exchange = last = await self._exchange(items, log_pending=first)
                if exchange is None:
                    return  # every record was withdrawn before its first request left
                first = False
                rule = exchange.rule
                action = rule.action
                answer = exchange.answer
                if rule.processed and action is not Action.ACCEPT:
                    for item in items:
                        item.maybe_processed = item.times.ambiguous = True
                rate_limited = answer is not None and answer.status == 429
                if not rate_limited:
                    attempt += 1
                self._watch(exchange, items)
                if action is Action.ACCEPT:
                    assert answer is not None
                    resend = await self._accept(items, answer)
                    if resend:
                        await self._deliver(resend)
                    return
                if action is Action.SPLIT:
                    assert answer is not None
                    await self._split(items, exchange)
                    return
                if action is Action.REFUSE:
                    await self._fail(items, exchange.record_error())
                    return
                if action is Action.REFRESH_TOKEN:
                    if not refreshed and await self._token.refresh(exchange.generation):
                        refreshed = True
                        continue
                    raise self._fatal(exchange)
                if action is Action.FATAL:
                    raise self._fatal(exchange)

                # RETRY or RETRY_AMBIGUOUS
                if rule.processed:
                    if not self._config.retry_ambiguous:
                        message = f"HubSpot may have processed this batch ({exchange.describe()}); not resent"
                        await self._fail(items, RecordError("AMBIGUOUS", message, answer.status if answer else None))
                        return
                    if self._can_duplicate:
                        for item in items:
                            item.duplicate_risk = True
                if attempt >= self._config.max_attempts:
                    await self._fail(items, exchange.record_error())
                    return
                wait = self._config.backoff.delay(attempt, self._rng)
                if answer is not None and answer.retry_after_s is not None:
                    wait = answer.retry_after_s
                wait = max(wait, rule.min_wait_s)
                self._stats.retries += 1
                if rate_limited:
                    self._stats.rate_limited += 1
                    if answer is not None and answer.retry_after_s is None:
                        wait = self._budget.limit.window_s / 10
                    self._budget.pause(wait)
                else:
                    await anyio.sleep(wait)
        except BaseException:
            # The run stops (cancelled, fatal, the log or the input failed) before these records were settled.
            self._leave_unsent(items, last)
            raise

    def _body(self, records: list[CartInput]) -> bytes:
        upsert_by = self._config.upsert_by
        return upsert_body(records, upsert_by) if upsert_by else create_body(records)

    async def _exchange(self, items: list[InFlight], *, log_pending: bool) -> Exchange | None:
        """One request for ``items``; ``None`` when, on the first request, every record was withdrawn while it
        waited for its slot (``items`` loses the withdrawn ones: a submitter cancelled before sending)."""
        records = [item.record for item in items]

        def before() -> bytes | None:
            nonlocal records
            body = None
            if log_pending:
                if any(record.withdrawn for record in records):
                    items[:] = [item for item in items if not item.record.withdrawn]
                    if not items:
                        raise NothingToSend
                    records = [item.record for item in items]
                    body = self._body(records)
                self._collector.pending(records)
            now = self._clock.now()
            for item in items:
                item.attempts += 1
                item.times.sent(now)
            return body

        try:
            exchange = await self._requester.send("POST", self._url, self._body(records), self._stats, before=before)
        except NothingToSend:
            return None
        if not isinstance(exchange.error, NoAnswer):
            now = self._clock.now()
            for item in items:
                item.times.answered(now)
        return exchange

    def _watch(self, exchange: Exchange, items: list[InFlight]) -> None:
        """Feed the circuit breaker; stop the run when most recent requests fail the same way."""
        answer = exchange.answer
        failure: str | None
        if exchange.rule.action is Action.ACCEPT:
            assert answer is not None
            refused_all = answer.errors and not answer.results
            failure = f"every input refused: {answer.errors[0].category}" if refused_all else None
        elif exchange.rule.action in (Action.FATAL, Action.REFRESH_TOKEN):
            return
        else:
            failure = exchange.describe()
        tripped = self._breaker.record(failure)
        if tripped is not None:
            window = self._config.breaker_window
            if isinstance(exchange.error, NoAnswer):
                # No answer: HubSpot did not stop the run, the network (or the host) did.
                raise FatalApiError(
                    f"{tripped} (most of the last {window} requests failed this way); fix the cause, then resume",
                    category=exchange.record_error().category,
                )
            raise FatalApiError(
                f"stopping: most of the last {window} requests failed the same way ({tripped}); "
                "fix the cause, then resume",
                category="CIRCUIT_OPEN",
                correlation_id=answer.correlation_id if answer else None,
                status=answer.status if answer else None,
            )

    def _fatal(self, exchange: Exchange) -> FatalApiError:
        answer = exchange.answer
        assert answer is not None
        return fatal_error(answer, what=f"object type {self._config.object_type!r} at {self._url}")

    def _outcome(
        self,
        item: InFlight,
        status: Status,
        error: RecordError | None = None,
        record_id: str | None = None,
        unmatched: bool = False,
        existing: str | None = None,
    ) -> Settled:
        record = item.record
        item.closed = True
        if error is not None and error.details:
            error = with_values(error, record.properties)
            if status == "failed" and self._gone is not None:
                error = self._gone(error, record)
            if status == "failed" and self._refused is not None:
                self._refused.learn(error, record)
        # Positional: binding keyword arguments is noticeably slower, once per record.
        outcome = Outcome(
            record.line,
            status,
            record.key,
            record_id,
            error,
            item.attempts,
            item.duplicate_risk,
            unmatched,
            None,  # echoed: the collector fills it in
            existing,
        )
        return outcome, record

    def _leave_unsent(self, items: Sequence[InFlight], last: Exchange | None) -> None:
        """The run stops with ``items`` unsettled: log ``unsent`` those that were logged ``pending`` but that
        no request carrying them can have been processed by HubSpot (design rule 4), so that ``--resume`` sends
        them without ``duplicate_risk``. The others stay ``pending`` (or absent, if never logged)."""
        error = None
        if last is not None and last.rule.action in _UNPROCESSED_STOPS:
            error = last.record_error()
        unsent = [
            self._outcome(item, "unsent", error)
            for item in items
            if not item.closed and item.attempts and not item.maybe_processed
        ]
        if unsent:
            self._collector.unsent(unsent)

    async def _fail(self, items: Sequence[InFlight], error: RecordError) -> None:
        await self._collector.settle([self._outcome(item, "failed", error) for item in items])

    async def _accept(self, items: list[InFlight], answer: Answer) -> list[InFlight]:
        """Map a 2xx answer to outcomes; return inputs HubSpot refused without naming them (to resend)."""
        records = [item.record for item in items]
        settled: list[Settled] = []
        failed: set[int] = set()
        unnamed_errors = []
        conflicts: list[Refused] = []
        # Only an answer with errors needs the inputs by trace id (most have none: one dict less per batch).
        index_by_key = {record.key: i for i, record in enumerate(records)} if answer.errors else {}
        for error in answer.errors:
            named = [index_by_key[t] for t in error.trace_ids if t in index_by_key]
            if not named:
                unnamed_errors.append(error)
            for i in named:
                if i not in failed:
                    failed.add(i)
                    why = refusal(error.category, error.message, input_status(error.category), error.details)
                    existing = existing_id(error.message) if why.status == 409 else None
                    conflicts.append((items[i], why, existing, error.context.get("propertyName", ())))
        matching = match_results(records, answer.results, exclude=frozenset(failed), kinds=self.kinds)
        upserted: list[tuple[InFlight, ResultItem]] = []
        if self._linker is None:  # create mode: every result settles at once (the common path, once per record)
            created = self._created
            settled += [created(items[i], result) for i, result in matching.pairs]
        else:
            for i, result in matching.pairs:
                if items[i].record.associations and result.id is not None:
                    upserted.append((items[i], result))  # pending until its associations are written
                    continue
                settled.append(self._created(items[i], result))
        for i in matching.ambiguous:
            settled.append(self._outcome(items[i], "created", unmatched=True))
        # A result that matches no input is never given to one (design rule 2): the inputs left over have no
        # result, whatever the number of spare results.
        unmatched = len(matching.unmatched_results)
        if unmatched:
            self._collector.unmatched_results(unmatched)
        resend: list[InFlight] = []
        if matching.leftover:
            # Resent only when the answer proves they were not created (one error naming no input for each, and
            # no result it could not place), or when a resend cannot duplicate (upsert); otherwise HubSpot may
            # have created them: failed, MISSING_RESULT, flagged (never resent unflagged).
            refused = proves_not_created(matching, len(unnamed_errors))
            reason = missing_result_error(answer, unnamed_errors if refused else (), unmatched, len(unnamed_errors))
            for i in matching.leftover:
                item = items[i]
                if (refused or not self._can_duplicate) and item.attempts < self._config.max_attempts:
                    resend.append(item)
                    continue
                if not refused:
                    item.maybe_processed = True
                    item.duplicate_risk = self._can_duplicate
                settled.append(self._outcome(item, "failed", error=reason))
        await self._collector.settle(settled)
        await self._conflicts(conflicts)
        if upserted:
            await self._link(upserted)
        return resend

    async def _conflicts(self, refused: list[Refused]) -> None:
        """Settle records refused (``failed``, with the ``existing_id`` a 409 names); a 409 on a resend after an
        ambiguous attempt is read back first (:mod:`cartloader.engine.readback`): the object that is the record's
        own is adopted, ``created`` (``updated`` in upsert mode) with its id."""
        conflicts = [(r, Conflict(r[0].record, r[0].times, r[2], r[3])) for r in refused if r[1].status == 409]
        checks = [(r, conflict) for r, conflict in conflicts if self.readback.checkable(conflict)]
        checked = {id(r[0]) for r, _ in checks}
        await self._collector.settle(
            [self._outcome(i, "failed", e, existing=x) for i, e, x, _ in refused if id(i) not in checked]
        )
        if not checks:
            return
        owned = await self.readback.settle([conflict for _, conflict in checks], self.kinds)
        await self._adopt([(r[0], obj, r[1], r[2]) for (r, _), obj in zip(checks, owned, strict=True)])

    async def _reclaim(self, items: list[InFlight], named: tuple[str, ...]) -> list[InFlight]:
        """The inputs a whole-batch 409 did not name, about to be resent: those whose earlier attempt may have made
        their object are read back (by their unique value, one read per 100) and adopted when it is their own;
        the rest are returned to resend (one 409 per batch, not one per input, each an error response)."""
        owned = await self.readback.reclaim([Conflict(i.record, i.times, None, named) for i in items], self.kinds)
        await self._adopt([(item, obj, None, None) for item, obj in zip(items, owned, strict=True) if obj])
        return [item for item in items if not item.closed]

    async def _adopt(self, found: list[tuple[InFlight, ReadObject | None, RecordError | None, str | None]]) -> None:
        """Settle records read back: ``created`` (``updated``) with the object that is their own, else ``failed``."""
        settled, linked = [], []
        for item, obj, error, existing in found:
            if obj is None:
                settled.append(self._outcome(item, "failed", error, existing=existing))
                continue
            result = ResultItem(obj.id, obj.properties, None, None if self._linker is None else False)
            if self._linker is not None and item.record.associations:
                linked.append((item, result))  # upserted without its associations: written now
            else:
                settled.append(self._created(item, result))
        await self._collector.settle(settled)
        if linked:
            await self._link(linked)

    async def _link(self, upserted: list[tuple[InFlight, ResultItem]]) -> None:
        """Write the associations of upserted records, then settle them: ``created``/``updated`` once every
        association is in place, else ``failed`` ``ASSOCIATION_FAILED`` with their id."""
        assert self._linker is not None
        for item, _ in upserted:
            item.maybe_processed = True  # upserted: never "unsent", whatever stops the run now
        problems = await self._linker.link([(item.record, result.id or "") for item, result in upserted])
        settled = [
            self._created(item, result)
            if problem is None
            else self._outcome(item, "failed", problem, record_id=result.id)
            for (item, result), problem in zip(upserted, problems, strict=True)
        ]
        await self._collector.settle(settled)

    def _created(self, item: InFlight, result: ResultItem) -> Settled:
        # _outcome without an error, inlined: once per record.
        record = item.record
        item.closed = True
        status: Status = "updated" if result.new is False else "created"
        outcome = Outcome(
            record.line, status, record.key, result.id, None, item.attempts, item.duplicate_risk, False, None, None
        )
        return outcome, record

    async def _split(self, items: list[InFlight], exchange: Exchange) -> None:
        """A whole-batch 400/409/413: fail the inputs HubSpot named and resend the rest, or bisect until each bad
        input stands alone (design rule 3; :func:`~cartloader.engine.splitting.split_refused` decides which)."""
        split = split_refused([item.record for item in items], exchange)
        if split.failed:
            named = exchange.answer.context_values("propertyName") if exchange.answer else ()
            await self._conflicts([(items[i], e, split.existing, named) for i, e in split.failed.items()])
        for part in split.resend:
            rest = [items[i] for i in part]
            if exchange.answer is not None and exchange.answer.status == 409:
                rest = await self._reclaim(rest, exchange.answer.context_values("propertyName"))
            if rest:
                await self._deliver(rest)
