"""The simulator's batch create, GET and upsert answers, checked over loopback HTTP."""

from __future__ import annotations

from typing import Any

import anyio
import pytest

from tests.test_simulator_support import cart, running

pytestmark = pytest.mark.anyio


# --- authentication and routing -------------------------------------------------------------------------------


async def test_missing_token_gets_401_invalid_authentication() -> None:
    async with running() as client:
        answer = await client.create([cart(1)], token=None)
    assert answer.status == 401
    assert answer.body["category"] == "INVALID_AUTHENTICATION"
    assert answer.body["message"].startswith("Authentication credentials not found.")
    assert len(answer.body["correlationId"]) == 36


async def test_unknown_token_gets_401_invalid_authentication() -> None:
    async with running() as client:
        answer = await client.create([cart(1)], token="nope")
    assert (answer.status, answer.body["category"]) == (401, "INVALID_AUTHENTICATION")


async def test_expired_token_gets_401_expired_authentication() -> None:
    async with running() as client:
        client.sim.expire_token("sim-token")
        answer = await client.create([cart(1)])
        assert not client.sim.objects
    assert (answer.status, answer.body["category"]) == (401, "EXPIRED_AUTHENTICATION")
    assert answer.body["message"] == "The OAuth token used to make this call expired 0 second(s) ago."


async def test_added_token_is_accepted_and_token_without_write_scope_gets_403() -> None:
    async with running() as client:
        client.sim.add_token("fresh")
        client.sim.add_token("reader", scopes=frozenset({"crm.objects.carts.read"}))
        accepted = await client.create([cart(1)], token="fresh")
        refused = await client.create([cart(2)], token="reader")
    assert accepted.status == 201
    assert refused.status == 403
    assert refused.body["category"] == "MISSING_SCOPES"
    assert refused.body["errors"][0]["context"]["requiredGranularScopes"] == ["crm.objects.carts.write"]


async def test_unknown_object_type_gets_404() -> None:
    async with running() as client:
        answer = await client.request("POST", "/crm/v3/objects/wagons/batch/create", {"inputs": [cart(1)]})
    assert answer.status == 404
    assert answer.body["category"] == "OBJECT_NOT_FOUND"
    assert "wagons" in answer.body["message"]


async def test_date_versioned_path_prefix_is_served() -> None:
    async with running() as client:
        answer = await client.request("POST", "/crm/objects/2026-03/carts/batch/create", {"inputs": [cart(1)]})
    assert answer.status == 201


# --- whole-request errors -------------------------------------------------------------------------------------


async def test_more_than_100_inputs_fail_whole_with_400_creating_nothing() -> None:
    async with running() as client:
        answer = await client.create([cart(i) for i in range(101)])
        assert not client.sim.objects
    assert (answer.status, answer.body["category"]) == (400, "VALIDATION_ERROR")


async def test_exactly_100_inputs_are_accepted() -> None:
    async with running() as client:
        answer = await client.create([cart(i) for i in range(100)])
    assert answer.status == 201
    assert len(answer.body["results"]) == 100


@pytest.mark.parametrize("raw", [b"{not json", b'{"nothing": []}', b'{"inputs": {}}', b"[]", b'{"inputs": [1]}'])
async def test_malformed_body_gets_400(raw: bytes) -> None:
    async with running() as client:
        answer = await client.request("POST", "/crm/v3/objects/carts/batch/create", raw=raw)
    assert (answer.status, answer.body["category"]) == (400, "VALIDATION_ERROR")
    assert answer.body["correlationId"]


# --- per-input validation --------------------------------------------------------------------------------------


async def _single_invalid(properties: dict[str, Any]) -> dict[str, Any]:
    """Send one valid input and one with ``properties`` (unique trace ids); return the 207's only error."""
    async with running() as client:
        answer = await client.create([cart(1), {"properties": properties, "objectWriteTraceId": "bad"}])
        assert len(client.sim.objects) == 1
    assert answer.status == 207
    assert answer.body["numErrors"] == 1
    assert len(answer.body["results"]) == 1
    error: dict[str, Any] = answer.body["errors"][0]
    assert error["context"]["objectWriteTraceId"] == ["bad"]
    return error


