"""Matching HubSpot's results to inputs (design rule 2), as a pure function: fast, focused tests of
``cartloader/engine/matching.py`` (also what its mutation run uses). ``canonical_value`` is checked against
values written out by hand and against an oracle that computes a number's canonical form with integers only."""

from __future__ import annotations

from typing import Any

from cartloader.engine.matching import match_results
from cartloader.hubspot.protocol import ResultItem
from cartloader.models import CartInput


def cart(line: int, key: str | None = None, associations: list[Any] | None = None, **properties: str) -> CartInput:
    record = CartInput(line, dict(properties), associations=associations)
    record.key = key or f"run-{line}"
    return record


def result(record_id: str, trace_id: str | None = None, **properties: Any) -> ResultItem:
    return ResultItem(record_id, properties, trace_id, None)


def pairs(matching: Any) -> list[tuple[int, str]]:
    return sorted((i, r.id) for i, r in matching.pairs)


# --- match_results --------------------------------------------------------------------------------------


def test_trace_ids_match_first_whatever_the_properties() -> None:
    inputs = [cart(1, "k1", hs_cart_name="same"), cart(2, "k2", hs_cart_name="same")]
    matching = match_results(inputs, [result("20", "k2", hs_cart_name="same"), result("10", "k1", hs_cart_name="x")])
    assert pairs(matching) == [(0, "10"), (1, "20")]
    assert matching.unmatched_results == [] and matching.leftover == [] and matching.ambiguous == []


def test_a_trace_id_of_an_excluded_or_already_matched_input_falls_through_to_properties() -> None:
    inputs = [cart(1, "k1", hs_cart_name="a"), cart(2, "k2", hs_cart_name="b")]
    results = [result("1", "k1", hs_cart_name="a"), result("2", "k1", hs_cart_name="b")]
    assert pairs(match_results(inputs, results)) == [(0, "1"), (1, "2")]
    excluded = match_results(inputs, [result("2", "k1", hs_cart_name="b")], exclude=frozenset({0}))
    assert pairs(excluded) == [(1, "2")]


def test_an_unknown_trace_id_is_matched_by_properties() -> None:
    inputs = [cart(1, "k1", hs_cart_name="a")]
    assert pairs(match_results(inputs, [result("1", "other", hs_cart_name="a")])) == [(0, "1")]


def test_excluded_inputs_are_never_matched_nor_left_over() -> None:
    inputs = [cart(1, hs_cart_name="a"), cart(2, hs_cart_name="b")]
    matching = match_results(inputs, [result("1", hs_cart_name="a")], exclude=frozenset({0}))
    assert matching.pairs == []
    assert [r.id for r in matching.unmatched_results] == ["1"]
    assert matching.leftover == [1]


def test_a_result_showing_another_value_than_the_input_sent_pairs_with_no_input_whatever_its_external_id() -> None:
    # Design rule 2 (issue 24): the external id alone no longer names an input; every value sent must agree.
    inputs = [cart(1, hs_external_cart_id="A", hs_cart_name="x"), cart(2, hs_external_cart_id="B")]
    results = [
        result("2", hs_external_cart_id="B", hs_createdate="now"),
        result("1", hs_external_cart_id=" A ", hs_cart_name="renamed"),
    ]
    matching = match_results(inputs, results)
    assert pairs(matching) == [(1, "2")]
    assert [r.id for r in matching.unmatched_results] == ["1"] and matching.leftover == [0]


def test_the_upsert_key_names_its_input_and_the_external_id_is_then_ignored() -> None:
    inputs = [cart(1, ref="r1", hs_external_cart_id="X"), cart(2, ref="r2")]
    # The object of input 2 already held external id X, so both results echo it.
    results = [result("2", ref="r2", hs_external_cart_id="X"), result("1", ref="r1", hs_external_cart_id="X")]
    assert pairs(match_results(inputs, results)) == [(0, "1"), (1, "2")]


def test_numbers_as_keys_compare_by_value() -> None:
    inputs = [cart(1, ref="10.50"), cart(2, ref="7")]
    results = [result("b", ref="7.0"), result("a", ref="10.5")]
    assert pairs(match_results(inputs, results)) == [(0, "a"), (1, "b")]  # type unknown: by shape
    assert pairs(match_results(inputs, results, kinds={"ref": ("number", False)})) == [(0, "a"), (1, "b")]


