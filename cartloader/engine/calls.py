"""One HTTP request, sent the way every request of a run is sent: a slot of the rate budget, a place under the
shared concurrency limit, the current token, counted in the run's statistics; the answer's rate-limit headers go
back to the budget. ``call`` adds the resends a request that changes nothing twice may take (property reads,
association writes); the batches have their own state machine in :mod:`cartloader.engine.delivery`.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass

import anyio

from cartloader.budget.base import Budget
from cartloader.config import LoaderConfig
from cartloader.engine.concurrency import InFlightLimit
from cartloader.engine.stats import RunStats
from cartloader.errors import AuthenticationError, DailyLimitError, FatalApiError, MissingScopesError
from cartloader.hubspot.auth import TokenSource
from cartloader.hubspot.details import refusal
from cartloader.hubspot.failures import MALFORMED_2XX, Action, Rule, classify, rule_for_no_answer
from cartloader.hubspot.protocol import Answer, MalformedAnswer, parse_answer, rate_limit_headers
from cartloader.hubspot.transport import NoAnswer, Transport
from cartloader.models import RecordError


@dataclass(slots=True)
class Exchange:
    """One request and what came of it: a parsed answer (and its raw body), or the transport error that
    replaced it."""

    rule: Rule
    answer: Answer | None
    error: NoAnswer | MalformedAnswer | None
    generation: int
    body: bytes | None = None  # the answer's raw body, for callers that read more than a batch answer

    def describe(self) -> str:
        """A short description for error messages and the circuit breaker."""
        if self.answer is not None:
            return describe_answer(self.answer)
        error = self.error
        if isinstance(error, MalformedAnswer):
            return "malformed 2xx answer"
        if isinstance(error, NoAnswer):
            return describe_no_answer(error)
        return "unknown failure"

    def record_error(self, *, category: str | None = None) -> RecordError:
        """The error given to records that fail on this exchange."""
        answer = self.answer
        if answer is not None:
            return refusal(
                category or answer.category or f"HTTP_{answer.status}",
                answer.message or f"HubSpot answered HTTP {answer.status}",
                answer.status,
                answer.details,
            )
        error = self.error
        if isinstance(error, MalformedAnswer):
            return RecordError(category or "MALFORMED_RESPONSE", f"HubSpot's answer could not be read: {error}")
        if isinstance(error, NoAnswer) and error.timed_out:
            return RecordError(category or "TIMEOUT", self.describe())
        return RecordError(category or "CONNECTION_ERROR", self.describe())


def describe_no_answer(error: NoAnswer) -> str:
    """What happened to a request that got no answer, naming the host: ``could not reach HOST: ...`` when the
    connection could not be made (HubSpot was never asked); ``HOST does not resolve (DNS): ...`` when its name
    could not be looked up."""
    if error.dns:
        return f"{error.host} does not resolve (DNS): {error.reason}"
    if not error.written:
        return f"could not reach {error.host}: {error.reason}"
    if error.timed_out:
        return f"the request to {error.host} timed out"
    return f"the connection to {error.host} broke after the request was sent: {error.reason}"


def describe_answer(answer: Answer) -> str:
    """``HTTP 400 VALIDATION_ERROR``: the status and HubSpot's category (or 429 policy)."""
    detail = answer.category or answer.policy
    return f"HTTP {answer.status}" + (f" {detail}" if detail else "")


class NothingToSend(Exception):
    """Raised by a ``before`` hook of :meth:`Requester.send` when nothing is left to send (every record of the
    request was withdrawn by its submitter while it waited for its slot): no request leaves."""


