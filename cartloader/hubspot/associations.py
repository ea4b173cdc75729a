"""Associations written through HubSpot's v4 batch associations API, for upserted records: batch upsert inputs
have no ``associations`` field in any version, and HubSpot drops the ones sent there without a word.

    POST /crm/v4/associations/{fromObjectType}/{toObjectType}/batch/create
    {"inputs": [{"from": {"id": "512"}, "to": {"id": "123"}, "types": [{"associationCategory": "HUBSPOT_DEFINED",
                                                                          "associationTypeId": 586}]}]}
    -> 201 {"results": [{"fromObjectId": "512", "toObjectId": "123", ...}]}, or 207 / 200 with "errors" beside

The path needs the target's object type, which an association item does not carry: it is read from the
HUBSPOT_DEFINED association type id (cart -> contact 586, ...). No network here.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import orjson

#: HUBSPOT_DEFINED association type ids from carts and the object type each leads to (HubSpot's documented list).
CART_ASSOCIATION_TARGETS: Mapping[int, str] = {
    586: "contacts",
    588: "discounts",
    590: "line_items",
    592: "orders",
    732: "quotes",
    728: "tasks",
    594: "tickets",
}
TARGETS_BY_OBJECT_TYPE: Mapping[str, Mapping[int, str]] = {"carts": CART_ASSOCIATION_TARGETS}


@dataclass(frozen=True, slots=True)
class Link:
    """One association item of a record, as the v4 API takes it: the target's object type and id, and the types."""

    to_type: str
    to_id: str
    types: tuple[Mapping[str, Any], ...]

    def describe(self) -> str:
        """``contacts 123 (HUBSPOT_DEFINED/586)``."""
        kinds = ", ".join(f"{t.get('associationCategory')}/{t.get('associationTypeId')}" for t in self.types)
        return f"{self.to_type} {self.to_id} ({kinds})"


def _target_type(kind: object, targets: Mapping[int, str]) -> str | None:
    if not isinstance(kind, Mapping) or kind.get("associationCategory") != "HUBSPOT_DEFINED":
        return None
    type_id = kind.get("associationTypeId")
    return targets.get(type_id) if isinstance(type_id, int) and not isinstance(type_id, bool) else None


def links(associations: Iterable[Any], object_type: str) -> list[Link] | str:
    """The v4 links of a record's association items, or why one cannot be written that way (its target's object
    type cannot be known: a USER_DEFINED or INTEGRATOR_DEFINED label, an unknown type id, types leading to
    different object types)."""
    targets = TARGETS_BY_OBJECT_TYPE.get(object_type, {})
    found: list[Link] = []
    for position, item in enumerate(associations, 1):
        types = tuple(item.get("types") or ())
        to_types = {_target_type(kind, targets) for kind in types}
        if not types or None in to_types or len(to_types) != 1:
            shown = ", ".join(
                f"{t.get('associationCategory')}/{t.get('associationTypeId')}" if isinstance(t, Mapping) else str(t)
                for t in types
            )
            return (
                f"association {position} ({shown or 'no types'}) does not tell which object type it leads to: in "
                "upsert mode associations are written through HubSpot's associations API, which needs it (only "
                f"HUBSPOT_DEFINED types from {object_type} do); load without --upsert-by to send them with the record"
            )
        (to_type,) = to_types
        assert to_type is not None
        found.append(Link(to_type, str(item["to"]["id"]), types))
    return found


def link_body(pairs: Sequence[tuple[str, Link]]) -> bytes:
    """The body of one v4 batch create: each (from id, link) as an input."""
    return orjson.dumps(
        {
            "inputs": [
                {"from": {"id": from_id}, "to": {"id": link.to_id}, "types": link.types} for from_id, link in pairs
            ]
        }
    )


def written_pairs(body: bytes | None) -> set[tuple[str, str]]:
    """The (from id, to id) pairs a 2xx answer of the v4 batch create lists as written."""
    try:
        data = orjson.loads(body) if body else None
    except orjson.JSONDecodeError:
        return set()
    results = data.get("results") if isinstance(data, dict) else None
    pairs = set()
    for result in results if isinstance(results, list) else ():
        if isinstance(result, dict):
            from_id, to_id = _object_id(result.get("fromObjectId")), _object_id(result.get("toObjectId"))
            if from_id is not None and to_id is not None:
                pairs.add((from_id, to_id))
    return pairs


def _object_id(value: object) -> str | None:
    """An object id as HubSpot writes it, a string or an integer (a JSON ``true`` is not the id ``"True"``)."""
    if type(value) is str:
        return value
    if type(value) is int:
        return str(value)
    return None


#: An association type as the portal defines it: (category, type id), e.g. ``("HUBSPOT_DEFINED", 586)``.
Kind = tuple[str, int]


def read_labels(body: bytes | None) -> dict[Kind, str | None] | None:
    """The association types a labels answer lists (``{"results": [{"category", "typeId", "label"}]}``), each
    with its label; None when the answer cannot be read."""
    try:
        data = orjson.loads(body) if body else None
    except orjson.JSONDecodeError:
        return None
    results = data.get("results") if isinstance(data, dict) else None
    if not isinstance(results, list):
        return None
    found: dict[Kind, str | None] = {}
    for result in results:
        if not isinstance(result, dict):
            continue
        category, type_id, label = result.get("category"), result.get("typeId"), result.get("label")
        if isinstance(category, str) and type(type_id) is int:
            found[(category, type_id)] = label if isinstance(label, str) else None
    return found


def item_kinds(item: Mapping[str, Any]) -> list[Kind] | None:
    """The (category, type id) of each of an item's types; None when one is not of that shape (HubSpot decides)."""
    kinds: list[Kind] = []
    for kind in item.get("types") or ():
        if not isinstance(kind, Mapping):
            return None
        category, type_id = kind.get("associationCategory"), kind.get("associationTypeId")
        if not isinstance(category, str) or type(type_id) is not int:
            return None
        kinds.append((category, type_id))
    return kinds
