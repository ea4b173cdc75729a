"""Matching by stored forms (issue 24, design rule 2): a result pairs only with an input it is compatible with (every
value sent agrees in stored form; ``""`` is no constraint; exact beats typed beats shape); a result compatible with
no input stays unmatched; the chunker keeps apart inputs an answer cannot tell apart whose associations differ; a
leftover input is resent only when the answer proves it was not created. Unit tests over hand-built answers, and a
hypothesis property over random batches answered as HubSpot writes."""

from __future__ import annotations

import random
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from cartloader.engine.chunker import Chunker
from cartloader.engine.matching import (
    Kinds,
    answer_key,
    compatibility,
    match_results,
    property_kinds,
    proves_not_created,
)
from cartloader.hubspot.protocol import ResultItem
from cartloader.models import CartInput, PortalSchema, PropertyDefinition
from cartloader.values import Agreement, echo_form, stored_form

KINDS: Kinds = {
    "hs_cart_name": ("string", False),
    "hs_total_price": ("number", False),
    "closed_at": ("datetime", False),
    "ship_day": ("date", False),
    "hs_tags": ("string", False),
}


def cart(line: int, associations: list[Any] | None = None, **properties: str) -> CartInput:
    record = CartInput(line, dict(properties), associations=associations)
    record.key = f"run-{line}"
    return record


def result(record_id: str, trace_id: str | None = None, **properties: Any) -> ResultItem:
    return ResultItem(record_id, properties, trace_id, None)


def pairs(matching: Any) -> list[tuple[int, str]]:
    return sorted((i, r.id) for i, r in matching.pairs)


def test_a_value_sent_blank_is_no_constraint_the_smallest_case() -> None:
    inputs = [cart(1, hs_cart_name="a", hs_tags="")]
    matching = match_results(inputs, [result("1", hs_cart_name="a", hs_createdate="2026-01-01T00:00:00.000Z")])
    assert pairs(matching) == [(0, "1")] and matching.leftover == []


def test_datetimes_and_dates_pair_in_any_form_by_type_and_by_shape_when_the_type_is_unknown() -> None:
    inputs = [cart(1, closed_at="1572406217883", ship_day="1572480000000"), cart(2, closed_at="1572406217884")]
    results = [
        result("2", closed_at="2019-10-30T03:30:17.884Z"),
        result("1", closed_at="2019-10-30T03:30:17.883Z", ship_day="2019-10-31"),
    ]
    assert pairs(match_results(inputs, results, kinds=KINDS)) == [(0, "1"), (1, "2")]
    assert pairs(match_results(inputs, results)) == [(0, "1"), (1, "2")]  # type unknown: by shape


def test_exact_beats_typed_beats_shape() -> None:
    inputs = [cart(1, hs_total_price="10.50"), cart(2, hs_total_price="10.5")]
    matching = match_results(inputs, [result("x", hs_total_price="10.5")])
    assert pairs(matching) == [(1, "x")] and matching.leftover == [0]
    row = cart(3, closed_at="2019-10-30T09:00:17.883+05:30")
    assert compatibility(row, {"closed_at": "2019-10-30T09:00:17.883+05:30"}, KINDS) is Agreement.EXACT
    assert compatibility(row, {"closed_at": "2019-10-30T03:30:17.883Z"}, KINDS) is Agreement.TYPED
    assert compatibility(row, {"closed_at": "2019-10-30T03:30:17.883Z"}) is Agreement.SHAPE
    assert compatibility(row, {"closed_at": "2019-10-30T03:30:17.884Z"}) is Agreement.NONE


def test_a_result_compatible_with_no_input_stays_unmatched_and_is_never_given_to_a_leftover_input() -> None:
    inputs = [cart(1, hs_cart_name="a"), cart(2, hs_cart_name="b", hs_total_price="3")]
    results = [result("1", hs_cart_name="a"), result("9", hs_cart_name="b", hs_total_price="4")]
    matching = match_results(inputs, results, kinds=KINDS)
    assert pairs(matching) == [(0, "1")]
    assert matching.leftover == [1] and [r.id for r in matching.unmatched_results] == ["9"]
    assert not proves_not_created(matching, 1)  # an unplaced result: the leftover input may exist


