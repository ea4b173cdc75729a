"""The preflight check: refuse locally, with HubSpot's own error code, a record that HubSpot's property
definitions or validation rules say it would refuse, so that it is never sent (design rule 9).

Only what HubSpot documents is refused here; anything uncertain is left to HubSpot, because a check stricter
than HubSpot's would silently withhold good records. So:

- a property the object type does not have (``PROPERTY_DOESNT_EXIST``, with a "did you mean" naming the closest
  property names and labels), or whose value is read-only (``READ_ONLY_VALUE``), whatever the value. HubSpot's
  default list leaves sensitive properties out: a property in no list read is refused only when every sensitive
  list was read (``sensitive_read`` and not ``unlisted_allowed``: ``engine.preflight`` reads them on demand);
- a value longer than 65,536 characters (``VALUE_TOO_LONG``), counted so that it is too long however HubSpot
  counts (code points or UTF-16 units, trimmed or not, composed or not);
- values that are not of the property's type, read by ``cartloader.values``: a number that is not digits with at
  most one point and an optional exponent (``INVALID_DECIMAL``; other scripts' digits are left to HubSpot), a bool
  other than true/false in any case (``INVALID_BOOLEAN``), a date that is neither a real ``YYYY-MM-DD`` nor
  milliseconds at midnight UTC (``INVALID_DATE``), a datetime that is neither ISO 8601 nor milliseconds
  (``INVALID_DATETIME``), an option that is not one of the enumeration's values, for a multi-select each
  ``;``-separated part that is no option and no piece of an option holding ``;`` (``INVALID_OPTION``). Surrounding
  white space is left to HubSpot, and so is a value that only looks unusual (a date with a time after it, ISO
  8601's basic form, year 0, years beyond 9999 in milliseconds);
- the validation rules HubSpot documents exactly enough to reproduce: ``MIN_LENGTH``, ``MAX_LENGTH``,
  ``MIN_NUMBER`` and ``MAX_NUMBER`` (on number properties only), ``ALPHANUMERIC`` (``ALPHANUMERIC``,
  ``ALPHA_ONLY``, ``NUMERIC_ONLY``), each refused with its rule type as the code, and only where every reading of
  the rule refuses the value. The other rule types (patterns, e-mail, URL, phone numbers, dates...) and rules
  HubSpot applies after normalizing the value are left to HubSpot.

docs/preflight.md's "Edge values" table lists the edges, each with the reason, and tests/test_preflight_edges.py
checks every row.

A Python ``datetime`` given for a ``date`` property (``CartInput.datetimes`` names such values) is refused
(``INVALID_DATE``): which day it means depends on a zone only the caller knows. Without the schema it is sent in
its datetime form and HubSpot decides.

An empty string clears a property: it passes every value check. Association targets and required properties
(HubSpot publishes no definition that says which are required) are left to HubSpot too.
"""

from __future__ import annotations

import difflib
import unicodedata
from collections.abc import Callable, Iterable

import orjson

from cartloader import values
from cartloader.models import (
    CartInput,
    InvalidInput,
    PortalSchema,
    PropertyDefinition,
    PropertyProblem,
    ValidationRule,
)

MAX_VALUE_CHARS = 65_536
_SHOWN_CHARS = 60
#: A value longer than this is left out of ``details`` (the message says what is wrong with it).
MAX_DETAIL_VALUE_CHARS = 1000
#: Codes that refuse the property whatever its value.
_PROPERTY_CODES = frozenset({"PROPERTY_DOESNT_EXIST", "READ_ONLY_VALUE"})
#: What a trim may remove at either end, however HubSpot trims: Python's white space, Java's ``strip()`` (white
#: space) and Java's ``trim()`` (every character up to U+0020, control characters included).
_TRIMMED = "".join(chr(code) for code in range(0x3001) if code <= 0x20 or chr(code).isspace())

Problem = tuple[str, str]
"""HubSpot's error code and why, e.g. ``("INVALID_DECIMAL", "is not a number")``."""
ValueCheck = Callable[[str], Problem | None]


def shown_value(value: str) -> str:
    """The value as a message shows it: JSON-quoted, cut after 60 characters."""
    if len(value) <= _SHOWN_CHARS:
        return orjson.dumps(value).decode()
    return orjson.dumps(value[:_SHOWN_CHARS]).decode()[:-1] + f'..." ({len(value)} characters)'


def _most_units(value: str) -> int:
    """The longest count HubSpot may make of ``value``: UTF-16 code units (Java's ``String.length()``) of the value
    as sent."""
    return len(value) + sum(1 for ch in value if ord(ch) > 0xFFFF)


