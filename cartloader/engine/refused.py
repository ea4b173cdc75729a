"""What HubSpot refused earlier in a run, so that a later record carrying the same thing is refused without being
sent: a property HubSpot said does not exist (or is read-only), or a property value it refused for a reason that
depends on the value alone (not a number, not an option, a validation rule...). With or without the preflight, a
file that repeats a bad value costs one refusal, not one per record.

Only what HubSpot's answer makes certain is remembered: a value counts only where HubSpot's problem message names
it whole (:func:`~cartloader.hubspot.refusals.named_value`: "EUR X was not one of the allowed options" names
``EUR X``, never ``EUR``), and only for the property that problem names; codes whose verdict depends on more than
the value (a required property, rules relative to today) are never remembered. Memory is bounded: past
``MAX_REMEMBERED`` values nothing more is learnt.
"""

from __future__ import annotations

from cartloader.hubspot.refusals import PROPERTY_CODES, blames
from cartloader.input.preflight import shown_value
from cartloader.models import CartInput, InvalidInput, PropertyProblem, RecordError

#: Codes whose verdict depends on the property and the value alone.
VALUE_CODES = frozenset(
    {
        "INVALID_OPTION",
        "INVALID_DECIMAL",
        "INVALID_INTEGER",
        "INVALID_LONG",
        "INVALID_BOOLEAN",
        "INVALID_DATE",
        "INVALID_DATETIME",
        "INVALID_EMAIL",
        "VALUE_TOO_LONG",
        "MIN_LENGTH",
        "MAX_LENGTH",
        "MIN_NUMBER",
        "MAX_NUMBER",
        "DECIMAL",
        "REGEX",
        "ALPHANUMERIC",
        "WHITESPACE",
        "SPECIAL_CHARACTERS",
        "EMAIL",
        "URL",
        "DOMAIN",
        "FORMAT",
        "PHONE_NUMBER_WITH_EXPLICIT_COUNTRY_CODE",
        "EMAIL_ALLOWED_DOMAINS",
        "EMAIL_BLOCKED_DOMAINS",
        "URL_ALLOWED_DOMAINS",
        "URL_BLOCKED_DOMAINS",
    }
)
MAX_REMEMBERED = 10_000


class RefusalMemory:
    """The properties and values HubSpot refused in this run (``learn``), and the check of a record against them."""

    __slots__ = ("_properties", "_values")

    def __init__(self) -> None:
        self._properties: dict[str, PropertyProblem] = {}
        self._values: dict[tuple[str, str], PropertyProblem] = {}

    def __len__(self) -> int:
        return len(self._properties) + len(self._values)

    def learn(self, error: RecordError, record: CartInput) -> None:
        """Remember what HubSpot's refusal of ``record`` makes certain."""
        for problem in error.details:
            name = problem.property
            value = record.properties.get(name)
            if value is None or len(self) >= MAX_REMEMBERED:
                continue
            if problem.code in PROPERTY_CODES:
                self._properties.setdefault(name, problem)
            elif problem.code in VALUE_CODES and blames(problem.message, value):
                self._values.setdefault((name, value), problem)

    def check(self, record: CartInput) -> InvalidInput | None:
        """``record`` as ``invalid`` when it carries something HubSpot refused earlier in this run, else None."""
        if not self._properties and not self._values:
            return None
        found: list[tuple[str, PropertyProblem]] = []
        for name, value in record.properties.items():
            problem = self._properties.get(name) or self._values.get((name, value))
            if problem is not None:
                found.append((value, problem))
        if not found:
            return None
        reasons = "; ".join(
            f'property "{p.property}" value {shown_value(value)} was refused by HubSpot earlier in this run '
            f"({p.code}: {p.message})"
            for value, p in found
        )
        details = tuple(PropertyProblem(p.property, p.code, p.message, value) for value, p in found)
        message = f"line {record.line}: {reasons}; not sent"
        return InvalidInput(record.line, message, record.raw, found[0][1].code, details)

    def __repr__(self) -> str:
        return f"RefusalMemory(properties={len(self._properties)}, values={len(self._values)})"
