"""Batch archive in the simulated HubSpot: ``POST .../objects/{objectType}/batch/archive`` with
``{"inputs": [{"id": ID}, ...]}`` (at most 100), answered 204 with no body. An archived object leaves the store
and its unique values (it is kept aside, as HubSpot's recycle bin keeps it for 90 days); an id that names no
object is passed over (an assumption: the reference documents only the 204)."""

from __future__ import annotations

from typing import Any

from cartloader.simulator.state import ObjectStore, StoredObject
from cartloader.simulator.validation import MalformedRequest

MAX_INPUTS = 100


def archive_ids(body: object) -> list[str]:
    """The ids a batch archive body names; raises ``MalformedRequest`` for anything else."""
    inputs = body.get("inputs") if isinstance(body, dict) else None
    if not isinstance(inputs, list):
        raise MalformedRequest('Invalid input JSON: expected {"inputs": [{"id": ...}]}')
    if len(inputs) > MAX_INPUTS:
        raise MalformedRequest(f"Too many inputs: at most {MAX_INPUTS}")
    ids: list[str] = []
    for item in inputs:
        object_id = item.get("id") if isinstance(item, dict) else None
        if not isinstance(object_id, str | int) or isinstance(object_id, bool):
            raise MalformedRequest("each input needs an id")
        ids.append(str(object_id))
    return ids


def archive(store: ObjectStore, ids: list[str], bin_: dict[str, StoredObject]) -> int:
    """Move the objects named by ``ids`` from ``store`` to ``bin_``; how many were archived."""
    archived = 0
    for object_id in ids:
        obj = store.objects.pop(object_id, None)
        if obj is None:
            continue
        for prop, index in store.by_unique.items():
            value = obj.properties.get(prop)
            if value is not None and index.get(value) == object_id:
                del index[value]
        store.associations.pop(object_id, None)
        bin_[object_id] = obj
        archived += 1
    return archived


def describe(bin_: dict[str, StoredObject]) -> list[dict[str, Any]]:
    """The archived objects as ``GET /_sim/archived`` shows them."""
    return [obj.to_json() for obj in bin_.values()]
