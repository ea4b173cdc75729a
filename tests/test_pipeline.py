"""The pipeline core against the simulator over real loopback HTTP: records in, every record's outcome back."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator, Sequence
from pathlib import Path
from typing import Any

import anyio
import orjson
import pytest

from cartloader.api.loader import CartLoader, bulk_create
from cartloader.engine.pipeline import first_cause
from cartloader.errors import AuthenticationError
from cartloader.models import CartInput, Outcome, Settled
from cartloader.simulator import Simulator
from tests.test_cli_support import SENSITIVE_READER

pytestmark = pytest.mark.anyio

FAST = "1000/1s"  # the loader's budget: far above what these tests send


def carts(count: int, *, start: int = 1) -> list[dict[str, Any]]:
    return [
        {
            "hs_cart_name": f"cart {i}",
            "hs_external_cart_id": f"ext-{i}",
            "hs_total_price": f"{i}.50",
            "hs_currency_code": "EUR",
        }
        for i in range(start, start + count)
    ]


def read_log(log: Path) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """The entries of an outcome log and its meta file."""
    entries = [orjson.loads(line) for line in log.read_bytes().splitlines()]
    return entries, orjson.loads(Path(f"{log}.meta.json").read_bytes())


class Recorder:
    """An outcome sink that remembers the order of pending and final entries."""

    def __init__(self) -> None:
        self.events: list[tuple[str, int]] = []
        self.outcomes: list[Outcome] = []

    def pending(self, inputs: Sequence[CartInput]) -> None:
        self.events.extend(("pending", record.line) for record in inputs)

    def settled(self, results: Sequence[Settled]) -> None:
        for outcome, _ in results:
            self.events.append(("final", outcome.line))
            self.outcomes.append(outcome)


async def test_shuffled_results_without_trace_ids_map_each_id_to_its_input() -> None:
    records = carts(450)
    async with Simulator(echo_trace_ids="never", seed=3) as sim:
        outcomes: list[Outcome] = []
        summary = await bulk_create(records, token="sim-token", base_url=sim.url, on_outcome=outcomes.append, rate=FAST)
        assert summary.created == 450
        assert summary.unmatched == 0
        for outcome in outcomes:
            assert outcome.id is not None
            stored = sim.objects[outcome.id]
            assert stored.properties["hs_external_cart_id"] == f"ext-{outcome.line}"
            assert stored.properties["hs_cart_name"] == f"cart {outcome.line}"


async def test_results_match_after_hubspot_normalizes_numbers() -> None:
    records = [{"hs_cart_name": "same", "hs_total_price": price} for price in ("10.50", "007", "1e3", "2.000")]
    async with Simulator(echo_trace_ids="never", seed=1) as sim:
        outcomes: list[Outcome] = []
        await bulk_create(records, token="sim-token", base_url=sim.url, on_outcome=outcomes.append, rate=FAST)
        prices = {o.line: sim.objects[o.id].properties["hs_total_price"] for o in outcomes if o.id}
    assert prices == {1: "10.5", 2: "7", 3: "1000", 4: "2"}


async def test_a_record_whose_properties_are_a_subset_of_another_gets_its_own_id() -> None:
    records = [
        {"hs_cart_name": "a"},
        {"hs_cart_name": "a", "hs_source_store": "north"},
        {"hs_cart_name": "a", "hs_source_store": "north", "hs_tags": "x"},
    ] * 5
    async with Simulator(echo_trace_ids="never", seed=7) as sim:
        outcomes: list[Outcome] = []
        await bulk_create(records, token="sim-token", base_url=sim.url, on_outcome=outcomes.append, rate=FAST)
        for outcome in outcomes:
            assert outcome.id is not None
            stored = {k: v for k, v in sim.objects[outcome.id].properties.items() if not k.startswith("hs_object")}
            sent = records[outcome.line - 1]
            assert {k: stored.get(k) for k in ("hs_cart_name", "hs_source_store", "hs_tags")} == {
                k: sent.get(k) for k in ("hs_cart_name", "hs_source_store", "hs_tags")
            }


async def test_identical_records_each_get_a_distinct_id_with_the_same_content() -> None:
    records = [{"hs_cart_name": "twin", "hs_total_price": "5"}] * 30
    async with Simulator(echo_trace_ids="never", seed=2) as sim:
        outcomes: list[Outcome] = []
        summary = await bulk_create(records, token="sim-token", base_url=sim.url, on_outcome=outcomes.append, rate=FAST)
        ids = [o.id for o in outcomes]
        assert summary.created == 30 and summary.unmatched == 0
        assert len(set(ids)) == 30 and None not in ids
        assert all(sim.objects[i].properties["hs_cart_name"] == "twin" for i in ids if i)


async def test_same_properties_with_different_associations_are_sent_apart_and_never_guessed() -> None:
    def cart(contact: int) -> dict[str, Any]:
        kind = {"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": 586}
        association = {"to": {"id": str(123_456_000 + contact)}, "types": [kind]}
        return {"properties": {"hs_cart_name": "twin"}, "associations": [association]}

    async with Simulator(echo_trace_ids="never", seed=2) as sim:
        outcomes: list[Outcome] = []
        summary = await bulk_create(
            [cart(1), cart(2)], token="sim-token", base_url=sim.url, on_outcome=outcomes.append, rate=FAST
        )
        links = {source: [str(link["toObjectId"]) for link in found] for source, found in sim.associations.items()}
    # Issue 24 part 2: such twins never share a request, so each answer names its one input (they used to
    # share one and come back created, flagged unmatched, without an id).
    assert summary.created == 2
    assert summary.unmatched == 0
    assert sorted(links[o.id or ""] for o in outcomes) == [["123456001"], ["123456002"]]
    assert {o.line: links[o.id or ""] for o in outcomes} == {1: ["123456001"], 2: ["123456002"]}


async def test_partial_failures_fail_only_the_bad_records_in_one_request() -> None:
    records = carts(100)
    records[9]["hs_total_price"] = "ten"
    records[49]["hs_currency_code"] = "euro"
    records[89]["no_such_property"] = "x"
    async with Simulator(seed=4) as sim:
        outcomes: list[Outcome] = []
        summary = await bulk_create(
            records, token="sim-token", base_url=sim.url, on_outcome=outcomes.append, rate=FAST, preflight=False
        )
        assert sim.stats().requests == 1
        assert len(sim.objects) == 97
    failed = {o.line: o for o in outcomes if o.status == "failed"}
    assert set(failed) == {10, 50, 90}
    assert all(o.error is not None and o.error.category == "VALIDATION_ERROR" for o in failed.values())
    assert all(o.error is not None and o.error.status == 400 for o in failed.values())
    assert summary.created == 97 and summary.failed == 3 and summary.requests == 1


@pytest.mark.parametrize(("bad_lines", "max_requests"), [((37,), 15), ((5, 77), 27)])
async def test_whole_batch_400_is_bisected_near_the_minimum_number_of_requests(
    bad_lines: tuple[int, ...], max_requests: int
) -> None:
    records = carts(100)
    for line in bad_lines:
        records[line - 1]["hs_total_price"] = "not a number"
    async with Simulator(whole_batch_400=1.0, seed=5) as sim:
        outcomes: list[Outcome] = []
        summary = await bulk_create(
            records, token="sim-token", base_url=sim.url, on_outcome=outcomes.append, rate=FAST, preflight=False
        )
        assert len(sim.objects) == 100 - len(bad_lines)
        requests = sim.stats().requests
    # One bad input among n costs 1 + 2 * ceil(log2 n) requests when bisecting.
    assert requests <= max_requests
    assert summary.requests == requests
    assert {o.line for o in outcomes if o.status == "failed"} == set(bad_lines)
    assert summary.created == 100 - len(bad_lines)


async def test_async_iterable_input_is_loaded() -> None:
    async def source() -> AsyncIterator[dict[str, Any]]:
        for record in carts(250):
            await anyio.lowlevel.checkpoint()
            yield record

    async with Simulator(seed=6) as sim:
        summary = await bulk_create(source(), token="sim-token", base_url=sim.url, rate=FAST)
        assert summary.created == 250 and len(sim.objects) == 250


async def test_invalid_records_become_outcomes_naming_the_position_and_are_never_sent() -> None:
    bad_shape = {"properties": {"hs_cart_name": "x"}, "extra": 1}
    records: list[Any] = [*carts(3), "not an object", bad_shape, *carts(2, start=10)]
    async with Simulator(seed=6) as sim:
        outcomes: list[Outcome] = []
        summary = await bulk_create(records, token="sim-token", base_url=sim.url, on_outcome=outcomes.append, rate=FAST)
        assert sim.stats().inputs_received == 5
    invalid = {o.line: o for o in outcomes if o.status == "invalid"}
    assert set(invalid) == {4, 5}
    assert invalid[4].error is not None and invalid[4].error.message.startswith("line 4:")
    assert summary.invalid == 2 and summary.created == 5


async def test_source_is_never_read_more_than_a_few_batches_ahead_of_sending() -> None:
    pulled = 0
    sent_max_ahead = 0
    settled = 0

    def source() -> Iterator[dict[str, Any]]:
        nonlocal pulled, sent_max_ahead
        for record in carts(400):
            pulled += 1
            sent_max_ahead = max(sent_max_ahead, pulled - settled)
            yield record

    def count(_: Outcome) -> None:
        nonlocal settled
        settled += 1

    concurrency, batch_size = 2, 10
    async with Simulator(latency_ms=(40.0, 60.0), seed=8) as sim:
        await bulk_create(
            source(),
            token="sim-token",
            base_url=sim.url,
            on_outcome=count,
            concurrency=concurrency,
            batch_size=batch_size,
            rate=FAST,
        )
    # Each worker holds one batch, the send stream one more, the chunker one in the making.
    assert sent_max_ahead <= (concurrency + 2) * batch_size + 1
    assert settled == 400


async def test_every_record_is_logged_pending_then_final_exactly_once() -> None:
    records = carts(230)
    records[17]["hs_total_price"] = "bad"
    recorder = Recorder()
    async with Simulator(seed=9) as sim:
        summary = await bulk_create(
            records,
            token="sim-token",
            base_url=sim.url,
            outcome_log=recorder,
            batch_size=50,
            rate=FAST,
            preflight=False,  # so that HubSpot itself fails the bad record
        )
    pending_at: dict[int, int] = {}
    final_at: dict[int, int] = {}
    for position, (kind, line) in enumerate(recorder.events):
        target = pending_at if kind == "pending" else final_at
        assert line not in target, f"line {line} logged {kind} twice"
        target[line] = position
    assert set(final_at) == set(range(1, 231))
    assert all(pending_at[line] < final_at[line] for line in final_at)
    assert summary.total == 230 and summary.created == 229 and summary.failed == 1


async def test_outcome_key_is_the_trace_id_sent_own_or_generated_from_run_id_and_line() -> None:
    own = {"properties": {"hs_cart_name": "mine"}, "objectWriteTraceId": "my-trace-1"}
    records: list[dict[str, Any]] = [own, *carts(2)]
    async with Simulator(seed=10) as sim, CartLoader("sim-token", base_url=sim.url, rate=FAST) as loader:
        outcomes: list[Outcome] = []
        await loader.create(records, on_outcome=outcomes.append)
        by_line = {o.line: o for o in outcomes}
        stored_trace = {o.line: sim.objects[o.id].trace_id for o in outcomes if o.id}
    assert by_line[1].key == "my-trace-1"
    key2, key3 = by_line[2].key, by_line[3].key
    assert key2 is not None and key3 is not None
    assert key2.endswith("-2") and key3.endswith("-3")
    assert key2.removesuffix("-2") == key3.removesuffix("-3")  # one run id
    assert stored_trace == {line: o.key for line, o in by_line.items()}


async def test_stream_yields_every_final_outcome_as_it_comes() -> None:
    async with (
        Simulator(seed=11) as sim,
        CartLoader("sim-token", base_url=sim.url, rate=FAST, batch_size=20) as loader,
        loader.stream(carts(95)) as outcomes,
    ):
        lines = [outcome.line async for outcome in outcomes]
    assert sorted(lines) == list(range(1, 96))


async def test_leaving_a_stream_early_stops_sending_and_logs_what_was_answered() -> None:
    recorder = Recorder()
    async with (
        Simulator(latency_ms=(30.0, 40.0), seed=12) as sim,
        CartLoader("sim-token", base_url=sim.url, rate=FAST, batch_size=10, concurrency=2) as loader,
    ):
        async with loader.stream(carts(2000), outcome_log=recorder) as outcomes:
            async for _ in outcomes:
                break
        await anyio.sleep(0.2)
        stored = set(sim.objects)
    logged = {o.id for o in recorder.outcomes if o.id}
    assert logged == stored
    assert 0 < len(stored) < 2000


async def test_a_fatal_error_in_a_stream_is_raised_as_itself() -> None:
    async with Simulator(seed=13) as sim, CartLoader("wrong-token", base_url=sim.url, rate=FAST) as loader:
        with pytest.raises(AuthenticationError):
            async with loader.stream(carts(10)) as outcomes:
                async for _ in outcomes:
                    pass


async def test_a_library_outcome_log_holds_one_final_line_per_record_with_keys_from_its_run_id(
    tmp_path: Path,
) -> None:
    log = tmp_path / "carts.outcomes.ndjson"
    records: list[Any] = [*carts(120), "not a record"]
    async with Simulator(seed=14) as sim:
        await bulk_create(records, token="sim-token", base_url=sim.url, outcome_log=str(log), batch_size=50, rate=FAST)
    entries, meta = read_log(log)
    final = [e for e in entries if e["status"] != "pending"]
    assert sorted(e["line"] for e in final) == list(range(1, 122))
    run_id = meta["run_id"]
    assert all(e["key"] == f"{run_id}-{e['line']}" for e in final if e["status"] == "created")


def test_first_cause_is_the_first_leaf_depth_first_with_the_others_in_its_notes() -> None:
    first = ValueError("first")
    inner = KeyError("inner")
    group = BaseExceptionGroup("run", [ExceptionGroup("worker", [first, inner]), first, RuntimeError("last")])
    assert first_cause(group) is first
    # The same error met twice is not noted as another.
    assert first.__notes__ == ["also raised: KeyError: 'inner'", "also raised: RuntimeError: last"]


async def test_records_refused_before_sending_carry_their_echoed_values() -> None:
    echoed: dict[int, dict[str, str | None]] = {}

    def keep(outcome: Outcome) -> None:
        assert outcome.status == "invalid"
        echoed[outcome.line] = dict(outcome.echoed or {})

    records = [{"hs_cart_name": "unknown property", "no_such_property": "x"}, {"hs_cart_name": "no key"}]
    # A token that may read the sensitive lists: the preflight refuses the unknown property (line 1) locally; the
    # upsert key missing (line 2) is refused as its batch is made.
    sensitive = {"sim-token": SENSITIVE_READER}
    async with Simulator(properties=("order_ref:string:unique",), tokens=sensitive, seed=15) as sim:
        async with CartLoader(
            "sim-token", base_url=sim.url, rate=FAST, echo="hs_cart_name", upsert_by="order_ref"
        ) as loader:
            summary = await loader.create(records, on_outcome=keep)
        assert sim.stats().inputs_received == 0
    assert summary.invalid == 2
    assert echoed == {1: {"hs_cart_name": "unknown property"}, 2: {"hs_cart_name": "no key"}}
