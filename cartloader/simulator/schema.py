"""Property definitions and validation rules: what the Properties API publishes and what writes are checked by.

One ``Schema`` is the single source of truth: ``GET /properties/carts`` and ``GET /property-validations/0-142``
serialize it, and ``validation.CartRules`` refuses writes with it, so a client that reads the definitions can
predict every refusal that depends on them.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from cartloader import values
from cartloader.errors import ConfigError

PROPERTY_TYPES = {
    "string": "text",
    "number": "number",
    "bool": "booleancheckbox",
    "date": "date",
    "datetime": "date",
    "enumeration": "select",
}
#: fieldTypes whose enumeration values may hold several options joined with ``;``.
MULTI_SELECT_FIELD_TYPES = frozenset({"checkbox"})
MAX_VALUE_CHARS = 65_536
#: ``dataSensitivity`` values (Properties spec); the default list holds only ``non_sensitive`` properties.
SENSITIVITIES = ("non_sensitive", "sensitive", "highly_sensitive")
#: Rule types the simulator enforces (the spec lists more; those are accepted, published and not enforced).
ENFORCED_RULE_TYPES = (
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
)
#: Every ruleType of spec file PublicApiSpecs/CRM/Property Validations/.../propertyValidations.json.
RULE_TYPES = frozenset(
    {
        *ENFORCED_RULE_TYPES,
        "AFTER_DATETIME_DURATION",
        "AFTER_DURATION",
        "BEFORE_DATETIME_DURATION",
        "BEFORE_DURATION",
        "DAYS_OF_WEEK",
        "DOMAIN",
        "EMAIL_ALLOWED_DOMAINS",
        "EMAIL_BLOCKED_DOMAINS",
        "END_DATE",
        "END_DATETIME",
        "FORMAT",
        "PHONE_NUMBER_WITH_EXPLICIT_COUNTRY_CODE",
        "START_DATE",
        "START_DATETIME",
        "URL_ALLOWED_DOMAINS",
        "URL_BLOCKED_DOMAINS",
    }
)
ALPHANUMERIC_MODES = {
    "ALPHANUMERIC": re.compile(r"[A-Za-z0-9]*"),
    "ALPHA_ONLY": re.compile(r"[A-Za-z]*"),
    "NUMERIC_ONLY": re.compile(r"[0-9]*"),
}
_EMAIL = re.compile(r"[^@\s]+@[^@\s.]+(?:\.[^@\s.]+)+")
_URL = re.compile(r"https?://[^\s/?#.]+(?:\.[^\s/?#.]+)+(?::\d+)?(?:[/?#]\S*)?", re.IGNORECASE)
_SPECIAL = re.compile(r"[^A-Za-z0-9\s]")

# Active ISO 4217 codes: hs_currency_code is an enumeration of them (assumption: every code enabled).
_CURRENCIES = """
AED AFN ALL AMD ANG AOA ARS AUD AWG AZN BAM BBD BDT BGN BHD BIF BMD BND BOB BRL BSD BTN BWP BYN BZD CAD CDF CHF
CLP CNY COP CRC CUP CVE CZK DJF DKK DOP DZD EGP ERN ETB EUR FJD FKP GBP GEL GHS GIP GMD GNF GTQ GYD HKD HNL HTG
HUF IDR ILS INR IQD IRR ISK JMD JOD JPY KES KGS KHR KMF KPW KRW KWD KYD KZT LAK LBP LKR LRD LSL LYD MAD MDL MGA
MKD MMK MNT MOP MRU MUR MVR MWK MXN MYR MZN NAD NGN NIO NOK NPR NZD OMR PAB PEN PGK PHP PKR PLN PYG QAR RON RSD
RUB RWF SAR SBD SCR SDG SEK SGD SHP SLE SOS SRD SSP STN SVC SYP SZL THB TJS TMT TND TOP TRY TTD TWD TZS UAH UGX
USD UYU UZS VES VND VUV WST XAF XCD XOF XPF YER ZAR ZMW ZWL
"""
CURRENCY_CODES = tuple(_CURRENCIES.split())


@dataclass(frozen=True, slots=True)
class PropertyDefinition:
    """One property as the Properties API lists it (``type`` and ``fieldType`` as HubSpot names them)."""

    name: str
    type: str = "string"
    field_type: str = ""
    label: str = ""
    options: tuple[str, ...] = ()
    unique: bool = False
    read_only: bool = False
    calculated: bool = False
    hubspot_defined: bool = False
    group: str = "cartinformation"
    sensitivity: str = "non_sensitive"

    def __post_init__(self) -> None:
        if self.sensitivity not in SENSITIVITIES:
            raise ConfigError(f"property {self.name}: sensitivity {self.sensitivity!r}: expected {SENSITIVITIES}")
        if not self.name or not re.fullmatch(r"[A-Za-z0-9_]+", self.name):
            raise ConfigError(f"property name {self.name!r}: expected letters, digits and underscores")
        if self.type not in PROPERTY_TYPES:
            raise ConfigError(f"property {self.name}: unknown type {self.type!r}: expected {', '.join(PROPERTY_TYPES)}")
        if not self.field_type:
            object.__setattr__(self, "field_type", PROPERTY_TYPES[self.type])
        if not self.label:
            object.__setattr__(self, "label", self.name.removeprefix("hs_").replace("_", " ").capitalize())
        object.__setattr__(self, "options", tuple(self.options))
        if self.type == "enumeration" and not self.options:
            raise ConfigError(f"property {self.name}: an enumeration needs options=A|B|...")
        if self.options and self.type != "enumeration":
            raise ConfigError(f"property {self.name}: options are only for enumeration properties")

    @property
    def multi_select(self) -> bool:
        """Whether a value may name several options joined with ``;``."""
        return self.field_type in MULTI_SELECT_FIELD_TYPES

    def to_json(self) -> dict[str, Any]:
        """The definition as ``GET /crm/v3/properties/{objectType}`` lists it (spec Property schema)."""
        return {
            "name": self.name,
            "label": self.label,
            "type": self.type,
            "fieldType": self.field_type,
            "description": "",
            "groupName": self.group,
            "options": [
                {"label": value, "value": value, "displayOrder": order, "hidden": False}
                for order, value in enumerate(self.options)
            ],
            "displayOrder": -1,
            "calculated": self.calculated,
            "externalOptions": False,
            "hasUniqueValue": self.unique,
            "hidden": False,
            "hubspotDefined": self.hubspot_defined,
            "modificationMetadata": {
                "archivable": not self.hubspot_defined,
                "readOnlyDefinition": self.hubspot_defined,
                "readOnlyValue": self.read_only or self.calculated,
            },
            "formField": not self.read_only,
            "dataSensitivity": self.sensitivity,
            "archived": False,
        }


def _native(name: str, kind: str = "string", **extra: Any) -> PropertyDefinition:
    return PropertyDefinition(name, kind, hubspot_defined=True, **extra)


_ADDRESS_FIELDS = ("street", "city", "state", "postal_code", "country", "phone")

#: HubSpot's native cart properties: the documented ones, then those real integrations write, then the read-only
#: system properties every object has. Types of the undocumented ones are assumptions (see docs/simulator.md).
NATIVE_CART_PROPERTIES: tuple[PropertyDefinition, ...] = (
    _native("hs_cart_name"),
    _native("hs_external_cart_id"),
    _native("hs_source_store"),
    _native("hs_external_status"),
    _native("hs_cart_url"),
    _native("hs_total_price", "number"),
    _native("hs_currency_code", "enumeration", options=CURRENCY_CODES),
    _native("hs_cart_discount", "number"),
    _native("hs_tags"),
    _native("hs_tax", "number"),
    _native("hs_shipping_cost", "number"),
    _native("hs_subtotal_price", "number"),
    _native("hs_external_token"),
    _native("hs_discount_codes"),
    _native("hs_landing_site"),
    _native("hs_referring_site"),
    _native("hs_total_weight"),
    _native("hs_external_created_date", "datetime"),
    _native("hs_external_modified_date", "datetime"),
    _native("hs_buyer_accepts_marketing", "bool"),
    *(_native(f"hs_{kind}_address_{field}") for kind in ("shipping", "billing") for field in _ADDRESS_FIELDS),
    _native("hs_object_id", "number", read_only=True),
    _native("hs_createdate", "datetime", read_only=True),
    _native("hs_lastmodifieddate", "datetime", read_only=True),
    _native("hs_object_source", read_only=True),
    _native("hs_object_source_id", read_only=True),
    _native("hs_object_source_label", read_only=True),
)


def parse_property(text: str) -> PropertyDefinition:
    """A custom property from ``NAME[:TYPE[/FIELDTYPE]][:unique][:sensitive|:highly_sensitive][:options=A|B|C]``
    (NAME alone: a string)."""
    name, *parts = text.split(":")
    kind, field_type, unique, sensitivity = "string", "", False, "non_sensitive"
    options: tuple[str, ...] = ()
    for index, part in enumerate(parts):
        if part == "unique":
            unique = True
        elif part in SENSITIVITIES[1:]:
            sensitivity = part
        elif part.startswith("options="):
            options = tuple(value for value in part.removeprefix("options=").split("|") if value)
        elif index == 0:
            kind, _, field_type = part.partition("/")
        else:
            raise ConfigError(f"property {text!r}: expected NAME[:TYPE[/FIELDTYPE]][:unique][:sensitive][:options=A|B]")
    if kind == "enumeration" and not field_type:
        field_type = "select"
    return PropertyDefinition(name, kind, field_type, options=options, unique=unique, sensitivity=sensitivity)


@dataclass(frozen=True, slots=True)
class ValidationRule:
    """One validation rule of one property, as ``GET /property-validations/{objectTypeId}`` lists it."""

    property: str
    rule_type: str
    arguments: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        object.__setattr__(self, "arguments", tuple(self.arguments))
        where = f"rule {self.property}:{self.rule_type}"
        if self.rule_type not in RULE_TYPES:
            raise ConfigError(f"{where}: unknown rule type (expected one of {', '.join(sorted(RULE_TYPES))})")
        if self.rule_type in ("MIN_LENGTH", "MAX_LENGTH", "DECIMAL"):
            if len(self.arguments) != 1 or not self.arguments[0].isdigit():
                raise ConfigError(f"{where}: expected one whole number argument")
        elif self.rule_type in ("MIN_NUMBER", "MAX_NUMBER"):
            if len(self.arguments) != 1 or values.parse_number(self.arguments[0]) is None:
                raise ConfigError(f"{where}: expected one number argument")
        elif self.rule_type == "REGEX":
            if len(self.arguments) != 1:
                raise ConfigError(f"{where}: expected one pattern argument")
            try:
                re.compile(self.arguments[0])
            except re.error as exc:
                raise ConfigError(f"{where}: invalid pattern: {exc}") from None
        elif self.rule_type == "ALPHANUMERIC" and (
            len(self.arguments) != 1 or self.arguments[0] not in ALPHANUMERIC_MODES
        ):
            raise ConfigError(f"{where}: expected one of {', '.join(ALPHANUMERIC_MODES)}")

    def to_json(self) -> dict[str, Any]:
        """The rule as the property-validations API lists it."""
        return {"ruleType": self.rule_type, "ruleArguments": list(self.arguments), "shouldApplyNormalization": False}

    def breach(self, value: str) -> str | None:
        """Why ``value`` (non-empty) breaks this rule, or None when it keeps it (or the rule is not enforced)."""
        kind = self.rule_type
        args = self.arguments
        if kind == "MIN_LENGTH" and utf16_length(value) < int(args[0]):
            return f"{value!r} is shorter than the minimum length of {args[0]} characters"
        if kind == "MAX_LENGTH" and utf16_length(value) > int(args[0]):
            return f"{value[:40]!r} is longer than the maximum length of {args[0]} characters"
        if kind in ("MIN_NUMBER", "MAX_NUMBER", "DECIMAL"):
            number = values.parse_number(value)
            if number is None:
                return f"{value!r} is not a number"
            if kind == "MIN_NUMBER" and number < Decimal(args[0]):
                return f"{value} is less than the minimum of {args[0]}"
            if kind == "MAX_NUMBER" and number > Decimal(args[0]):
                return f"{value} is greater than the maximum of {args[0]}"
            places = -number.normalize().as_tuple().exponent  # type: ignore[operator]
            if kind == "DECIMAL" and places > int(args[0]):
                return f"{value} has more than {args[0]} decimal places"
            return None
        if kind == "REGEX" and re.fullmatch(args[0], value) is None:
            return f"{value!r} does not match the pattern {args[0]}"
        if kind == "ALPHANUMERIC" and ALPHANUMERIC_MODES[args[0]].fullmatch(value) is None:
            return f"{value!r} has characters that {args[0]} does not allow"
        if kind == "WHITESPACE" and value != value.strip():
            return f"{value!r} has leading or trailing whitespace"
        if kind == "SPECIAL_CHARACTERS" and _SPECIAL.search(value):
            return f"{value!r} has special characters"
        if kind == "EMAIL" and _EMAIL.fullmatch(value) is None:
            return f"{value!r} is not a valid email address"
        if kind == "URL" and _URL.fullmatch(value) is None:
            return f"{value!r} is not a valid URL"
        return None


def utf16_length(value: str) -> int:
    """The length Java's ``String.length()`` gives: UTF-16 code units, two for a character beyond U+FFFF
    (assumption: HubSpot's length rules count that way; docs/preflight.md, edge values)."""
    return len(value) + sum(1 for ch in value if ord(ch) > 0xFFFF)


def parse_rule(text: str) -> ValidationRule:
    """A rule from ``PROPERTY:RULE_TYPE[:ARG...]`` (a REGEX keeps everything after its type as one pattern)."""
    name, _, rest = text.partition(":")
    kind, _, args = rest.partition(":")
    if not name or not kind:
        raise ConfigError(f"rule {text!r}: expected PROPERTY:RULE_TYPE[:ARG...]")
    arguments = ((args,) if kind == "REGEX" else tuple(args.split(":"))) if args else ()
    return ValidationRule(name, kind, arguments)


def type_problem(definition: PropertyDefinition, text: str) -> tuple[str, str] | None:
    """HubSpot's (code, message) when non-empty ``text`` is not a value of the definition's type; numbers are
    checked by the caller, which also normalizes them.

    White space around a value (around each part of a multi-select) is ignored: HubSpot announced refusing it on
    non-string properties, then cancelled that change. The caller stores the value in its echo form
    (``simulator.echo``). Dates, datetimes and numbers are read by ``cartloader.values``, as the loader reads them.
    """
    kind = definition.type
    value = text.strip()
    if kind == "bool" and value not in ("true", "false"):
        return "INVALID_BOOLEAN", f"{text} was not a valid boolean: expected true or false"
    if kind == "date" and values.parse_date(value) is None:
        return "INVALID_DATE", f"{text} was not a valid date: expected YYYY-MM-DD or midnight UTC in milliseconds"
    if kind == "datetime" and values.parse_datetime(value) is None:
        return "INVALID_DATETIME", f"{text} was not a valid datetime: expected ISO 8601 or milliseconds"
    if kind == "enumeration":
        given = [part.strip() for part in text.split(";")] if definition.multi_select else [value]
        allowed = definition.options
        unknown = [option for option in given if option not in allowed]
        if unknown:
            shown = ", ".join(allowed[:20]) + (", ..." if len(allowed) > 20 else "")
            return "INVALID_OPTION", f"{unknown[0]} was not one of the allowed options: [{shown}]"
    return None


class Schema:
    """The object type's property definitions, validation rules and required properties."""

    __slots__ = ("definitions", "required", "rules", "unique")

    def __init__(
        self,
        definitions: Iterable[PropertyDefinition],
        rules: Iterable[ValidationRule] = (),
        *,
        unique: Iterable[str] = (),
        required: Iterable[str] = (),
    ) -> None:
        by_name: dict[str, PropertyDefinition] = {}
        for definition in definitions:
            by_name[definition.name] = definition
        for name in unique:
            known = by_name.get(name)
            by_name[name] = (
                PropertyDefinition(name, unique=True) if known is None else dataclasses.replace(known, unique=True)
            )
        self.definitions = by_name
        self.unique = tuple(name for name, definition in by_name.items() if definition.unique)
        grouped: dict[str, list[ValidationRule]] = {}
        for rule in rules:
            if rule.property not in by_name:
                raise ConfigError(f"rule {rule.property}:{rule.rule_type}: no property {rule.property}")
            same = grouped.setdefault(rule.property, [])
            same[:] = [r for r in same if r.rule_type != rule.rule_type]  # a rule type replaces its predecessor
            same.append(rule)
        self.rules = {name: tuple(rules) for name, rules in grouped.items()}
        self.required = tuple(required)
        for name in self.required:
            if name not in by_name:
                raise ConfigError(f"required property {name}: no such property")

    def properties_json(self, sensitivity: str = "non_sensitive") -> dict[str, Any]:
        """``GET /properties/{objectType}?dataSensitivity=...``: the definitions of that sensitivity (spec: the
        query defaults to ``non_sensitive``)."""
        listed = (d for d in self.definitions.values() if d.sensitivity == sensitivity)
        return {"results": [definition.to_json() for definition in listed]}

    def validations_json(self) -> dict[str, Any]:
        """``GET /property-validations/{objectTypeId}``: the properties that have rules, with their rules."""
        return {
            "results": [
                {"propertyName": name, "propertyValidationRules": [rule.to_json() for rule in rules]}
                for name, rules in self.rules.items()
            ]
        }

    def property_validations_json(self, name: str) -> dict[str, Any]:
        """``GET /property-validations/{objectTypeId}/{propertyName}``: that property's rules."""
        return {"results": [rule.to_json() for rule in self.rules.get(name, ())]}
