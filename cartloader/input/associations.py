"""The shape of a record's ``associations``, checked locally: each item's ``to`` is ``{"id": ID}`` (a HubSpot id)
or ``{"objectType": TYPE, "idProperty": PROPERTY, "id": VALUE}`` (an object found by a property that identifies
one, resolved before sending), with a ``types`` list, which an item naming its target by a property may leave out
where HubSpot documents one type for the pair (checked by the resolver). The values are sent as given."""

from __future__ import annotations


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
