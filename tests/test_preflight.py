"""The preflight (design rule 9) against the simulator's own enforcement over loopback HTTP: each rule refuses
locally exactly the records the simulator refuses, with the same error code, and leaves what it cannot know for
sure to HubSpot; the schema is read through the budget, once, and again when stale; an unreadable schema costs
one warning; a bad upsert key is refused before anything is sent."""

from __future__ import annotations

import logging
import socket
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import anyio
import orjson
import pytest

from cartloader.api.loader import CartLoader, bulk_create
from cartloader.config import Backoff, LoaderConfig
from cartloader.errors import AuthenticationError, ConfigError
from cartloader.models import Outcome, Summary
from cartloader.simulator import Simulator
from cartloader.simulator.config import DEFAULT_SCOPES
from cartloader.simulator.state import SimStats
from tests.test_cli_support import Start, run_cli, statuses

pytestmark = pytest.mark.anyio

FAST = "1000/1s"
QUICK = Backoff(base_s=0.01, cap_s=0.05)


@dataclass(frozen=True)
class Case:
    """Values of one property, some of which the simulator refuses, on a portal configured by ``portal``."""

    property: str
    values: tuple[str, ...]
    portal: dict[str, Any] = field(default_factory=dict)


SENSITIVE_READER = DEFAULT_SCOPES | {"crm.objects.carts.sensitive.read", "crm.objects.carts.highly_sensitive.read"}

CASES = {
    # A token that may read the sensitive lists: without, a property in no list is left to HubSpot
    # (tests/test_preflight_sensitive.py).
    "unknown property": Case("hs_coupon", ("SPRING10", ""), {"tokens": {"sim-token": SENSITIVE_READER}}),
    "read-only property": Case("hs_object_id", ("12345",)),
    "value too long": Case("hs_cart_name", ("x" * 65_536, "x" * 65_537, "é" * 65_537)),
    "number": Case("hs_total_price", ("12.5", "1e3", " 7 ", "-3", ".5", "+4", "12,50", "ten", "1.2.3", "1 000", "")),
    "bool": Case("hs_buyer_accepts_marketing", ("true", "false", "yes", "1", "")),
    "date": Case(
        "delivery_date",
        ("2024-02-29", "1704067200000", "2024-02-30", "12/03/2024", "1704067200001", "soon"),
        {"properties": ("delivery_date:date",)},
    ),
    "datetime": Case(
        "hs_external_created_date",
        ("2024-01-01T10:00:00Z", "2024-01-01", "1704067200123", "yesterday", "2024-13-01T00:00:00Z", "01/02/2024"),
    ),
    "enumeration": Case("hs_currency_code", ("EUR", "USD", "euro", "eur", "XXX")),
    "multi-select": Case(
        "colors",
        ("red", "red;blue", "blue;green", "red;purple", "purple"),
        {"properties": ("colors:enumeration/checkbox:options=red|blue|green",)},
    ),
    "MIN_LENGTH rule": Case(
        "hs_source_store", ("abc", "abcd", "ab", "a"), {"rules": ("hs_source_store:MIN_LENGTH:3",)}
    ),
    "MAX_LENGTH rule": Case(
        "hs_source_store", ("abcde", "abc", "abcdef", "a" * 40), {"rules": ("hs_source_store:MAX_LENGTH:5",)}
    ),
    "MIN_NUMBER rule": Case("hs_tax", ("0", "5", "0.001", "-1", "-0.5"), {"rules": ("hs_tax:MIN_NUMBER:0",)}),
    "MAX_NUMBER rule": Case("hs_tax", ("100", "99.99", "100.01", "1e3"), {"rules": ("hs_tax:MAX_NUMBER:100",)}),
    "ALPHANUMERIC rule": Case(
        "hs_external_status",
        ("abc123", "ABC", "abc-123", "x!"),
        {"rules": ("hs_external_status:ALPHANUMERIC:ALPHANUMERIC",)},
    ),
    "ALPHA_ONLY rule": Case(
        "hs_external_status", ("abc", "Abc", "abc1", "a.b"), {"rules": ("hs_external_status:ALPHANUMERIC:ALPHA_ONLY",)}
    ),
    "NUMERIC_ONLY rule": Case(
        "hs_external_status", ("123", "007", "12a", "x"), {"rules": ("hs_external_status:ALPHANUMERIC:NUMERIC_ONLY",)}
    ),
}


def records_of(case: Case) -> list[dict[str, Any]]:
    return [{"hs_external_cart_id": f"ext-{i}", case.property: value} for i, value in enumerate(case.values, 1)]


