"""What a whole-batch refusal names, so that the inputs carrying the bad value fail at once instead of being
found by bisection (design rule 3). No network here.

HubSpot fails a whole batch with:

- 400 ``VALIDATION_ERROR`` "Property values were not valid: [{"isValid": false, "message", "error": CODE,
  "name": PROPERTY}, ...]": a property that does not exist or is read-only is refused whatever its value; for
  any other code the refused value is the one the problem's message names;
- 400 "One or more associations are invalid" with ``context.INVALID_OBJECT_IDS``: association targets that do
  not exist;
- 409 ``CONFLICT`` (or ``OBJECT_ALREADY_EXISTS``) "... already exists. Existing ID: 123": a unique value
  already held by another object, the property named in ``propertyName``.

An input is named only when what makes it bad is certain from the answer alone: the same property with the
same value, named whole by the problem's message (``named_value``: "EUR X was not ..." names ``EUR X``, never
``EUR``), or, for a missing or read-only property, that property at all), or an association to a target that
does not exist. Anything else (a required property missing, two inputs of one request sharing a unique value)
is left to bisection.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import orjson

from cartloader.hubspot.protocol import Answer
from cartloader.models import CartInput
from cartloader.values import absent

INVALID_PROPERTIES = "Property values were not valid: "
#: Codes that refuse a property whatever its value.
PROPERTY_CODES = frozenset({"PROPERTY_DOESNT_EXIST", "READ_ONLY_VALUE"})
CONFLICT_CATEGORIES = frozenset({"CONFLICT", "OBJECT_ALREADY_EXISTS"})
_EXISTING_ID = re.compile(r"Existing ID:\s*([0-9]+)", re.IGNORECASE)
_WAS_NOT = " was not "
_AFTER_QUOTE = frozenset({"", " ", "\t", ":", ";", ",", "."})


@dataclass(frozen=True, slots=True)
class BadValue:
    """A property value HubSpot refused: ``value`` None means the property itself, whatever its value."""

    property: str
    code: str
    message: str
    value: str | None = None


def existing_id(message: str | None) -> str | None:
    """The id of the object a conflict names ("... Existing ID: 123"), or None."""
    if not message:
        return None
    found = _EXISTING_ID.search(message)
    return found.group(1) if found else None


def named_value(message: str) -> str | None:
    """The value a problem's ``message`` names whole, as HubSpot's do: quoted at the start ("'abcdef' is longer
    than 5 characters"), or the text up to " was not ..." ("EUR X was not one of the allowed options: [...]",
    "12 500 was not a valid number."). None when the message names none, or could be read more than one way (a
    second closing quote, a second " was not "): then nothing is blamed on a value, the batch is bisected."""
    text = message
    if text[:1] in ('"', "'"):
        quote = text[0]
        ends = [i for i in range(1, len(text)) if text[i] == quote and text[i + 1 : i + 2] in _AFTER_QUOTE]
        return text[1 : ends[0]] if len(ends) == 1 else None
    value, found, rest = text.partition(_WAS_NOT)
    if not found or _WAS_NOT in rest:
        return None
    return value


def blames(message: str, value: str) -> bool:
    """True when ``message`` names ``value`` whole (see ``named_value``) and exactly: the same text, white space
    included (HubSpot may or may not trim what it checks, so ``"EUR "`` named says nothing of ``"EUR"``); a blank
    value never. ``EUR`` is not blamed for "EUR X was not one of the allowed options"."""
    return not absent(value) and named_value(message) == value


def quotes(message: str, value: str) -> bool:
    """True when ``message`` quotes ``value`` whole somewhere (a conflict: 'property="value" already exists')."""
    return bool(value.strip()) and (f'"{value}"' in message or f"'{value}'" in message)


def _problems(message: str) -> list[dict[str, object]]:
    """The problems listed by a "Property values were not valid: [...]" message (none if it is not one)."""
    start = message.find(INVALID_PROPERTIES)
    if start < 0:
        return []
    try:
        listed = orjson.loads(message[start + len(INVALID_PROPERTIES) :])
    except orjson.JSONDecodeError:
        return []
    return [item for item in listed if isinstance(item, dict)] if isinstance(listed, list) else []


def bad_values(answer: Answer) -> list[BadValue]:
    """The refused property values a whole-batch 400 names (an empty list when it names none)."""
    found: list[BadValue] = []
    for message in (answer.message, *(error.message for error in answer.errors)):
        for problem in _problems(message or ""):
            name, code, text = problem.get("name"), problem.get("error"), problem.get("message")
            if not isinstance(name, str) or not isinstance(code, str):
                continue
            found.append(BadValue(name, code, text if isinstance(text, str) else "", None))
    return found


def _refused_value(bad: BadValue, record: CartInput) -> bool:
    value = record.properties.get(bad.property)
    if value is None:
        return False
    if bad.code in PROPERTY_CODES:
        return True
    return blames(bad.message, value)


def _missing_targets(answer: Answer) -> frozenset[str]:
    return frozenset(answer.context_values("INVALID_OBJECT_IDS"))


def _targets(record: CartInput) -> set[str]:
    targets = set()
    for association in record.associations or ():
        to = association.get("to") if isinstance(association, Mapping) else None
        target = to.get("id") if isinstance(to, Mapping) else None
        if target is not None:
            targets.add(str(target))
    return targets


def attribute(answer: Answer, records: Sequence[CartInput]) -> frozenset[int]:
    """The inputs of ``records`` (by index) that ``answer``, a whole-batch 400 or 409, names by what they carry."""
    named: set[int] = set()
    if answer.status == 409:
        message = answer.message or ""
        if existing_id(message) is None:
            return frozenset()  # two inputs of the request sharing a value: one of them is good
        for name in answer.context_values("propertyName"):
            for i, record in enumerate(records):
                value = record.properties.get(name)
                if value is not None and quotes(message, value):
                    named.add(i)
        return frozenset(named)
    if answer.status != 400:
        return frozenset()
    for bad in bad_values(answer):
        named.update(i for i, record in enumerate(records) if _refused_value(bad, record))
    missing = _missing_targets(answer)
    if missing:
        named.update(i for i, record in enumerate(records) if not _targets(record).isdisjoint(missing))
    return frozenset(named)
