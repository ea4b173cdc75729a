"""Injected faults: what each does to the answer and to the store, seeded sequences, and shutdown."""

from __future__ import annotations

import aiohttp
import anyio
import pytest

from cartloader.errors import ConfigError
from cartloader.simulator import FAULT_NAMES, Simulator
from tests.test_simulator_support import CREATE, cart, eventually, running

pytestmark = pytest.mark.anyio

ANSWERED = {
    "pre_503": (503, False),
    "locked_423": (423, False),
    "post_500": (500, True),
    "post_502": (502, True),
    "post_504": (504, True),
}


@pytest.mark.parametrize("name", sorted(ANSWERED))
async def test_fault_answers_its_status_and_creates_only_when_post(name: str) -> None:
    status, creates = ANSWERED[name]
    async with running(faults={name: 1.0}) as client:
        answer = await client.create([cart(1), cart(2)])
        assert len(client.sim.objects) == (2 if creates else 0)
        stats = client.sim.stats()
    assert answer.status == status
    assert stats.faults_injected == {name: 1}
    assert stats.by_status == {status: 1}


async def test_locked_423_asks_for_a_two_second_delay() -> None:
    async with running(faults={"locked_423": 1.0}) as client:
        answer = await client.create([cart(1)])
    assert "at least 2 seconds" in answer.body["message"]


async def test_post_502_answers_with_a_gateway_html_page() -> None:
    async with running(faults={"post_502": 1.0}) as client:
        answer = await client.create([cart(1)])
    assert answer.body is None
    assert "502 Bad Gateway" in answer.text


@pytest.mark.parametrize(("name", "creates"), [("pre_reset", False), ("post_reset", True)])
async def test_reset_faults_drop_the_connection(name: str, creates: bool) -> None:
    async with running(faults={name: 1.0}) as client:
        with pytest.raises(aiohttp.ClientConnectionError):
            await client.create([cart(1)])
        assert len(client.sim.objects) == (1 if creates else 0)
        assert client.sim.stats().faults_injected == {name: 1}


async def test_malformed_2xx_creates_records_and_answers_a_truncated_body() -> None:
    async with running(faults={"malformed_2xx": 1.0}) as client:
        answer = await client.create([cart(1), cart(2)])
        assert len(client.sim.objects) == 2
    assert answer.status == 201
    assert answer.body is None
    assert answer.text.startswith('{"status":"COMPLETE"')


async def test_post_hang_creates_records_and_never_answers() -> None:
    async with Simulator(faults={"post_hang": 1.0}) as sim:
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=0.3)) as session:
            with pytest.raises(TimeoutError):
                await session.post(
                    sim.url + CREATE, json={"inputs": [cart(1)]}, headers={"Authorization": "Bearer sim-token"}
                )
        assert len(sim.objects) == 1


async def test_stop_does_not_wait_for_a_hanging_answer() -> None:
    sim = Simulator(faults={"post_hang": 1.0})
    await sim.start()
    async with aiohttp.ClientSession() as session:

        async def call() -> None:
            with pytest.raises(aiohttp.ClientConnectionError):
                await session.post(
                    sim.url + CREATE, json={"inputs": [cart(1)]}, headers={"Authorization": "Bearer sim-token"}
                )

        async with anyio.create_task_group() as tg:
            tg.start_soon(call)
            await eventually(lambda: sim.stats().objects_created == 1)
            with anyio.fail_after(2):
                await sim.stop()


async def test_faults_apply_to_upsert() -> None:
    async with running(faults={"post_500": 1.0}, unique=("hs_external_cart_id",)) as client:
        answer = await client.upsert([{"id": "k", "idProperty": "hs_external_cart_id", "properties": {}}])
        assert len(client.sim.objects) == 1
    assert answer.status == 500


async def test_fault_sequence_repeats_with_the_same_seed() -> None:
    sequences = []
    for _ in range(2):
        async with running(seed=11, faults={"pre_503": 0.5}) as client:
            sequences.append([(await client.create([cart(i)])).status for i in range(24)])
    assert sequences[0] == sequences[1]
    assert set(sequences[0]) == {201, 503}


async def test_set_fault_switches_a_fault_on_and_off() -> None:
    async with running() as client:
        client.sim.set_fault("pre_503", 1.0)
        on = await client.create([cart(1)])
        client.sim.set_fault("pre_503", 0.0)
        off = await client.create([cart(2)])
    assert (on.status, off.status) == (503, 201)


def test_unknown_fault_or_probabilities_above_one_are_refused() -> None:
    with pytest.raises(ConfigError, match="unknown fault"):
        Simulator(faults={"gremlins": 0.1})
    with pytest.raises(ConfigError, match="more than 1"):
        Simulator(faults={"pre_503": 0.6, "post_500": 0.6})


def test_the_contract_faults_exist() -> None:
    assert set(FAULT_NAMES) == {
        "missing_result",
        "stray_result",
        "errors_untraced",
        "batch_error_traced",
        "mixed_echo",
        "too_large_413",
        "teapot_418",
        "migration_477",
        "status_not_complete",
        "pre_503",
        "pre_reset",
        "locked_423",
        "post_500",
        "post_502",
        "post_504",
        "post_reset",
        "post_hang",
        "malformed_2xx",
    }
