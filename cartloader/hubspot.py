"""The HubSpot protocol, in one place: request bodies, answer parsing, and what each failure means.

A change at HubSpot (a new path, a status that moves from one row to another) is one edit here.
Every field of every answer is treated as optional.
"""

from __future__ import annotations

import asyncio
import enum
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import orjson

from cartloader.records import CartInput


class Action(enum.Enum):
    """What the sender does with an answer."""

    ACCEPT = "accept"  # a 2xx: map results and per-input errors to records
    SPLIT = "split"  # inputs refused as a whole batch: attribute the errors, or bisect
    REFUSE = "refuse"  # refused for good: the batch's records fail, no resend
    RETRY = "retry"  # not processed: resend after the wait
    RETRY_AMBIGUOUS = "retry_ambiguous"  # may have been processed: resend flagged duplicate_risk
    REFRESH_TOKEN = "refresh_token"  # 401: refresh the token once, then fatal
    FATAL = "fatal"  # the run stops


@dataclass(frozen=True, slots=True)
class Rule:
    """One row of the failure table: the action, whether HubSpot may have processed the
    request, and the least wait before a resend."""

    action: Action
    processed: bool
    min_wait_s: float = 0.0


# Design rule 4, by HTTP status. Statuses not listed fall back to `rule_for_status`.
FAILURE_TABLE: Mapping[int, Rule] = {
    400: Rule(Action.SPLIT, processed=False),
    409: Rule(Action.SPLIT, processed=False),
    413: Rule(Action.SPLIT, processed=False),
    401: Rule(Action.REFRESH_TOKEN, processed=False),
    403: Rule(Action.FATAL, processed=False),
    404: Rule(Action.FATAL, processed=False),
    423: Rule(Action.RETRY, processed=False, min_wait_s=2.0),
    429: Rule(Action.RETRY, processed=False),  # DAILY is fatal: see classify_status
    477: Rule(Action.RETRY, processed=False),
    503: Rule(Action.RETRY, processed=False),
    521: Rule(Action.RETRY, processed=False),
    523: Rule(Action.RETRY, processed=False),
    500: Rule(Action.RETRY_AMBIGUOUS, processed=True),
    502: Rule(Action.RETRY_AMBIGUOUS, processed=True),
    504: Rule(Action.RETRY_AMBIGUOUS, processed=True),
    524: Rule(Action.RETRY_AMBIGUOUS, processed=True),
}

ACCEPT = Rule(Action.ACCEPT, processed=True)
MALFORMED_2XX = Rule(Action.RETRY_AMBIGUOUS, processed=True)
CONNECT_FAILED = Rule(Action.RETRY, processed=False)
SENT_THEN_LOST = Rule(Action.RETRY_AMBIGUOUS, processed=True)
DAILY_LIMIT = Rule(Action.FATAL, processed=False)
_OTHER_4XX = Rule(Action.REFUSE, processed=False)
_OTHER_5XX = Rule(Action.RETRY_AMBIGUOUS, processed=True)


def rule_for_status(status: int) -> Rule:
    """The failure-table row for an HTTP status (2xx is ACCEPT; unknown 4xx refuse, unknown 5xx are ambiguous)."""
    if 200 <= status < 300:
        return ACCEPT
    rule = FAILURE_TABLE.get(status)
    if rule is not None:
        return rule
    return _OTHER_4XX if status < 500 else _OTHER_5XX


def rule_for_transport_error(exc: BaseException) -> Rule:
    """The failure-table row for a request that got no HTTP answer.

    Only a failure to connect proves the request was never written; a reset or a timeout after
    that may come after HubSpot processed it.
    """
    if isinstance(exc, aiohttp.ClientConnectorError | aiohttp.ConnectionTimeoutError):
        return CONNECT_FAILED
    return SENT_THEN_LOST


TRANSPORT_ERRORS: tuple[type[BaseException], ...] = (aiohttp.ClientError, asyncio.TimeoutError, OSError)