def _fewest_chars(value: str) -> int:
    """The shortest count HubSpot may make of ``value``: code points, after trimming (``_TRIMMED``) and after
    Unicode composition (NFC) if that is shorter."""
    text = value.strip(_TRIMMED)
    if text.isascii():
        return len(text)
    return min(len(text), len(unicodedata.normalize("NFC", text)))


def _other_digits(text: str) -> bool:
    """Whether ``text`` has digits of another script than ASCII (Java reads them as digits; cartloader does not)."""
    return any(ch.isdecimal() for ch in text if not ch.isascii())


def _day_shape(text: str) -> str | None:
    """The ``YYYY-MM-DD`` that ``text`` starts with (ASCII digits), or None."""
    day = text[:10]
    if len(day) == 10 and day.isascii() and day[4] == day[7] == "-" and (day[:4] + day[5:7] + day[8:]).isdigit():
        return day
    return None


def _real_day(day: str) -> bool:
    """Whether ``YYYY-MM-DD`` names a day of the proleptic Gregorian calendar, year 0 included (as Java's
    ``LocalDate``: year 0 is leap like 2000, 400 years on)."""
    return values.parse_date(("2000" if day[:4] == "0000" else day[:4]) + day[4:]) is not None


# --- values of a type -------------------------------------------------------------------------------------------


def _number(value: str) -> Problem | None:
    text = value.strip(_TRIMMED)
    if values.parse_number(text) is None and not _other_digits(text):
        return "INVALID_DECIMAL", "is not a number: digits with at most one decimal point and no thousands separator"
    return None


def _bool(value: str) -> Problem | None:
    if values.parse_bool(value.strip(_TRIMMED)) is None:
        return "INVALID_BOOLEAN", "is not a boolean: true or false"
    return None


def _date(value: str) -> Problem | None:
    text = value.strip(_TRIMMED)
    if values.parse_date(text) is not None:
        return None
    ms = values.parse_epoch_ms(text)
    if ms is not None:
        if ms % values.DAY_MS:
            return "INVALID_DATE", "is not midnight UTC in milliseconds: a date property holds whole days"
        return None  # a midnight outside the years 1 to 9999: HubSpot decides
    day = _day_shape(text)
    if day is not None:
        return None if _real_day(day) else ("INVALID_DATE", "is not a real date")
    if text[:4].isascii() and text[:4].isdigit() and text[4:5] == "-":
        return None  # another way of writing a date: HubSpot decides
    return "INVALID_DATE", "is not a date: YYYY-MM-DD, or milliseconds at midnight UTC"


def _datetime(value: str) -> Problem | None:
    text = value.strip(_TRIMMED)
    if values.parse_datetime(text) is not None or values.parse_epoch_ms(text) is not None:
        return None  # milliseconds outside the years 1 to 9999 too: HubSpot decides
    day = _day_shape(text)
    if day is not None:
        return None if _real_day(day) else ("INVALID_DATETIME", "does not start with a real date")
    if text[:4].isascii() and text[:4].isdigit():
        return None  # ISO 8601's other forms (basic 20240301T1000Z, week or ordinal dates): HubSpot decides
    return "INVALID_DATETIME", "is not a datetime: ISO 8601, or milliseconds since the epoch"


def _enumeration(definition: PropertyDefinition) -> ValueCheck | None:
    options = definition.options
    if definition.external_options or not options:
        return None  # options HubSpot fills in itself (owners...), or none listed: nothing to compare with
    multiple = definition.field_type == "checkbox"
    shown = ", ".join(sorted(options)[:10]) + (", ..." if len(options) > 10 else "")
    # A multi-select option holding ";" makes a value readable two ways: each piece of one is left to HubSpot.
    pieces = frozenset(piece.strip() for option in options if ";" in option for piece in option.split(";"))

    def check(value: str) -> Problem | None:
        if value in options:  # also an option whose value holds a ";"
            return None
        parts = value.split(";") if multiple else (value,)
        for part in parts:
            text = part.strip(_TRIMMED)
            if text and part not in options and text not in options and text not in pieces:
                which = f"has {shown_value(part)}, which" if multiple else ""
                return "INVALID_OPTION", f"{which} is not one of the options: {shown}".lstrip()
        return None

    return check


def _type_check(definition: PropertyDefinition) -> ValueCheck | None:
    kind = definition.type
    if kind == "number":
        return _number
    if kind == "bool":
        return _bool
    if kind == "date":
        return _date
    if kind == "datetime":
        return _datetime
    if kind == "enumeration":
        return _enumeration(definition)
    return None


