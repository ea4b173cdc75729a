"""cartloader.hubspot.schema, in process: the Properties API's and the property-validations API's answers read
into a ``PortalSchema``, every field optional, archived properties and malformed rules left out, and an answer that
is not the documented JSON refused naming which. (These are the focused tests that tests/mutation.py runs for
``schema``.)"""

from __future__ import annotations

import re
from typing import Any

import orjson
import pytest

from cartloader.hubspot.schema import SchemaUnreadable, parse_definitions, parse_rules, portal_schema
from cartloader.models import PortalSchema, PropertyDefinition, ValidationRule


def body(*results: Any) -> bytes:
    return orjson.dumps({"results": list(results)})


def test_a_full_definition_is_read_field_by_field() -> None:
    raw = {
        "name": "hs_currency",
        "type": "enumeration",
        "fieldType": "checkbox",
        "options": [{"value": "EUR"}, {"value": "USD", "label": "Dollar"}, {"label": "no value"}, {"value": 5}, "x"],
        "hasUniqueValue": True,
        "modificationMetadata": {"readOnlyValue": True},
        "externalOptions": True,
        "label": "Currency",
        "dataSensitivity": "sensitive",
        "archived": False,
    }
    assert parse_definitions(body(raw)) == {
        "hs_currency": PropertyDefinition(
            "hs_currency",
            "enumeration",
            "checkbox",
            frozenset({"EUR", "USD"}),
            unique=True,
            read_only=True,
            external_options=True,
            label="Currency",
            sensitivity="sensitive",
        )
    }


def test_a_definition_with_only_a_name_takes_the_defaults() -> None:
    assert parse_definitions(body({"name": "a"})) == {"a": PropertyDefinition("a")}
    assert parse_definitions(body({"name": "a"}))["a"] == PropertyDefinition(
        "a",
        "string",
        "",
        frozenset(),
        unique=False,
        read_only=False,
        external_options=False,
        label="",
        sensitivity="non_sensitive",
    )


def test_fields_of_the_wrong_shape_read_as_their_defaults() -> None:
    raw = {
        "name": "a",
        "type": 5,
        "fieldType": None,
        "options": {"value": "EUR"},
        "hasUniqueValue": "true",
        "modificationMetadata": {"readOnlyValue": "yes"},
        "externalOptions": 1,
        "label": ["x"],
        "dataSensitivity": 3,
    }
    assert parse_definitions(body(raw)) == {"a": PropertyDefinition("a")}
    assert parse_definitions(body({"name": "a", "modificationMetadata": True}))["a"].read_only is False


def test_options_that_reference_objects_are_external() -> None:
    found = parse_definitions(body({"name": "owner", "referencedObjectType": "OWNER"}))
    assert found["owner"].external_options is True
    assert parse_definitions(body({"name": "owner", "referencedObjectType": ""}))["owner"].external_options is False


@pytest.mark.parametrize(
    "raw", [{"name": ""}, {"name": 5}, {}, {"name": "a", "archived": True}, "a", ["name", "a"], None]
)
def test_unnamed_or_archived_properties_and_stray_items_are_left_out(raw: Any) -> None:
    assert parse_definitions(body(raw, {"name": "kept"})) == {"kept": PropertyDefinition("kept")}


def test_a_property_archived_only_by_a_truthy_value_is_kept() -> None:
    assert "a" in parse_definitions(body({"name": "a", "archived": "yes"}))


def test_a_later_definition_of_a_name_replaces_an_earlier_one() -> None:
    found = parse_definitions(body({"name": "a", "type": "number"}, {"name": "a", "type": "bool"}))
    assert found == {"a": PropertyDefinition("a", "bool")}


def test_rules_are_read_by_property_in_order() -> None:
    raw = {
        "propertyName": "hs_cart_name",
        "propertyValidationRules": [
            {"ruleType": "MAX_LENGTH", "ruleArguments": ["10"]},
            {"ruleType": "REGEX", "ruleArguments": ["^a", "b"], "shouldApplyNormalization": True},
            {"ruleType": "ALPHANUMERIC", "ruleArguments": [], "shouldApplyNormalization": "true"},
        ],
    }
    assert parse_rules(body(raw)) == {
        "hs_cart_name": (
            ValidationRule("MAX_LENGTH", ("10",), False),
            ValidationRule("REGEX", ("^a", "b"), True),
            ValidationRule("ALPHANUMERIC", (), False),
        )
    }


@pytest.mark.parametrize(
    "rule",
    [
        {"ruleArguments": []},
        {"ruleType": 5, "ruleArguments": []},
        {"ruleType": "MAX_LENGTH"},
        {"ruleType": "MAX_LENGTH", "ruleArguments": "10"},
        {"ruleType": "MAX_LENGTH", "ruleArguments": ["10", 11]},
        "MAX_LENGTH",
        None,
    ],
)
def test_a_rule_not_of_the_documented_shape_is_left_out(rule: Any) -> None:
    kept = {"ruleType": "MIN_LENGTH", "ruleArguments": ["1"]}
    raw = {"propertyName": "a", "propertyValidationRules": [rule, kept]}
    assert parse_rules(body(raw)) == {"a": (ValidationRule("MIN_LENGTH", ("1",)),)}


@pytest.mark.parametrize(
    "raw",
    [
        {"propertyName": "a", "propertyValidationRules": []},
        {"propertyName": "a", "propertyValidationRules": [{"ruleType": 5}]},
        {"propertyName": "a", "propertyValidationRules": {"ruleType": "REGEX", "ruleArguments": []}},
        {"propertyName": "a"},
        {"propertyName": 5, "propertyValidationRules": [{"ruleType": "REGEX", "ruleArguments": []}]},
        {"propertyValidationRules": [{"ruleType": "REGEX", "ruleArguments": []}]},
        "a",
    ],
)
def test_a_property_without_a_readable_rule_has_no_entry(raw: Any) -> None:
    kept = {"propertyName": "b", "propertyValidationRules": [{"ruleType": "REGEX", "ruleArguments": ["x"]}]}
    assert parse_rules(body(raw, kept)) == {"b": (ValidationRule("REGEX", ("x",)),)}


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"{not json", r"^the property definitions are not JSON: .+"),
        (b"[]", r"^the property definitions have no results list$"),
        (b"{}", r"^the property definitions have no results list$"),
        (b'{"results": {}}', r"^the property definitions have no results list$"),
    ],
)
def test_definitions_that_are_not_the_documented_json_are_refused(data: bytes, message: str) -> None:
    with pytest.raises(SchemaUnreadable, match=message):
        parse_definitions(data)
    with pytest.raises(SchemaUnreadable, match=message.replace("property definitions", "validation rules")):
        parse_rules(data)


def test_the_schema_holds_both_answers_or_no_rules() -> None:
    definitions = body({"name": "a"})
    rules = body({"propertyName": "a", "propertyValidationRules": [{"ruleType": "REGEX", "ruleArguments": ["x"]}]})
    assert portal_schema(definitions, rules) == PortalSchema(
        {"a": PropertyDefinition("a")}, {"a": (ValidationRule("REGEX", ("x",)),)}
    )
    assert portal_schema(definitions, None) == PortalSchema({"a": PropertyDefinition("a")}, {})
    with pytest.raises(SchemaUnreadable, match=re.escape("the validation rules have no results list")):
        portal_schema(definitions, b"{}")