@dataclass(frozen=True, slots=True)
class Endpoint:
    """Where batches go: ``{base_url}{api_path}/{object_type}/batch/create`` (or ``/batch/upsert``)."""

    base_url: str
    api_path: str = "/crm/v3/objects"
    object_type: str = "carts"

    @property
    def create_url(self) -> str:
        """The batch-create URL."""
        return f"{self.base_url.rstrip('/')}/{self.api_path.strip('/')}/{self.object_type}/batch/create"

    @property
    def upsert_url(self) -> str:
        """The batch-upsert URL."""
        return f"{self.base_url.rstrip('/')}/{self.api_path.strip('/')}/{self.object_type}/batch/upsert"


def create_body(inputs: Sequence[CartInput]) -> bytes:
    """The JSON body of a batch create; every input carries its trace id (``key``) so that HubSpot
    answers partial failures with 207 instead of failing the batch."""
    items: list[dict[str, Any]] = []
    append = items.append
    for record in inputs:
        if record.associations:
            append(
                {
                    "properties": record.properties,
                    "associations": record.associations,
                    "objectWriteTraceId": record.key,
                }
            )
        else:
            append({"properties": record.properties, "objectWriteTraceId": record.key})
    return orjson.dumps({"inputs": items})


def upsert_body(inputs: Sequence[CartInput], id_property: str) -> bytes:
    """The JSON body of a batch upsert keyed by the unique property ``id_property``."""
    items: list[dict[str, Any]] = []
    for record in inputs:
        item: dict[str, Any] = {
            "id": record.properties[id_property],
            "idProperty": id_property,
            "properties": record.properties,
            "objectWriteTraceId": record.key,
        }
        if record.associations:
            item["associations"] = record.associations
        items.append(item)
    return orjson.dumps({"inputs": items})


@dataclass(frozen=True, slots=True)
class ApiError:
    """One error HubSpot reported: its category, message and the trace ids it names (if any)."""

    category: str
    message: str
    trace_ids: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class ResultItem:
    """One created (or upserted) object from a 2xx answer."""

    id: str | None
    properties: Mapping[str, Any]
    trace_id: str | None
    new: bool | None  # upsert only: False when the unique value already existed


def _result_factory() -> Callable[[str | None, Mapping[str, Any], str | None, bool | None], ResultItem]:
    """Build a ``ResultItem`` through its slots' setters: the frozen dataclass's ``__init__`` goes through
    ``object.__setattr__`` per field, about twice the cost, once per record. Same instance (equal, frozen)."""
    names = ("id", "properties", "trace_id", "new")
    assert tuple(ResultItem.__slots__) == names
    set_id, set_properties, set_trace_id, set_new = (ResultItem.__dict__[name].__set__ for name in names)
    new_instance = object.__new__

    def new_result(
        object_id: str | None, properties: Mapping[str, Any], trace_id: str | None, new: bool | None
    ) -> ResultItem:
        result: ResultItem = new_instance(ResultItem)
        set_id(result, object_id)
        set_properties(result, properties)
        set_trace_id(result, trace_id)
        set_new(result, new)
        return result

    return new_result


_new_result = _result_factory()


@dataclass(slots=True)
class Answer:
    """A parsed HubSpot answer. ``errors`` lists per-input errors of a 207, or the errors of a
    whole-batch failure; ``category``, ``message`` and ``correlation_id`` are the top level."""

    status: int
    results: list[ResultItem] = field(default_factory=list)
    errors: list[ApiError] = field(default_factory=list)
    category: str | None = None
    message: str | None = None
    correlation_id: str | None = None
    policy: str | None = None  # 429 policyName: TEN_SECONDLY_ROLLING or DAILY
    retry_after_s: float | None = None


class MalformedAnswer(ValueError):
    """A 2xx whose body is not the JSON HubSpot documents."""


def _text(value: object) -> str | None:
    return value if isinstance(value, str) else None


def _trace_ids(context: object) -> tuple[str, ...]:
    if not isinstance(context, dict):
        return ()
    ids = context.get("objectWriteTraceId")
    if isinstance(ids, str):
        return (ids,)
    if isinstance(ids, list):
        return tuple(i for i in ids if isinstance(i, str))
    return ()


