"""The HubSpot protocol in isolation: the failure table row by row, answer parsing, result matching."""

from __future__ import annotations

import aiohttp
import pytest

from cartloader.engine.matching import match_results
from cartloader.hubspot.failures import FAILURE_TABLE, Action, classify, rule_for_no_answer, rule_for_status
from cartloader.hubspot.protocol import (
    Answer,
    MalformedAnswer,
    ResultItem,
    create_body,
    parse_answer,
    rate_limit_headers,
    upsert_body,
)
from cartloader.hubspot.transport import map_network_error
from cartloader.models import CartInput


@pytest.mark.parametrize(
    ("status", "action", "processed"),
    [
        (200, Action.ACCEPT, True),
        (201, Action.ACCEPT, True),
        (207, Action.ACCEPT, True),
        (400, Action.SPLIT, False),
        (409, Action.SPLIT, False),
        (413, Action.SPLIT, False),
        (401, Action.REFRESH_TOKEN, False),
        (403, Action.FATAL, False),
        (404, Action.FATAL, False),
        (423, Action.RETRY, False),
        (429, Action.RETRY, False),
        (477, Action.RETRY, False),
        (503, Action.RETRY, False),
        (521, Action.RETRY, False),
        (523, Action.RETRY, False),
        (500, Action.RETRY_AMBIGUOUS, True),
        (502, Action.RETRY_AMBIGUOUS, True),
        (504, Action.RETRY_AMBIGUOUS, True),
        (524, Action.RETRY_AMBIGUOUS, True),
        (599, Action.RETRY_AMBIGUOUS, True),
        (418, Action.REFUSE, False),
    ],
)
def test_failure_table_row(status: int, action: Action, processed: bool) -> None:
    rule = rule_for_status(status)
    assert (rule.action, rule.processed) == (action, processed)


def test_locked_423_waits_at_least_two_seconds() -> None:
    assert FAILURE_TABLE[423].min_wait_s >= 2.0


def test_daily_429_is_fatal_but_ten_secondly_is_retried() -> None:
    assert classify(Answer(status=429, policy="DAILY")).action is Action.FATAL
    assert classify(Answer(status=429, policy="TEN_SECONDLY_ROLLING")).action is Action.RETRY


def test_only_a_failure_to_connect_proves_the_request_was_not_processed() -> None:
    key = aiohttp.client_reqrep.ConnectionKey("h", 1, False, True, None, None, None)
    connect = aiohttp.ClientConnectorError(key, OSError(111, "refused"))
    assert rule_for_no_answer(map_network_error(connect, "h")).processed is False
    assert rule_for_no_answer(map_network_error(aiohttp.ConnectionTimeoutError(), "h")).processed is False
    for after_write in (aiohttp.ServerDisconnectedError(), TimeoutError(), aiohttp.ClientPayloadError()):
        rule = rule_for_no_answer(map_network_error(after_write, "h"))
        assert (rule.action, rule.processed) == (Action.RETRY_AMBIGUOUS, True)
        # Before the request had a connection, even a timeout or a reset proves nothing was written.
        assert rule_for_no_answer(map_network_error(after_write, "h", connected=False)).processed is False


def test_a_207_body_is_parsed_with_errors_naming_trace_ids() -> None:
    body = (
        b'{"status":"COMPLETE","results":[{"id":"7","properties":{"hs_cart_name":"a"}}],"numErrors":1,'
        b'"errors":[{"status":"error","category":"VALIDATION_ERROR","message":"bad",'
        b'"context":{"objectWriteTraceId":["r-2"]}}]}'
    )
    answer = parse_answer(207, {}, body)
    assert answer.results == [ResultItem("7", {"hs_cart_name": "a"}, None, None)]
    assert [(e.category, e.trace_ids) for e in answer.errors] == [("VALIDATION_ERROR", ("r-2",))]


@pytest.mark.parametrize("body", [b'{"results": [', b"[1, 2]", b'{"results": {"id": 1}}', b'{"results": [3]}'])
def test_a_2xx_that_cannot_be_read_is_malformed(body: bytes) -> None:
    with pytest.raises(MalformedAnswer):
        parse_answer(201, {}, body)


def test_an_error_answer_with_an_html_body_still_has_its_status() -> None:
    answer = parse_answer(502, {"Retry-After": "3"}, b"<html>Bad gateway</html>")
    assert answer.status == 502 and answer.category is None and answer.retry_after_s == 3.0


def test_a_429_body_gives_the_policy_and_error_type() -> None:
    body = b'{"status":"error","errorType":"RATE_LIMIT","policyName":"DAILY","correlationId":"c-1","message":"x"}'
    answer = parse_answer(429, {}, body)
    assert (answer.policy, answer.category, answer.correlation_id) == ("DAILY", "RATE_LIMIT", "c-1")


def test_rate_limit_headers_are_read_and_missing_or_bad_ones_are_none() -> None:
    headers = rate_limit_headers(
        {
            "X-HubSpot-RateLimit-Max": "190",
            "X-HubSpot-RateLimit-Remaining": "oops",
            "X-HubSpot-RateLimit-Interval-Milliseconds": "10000",
        }
    )
    assert (headers.max, headers.remaining, headers.interval_ms, headers.daily) == (190, None, 10000, None)


def cart(line: int, key: str, **properties: str) -> CartInput:
    return CartInput(line=line, properties=properties, key=key)


