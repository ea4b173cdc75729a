"""Associations that name their target by a property instead of its id, and the batch read that resolves them
(no network here).

    {"to": {"objectType": "contacts", "idProperty": "email", "id": "ana@example.com"}}      # in a record
    POST /crm/v3/objects/contacts/batch/read        (or /crm/objects/{VERSION}/contacts/batch/read)
    {"idProperty": "email", "inputs": [{"id": "ana@example.com"}, ...], "properties": ["email"]}
    -> {"results": [{"id": "101", "properties": {"email": "ana@example.com", ...}}],
        "errors": [{"category": "OBJECT_NOT_FOUND", "context": {"ids": ["bob@example.com"]}}]}

Results are mapped to the values asked by the value each result returns, misses by the values the answer's errors
name; never by position. A value in neither is unknown (asked again by the caller).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import orjson

from cartloader.hubspot.associations import CART_ASSOCIATION_TARGETS

#: At most this many values per batch read (HubSpot's batch limit).
LOOKUP_BATCH = 100
#: HubSpot keeps contacts' ``email`` unique (reference: batch read by ``idProperty``), without ``hasUniqueValue``.
ALWAYS_UNIQUE: Mapping[str, frozenset[str]] = {"contacts": frozenset({"email"})}
#: The one HUBSPOT_DEFINED association type HubSpot documents for each (from, to) pair: cart -> contact 586, ...
DEFAULT_TYPES: Mapping[tuple[str, str], int] = {
    ("carts", to): type_id for type_id, to in CART_ASSOCIATION_TARGETS.items()
}
ASSOCIATION_TARGET_MISSING = "ASSOCIATION_TARGET_MISSING"


@dataclass(frozen=True, slots=True)
class Target:
    """What one association names: an object of ``object_type`` whose ``id_property`` holds ``value`` (as given),
    ``key`` being the value as compared and cached (emails trimmed and lower-cased)."""

    object_type: str
    id_property: str
    value: str
    key: str = field(compare=False)

    @property
    def slot(self) -> tuple[str, str, str]:
        """(object type, property, compared value): the cache's key."""
        return (self.object_type, self.id_property, self.key)

    def describe(self) -> str:
        """``contacts with email "ana@example.com"``."""
        return f'{self.object_type} with {self.id_property} "{self.value}"'

    def to_dict(self) -> dict[str, str]:
        """The target as ``skipped_associations`` lists it."""
        return {"objectType": self.object_type, "idProperty": self.id_property, "id": self.value}


def compared(id_property: str, value: str) -> str:
    """The value as compared and cached: an email trimmed and lower-cased (an assumption: HubSpot treats
    emails case-insensitively), anything else exactly."""
    return value.strip().lower() if id_property == "email" else value


def natural_target(item: object) -> Target | None:
    """The target of an association item naming its object by a property, or None for an ``{"id"}`` item."""
    if not isinstance(item, dict):
        return None
    to = item.get("to")
    if not isinstance(to, dict) or "idProperty" not in to:
        return None
    id_property, object_type, value = to["idProperty"], to["objectType"], str(to["id"])
    return Target(object_type, id_property, value, compared(id_property, value))


def has_natural(associations: Iterable[Any]) -> bool:
    """True when one of the items names its target by a property."""
    for item in associations:
        if isinstance(item, dict):
            to = item.get("to")
            if isinstance(to, dict) and "idProperty" in to:
                return True
    return False


def default_types(from_type: str, to_type: str) -> list[dict[str, Any]] | None:
    """The association types of an item that gives none: HubSpot's documented type for the pair, else None."""
    type_id = DEFAULT_TYPES.get((from_type, to_type))
    if type_id is None:
        return None
    return [{"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": type_id}]


def lookup_body(id_property: str, values: Iterable[str]) -> bytes:
    """The body of one batch read by ``id_property``."""
    return orjson.dumps(
        {"idProperty": id_property, "inputs": [{"id": value} for value in values], "properties": [id_property]}
    )


@dataclass(slots=True)
class LookupAnswer:
    """What a batch read answered: compared value -> object id for the values found, and the compared values
    the errors name as not found."""

    found: dict[str, str] = field(default_factory=dict)
    missing: set[str] = field(default_factory=set)


def read_lookup(body: bytes | None, id_property: str) -> LookupAnswer:
    """Parse a 2xx batch-read answer; anything unreadable counts as neither found nor missing."""
    answer = LookupAnswer()
    try:
        data = orjson.loads(body) if body else None
    except orjson.JSONDecodeError:
        return answer
    if not isinstance(data, dict):
        return answer
    results = data.get("results")
    for result in results if isinstance(results, list) else ():
        if not isinstance(result, dict):
            continue
        properties = result.get("properties")
        value = properties.get(id_property) if isinstance(properties, dict) else None
        object_id = result.get("id")
        if isinstance(value, str) and isinstance(object_id, str | int) and not isinstance(object_id, bool):
            answer.found[compared(id_property, value)] = str(object_id)
    errors = data.get("errors")
    for error in errors if isinstance(errors, list) else ():
        if not isinstance(error, dict) or error.get("category") != "OBJECT_NOT_FOUND":
            continue
        context = error.get("context")
        for values in context.values() if isinstance(context, dict) else ():
            for value in values if isinstance(values, list) else ():
                if isinstance(value, str):
                    answer.missing.add(compared(id_property, value))
    answer.missing -= answer.found.keys()
    return answer


def unique_properties(definitions_body: bytes | None) -> frozenset[str] | None:
    """The properties a Properties API answer marks ``hasUniqueValue``, or None when unreadable."""
    try:
        data = orjson.loads(definitions_body) if definitions_body else None
    except orjson.JSONDecodeError:
        return None
    results = data.get("results") if isinstance(data, dict) else None
    if not isinstance(results, list):
        return None
    return frozenset(
        str(item["name"])
        for item in results
        if isinstance(item, dict) and item.get("hasUniqueValue") is True and isinstance(item.get("name"), str)
    )