def test_a_key_value_shared_by_two_inputs_names_neither() -> None:
    inputs = [cart(1, hs_external_cart_id="A", hs_cart_name="x"), cart(2, hs_external_cart_id="A", hs_cart_name="y")]
    results = [result("20", hs_external_cart_id="A", hs_cart_name="y"), result("10", hs_external_cart_id="A")]
    matching = match_results(inputs, results)
    assert pairs(matching) == [(1, "20")]
    assert [r.id for r in matching.unmatched_results] == ["10"]
    assert matching.leftover == [0]


def test_a_key_value_shared_three_times_names_none_of_them() -> None:
    inputs = [cart(n, hs_external_cart_id="A", hs_cart_name=str(n)) for n in range(1, 4)]
    results = [result(str(n), hs_external_cart_id="A", hs_cart_name=str(n)) for n in (3, 1, 2)]
    assert pairs(match_results(inputs, results)) == [(0, "1"), (1, "2"), (2, "3")]


def test_a_result_with_a_key_no_input_sent_is_matched_by_properties_or_left_unmatched() -> None:
    inputs = [cart(1, hs_external_cart_id="A", hs_cart_name="x"), cart(2, hs_cart_name="y")]
    results = [result("9", hs_external_cart_id="Z", hs_cart_name="q"), result("2", hs_cart_name="y")]
    matching = match_results(inputs, results)
    assert pairs(matching) == [(1, "2")]
    assert [r.id for r in matching.unmatched_results] == ["9"]
    assert matching.leftover == [0]


def test_inputs_without_the_key_are_matched_by_properties() -> None:
    inputs = [cart(1, hs_cart_name="x"), cart(2, hs_external_cart_id="B", hs_cart_name="y")]
    results = [result("1", hs_cart_name="x"), result("2", hs_external_cart_id="B", hs_cart_name="y")]
    assert pairs(match_results(inputs, results)) == [(0, "1"), (1, "2")]
    # A result leaving out a value the input sent is compatible with no input (issue 24; the key named it before).
    lacking = match_results(inputs, [result("1", hs_cart_name="x"), result("2", hs_external_cart_id="B")])
    assert pairs(lacking) == [(0, "1")] and lacking.leftover == [1]


def test_properties_match_after_normalization_and_extra_echoed_properties() -> None:
    inputs = [cart(1, hs_total_price="10.50", hs_cart_name=" a"), cart(2, hs_total_price="3", hs_cart_name="a")]
    results = [
        result("2", hs_total_price="3.0", hs_cart_name="a", hs_createdate="now"),
        result("1", hs_total_price="10.5", hs_cart_name="a", hs_object_id="1"),
    ]
    assert pairs(match_results(inputs, results)) == [(0, "1"), (1, "2")]


def test_a_subset_never_takes_the_result_of_the_larger_input() -> None:
    inputs = [cart(1, hs_cart_name="a"), cart(2, hs_cart_name="a", hs_currency_code="EUR")]
    results = [result("1", hs_cart_name="a"), result("2", hs_cart_name="a", hs_currency_code="EUR")]
    assert pairs(match_results(inputs, results)) == [(0, "1"), (1, "2")]
    assert pairs(match_results(inputs, results[::-1])) == [(0, "1"), (1, "2")]


def test_identical_inputs_take_their_results_by_elimination_in_line_order() -> None:
    inputs = [cart(n, hs_cart_name="same") for n in (1, 2, 3)]
    results = [result(i, hs_cart_name="same") for i in ("c", "a", "b")]
    matching = match_results(inputs, results)
    assert pairs(matching) == [(0, "c"), (1, "a"), (2, "b")]
    assert matching.ambiguous == []


def test_identical_properties_with_different_associations_are_ambiguous_not_guessed() -> None:
    to = [{"to": {"id": "1"}, "types": []}]
    inputs = [cart(1, hs_cart_name="same", associations=to), cart(2, hs_cart_name="same"), cart(3, hs_cart_name="o")]
    results = [result("a", hs_cart_name="same"), result("b", hs_cart_name="same"), result("c", hs_cart_name="o")]
    matching = match_results(inputs, results)
    assert pairs(matching) == [(2, "c")]
    assert sorted(matching.ambiguous) == [0, 1]
    assert matching.leftover == [] and matching.unmatched_results == []


