"""Rolling-window and daily limits, their headers and 429 bodies, and simulated latency."""

from __future__ import annotations

import random
import statistics
import time

import aiohttp
import anyio
import pytest

from cartloader.simulator import Simulator
from cartloader.simulator.latency import LatencyModel
from tests.test_simulator_support import Client, cart, running

pytestmark = pytest.mark.anyio


async def test_rolling_window_refuses_with_429_body_and_counts_down_headers() -> None:
    async with running(rate="3/300ms") as client:
        answers = [await client.create([cart(i)]) for i in range(4)]
        assert len(client.sim.objects) == 3
        stats = client.sim.stats()
    assert [a.status for a in answers] == [201, 201, 201, 429]
    assert [a.headers["X-HubSpot-RateLimit-Remaining"] for a in answers] == ["2", "1", "0", "0"]
    assert answers[0].headers["X-HubSpot-RateLimit-Max"] == "3"
    assert answers[0].headers["X-HubSpot-RateLimit-Interval-Milliseconds"] == "300"
    body = answers[3].body
    assert body["status"] == "error"
    assert body["errorType"] == "RATE_LIMIT"
    assert body["policyName"] == "TEN_SECONDLY_ROLLING"
    assert body["message"] == "You have reached your ten_secondly_rolling limit."
    assert body["groupName"]
    assert body["correlationId"]
    assert "category" not in body
    assert "Retry-After" not in answers[3].headers
    assert stats.rate_limited == {"TEN_SECONDLY_ROLLING": 1}
    assert stats.by_status == {201: 3, 429: 1}


async def test_window_reopens_after_its_duration() -> None:
    async with running(rate="2/200ms") as client:
        for i in range(2):
            await client.create([cart(i)])
        await anyio.sleep(0.25)
        answer = await client.create([cart(9)])
    assert answer.status == 201


@pytest.mark.parametrize(("count_rejected", "expected"), [(True, 429), (False, 201)])
async def test_rejected_requests_use_up_the_window_unless_configured_not_to(
    count_rejected: bool, expected: int
) -> None:
    async with running(rate="1/300ms", count_rejected=count_rejected) as client:
        assert (await client.create([cart(1)])).status == 201
        await anyio.sleep(0.2)
        assert (await client.create([cart(2)])).status == 429
        await anyio.sleep(0.15)  # the first request has left the window; the refused one has not
        answer = await client.create([cart(3)])
    assert answer.status == expected


async def test_daily_limit_refuses_with_daily_policy_and_headers() -> None:
    async with running(daily=2) as client:
        answers = [await client.create([cart(i)]) for i in range(3)]
        assert len(client.sim.objects) == 2
    assert [a.status for a in answers] == [201, 201, 429]
    assert [a.headers["X-HubSpot-RateLimit-Daily-Remaining"] for a in answers] == ["1", "0", "0"]
    assert answers[0].headers["X-HubSpot-RateLimit-Daily"] == "2"
    assert "X-HubSpot-RateLimit-Max" not in answers[0].headers
    assert answers[2].body["policyName"] == "DAILY"
    assert answers[2].body["message"] == "You have reached your daily limit."
    assert "groupName" not in answers[2].body


async def test_no_limit_headers_without_limits() -> None:
    async with running() as client:
        answer = await client.create([cart(1)])
    assert not [h for h in answer.headers if h.lower().startswith("x-hubspot-ratelimit")]


async def test_retry_after_is_sent_on_429_when_configured() -> None:
    async with running(rate="1/10s", retry_after_s=1.5) as client:
        await client.create([cart(1)])
        answer = await client.create([cart(2)])
    assert answer.status == 429
    assert answer.headers["Retry-After"] == "2"


async def test_two_clients_on_one_token_share_the_limit_and_other_tokens_do_not() -> None:
    async with Simulator(rate="4/10s") as sim:
        sim.add_token("other-app")
        async with aiohttp.ClientSession() as first, aiohttp.ClientSession() as second:
            one, two = Client(sim, first), Client(sim, second)
            statuses = [(await c.create([cart(i)])).status for i, c in enumerate([one, two, one, two, one, two])]
            other = await one.create([cart(99)], token="other-app")
    assert statuses == [201, 201, 201, 201, 429, 429]
    assert other.status == 201


async def test_latency_delays_answers_around_p50_for_full_batches() -> None:
    async with running(latency_ms=(60, 60)) as client:
        start = time.perf_counter()
        await client.create([cart(i) for i in range(100)])
        full = time.perf_counter() - start
        start = time.perf_counter()
        await client.create([cart(1000)])
        single = time.perf_counter() - start
    assert 0.06 <= full < 0.2
    assert 0.3 * 0.06 <= single < 0.06


async def test_concurrent_slow_requests_raise_peak_concurrency() -> None:
    async with running(latency_ms=(50, 50)) as client:
        async with anyio.create_task_group() as tg:
            for i in range(5):
                tg.start_soon(client.create, [cart(i)])
        stats = client.sim.stats()
    assert stats.peak_concurrency == 5
    assert stats.in_flight == 0


def test_latency_model_matches_p50_and_p95() -> None:
    model = LatencyModel(300.0, 1000.0, random.Random(5))
    samples = sorted(model.sample_s(100) for _ in range(20_000))
    assert statistics.median(samples) == pytest.approx(0.3, rel=0.05)
    assert samples[int(0.95 * len(samples))] == pytest.approx(1.0, rel=0.08)


def test_latency_model_scales_smaller_batches_down() -> None:
    model = LatencyModel(100.0, 100.0, random.Random(0))
    assert model.sample_s(100) == pytest.approx(0.1)
    assert model.sample_s(50) == pytest.approx(0.1 * 0.65)
    assert model.sample_s(1) == pytest.approx(0.1 * (0.3 + 0.7 / 100))
