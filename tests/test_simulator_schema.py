"""The Properties API, property validation rules, and writes checked by the same definitions and rules."""

from __future__ import annotations

from typing import Any

import pytest

from cartloader.errors import ConfigError
from cartloader.simulator import PropertyDefinition, Simulator, ValidationRule
from cartloader.simulator.schema import MAX_VALUE_CHARS, parse_property, parse_rule
from tests.test_simulator_support import cart, running

pytestmark = pytest.mark.anyio

CREATE_2026_09 = "/crm/objects/2026-09/carts/batch/create"


def problems(answer_body: dict[str, Any]) -> list[tuple[str, str]]:
    """(name, error) of each problem in a 207 entry's or a 400's "Property values were not valid" message."""
    import orjson

    message = answer_body["message"]
    assert message.startswith("Property values were not valid: ")
    return [(p["name"], p["error"]) for p in orjson.loads(message.removeprefix("Property values were not valid: "))]


async def refusal(config: dict[str, Any], **props: str) -> list[tuple[str, str]]:
    """The problems a single traced input with ``props`` gets in a 207 (asserting it is one)."""
    async with running(**config) as client:
        answer = await client.create([{"properties": props, "objectWriteTraceId": "t"}])
    assert answer.status == 207, answer.body
    entry = answer.body["errors"][0]
    assert entry["category"] == "VALIDATION_ERROR"
    return problems(entry)


# --- the Properties API --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "path", ["/crm/v3/properties/carts", "/crm/properties/2026-03/carts", "/crm/properties/2026-09/carts"]
)
async def test_properties_api_lists_native_cart_properties_with_types(path: str) -> None:
    async with running() as client:
        answer = await client.request("GET", path)
    assert answer.status == 200
    by_name = {p["name"]: p for p in answer.body["results"]}
    assert by_name["hs_total_price"]["type"] == "number"
    assert by_name["hs_currency_code"]["type"] == "enumeration"
    assert "EUR" in [o["value"] for o in by_name["hs_currency_code"]["options"]]
    assert by_name["hs_external_created_date"]["type"] == "datetime"
    assert by_name["hs_buyer_accepts_marketing"]["type"] == "bool"
    assert by_name["hs_shipping_address_city"]["type"] == "string"
    assert by_name["hs_object_id"]["modificationMetadata"]["readOnlyValue"] is True
    assert by_name["hs_cart_name"]["modificationMetadata"]["readOnlyValue"] is False
    assert not any(p["hasUniqueValue"] for p in by_name.values())
    assert all(p["hubspotDefined"] for p in by_name.values())
    for required in ("name", "label", "type", "fieldType", "groupName", "description", "options"):
        assert all(required in p for p in by_name.values())


async def test_custom_property_options_and_unique_are_published() -> None:
    config = {
        "properties": ("color:enumeration/checkbox:options=red|green", "sku:string:unique"),
        "unique": ("hs_external_cart_id",),
    }
    async with running(**config) as client:
        color = await client.request("GET", "/crm/v3/properties/carts/color")
        sku = await client.request("GET", "/crm/v3/properties/carts/sku")
        external = await client.request("GET", "/crm/v3/properties/carts/hs_external_cart_id")
        missing = await client.request("GET", "/crm/v3/properties/carts/nope")
    assert (color.body["type"], color.body["fieldType"]) == ("enumeration", "checkbox")
    assert [o["value"] for o in color.body["options"]] == ["red", "green"]
    assert (sku.body["hasUniqueValue"], sku.body["hubspotDefined"]) == (True, False)
    assert external.body["hasUniqueValue"] is True
    assert (missing.status, missing.body["category"]) == (404, "OBJECT_NOT_FOUND")


