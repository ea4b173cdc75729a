"""The v4 associations of upserted records, without the network (hubspot/associations.py): which object type each
association item leads to (read from its HUBSPOT_DEFINED type id), why an item that does not tell is refused, the
body of one batch create, and the labels and item types the preflight reads."""

from __future__ import annotations

from typing import Any

import orjson

from cartloader.hubspot.associations import Link, item_kinds, link_body, links, read_labels

CONTACT = {"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": 586}
LINE_ITEM = {"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": 590}


def item(to_id: Any, *types: Any) -> dict[str, Any]:
    return {"to": {"id": to_id}, "types": list(types)}


def refusal(position: int, shown: str, object_type: str = "carts") -> str:
    return (
        f"association {position} ({shown}) does not tell which object type it leads to: in upsert mode associations "
        "are written through HubSpot's associations API, which needs it (only HUBSPOT_DEFINED types from "
        f"{object_type} do); load without --upsert-by to send them with the record"
    )


def test_each_documented_cart_type_id_leads_to_its_object_type_and_the_id_is_read_as_text() -> None:
    documented = {586: "contacts", 588: "discounts", 590: "line_items", 592: "orders", 732: "quotes", 728: "tasks"}
    documented[594] = "tickets"
    items = [
        item(1000 + type_id, {"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": type_id})
        for type_id in documented
    ]
    found = links(items, "carts")
    assert isinstance(found, list)
    assert [(link.to_type, link.to_id) for link in found] == [(to, str(1000 + t)) for t, to in documented.items()]
    assert [link.types for link in found] == [tuple(i["types"]) for i in items]


def test_an_item_with_two_types_to_the_same_object_type_is_one_link_keeping_both_types() -> None:
    labelled = {"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": 586, "label": "buyer"}
    assert links([item("123", CONTACT, labelled)], "carts") == [Link("contacts", "123", (CONTACT, labelled))]


def test_an_item_whose_types_lead_to_two_object_types_is_refused_with_its_position_and_types() -> None:
    found = links([item("1", CONTACT), item("2", CONTACT, LINE_ITEM)], "carts")
    assert found == refusal(2, "HUBSPOT_DEFINED/586, HUBSPOT_DEFINED/590")


def test_an_item_without_types_is_refused_as_giving_no_types() -> None:
    assert links([{"to": {"id": "1"}}], "carts") == refusal(1, "no types")
    assert links([{"to": {"id": "1"}, "types": None}], "carts") == refusal(1, "no types")
    assert links([item("1")], "carts") == refusal(1, "no types")


def test_a_user_defined_label_or_an_unknown_type_id_is_refused_as_not_telling_its_object_type() -> None:
    assert links([item("1", {"associationCategory": "USER_DEFINED", "associationTypeId": 586})], "carts") == refusal(
        1, "USER_DEFINED/586"
    )
    assert links([item("1", {"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": 12})], "carts") == refusal(
        1, "HUBSPOT_DEFINED/12"
    )


def test_a_type_id_that_is_not_an_integer_is_refused_even_when_equal_to_a_documented_one() -> None:
    for type_id in (586.0, "586", True, None):
        kind = {"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": type_id}
        assert isinstance(links([item("1", kind)], "carts"), str), type_id


def test_a_type_that_is_not_an_object_is_refused_and_shown_as_written() -> None:
    assert links([item("1", CONTACT, 586)], "carts") == refusal(1, "HUBSPOT_DEFINED/586, 586")
    assert links([item("1", {"associationTypeId": 586})], "carts") == refusal(1, "None/586")


def test_an_object_type_without_documented_targets_refuses_every_item_but_takes_none() -> None:
    assert links([item("1", CONTACT)], "deals") == refusal(1, "HUBSPOT_DEFINED/586", "deals")
    assert links([], "deals") == []


def test_describe_names_the_target_and_each_type_as_category_and_id() -> None:
    assert Link("contacts", "123", (CONTACT,)).describe() == "contacts 123 (HUBSPOT_DEFINED/586)"
    two = Link("contacts", "9", (CONTACT, {"associationTypeId": 1}))
    assert two.describe() == "contacts 9 (HUBSPOT_DEFINED/586, None/1)"


def test_link_body_sends_each_pair_as_one_input_from_the_record_to_the_target_with_its_types() -> None:
    pairs = [("512", Link("contacts", "123", (CONTACT,))), ("513", Link("contacts", "124", (CONTACT, CONTACT)))]
    assert orjson.loads(link_body(pairs)) == {
        "inputs": [
            {"from": {"id": "512"}, "to": {"id": "123"}, "types": [CONTACT]},
            {"from": {"id": "513"}, "to": {"id": "124"}, "types": [CONTACT, CONTACT]},
        ]
    }


def test_read_labels_gives_each_category_and_integer_type_id_with_its_label_or_none() -> None:
    body = orjson.dumps(
        {
            "results": [
                "not an object",  # skipped, and the results after it read
                {"category": "HUBSPOT_DEFINED", "typeId": 586, "label": None},
                {"category": "USER_DEFINED", "typeId": 12, "label": "buyer"},
                {"category": "USER_DEFINED", "typeId": 13, "label": 5},
                {"category": "USER_DEFINED", "typeId": 14},
                {"category": "USER_DEFINED", "typeId": True, "label": "a boolean is no type id"},
                {"category": "USER_DEFINED", "typeId": 15.0, "label": "nor is a float"},
                {"category": 7, "typeId": 16, "label": "a category is text"},
                {"typeId": 17, "label": "no category"},
            ]
        }
    )
    assert read_labels(body) == {
        ("HUBSPOT_DEFINED", 586): None,
        ("USER_DEFINED", 12): "buyer",
        ("USER_DEFINED", 13): None,
        ("USER_DEFINED", 14): None,
    }


def test_read_labels_of_an_answer_it_cannot_read_is_none_and_of_no_results_empty() -> None:
    for body in (None, b"", b"<html>", b"[]", b'{"results": {}}', b'{"results": null}', b"{}"):
        assert read_labels(body) is None, body
    assert read_labels(b'{"results": []}') == {}


def test_item_kinds_gives_each_type_as_category_and_id_in_order() -> None:
    kinds = item_kinds({"types": [LINE_ITEM, {"associationCategory": "USER_DEFINED", "associationTypeId": 12}]})
    assert kinds == [("HUBSPOT_DEFINED", 590), ("USER_DEFINED", 12)]
    assert item_kinds({}) == [] and item_kinds({"types": None}) == []


def test_item_kinds_is_none_when_one_type_is_not_a_category_and_an_integer_id() -> None:
    bad: list[Any] = [
        586,
        {"associationCategory": None, "associationTypeId": 586},
        {"associationTypeId": 586},
        {"associationCategory": "HUBSPOT_DEFINED"},
        {"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": True},
        {"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": "586"},
    ]
    for kind in bad:
        assert item_kinds({"types": [CONTACT, kind]}) is None, kind
