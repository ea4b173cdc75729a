"""Cart input validation and HubSpot's normalization of property values.

An input problem is either per input (an ``InputError``: the input fails, in a 207 alone, otherwise with its
whole batch) or malformed JSON that HubSpot's deserializer rejects before looking at inputs (a
``MalformedRequest``: the whole request fails, whatever the trace ids).
"""

from __future__ import annotations

from collections.abc import Container
from dataclasses import dataclass, field
from typing import Any

import orjson

from cartloader import values
from cartloader.simulator.associations import invalid_types
from cartloader.simulator.echo import EchoForms
from cartloader.simulator.schema import MAX_VALUE_CHARS, Schema, type_problem

MAX_NUMBER_CHARS = 100


class MalformedRequest(Exception):
    """The body cannot be read as a batch at all: 400 for the whole request."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


@dataclass(frozen=True, slots=True)
class InputError:
    """Why one input fails: HubSpot's category, message, context and error details.

    ``status`` is what the whole request answers when this error fails it (400, or 409 for a conflict).
    """

    category: str
    message: str
    context: dict[str, list[str]] = field(default_factory=dict)
    details: list[dict[str, Any]] = field(default_factory=list)
    status: int = 400


def normalize_number(text: str) -> str | None:
    """HubSpot's canonical form of a number string (``cartloader.values.canonical_number``: ``" 10.50 "`` ->
    ``10.5``, ``1e3`` -> ``1000``, ``-0`` -> ``0``; digits never rounded), or None when it is not a number the
    simulator accepts: not HubSpot's number form, or longer than 100 characters written out (assumption)."""
    number = values.canonical_number(text)
    if number is None or len(number) > MAX_NUMBER_CHARS or "E" in number:
        return None
    return number


def coerce_value(name: str, value: Any) -> str | None:
    """A property value as HubSpot's JSON reader takes it: strings as they are, numbers and booleans as text,
    null as "not given"; an object or array is malformed JSON for a string field."""
    if isinstance(value, str):
        return value
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    kind = "Object" if isinstance(value, dict) else "Array"
    token = "START_OBJECT" if isinstance(value, dict) else "START_ARRAY"
    raise MalformedRequest(
        f"Invalid input JSON on line 1: Cannot deserialize value of type `java.lang.String` from {kind} value "
        f'(token `JsonToken.{token}`) through reference chain: properties["{name}"]'
    )


def _problem(name: str, code: str, message: str) -> dict[str, Any]:
    return {"isValid": False, "message": message, "error": code, "name": name, "localizedErrorMessage": message}


def property_error(problems: list[dict[str, Any]]) -> InputError:
    """The ``VALIDATION_ERROR`` HubSpot gives for invalid property values."""
    names = [p["name"] for p in problems]
    return InputError(
        category="VALIDATION_ERROR",
        message="Property values were not valid: " + orjson.dumps(problems).decode(),
        context={"propertyName": names},
        details=[
            {"message": p["message"], "code": p["error"], "context": {"propertyName": [p["name"]]}} for p in problems
        ],
    )