@pytest.mark.parametrize("path", ["/crm/v3/properties/carts", "/crm/v3/property-validations/0-142"])
async def test_schema_reads_need_a_schema_or_read_scope(path: str) -> None:
    tokens = {
        "writer": frozenset({"crm.objects.carts.write"}),
        "schemas": frozenset({"crm.schemas.carts.read"}),
        "reader": frozenset({"crm.objects.carts.read"}),
    }
    async with running(tokens=tokens) as client:
        writer = await client.request("GET", path, token="writer")
        schemas = await client.request("GET", path, token="schemas")
        reader = await client.request("GET", path, token="reader")
    assert (writer.status, writer.body["category"]) == (403, "MISSING_SCOPES")
    assert writer.body["errors"][0]["context"]["requiredGranularScopes"] == ["crm.schemas.carts.read"]
    assert (schemas.status, reader.status) == (200, 200)


async def test_default_token_reads_definitions_and_writes() -> None:
    async with running() as client:
        read = await client.request("GET", "/crm/v3/properties/carts")
        write = await client.create([cart(1)])
    assert (read.status, write.status) == (200, 201)


# --- validation rules --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/crm/v3/property-validations/0-142", "/crm/property-validations/2026-09/0-142"])
async def test_validation_rules_are_listed_per_property(path: str) -> None:
    rules = ("hs_cart_name:MAX_LENGTH:5", "hs_cart_name:MIN_LENGTH:2", "hs_tax:MAX_NUMBER:100")
    async with running(rules=rules) as client:
        answer = await client.request("GET", path)
        one = await client.request("GET", path + "/hs_cart_name")
        none = await client.request("GET", path + "/hs_tags")
    listed = {r["propertyName"]: r["propertyValidationRules"] for r in answer.body["results"]}
    assert listed["hs_cart_name"] == [
        {"ruleType": "MAX_LENGTH", "ruleArguments": ["5"], "shouldApplyNormalization": False},
        {"ruleType": "MIN_LENGTH", "ruleArguments": ["2"], "shouldApplyNormalization": False},
    ]
    assert listed["hs_tax"][0]["ruleArguments"] == ["100"]
    assert [r["ruleType"] for r in one.body["results"]] == ["MAX_LENGTH", "MIN_LENGTH"]
    assert none.body == {"results": []}


@pytest.mark.parametrize(
    ("rule", "value", "breaks"),
    [
        ("hs_cart_name:MIN_LENGTH:3", "ab", True),
        ("hs_cart_name:MIN_LENGTH:3", "abc", False),
        ("hs_cart_name:MAX_LENGTH:3", "abcd", True),
        ("hs_cart_name:MAX_LENGTH:3", "abc", False),
        # UTF-16 code units, as Java's String.length() counts (docs/preflight.md, edge values): an emoji is two.
        ("hs_cart_name:MAX_LENGTH:1", "\U0001f600", True),
        ("hs_cart_name:MIN_LENGTH:2", "\U0001f600", False),
        ("hs_cart_name:MAX_LENGTH:1", "\u00e9", False),
        ("hs_tax:MIN_NUMBER:1", "0.5", True),
        ("hs_tax:MIN_NUMBER:1", "1", False),
        ("hs_tax:MAX_NUMBER:10", "10.01", True),
        ("hs_tax:MAX_NUMBER:10", "10.00", False),
        ("hs_tax:DECIMAL:2", "1.234", True),
        ("hs_tax:DECIMAL:2", "1.230", False),
        ("hs_cart_name:REGEX:[A-Z]+-\\d{2}", "AB-12", False),
        ("hs_cart_name:REGEX:[A-Z]+-\\d{2}", "AB-123", True),
        ("hs_cart_name:ALPHANUMERIC:NUMERIC_ONLY", "123", False),
        ("hs_cart_name:ALPHANUMERIC:NUMERIC_ONLY", "12a", True),
        ("hs_cart_name:ALPHANUMERIC:ALPHA_ONLY", "ab1", True),
        ("hs_cart_name:WHITESPACE:TRIM", " ab", True),
        ("hs_cart_name:WHITESPACE:TRIM", "a b", False),
        ("hs_cart_name:EMAIL", "ana@example.com", False),
        ("hs_cart_name:EMAIL", "ana@example", True),
        ("hs_cart_url:URL", "https://shop.example.com/c/1", False),
        ("hs_cart_url:URL", "shop.example.com", True),
    ],
)
async def test_writes_are_checked_by_the_published_rules(rule: str, value: str, breaks: bool) -> None:
    name, kind = rule.split(":")[:2]
    async with running(rules=(rule,)) as client:
        published = await client.request("GET", "/crm/v3/property-validations/0-142")
        answer = await client.create([{"properties": {name: value}, "objectWriteTraceId": "t"}])
    assert published.body["results"][0]["propertyValidationRules"][0]["ruleType"] == kind
    if breaks:
        assert answer.status == 207
        assert problems(answer.body["errors"][0]) == [(name, kind)]
    else:
        assert answer.status == 201


