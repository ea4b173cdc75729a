"""The object type as the portal describes it: property definitions (the Properties API) and validation rules
(the property-validations API), parsed into a ``PortalSchema``. No network here; every field is optional.

    GET /crm/v3/properties/{objectType}               {"results": [Property, ...]}
    GET /crm/v3/property-validations/{objectTypeId}   {"results": [{"propertyName", "propertyValidationRules":
                                                                     [{"ruleType", "ruleArguments", ...}]}]}
"""

from __future__ import annotations

from typing import Any

import orjson

from cartloader.models import PortalSchema, PropertyDefinition, ValidationRule


class SchemaUnreadable(ValueError):
    """A 2xx answer of the Properties or property-validations API that is not the JSON HubSpot documents."""


def _results(body: bytes, what: str) -> list[Any]:
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise SchemaUnreadable(f"the {what} are not JSON: {exc}") from None
    results = data.get("results") if isinstance(data, dict) else None
    if not isinstance(results, list):
        raise SchemaUnreadable(f"the {what} have no results list")
    return results


def _definition(raw: dict[str, Any]) -> PropertyDefinition | None:
    name = raw.get("name")
    if not isinstance(name, str) or not name or raw.get("archived") is True:
        return None
    kind = raw.get("type")
    field_type = raw.get("fieldType")
    options = raw.get("options")
    values = frozenset(
        option["value"]
        for option in (options if isinstance(options, list) else ())
        if isinstance(option, dict) and isinstance(option.get("value"), str)
    )
    metadata = raw.get("modificationMetadata")
    read_only = isinstance(metadata, dict) and metadata.get("readOnlyValue") is True
    return PropertyDefinition(
        name,
        kind if isinstance(kind, str) else "string",
        field_type if isinstance(field_type, str) else "",
        values,
        unique=raw.get("hasUniqueValue") is True,
        read_only=read_only,
        external_options=raw.get("externalOptions") is True or bool(raw.get("referencedObjectType")),
        label=label if isinstance(label := raw.get("label"), str) else "",
        sensitivity=level if isinstance(level := raw.get("dataSensitivity"), str) else "non_sensitive",
    )


def parse_definitions(body: bytes) -> dict[str, PropertyDefinition]:
    """The property definitions of a Properties API answer, by name (archived ones left out)."""
    definitions: dict[str, PropertyDefinition] = {}
    for raw in _results(body, "property definitions"):
        if isinstance(raw, dict):
            definition = _definition(raw)
            if definition is not None:
                definitions[definition.name] = definition
    return definitions


def _rule(raw: object) -> ValidationRule | None:
    if not isinstance(raw, dict) or not isinstance(raw.get("ruleType"), str):
        return None
    arguments = raw.get("ruleArguments")
    if not isinstance(arguments, list) or not all(isinstance(argument, str) for argument in arguments):
        return None
    return ValidationRule(raw["ruleType"], tuple(arguments), raw.get("shouldApplyNormalization") is True)


def parse_rules(body: bytes) -> dict[str, tuple[ValidationRule, ...]]:
    """The validation rules of a property-validations answer, by property name. A rule whose shape is not the
    documented one is left out (HubSpot still applies it)."""
    rules: dict[str, tuple[ValidationRule, ...]] = {}
    for raw in _results(body, "validation rules"):
        if not isinstance(raw, dict) or not isinstance(raw.get("propertyName"), str):
            continue
        listed = raw.get("propertyValidationRules")
        parsed = [rule for rule in map(_rule, listed if isinstance(listed, list) else ()) if rule is not None]
        if parsed:
            rules[raw["propertyName"]] = tuple(parsed)
    return rules


def portal_schema(definitions: bytes, rules: bytes | None) -> PortalSchema:
    """The schema from the two answers' bodies (``rules`` None: the rules could not be read; none are known)."""
    return PortalSchema(parse_definitions(definitions), parse_rules(rules) if rules is not None else {})