def simulator_code(outcome: Outcome) -> str:
    """The error code of the simulator's refusal (its "Property values were not valid" problem)."""
    assert outcome.error is not None
    codes = {problem.code for problem in outcome.error.details}
    assert len(codes) == 1, codes
    return codes.pop()


async def load(
    portal: dict[str, Any], records: list[dict[str, Any]], **options: Any
) -> tuple[list[Outcome], tuple[Summary, SimStats]]:
    outcomes: list[Outcome] = []
    async with Simulator(**portal) as sim:
        summary = await bulk_create(
            records, token="sim-token", base_url=sim.url, on_outcome=outcomes.append, rate=FAST, **options
        )
        stats = sim.stats()
    return sorted(outcomes, key=lambda o: o.line), (summary, stats)


@pytest.mark.parametrize("name", CASES)
async def test_the_preflight_refuses_exactly_what_the_simulator_refuses_with_the_same_code(name: str) -> None:
    case = CASES[name]
    records = records_of(case)
    checked, (checked_summary, checked_stats) = await load(case.portal, records)
    sent, _ = await load(case.portal, records, preflight=False)

    refused_here = {o.line: o.error.category for o in checked if o.status == "invalid" and o.error}
    refused_there = {o.line: simulator_code(o) for o in sent if o.status == "failed"}
    assert refused_there, "the case has values the simulator refuses"
    assert refused_here == refused_there
    assert {o.line for o in checked if o.status == "created"} == {o.line for o in sent if o.status == "created"}
    # The refused records never left: only the others reached the simulator.
    assert checked_stats.inputs_received == len(records) - len(refused_here)
    assert checked_summary.failed == 0


async def test_a_refusal_names_the_line_the_property_and_the_value() -> None:
    records = [{"hs_cart_name": "ok", "hs_total_price": "12,50", "hs_currency_code": "euro"}]
    outcomes, _ = await load({}, records)
    (outcome,) = outcomes
    assert outcome.status == "invalid" and outcome.error is not None
    assert outcome.error.category == "INVALID_DECIMAL"
    message = outcome.error.message
    assert message.startswith("line 1: ")
    assert 'property "hs_total_price" value "12,50"' in message
    assert 'property "hs_currency_code" value "euro"' in message
    assert "(INVALID_DECIMAL, INVALID_OPTION)" in message


# Values the simulator refuses but whose refusal HubSpot does not document exactly: they are sent, so HubSpot
# (here the simulator) decides, and the record fails there instead of being withheld by a guess.
UNCERTAIN = {
    "bool in capitals": Case("hs_buyer_accepts_marketing", ("TRUE",)),
    "date with a time": Case("delivery_date", ("2024-01-01T00:00:00Z",), {"properties": ("delivery_date:date",)}),
    "space under ALPHANUMERIC": Case(
        "hs_external_status", ("ab c",), {"rules": ("hs_external_status:ALPHANUMERIC:ALPHANUMERIC",)}
    ),
    "underscore under ALPHANUMERIC": Case(
        "hs_external_status", ("a_b",), {"rules": ("hs_external_status:ALPHANUMERIC:ALPHANUMERIC",)}
    ),
    "REGEX rule": Case("hs_source_store", ("abc",), {"rules": ("hs_source_store:REGEX:[0-9]+",)}),
    "EMAIL rule": Case("hs_source_store", ("not-an-email",), {"rules": ("hs_source_store:EMAIL",)}),
    "DECIMAL rule": Case("hs_tax", ("1.234",), {"rules": ("hs_tax:DECIMAL:2",)}),
    "WHITESPACE rule": Case("hs_source_store", (" shop ",), {"rules": ("hs_source_store:WHITESPACE:TRIM",)}),
    "a number longer than HubSpot stores": Case("hs_total_price", ("1e200",)),
}


@pytest.mark.parametrize("name", UNCERTAIN)
async def test_what_the_preflight_cannot_know_for_sure_is_left_to_hubspot(name: str) -> None:
    case = UNCERTAIN[name]
    outcomes, (summary, stats) = await load(case.portal, records_of(case))
    assert [o.status for o in outcomes] == ["failed"]
    assert stats.inputs_received == 1
    assert summary.invalid == 0


