"""What the matcher reads of an answer (engine/readings.py), rule by rule: each test written for a mutant that the
matcher's broader tests left alive (tests/mutation.py readings)."""

from __future__ import annotations

from typing import Any

from cartloader.engine.matching import Kinds, match_results
from cartloader.engine.readings import Readings, _iso_instant, echo_text, getter, lookup
from cartloader.hubspot.protocol import ResultItem
from cartloader.models import CartInput
from cartloader.values import format_instant, parse_datetime, parse_number

KINDS: Kinds = {
    "hs_cart_name": ("string", False),
    "hs_total_price": ("number", False),
    "closed_at": ("datetime", False),
    "flag": ("bool", False),
    "tags": ("enumeration", True),
    "stage": ("enumeration", False),
    "phone": ("phone_number", False),
}


def cart(line: int, **properties: str) -> CartInput:
    record = CartInput(line, dict(properties))
    record.key = f"run-{line}"
    return record


def result(record_id: str, **properties: Any) -> ResultItem:
    return ResultItem(record_id, properties, None, None)


def paired(record: CartInput, echoed: dict[str, Any], kinds: Kinds = KINDS) -> bool:
    matching = match_results([record], [result("r", **echoed)], kinds=kinds)
    return [(i, r.id) for i, r in matching.pairs] == [(0, "r")]


def test_an_instant_is_written_as_hubspot_writes_it() -> None:
    for ms in (0, 1704067200123, 1704067199999, 1704153599999, 253402300799999, 1234567890):
        assert _iso_instant(ms) == format_instant(ms)


def test_an_echoed_json_bool_or_number_reads_as_its_text() -> None:
    assert (echo_text(True), echo_text(False), echo_text(5), echo_text(1.5)) == ("true", "false", "5", "1.5")
    assert echo_text("x") == "x" and echo_text(None) is None and echo_text([1]) is None


def test_lookup_reads_echoed_texts_trimmed_and_non_text_values_as_hubspot_writes_them() -> None:
    names = ("n",)
    by_texts: dict[tuple[str, ...], list[int]] = {("5",): [0]}
    assert lookup(by_texts, {"n": " 5 "}, names, getter(names)) == [0]
    assert lookup(by_texts, {"n": 5}, names, getter(names)) == [0]
    assert lookup(by_texts, {"n": 6}, names, getter(names)) == []
    assert lookup(by_texts, {"n": "6"}, names, getter(names)) == []
    assert lookup(by_texts, {"n": None}, names, getter(names)) is None
    assert lookup(by_texts, {}, names, getter(names)) is None
    two = ("a", "b")
    assert lookup({("x", "5"): [1]}, {"a": "x", "b": 5}, two, getter(two)) == [1]


def test_levels_of_a_datetime_echoed_as_hubspot_writes_it_or_in_another_form_are_typed() -> None:
    readings = Readings(KINDS, {0: (("closed_at", "hs_total_price"), ("1704067200000", "10.50"))})
    checks = readings.of(0)[1]
    assert readings.level({"closed_at": "2024-01-01T00:00:00.000Z", "hs_total_price": "10.50"}, checks) == 2
    assert readings.level({"closed_at": "2024-01-01T00:00:00Z", "hs_total_price": "10.50"}, checks) == 2
    assert readings.level({"closed_at": "1704067200000", "hs_total_price": "10.50"}, checks) == 3
    # Each value is checked, also after one that agrees in stored form.
    assert readings.level({"closed_at": "2024-01-01T00:00:00Z", "hs_total_price": "11"}, checks) == 0
    assert readings.level({"closed_at": "2024-01-01T00:00:00.000Z", "hs_total_price": "11"}, checks) == 0
    assert readings.level({"hs_total_price": "10.50"}, checks) == 0  # left out of the answer
    assert readings.level({"closed_at": " ", "hs_total_price": "10.50"}, checks) == 0  # cleared


def test_each_parser_reads_a_text_for_itself() -> None:
    readings = Readings(KINDS, {})
    assert readings.parsed(parse_number, "10.50") == parse_number("10.50")
    assert readings.parsed(parse_datetime, "10.50") is None


def test_a_compared_value_the_answer_leaves_out_or_clears_is_no_agreement() -> None:
    record = cart(1, hs_cart_name="a", hs_total_price="5.0")
    assert paired(record, {"hs_cart_name": "a", "hs_total_price": "5"})
    assert not paired(record, {"hs_cart_name": "a"})
    assert not paired(record, {"hs_cart_name": "a", "hs_total_price": ""})


def test_a_bool_sent_agrees_with_its_stored_form_and_never_with_an_instant() -> None:
    assert paired(cart(1, flag="true"), {"flag": "TRUE"})
    assert not paired(cart(1, flag="true"), {"flag": "1970-01-01T00:00:00.001Z"})
    # The same with a property of unknown type beside it (read value by value, not by a plan).
    assert paired(cart(1, flag="true", other="x"), {"flag": "TRUE", "other": "x"})
    assert not paired(cart(1, flag="true", other="x"), {"flag": "1970-01-01T00:00:00.001Z", "other": "x"})


def test_a_multi_select_agrees_as_a_set_and_a_single_enumeration_as_its_text() -> None:
    assert paired(cart(1, tags="a;b"), {"tags": "b;a"})
    assert paired(cart(1, tags="a;b", other="x"), {"tags": "b ;a", "other": "x"})
    assert not paired(cart(1, tags="a;b"), {"tags": "b;c"})
    assert not paired(cart(1, stage="a;b"), {"stage": "b;a"})
    assert not paired(cart(1, stage="a;b", other="x"), {"stage": "b;a", "other": "x"})


def test_a_string_agrees_only_as_the_same_text_never_by_shape() -> None:
    assert not paired(cart(1, hs_cart_name="10"), {"hs_cart_name": "10.0"})
    assert not paired(cart(1, hs_cart_name="10", other="x"), {"hs_cart_name": "10.0", "other": "x"})
    assert paired(cart(1, hs_cart_name="10", other="x"), {"hs_cart_name": " 10 ", "other": "x"})


def test_a_value_of_a_type_the_matcher_does_not_know_agrees_by_shape_beside_one_of_unknown_type() -> None:
    assert paired(cart(1, hs_cart_name="a", phone="5", other="x"), {"hs_cart_name": "a", "phone": "5.0", "other": "x"})
    assert not paired(
        cart(1, hs_cart_name="a", phone="5", other="x"), {"hs_cart_name": "a", "phone": "6", "other": "x"}
    )