def test_leftover_inputs_are_proven_not_created_only_by_one_unnamed_error_each_and_no_spare_result() -> None:
    inputs = [cart(1, hs_cart_name="a"), cart(2, hs_cart_name="b"), cart(3, hs_cart_name="c")]
    matching = match_results(inputs, [result("1", hs_cart_name="a")])
    assert matching.leftover == [1, 2]
    assert proves_not_created(matching, 2)
    assert not proves_not_created(matching, 1)
    assert not proves_not_created(matching, 0)


def test_as_many_inputs_as_possible_get_a_compatible_result() -> None:
    # The result of input 1 also shows values only input 2 sent (HubSpot's defaults, say): taken by input 2 first,
    # it is given back to input 1 once input 2's own result turns up.
    inputs = [cart(1, hs_cart_name="a"), cart(2, hs_tags="t", hs_total_price="1")]
    results = [
        result("1", hs_cart_name="a", hs_tags="t", hs_total_price="1"),
        result("2", hs_cart_name="b", hs_tags="t", hs_total_price="1.0"),
    ]
    matching = match_results(inputs, results, kinds=KINDS)
    assert pairs(matching) == [(0, "1"), (1, "2")] and matching.unmatched_results == []


def test_property_kinds_come_from_the_portal_schema() -> None:
    schema = PortalSchema(
        {
            "d": PropertyDefinition("d", "datetime"),
            "m": PropertyDefinition("m", "enumeration", "checkbox"),
            "e": PropertyDefinition("e", "enumeration", "select"),
        }
    )
    assert property_kinds(schema) == {"d": ("datetime", False), "m": ("enumeration", True), "e": ("enumeration", False)}


# --- the chunker (part 2) -------------------------------------------------------------------------------------------

LINK_A = [{"to": {"id": "111111111"}, "types": [{"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": 586}]}]
LINK_B = [{"to": {"id": "222222222"}, "types": [{"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": 586}]}]


def chunk(records: list[CartInput], kinds: Kinds | None = None) -> list[list[int]]:
    chunker = Chunker(batch_size=100, run_id="r")
    if kinds is not None:
        chunker.kinds = kinds
    batches = []
    for record in records:
        batch = chunker.feed(record)
        if isinstance(batch, list):
            batches.append([r.line for r in batch])
    last = chunker.flush()
    if last:
        batches.append([r.line for r in last])
    return batches


def test_the_chunker_keeps_apart_inputs_no_answer_tells_apart_whose_associations_differ() -> None:
    records = [
        cart(1, LINK_A, hs_cart_name="same", hs_tags=""),
        cart(2, None, hs_cart_name="other"),
        cart(3, LINK_B, hs_cart_name=" same "),  # equal once trimmed, other associations: a new request
        cart(4, LINK_B, hs_cart_name="same"),
    ]
    assert chunk(records) == [[1, 2], [3, 4]]
    # Equal associations: interchangeable, one request.
    assert chunk([cart(1, LINK_A, hs_cart_name="x"), cart(2, LINK_A, hs_cart_name="x")]) == [[1, 2]]
    # Numbers of unknown type: "10.5" and "10.50" may be echoed alike; by type, equal stored values.
    twins = [cart(1, LINK_A, hs_total_price="10.5"), cart(2, LINK_B, hs_total_price="10.50")]
    assert chunk(twins) == [[1], [2]]
    assert chunk(twins, KINDS) == [[1], [2]]
    distinct = [cart(1, LINK_A, hs_total_price="10.5"), cart(2, LINK_B, hs_total_price="11")]
    assert chunk(distinct, KINDS) == [[1, 2]]
    assert answer_key(cart(1, hs_cart_name="a", hs_tags=" ")) == answer_key(cart(2, hs_cart_name=" a"))


# --- the property: random batches answered as HubSpot writes ---------------------------------------------------------

VALUES = {
    "hs_cart_name": ["a", " a ", "b", "c"],
    "hs_total_price": ["10.5", "10.50", "7", "007", "", "1e3"],
    "closed_at": ["1572406217883", "2019-10-30T03:30:17.883Z", "2019-10-30T09:00:17.883+05:30",
                  "2019-10-30T03:30:17Z", ""],
    "ship_day": ["2019-10-31", "1572480000000", ""],
    "hs_tags": ["", "  ", "x", "bad"],
}  # fmt: skip
OPTIONAL = [name for name in VALUES if name != "hs_cart_name"]


