"""The chunker (design rule 1), as a pure object: batches of up to ``batch_size``, trace ids kept or made from the
run id and line, and a new batch whenever a trace id (or, in upsert mode, a key value) would repeat in one."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cartloader.engine.chunker import Chunker, missing_upsert_key
from cartloader.models import CartInput, InvalidInput


def record(line: int, trace_id: str | None = None, **properties: str) -> CartInput:
    return CartInput(line, dict(properties), trace_id=trace_id, raw=b"raw %d" % line)


def lines(batch: list[CartInput] | InvalidInput | None) -> list[int]:
    assert isinstance(batch, list)
    return [r.line for r in batch]


def test_a_batch_leaves_as_soon_as_it_is_full_and_flush_hands_out_the_rest() -> None:
    chunker = Chunker(batch_size=3, run_id="r")
    assert chunker.feed(record(1)) is None
    assert len(chunker) == 1
    assert chunker.feed(record(2)) is None
    assert lines(chunker.feed(record(3))) == [1, 2, 3]
    assert len(chunker) == 0
    assert chunker.feed(record(4)) is None
    assert lines(chunker.flush()) == [4]
    assert chunker.flush() is None
    assert len(chunker) == 0


def test_keys_are_the_records_own_trace_ids_or_run_id_and_line() -> None:
    chunker = Chunker(batch_size=10, run_id="r7f3")
    own, made = record(12, trace_id="mine"), record(13)
    chunker.feed(own)
    chunker.feed(made)
    assert (own.key, made.key) == ("mine", "r7f3-13")
    assert repr(chunker) == "Chunker(open=2, batch_size=10)"


def test_a_repeated_trace_id_starts_a_new_batch() -> None:
    chunker = Chunker(batch_size=10, run_id="r")
    assert chunker.feed(record(1, trace_id="t")) is None
    assert chunker.feed(record(2, trace_id="u")) is None
    closed = chunker.feed(record(3, trace_id="t"))
    assert lines(closed) == [1, 2]
    assert len(chunker) == 1
    # The new batch forgets the old keys: "u" may come again without closing anything.
    assert chunker.feed(record(4, trace_id="u")) is None
    assert lines(chunker.flush()) == [3, 4]


def test_a_made_trace_id_equal_to_an_own_one_also_starts_a_new_batch() -> None:
    chunker = Chunker(batch_size=10, run_id="r")
    chunker.feed(record(1, trace_id="r-2"))
    assert lines(chunker.feed(record(2))) == [1]  # its made key r-2 would repeat


def test_a_repeated_upsert_key_starts_a_new_batch_and_others_do_not() -> None:
    chunker = Chunker(batch_size=10, run_id="r", unique_by="ref")
    assert chunker.feed(record(1, ref="a", other="x")) is None
    assert chunker.feed(record(2, ref="b", other="x")) is None  # another property may repeat
    assert lines(chunker.feed(record(3, ref="a"))) == [1, 2]
    assert chunker.feed(record(4, ref="b")) is None
    assert lines(chunker.flush()) == [3, 4]


def test_without_upsert_mode_property_values_may_repeat() -> None:
    chunker = Chunker(batch_size=10, run_id="r")
    assert chunker.feed(record(1, ref="a")) is None
    assert chunker.feed(record(2, ref="a")) is None
    assert lines(chunker.flush()) == [1, 2]


@pytest.mark.parametrize("value", [None, ""])
def test_upsert_mode_refuses_a_record_without_its_key_and_keeps_the_batch(value: str | None) -> None:
    chunker = Chunker(batch_size=10, run_id="r", unique_by="ref")
    chunker.feed(record(1, ref="a"))
    missing = record(2) if value is None else record(2, ref=value)
    refused = chunker.feed(missing)
    assert isinstance(refused, InvalidInput)
    assert refused == InvalidInput(2, 'line 2: property "ref" is required for upsert', b"raw 2")
    assert refused == missing_upsert_key(missing, "ref")
    assert lines(chunker.flush()) == [1]


def test_a_full_batch_reopened_by_a_repeat_at_size_one_never_drops_a_record() -> None:
    chunker = Chunker(batch_size=1, run_id="r")
    assert lines(chunker.feed(record(1, trace_id="t"))) == [1]
    assert lines(chunker.feed(record(2, trace_id="t"))) == [2]


def test_a_repeat_that_closes_a_batch_then_fills_the_next_one() -> None:
    chunker = Chunker(batch_size=2, run_id="r")
    chunker.feed(record(1, trace_id="t"))
    assert lines(chunker.feed(record(2, trace_id="t"))) == [1]
    assert lines(chunker.feed(record(3))) == [2, 3]


@given(
    st.lists(st.tuples(st.sampled_from(["a", "b", "c", None]), st.sampled_from(["x", "y", "z"])), max_size=60),
    st.integers(min_value=1, max_value=7),
    st.booleans(),
)
def test_every_record_lands_in_one_batch_in_order_with_no_key_twice_in_a_batch(
    spec: list[tuple[str | None, str]], batch_size: int, upsert: bool
) -> None:
    chunker = Chunker(batch_size=batch_size, run_id="r", unique_by="ref" if upsert else None)
    batches: list[list[CartInput]] = []
    for line, (trace_id, ref) in enumerate(spec, 1):
        out = chunker.feed(record(line, trace_id=trace_id, ref=ref))
        assert not isinstance(out, InvalidInput)
        if out is not None:
            batches.append(out)
    last = chunker.flush()
    if last is not None:
        batches.append(last)
    assert [r.line for batch in batches for r in batch] == list(range(1, len(spec) + 1))
    for batch in batches:
        assert 1 <= len(batch) <= batch_size
        keys = [r.key for r in batch]
        assert len(set(keys)) == len(keys)
        if upsert:
            refs = [r.properties["ref"] for r in batch]
            assert len(set(refs)) == len(refs)
    # A batch is cut early only by a repeat: otherwise every batch but the last is full.
    for batch, following in itertools.pairwise(batches):
        if len(batch) < batch_size:
            first = following[0]
            assert first.key in {r.key for r in batch} or (
                upsert and first.properties["ref"] in {r.properties["ref"] for r in batch}
            )


def _association(category: str, type_id: int, to_id: str = "123456789") -> dict[str, object]:
    return {"to": {"id": to_id}, "types": [{"associationCategory": category, "associationTypeId": type_id}]}


def test_upsert_mode_refuses_an_association_whose_target_type_cannot_be_known_and_keeps_the_batch() -> None:
    chunker = Chunker(batch_size=10, run_id="r", unique_by="ref")
    assert chunker.feed(record(1, ref="a")) is None
    labelled = record(2, ref="b")
    labelled.associations = [_association("USER_DEFINED", 586)]
    refused = chunker.feed(labelled)
    assert isinstance(refused, InvalidInput)
    assert refused.line == 2
    assert refused.raw == b"raw 2"
    assert refused.message.startswith("line 2: association 1 (USER_DEFINED/586) does not tell which object type")
    assert "load without --upsert-by" in refused.message
    assert lines(chunker.flush()) == [1]  # the refused record joined no batch


def test_upsert_mode_takes_an_association_hubspot_defines_for_carts() -> None:
    chunker = Chunker(batch_size=10, run_id="r", unique_by="ref")  # object type carts by default
    linked = record(1, ref="a")
    linked.associations = [_association("HUBSPOT_DEFINED", 586)]  # cart to contact
    assert chunker.feed(linked) is None
    assert lines(chunker.flush()) == [1]


def test_an_association_type_known_for_carts_is_not_known_for_another_object_type() -> None:
    chunker = Chunker(batch_size=10, run_id="r", unique_by="ref", object_type="deals")
    linked = record(1, ref="a")
    linked.associations = [_association("HUBSPOT_DEFINED", 586)]
    assert isinstance(chunker.feed(linked), InvalidInput)


def test_a_repeated_value_of_another_unique_property_starts_a_new_batch() -> None:
    chunker = Chunker(batch_size=10, run_id="r", unique=("email", "sku"))
    assert chunker.feed(record(1, email="x@example.com", sku="1")) is None
    assert chunker.feed(record(2, email="y@example.com", sku="2", other="same")) is None
    assert chunker.feed(record(3, other="same", email="")) is None  # an empty value is no value
    assert lines(chunker.feed(record(4, sku="2"))) == [1, 2, 3]
    assert chunker.feed(record(5, email="x@example.com")) is None  # the earlier batch is gone
    assert lines(chunker.flush()) == [4, 5]


def test_the_unique_properties_leave_out_the_upsert_key_and_repeats() -> None:
    chunker = Chunker(batch_size=10, run_id="r", unique_by="ref", unique=("ref", "sku", "sku"))
    assert chunker.unique == ("sku",)
    chunker.unique = ("email", "ref")
    assert list(chunker.unique) == ["email"]
    assert chunker.feed(record(1, ref="a", email="e")) is None
    assert lines(chunker.feed(record(2, ref="b", email="e"))) == [1]
