"""The failure table (design rule 4) and answer parsing as pure functions: fast, focused tests of
``cartloader/hubspot/failures.py`` and ``cartloader/hubspot/protocol.py`` (what their mutation runs use;
tests/test_failure_table.py drives the same rows through the loader over HTTP)."""

from __future__ import annotations

import orjson
import pytest

from cartloader.hubspot.failures import (
    ACCEPT,
    CONNECT_FAILED,
    DAILY_LIMIT,
    MIGRATION_TOO_LONG,
    SENT_THEN_LOST,
    Action,
    Rule,
    classify,
    input_status,
    rule_for_no_answer,
    rule_for_status,
    single_input_category,
)
from cartloader.hubspot.protocol import (
    Answer,
    ApiError,
    Endpoint,
    MalformedAnswer,
    ResultItem,
    create_body,
    objects_path,
    parse_answer,
    rate_limit_headers,
    upsert_body,
)
from cartloader.hubspot.transport import NoAnswer
from cartloader.models import CartInput, RateLimitHeaders

# --- the failure table ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "action", "processed", "wait"),
    [
        (200, Action.ACCEPT, True, 0.0),
        (201, Action.ACCEPT, True, 0.0),
        (207, Action.ACCEPT, True, 0.0),
        (299, Action.ACCEPT, True, 0.0),
        (400, Action.SPLIT, False, 0.0),
        (409, Action.SPLIT, False, 0.0),
        (413, Action.SPLIT, False, 0.0),
        (401, Action.REFRESH_TOKEN, False, 0.0),
        (403, Action.FATAL, False, 0.0),
        (404, Action.FATAL, False, 0.0),
        (423, Action.RETRY, False, 2.0),
        (429, Action.RETRY, False, 0.0),
        (477, Action.RETRY, False, 0.0),
        (503, Action.RETRY, False, 0.0),
        (521, Action.RETRY, False, 0.0),
        (523, Action.RETRY, False, 0.0),
        (500, Action.RETRY_AMBIGUOUS, True, 0.0),
        (502, Action.RETRY_AMBIGUOUS, True, 0.0),
        (504, Action.RETRY_AMBIGUOUS, True, 0.0),
        (524, Action.RETRY_AMBIGUOUS, True, 0.0),
        # Statuses the table does not name: other 4xx are refusals, other 5xx may have been processed.
        (300, Action.REFUSE, False, 0.0),
        (199, Action.REFUSE, False, 0.0),
        (418, Action.REFUSE, False, 0.0),
        (499, Action.REFUSE, False, 0.0),
        (501, Action.RETRY_AMBIGUOUS, True, 0.0),
        (599, Action.RETRY_AMBIGUOUS, True, 0.0),
    ],
)
def test_each_status_has_its_row(status: int, action: Action, processed: bool, wait: float) -> None:
    assert rule_for_status(status) == Rule(action, processed, wait)
    assert classify(Answer(status=status)) == Rule(action, processed, wait)


def test_a_daily_429_is_fatal_and_a_ten_secondly_one_is_resent() -> None:
    assert classify(Answer(status=429, policy="DAILY")) is DAILY_LIMIT
    assert Rule(Action.FATAL, processed=False) == DAILY_LIMIT
    assert classify(Answer(status=429, policy="TEN_SECONDLY_ROLLING")) == Rule(Action.RETRY, processed=False)
    assert classify(Answer(status=429)) == Rule(Action.RETRY, processed=False)
    assert classify(Answer(status=200, policy="DAILY")) is ACCEPT  # the policy matters only on a 429


@pytest.mark.parametrize(("retry_after", "fatal"), [(None, False), (0.0, False), (300.0, False), (300.5, True)])
def test_a_477_stops_the_run_only_when_it_asks_for_more_than_five_minutes(
    retry_after: float | None, fatal: bool
) -> None:
    rule = classify(Answer(status=477, retry_after_s=retry_after))
    assert (rule is MIGRATION_TOO_LONG) == fatal
    assert rule.action is (Action.FATAL if fatal else Action.RETRY)
    assert classify(Answer(status=503, retry_after_s=900.0)).action is Action.RETRY  # only a 477 is judged so


def test_no_answer_is_ambiguous_unless_the_request_provably_never_left() -> None:
    assert rule_for_no_answer(NoAnswer("reset", host="h", written=True, timed_out=False)) is SENT_THEN_LOST
    assert rule_for_no_answer(NoAnswer("refused", host="h", written=False, timed_out=False)) is CONNECT_FAILED
    assert Rule(Action.RETRY_AMBIGUOUS, processed=True) == SENT_THEN_LOST
    assert Rule(Action.RETRY, processed=False) == CONNECT_FAILED


def test_a_413_alone_is_too_large_and_other_refusals_keep_hubspots_category() -> None:
    assert single_input_category(413) == "TOO_LARGE"
    assert single_input_category(400) is None
    assert single_input_category(409) is None


def test_an_input_error_gets_the_status_it_would_fail_a_whole_request_with() -> None:
    assert input_status("CONFLICT") == 409
    assert input_status("VALIDATION_ERROR") == 400
    assert input_status("INVALID_OPTION") == 400


