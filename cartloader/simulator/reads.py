"""Batch read: ``POST .../objects/{objectType}/batch/read`` by object id or by a unique property (``idProperty``).

Carts spec (v3, 2026-03, 2026-09): body ``{"inputs": [{"id"}], "properties": [...], "propertiesWithHistory": [...],
"idProperty"?}``, scope ``crm.objects.carts.read``; v3 and 2026-03 answer 200, or 207 when some inputs name no
object; 2026-09 lists only the 200, whose body carries ``errors`` beside ``results``.
"""

from __future__ import annotations

import random
from typing import Any

from cartloader.simulator.batch import iso_now
from cartloader.simulator.state import ObjectStore, StoredObject
from cartloader.simulator.validation import CartRules, MalformedRequest

MAX_READ_INPUTS = 100
#: Properties every result carries besides the requested ones (as the single-object GET).
DEFAULT_READ_PROPERTIES = ("hs_createdate", "hs_lastmodifieddate", "hs_object_id")


def _names(body: dict[str, Any], key: str) -> list[str]:
    names = body.get(key)
    if names is None:
        return []
    if not isinstance(names, list) or not all(isinstance(name, str) for name in names):
        raise MalformedRequest(f"Invalid input JSON: `{key}` must be an array of property names")
    return names


def _ids(body: Any) -> list[str]:
    if not isinstance(body, dict) or not isinstance(body.get("inputs"), list):
        raise MalformedRequest("Invalid input JSON: the body must be an object with an `inputs` array")
    inputs: list[Any] = body["inputs"]
    if len(inputs) > MAX_READ_INPUTS:
        raise MalformedRequest(
            f"Batch input limit exceeded: {len(inputs)} inputs given, at most {MAX_READ_INPUTS} allowed"
        )
    ids = []
    for item in inputs:
        value = item.get("id") if isinstance(item, dict) else None
        if isinstance(value, int) and not isinstance(value, bool):
            value = str(value)
        if not isinstance(value, str) or not value:
            raise MalformedRequest("Invalid input JSON: every input needs an `id`")
        ids.append(value)
    return ids


def _result(obj: StoredObject, names: list[str]) -> dict[str, Any]:
    properties = obj.properties
    shown = {name: properties[name] for name in (*DEFAULT_READ_PROPERTIES, *names) if properties.get(name)}
    return {
        "id": obj.id,
        "properties": shown,
        "createdAt": obj.created_at,
        "updatedAt": obj.updated_at,
        "archived": False,
    }


def read_batch(
    body: Any, store: ObjectStore, rules: CartRules, *, inline_errors: bool, rng: random.Random
) -> tuple[int, dict[str, Any]]:
    """The status and body answering a batch read; raises MalformedRequest for a body HubSpot refuses whole.

    Each object comes back once however many inputs name it, in no particular order (assumption, as for batch
    create). Inputs that name no object are listed in one ``OBJECT_NOT_FOUND`` error (``context.ids``; wording
    an assumption). A property without a value is left out of ``properties`` (reference: HubSpot leaves such
    properties out); by ``idProperty`` that property is always requested (assumption)."""
    started = iso_now()
    ids = _ids(body)
    names = _names(body, "properties")
    _names(body, "propertiesWithHistory")  # accepted, not simulated: no result carries history
    id_property = body.get("idProperty")
    if id_property is not None:
        if not isinstance(id_property, str) or id_property not in rules.schema.unique:
            raise MalformedRequest(
                f"Property {id_property} cannot be used as idProperty: it is not a property with unique values"
            )
        names = [*names, id_property]
    found: dict[str, StoredObject] = {}
    missing: list[str] = []
    for value in ids:
        object_id = value if id_property is None else store.owner(id_property, rules.lookup_form(id_property, value))
        obj = store.objects.get(object_id) if object_id is not None else None
        if obj is None:
            missing.append(value)
        else:
            found[obj.id] = obj
    results = [_result(obj, names) for obj in found.values()]
    rng.shuffle(results)
    answer: dict[str, Any] = {"status": "COMPLETE", "results": results}
    if missing:
        answer["numErrors"] = 1
        answer["errors"] = [
            {
                "status": "error",
                "category": "OBJECT_NOT_FOUND",
                "message": "Could not get some CART objects, they may be deleted or not exist. Check that ids are "
                "valid.",
                "context": {"ids": missing},
                "errors": [],
                "links": {},
            }
        ]
    answer["startedAt"] = started
    answer["completedAt"] = iso_now()
    return (207 if missing and not inline_errors else 200), answer
