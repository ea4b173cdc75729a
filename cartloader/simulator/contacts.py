"""Objects a cart associates with, found by a property that identifies one: contacts (``email``, kept unique by
HubSpot) and orders (a custom property ``shop_order_id`` marked ``hasUniqueValue``: an assumption standing for any
object type with a unique custom property), readable through batch read by ``idProperty``.

    POST /crm/v3/objects/{contacts|orders}/batch/read      (and /crm/objects/{2026-03|2026-09}/...)
    {"idProperty": "email", "inputs": [{"id": "ana@example.com"}], "properties": ["email"]}

Answers (reference, "Finding objects that already exist"): found objects in ``results`` (in no particular order),
the values that name nothing in one ``errors`` entry of category ``OBJECT_NOT_FOUND`` whose ``context.ids`` lists
them: 207 for v3 and 2026-03, inside the 200 for 2026-09. Emails are matched case-insensitively and stored
lower-cased (assumption). ``idProperty`` naming a property that is not unique is a 400 (as batch upsert by such a
property, reference). Reading needs ``crm.objects.{type}.read``; their property definitions ``crm.schemas.{type}.read``.
Archived objects (``archive``) are read as missing and refused as association targets (``INVALID_OBJECT_IDS``).
"""

from __future__ import annotations

import random
from collections.abc import Container, Iterable, Sequence
from typing import Any

from cartloader.simulator import bodies

#: The target types served, their unique property, and the first id given (ids are 9 digits, as real ones).
UNIQUE_PROPERTY = {"contacts": "email", "orders": "shop_order_id"}
FIRST_ID = {"contacts": 100_000_001, "orders": 200_000_001}
OBJECT_TYPE_IDS = {"contacts": "0-1", "orders": "0-123"}
#: The definitions the Properties API lists for these types (a few native ones and the unique one).
_DEFINITIONS = {
    "contacts": (("email", True), ("firstname", False), ("lastname", False)),
    "orders": (("shop_order_id", True), ("hs_order_name", False), ("hs_currency_code", False)),
}


def read_scope(object_type: str) -> str:
    """``crm.objects.contacts.read``."""
    return f"crm.objects.{object_type}.read"


def schema_scope(object_type: str) -> str:
    """``crm.schemas.contacts.read``."""
    return f"crm.schemas.{object_type}.read"


def _key(id_property: str, value: str) -> str:
    return value.strip().lower() if id_property == "email" else value


class Directory:
    """The contacts and orders of the portal: seeded by count (``customer{N}@example.com``, ``SO-{N}``) or from a
    list of emails."""

    def __init__(self, emails: Iterable[str] = (), orders: int = 0) -> None:
        self.objects: dict[str, dict[str, dict[str, str]]] = {"contacts": {}, "orders": {}}
        self._index: dict[str, dict[str, str]] = {"contacts": {}, "orders": {}}
        self.archived: set[str] = set()
        for email in emails:
            self.add("contacts", email)
        for number in range(1, orders + 1):
            self.add("orders", f"SO-{number}")

    @classmethod
    def seeded(cls, contacts: int | Sequence[str], orders: int = 0) -> Directory:
        """``contacts`` as a count or as the emails themselves."""
        emails = [f"customer{n}@example.com" for n in range(1, contacts + 1)] if isinstance(contacts, int) else contacts
        return cls(emails, orders)

    def add(self, object_type: str, value: str) -> str:
        """Store one object whose unique property holds ``value``; its id (an existing one when it is there)."""
        id_property = UNIQUE_PROPERTY[object_type]
        key = _key(id_property, value)
        index = self._index[object_type]
        if key in index:
            return index[key]
        object_id = str(FIRST_ID[object_type] + len(self.objects[object_type]))
        self.objects[object_type][object_id] = {id_property: key if id_property == "email" else value}
        index[key] = object_id
        return object_id

    def find(self, object_type: str, value: str) -> str | None:
        """The id of the live object ``value`` names."""
        found = self._index[object_type].get(_key(UNIQUE_PROPERTY[object_type], value))
        return found if found is not None and found not in self.archived else None

    def archive(self, object_type: str, value: str) -> str | None:
        """Archive the object ``value`` names (it stays in the recycle bin: read as missing); its id."""
        object_id = self.find(object_type, value)
        if object_id is not None:
            self.archived.add(object_id)
        return object_id

    def holds(self, object_id: str) -> bool:
        """True when ``object_id`` is a live contact or order."""
        return object_id not in self.archived and any(object_id in objects for objects in self.objects.values())

    def batch_read(self, object_type: str, body: Any, *, inline_errors: bool) -> tuple[int, dict[str, Any]]:
        """Answer a batch read by ``idProperty`` (by id when none is given): (status, body)."""
        if not isinstance(body, dict) or not isinstance(body.get("inputs"), list):
            return 400, bodies.bad_request("Invalid input JSON: the body must be an object with an `inputs` array")
        if len(body["inputs"]) > 100:
            return 400, bodies.bad_request("Batch input cannot contain more than 100 inputs")
        id_property = body.get("idProperty")
        if id_property is not None and id_property != UNIQUE_PROPERTY[object_type]:
            message = f"{id_property} is not a unique property of {object_type}; idProperty must be unique"
            return 400, bodies.bad_request(message)
        results: list[dict[str, Any]] = []
        missing: list[str] = []
        for item in body["inputs"]:
            value = str(item.get("id", "")) if isinstance(item, dict) else ""
            object_id = self.find(object_type, value) if id_property else (value if self.holds(value) else None)
            if object_id is None or object_type not in OBJECT_TYPE_IDS:
                missing.append(value)
                continue
            properties = dict(self.objects[object_type][object_id])
            properties["hs_object_id"] = object_id
            results.append({"id": object_id, "properties": properties, "archived": False})
        random.shuffle(results)  # results come back in no particular order (reference)
        answer: dict[str, Any] = {"status": "COMPLETE", "results": results}
        if missing:
            answer["numErrors"] = 1
            answer["errors"] = [
                {
                    "status": "error",
                    "category": "OBJECT_NOT_FOUND",
                    "message": f"Could not get some {object_type} objects, they may be deleted or not exist.",
                    "context": {"ids": missing},
                }
            ]
        return (200 if inline_errors or not missing else 207), answer

    def properties_json(self, object_type: str) -> dict[str, Any]:
        """The Properties API's answer for ``object_type``."""
        return {
            "results": [
                {"name": name, "label": name, "type": "string", "fieldType": "text", "hasUniqueValue": unique}
                for name, unique in _DEFINITIONS[object_type]
            ]
        }


class LiveTargets(Container[int]):
    """Association targets that exist: ids in the configured ranges or held by the directory, never an archived
    one."""

    __slots__ = ("_directory", "_ranges")

    def __init__(self, ranges: Container[int], directory: Directory) -> None:
        self._ranges = ranges
        self._directory = directory

    def __contains__(self, item: object) -> bool:
        if not isinstance(item, int):
            return False
        text = str(item)
        if text in self._directory.archived:
            return False
        return self._directory.holds(text) or item in self._ranges