# --- paths and bodies -----------------------------------------------------------------------------------


def test_paths_follow_the_api_version_unless_an_api_path_is_given() -> None:
    assert objects_path("v3") == "/crm/v3/objects"
    assert objects_path("2026-09") == "/crm/objects/2026-09"
    v3 = Endpoint("https://api.example.com/", api_version="v3")
    assert v3.create_url == "https://api.example.com/crm/v3/objects/carts/batch/create"
    assert v3.upsert_url == "https://api.example.com/crm/v3/objects/carts/batch/upsert"
    assert v3.properties_url == "https://api.example.com/crm/v3/properties/carts"
    assert v3.validations_url == "https://api.example.com/crm/v3/property-validations/0-142"
    dated = Endpoint("https://h", object_type="deals", api_version="2026-03")
    assert dated.create_url == "https://h/crm/objects/2026-03/deals/batch/create"
    assert dated.properties_url == "https://h/crm/properties/2026-03/deals"
    assert dated.validations_url == "https://h/crm/property-validations/2026-03/0-3"
    assert Endpoint("https://h", object_type="wagons").validations_url.endswith("/wagons")
    custom = Endpoint("https://h", api_path="/custom/objects/", api_version="v3")
    assert custom.create_url == "https://h/custom/objects/carts/batch/create"
    assert custom.associations_url("contacts") == "https://h/crm/v4/associations/carts/contacts/batch/create"


def test_bodies_carry_every_input_with_its_trace_id_and_associations_only_in_a_create() -> None:
    to = [{"to": {"id": "7"}, "types": [{"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": 1}]}]
    plain = CartInput(1, {"ref": "a"}, key="k1")
    linked = CartInput(2, {"ref": "b"}, associations=to, key="k2")
    assert orjson.loads(create_body([plain, linked])) == {
        "inputs": [
            {"properties": {"ref": "a"}, "objectWriteTraceId": "k1"},
            {"properties": {"ref": "b"}, "associations": to, "objectWriteTraceId": "k2"},
        ]
    }
    # Upsert inputs have no associations field (HubSpot drops them): they are written afterwards, through v4.
    assert orjson.loads(upsert_body([plain, linked], "ref")) == {
        "inputs": [
            {"id": "a", "idProperty": "ref", "properties": {"ref": "a"}, "objectWriteTraceId": "k1"},
            {"id": "b", "idProperty": "ref", "properties": {"ref": "b"}, "objectWriteTraceId": "k2"},
        ]
    }


# --- parsing answers ------------------------------------------------------------------------------------


def parse(status: int, body: object, headers: dict[str, str] | None = None) -> Answer:
    raw = body if isinstance(body, bytes) else orjson.dumps(body)
    return parse_answer(status, headers or {}, raw)


def test_a_2xx_gives_its_results_with_ids_properties_trace_ids_and_new() -> None:
    answer = parse(
        200,
        {
            "status": "COMPLETE",
            "results": [
                {"id": "1", "properties": {"a": "x"}, "objectWriteTraceId": "k1", "new": False},
                {"id": 2, "properties": None, "objectWriteTraceId": 5, "new": "yes"},
                {"properties": {"b": "y"}},
                {"id": 1.5},
            ],
        },
    )
    assert answer.status == 200 and answer.batch_status == "COMPLETE"
    assert answer.results == [
        ResultItem("1", {"a": "x"}, "k1", False),
        ResultItem("2", {}, None, None),
        ResultItem(None, {"b": "y"}, None, None),
        ResultItem(None, {}, None, None),
    ]
    assert answer.errors == []


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b"{not json", "invalid JSON"),
        (b"[]", "body is not a JSON object$"),
        (b'{"results": {}}', "results is not a list$"),
        (b'{"results": [1]}', "a result is not an object$"),
    ],
)
def test_a_2xx_that_cannot_be_read_is_malformed(body: bytes, reason: str) -> None:
    for status in (200, 201, 299):
        with pytest.raises(MalformedAnswer, match=f"^{reason}"):
            parse_answer(status, {}, body)
    assert parse_answer(300, {}, body).status == 300  # only a 2xx must be readable


def test_an_empty_2xx_body_is_not_a_json_object() -> None:
    with pytest.raises(MalformedAnswer, match=r"^body is not a JSON object$"):
        parse_answer(201, {}, b"")


def test_only_a_2xx_has_results_and_a_batch_status() -> None:
    body = {"status": "COMPLETE", "results": [{"id": "1"}]}
    assert [r.id for r in parse(200, body).results] == ["1"]
    assert parse(200, body).batch_status == "COMPLETE"
    assert parse(300, body).results == [] and parse(300, body).batch_status is None


def test_a_2xx_without_a_results_list_has_no_results() -> None:
    assert parse(200, {"status": "PENDING"}).results == []
    assert parse(200, {"status": "PENDING"}).batch_status == "PENDING"


