"""Batch create and batch upsert: validate every input, then create or update objects as HubSpot does.

Processing is synchronous from the first check to the last write, so on one event loop no two requests
interleave there: the store never holds two objects with one unique value.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from cartloader.simulator import bodies
from cartloader.simulator.config import Conflicts, EchoTraceIds
from cartloader.simulator.state import ObjectStore, StoredObject
from cartloader.simulator.validation import CartRules, InputError, MalformedRequest

MAX_INPUTS = 100
SOURCE_ID = "1234567"
#: The API version whose 2xx bodies carry partial failures instead of a 207 (spec file
#: PublicApiSpecs/CRM/Carts/Rollouts/424/2026-09/carts.json lists no 207).
INLINE_ERRORS_VERSION = "2026-09"


@dataclass(frozen=True, slots=True)
class BatchAnswer:
    """The HTTP status and JSON body for a processed batch, and what it changed."""

    status: int
    body: dict[str, Any]
    created: int = 0
    updated: int = 0
    #: The trace ids of the request's inputs, in order (None where an input has none).
    trace_ids: tuple[str | None, ...] = ()


@dataclass(frozen=True, slots=True)
class BatchRequest:
    """One batch request as the processor needs it: the body, the API version and the injected fault."""

    body: Any
    request_no: int
    requested_at: str
    version: str = "v3"
    fault: str | None = None


def iso_now() -> str:
    """The current time as HubSpot writes timestamps (UTC, milliseconds, ``Z``)."""
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _conflict(prop: str, value: str, owner: str | None) -> InputError:
    if owner is None:
        message = f'Duplicate value for unique property {prop}="{value}" within the batch.'
    else:
        message = (
            f'Could not create object: an object with unique property {prop}="{value}" already exists. '
            f"Existing ID: {owner}"
        )
    details = [{"message": message, "code": "OBJECT_ALREADY_EXISTS", "context": {"propertyName": [prop]}}]
    return InputError("CONFLICT", message, {"propertyName": [prop]}, details, status=409)


def _inputs(body: Any) -> list[dict[str, Any]]:
    if not isinstance(body, dict) or not isinstance(body.get("inputs"), list):
        raise MalformedRequest("Invalid input JSON: the body must be an object with an `inputs` array")
    inputs: list[Any] = body["inputs"]
    if len(inputs) > MAX_INPUTS:
        raise MalformedRequest(f"Batch input limit exceeded: {len(inputs)} inputs given, at most {MAX_INPUTS} allowed")
    if not all(isinstance(item, dict) for item in inputs):
        raise MalformedRequest("Invalid input JSON: every element of `inputs` must be an object")
    return inputs


def _trace_ids(inputs: list[dict[str, Any]]) -> tuple[str | None, ...]:
    return tuple(t if isinstance(t, str) and t else None for t in (item.get("objectWriteTraceId") for item in inputs))


def _unique(trace_ids: tuple[str | None, ...]) -> bool:
    """Whether every input has a trace id and no two are equal (HubSpot's opt-in to partial failures)."""
    strings = [t for t in trace_ids if t is not None]
    return len(strings) == len(trace_ids) and len(set(strings)) == len(strings)


def _stored(props: dict[str, str]) -> dict[str, str]:
    """The properties as stored: an empty string clears a property, so it is not kept (nor echoed)."""
    if "" in props.values():
        return {name: value for name, value in props.items() if value}
    return props


class BatchProcessor:
    """Applies batch create and upsert bodies to an ``ObjectStore``."""

    __slots__ = ("_echo", "_rng", "_system", "_system_at", "conflicts", "rules", "store", "unique", "whole_batch_400")

    def __init__(
        self,
        store: ObjectStore,
        rules: CartRules,
        *,
        echo_trace_ids: EchoTraceIds,
        whole_batch_400: float,
        rng: random.Random,
        conflicts: Conflicts = "whole-batch",
    ) -> None:
        self.store = store
        self.rules = rules
        self.unique = rules.schema.unique
        self.whole_batch_400 = whole_batch_400
        self.conflicts = conflicts
        self._echo = echo_trace_ids
        self._rng = rng
        self._system_at = ""
        self._system: dict[str, str] = {}

    def _echoes(self, fault: str | None, count: int) -> list[bool]:
        """For each of ``count`` results, whether it carries its trace id (``mixed_echo``: some do, some not)."""
        if fault == "mixed_echo":
            flags = [index % 2 == 0 for index in range(count)]
            self._rng.shuffle(flags)
            return flags
        if self._echo == "sometimes":
            return [self._rng.random() < 0.5] * count
        return [self._echo == "always"] * count

    def _check(self, raw: dict[str, Any], *, required: bool) -> tuple[dict[str, str], InputError | None]:
        props, err = self.rules.properties(raw.get("properties"))
        association_error = self.rules.associations(raw.get("associations"))
        if err is None and required:
            err = self.rules.missing_required(props)
        return props, err or association_error

    def _failed(
        self, errors: list[tuple[int, InputError]], trace_ids: tuple[str | None, ...], fault: str | None
    ) -> BatchAnswer | list[dict[str, Any]]:
        """A whole-batch failure, or the ``errors[]`` entries of a partial failure (none when nothing failed)."""
        if not errors:
            return []
        invalid = [(index, e) for index, e in errors if e.status == 400]
        conflicts = [(index, e) for index, e in errors if e.status == 409]
        whole = not _unique(trace_ids) or (self.whole_batch_400 and self._rng.random() < self.whole_batch_400)
        if invalid and fault == "batch_error_traced":
            first = invalid[0][1]
            named = [t for t in (trace_ids[index] for index, _ in invalid) if t is not None]
            details = [detail for _, e in invalid for detail in e.details]
            body = bodies.error(first.message, first.category, errors=details, context={"objectWriteTraceId": named})
            return BatchAnswer(400, body, trace_ids=trace_ids)
        if invalid and whole:
            first = invalid[0][1]
            body = bodies.error(first.message, first.category, errors=first.details, context=first.context)
            return BatchAnswer(400, body, trace_ids=trace_ids)
        if conflicts and (whole or self.conflicts == "whole-batch"):
            first = conflicts[0][1]
            body = bodies.error(first.message, first.category, errors=first.details, context=first.context)
            return BatchAnswer(409, body, trace_ids=trace_ids)
        entries = []
        for index, err in errors:
            context = dict(err.context)
            if fault != "errors_untraced":
                context = {"objectWriteTraceId": [trace_ids[index] or ""], **context}
            entries.append(
                {
                    "status": "error",
                    "category": err.category,
                    "message": err.message,
                    "context": context,
                    "errors": err.details,
                    "links": {},
                }
            )
        return entries

    def _answer(
        self, results: list[dict[str, Any]], errors: list[dict[str, Any]], request: BatchRequest
    ) -> dict[str, Any]:
        self._rng.shuffle(results)
        body: dict[str, Any] = {"status": "COMPLETE", "results": results}
        if errors:
            body["numErrors"] = len(errors)
            body["errors"] = errors
        body["requestedAt"] = request.requested_at
        body["startedAt"] = request.requested_at
        body["completedAt"] = iso_now()
        return body

    def _status(self, ok: int, errors: list[dict[str, Any]], version: str) -> int:
        return 207 if errors and version != INLINE_ERRORS_VERSION else ok

    def _result(self, obj: StoredObject, trace_id: str | None, *, echo: bool) -> dict[str, Any]:
        result: dict[str, Any] = {
            "id": obj.id,
            "properties": obj.properties,
            "createdAt": obj.created_at,
            "updatedAt": obj.updated_at,
            "archived": False,
        }
        if echo and trace_id is not None:
            result["objectWriteTraceId"] = trace_id
        return result

    def _new_object(self, props: dict[str, str], trace_id: str | None, request_no: int, now: str) -> StoredObject:
        object_id = self.store.new_id()
        props = _stored(props)
        props["hs_object_id"] = object_id
        props.update(self._system_properties(now))
        obj = StoredObject(object_id, props, trace_id, request_no, now, now)
        self.store.put(obj)
        return obj

    def _system_properties(self, now: str) -> dict[str, str]:
        """The system properties of objects created at ``now`` (built once per timestamp, not per object)."""
        if self._system_at != now:
            self._system_at = now
            self._system = {
                "hs_createdate": now,
                "hs_lastmodifieddate": now,
                "hs_object_source": "INTEGRATION",
                "hs_object_source_id": SOURCE_ID,
                "hs_object_source_label": "INTEGRATION",
            }
        return self._system

    def create(self, request: BatchRequest) -> BatchAnswer:
        """Answer ``POST .../batch/create``; raises MalformedRequest for a body that is not a batch."""
        inputs = _inputs(request.body)
        trace_ids = _trace_ids(inputs)
        required = request.version == INLINE_ERRORS_VERSION and bool(self.rules.schema.required)
        checked = [self._check(raw, required=required) for raw in inputs]
        taken: dict[tuple[str, str], int] = {}
        errors: list[tuple[int, InputError]] = []
        for index, (props, err) in enumerate(checked):
            if err is None:
                err = self._conflicts(props, taken, index, None)
            if err is not None:
                errors.append((index, err))
        error_entries = self._failed(errors, trace_ids, request.fault)
        if isinstance(error_entries, BatchAnswer):
            return error_entries
        refused = {index for index, _ in errors}
        now = iso_now()
        kept = [index for index in range(len(inputs)) if index not in refused]
        echoes = self._echoes(request.fault, len(kept))
        results = []
        for index, echo in zip(kept, echoes, strict=True):
            obj = self._new_object(checked[index][0], trace_ids[index], request.request_no, now)
            self.store.associate_all(obj.id, inputs[index].get("associations"))
            results.append(self._result(obj, trace_ids[index], echo=echo))
        body = self._answer(results, error_entries, request)
        status = self._status(201, error_entries, request.version)
        return BatchAnswer(status, body, len(results), trace_ids=trace_ids)

    def _conflicts(
        self, props: dict[str, str], taken: dict[tuple[str, str], int], index: int, self_id: str | None
    ) -> InputError | None:
        """A CONFLICT when a unique value belongs to another object or to an earlier input of the batch."""
        for prop in self.unique:
            value = props.get(prop)
            if not value:
                continue
            owner = self.store.owner(prop, value)
            if owner is not None and owner != self_id:
                return _conflict(prop, value, owner)
            if (prop, value) in taken:
                return _conflict(prop, value, None)
        for prop in self.unique:
            value = props.get(prop)
            if value:
                taken[(prop, value)] = index
        return None

    def upsert(self, request: BatchRequest) -> BatchAnswer:
        """Answer ``POST .../batch/upsert``; raises MalformedRequest for a body that is not a valid batch.

        Upsert inputs have no ``associations`` field in any spec version: like HubSpot's lenient parser, the
        simulator ignores them."""
        inputs = _inputs(request.body)
        keys: list[tuple[str, str]] = []
        for raw in inputs:
            key, id_property = raw.get("id"), raw.get("idProperty")
            if not isinstance(key, str) or not key or not isinstance(id_property, str):
                raise MalformedRequest("Invalid input JSON: every upsert input needs a string `id` and `idProperty`")
            if id_property not in self.unique:
                raise MalformedRequest(
                    f"Property {id_property} cannot be used as idProperty: it is not a property with unique values"
                )
            keys.append((id_property, self.rules.lookup_form(id_property, key)))
        if len(set(keys)) != len(keys):
            duplicates = sorted({key for _, key in keys if sum(1 for _, k in keys if k == key) > 1})
            raise MalformedRequest(f"Duplicate IDs found in batch input: {duplicates}")
        trace_ids = _trace_ids(inputs)
        errors: list[tuple[int, InputError]] = []
        plans: list[tuple[dict[str, str], StoredObject | None]] = []
        taken: dict[tuple[str, str], int] = {}
        for index, raw in enumerate(inputs):
            props, err = self.rules.properties(raw.get("properties"))
            id_property, key = keys[index]
            props[id_property] = key
            owner = self.store.owner(id_property, key) if self.store.keep else None
            existing = self.store.objects.get(owner) if owner is not None else None
            if err is None and existing is None and request.version == INLINE_ERRORS_VERSION:
                err = self.rules.missing_required(props)
            if err is None:
                err = self._conflicts(props, taken, index, existing.id if existing else None)
            if err is not None:
                errors.append((index, err))
            plans.append((props, existing))
        error_entries = self._failed(errors, trace_ids, request.fault)
        if isinstance(error_entries, BatchAnswer):
            return error_entries
        refused = {index for index, _ in errors}
        now = iso_now()
        kept = [index for index in range(len(inputs)) if index not in refused]
        echoes = self._echoes(request.fault, len(kept))
        results = []
        created = updated = 0
        for index, echo in zip(kept, echoes, strict=True):
            props, existing = plans[index]
            trace_id = trace_ids[index]
            if existing is None:
                obj = self._new_object(props, trace_id, request.request_no, now)
                created += 1
            else:
                merged = _stored({**existing.properties, **props})
                merged["hs_lastmodifieddate"] = now
                obj = StoredObject(existing.id, merged, trace_id, request.request_no, existing.created_at, now)
                self.store.put(obj, previous=existing)
                updated += 1
            result = self._result(obj, trace_id, echo=echo)
            result["new"] = existing is None
            results.append(result)
        body = self._answer(results, error_entries, request)
        status = self._status(200, error_entries, request.version)
        return BatchAnswer(status, body, created, updated, trace_ids=trace_ids)
