"""The association targets a refusal names: HubSpot's ``context.INVALID_OBJECT_IDS`` (ids that name no object, or
an object that is gone) and ``context.INVALID_ASSOCIATION_TYPES``, as problems of the record's ``associations``, so
that ``error.details`` says which target and type HubSpot refused (its message alone, "One or more associations
are invalid", does not)."""

from __future__ import annotations

from collections.abc import Mapping

from cartloader.models import PropertyProblem

#: Context keys naming association targets or types, and the problem code each becomes.
TARGET_KEYS = ("INVALID_OBJECT_IDS", "INVALID_ASSOCIATION_TYPES", "toObjectId", "associationTypes")
ASSOCIATIONS = "associations"


def target_problems(context: Mapping[str, tuple[str, ...]], message: str | None) -> tuple[PropertyProblem, ...]:
    """One problem per id or type the context names (``property`` is ``associations``)."""
    problems = []
    for key in TARGET_KEYS:
        code = {"toObjectId": "INVALID_OBJECT_IDS", "associationTypes": "INVALID_ASSOCIATION_TYPES"}.get(key, key)
        for value in context.get(key, ()):
            problems.append(PropertyProblem(ASSOCIATIONS, code, message or code, value))
    return tuple(problems)


def invalid_ids(details: tuple[PropertyProblem, ...]) -> list[str]:
    """The target ids a refusal's problems name as invalid."""
    return [p.value for p in details if p.code == "INVALID_OBJECT_IDS" and p.value is not None]