# White space around a non-string value: HubSpot announced refusing it, then cancelled the change. The preflight
# leaves it to HubSpot, and HubSpot (here the simulator) accepts it.
WHITE_SPACE = {
    "option with white space": Case("hs_currency_code", (" EUR",)),
    "multi-select parts with white space": Case(
        "colors", (" red ; blue ",), {"properties": ("colors:enumeration/checkbox:options=red|blue",)}
    ),
    "bool with white space": Case("hs_buyer_accepts_marketing", (" true",)),
    "date with white space": Case("delivery_date", (" 2024-01-01",), {"properties": ("delivery_date:date",)}),
    "datetime with white space": Case("hs_external_created_date", ("2024-01-01T10:00:00Z ",)),
}


@pytest.mark.parametrize("name", WHITE_SPACE)
async def test_white_space_around_a_non_string_value_is_sent_and_created(name: str) -> None:
    case = WHITE_SPACE[name]
    outcomes, (summary, stats) = await load(case.portal, records_of(case))
    assert [o.status for o in outcomes] == ["created"]
    assert stats.inputs_received == 1
    assert summary.invalid == 0


async def test_required_properties_are_left_to_hubspot_which_publishes_no_definition_of_them() -> None:
    portal = {"required": ("hs_source_store",)}
    records = [{"hs_cart_name": "a", "hs_source_store": "north"}, {"hs_cart_name": "b"}]
    outcomes, (summary, _) = await load(portal, records)
    assert [o.status for o in outcomes] == ["created", "failed"]
    assert simulator_code(outcomes[1]) == "REQUIRED_PROPERTY_MISSING"
    assert summary.invalid == 0


async def test_the_schema_is_read_with_two_requests_counted_in_the_summary_before_the_first_batch() -> None:
    async with Simulator() as sim:
        summary = await bulk_create(
            [{"hs_cart_name": f"c{i}"} for i in range(250)], token="sim-token", base_url=sim.url, rate=FAST
        )
        stats = sim.stats()
    assert summary.created == 250
    assert summary.requests == stats.requests == 2 + 3
    assert stats.by_status == {200: 2, 201: 3}


async def test_without_the_preflight_nothing_is_read_and_hubspot_refuses_the_bad_records() -> None:
    records = [{"hs_cart_name": "a"}, {"hs_cart_name": "b", "hs_coupon": "X"}]
    outcomes, (summary, stats) = await load({}, records, preflight=False)
    assert stats.requests == summary.requests == 1
    assert [o.status for o in outcomes] == ["created", "failed"]


async def test_a_run_with_nothing_to_send_reads_nothing() -> None:
    _, (summary, stats) = await load({}, [])
    assert stats.requests == summary.requests == 0


async def test_without_the_schema_scope_one_warning_names_it_and_the_load_goes_on(
    caplog: pytest.LogCaptureFixture,
) -> None:
    portal = {"tokens": {"sim-token": frozenset({"crm.objects.carts.write"})}}
    records = [{"hs_cart_name": f"c{i}"} for i in range(150)] + [{"hs_cart_name": "bad", "hs_coupon": "X"}]
    with caplog.at_level(logging.WARNING, logger="cartloader"):
        _, (summary, stats) = await load(portal, records, batch_size=50)
    warnings = [r.getMessage() for r in caplog.records if r.name == "cartloader"]
    assert len(warnings) == 1
    assert "crm.schemas.carts.read" in warnings[0]
    assert "without the preflight" in warnings[0]
    assert summary.created == 150 and summary.failed == 1 and summary.invalid == 0
    assert stats.by_status[403] == 1  # the definitions; the rules were not asked for


async def test_a_portal_that_does_not_answer_the_schema_read_costs_one_warning(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]  # nothing listens there
    with caplog.at_level(logging.WARNING, logger="cartloader"):
        summary = await bulk_create(
            [{"hs_cart_name": "a"}], token="t", base_url=f"http://127.0.0.1:{port}", max_attempts=2, backoff=QUICK
        )
    warnings = [r.getMessage() for r in caplog.records if r.name == "cartloader"]
    assert len(warnings) == 1 and "cannot read the property definitions" in warnings[0]
    assert summary.failed == 1


async def test_a_401_on_the_schema_read_stops_the_run_before_any_batch() -> None:
    async with Simulator() as sim:
        with pytest.raises(AuthenticationError):
            await bulk_create([{"hs_cart_name": "a"}], token="wrong", base_url=sim.url, rate=FAST)
        assert sim.stats().inputs_received == 0


