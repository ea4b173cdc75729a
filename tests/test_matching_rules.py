"""One focused unit test per rule of the matcher (engine/matching.py, engine/readings.py), each written for a
mutant that the broader tests of tests/test_matching.py and tests/test_matching_forms.py left alive: small hand-built
answers whose outcome changes when the rule is broken."""

from __future__ import annotations

from typing import Any

from cartloader.engine.matching import Kinds, answer_key, compatibility, match_results
from cartloader.hubspot.protocol import ResultItem
from cartloader.models import CartInput
from cartloader.values import Agreement

KINDS: Kinds = {
    "hs_cart_name": ("string", False),
    "hs_total_price": ("number", False),
    "closed_at": ("datetime", False),
    "ship_day": ("date", False),
    "hs_tags": ("string", False),
    "tags": ("enumeration", True),
}


def cart(line: int, associations: list[Any] | None = None, **properties: str) -> CartInput:
    record = CartInput(line, dict(properties), associations=associations)
    record.key = f"run-{line}"
    return record


def result(record_id: str, trace_id: str | None = None, **properties: Any) -> ResultItem:
    return ResultItem(record_id, properties, trace_id, None)


def pairs(matching: Any) -> list[tuple[int, str]]:
    return sorted((i, r.id) for i, r in matching.pairs)


def test_a_result_echoing_its_trace_id_pairs_with_that_input_whatever_it_shows() -> None:
    inputs = [cart(1, hs_cart_name="a"), cart(2, hs_cart_name="b")]
    matching = match_results(inputs, [result("r", "run-2", hs_cart_name="a")], kinds=KINDS)
    assert pairs(matching) == [(1, "r")] and matching.leftover == [0]


# --- compatibility: every value sent is checked ---------------------------------------------------------------------


def test_a_blank_value_sent_is_skipped_and_the_values_after_it_still_checked() -> None:
    record = cart(1, hs_tags="", hs_cart_name="a")
    assert compatibility(record, {"hs_cart_name": "b"}, KINDS) is Agreement.NONE
    assert compatibility(record, {"hs_cart_name": "a"}, KINDS) is Agreement.EXACT


def test_a_typed_value_does_not_end_the_check_of_the_values_after_it() -> None:
    record = cart(1, hs_total_price="10.50", hs_cart_name="a")
    assert compatibility(record, {"hs_total_price": "10.5", "hs_cart_name": "b"}, KINDS) is Agreement.NONE
    assert compatibility(record, {"hs_total_price": "10.5", "hs_cart_name": "a"}, KINDS) is Agreement.TYPED


def test_a_multi_select_agrees_as_a_set_of_options_in_any_order() -> None:
    record = cart(1, tags="a;b")
    assert compatibility(record, {"tags": "b;a"}, KINDS) is Agreement.TYPED
    assert compatibility(record, {"tags": "b;c"}, KINDS) is Agreement.NONE


# --- answer_key: what an answer may not tell apart ------------------------------------------------------------------


def test_multi_selects_of_the_same_options_in_another_order_share_a_key() -> None:
    assert answer_key(cart(1, tags="a;b"), KINDS) == answer_key(cart(2, tags="b ; a"), KINDS)
    assert answer_key(cart(1, tags="a;b"), KINDS) != answer_key(cart(2, tags="a;c"), KINDS)


def test_numbers_of_unknown_type_share_a_key_only_under_the_same_name() -> None:
    assert answer_key(cart(1, amount="1")) == answer_key(cart(2, amount="1.0")) == answer_key(cart(3, amount="7"))
    assert answer_key(cart(1, amount="1")) != answer_key(cart(2, count="1"))
    assert answer_key(cart(1, amount="1")) != answer_key(cart(2, amount="one"))
    assert answer_key(cart(1, when="2024-01-01T00:00:00Z")) == answer_key(cart(2, when="1704067200000"))


# --- _match_by_values: the best level first -------------------------------------------------------------------------


def test_a_result_goes_to_the_input_it_agrees_with_by_type_before_one_it_agrees_with_by_shape() -> None:
    # Both inputs send two values the result shows in another form: input 1's price is a number by the schema
    # (typed), input 0's amount has no known type (shape). Input 1 gets the result, whatever the line order.
    inputs = [cart(1, hs_cart_name="a", amount="10.50"), cart(2, hs_cart_name="a", hs_total_price="10.50")]
    answer = [result("r", hs_cart_name="a", hs_total_price="10.5", amount="10.5")]
    matching = match_results(inputs, answer, kinds=KINDS)
    assert pairs(matching) == [(1, "r")] and matching.leftover == [0] and matching.unmatched_results == []


# --- _augment: values of a type this module does not know ----------------------------------------------------------


def test_a_value_of_a_type_this_module_does_not_know_may_agree_by_shape() -> None:
    # A phone number property (a type values.py does not read): HubSpot may write it in another form.
    kinds: Kinds = {**KINDS, "phone": ("phone_number", False)}
    inputs = [cart(1, hs_cart_name="a", phone="5")]
    matching = match_results(inputs, [result("r", hs_cart_name="a", phone="5.0")], kinds=kinds)
    assert pairs(matching) == [(0, "r")] and matching.leftover == [] and matching.unmatched_results == []
    other = match_results(inputs, [result("r", hs_cart_name="a", phone="6")], kinds=kinds)
    assert other.pairs == [] and other.leftover == [0]


def test_inputs_re_paired_along_augmenting_paths_leave_the_open_inputs_and_come_in_line_order() -> None:
    # Input 2 sends the most values and takes result "1" first; input 0 can only have "1": re-paired, input 2
    # gets "2", input 1 its own.
    inputs = [
        cart(1, hs_cart_name="a"),
        cart(2, hs_cart_name="c", hs_total_price="5.0"),
        cart(3, hs_tags="t", hs_total_price="1"),
    ]
    results = [
        result("3", hs_cart_name="c", hs_total_price="5"),
        result("1", hs_cart_name="a", hs_tags="t", hs_total_price="1.0"),
        result("2", hs_cart_name="b", hs_tags="t", hs_total_price="1.0"),
    ]
    matching = match_results(inputs, results, kinds=KINDS)
    assert matching.pairs and [i for i, _ in matching.pairs] == [0, 1, 2]
    assert pairs(matching) == [(0, "1"), (1, "3"), (2, "2")]
    assert matching.leftover == [] and matching.unmatched_results == []


def test_a_spare_result_alone_does_not_start_the_re_pairing() -> None:
    # Every input has its result (by values: input 1, sending the most values, first) and one result is spare:
    # nothing is re-paired, the pairs stay in the order they were made and the spare result stays unmatched.
    inputs = [
        cart(1, hs_cart_name="a", hs_total_price="2.0"),
        cart(2, hs_cart_name="c", hs_total_price="5.0", hs_tags="t"),
    ]
    results = [
        result("A", hs_cart_name="a", hs_total_price="2"),
        result("C", hs_cart_name="c", hs_total_price="5", hs_tags="t"),
        result("Z", hs_cart_name="z"),
    ]
    matching = match_results(inputs, results, kinds=KINDS)
    assert [(i, r.id) for i, r in matching.pairs] == [(1, "C"), (0, "A")]
    assert [r.id for r in matching.unmatched_results] == ["Z"] and matching.leftover == []