def test_identical_properties_with_the_same_associations_are_not_ambiguous() -> None:
    to = [{"to": {"id": "1"}, "types": []}]
    inputs = [cart(1, hs_cart_name="same", associations=to), cart(2, hs_cart_name="same", associations=list(to))]
    matching = match_results(inputs, [result("a", hs_cart_name="same"), result("b", hs_cart_name="same")])
    assert pairs(matching) == [(0, "a"), (1, "b")]


def test_a_result_lacking_a_property_the_input_sent_is_unmatched() -> None:
    inputs = [cart(1, hs_cart_name="a", hs_total_price="1")]
    matching = match_results(inputs, [result("1", hs_cart_name="a")])
    assert matching.pairs == [] and matching.leftover == [0]
    assert [r.id for r in matching.unmatched_results] == ["1"]


def test_an_unhashable_echoed_value_matches_nothing_and_raises_nothing() -> None:
    inputs = [cart(1, hs_cart_name="a")]
    matching = match_results(inputs, [result("1", hs_cart_name=["a"]), result("2", hs_cart_name={"x": 1})])
    assert matching.pairs == [] and matching.leftover == [0]
    assert [r.id for r in matching.unmatched_results] == ["1", "2"]


def test_a_number_echoed_as_a_number_matches_the_string_sent() -> None:
    inputs = [cart(1, hs_total_price="10.50")]
    assert pairs(match_results(inputs, [result("1", hs_total_price=10.5)])) == [(0, "1")]


def test_more_results_than_inputs_leave_the_extra_unmatched() -> None:
    inputs = [cart(1, hs_cart_name="a")]
    matching = match_results(inputs, [result("1", hs_cart_name="a"), result("2", hs_cart_name="a")])
    assert pairs(matching) == [(0, "1")]
    assert [r.id for r in matching.unmatched_results] == ["2"]


def test_no_results_leave_every_open_input_over_in_order() -> None:
    inputs = [cart(n, hs_cart_name=str(n)) for n in (1, 2, 3)]
    matching = match_results(inputs, [], exclude=frozenset({1}))
    assert matching.leftover == [0, 2]
    assert matching.pairs == [] and matching.unmatched_results == []


def test_an_empty_or_blank_property_value_is_matched_like_any_other() -> None:
    inputs = [cart(1, hs_cart_name="", hs_currency_code="EUR"), cart(2, hs_cart_name="  ", hs_currency_code="USD")]
    results = [
        result("2", hs_cart_name="", hs_currency_code="USD"),
        result("1", hs_cart_name="", hs_currency_code="EUR"),
    ]
    assert pairs(match_results(inputs, results)) == [(0, "1"), (1, "2")]


def test_a_result_without_the_key_never_takes_the_input_whose_key_reads_none() -> None:
    inputs = [cart(1, hs_external_cart_id="None", hs_cart_name="a"), cart(2, hs_cart_name="b")]
    results = [result("2", hs_cart_name="b"), result("1", hs_external_cart_id="None", hs_cart_name="a")]
    assert pairs(match_results(inputs, results)) == [(0, "1"), (1, "2")]


def test_larger_property_sets_are_tried_first_whatever_their_names() -> None:
    # By name, ("b",) sorts after ("a", "b"); by size it comes second, as it must.
    inputs = [cart(1, b="1"), cart(2, a="x", b="1")]
    results = [result("2", a="x", b="1"), result("1", b="1")]
    assert pairs(match_results(inputs, results)) == [(0, "1"), (1, "2")]


def test_the_same_associations_written_in_another_key_order_are_the_same() -> None:
    first = [{"types": [{"associationTypeId": 1, "associationCategory": "HUBSPOT_DEFINED"}], "to": {"id": "1"}}]
    second = [{"to": {"id": "1"}, "types": [{"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": 1}]}]
    inputs = [
        cart(1, hs_cart_name="same", associations=first),
        cart(2, hs_cart_name="same", associations=second),
        cart(3, hs_cart_name="same", associations=list(first)),
    ]
    results = [result(i, hs_cart_name="same") for i in "abc"]
    matching = match_results(inputs, results)
    assert pairs(matching) == [(0, "a"), (1, "b"), (2, "c")]
    assert matching.ambiguous == []


def test_inputs_not_yet_given_a_trace_id_are_matched_by_properties_never_by_a_missing_one() -> None:
    inputs = [CartInput(1, {"hs_cart_name": "a"}), CartInput(2, {"hs_cart_name": "b"})]
    results = [result("1", hs_cart_name="a"), result("2", hs_cart_name="b")]
    assert pairs(match_results(inputs, results)) == [(0, "1"), (1, "2")]