async def test_unknown_property_is_property_doesnt_exist() -> None:
    error = await _single_invalid({"hs_cart_name": "x", "colour": "red"})
    assert error["category"] == "VALIDATION_ERROR"
    assert error["message"].startswith("Property values were not valid: ")
    assert '"error":"PROPERTY_DOESNT_EXIST"' in error["message"]
    assert error["context"]["propertyName"] == ["colour"]


@pytest.mark.parametrize("value", ["abc", "1,5", "1.2.3", "NaN", "0x10", "1_000", ".", "1e", "1e200"])
async def test_non_number_in_number_property_is_invalid_decimal(value: str) -> None:
    error = await _single_invalid({"hs_total_price": value})
    assert '"error":"INVALID_DECIMAL"' in error["message"]
    assert error["context"]["propertyName"] == ["hs_total_price"]


@pytest.mark.parametrize("value", ["usd", "US", "EURO", "E1R"])
async def test_currency_code_must_be_three_capital_letters(value: str) -> None:
    error = await _single_invalid({"hs_currency_code": value})
    assert '"error":"INVALID_OPTION"' in error["message"]


async def test_system_property_is_read_only() -> None:
    error = await _single_invalid({"hs_object_id": "5"})
    assert '"error":"READ_ONLY_VALUE"' in error["message"]


async def test_object_as_property_value_fails_the_whole_request_even_with_unique_trace_ids() -> None:
    async with running() as client:
        answer = await client.create([cart(1), {"properties": {"hs_cart_name": {"a": 1}}, "objectWriteTraceId": "x"}])
        assert not client.sim.objects
    assert (answer.status, answer.body["category"]) == (400, "VALIDATION_ERROR")
    assert "Cannot deserialize value of type `java.lang.String`" in answer.body["message"]


async def test_number_and_boolean_values_are_read_as_text() -> None:
    async with running() as client:
        answer = await client.create([{"properties": {"hs_cart_name": True, "hs_tax": 7, "hs_tags": None}}])
    props = answer.body["results"][0]["properties"]
    assert (props["hs_cart_name"], props["hs_tax"]) == ("true", "7")
    assert "hs_tags" not in props


def _associated(target: str, category: str = "HUBSPOT_DEFINED", type_id: int = 586) -> dict[str, Any]:
    return {
        "properties": {"hs_cart_name": "a"},
        "associations": [
            {"to": {"id": target}, "types": [{"associationCategory": category, "associationTypeId": type_id}]}
        ],
        "objectWriteTraceId": "bad",
    }


async def test_association_to_missing_object_is_invalid_object_ids() -> None:
    async with running(association_ids="1-9") as client:
        answer = await client.create([cart(1), _associated("77")])
    error = answer.body["errors"][0]
    assert error["message"] == "One or more associations are invalid"
    assert error["context"]["INVALID_OBJECT_IDS"] == ["77"]


async def test_association_to_existing_object_is_created() -> None:
    async with running(association_ids="1-9") as client:
        answer = await client.create([_associated("7")])
    assert answer.status == 201


@pytest.mark.parametrize(("category", "type_id"), [("HUBSPOT_DEFINED", 1), ("MADE_UP", 586), ("USER_DEFINED", -3)])
async def test_bad_association_type_or_category_is_refused(category: str, type_id: int) -> None:
    async with running() as client:
        answer = await client.create([cart(1), _associated("7", category, type_id)])
    assert answer.status == 207
    assert answer.body["errors"][0]["context"]["objectWriteTraceId"] == ["bad"]
    assert "association type" in answer.body["errors"][0]["message"]


# --- partial and whole-batch failures ----------------------------------------------------------------------------