def test_rules_and_properties_are_parsed_and_checked_when_configured() -> None:
    assert parse_rule("hs_cart_name:REGEX:a:b") == ValidationRule("hs_cart_name", "REGEX", ("a:b",))
    assert parse_property("x") == PropertyDefinition("x")
    assert parse_property("n:number:unique").unique
    with pytest.raises(ConfigError, match="no property"):
        Simulator(rules=("nope:MAX_LENGTH:3",))
    with pytest.raises(ConfigError, match="whole number"):
        Simulator(rules=("hs_cart_name:MAX_LENGTH:x",))
    with pytest.raises(ConfigError, match="unknown rule type"):
        Simulator(rules=("hs_cart_name:SHORT",))
    with pytest.raises(ConfigError, match="unknown type"):
        Simulator(properties=("x:float",))
    with pytest.raises(ConfigError, match="needs options"):
        Simulator(properties=("x:enumeration",))
    with pytest.raises(ConfigError, match="no such property"):
        Simulator(required=("nope",))


# --- type checks -------------------------------------------------------------------------------------------------

TYPED = {
    "properties": (
        "when:date",
        "at:datetime",
        "ok:bool",
        "size:enumeration:options=S|M",
        "tags:enumeration/checkbox:options=a|b",
    )
}


@pytest.mark.parametrize(
    ("props", "expected"),
    [
        ({"unknown_thing": "x"}, [("unknown_thing", "PROPERTY_DOESNT_EXIST")]),
        ({"hs_object_id": "1"}, [("hs_object_id", "READ_ONLY_VALUE")]),
        ({"hs_total_price": "ten"}, [("hs_total_price", "INVALID_DECIMAL")]),
        ({"hs_currency_code": "euro"}, [("hs_currency_code", "INVALID_OPTION")]),
        ({"ok": "yes"}, [("ok", "INVALID_BOOLEAN")]),
        ({"when": "2026-02-30"}, [("when", "INVALID_DATE")]),
        ({"when": "1700000000001"}, [("when", "INVALID_DATE")]),
        ({"at": "yesterday"}, [("at", "INVALID_DATETIME")]),
        ({"size": "XL"}, [("size", "INVALID_OPTION")]),
        ({"size": "S;M"}, [("size", "INVALID_OPTION")]),
        ({"tags": "a;c"}, [("tags", "INVALID_OPTION")]),
        ({"hs_cart_name": "x" * (MAX_VALUE_CHARS + 1)}, [("hs_cart_name", "VALUE_TOO_LONG")]),
    ],
)
async def test_wrong_values_are_refused_with_hubspots_codes(
    props: dict[str, str], expected: list[tuple[str, str]]
) -> None:
    assert await refusal(TYPED, **props) == expected


