"""Reading the v4 batch associations answer: which (from id, to id) pairs HubSpot says it wrote."""

from __future__ import annotations

import orjson

from cartloader.hubspot.associations import written_pairs


def test_written_pairs_reads_string_and_integer_ids_as_strings() -> None:
    body = orjson.dumps(
        {"results": [{"fromObjectId": "512", "toObjectId": 901}, {"fromObjectId": 7, "toObjectId": "8"}]}
    )
    assert written_pairs(body) == {("512", "901"), ("7", "8")}


def test_written_pairs_takes_no_boolean_float_or_missing_value_for_an_id() -> None:
    body = orjson.dumps(
        {
            "results": [
                {"fromObjectId": True, "toObjectId": 901},
                {"fromObjectId": "512", "toObjectId": False},
                {"fromObjectId": 1.5, "toObjectId": "2"},
                {"toObjectId": "3"},
                "not an object",
            ]
        }
    )
    assert written_pairs(body) == set()


def test_written_pairs_of_no_body_or_a_body_that_is_not_json_is_empty() -> None:
    assert written_pairs(None) == set()
    assert written_pairs(b"<html>") == set()
    assert written_pairs(b'{"results": 3}') == set()