async def test_207_creates_valid_inputs_and_reports_invalid_ones_by_trace_id() -> None:
    async with running() as client:
        inputs = [cart(1), {"properties": {"bogus": "1"}, "objectWriteTraceId": "b1"}, cart(2)]
        inputs.append({"properties": {"hs_tax": "x"}, "objectWriteTraceId": "b2"})
        answer = await client.create(inputs)
        stored = {obj.properties["hs_external_cart_id"] for obj in client.sim.objects.values()}
    assert answer.status == 207
    assert answer.body["status"] == "COMPLETE"
    assert answer.body["numErrors"] == 2
    assert sorted(e["context"]["objectWriteTraceId"][0] for e in answer.body["errors"]) == ["b1", "b2"]
    assert all(e["status"] == "error" for e in answer.body["errors"])
    assert stored == {"ext-1", "ext-2"}
    for key in ("requestedAt", "startedAt", "completedAt"):
        assert answer.body[key].endswith("Z")


@pytest.mark.parametrize("trace_ids", [None, "same"], ids=["missing", "repeated"])
async def test_without_unique_trace_ids_one_bad_input_fails_whole_batch(trace_ids: str | None) -> None:
    async with running() as client:
        inputs = [cart(1, trace=False), cart(2, trace=False), {"properties": {"bogus": "1"}}]
        if trace_ids:
            for item in inputs:
                item["objectWriteTraceId"] = trace_ids
        answer = await client.create(inputs)
        assert not client.sim.objects
    assert (answer.status, answer.body["category"]) == (400, "VALIDATION_ERROR")
    assert answer.body["errors"][0]["code"] == "PROPERTY_DOESNT_EXIST"


async def test_whole_batch_400_option_fails_batch_despite_unique_trace_ids() -> None:
    async with running(whole_batch_400=1.0) as client:
        failed = await client.create([cart(1), {"properties": {"bogus": "1"}, "objectWriteTraceId": "b"}])
        assert not client.sim.objects
        clean = await client.create([cart(2)])
    assert failed.status == 400
    assert clean.status == 201


UNIQUE_ID = ("hs_external_cart_id",)


async def test_existing_unique_value_fails_the_whole_batch_with_409_naming_the_existing_id() -> None:
    async with running(unique=UNIQUE_ID) as client:
        first = (await client.create([cart(1)])).body["results"][0]["id"]
        traced = await client.create([cart(1), cart(2)])
        untraced = await client.create([cart(1, trace=False), cart(2, trace=False)])
        stored = sorted(obj.properties["hs_external_cart_id"] for obj in client.sim.objects.values())
    for answer in (traced, untraced):
        assert (answer.status, answer.body["category"]) == (409, "CONFLICT")
        assert answer.body["message"].endswith(f"already exists. Existing ID: {first}")
        assert answer.body["errors"][0]["code"] == "OBJECT_ALREADY_EXISTS"
    assert stored == ["ext-1"]


async def test_conflicts_per_input_reports_the_conflict_in_a_207() -> None:
    async with running(unique=UNIQUE_ID, conflicts="per-input") as client:
        await client.create([cart(1)])
        whole = await client.create([cart(1, trace=False), cart(2, trace=False)])
        partial = await client.create([cart(1), cart(3)])
        stored = sorted(obj.properties["hs_external_cart_id"] for obj in client.sim.objects.values())
    assert (whole.status, whole.body["category"]) == (409, "CONFLICT")
    assert partial.status == 207
    assert partial.body["errors"][0]["category"] == "CONFLICT"
    assert partial.body["errors"][0]["context"]["objectWriteTraceId"] == ["t1"]
    assert stored == ["ext-1", "ext-3"]