class Requester:
    """Sends single requests for one loader: shares its transport, token, budget and concurrency limit."""

    __slots__ = ("_budget", "_capacity", "_token", "_transport")

    def __init__(self, *, transport: Transport, token: TokenSource, budget: Budget, capacity: InFlightLimit) -> None:
        self._transport = transport
        self._token = token
        self._budget = budget
        self._capacity = capacity

    @property
    def budget(self) -> Budget:
        """The rate budget every request takes a slot of."""
        return self._budget

    @property
    def token(self) -> TokenSource:
        """The access token."""
        return self._token

    async def send(
        self,
        method: str,
        url: str,
        body: bytes | None,
        stats: RunStats,
        *,
        before: Callable[[], bytes | None] | None = None,
    ) -> Exchange:
        """Send one request and classify its answer; ``before`` runs once the slot is taken, just before the
        request leaves (the delivery logs its records ``pending`` there); it may return a new body, or raise
        :class:`NothingToSend`."""
        token, generation = await self._token.get()
        headers = {"Authorization": f"Bearer {token}"}
        if body is not None:
            headers["Content-Type"] = "application/json"
        async with self._capacity:
            await self._budget.acquire()
            if before is not None:
                replaced = before()
                if replaced is not None:
                    body = replaced
            stats.requests += 1
            sent_at = time.monotonic()
            # Shielded: once a request is on the wire its answer is awaited (up to the timeout) even if the run
            # is being cancelled, so that what HubSpot did gets logged.
            with anyio.CancelScope(shield=True):
                try:
                    if body is None:
                        response = await self._transport.get(url, headers)
                    else:
                        response = await self._transport.post(url, body, headers)
                except NoAnswer as exc:
                    return Exchange(rule_for_no_answer(exc), None, exc, generation)
        latency_s = time.monotonic() - sent_at
        stats.latency.add(latency_s * 1000)
        self._budget.observe(rate_limit_headers(response.headers), sent_at)
        self._capacity.observe(latency_s)  # after the budget, which may have learnt a new rate
        try:
            answer = parse_answer(response.status, response.headers, response.body)
        except MalformedAnswer as exc:
            return Exchange(MALFORMED_2XX, None, exc, generation)
        status = answer.status
        if not 200 <= status < 300 and status != 429:
            stats.error_response(describe_answer(answer))
        return Exchange(classify(answer), answer, None, generation, response.body)


def fatal_error(answer: Answer, *, what: str) -> FatalApiError:
    """The exception that stops the run after ``answer`` (401, 403, a DAILY 429, a whole-batch 404, ...);
    ``what`` says what was asked, for the 404's message."""
    message = answer.message or f"HTTP {answer.status}"
    category, correlation_id, status = answer.category, answer.correlation_id, answer.status
    cls: type[FatalApiError] = FatalApiError
    if status == 401:
        cls, message = AuthenticationError, f"HubSpot refused the access token: {message}"
    elif status == 403:
        if category == "MISSING_SCOPES":
            scopes = answer.context_values("requiredGranularScopes")
            named = f"; missing scopes: {', '.join(scopes)}" if scopes else ""
            return MissingScopesError(
                f"HubSpot refused the request: {message}{named}",
                category=category,
                correlation_id=correlation_id,
                status=status,
                scopes=scopes,
            )
        message = f"HubSpot refused the request: {message}"
    elif status == 429:
        return DailyLimitError(
            f"HubSpot's daily request limit is spent: {message}",
            category=answer.policy or "DAILY",
            correlation_id=correlation_id,
            status=429,
        )
    elif status == 404:
        message = f"HubSpot answered 404 for {what}: {message}"
    elif status == 477:
        message = (
            f"HubSpot is migrating the account and asks to wait {answer.retry_after_s:g} s "
            f"(Retry-After, more than 5 minutes): {message}"
        )
    else:
        message = f"HubSpot answered HTTP {status}: {message}"
    return cls(message, category=category, correlation_id=correlation_id, status=status)


async def call(
    requester: Requester,
    method: str,
    url: str,
    body: bytes | None,
    *,
    stats: RunStats,
    config: LoaderConfig,
    rng: random.Random,
) -> Exchange:
    """Send a request that may safely be repeated, resending it after answers that ask for a wait (429, 423,
    477, 503) and after failures that may or may not have done it (5xx, no answer), up to
    ``config.max_attempts`` times. A 401 is answered by one token refresh, then ``AuthenticationError``; a
    DAILY 429 raises ``DailyLimitError``. Any other answer (2xx, 4xx) is returned, as is the last failure
    once the attempts are spent."""
    attempt = 0
    refreshed = False
    while True:
        exchange = await requester.send(method, url, body, stats)
        action = exchange.rule.action
        answer = exchange.answer
        if action in (Action.ACCEPT, Action.SPLIT, Action.REFUSE):
            return exchange
        if action is Action.REFRESH_TOKEN:
            if not refreshed and await requester.token.refresh(exchange.generation):
                refreshed = True
                continue
            assert answer is not None
            raise fatal_error(answer, what=url)
        if action is Action.FATAL:
            assert answer is not None
            if answer.status == 429:
                raise fatal_error(answer, what=url)
            return exchange  # 403, 404: the caller knows what they mean for this request
        rate_limited = answer is not None and answer.status == 429
        if not rate_limited:
            attempt += 1
            if attempt >= config.max_attempts:
                return exchange
        stats.retries += 1
        wait = config.backoff.delay(max(attempt, 1), rng)
        if answer is not None and answer.retry_after_s is not None:
            wait = answer.retry_after_s
        wait = max(wait, exchange.rule.min_wait_s)
        if rate_limited:
            stats.rate_limited += 1
            if answer is not None and answer.retry_after_s is None:
                wait = requester.budget.limit.window_s / 10
            requester.budget.pause(wait)
        else:
            await anyio.sleep(wait)
