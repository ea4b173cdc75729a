"""The HubSpot protocol, in one place: where batches go, request bodies, and answer parsing (no network here).

A change at HubSpot (a new path, a new answer shape) is one edit here; what each answer *means* is
:mod:`cartloader.hubspot.failures`. Every field of every answer is treated as optional.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import orjson

from cartloader.hubspot.details import property_problems
from cartloader.hubspot.targets import target_problems
from cartloader.models import CartInput, PropertyProblem, RateLimitHeaders

#: HubSpot's object type ids, for the paths that take an id (property validations): the documented ones.
OBJECT_TYPE_IDS = {
    "contacts": "0-1",
    "companies": "0-2",
    "deals": "0-3",
    "tickets": "0-5",
    "products": "0-7",
    "line_items": "0-8",
    "quotes": "0-14",
    "orders": "0-123",
    "carts": "0-142",
}


def objects_path(api_version: str) -> str:
    """The objects path of an API version: ``/crm/v3/objects`` for ``v3``, else ``/crm/objects/VERSION``."""
    return "/crm/v3/objects" if api_version == "v3" else f"/crm/objects/{api_version}"


@dataclass(frozen=True, slots=True)
class Endpoint:
    """Where requests go: ``{base_url}{objects path}/{object_type}/batch/create`` (or ``/batch/upsert``), the
    property definitions and validation rules of the object type, and the v4 associations.

    The objects path is ``api_path`` when given, else the one ``api_version`` implies.
    """

    base_url: str
    api_path: str | None = None
    object_type: str = "carts"
    api_version: str = "2026-09"

    @property
    def _origin(self) -> str:
        return self.base_url.rstrip("/")

    @property
    def _objects(self) -> str:
        path = self.api_path or objects_path(self.api_version)
        return f"{self._origin}/{path.strip('/')}/{self.object_type}"

    @property
    def create_url(self) -> str:
        """The batch-create URL."""
        return f"{self._objects}/batch/create"

    @property
    def upsert_url(self) -> str:
        """The batch-upsert URL."""
        return f"{self._objects}/batch/upsert"

    def _versioned(self, api: str) -> str:
        if self.api_version == "v3":
            return f"{self._origin}/crm/v3/{api}"
        return f"{self._origin}/crm/{api}/{self.api_version}"

    @property
    def properties_url(self) -> str:
        """The object type's property definitions: ``/crm/v3/properties/{objectType}`` or the dated path."""
        return f"{self._versioned('properties')}/{self.object_type}"

    @property
    def validations_url(self) -> str:
        """The object type's validation rules: ``/crm/v3/property-validations/{objectTypeId}`` or the dated
        path (the object type id of a known type, else the name as given)."""
        type_id = OBJECT_TYPE_IDS.get(self.object_type, self.object_type)
        return f"{self._versioned('property-validations')}/{type_id}"

    def associations_base(self, to_object_type: str) -> str:
        """The associations API of the pair, following the API version: ``/crm/v4/associations/{from}/{to}`` for
        ``v3``, ``/crm/associations/{VERSION}/{from}/{to}`` for the date versions (spec rollout 130902)."""
        version = "v4/associations" if self.api_version == "v3" else f"associations/{self.api_version}"
        return f"{self._origin}/crm/{version}/{self.object_type}/{to_object_type}"

    def associations_url(self, to_object_type: str) -> str:
        """The batch-associations URL from this object type to ``to_object_type`` (v4, or the dated path)."""
        return f"{self.associations_base(to_object_type)}/batch/create"

    def labels_url(self, to_object_type: str) -> str:
        """The association types (labels) the portal defines for the pair."""
        return f"{self.associations_base(to_object_type)}/labels"

    def read_url(self, object_type: str) -> str:
        """The batch read of ``object_type`` (by id or ``idProperty``) on this version's objects path."""
        path = self.api_path or objects_path(self.api_version)
        return f"{self._origin}/{path.strip('/')}/{object_type}/batch/read"

    def properties_of(self, object_type: str) -> str:
        """The property definitions of ``object_type``."""
        return f"{self._versioned('properties')}/{object_type}"


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
    """The JSON body of a batch upsert keyed by the unique property ``id_property``. Upsert inputs have no
    ``associations`` (HubSpot would drop them silently): they are written afterwards through the v4 API."""
    items: list[dict[str, Any]] = []
    for record in inputs:
        item: dict[str, Any] = {
            "id": record.properties[id_property],
            "idProperty": id_property,
            "properties": record.properties,
            "objectWriteTraceId": record.key,
        }
        items.append(item)
    return orjson.dumps({"inputs": items})


@dataclass(frozen=True, slots=True)
class ApiError:
    """One error HubSpot reported: its category (or code), message, the trace ids it names (if any), and its
    ``context`` (name -> values, e.g. ``propertyName``, ``requiredGranularScopes``, ``INVALID_OBJECT_IDS``)."""

    category: str
    message: str
    trace_ids: tuple[str, ...] = ()
    context: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    details: tuple[PropertyProblem, ...] = ()  # the properties it refused, if it names them


@dataclass(slots=True)
class ResultItem:
    """One created (or upserted) object from a 2xx answer. Made once per record and never changed after parsing;
    not frozen, because a frozen dataclass's constructor costs about three times as much."""

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
    context: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    details: tuple[PropertyProblem, ...] = ()  # the properties a whole-batch refusal names, if any

    def context_values(self, name: str) -> tuple[str, ...]:
        """The values of ``name`` in the top-level context and in every error's context, in order, once each."""
        values = dict.fromkeys(self.context.get(name, ()))
        for error in self.errors:
            values.update(dict.fromkeys(error.context.get(name, ())))
        return tuple(values)


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


def _context(raw: object) -> dict[str, tuple[str, ...]]:
    """An error's ``context`` (name -> list of strings), keeping only the string values."""
    if not isinstance(raw, dict):
        return {}
    context: dict[str, tuple[str, ...]] = {}
    for name, values in raw.items():
        if isinstance(values, str):
            context[name] = (values,)
        elif isinstance(values, list):
            context[name] = tuple(str(v) for v in values if isinstance(v, str | int) and not isinstance(v, bool))
    return context


def _parse_errors(raw: object) -> list[ApiError]:
    if not isinstance(raw, list):
        return []
    errors = []
    for item in raw:
        if not isinstance(item, dict):
            continue
        category = _text(item.get("category")) or _text(item.get("code")) or "UNKNOWN"
        message = _text(item.get("message")) or ""
        raw_context = item.get("context")
        context = _context(raw_context) if raw_context else {}
        details = property_problems(message, item.get("errors")) + target_problems(context, message)
        errors.append(ApiError(category, message, _trace_ids(raw_context), context, details))
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
            object_id = str(object_id) if type(object_id) is int else None  # a JSON true is no id (not "True")
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
    raw_context = data.get("context")
    if raw_context:
        answer.context = _context(raw_context)
    if not 200 <= status < 300:
        answer.details = property_problems(answer.message, data.get("errors")) + target_problems(
            answer.context, answer.message
        )
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
