"""Irregular answers as named faults, forced on the N-th batch request or drawn at a probability."""

from __future__ import annotations

import pytest

from cartloader.errors import ConfigError
from cartloader.simulator import IRREGULAR_FAULTS, Simulator
from cartloader.simulator.cli import build_parser, config_from_args
from tests.test_simulator_support import cart, running

pytestmark = pytest.mark.anyio

BAD = {"properties": {"hs_tax": "x"}, "objectWriteTraceId": "bad"}


async def test_forced_fault_strikes_only_the_nth_batch_request() -> None:
    async with running(faults_at={2: "pre_503"}) as client:
        statuses = [(await client.create([cart(i)])).status for i in range(3)]
        stats = client.sim.stats()
    assert statuses == [201, 503, 201]
    assert stats.faults_injected == {"pre_503": 1}


async def test_missing_result_processes_every_input_and_leaves_one_result_out() -> None:
    async with running(faults_at={1: "missing_result"}) as client:
        answer = await client.create([cart(1), cart(2), cart(3)])
        assert len(client.sim.objects) == 3
    assert answer.status == 201
    assert len(answer.body["results"]) == 2


async def test_stray_result_adds_a_result_that_matches_no_input() -> None:
    async with running(faults_at={1: "stray_result"}, echo_trace_ids="always") as client:
        answer = await client.create([cart(1), cart(2)])
        stored = set(client.sim.objects)
    ids = {r["id"] for r in answer.body["results"]}
    assert len(ids) == 3
    (stray,) = ids - stored
    (stray_result,) = [r for r in answer.body["results"] if r["id"] == stray]
    assert stray_result["objectWriteTraceId"] not in {"t1", "t2"}
    assert not stray_result["properties"]["hs_external_cart_id"].startswith("ext-")


async def test_errors_untraced_reports_errors_without_trace_ids() -> None:
    async with running(faults_at={1: "errors_untraced"}) as client:
        answer = await client.create([cart(1), BAD])
    assert answer.status == 207
    assert "objectWriteTraceId" not in answer.body["errors"][0]["context"]
    assert len(answer.body["results"]) == 1


async def test_batch_error_traced_fails_the_batch_naming_the_bad_trace_ids() -> None:
    async with running(faults_at={1: "batch_error_traced"}) as client:
        answer = await client.create([cart(1), BAD, {**BAD, "objectWriteTraceId": "bad2"}])
        assert not client.sim.objects
    assert (answer.status, answer.body["category"]) == (400, "VALIDATION_ERROR")
    assert answer.body["context"]["objectWriteTraceId"] == ["bad", "bad2"]


async def test_mixed_echo_echoes_trace_ids_on_some_results_only() -> None:
    async with running(faults_at={1: "mixed_echo"}, echo_trace_ids="always") as client:
        answer = await client.create([cart(i) for i in range(10)])
    echoed = ["objectWriteTraceId" in r for r in answer.body["results"]]
    assert echoed.count(True) == 5
    assert echoed.count(False) == 5


@pytest.mark.parametrize(("name", "status"), [("too_large_413", 413), ("teapot_418", 418), ("migration_477", 477)])
async def test_refusing_faults_process_nothing(name: str, status: int) -> None:
    async with running(faults_at={1: name}) as client:
        answer = await client.create([cart(1)])
        assert not client.sim.objects
    assert answer.status == status


async def test_migration_477_carries_retry_after_and_retry_after_also_applies_to_503() -> None:
    async with running(faults_at={1: "migration_477", 2: "pre_503"}) as client:
        default = await client.create([cart(1)])
    async with running(faults_at={1: "migration_477", 2: "pre_503"}, retry_after_s=7) as client:
        migration = await client.create([cart(1)])
        unavailable = await client.create([cart(2)])
    assert default.headers["Retry-After"] == "1"
    assert migration.headers["Retry-After"] == "7"
    assert unavailable.headers["Retry-After"] == "7"


async def test_too_large_413_answers_an_html_page() -> None:
    async with running(faults_at={1: "too_large_413"}) as client:
        answer = await client.create([cart(1)])
    assert answer.body is None
    assert "413" in answer.text


async def test_status_not_complete_processes_the_batch_and_answers_pending_without_results() -> None:
    async with running(faults_at={1: "status_not_complete"}) as client:
        answer = await client.create([cart(1), cart(2)])
        assert len(client.sim.objects) == 2
    assert answer.status == 201
    assert answer.body["status"] == "PENDING"
    assert answer.body["results"] == []


@pytest.mark.parametrize("name", IRREGULAR_FAULTS)
async def test_each_irregular_fault_can_be_drawn_at_a_probability(name: str) -> None:
    async with running(faults={name: 1.0}) as client:
        await client.create([cart(1)])
        assert client.sim.stats().faults_injected == {name: 1}


def test_cli_takes_probabilities_and_forced_faults() -> None:
    args = build_parser().parse_args(
        ["--fault", "post_500=0.1", "--fault", "teapot_418@3", "--fault", "stray_result@5"]
    )
    config = config_from_args(args)
    assert dict(config.faults) == {"post_500": 0.1}
    assert dict(config.faults_at) == {3: "teapot_418", 5: "stray_result"}


def test_forced_fault_must_name_a_fault_and_a_positive_request() -> None:
    with pytest.raises(ConfigError, match="unknown fault"):
        Simulator(faults_at={1: "gremlins"})
    with pytest.raises(ConfigError, match="numbered from 1"):
        Simulator(faults_at={0: "pre_503"})