@pytest.mark.parametrize(
    "props",
    [
        {"ok": "true", "when": "2026-02-28", "at": "2026-02-28T10:00:00Z", "size": "M", "tags": "a;b"},
        {"when": "1772236800000", "at": "1772236800123", "hs_currency_code": "EUR"},
        {"hs_cart_name": "x" * MAX_VALUE_CHARS},
    ],
)
async def test_values_of_the_right_type_are_accepted(props: dict[str, str]) -> None:
    async with running(**TYPED) as client:
        answer = await client.create([{"properties": props, "objectWriteTraceId": "t"}])
    assert answer.status == 201


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("hs_currency_code", " EUR "),
        ("size", "\tM"),
        ("tags", " a ; b "),
        ("ok", " true"),
        ("ok", "false\n"),
        ("when", " 2026-02-28"),
        ("when", "1772236800000 "),
        ("at", " 2026-02-28T10:00:00Z "),
        ("at", " 1772236800123"),
    ],
)
async def test_white_space_around_a_non_string_value_is_accepted_and_with_echo_forms_as_sent_stored_as_sent(
    name: str, value: str
) -> None:
    as_sent = {"echo_whitespace": "keep", "echo_datetimes": "as-sent", "echo_dates": "as-sent"}
    async with running(**TYPED, **as_sent) as client:
        answer = await client.create([{"properties": {name: value}, "objectWriteTraceId": "t"}])
        stored = next(iter(client.sim.objects.values()))
    assert answer.status == 201, answer.body
    assert answer.body["results"][0]["properties"][name] == value
    assert stored.properties[name] == value


@pytest.mark.parametrize(
    ("props", "expected"),
    [
        ({"ok": " TRUE "}, [("ok", "INVALID_BOOLEAN")]),
        ({"hs_currency_code": " euro "}, [("hs_currency_code", "INVALID_OPTION")]),
        ({"hs_currency_code": "E UR"}, [("hs_currency_code", "INVALID_OPTION")]),
        ({"when": " 2026-02-30 "}, [("when", "INVALID_DATE")]),
        ({"when": "2026-02- 28"}, [("when", "INVALID_DATE")]),
        ({"at": " yesterday "}, [("at", "INVALID_DATETIME")]),
    ],
)
async def test_white_space_is_ignored_only_around_a_value_that_is_otherwise_valid(
    props: dict[str, str], expected: list[tuple[str, str]]
) -> None:
    assert await refusal(TYPED, **props) == expected


async def test_refusal_body_is_hubspots_documented_400_without_trace_ids() -> None:
    async with running() as client:
        answer = await client.create([{"properties": {"hs_tax": "x"}}])
    assert answer.status == 400
    assert answer.body["category"] == "VALIDATION_ERROR"
    assert answer.body["status"] == "error"
    assert problems(answer.body) == [("hs_tax", "INVALID_DECIMAL")]


# --- empty strings and required properties -------------------------------------------------------------------------


async def test_empty_string_clears_a_property_and_is_not_echoed() -> None:
    async with running(unique=("hs_external_cart_id",)) as client:
        created = await client.create([cart(1, hs_tags="", hs_tax="")])
        upsert = {"id": "ext-1", "idProperty": "hs_external_cart_id", "properties": {"hs_cart_name": ""}}
        updated = await client.upsert([upsert])
        stored = next(iter(client.sim.objects.values()))
    properties = created.body["results"][0]["properties"]
    assert "hs_tags" not in properties
    assert "hs_tax" not in properties
    assert "hs_cart_name" not in updated.body["results"][0]["properties"]
    assert "hs_cart_name" not in stored.properties


async def test_required_property_is_enforced_on_create_under_2026_09_only() -> None:
    async with running(required=("hs_cart_name",)) as client:
        missing = {"properties": {"hs_external_cart_id": "e"}, "objectWriteTraceId": "m"}
        legacy = await client.create([missing])
        newest = await client.request("POST", CREATE_2026_09, {"inputs": [missing, cart(2)]})
    assert legacy.status == 201
    assert newest.status == 201
    assert newest.body["numErrors"] == 1
    assert problems(newest.body["errors"][0]) == [("hs_cart_name", "REQUIRED_PROPERTY_MISSING")]
    assert newest.body["errors"][0]["context"]["objectWriteTraceId"] == ["m"]
    assert [r["properties"]["hs_external_cart_id"] for r in newest.body["results"]] == ["ext-2"]