def test_every_input_carries_its_trace_id_in_create_and_upsert_bodies() -> None:
    inputs = [cart(1, "a-1", hs_external_cart_id="x"), cart(2, "a-2", hs_external_cart_id="y")]
    assert b'"objectWriteTraceId":"a-1"' in create_body(inputs) and b'"objectWriteTraceId":"a-2"' in create_body(inputs)
    upsert = upsert_body(inputs, "hs_external_cart_id")
    assert b'"id":"x","idProperty":"hs_external_cart_id"' in upsert


def test_matching_uses_trace_ids_before_properties() -> None:
    inputs = [cart(1, "k1", hs_cart_name="same"), cart(2, "k2", hs_cart_name="same")]
    results = [
        ResultItem("20", {"hs_cart_name": "same"}, "k2", None),
        ResultItem("10", {"hs_cart_name": "same"}, "k1", None),
    ]
    matching = match_results(inputs, results)
    assert sorted((i, r.id) for i, r in matching.pairs) == [(0, "10"), (1, "20")]


def test_matching_never_falls_back_to_position() -> None:
    inputs = [cart(1, "k1", hs_cart_name="a"), cart(2, "k2", hs_cart_name="b")]
    results = [ResultItem("1", {"hs_cart_name": "zzz"}, None, None), ResultItem("2", {"hs_cart_name": "b"}, None, None)]
    matching = match_results(inputs, results)
    assert [(i, r.id) for i, r in matching.pairs] == [(1, "2")]
    assert [r.id for r in matching.unmatched_results] == ["1"]
    assert matching.leftover == [0]


def test_a_distinct_external_id_does_not_name_an_input_whose_other_values_the_echo_contradicts() -> None:
    inputs = [cart(1, "k1", hs_external_cart_id="A", hs_cart_name="x"), cart(2, "k2", hs_external_cart_id="B")]
    results = [
        ResultItem("2", {"hs_external_cart_id": "B", "hs_createdate": "now"}, None, None),
        ResultItem("1", {"hs_external_cart_id": "A", "hs_cart_name": "X (renamed by a workflow)"}, None, None),
    ]
    matching = match_results(inputs, results)
    assert sorted((i, r.id) for i, r in matching.pairs) == [(1, "2")]
    assert matching.leftover == [0]


def test_a_shared_external_id_is_not_used_as_a_key() -> None:
    inputs = [
        cart(1, "k1", hs_external_cart_id="A", hs_cart_name="x"),
        cart(2, "k2", hs_external_cart_id="A", hs_cart_name="y"),
    ]
    results = [
        ResultItem("20", {"hs_external_cart_id": "A", "hs_cart_name": "y"}, None, None),
        ResultItem("10", {"hs_external_cart_id": "A", "hs_cart_name": "x"}, None, None),
    ]
    matching = match_results(inputs, results)
    assert sorted((i, r.id) for i, r in matching.pairs) == [(0, "10"), (1, "20")]


def test_every_field_of_a_2xx_is_optional_and_odd_types_are_read_as_absent() -> None:
    body = (
        b'{"status":"PENDING","results":[{"id":7,"properties":[],"objectWriteTraceId":5,"new":"yes"},'
        b'{"id":{"x":1}}],"errors":[1,{"context":{"objectWriteTraceId":"r-1"}},{"code":"C","context":[]}]}'
    )
    answer = parse_answer(200, {}, body)
    assert answer.results == [ResultItem("7", {}, None, None), ResultItem(None, {}, None, None)]
    assert [(e.category, e.trace_ids) for e in answer.errors] == [("UNKNOWN", ("r-1",)), ("C", ())]
    assert answer.batch_status == "PENDING"
    assert parse_answer(201, {}, b'{"status":"COMPLETE"}').results == []
    assert parse_answer(201, {}, b'{"errors":{"not":"a list"}}').errors == []


def test_a_whole_batch_refusal_naming_trace_ids_at_its_top_level_names_those_inputs() -> None:
    body = (
        b'{"status":"error","category":"VALIDATION_ERROR","message":"bad","context":{"objectWriteTraceId":["a","b"]}}'
    )
    answer = parse_answer(400, {}, body)
    assert [(e.category, e.message, e.trace_ids) for e in answer.errors] == [("VALIDATION_ERROR", "bad", ("a", "b"))]


@pytest.mark.parametrize(("value", "seconds"), [("7", 7.0), ("Wed, 21 Oct 2026 07:28:00 GMT", None), ("-1", None)])
def test_retry_after_is_read_in_seconds_only(value: str, seconds: float | None) -> None:
    assert parse_answer(503, {"Retry-After": value}, b"").retry_after_s == seconds


def test_an_error_answer_whose_body_is_not_an_object_still_has_its_status() -> None:
    answer = parse_answer(400, {}, b'["x"]')
    assert (answer.status, answer.category, answer.errors) == (400, None, [])


def test_a_477_asking_more_than_five_minutes_is_fatal_and_a_shorter_one_is_retried() -> None:
    assert classify(Answer(477, retry_after_s=301)).action is Action.FATAL
    assert classify(Answer(477, retry_after_s=300)).action is Action.RETRY
    assert classify(Answer(477)).action is Action.RETRY


def test_a_result_id_that_is_a_json_bool_is_no_id() -> None:
    answer = parse_answer(201, {}, b'{"status":"COMPLETE","results":[{"id":true,"properties":{}},{"id":12}]}')
    assert [result.id for result in answer.results] == [None, "12"]