async def test_upsert_by_a_property_hubspot_does_not_mark_unique_is_refused_before_anything_is_sent() -> None:
    async with Simulator() as sim:
        with pytest.raises(ConfigError, match='cannot upsert by "hs_external_cart_id": HubSpot does not mark it'):
            await bulk_create(
                [{"hs_external_cart_id": "a"}],
                token="sim-token",
                base_url=sim.url,
                rate=FAST,
                upsert_by="hs_external_cart_id",
            )
        assert sim.stats().inputs_received == 0
    async with Simulator(unique=("hs_external_cart_id",)) as sim:
        summary = await bulk_create(
            [{"hs_external_cart_id": "a"}],
            token="sim-token",
            base_url=sim.url,
            rate=FAST,
            upsert_by="hs_external_cart_id",
        )
        assert summary.created == 1


async def test_records_sharing_a_unique_value_never_share_a_request() -> None:
    portal = {"properties": ("order_ref:string:unique",)}
    records = [{"hs_cart_name": f"c{i}", "order_ref": f"o-{i}"} for i in range(1, 41)]
    records[29]["order_ref"] = "o-5"  # line 30 repeats line 5's unique value
    outcomes, (summary, stats) = await load(portal, records)
    by_line = {o.line: o for o in outcomes}
    assert summary.created == 39
    # Line 30 waits for line 5 (engine/repeats.py) and, line 5 created, is refused locally: never sent.
    assert by_line[30].status == "invalid" and by_line[30].error is not None
    assert by_line[30].error.category == "DUPLICATE_IN_INPUT"
    # Without the preflight the chunker cannot know order_ref is unique: the first batch fails whole, and only
    # bisection rescues the others.
    _, (unchecked, unchecked_stats) = await load(portal, records, preflight=False)
    assert unchecked.created == 39
    assert stats.by_status.get(409, 0) == 0 < unchecked_stats.by_status.get(409, 0)


async def test_a_long_lived_loader_reads_the_schema_again_once_it_is_stale() -> None:
    async with Simulator() as sim:
        config = LoaderConfig(base_url=sim.url, schema_max_age_s=0.3)
        async with CartLoader("sim-token", config=config) as loader:
            first = await loader.create([{"hs_cart_name": "a"}])
            second = await loader.create([{"hs_cart_name": "b"}])
            reads_while_fresh = sim.stats().by_status.get(200, 0)
            await anyio.sleep(0.35)
            third = await loader.create([{"hs_cart_name": "c"}])
            reads_after = sim.stats().by_status.get(200, 0)
    assert (first.requests, second.requests, third.requests) == (3, 1, 3)
    assert (reads_while_fresh, reads_after) == (2, 4)


async def test_matching_never_assumes_the_external_id_is_unique() -> None:
    # The portal does not mark hs_external_cart_id unique; two records of one request share it, and results
    # carry no trace id: each still gets the id of the object made from it.
    records = [
        {"hs_cart_name": "first", "hs_external_cart_id": "same", "hs_source_store": "north"},
        {"hs_cart_name": "second", "hs_external_cart_id": "same", "hs_source_store": "south"},
        {"hs_cart_name": "third", "hs_external_cart_id": "other"},
    ]
    async with Simulator(echo_trace_ids="never", seed=3) as sim:
        outcomes: list[Outcome] = []
        summary = await bulk_create(records, token="sim-token", base_url=sim.url, on_outcome=outcomes.append, rate=FAST)
        names = {o.line: sim.objects[o.id].properties["hs_cart_name"] for o in outcomes if o.id}
    assert summary.created == 3 and summary.unmatched == 0
    assert names == {1: "first", 2: "second", 3: "third"}


def test_the_command_line_refuses_locally_and_prints_nothing_extra(tmp_path: Path, simulator: Start) -> None:
    sim = simulator()
    source = tmp_path / "in.ndjson"
    source.write_text('{"hs_cart_name": "a"}\n{"hs_cart_name": "b", "hs_total_price": "ten"}\n')
    result = run_cli(source, "--base-url", sim.url, cwd=tmp_path)
    assert result.returncode == 1, result.stderr
    assert statuses(tmp_path / "in.outcomes.ndjson") == {1: "created", 2: "invalid"}
    assert "warning" not in result.stderr
    assert sim.stats().inputs_received == 1


def test_no_preflight_sends_every_record(tmp_path: Path, simulator: Start) -> None:
    sim = simulator()
    source = tmp_path / "in.ndjson"
    source.write_text('{"hs_cart_name": "a"}\n{"hs_cart_name": "b", "hs_total_price": "ten"}\n')
    result = run_cli(source, "--base-url", sim.url, "--no-preflight", cwd=tmp_path)
    assert result.returncode == 1, result.stderr
    assert statuses(tmp_path / "in.outcomes.ndjson") == {1: "created", 2: "failed"}
    assert sim.stats().requests == 1


