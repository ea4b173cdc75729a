"""The shape of a record's ``associations``, checked locally: each item's ``to`` is ``{"id": ID}`` (a HubSpot id)
or ``{"objectType": TYPE, "idProperty": PROPERTY, "id": VALUE}`` (an object found by a property that identifies
one, resolved before sending), with a ``types`` list, which an item naming its target by a property may leave out
where HubSpot documents one type for the pair (checked by the resolver). The values are sent as given."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

#: The association category of ``--associate`` (HubSpot's own association types).
ASSOCIATION_CATEGORY = "HUBSPOT_DEFINED"


@dataclass(frozen=True, slots=True)
class ColumnAssociation:
    """``--associate``: a CSV column whose cells are association targets, each associated with ``type_id``
    (HUBSPOT_DEFINED). ``object_type`` None: the cells are HubSpot ids (``COLUMN=TYPE_ID``, several in one cell
    separated by ``;``); else each cell is a value of ``id_property`` naming one object of ``object_type``
    (``COLUMN=OBJECTTYPE.PROPERTY[:TYPE_ID]``), resolved to its id before sending."""

    column: str
    type_id: int
    object_type: str | None = None
    id_property: str | None = None

    def describe(self) -> int | str:
        """As the meta file records it: the type id (the id form, as before), or ``contacts.email:586``."""
        if self.object_type is None:
            return self.type_id
        return f"{self.object_type}.{self.id_property}:{self.type_id}"

    @classmethod
    def described(cls, column: str, recorded: object) -> ColumnAssociation:
        """The association column a meta file recorded with :meth:`describe` (``586``, or ``contacts.email:586``);
        ``ValueError`` for anything else."""
        if isinstance(recorded, int) and not isinstance(recorded, bool):
            return cls(column, recorded)
        if isinstance(recorded, str):
            target, _, type_id = recorded.rpartition(":")
            object_type, _, id_property = target.partition(".")
            if object_type and id_property and type_id.isdigit():
                return cls(column, int(type_id), object_type, id_property)
        raise ValueError(f"--associate {column}={recorded!r} is not a recorded association column")

    def describe_option(self) -> str:
        """As the option is written: ``customer_email=contacts.email:586``."""
        return f"{self.column}={self.describe()}"

    def item(self, target: str) -> dict[str, Any]:
        """The association item of one target (an id, or a value of ``id_property``)."""
        to: dict[str, str] = {"id": target}
        if self.object_type is not None and self.id_property is not None:
            to = {"objectType": self.object_type, "idProperty": self.id_property, "id": target}
        return {"to": to, "types": [{"associationCategory": ASSOCIATION_CATEGORY, "associationTypeId": self.type_id}]}


def association_problem(associations: object) -> str | None:
    """Why ``associations`` is not a list of association items, or None."""
    if not isinstance(associations, list):
        return "must be a list"
    for position, item in enumerate(associations, 1):
        if not isinstance(item, dict):
            return f"item {position} must be an object"
        to = item.get("to")
        if not isinstance(to, dict) or type(to.get("id")) not in (str, int):
            return f'item {position} needs "to": {{"id": ...}} with a string or integer id'
        natural = "idProperty" in to or "objectType" in to
        if natural:
            problem = _natural_problem(to)
            if problem is not None:
                return f"item {position}: {problem}"
        types = item.get("types")
        if not isinstance(types, list) and not (natural and types is None):
            return f'item {position} needs a "types" list'
    return None


def _natural_problem(to: dict[str, object]) -> str | None:
    for key in ("objectType", "idProperty"):
        value = to.get(key)
        if not isinstance(value, str) or not value:
            return f'"to" naming its object by a property needs "{key}" (a non-empty string)'
    extra = sorted(set(to) - {"objectType", "idProperty", "id"})
    if extra:
        return f'"to" has unknown keys: {", ".join(extra)}'
    if isinstance(to["id"], str) and not to["id"].strip():
        return f'"to" names {to["objectType"]} by an empty {to["idProperty"]}'
    return None
