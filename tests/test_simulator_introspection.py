"""Statistics, the ``/_sim`` endpoints, ``store=False``, configuration checks and the public API."""

from __future__ import annotations

import pytest

import cartloader.simulator as simulator_package
from cartloader.errors import ConfigError
from cartloader.rate import Rate
from cartloader.simulator import SimStats, Simulator, SimulatorConfig
from tests.test_simulator_support import cart, running

pytestmark = pytest.mark.anyio


async def test_sim_stats_endpoint_needs_no_auth_and_matches_stats() -> None:
    async with running(rate="2/10s") as client:
        await client.create([cart(1), cart(2)])
        await client.create([cart(3)], token="wrong")
        await client.create([cart(4)])
        await client.create([cart(5)])
        answer = await client.request("GET", "/_sim/stats", token=None)
        stats = client.sim.stats()
    assert answer.status == 200
    assert answer.body == stats.to_json()
    assert stats.requests == 4
    assert stats.by_status == {201: 2, 401: 1, 429: 1}
    assert stats.rate_limited == {"TEN_SECONDLY_ROLLING": 1}
    assert (stats.objects_created, stats.inputs_received, stats.objects_stored) == (3, 3, 3)
    assert answer.body["by_status"] == {"201": 2, "401": 1, "429": 1}


async def test_sim_objects_endpoint_lists_every_object_with_trace_id_and_request_number() -> None:
    async with running() as client:
        await client.create([cart(1)])
        await client.create([cart(2), cart(3)])
        answer = await client.request("GET", "/_sim/objects", token=None)
    assert answer.body["count"] == 3
    by_ext = {o["properties"]["hs_external_cart_id"]: o for o in answer.body["objects"]}
    assert {k: (o["trace_id"], o["request_no"]) for k, o in by_ext.items()} == {
        "ext-1": ("t1", 1),
        "ext-2": ("t2", 2),
        "ext-3": ("t3", 2),
    }
    assert all(o["id"] == o["properties"]["hs_object_id"] for o in answer.body["objects"])


async def test_reset_stats_zeroes_counters_but_keeps_objects() -> None:
    async with running() as client:
        await client.create([cart(1)])
        client.sim.reset_stats()
        stats = client.sim.stats()
        assert len(client.sim.objects) == 1
    assert stats == SimStats(objects_stored=1)


async def test_no_store_keeps_counts_but_no_objects_and_skips_unique_checks() -> None:
    async with running(store=False) as client:
        first = await client.create([cart(1), cart(2)])
        again = await client.create([cart(1), cart(2)])
        listed = await client.request("GET", "/_sim/objects", token=None)
        got = await client.request("GET", f"/crm/v3/objects/carts/{first.body['results'][0]['id']}")
        stats = client.sim.stats()
        assert not client.sim.objects
    assert (first.status, again.status) == (201, 201)
    assert len({r["id"] for r in first.body["results"] + again.body["results"]}) == 4
    assert listed.body == {"count": 0, "objects": []}
    assert got.status == 404
    assert (stats.objects_created, stats.objects_stored) == (4, 0)


async def test_unknown_path_gets_404_json() -> None:
    async with running() as client:
        answer = await client.request("GET", "/nothing")
    assert answer.status == 404
    assert answer.body["correlationId"]


def test_config_parses_rate_strings_and_refuses_bad_values() -> None:
    assert SimulatorConfig(rate="5/500ms").rate == Rate(5, 0.5)
    with pytest.raises(ConfigError):
        SimulatorConfig(rate="fast")
    with pytest.raises(ConfigError):
        SimulatorConfig(latency_ms=(100, 50))
    with pytest.raises(ConfigError):
        SimulatorConfig(whole_batch_400=2.0)
    with pytest.raises(ConfigError):
        SimulatorConfig(echo_trace_ids="often")  # type: ignore[arg-type]


async def test_simulator_from_config_with_keyword_override() -> None:
    async with Simulator(SimulatorConfig(seed=1, daily=5), daily=9) as sim:
        assert sim.config.daily == 9
        assert sim.config.seed == 1
        assert sim.url.startswith("http://127.0.0.1:")
        assert not sim.url.endswith("/")


async def test_start_and_stop_without_context_manager() -> None:
    sim = Simulator()
    await sim.start()
    port = sim.port
    await sim.stop()
    await sim.stop()
    assert port > 0
    with pytest.raises(RuntimeError):
        _ = sim.url


def test_public_names_are_exported() -> None:
    assert set(simulator_package.__all__) == {
        "BASIC_FAULTS",
        "FAULT_NAMES",
        "IRREGULAR_FAULTS",
        "IdRanges",
        "PropertyDefinition",
        "SimStats",
        "Simulator",
        "SimulatorConfig",
        "StoredObject",
        "ValidationRule",
    }