async def test_unique_value_repeated_within_a_batch_fails_it_whole_or_per_input() -> None:
    twin = {"properties": {"hs_external_cart_id": "ext-1"}, "objectWriteTraceId": "twin"}
    async with running(unique=UNIQUE_ID) as client:
        whole = await client.create([cart(1), twin])
        assert not client.sim.objects
    async with running(unique=UNIQUE_ID, conflicts="per-input") as client:
        partial = await client.create([cart(1), twin])
    assert (whole.status, whole.body["category"]) == (409, "CONFLICT")
    assert partial.status == 207
    assert partial.body["errors"][0]["category"] == "CONFLICT"
    assert partial.body["errors"][0]["context"]["objectWriteTraceId"] == ["twin"]


async def test_no_property_is_unique_by_default() -> None:
    async with running() as client:
        await client.create([cart(1)])
        again = await client.create([cart(1)])
        upsert = await client.upsert([{"id": "ext-1", "idProperty": "hs_external_cart_id", "properties": {}}])
    assert again.status == 201
    assert (upsert.status, upsert.body["category"]) == (400, "VALIDATION_ERROR")


# --- successful creates ------------------------------------------------------------------------------------------


async def test_results_come_back_shuffled_and_the_shuffle_follows_the_seed() -> None:
    orders = []
    for _ in range(2):
        async with running(seed=7) as client:
            answer = await client.create([cart(i) for i in range(50)])
        orders.append([r["properties"]["hs_external_cart_id"] for r in answer.body["results"]])
    assert orders[0] == orders[1]
    assert orders[0] != [f"ext-{i}" for i in range(50)]
    assert sorted(orders[0]) == sorted(f"ext-{i}" for i in range(50))


@pytest.mark.parametrize(("setting", "expected"), [("always", True), ("never", False)])
async def test_trace_ids_are_echoed_per_setting(setting: str, expected: bool) -> None:
    async with running(echo_trace_ids=setting) as client:
        answer = await client.create([cart(i) for i in range(5)])
    for result in answer.body["results"]:
        assert ("objectWriteTraceId" in result) is expected
        if expected:
            assert result["objectWriteTraceId"] == "t" + result["properties"]["hs_external_cart_id"][4:]


async def test_sometimes_echoes_trace_ids_in_some_responses_only() -> None:
    async with running(echo_trace_ids="sometimes", seed=3) as client:
        echoed = ["objectWriteTraceId" in (await client.create([cart(i)])).body["results"][0] for i in range(20)]
    assert any(echoed)
    assert not all(echoed)


@pytest.mark.parametrize(
    ("sent", "stored"),
    [
        ("10.50", "10.5"),
        ("007", "7"),
        ("1e3", "1000"),
        ("1.0", "1"),
        (".5", "0.5"),
        ("5.", "5"),
        ("+3", "3"),
        ("-0.0", "0"),
        ("1.25E-2", "0.0125"),
        (" 42 ", "42"),
        ("123456789012345678901234567890.10", "123456789012345678901234567890.1"),
    ],
)
async def test_number_properties_are_normalized(sent: str, stored: str) -> None:
    async with running() as client:
        answer = await client.create([{"properties": {"hs_total_price": sent}}])
    assert answer.body["results"][0]["properties"]["hs_total_price"] == stored


async def test_normalize_numbers_false_keeps_numbers_as_sent() -> None:
    async with running(normalize_numbers=False) as client:
        answer = await client.create([{"properties": {"hs_tax": "010.50"}}])
    assert answer.body["results"][0]["properties"]["hs_tax"] == "010.50"


async def test_created_objects_carry_system_properties_and_timestamps() -> None:
    async with running() as client:
        answer = await client.create([cart(1, hs_currency_code="EUR")])
        result = answer.body["results"][0]
        stored = client.sim.objects[result["id"]]
    props = result["properties"]
    assert props["hs_object_id"] == result["id"]
    assert props["hs_createdate"] == props["hs_lastmodifieddate"] == result["createdAt"] == result["updatedAt"]
    assert props["hs_object_source"] == "INTEGRATION"
    assert props["hs_currency_code"] == "EUR"
    assert result["archived"] is False
    assert stored.properties == props
    assert stored.trace_id == "t1"


