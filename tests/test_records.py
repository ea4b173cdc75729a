"""The contract's input rules: record shapes, property values, and numbering of iterables."""

from __future__ import annotations

from collections.abc import AsyncIterator
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cartloader.input.normalize import MAX_TRACE_ID_LENGTH, format_float, normalize, normalize_parsed, normalized
from cartloader.models import CartInput, InvalidInput


def valid(obj: object, line: int = 1) -> CartInput:
    result = normalize(obj, line)
    assert isinstance(result, CartInput), result
    return result


def invalid(obj: object, line: int = 7) -> str:
    result = normalize(obj, line)
    assert isinstance(result, InvalidInput), result
    assert result.line == line
    return result.message


# --- shapes ---------------------------------------------------------------------------------------------


def test_flat_object_keys_are_properties() -> None:
    record = valid({"hs_external_cart_id": "A-1", "objectWriteTraceId": "t"}, line=3)
    assert record.line == 3
    assert record.properties == {"hs_external_cart_id": "A-1", "objectWriteTraceId": "t"}
    assert record.associations is None
    assert record.trace_id is None


def test_flat_properties_are_a_copy() -> None:
    source = {"a": "1"}
    record = valid(source)
    source["a"] = "2"
    assert record.properties == {"a": "1"}


def test_hubspot_shape() -> None:
    associations = [{"to": {"id": "9"}, "types": [{"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": 1}]}]
    record = valid({"properties": {"a": 1}, "associations": associations, "objectWriteTraceId": "trace-1"})
    assert record.properties == {"a": "1"}
    assert record.associations == associations
    assert record.trace_id == "trace-1"


def test_hubspot_shape_properties_only() -> None:
    record = valid({"properties": {"a": "x"}})
    assert record.properties == {"a": "x"}
    assert record.associations is None
    assert record.trace_id is None


def test_raw_is_kept() -> None:
    assert normalize({"a": "x"}, 1, b'{"a":"x"}').raw == b'{"a":"x"}'
    assert normalize([], 1, b"[]").raw == b"[]"


def test_null_trace_id_and_associations_are_absent() -> None:
    record = valid({"properties": {}, "associations": None, "objectWriteTraceId": None})
    assert record.trace_id is None
    assert record.associations is None


@pytest.mark.parametrize("obj", [[], "x", 1, None, [{"a": 1}]])
def test_not_an_object(obj: object) -> None:
    assert invalid(obj) == "line 7: expected a JSON object"


def test_properties_beside_other_keys_is_invalid() -> None:
    message = invalid({"properties": {"a": "1"}, "hs_currency_code": "EUR"})
    assert message.startswith('line 7: unexpected key "hs_currency_code" beside "properties"')


@pytest.mark.parametrize("properties", [None, "x", [], 1])
def test_properties_not_an_object_is_invalid(properties: object) -> None:
    assert invalid({"properties": properties}) == 'line 7: "properties" must be an object'


@pytest.mark.parametrize("trace_id", ["", 5, ["t"], "x" * (MAX_TRACE_ID_LENGTH + 1)])
def test_bad_trace_id(trace_id: object) -> None:
    assert '"objectWriteTraceId" must be a string' in invalid({"properties": {}, "objectWriteTraceId": trace_id})


@pytest.mark.parametrize(
    "associations",
    [
        {"to": {"id": 1}},
        ["x"],
        [{"types": []}],
        [{"to": {"id": 1}}],
        [{"to": {}, "types": []}],
        [{"to": {"id": 1.5}, "types": []}],
        [{"to": {"id": 1}, "types": {}}],
    ],
)
def test_bad_associations(associations: object) -> None:
    assert invalid({"properties": {}, "associations": associations}).startswith('line 7: "associations" ')


@pytest.mark.parametrize("name", ["", 1, None])
def test_property_names_must_be_non_empty_strings(name: object) -> None:
    assert invalid({name: "x"}) == "line 7: property names must be non-empty strings"
    assert invalid({"properties": {name: 1}}) == "line 7: property names must be non-empty strings"


# --- values ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("x", "x"),
        ("", ""),
        (0, "0"),
        (-12, "-12"),
        (2**63 - 1, "9223372036854775807"),
        (-(2**63), "-9223372036854775808"),
        (2**64 - 1, "18446744073709551615"),
        (True, "true"),
        (False, "false"),
        (["a", "b", "c"], "a;b;c"),
        ([], ""),
        (1.5, "1.5"),
        (Decimal("1.50"), "1.5"),
        (Decimal("1E+3"), "1000"),
        (Decimal("-0.000"), "0"),
    ],
)
def test_value_rules(value: object, expected: str) -> None:
    assert valid({"p": value}).properties == {"p": expected}
    assert valid({"properties": {"p": value}}).properties == {"p": expected}