# --- validation rules -------------------------------------------------------------------------------------------


def _whole_number(arguments: tuple[str, ...]) -> int | None:
    if len(arguments) != 1 or not arguments[0].strip().isdigit():
        return None
    return int(arguments[0])


def _length_rule(rule: ValidationRule) -> ValueCheck | None:
    limit = _whole_number(rule.arguments)
    if limit is None:
        return None
    # Refused only when every count refuses (module docstring): the most units for a minimum, the fewest
    # characters for a maximum.
    if rule.rule_type == "MIN_LENGTH":

        def at_least(value: str) -> Problem | None:
            if _most_units(value) < limit:
                return "MIN_LENGTH", f"is shorter than {limit} characters, a validation rule's minimum"
            return None

        return at_least

    def at_most(value: str) -> Problem | None:
        if len(value) > limit and _fewest_chars(value) > limit:
            return "MAX_LENGTH", f"is longer than {limit} characters, a validation rule's maximum"
        return None

    return at_most


def _number_rule(rule: ValidationRule) -> ValueCheck | None:
    if len(rule.arguments) != 1:
        return None
    bound = values.parse_number(rule.arguments[0])
    if bound is None:
        return None
    minimum = rule.rule_type == "MIN_NUMBER"

    def within(value: str) -> Problem | None:
        number = values.parse_number(value.strip(_TRIMMED))
        if number is None:
            return None  # not a number: what the rule makes of it is HubSpot's to say
        if minimum and number < bound:
            return "MIN_NUMBER", f"is less than {rule.arguments[0]}, a validation rule's minimum"
        if not minimum and number > bound:
            return "MAX_NUMBER", f"is greater than {rule.arguments[0]}, a validation rule's maximum"
        return None

    return within


def _characters_rule(rule: ValidationRule) -> ValueCheck | None:
    mode = rule.arguments[0] if len(rule.arguments) == 1 else None
    allowed: Callable[[str], bool]
    if mode == "ALPHANUMERIC":

        def allowed(ch: str) -> bool:
            return ch.isalnum() or ch == "_"  # "_": a word-character reading (\w) allows it

    elif mode == "ALPHA_ONLY":
        allowed = str.isalpha
    elif mode == "NUMERIC_ONLY":

        def allowed(ch: str) -> bool:
            # Digits, and what a number may also hold (sign, point, comma, exponent): "numeric" may mean a number.
            return ch.isdigit() or ch in ".,+-eE"

    else:
        return None
    what = {"ALPHANUMERIC": "letters and digits", "ALPHA_ONLY": "letters", "NUMERIC_ONLY": "digits"}[mode]

    def only(value: str) -> Problem | None:
        # White space is left to HubSpot: whether a rule of letters allows a space is not documented. So is a
        # combining mark (a decomposed "ë" is "e" and U+0308): whether HubSpot composes the text first is not said.
        for ch in value:
            if not ch.isspace() and not allowed(ch) and not unicodedata.category(ch).startswith("M"):
                return "ALPHANUMERIC", f"has {shown_value(ch)}, and a validation rule allows only {what}"
        return None

    return only


_RULES: dict[str, Callable[[ValidationRule], ValueCheck | None]] = {
    "MIN_LENGTH": _length_rule,
    "MAX_LENGTH": _length_rule,
    "MIN_NUMBER": _number_rule,
    "MAX_NUMBER": _number_rule,
    "ALPHANUMERIC": _characters_rule,
}
_NUMBER_RULE_TYPES = frozenset({"MIN_NUMBER", "MAX_NUMBER"})
#: The rule types the preflight reproduces; every other one is left to HubSpot.
REPRODUCED_RULE_TYPES = frozenset(_RULES)


def _rule_checks(rules: Iterable[ValidationRule], definition: PropertyDefinition) -> list[ValueCheck]:
    checks = []
    for rule in rules:
        if rule.rule_type in _NUMBER_RULE_TYPES and definition.type != "number":
            continue  # how a numeric rule reads the text of another type is not documented
        build = _RULES.get(rule.rule_type)
        check = build(rule) if build is not None and not rule.normalized else None
        if check is not None:
            checks.append(check)
    return checks


def suggestion(name: str, schema: PortalSchema) -> str:
    """``; did you mean "hs_cart_name"?`` for a name the schema lacks: the closest property names, and the names
    of the properties whose label is close (a CSV header is often the label HubSpot shows); "" when none is."""
    names = list(schema.definitions)
    found = difflib.get_close_matches(name, names, n=3, cutoff=0.7)
    by_label: dict[str, str] = {}
    for definition in schema.definitions.values():
        if definition.label:
            by_label.setdefault(definition.label.casefold(), definition.name)
    for label in difflib.get_close_matches(name.casefold(), list(by_label), n=3, cutoff=0.7):
        if by_label[label] not in found:
            found.append(by_label[label])
    if not found:
        return ""
    return "; did you mean " + " or ".join(f'"{match}"' for match in found[:3]) + "?"