def _echo(record: CartInput) -> dict[str, str]:
    """What HubSpot stores and echoes for ``record``: stored forms, blanks left out, its own properties added."""
    echoed = {"hs_object_id": "0", "hs_createdate": "2026-01-01T00:00:00.000Z"}
    for name, text in record.properties.items():
        shown = echo_form(text, KINDS[name][0])
        if shown is not None:
            echoed[name] = shown
    return echoed


def _holds(record: CartInput, echoed: dict[str, Any]) -> bool:
    """Whether ``echoed`` holds every value ``record`` sent, in stored form (by the true types)."""
    for name, text in record.properties.items():
        stored = stored_form(text, KINDS[name][0])
        if stored is not None and (name not in echoed or stored_form(echoed[name], KINDS[name][0]) != stored):
            return False
    return True


@st.composite
def batches(draw: st.DrawFn) -> tuple[list[CartInput], list[ResultItem], frozenset[int], int, set[int], bool]:
    count = draw(st.integers(1, 12))
    inputs = []
    for line in range(1, count + 1):
        properties = {"hs_cart_name": draw(st.sampled_from(VALUES["hs_cart_name"]))}
        for name in draw(st.lists(st.sampled_from(OPTIONAL), unique=True, max_size=len(OPTIONAL))):
            properties[name] = draw(st.sampled_from(VALUES[name]))
        links = draw(st.sampled_from([None, LINK_A, LINK_B]))
        inputs.append(cart(line, links, **properties))
    # The chunker's guarantee: inputs no answer tells apart share their associations.
    first: dict[Any, Any] = {}
    for record in inputs:
        record.associations = first.setdefault(answer_key(record, KINDS), record.associations)
    rng = random.Random(draw(st.integers(0, 2**32)))
    # HubSpot refuses a record carrying tags "bad" (twins alike); its error names the trace id or, at random, not.
    refused = {i for i, record in enumerate(inputs) if record.properties.get("hs_tags", "").strip() == "bad"}
    traced_errors = frozenset(i for i in refused if rng.random() < 0.5)
    untraced = len(refused) - len(traced_errors)
    dropped = {i for i in range(count) if i not in refused and rng.random() < 0.15}  # created, result left out
    results = []
    for i, record in enumerate(inputs):
        if i in refused or i in dropped:
            continue
        trace_id = record.key if rng.random() < 0.3 else None
        results.append(ResultItem(f"id-{i}", _echo(record), trace_id, None))
    for n in range(rng.choice([0, 0, 0, 1, 2])):  # spare results of objects no input of this request made
        stray = _echo(cart(0, hs_cart_name="zz", hs_total_price=rng.choice(["1", "2"])))
        results.append(ResultItem(f"stray-{n}", stray, None, None))
    rng.shuffle(results)
    kinds_known = draw(st.booleans())
    return inputs, results, traced_errors, untraced, dropped, kinds_known


#: 400 random batches a run; under mutmut (the ``mutation`` profile, tests/conftest.py) the same 100 for every mutant:
#: each rule also has its own unit test (here and in tests/test_matching_rules.py), which kills a mutant for sure.
EXAMPLES = 100 if settings().derandomize else 400


@settings(max_examples=EXAMPLES, deadline=None)
@given(batches())
def test_every_pairing_holds_the_inputs_stored_values_and_nothing_created_is_resent(
    batch: tuple[list[CartInput], list[ResultItem], frozenset[int], int, set[int], bool],
) -> None:
    inputs, results, traced_errors, untraced, dropped, kinds_known = batch
    matching = match_results(inputs, results, exclude=traced_errors, kinds=KINDS if kinds_known else {})
    served = [id(r) for _, r in matching.pairs]
    assert len(served) == len(set(served))  # no result serves two inputs
    paired = [i for i, _ in matching.pairs]
    assert len(paired) == len(set(paired)) and not set(paired) & traced_errors
    for i, r in matching.pairs:
        assert r.id is not None and r.id.startswith("id-")  # never a stray
        source = inputs[int(r.id.removeprefix("id-"))]
        assert _holds(inputs[i], dict(r.properties))  # its own values, or an interchangeable input's
        assert source.associations == inputs[i].associations
    assert not matching.ambiguous
    # Every input that has its own result in the answer gets a result.
    own = {int(r.id.removeprefix("id-")) for r in results if r.id and r.id.startswith("id-")}
    assert len(matching.pairs) >= len(own - traced_errors)
    # Nothing that may have been created is resent unflagged.
    created_and_left = [i for i in matching.leftover if i in dropped]
    if created_and_left:
        assert not proves_not_created(matching, untraced)