def test_none_omits_the_property() -> None:
    assert valid({"a": None, "b": "x"}).properties == {"b": "x"}


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (0.1, "0.1"),
        (1e-7, "0.0000001"),
        (1.5e-7, "0.00000015"),
        (1e21, "1000000000000000000000"),
        (-0.0, "0"),
        (2.0, "2"),
        (-2.5, "-2.5"),
        (1e16, "10000000000000000"),
        (123456789012345680.0, "123456789012345680"),
        (5e-324, "0." + "0" * 323 + "5"),
        (-1.2345e-5, "-0.000012345"),
    ],
)
def test_float_formatting(value: float, expected: str) -> None:
    assert format_float(value) == expected
    assert Decimal(expected) == Decimal(repr(value))


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        (float("nan"), "NaN is not allowed"),
        (float("inf"), "Infinity is not allowed"),
        (float("-inf"), "Infinity is not allowed"),
        (Decimal("NaN"), "NaN is not allowed"),
        (Decimal("-Infinity"), "Infinity is not allowed"),
        (2**64, "integers beyond 64 bits are not allowed"),
        (-(2**63) - 1, "integers beyond 64 bits are not allowed"),
        ({"a": 1}, "nested objects are not allowed"),
        (["a", 1], "a list may hold only strings"),
        ([["a"]], "a list may hold only strings"),
        ((1, 2), "a value of type tuple is not allowed"),
    ],
)
def test_refused_values(value: object, reason: str) -> None:
    assert invalid({"hs_total_price": value}) == f'line 7: property "hs_total_price": {reason}'


def test_long_property_name_is_shortened_in_messages() -> None:
    message = invalid({"n" * 500: float("nan")})
    assert len(message) < 150


def test_normalize_parsed_asks_for_exact_reread_only_for_floats_beside_long_numbers() -> None:
    raw = b'{"a": 12345678901234567890123, "b": 1.5}'
    assert normalize_parsed({"a": 1.2345678901234568e22, "b": 1.5}, 1, raw) is None
    # No float property: nothing to re-read, even with long digit runs in the line.
    record = normalize_parsed({"a": "12345678901234567890"}, 1, b'{"a": "12345678901234567890"}')
    assert isinstance(record, CartInput)
    record = normalize_parsed({"b": 1.5}, 1, b'{"b": 1.5}')
    assert isinstance(record, CartInput)
    assert record.properties == {"b": "1.5"}


# --- totality (hypothesis) ------------------------------------------------------------------------------

json_scalars = st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=5) | st.decimals()
json_values = st.recursive(
    json_scalars,
    lambda children: st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=3), children, max_size=3),
    max_leaves=8,
)


def _numbers_kept(value: object, out: str) -> None:
    if isinstance(value, bool):
        assert out in ("true", "false")
    elif isinstance(value, float):
        assert Decimal(out) == Decimal(repr(value))
        assert "e" not in out.lower()
        assert not out.endswith(".0")
    elif isinstance(value, int):
        assert int(out) == value
    elif isinstance(value, Decimal):
        assert Decimal(out) == value
        assert "e" not in out.lower()


@given(st.dictionaries(st.text(max_size=4), json_values, max_size=5) | json_values)
def test_normalize_is_total(obj: object) -> None:
    result = normalize(obj, 3)
    assert result.line == 3
    if isinstance(result, InvalidInput):
        assert result.message.startswith("line 3: ")
        return
    assert isinstance(obj, dict)
    source = obj.get("properties", obj)
    for name, out in result.properties.items():
        assert isinstance(out, str)
        _numbers_kept(source[name], out)


# --- iterables ------------------------------------------------------------------------------------------


@pytest.mark.anyio
async def test_normalized_numbers_a_sync_iterable() -> None:
    results = [r async for r in normalized([{"a": "1"}, [], {"b": 2}])]
    assert [r.line for r in results] == [1, 2, 3]
    assert isinstance(results[1], InvalidInput)
    assert results[1].message == "line 2: expected a JSON object"


@pytest.mark.anyio
async def test_normalized_numbers_an_async_iterable() -> None:
    async def source() -> AsyncIterator[object]:
        for item in ({"a": "1"}, {"b": float("nan")}):
            yield item

    results = [r async for r in normalized(source())]
    assert [r.line for r in results] == [1, 2]
    assert isinstance(results[0], CartInput)
    assert isinstance(results[1], InvalidInput)