def _parse_errors(raw: object) -> list[ApiError]:
    if not isinstance(raw, list):
        return []
    errors = []
    for item in raw:
        if not isinstance(item, dict):
            continue
        category = _text(item.get("category")) or _text(item.get("code")) or "UNKNOWN"
        message = _text(item.get("message")) or ""
        errors.append(ApiError(category, message, _trace_ids(item.get("context"))))
    return errors


def _parse_results(raw: object) -> list[ResultItem]:
    if raw is None:
        return []
    if not isinstance(raw, list):
        raise MalformedAnswer("results is not a list")
    # One ResultItem per record: built through the slots' own setters (see _new_result), with the common
    # JSON types (a string id, a properties object) tested by exact type first.
    results: list[ResultItem] = []
    append = results.append
    new_result = _new_result
    for item in raw:
        if type(item) is not dict and not isinstance(item, dict):
            raise MalformedAnswer("a result is not an object")
        get = item.get
        object_id = get("id")
        if type(object_id) is not str:
            object_id = str(object_id) if isinstance(object_id, str | int) else None
        properties = get("properties")
        if type(properties) is not dict and not isinstance(properties, dict):
            properties = {}
        trace_id = get("objectWriteTraceId")
        if trace_id is not None and not isinstance(trace_id, str):
            trace_id = None
        new = get("new")
        if new is not None and not isinstance(new, bool):
            new = None
        append(new_result(object_id, properties, trace_id, new))
    return results


def _retry_after(headers: Mapping[str, str]) -> float | None:
    value = headers.get("Retry-After")
    if value is None:
        return None
    try:
        seconds = float(value)
    except ValueError:
        return None  # an HTTP date: rare for these endpoints; the backoff applies instead
    return seconds if seconds >= 0 else None


def parse_answer(status: int, headers: Mapping[str, str], body: bytes) -> Answer:
    """Parse an HTTP answer. Raise ``MalformedAnswer`` for a 2xx whose body cannot be read;
    a non-2xx with an unreadable body still yields an ``Answer`` with its status."""
    answer = Answer(status=status, retry_after_s=_retry_after(headers))
    try:
        data = orjson.loads(body) if body else None
    except orjson.JSONDecodeError as exc:
        if 200 <= status < 300:
            raise MalformedAnswer(f"invalid JSON: {exc}") from None
        return answer
    if not isinstance(data, dict):
        if 200 <= status < 300:
            raise MalformedAnswer("body is not a JSON object")
        return answer
    answer.category = _text(data.get("category")) or _text(data.get("errorType"))
    answer.message = _text(data.get("message"))
    answer.correlation_id = _text(data.get("correlationId"))
    answer.policy = _text(data.get("policyName"))
    answer.errors = _parse_errors(data.get("errors"))
    if 200 <= status < 300:
        answer.results = _parse_results(data.get("results"))
    return answer


def classify(answer: Answer) -> Rule:
    """The failure-table row for a parsed answer (a DAILY 429 is fatal; the rest by status)."""
    if answer.status == 429 and answer.policy == "DAILY":
        return DAILY_LIMIT
    return rule_for_status(answer.status)


@dataclass(frozen=True, slots=True)
class RateLimitHeaders:
    """HubSpot's ``X-HubSpot-RateLimit-*`` headers; each is None when absent or unreadable."""

    max: int | None
    remaining: int | None
    interval_ms: int | None
    daily: int | None
    daily_remaining: int | None

    @classmethod
    def from_headers(cls, headers: Mapping[str, str]) -> RateLimitHeaders:
        """Read the headers of an answer."""

        def number(name: str) -> int | None:
            value = headers.get(name)
            if value is None:
                return None
            try:
                return int(value)
            except ValueError:
                return None

        return cls(
            max=number("X-HubSpot-RateLimit-Max"),
            remaining=number("X-HubSpot-RateLimit-Remaining"),
            interval_ms=number("X-HubSpot-RateLimit-Interval-Milliseconds"),
            daily=number("X-HubSpot-RateLimit-Daily"),
            daily_remaining=number("X-HubSpot-RateLimit-Daily-Remaining"),
        )