async def test_get_by_id_returns_default_and_requested_properties() -> None:
    async with running(unique=UNIQUE_ID) as client:
        created = (await client.create([cart(1)])).body["results"][0]
        plain = await client.request("GET", f"/crm/v3/objects/carts/{created['id']}")
        chosen = await client.request("GET", f"/crm/v3/objects/carts/{created['id']}?properties=hs_cart_name")
        by_unique = await client.request("GET", "/crm/v3/objects/carts/ext-1?idProperty=hs_external_cart_id")
        missing = await client.request("GET", "/crm/v3/objects/carts/999")
    assert plain.status == 200
    assert set(plain.body["properties"]) == {"hs_createdate", "hs_lastmodifieddate", "hs_object_id"}
    assert chosen.body["properties"]["hs_cart_name"] == "cart 1"
    assert by_unique.body["id"] == created["id"]
    assert (missing.status, missing.body["category"]) == (404, "OBJECT_NOT_FOUND")


# --- upsert ------------------------------------------------------------------------------------------------------


def _upsert_input(key: str, **props: str) -> dict[str, Any]:
    return {"id": key, "idProperty": "hs_external_cart_id", "properties": props}


async def test_upsert_creates_then_updates_by_unique_property() -> None:
    async with running(unique=UNIQUE_ID) as client:
        first = await client.upsert([_upsert_input("k1", hs_cart_name="one", hs_tax="1.50")])
        second = await client.upsert([_upsert_input("k1", hs_cart_name="uno"), _upsert_input("k2")])
        objects = list(client.sim.objects.values())
    assert first.status == 200
    assert first.body["results"][0]["new"] is True
    by_key = {r["properties"]["hs_external_cart_id"]: r for r in second.body["results"]}
    assert second.status == 200
    assert by_key["k1"]["new"] is False
    assert by_key["k1"]["id"] == first.body["results"][0]["id"]
    assert by_key["k1"]["properties"]["hs_cart_name"] == "uno"
    assert by_key["k1"]["properties"]["hs_tax"] == "1.5"
    assert by_key["k2"]["new"] is True
    assert len(objects) == 2
    assert client.sim.stats().objects_updated == 1


async def test_upsert_by_a_non_unique_property_gets_400() -> None:
    async with running() as client:
        answer = await client.upsert([{"id": "x", "idProperty": "hs_cart_name", "properties": {}}])
        assert not client.sim.objects
    assert (answer.status, answer.body["category"]) == (400, "VALIDATION_ERROR")


async def test_upsert_with_one_id_twice_in_a_batch_gets_400() -> None:
    async with running(unique=UNIQUE_ID) as client:
        answer = await client.upsert([_upsert_input("k1"), _upsert_input("k1")])
        assert not client.sim.objects
    assert answer.status == 400
    assert answer.body["message"].startswith("Duplicate IDs found in batch input")


async def test_upsert_with_invalid_input_and_unique_trace_ids_answers_207() -> None:
    async with running(unique=UNIQUE_ID) as client:
        bad = {**_upsert_input("k2", hs_tax="x"), "objectWriteTraceId": "bad"}
        answer = await client.upsert([{**_upsert_input("k1"), "objectWriteTraceId": "ok"}, bad])
    assert answer.status == 207
    assert answer.body["errors"][0]["context"]["objectWriteTraceId"] == ["bad"]
    assert answer.body["results"][0]["new"] is True


async def test_concurrent_upserts_never_store_one_unique_value_twice() -> None:
    async with running(latency_ms=(5, 20), seed=1, unique=UNIQUE_ID) as client:
        async with anyio.create_task_group() as tg:
            for n in range(10):
                tg.start_soon(client.upsert, [_upsert_input(f"k{i}", hs_cart_name=f"w{n}") for i in range(20)])
        values = [obj.properties["hs_external_cart_id"] for obj in client.sim.objects.values()]
        stats = client.sim.stats()
    assert sorted(values) == sorted(f"k{i}" for i in range(20))
    assert (stats.objects_created, stats.objects_updated) == (20, 180)
