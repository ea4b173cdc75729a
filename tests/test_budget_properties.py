"""The rate budget's promise as a property, not a wall time: in any rolling window, the slots it grants never
number more than the limit, however the event loop is delayed; one ``RateBudget`` shared by two loaders
holds their requests together to it (and two separate budgets would not)."""

from __future__ import annotations

import time
from typing import Any

import anyio
import pytest

from cartloader.api.loader import CartLoader
from cartloader.budget.local import RateBudget
from cartloader.rate import Rate
from cartloader.simulator import Simulator

pytestmark = [pytest.mark.anyio, pytest.mark.timing]


def most_in_any_window(stamps: list[float], window_s: float) -> int:
    """The largest number of stamps in any half-open interval [t, t + window_s)."""
    ordered = sorted(stamps)
    most = 0
    first = 0
    for last, stamp in enumerate(ordered):
        while ordered[first] <= stamp - window_s:
            first += 1
        most = max(most, last - first + 1)
    return most


def test_most_in_any_window_counts_a_rolling_window() -> None:
    assert most_in_any_window([], 1.0) == 0
    assert most_in_any_window([0.0, 0.5, 0.99, 1.0, 1.5], 1.0) == 3
    assert most_in_any_window([0.0, 1.0, 2.0], 1.0) == 1
    assert most_in_any_window([0.0, 0.0, 0.0], 0.1) == 3


class RecordingBudget(RateBudget):
    """A real ``RateBudget`` that notes when each slot was granted."""

    def __init__(self, limit: Rate) -> None:
        super().__init__(limit)
        self.granted: list[float] = []

    async def acquire(self) -> None:
        await super().acquire()
        self.granted.append(time.monotonic())


async def test_a_budget_never_grants_more_than_its_limit_in_any_rolling_window() -> None:
    limit = Rate(20, 0.25)
    budget = RecordingBudget(limit)

    async def take(count: int) -> None:
        for _ in range(count):
            await budget.acquire()

    async with anyio.create_task_group() as group:
        for _ in range(6):
            group.start_soon(take, 12)
    assert len(budget.granted) == 72
    assert most_in_any_window(budget.granted, limit.window_s) <= limit.requests
    # ... and it really paces: 72 slots at under 20 per 0.25 s take at least three windows.
    assert max(budget.granted) - min(budget.granted) >= 3 * limit.window_s


def carts(count: int, prefix: str) -> list[dict[str, Any]]:
    return [{"hs_cart_name": f"{prefix} {i}", "hs_external_cart_id": f"{prefix}-{i}"} for i in range(count)]


async def _two_loaders(budgets: tuple[RecordingBudget, RecordingBudget], url: str) -> list[int]:
    created: list[int] = []

    async def load(budget: RecordingBudget, prefix: str) -> None:
        async with CartLoader("sim-token", base_url=url, budget=budget, batch_size=5, concurrency=4) as loader:
            created.append((await loader.create(carts(100, prefix))).created)

    async with anyio.create_task_group() as group:
        group.start_soon(load, budgets[0], "a")
        group.start_soon(load, budgets[1], "b")
    return created


async def test_one_rate_budget_shared_by_two_loaders_holds_their_requests_together_to_its_limit() -> None:
    limit = Rate(20, 0.5)
    shared = RecordingBudget(limit)
    async with Simulator(seed=5) as sim:  # no limit at the simulator: the budget alone paces
        created = await _two_loaders((shared, shared), sim.url)
        requests = sim.stats().requests
    assert created == [100, 100]
    # Every request of both loaders took a slot of the one budget: 20 batches and two schema reads each.
    assert len(shared.granted) == requests == 2 * (20 + 2)
    assert most_in_any_window(shared.granted, limit.window_s) <= limit.requests

    # The contrast that gives the check its teeth: a budget each, and together they draw twice the limit.
    separate = (RecordingBudget(limit), RecordingBudget(limit))
    async with Simulator(seed=6) as sim:
        assert await _two_loaders(separate, sim.url) == [100, 100]
    together = separate[0].granted + separate[1].granted
    assert most_in_any_window(together, limit.window_s) > limit.requests
