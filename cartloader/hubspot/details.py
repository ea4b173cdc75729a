"""HubSpot's per-property problems, read out of its error bodies, and its messages made readable.

A refused property comes back in two forms, often both: a JSON array inside the message
(``Property values were not valid: [{"isValid": false, "message": ..., "error": "INVALID_OPTION", "name": ...}]``)
and an ``errors[]`` list of ``{"message", "code", "context": {"propertyName": [...]}}``. Both become
``PropertyProblem`` values (``error.details`` in the outcome log), and the message keeps its words but loses
the escaped JSON.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import replace
from typing import Any

import orjson

from cartloader.models import PropertyProblem, RecordError

_NOT_VALID = "Property values were not valid: "
#: A value longer than this is left out of ``details`` (the message says what is wrong with it).
MAX_DETAIL_VALUE_CHARS = 1000


def _text(value: object) -> str | None:
    return value if isinstance(value, str) and value else None


def _embedded(message: str | None) -> list[Any]:
    """The JSON array a ``Property values were not valid: [...]`` message carries, or ``[]``."""
    if message is None or not message.startswith(_NOT_VALID):
        return []
    try:
        items = orjson.loads(message[len(_NOT_VALID) :])
    except orjson.JSONDecodeError:
        return []
    return items if isinstance(items, list) else []


def _problem(item: object) -> PropertyProblem | None:
    """One problem from an item of either form; ``None`` when it names no property."""
    if not isinstance(item, dict):
        return None
    name = _text(item.get("name"))
    if name is None:
        context = item.get("context")
        names = context.get("propertyName") if isinstance(context, dict) else None
        name = _text(names[0]) if isinstance(names, list) and names else _text(names)
    if name is None:
        return None
    code = _text(item.get("error")) or _text(item.get("code")) or "UNKNOWN"
    message = _text(item.get("message")) or _text(item.get("localizedErrorMessage")) or ""
    value = _text(item.get("propertyValue"))
    if value is None:
        value = _text(item.get("value"))
    return PropertyProblem(name, code, message, value)


def property_problems(message: str | None, items: object) -> tuple[PropertyProblem, ...]:
    """The per-property problems of one error: from the JSON inside ``message`` and from the ``items`` of its
    ``errors`` list; one per property and code, the first seen kept."""
    found: dict[tuple[str, str], PropertyProblem] = {}
    candidates: Iterable[object] = [*_embedded(message), *(items if isinstance(items, list) else ())]
    for item in candidates:
        problem = _problem(item)
        if problem is not None:
            found.setdefault((problem.property, problem.code), problem)
    return tuple(found.values())


def readable_message(message: str, details: tuple[PropertyProblem, ...]) -> str:
    """HubSpot's message without the escaped JSON it may carry: ``Property values were not valid:
    hs_currency_code (INVALID_OPTION): euro was not one of the allowed options: [...]``."""
    if not details or not _embedded(message):
        return message
    return _NOT_VALID + "; ".join(f"{p.property} ({p.code}): {p.message}" for p in details)


def with_values(error: RecordError, properties: Mapping[str, str]) -> RecordError:
    """``error`` with each problem's ``value`` taken from the record's own ``properties`` where HubSpot did not
    give it (values longer than ``MAX_DETAIL_VALUE_CHARS`` are left out)."""
    details = []
    changed = False
    for problem in error.details:
        if problem.value is None:
            value = properties.get(problem.property)
            if value is not None and len(value) <= MAX_DETAIL_VALUE_CHARS:
                problem = replace(problem, value=value)
                changed = True
        details.append(problem)
    return replace(error, details=tuple(details)) if changed else error


def refusal(category: str, message: str, status: int | None, details: tuple[PropertyProblem, ...]) -> RecordError:
    """The ``RecordError`` for a refusal HubSpot explained: its message made readable, its problems kept."""
    return RecordError(category, readable_message(message, details), status, details)
