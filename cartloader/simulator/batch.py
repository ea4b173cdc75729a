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
from cartloader.simulator.config import EchoTraceIds
from cartloader.simulator.state import ObjectStore, StoredObject
from cartloader.simulator.validation import CartRules, InputError, MalformedRequest

MAX_INPUTS = 100
SOURCE_ID = "1234567"


@dataclass(frozen=True, slots=True)
class BatchAnswer:
    """The HTTP status and JSON body for a processed batch, and what it changed."""

    status: int
    body: dict[str, Any]
    created: int = 0
    updated: int = 0


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


def _unique_trace_ids(inputs: list[dict[str, Any]]) -> list[str] | None:
    """The inputs' trace ids when every input has one and no two are equal (HubSpot's opt-in to 207)."""
    trace_ids = [item.get("objectWriteTraceId") for item in inputs]
    strings = [t for t in trace_ids if isinstance(t, str) and t]
    if len(strings) != len(inputs) or len(set(strings)) != len(strings):
        return None
    return strings


class BatchProcessor:
    """Applies batch create and upsert bodies to an ``ObjectStore``."""

    __slots__ = ("_echo", "_rng", "_system", "_system_at", "rules", "store", "unique", "whole_batch_400")

    def __init__(
        self,
        store: ObjectStore,
        rules: CartRules,
        *,
        unique: tuple[str, ...],
        echo_trace_ids: EchoTraceIds,
        whole_batch_400: float,
        rng: random.Random,
    ) -> None:
        self.store = store
        self.rules = rules
        self.unique = unique
        self.whole_batch_400 = whole_batch_400
        self._echo = echo_trace_ids
        self._rng = rng
        self._system_at = ""
        self._system: dict[str, str] = {}

    def _echoes(self) -> bool:
        if self._echo == "sometimes":
            return self._rng.random() < 0.5
        return self._echo == "always"

    def _check(self, raw: dict[str, Any]) -> tuple[dict[str, str], InputError | None]:
        props, err = self.rules.properties(raw.get("properties"))
        association_error = self.rules.associations(raw.get("associations"))
        return props, err or association_error

    def _failed(
        self, errors: list[tuple[int, InputError]], trace_ids: list[str] | None
    ) -> BatchAnswer | list[dict[str, Any]]:
        """A whole-batch failure, or the 207 ``errors[]`` entries when the batch may fail partially (none
        when nothing failed)."""
        if not errors:
            return []
        if trace_ids is None or (self.whole_batch_400 and self._rng.random() < self.whole_batch_400):
            validation = [e for _, e in errors if e.status == 400]
            first = validation[0] if validation else errors[0][1]
            body = bodies.error(first.message, first.category, errors=first.details, context=first.context)
            return BatchAnswer(first.status, body)
        return [
            {
                "status": "error",
                "category": err.category,
                "message": err.message,
                "context": {"objectWriteTraceId": [trace_ids[index]], **err.context},
                "errors": err.details,
                "links": {},
            }
            for index, err in errors
        ]

    def _answer(self, results: list[dict[str, Any]], errors: list[dict[str, Any]], requested_at: str) -> dict[str, Any]:
        self._rng.shuffle(results)
        body: dict[str, Any] = {"status": "COMPLETE", "results": results}
        if errors:
            body["numErrors"] = len(errors)
            body["errors"] = errors
        body["requestedAt"] = requested_at
        body["startedAt"] = requested_at
        body["completedAt"] = iso_now()
        return body

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

    def create(self, body: Any, request_no: int, requested_at: str) -> BatchAnswer:
        """Answer ``POST .../batch/create``; raises MalformedRequest for a body that is not a batch."""
        inputs = _inputs(body)
        trace_ids = _unique_trace_ids(inputs)
        checked: list[tuple[dict[str, str], InputError | None]] = [self._check(raw) for raw in inputs]
        taken: dict[tuple[str, str], int] = {}
        errors: list[tuple[int, InputError]] = []
        for index, (props, err) in enumerate(checked):
            if err is None:
                err = self._conflicts(props, taken, index, None)
            if err is not None:
                errors.append((index, err))
        error_entries = self._failed(errors, trace_ids)
        if isinstance(error_entries, BatchAnswer):
            return error_entries
        refused = {index for index, _ in errors}
        now = iso_now()
        echo = self._echoes()
        results = []
        for index, (props, _) in enumerate(checked):
            if index in refused:
                continue
            trace_id = inputs[index].get("objectWriteTraceId")
            trace_id = trace_id if isinstance(trace_id, str) else None
            obj = self._new_object(props, trace_id, request_no, now)
            results.append(self._result(obj, trace_id, echo=echo))
        created = len(results)
        return BatchAnswer(207 if errors else 201, self._answer(results, error_entries, requested_at), created)

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

    def upsert(self, body: Any, request_no: int, requested_at: str) -> BatchAnswer:
        """Answer ``POST .../batch/upsert``; raises MalformedRequest for a body that is not a valid batch."""
        inputs = _inputs(body)
        keys: list[tuple[str, str]] = []
        for raw in inputs:
            key, id_property = raw.get("id"), raw.get("idProperty")
            if not isinstance(key, str) or not key or not isinstance(id_property, str):
                raise MalformedRequest("Invalid input JSON: every upsert input needs a string `id` and `idProperty`")
            if id_property not in self.unique:
                raise MalformedRequest(
                    f"Property {id_property} cannot be used as idProperty: it is not a property with unique values"
                )
            keys.append((id_property, key))
        if len(set(keys)) != len(keys):
            duplicates = sorted({key for _, key in keys if sum(1 for _, k in keys if k == key) > 1})
            raise MalformedRequest(f"Duplicate IDs found in batch input: {duplicates}")
        trace_ids = _unique_trace_ids(inputs)
        errors: list[tuple[int, InputError]] = []
        plans: list[tuple[dict[str, str], StoredObject | None]] = []
        taken: dict[tuple[str, str], int] = {}
        for index, raw in enumerate(inputs):
            props, err = self.rules.properties(raw.get("properties"))
            id_property, key = keys[index]
            props[id_property] = key
            owner = self.store.owner(id_property, key) if self.store.keep else None
            existing = self.store.objects.get(owner) if owner is not None else None
            if err is None:
                err = self._conflicts(props, taken, index, existing.id if existing else None)
            if err is not None:
                errors.append((index, err))
            plans.append((props, existing))
        error_entries = self._failed(errors, trace_ids)
        if isinstance(error_entries, BatchAnswer):
            return error_entries
        refused = {index for index, _ in errors}
        now = iso_now()
        echo = self._echoes()
        results = []
        created = updated = 0
        for index, (props, existing) in enumerate(plans):
            if index in refused:
                continue
            trace_id = inputs[index].get("objectWriteTraceId")
            trace_id = trace_id if isinstance(trace_id, str) else None
            if existing is None:
                obj = self._new_object(props, trace_id, request_no, now)
                created += 1
            else:
                merged = {**existing.properties, **props, "hs_lastmodifieddate": now}
                obj = StoredObject(existing.id, merged, trace_id, request_no, existing.created_at, now)
                self.store.put(obj, previous=existing)
                updated += 1
            result = self._result(obj, trace_id, echo=echo)
            result["new"] = existing is None
            results.append(result)
        status = 207 if errors else 200
        return BatchAnswer(status, self._answer(results, error_entries, requested_at), created, updated)