class Preflight:
    """Checks records against one ``PortalSchema`` (see the module's docstring for what it refuses).

    ``sensitive_read``: the sensitive lists were asked for (their properties are in ``schema``);
    ``unlisted_allowed``: one of them was refused, so a property in no list is left to HubSpot."""

    __slots__ = ("_checks", "_dates", "_object_type", "_read_only", "schema", "sensitive_read", "unlisted_allowed")

    def __init__(
        self,
        schema: PortalSchema,
        object_type: str = "carts",
        *,
        sensitive_read: bool = False,
        unlisted_allowed: bool = False,
    ) -> None:
        self.schema = schema
        self._object_type = object_type
        self.sensitive_read = sensitive_read
        self.unlisted_allowed = unlisted_allowed
        self._checks: dict[str, tuple[ValueCheck, ...]] = {}
        self._read_only: set[str] = set()
        self._dates = frozenset(name for name, definition in schema.definitions.items() if definition.type == "date")
        for name, definition in schema.definitions.items():
            if definition.read_only:
                self._read_only.add(name)
                continue
            type_check = _type_check(definition)
            checks = [type_check] if type_check is not None else []
            checks.extend(_rule_checks(schema.rules.get(name, ()), definition))
            self._checks[name] = tuple(checks)

    def unlisted(self, record: CartInput) -> list[str]:
        """The properties ``record`` names that no list read so far has."""
        definitions = self.schema.definitions
        return [name for name in record.properties if name not in definitions]

    def needs_sensitive(self, record: CartInput) -> bool:
        """True when ``record`` names a property the lists read so far lack and the sensitive lists were not
        read yet: the record's check waits for them (``engine.preflight``)."""
        if self.sensitive_read:
            return False
        definitions = self.schema.definitions
        return any(name not in definitions for name in record.properties)

    def check(self, record: CartInput) -> InvalidInput | None:
        """The ``invalid`` outcome HubSpot's definitions give ``record`` (its category HubSpot's error code, its
        message naming each refused property and value), or None when nothing known refuses it."""
        checks = self._checks
        datetimes = record.datetimes
        problems: list[tuple[str, str, str, str]] | None = None
        for name, value in record.properties.items():
            found = checks.get(name)
            problem: Problem | None = None
            if datetimes and name in datetimes and name in self._dates:
                problem = (
                    "INVALID_DATE",
                    (
                        "is a datetime (a Python datetime with a time), and the property is a date: "
                        "send the day you mean (value.date() in its zone, or a date)"
                    ),
                )
            elif found is None:
                if name in self._read_only:
                    problem = "READ_ONLY_VALUE", "is read-only: HubSpot sets it"
                elif self.unlisted_allowed:
                    continue  # perhaps a sensitive property the token may not list: HubSpot decides
                else:
                    hint = suggestion(name, self.schema)
                    problem = "PROPERTY_DOESNT_EXIST", f"does not exist on {self._object_type}{hint}"
            elif not value:
                continue
            elif len(value) > MAX_VALUE_CHARS and _fewest_chars(value) > MAX_VALUE_CHARS:
                problem = "VALUE_TOO_LONG", f"is longer than {MAX_VALUE_CHARS:,} characters"
            else:
                for value_check in found:
                    problem = value_check(value)
                    if problem is not None:
                        break
            if problem is not None:
                if problems is None:
                    problems = []
                problems.append((problem[0], name, value, problem[1]))
        if problems is None:
            return None
        reasons = "; ".join(
            f'property "{name}" (value {shown_value(value)}) {why}'
            if code in _PROPERTY_CODES
            else f'property "{name}" value {shown_value(value)} {why}'
            for code, name, value, why in problems
        )
        codes = ", ".join(dict.fromkeys(code for code, _, _, _ in problems))
        message = f"line {record.line}: {reasons} ({codes})"
        details = tuple(
            PropertyProblem(name, code, why, value if len(value) <= MAX_DETAIL_VALUE_CHARS else None)
            for code, name, value, why in problems
        )
        return InvalidInput(record.line, message, record.raw, problems[0][0], details)

    def __repr__(self) -> str:
        return f"Preflight(properties={len(self.schema.definitions)}, rules={len(self.schema.rules)})"