@pytest.mark.parametrize("body", [b"<html>bad gateway</html>", b"[1]", b""])
def test_an_error_status_with_an_unreadable_body_keeps_its_status(body: bytes) -> None:
    answer = parse_answer(502, {"Retry-After": "3"}, body)
    assert (answer.status, answer.category, answer.errors, answer.retry_after_s) == (502, None, [], 3.0)


def test_a_207_names_each_failed_input_and_keeps_every_error() -> None:
    answer = parse(
        207,
        {
            "status": "COMPLETE",
            "results": [{"id": "9", "objectWriteTraceId": "k1"}],
            "errors": [
                {
                    "category": "VALIDATION_ERROR",
                    "message": "bad price",
                    "context": {"objectWriteTraceId": ["k2", 7], "propertyName": ["price"]},
                },
                {"code": "CONFLICT", "message": "exists", "context": {"objectWriteTraceId": "k3", "id": ["12", 13]}},
                {"message": "no category"},
                "not an error",
                {"category": 5, "message": 6, "context": []},
            ],
        },
    )
    assert [r.id for r in answer.results] == ["9"]
    assert answer.errors == [
        ApiError(
            "VALIDATION_ERROR", "bad price", ("k2",), {"objectWriteTraceId": ("k2", "7"), "propertyName": ("price",)}
        ),
        ApiError("CONFLICT", "exists", ("k3",), {"objectWriteTraceId": ("k3",), "id": ("12", "13")}),
        ApiError("UNKNOWN", "no category", (), {}),
        ApiError("UNKNOWN", "", (), {}),
    ]


def test_a_whole_batch_refusal_reads_its_top_level_and_the_trace_ids_it_names() -> None:
    answer = parse(
        400,
        {
            "status": "error",
            "category": "VALIDATION_ERROR",
            "message": "Property values were not valid",
            "correlationId": "c-1",
            "context": {"objectWriteTraceId": ["k4"], "propertyName": "price", "flag": True},
            "results": [{"id": "ignored"}],
        },
    )
    assert (answer.category, answer.message, answer.correlation_id) == (
        "VALIDATION_ERROR",
        "Property values were not valid",
        "c-1",
    )
    assert answer.results == []  # only a 2xx has results
    assert answer.errors == [ApiError("VALIDATION_ERROR", "Property values were not valid", ("k4",))]
    assert answer.context == {"objectWriteTraceId": ("k4",), "propertyName": ("price",)}
    assert answer.context_values("propertyName") == ("price",)


def test_a_top_level_naming_inputs_without_category_or_message_still_names_them() -> None:
    answer = parse(409, {"context": {"objectWriteTraceId": "k5"}})
    assert answer.errors == [ApiError("UNKNOWN", "", ("k5",))]


def test_the_error_type_stands_in_for_a_missing_category_and_a_429_names_its_policy() -> None:
    answer = parse(429, {"errorType": "RATE_LIMIT", "policyName": "DAILY", "message": "spent"})
    assert (answer.category, answer.policy, answer.message) == ("RATE_LIMIT", "DAILY", "spent")
    assert parse(429, {"category": "X", "errorType": "Y"}).category == "X"


def test_context_values_collects_each_value_once_across_the_top_level_and_every_error() -> None:
    answer = Answer(
        status=403,
        context={"requiredGranularScopes": ("a", "b")},
        errors=[
            ApiError("MISSING_SCOPES", "", context={"requiredGranularScopes": ("b", "c")}),
            ApiError("OTHER", "", context={"else": ("z",)}),
        ],
    )
    assert answer.context_values("requiredGranularScopes") == ("a", "b", "c")
    assert answer.context_values("absent") == ()


@pytest.mark.parametrize(
    ("value", "seconds"), [("2", 2.0), ("0.5", 0.5), ("0", 0.0), ("-1", None), ("Wed, 21 Oct 2015 07:28:00 GMT", None)]
)
def test_retry_after_is_read_in_seconds_and_anything_else_is_ignored(value: str, seconds: float | None) -> None:
    assert parse_answer(503, {"Retry-After": value}, b"").retry_after_s == seconds
    assert parse_answer(503, {}, b"").retry_after_s is None


def test_rate_limit_headers_are_read_each_optional() -> None:
    headers = {
        "X-HubSpot-RateLimit-Max": "190",
        "X-HubSpot-RateLimit-Remaining": "185",
        "X-HubSpot-RateLimit-Interval-Milliseconds": "10000",
        "X-HubSpot-RateLimit-Daily": "625000",
        "X-HubSpot-RateLimit-Daily-Remaining": "624000",
    }
    assert rate_limit_headers(headers) == RateLimitHeaders(
        max=190, remaining=185, interval_ms=10000, daily=625000, daily_remaining=624000
    )
    assert rate_limit_headers({"X-HubSpot-RateLimit-Max": "many"}).max is None
    assert rate_limit_headers({}) == RateLimitHeaders(None, None, None, None, None)


def test_an_error_context_keeps_strings_and_integers_only() -> None:
    answer = parse(400, {"errors": [{"category": "C", "context": {"names": ["a", 7, 1.5, None, True, {"x": 1}]}}]})
    assert answer.errors[0].context == {"names": ("a", "7")}
