"""The v4 batch associations endpoint: attach carts to other objects after they were created or upserted.

Spec files PublicApiSpecs/CRM/Associations/Rollouts/130902/{v4,2026-09}/associations.json:
``POST /crm/v4/associations/{from}/{to}/batch/create`` (201, or 207 with errors) and
``POST /crm/associations/2026-09/{from}/{to}/batch/create`` (200, errors inside the body).
"""

from __future__ import annotations

from collections.abc import Container
from typing import Any

from cartloader.simulator.associations import CART_TYPE_ID, invalid_types, target
from cartloader.simulator.batch import iso_now
from cartloader.simulator.state import ObjectStore
from cartloader.simulator.validation import MalformedRequest


def link_batch(
    body: Any, target_type: str, store: ObjectStore, existing_ids: Container[int], *, inline_errors: bool
) -> tuple[int, dict[str, Any]]:
    """Answer ``POST .../associations/carts/{target}/batch/create``: (status, body).

    Each input whose cart is unknown, whose target id does not exist, or whose types are not valid for the pair
    is an entry of ``errors`` (a 207, or inside the 2xx body with ``inline_errors``); the others are stored.
    Malformed bodies raise ``MalformedRequest``."""
    found = target(target_type)
    assert found is not None
    to_type_id, association_type = found
    if not isinstance(body, dict) or not isinstance(body.get("inputs"), list):
        raise MalformedRequest("Invalid input JSON: the body must be an object with an `inputs` array")
    results: list[dict[str, Any]] = []
    errors: list[dict[str, Any]] = []
    for item in body["inputs"]:
        if not (isinstance(item, dict) and isinstance(item.get("from"), dict) and isinstance(item.get("to"), dict)):
            raise MalformedRequest("Invalid input JSON: each input needs `from`, `to` and `types`")
        from_id, to_id = str(item["from"].get("id", "")), str(item["to"].get("id", ""))
        bad_types = invalid_types(item.get("types"), association_type)
        if (store.keep and from_id not in store.objects) or not from_id.isdigit():
            errors.append(_link_error(f"No carts object with id {from_id}", "fromObjectId", from_id))
        elif not (to_id.isdigit() and int(to_id) in existing_ids):
            errors.append(_link_error("One or more associations are invalid", "toObjectId", to_id))
        elif bad_types:
            message = f"Invalid association type(s) for carts to {target_type}: {', '.join(bad_types)}"
            errors.append(_link_error(message, "associationTypes", *bad_types))
        else:
            for kind in item["types"]:
                store.associate(from_id, to_id, kind["associationCategory"], kind["associationTypeId"])
            results.append(
                {
                    "fromObjectTypeId": CART_TYPE_ID,
                    "fromObjectId": from_id,
                    "toObjectTypeId": to_type_id,
                    "toObjectId": to_id,
                    "labels": [],
                }
            )
    now = iso_now()
    answer: dict[str, Any] = {"status": "COMPLETE", "results": results}
    if errors:
        answer["numErrors"] = len(errors)
        answer["errors"] = errors
    answer.update(startedAt=now, completedAt=iso_now())
    if inline_errors:
        return 200, answer
    return (207 if errors else 201), answer


def _link_error(message: str, key: str, *values: str) -> dict[str, Any]:
    return {
        "status": "error",
        "category": "VALIDATION_ERROR",
        "message": message,
        "context": {key: list(values)},
        "errors": [],
        "links": {},
    }