class CartRules:
    """Validates cart inputs against one ``Schema`` (the definitions the Properties API publishes) and turns each
    valid value into the form it is stored and echoed in (``echo``)."""

    __slots__ = ("echo", "existing_ids", "schema")

    def __init__(self, schema: Schema, existing_ids: Container[int], *, echo: EchoForms | None = None) -> None:
        self.schema = schema
        self.existing_ids = existing_ids
        self.echo = echo or EchoForms()

    def lookup_form(self, name: str, text: str) -> str:
        """A value of property ``name`` as it would be stored, to look it up (upsert and read ``idProperty``);
        the text as given where the property is unknown or the value not of its type."""
        definition = self.schema.definitions.get(name)
        if definition is None or not text or (self.echo.trim and text.isspace()):
            return text
        number = normalize_number(text) if definition.type == "number" else None
        if (definition.type == "number" and number is None) or type_problem(definition, text) is not None:
            return text
        return self.echo.stored(definition, text, number)

    def properties(self, raw: Any) -> tuple[dict[str, str], InputError | None]:
        """The properties of one input in their stored forms, or the error that refuses it. An empty string (with
        ``echo.trim``, also a value of only white space) is kept as ``""``: it clears the property (the caller stores
        nothing for it)."""
        if raw is None:
            return {}, None
        if not isinstance(raw, dict):
            raise MalformedRequest("Invalid input JSON on line 1: `properties` must be an object")
        clean: dict[str, str] = {}
        problems: list[dict[str, Any]] = []
        definitions = self.schema.definitions
        rules = self.schema.rules
        echo = self.echo
        trim = echo.trim
        for name, value in raw.items():
            text = value if value.__class__ is str else coerce_value(name, value)
            if text is None:
                continue
            definition = definitions.get(name)
            if definition is None:
                problems.append(_problem(name, "PROPERTY_DOESNT_EXIST", f'Property "{name}" does not exist'))
                continue
            if definition.read_only or definition.calculated:
                problems.append(_problem(name, "READ_ONLY_VALUE", f'Property "{name}" is read-only'))
                continue
            if not text or (trim and text.isspace()):
                clean[name] = ""
                continue
            if len(text) > MAX_VALUE_CHARS:
                message = f"The value of {name} is {len(text)} characters long; at most {MAX_VALUE_CHARS} are allowed"
                problems.append(_problem(name, "VALUE_TOO_LONG", message))
                continue
            number = None
            if definition.type == "number":
                number = normalize_number(text)
                if number is None:
                    problems.append(_problem(name, "INVALID_DECIMAL", f"{text} was not a valid number."))
                    continue
            else:
                wrong = type_problem(definition, text)
                if wrong is not None:
                    problems.append(_problem(name, *wrong))
                    continue
            broken = False
            for rule in rules.get(name, ()):
                why = rule.breach(text)
                if why is not None:
                    problems.append(_problem(name, rule.rule_type, why))
                    broken = True
                    break
            if not broken:
                clean[name] = echo.stored(definition, text, number)
        return clean, property_error(problems) if problems else None

    def missing_required(self, props: dict[str, str]) -> InputError | None:
        """The error for a create that lacks a property the account requires (``--required``), if any."""
        missing = [name for name in self.schema.required if not props.get(name)]
        if not missing:
            return None
        return property_error(
            [_problem(name, "REQUIRED_PROPERTY_MISSING", f'Property "{name}" is required') for name in missing]
        )

    def associations(self, raw: Any) -> InputError | None:
        """The error that refuses an input's associations, or None when they are all valid."""
        if raw is None:
            return None
        if not isinstance(raw, list):
            raise MalformedRequest("Invalid input JSON on line 1: `associations` must be an array")
        invalid_ids: list[str] = []
        bad_types: list[str] = []
        for item in raw:
            if not isinstance(item, dict) or not isinstance(item.get("to"), dict):
                raise MalformedRequest("Invalid input JSON on line 1: each association needs `to` and `types`")
            target = str(item["to"].get("id", ""))
            if not (target.isdigit() and int(target) in self.existing_ids):
                invalid_ids.append(target)
            bad_types.extend(invalid_types(item.get("types"), None))
        if bad_types:
            return InputError(
                category="VALIDATION_ERROR",
                message=f"Invalid association type(s) for carts: {', '.join(bad_types)}",
                context={"INVALID_ASSOCIATION_TYPES": bad_types},
                details=[{"message": "invalid association type", "code": "INVALID_ASSOCIATION_TYPE"}],
            )
        if invalid_ids:
            return InputError(
                category="VALIDATION_ERROR",
                message="One or more associations are invalid",
                context={"INVALID_OBJECT_IDS": invalid_ids},
                details=[{"message": "One or more associations are invalid", "code": "INVALID_OBJECT_IDS"}],
            )
        return None