def test_the_command_line_warns_once_without_the_schema_scope(tmp_path: Path, simulator: Start) -> None:
    sim = simulator(tokens={"sim-token": frozenset({"crm.objects.carts.write"})})
    source = tmp_path / "in.ndjson"
    source.write_text('{"hs_cart_name": "a"}\n')
    result = run_cli(source, "--base-url", sim.url, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    warnings = [line for line in result.stderr.splitlines() if line.startswith("cartloader: warning: cannot read")]
    assert len(warnings) == 1 and "the token lacks the scope crm.schemas.carts.read" in warnings[0]


def test_upsert_by_a_property_that_is_not_unique_exits_2_before_any_batch(tmp_path: Path, simulator: Start) -> None:
    sim = simulator()
    source = tmp_path / "in.ndjson"
    source.write_text('{"hs_cart_name": "a", "hs_external_cart_id": "x"}\n')
    result = run_cli(source, "--base-url", sim.url, "--upsert-by", "hs_external_cart_id", cwd=tmp_path)
    assert result.returncode == 2, result.stderr
    assert "hasUniqueValue" in result.stderr
    assert sim.stats().inputs_received == 0
    again = run_cli(source, "--base-url", sim.url, cwd=tmp_path)  # the empty log left behind is no obstacle
    assert again.returncode == 0, again.stderr


def test_a_401_on_the_schema_read_exits_3(tmp_path: Path, simulator: Start) -> None:
    sim = simulator()
    source = tmp_path / "in.ndjson"
    source.write_text('{"hs_cart_name": "a"}\n')
    result = run_cli(source, "--base-url", sim.url, cwd=tmp_path, token="wrong")
    assert result.returncode == 3, result.stderr
    assert "HubSpot refused the access token" in result.stderr
    assert sim.stats().inputs_received == 0


def test_a_dry_run_with_a_token_runs_the_preflight_and_prints_each_reason(tmp_path: Path, simulator: Start) -> None:
    sim = simulator()
    source = tmp_path / "in.ndjson"
    source.write_text('{"hs_cart_name": "a"}\nnot json\n{"hs_cart_name": "b", "hs_currency_code": "euro"}\n')
    result = run_cli(source, "--dry-run", "--base-url", sim.url, "--rejects", "rejects.ndjson", cwd=tmp_path)
    assert result.returncode == 1, result.stderr
    assert "3 records read: 1 valid, 2 invalid" in result.stderr
    assert "the preflight read the portal's schema: 2 requests" in result.stderr
    reasons = [line for line in result.stderr.splitlines() if line.startswith("cartloader: invalid: ")]
    assert [reason.split(": ")[2] for reason in reasons] == ["line 2", "line 3"]
    assert "INVALID_OPTION" in reasons[1]
    assert sim.stats().requests == 2 and sim.stats().inputs_received == 0
    assert (tmp_path / "rejects.ndjson").read_text().splitlines()[
        1
    ] == '{"hs_cart_name": "b", "hs_currency_code": "euro"}'


def test_a_dry_run_without_a_token_checks_the_input_only(tmp_path: Path, simulator: Start) -> None:
    sim = simulator()
    source = tmp_path / "in.ndjson"
    source.write_text('{"hs_cart_name": "a"}\n{"hs_cart_name": "b", "hs_currency_code": "euro"}\n')
    result = run_cli(source, "--dry-run", "--base-url", sim.url, cwd=tmp_path, token=None)
    assert result.returncode == 0, result.stderr
    assert "2 records read: 2 valid, 0 invalid" in result.stderr
    assert sim.stats().requests == 0


def test_an_offline_dry_run_warns_once_and_checks_the_input(tmp_path: Path) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    source = tmp_path / "in.ndjson"
    source.write_text('{"hs_cart_name": "a"}\n')
    result = run_cli(source, "--dry-run", "--base-url", f"http://127.0.0.1:{port}", "--max-retries", "1", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    warnings = [line for line in result.stderr.splitlines() if line.startswith("cartloader: warning:")]
    assert len(warnings) == 1 and "cannot read the property definitions" in warnings[0]


def test_summary_json_counts_the_schema_reads(tmp_path: Path, simulator: Start) -> None:
    sim = simulator()
    source = tmp_path / "in.ndjson"
    source.write_text('{"hs_cart_name": "a"}\n')
    result = run_cli(source, "--base-url", sim.url, "--summary-json", "s.json", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    summary = orjson.loads((tmp_path / "s.json").read_bytes())
    assert summary["requests"] == sim.stats().requests == 3
