"""Design rule 3: a whole-batch 400 or 409 is attributed to the inputs carrying what HubSpot's answer names (the
bad value, the missing association target, the conflicting unique value) before anything is bisected; a conflict
names the existing object on the outcome (``existing_id``). Against the simulator failing batches whole
(``whole_batch_400``), with the preflight off so that HubSpot sees the bad records."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from cartloader.api.loader import bulk_create
from cartloader.hubspot.protocol import Answer, ApiError
from cartloader.hubspot.refusals import BadValue, attribute, bad_values, blames, existing_id, named_value, quotes
from cartloader.models import CartInput, Outcome
from cartloader.outcomes.format import decode, encode_outcome
from cartloader.simulator import Simulator

FAST = "1000/1s"
CONTACT = {"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": 586}


def carts(count: int) -> list[dict[str, Any]]:
    return [
        {"hs_cart_name": f"cart {i}", "hs_external_cart_id": f"ext-{i}", "hs_total_price": str(i)}
        for i in range(1, count + 1)
    ]


async def load(sim: Simulator, records: list[Any], **options: Any) -> tuple[dict[int, Outcome], Any]:
    outcomes: list[Outcome] = []
    options.setdefault("preflight", False)
    summary = await bulk_create(
        records, token="sim-token", base_url=sim.url, on_outcome=outcomes.append, rate=FAST, **options
    )
    return {o.line: o for o in outcomes}, summary


def batch_requests(sim: Simulator) -> int:
    return sim.stats().requests


@pytest.mark.anyio
async def test_each_whole_batch_400_fails_the_inputs_carrying_the_named_value_at_once() -> None:
    records = carts(100)
    records[6]["hs_total_price"] = "ten"
    records[40]["hs_currency_code"] = "euro"
    records[77]["hs_currency_code"] = "AUD"  # a good value, listed among the allowed options of the refusal
    async with Simulator(whole_batch_400=1.0, seed=1) as sim:
        outcomes, summary = await load(sim, records)
        requests = batch_requests(sim)
    assert {line for line, o in outcomes.items() if o.status == "failed"} == {7, 41}
    assert summary.created == 98
    # One refusal per bad value, then the batch goes through: bisection would take about 2 * (1 + 2 log2 100).
    assert requests == 3
    assert summary.error_responses == 2
    failed = outcomes[7].error
    assert failed is not None and failed.category == "VALIDATION_ERROR" and failed.status == 400
    assert "ten was not a valid number" in failed.message


@pytest.mark.anyio
async def test_every_input_with_the_same_bad_value_fails_with_the_first_refusal() -> None:
    records = carts(100)
    bad = {3, 30, 60, 90}
    for line in bad:
        records[line - 1]["hs_total_price"] = "n/a"
    async with Simulator(whole_batch_400=1.0, seed=2) as sim:
        outcomes, summary = await load(sim, records)
        assert batch_requests(sim) == 2
    assert {line for line, o in outcomes.items() if o.status == "failed"} == bad
    assert summary.created == 96


@pytest.mark.anyio
async def test_a_property_that_does_not_exist_fails_every_input_carrying_it_whatever_its_value() -> None:
    records = carts(50)
    for line in (5, 25):
        records[line - 1]["hs_coupon"] = f"CODE{line}"
    async with Simulator(whole_batch_400=1.0, seed=3) as sim:
        outcomes, summary = await load(sim, records)
        assert batch_requests(sim) == 2
    assert {line for line, o in outcomes.items() if o.status == "failed"} == {5, 25}
    assert summary.created == 48


@pytest.mark.anyio
async def test_inputs_associated_with_a_target_that_does_not_exist_fail_at_once() -> None:
    records: list[Any] = [{"properties": r, "associations": []} for r in carts(40)]
    for i, record in enumerate(records):
        target = "5" if i in (9, 19) else str(100_000_000 + i)  # 5 is no real id: real ids have 9-12 digits
        record["associations"] = [{"to": {"id": target}, "types": [CONTACT]}]
    async with Simulator(whole_batch_400=1.0, seed=4) as sim:
        outcomes, summary = await load(sim, records)
        assert batch_requests(sim) == 2
    assert {line for line, o in outcomes.items() if o.status == "failed"} == {10, 20}
    assert summary.created == 38


@pytest.mark.anyio
async def test_a_conflict_with_an_existing_object_fails_that_input_at_once_naming_the_object() -> None:
    async with Simulator(unique=("hs_external_cart_id",), seed=5) as sim:
        first, _ = await load(sim, carts(3))
        before = batch_requests(sim)
        records = carts(60)[3:]  # ext-4 .. ext-60
        records[20]["hs_external_cart_id"] = "ext-2"  # line 21 repeats an existing object's unique value
        outcomes, summary = await load(sim, records)
        assert batch_requests(sim) - before == 2
    conflict = outcomes[21]
    assert conflict.status == "failed" and conflict.error is not None
    assert conflict.error.status == 409
    assert conflict.existing_id == first[2].id
    assert summary.created == 56


@pytest.mark.anyio
async def test_two_inputs_sharing_a_unique_value_are_bisected_and_the_loser_names_the_winner() -> None:
    records = carts(20)
    records[15]["hs_external_cart_id"] = "ext-4"
    async with Simulator(unique=("hs_external_cart_id",), seed=6) as sim:
        outcomes, summary = await load(sim, records)
    assert summary.created == 19 and summary.failed == 1
    loser = next(o for o in outcomes.values() if o.status == "failed")
    winner = outcomes[4 if loser.line == 16 else 16]
    assert loser.existing_id == winner.id


@pytest.mark.anyio
async def test_a_conflict_inside_a_partial_failure_names_the_existing_object() -> None:
    async with Simulator(unique=("hs_external_cart_id",), conflicts="per-input", seed=7) as sim:
        first, _ = await load(sim, carts(2))
        records = carts(10)[2:]
        records[4]["hs_external_cart_id"] = "ext-1"
        outcomes, summary = await load(sim, records)
    assert summary.created == 7
    assert outcomes[5].status == "failed" and outcomes[5].existing_id == first[1].id


def test_existing_id_is_written_to_the_outcome_log_and_read_back() -> None:
    outcome = Outcome(21, "failed", "k-21", None, None, 1, existing_id="40000000002")
    line = encode_outcome(outcome)
    assert orjson.loads(line)["existing_id"] == "40000000002"
    assert decode(line).existing_id == "40000000002"


# --- what an answer names, HubSpot's wording beyond what the simulator says ------------------------------------


def record(line: int, **properties: str) -> CartInput:
    return CartInput(line, dict(properties))


def invalid(*problems: dict[str, object]) -> Answer:
    message = "Property values were not valid: " + orjson.dumps(list(problems)).decode()
    return Answer(status=400, category="VALIDATION_ERROR", message=message)


def test_a_value_counts_only_where_the_problem_names_it_whole() -> None:
    message = "euro was not one of the allowed options: [EUR, USD]"
    assert blames(message, "euro") and not blames(message, " euro ")
    assert not blames(message, "EUR")
    assert not blames(message, "eur")
    assert blames("'abcdef' is longer than 5 characters", "abcdef")
    assert not blames("12.50 was not a valid number.", "12")
    assert not blames("anything", "")
    # Issue 24: a value that merely starts the named one is not named.
    assert named_value("EUR X was not one of the allowed options: [EUR, USD]") == "EUR X"
    assert not blames("EUR X was not one of the allowed options: [EUR, USD]", "EUR")
    assert blames("EUR X was not one of the allowed options: [EUR, USD]", "EUR X")
    assert named_value("12 500 was not a valid number.") == "12 500"
    assert not blames("12 500 was not a valid number.", "12")
    # Read more than one way, or naming nothing: no value is named (the batch is bisected).
    assert named_value("a was not b was not one of the allowed options") is None
    assert named_value("'it's' is longer than 2 characters") == "it's"
    assert named_value("'a' b' is longer than 2 characters") is None
    assert named_value("Property values were not valid") is None
    assert named_value('"x y" was not a valid number') == "x y"


def test_a_conflict_counts_a_value_only_where_it_is_quoted_whole() -> None:
    message = 'an object with unique property hs_external_cart_id="ext-1" already exists. Existing ID: 7'
    assert quotes(message, "ext-1")
    assert not quotes(message, "ext")
    assert existing_id(message) == "7"
    assert existing_id("Contact already exists. Existing ID: 123456789") == "123456789"
    assert existing_id("Duplicate value within the batch.") is None


def test_attribution_names_the_inputs_with_the_refused_value_and_no_other() -> None:
    answer = invalid(
        {"isValid": False, "message": "ten was not a valid number.", "error": "INVALID_DECIMAL", "name": "price"},
        {"isValid": False, "message": 'Property "coupon" does not exist', "error": "PROPERTY_DOESNT_EXIST",
         "name": "coupon"},
    )  # fmt: skip
    records = [record(1, price="ten"), record(2, price="10"), record(3, coupon=""), record(4, price="ten ")]
    assert attribute(answer, records) == {0, 2}


def test_a_problem_without_a_value_and_a_conflict_without_an_existing_id_name_nobody() -> None:
    required = invalid(
        {"isValid": False, "message": 'Property "store" is required', "error": "REQUIRED_PROPERTY_MISSING",
         "name": "store"},
    )  # fmt: skip
    assert attribute(required, [record(1, name="a"), record(2, store="")]) == set()
    within = Answer(
        status=409,
        category="CONFLICT",
        message='Duplicate value for unique property ref="x" within the batch.',
        errors=[ApiError("OBJECT_ALREADY_EXISTS", "dup", context={"propertyName": ("ref",)})],
    )
    assert attribute(within, [record(1, ref="x"), record(2, ref="x")]) == set()


def test_a_conflict_naming_the_existing_object_and_the_value_names_the_inputs_carrying_it() -> None:
    answer = Answer(
        status=409,
        category="OBJECT_ALREADY_EXISTS",
        message='A cart with ref="x-1" already exists. Existing ID: 99',
        context={"propertyName": ("ref",)},
    )
    assert attribute(answer, [record(1, ref="x-1"), record(2, ref="x-10"), record(3, ref="x-1")]) == {0, 2}


# --- reading the problems of a whole-batch 400 (the focused tests of ``python -m tests.mutation refusals``) ----------


def test_each_problem_of_the_list_is_read_and_malformed_ones_are_skipped() -> None:
    answer = invalid(
        {"isValid": False, "message": "x", "name": "price"},  # no code
        {"isValid": False, "message": "x", "error": "INVALID_OPTION", "name": 5},  # no name
        "not a problem",  # type: ignore[arg-type]  # an item that is not an object
        {"isValid": False, "error": "INVALID_DECIMAL", "name": "price"},  # no message
        {"isValid": False, "message": 7, "error": "INVALID_OPTION", "name": "currency"},
        {"isValid": False, "message": "ten was not a valid number.", "error": "INVALID_DECIMAL", "name": "total"},
    )
    assert bad_values(answer) == [
        BadValue("price", "INVALID_DECIMAL", "", None),
        BadValue("currency", "INVALID_OPTION", "", None),
        BadValue("total", "INVALID_DECIMAL", "ten was not a valid number.", None),
    ]


def test_the_problems_are_read_from_the_first_list_and_from_each_error() -> None:
    inner = {
        "isValid": False,
        "message": "Property values were not valid: x was not one of the allowed options",
        "error": "INVALID_OPTION",
        "name": "currency",
    }
    answer = invalid(inner)
    assert [bad.property for bad in bad_values(answer)] == ["currency"]
    listed = "Property values were not valid: " + orjson.dumps([inner]).decode()
    from_errors = Answer(status=400, category="VALIDATION_ERROR", message=None, errors=[ApiError("X", listed)])
    assert [bad.property for bad in bad_values(from_errors)] == ["currency"]


@pytest.mark.parametrize("listed", ["5", '{"name": "x"}', '"abc"', "not json", "null"])
def test_a_problem_list_that_is_not_a_list_names_nothing(listed: str) -> None:
    answer = Answer(status=400, category="VALIDATION_ERROR", message="Property values were not valid: " + listed)
    assert bad_values(answer) == []
    assert attribute(answer, [record(1, x="a")]) == set()


def test_associations_not_of_the_documented_shape_name_no_target() -> None:
    answer = Answer(
        status=400,
        category="VALIDATION_ERROR",
        message="One or more associations are invalid",
        context={"INVALID_OBJECT_IDS": ("123",)},
    )
    records = [
        CartInput(1, {}, associations=["123"]),
        CartInput(2, {}, associations=[{"to": "123"}]),
        CartInput(3, {}, associations=[{"types": []}]),
        CartInput(4, {}, associations=[{"to": {"id": 123}}]),
    ]
    assert attribute(answer, records) == {3}


def test_a_quoted_value_may_start_with_a_space_or_be_empty() -> None:
    assert named_value("' x' is longer than 1 characters") == " x"
    assert named_value("'' is not a valid value") == ""
