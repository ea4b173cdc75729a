"""The rate budget (design rule 5): even spacing, headers, shared pauses, one budget for many calls."""

from __future__ import annotations

import itertools
import time
from typing import Any

import aiohttp
import anyio
import pytest

from cartloader.api.loader import CartLoader
from cartloader.budget.local import RateBudget
from cartloader.rate import Rate
from cartloader.simulator import Simulator

pytestmark = pytest.mark.anyio


def carts(count: int, prefix: str = "c") -> list[dict[str, Any]]:
    return [{"hs_cart_name": f"{prefix} {i}", "hs_external_cart_id": f"{prefix}-{i}"} for i in range(count)]


@pytest.mark.timing
async def test_the_even_pace_spaces_requests_evenly_never_in_a_burst() -> None:
    budget = RateBudget(Rate(20, 1.0), pace="even", margin=1.0)
    stamps: list[float] = []

    async def take() -> None:
        await budget.acquire()
        stamps.append(time.monotonic())

    async with anyio.create_task_group() as group:
        for _ in range(8):
            group.start_soon(take)
    gaps = [b - a for a, b in itertools.pairwise(stamps)]
    # The grid spaces slots 1/18 s apart (20/1s less the reserve); a slot woken late catches up by half an
    # interval at most, so however late the event loop runs, no two slots come closer than that.
    assert min(gaps) >= 0.5 / 18 * 0.95, gaps


async def test_a_pause_holds_every_waiting_worker() -> None:
    budget = RateBudget(Rate(1000, 1.0))
    budget.pause(0.3)
    started = time.monotonic()
    released: list[float] = []

    async def take() -> None:
        await budget.acquire()
        released.append(time.monotonic() - started)

    async with anyio.create_task_group() as group:
        for _ in range(4):
            group.start_soon(take)
    assert min(released) >= 0.29


@pytest.mark.timing
async def test_a_rolling_limit_is_held_with_under_one_percent_429s_and_learned_from_headers() -> None:
    async with Simulator(rate="40/400ms", seed=1) as sim:
        async with CartLoader("sim-token", base_url=sim.url, concurrency=8, batch_size=10) as loader:
            summary = await loader.create(carts(2000))
            learned = loader.budget.limit
        stats = sim.stats()
    assert summary.created == 2000
    assert learned == Rate(40, 0.4)
    assert stats.rate_limited.get("TEN_SECONDLY_ROLLING", 0) <= 0.01 * stats.requests


async def test_a_hard_cap_below_the_advertised_limit_is_kept_in_every_rolling_window() -> None:
    budget = _RecordingBudget(Rate(20, 1.0))
    async with (
        Simulator(rate="100/1s", seed=2) as sim,
        CartLoader("sim-token", base_url=sim.url, budget=budget, batch_size=10) as loader,
    ):
        await loader.create(carts(600))
        assert loader.budget.limit == Rate(20, 1.0)
    stamps = budget.stamps
    assert len(stamps) == 2 + 60  # the preflight's two schema reads, then 60 batches
    # Whatever the pace, no trailing second holds more than 20 of the loader's requests.
    assert max(sum(1 for t in stamps if end - 1.0 < t <= end) for end in stamps) == 20


class _RecordingBudget(RateBudget):
    """A RateBudget that notes when each slot was given."""

    def __init__(self, cap: Rate) -> None:
        super().__init__(cap)
        self.stamps: list[float] = []

    async def acquire(self) -> None:
        await super().acquire()
        self.stamps.append(time.monotonic())


@pytest.mark.timing
async def test_two_concurrent_create_calls_share_one_budget_without_429s() -> None:
    async with Simulator(rate="30/500ms", seed=3) as sim:
        async with CartLoader("sim-token", base_url=sim.url, concurrency=8, batch_size=10) as loader:
            results = []

            async def create(prefix: str) -> None:
                results.append(await loader.create(carts(300, prefix)))

            async with anyio.create_task_group() as group:
                group.start_soon(create, "a")
                group.start_soon(create, "b")
        stats = sim.stats()
    assert sorted(s.created for s in results) == [300, 300]
    assert stats.rate_limited.get("TEN_SECONDLY_ROLLING", 0) <= 1
    assert stats.peak_concurrency <= 8


@pytest.mark.timing
async def test_the_budget_gives_way_to_another_client_drawing_on_the_same_window() -> None:
    async with Simulator(rate="100/1s", seed=4) as sim:
        other_sent = 0

        async def other_integration(stop: anyio.Event) -> None:
            # Another integration of the same app: 30 requests a second, whatever answers.
            nonlocal other_sent
            headers = {"Authorization": "Bearer sim-token"}
            async with aiohttp.ClientSession() as session:
                while not stop.is_set():
                    async with session.get(f"{sim.url}/crm/v3/objects/carts/1", headers=headers):
                        other_sent += 1
                    await anyio.sleep(1 / 30)

        stop = anyio.Event()
        async with anyio.create_task_group() as group:
            group.start_soon(other_integration, stop)
            await anyio.sleep(1.0)  # the other client is already drawing when the load starts
            async with CartLoader("sim-token", base_url=sim.url, batch_size=10, concurrency=8) as loader:
                summary = await loader.create(carts(2000))
                assert isinstance(loader.budget, RateBudget)
                others_seen = loader.budget.statistics().others_in_window
            stop.set()
        stats = sim.stats()
    assert summary.created == 2000
    # It noticed the other client's share of the window (how much depends on how fast a loaded machine lets the
    # other client send: 10 at load 7 under stress, against 30 a second when idle).
    assert others_seen > 0
    assert other_sent > 0
    assert summary.rate_limited <= 0.01 * summary.requests
    assert stats.rate_limited.get("TEN_SECONDLY_ROLLING", 0) <= 0.01 * stats.requests
