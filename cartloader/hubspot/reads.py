"""Batch read of objects that already exist: the body of ``POST {objects}/{objectType}/batch/read`` and what its
answer says about each object (id, stored properties, when it was created). No network here.

HubSpot's batch read takes ``{"inputs": [{"id": ...}], "properties": [...]}``, by object id, or by a unique
property when ``idProperty`` names it; up to 100 inputs; inputs naming no object come back as an
``OBJECT_NOT_FOUND`` error (a 207, or inside the 200 for API 2026-09). A result is a SimplePublicObject: ``id``,
``properties`` (a property without a value is left out), ``createdAt``, ``updatedAt``, ``archived``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import orjson

from cartloader.values import parse_datetime

MAX_READ_INPUTS = 100


def read_url(create_url: str) -> str:
    """The batch-read URL of the object type whose batch-create URL is ``create_url``."""
    return create_url.removesuffix("/batch/create") + "/batch/read"


def read_body(ids: Sequence[str], properties: Sequence[str], id_property: str | None = None) -> bytes:
    """The body reading the objects ``ids`` name (object ids, or values of ``id_property``), with ``properties``."""
    if not 0 < len(ids) <= MAX_READ_INPUTS:
        raise ValueError(f"a batch read takes 1 to {MAX_READ_INPUTS} inputs, not {len(ids)}")
    body: dict[str, Any] = {"inputs": [{"id": value} for value in ids], "properties": sorted(set(properties))}
    if id_property is not None:
        body["idProperty"] = id_property
    return orjson.dumps(body)


@dataclass(frozen=True, slots=True)
class ReadObject:
    """One object a batch read returned: its id, its stored properties, and when it was created (epoch
    milliseconds on HubSpot's clock; None when the answer does not say in a readable form)."""

    id: str
    properties: Mapping[str, Any]
    created_ms: int | None


def _created_ms(item: Mapping[str, Any], properties: Mapping[str, Any]) -> int | None:
    for value in (item.get("createdAt"), properties.get("hs_createdate")):
        if isinstance(value, str):
            found = parse_datetime(value)
            if found is not None:
                return found
    return None


def parse_read(body: bytes | None) -> list[ReadObject]:
    """The objects in a batch read's 2xx ``body`` (results without a usable id are skipped; an unreadable body
    yields none)."""
    try:
        data = orjson.loads(body) if body else None
    except orjson.JSONDecodeError:
        return []
    results = data.get("results") if isinstance(data, dict) else None
    if not isinstance(results, list):
        return []
    found: list[ReadObject] = []
    for item in results:
        if not isinstance(item, dict):
            continue
        object_id = item.get("id")
        if isinstance(object_id, int) and not isinstance(object_id, bool):
            object_id = str(object_id)
        if not isinstance(object_id, str) or not object_id:
            continue
        properties = item.get("properties")
        if not isinstance(properties, dict):
            properties = {}
        found.append(ReadObject(object_id, properties, _created_ms(item, properties)))
    return found
