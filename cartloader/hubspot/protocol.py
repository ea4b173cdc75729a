"""The HubSpot protocol, in one place: where batches go, request bodies, and answer parsing (no network here).

A change at HubSpot (a new path, a new answer shape) is one edit here; what each answer *means* is
:mod:`cartloader.hubspot.failures`. Every field of every answer is treated as optional.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import orjson

from cartloader._frozen import fast_init
from cartloader.models import CartInput, RateLimitHeaders


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


@fast_init
@dataclass(frozen=True, slots=True)
class ResultItem:
    """One created (or upserted) object from a 2xx answer."""

    id: str | None
    properties: Mapping[str, Any]
    trace_id: str | None
    new: bool | None  # upsert only: False when the unique value already existed


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
    batch_status: str | None = None  # a 2xx's ``status``: COMPLETE, or PENDING/PROCESSING/CANCELED


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
    # One ResultItem per record, so the common JSON types (a string id, a properties object) are tested by
    # exact type first.
    results: list[ResultItem] = []
    append = results.append
    new_result = ResultItem
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
    named = _trace_ids(data.get("context"))
    if named:  # a whole-batch refusal naming the inputs at its top level
        answer.errors.append(ApiError(answer.category or "UNKNOWN", answer.message or "", named))
    if 200 <= status < 300:
        answer.results = _parse_results(data.get("results"))
        answer.batch_status = _text(data.get("status"))
    return answer


def _number(headers: Mapping[str, str], name: str) -> int | None:
    value = headers.get(name)
    if value is None:
        return None
    try:
        return int(value)
    except ValueError:
        return None


def rate_limit_headers(headers: Mapping[str, str]) -> RateLimitHeaders:
    """Read HubSpot's ``X-HubSpot-RateLimit-*`` headers off an answer (each optional)."""
    return RateLimitHeaders(
        max=_number(headers, "X-HubSpot-RateLimit-Max"),
        remaining=_number(headers, "X-HubSpot-RateLimit-Remaining"),
        interval_ms=_number(headers, "X-HubSpot-RateLimit-Interval-Milliseconds"),
        daily=_number(headers, "X-HubSpot-RateLimit-Daily"),
        daily_remaining=_number(headers, "X-HubSpot-RateLimit-Daily-Remaining"),
    )
