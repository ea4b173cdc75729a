"""``loader.statistics()`` (a frozen snapshot across every call of a loader) and its Prometheus exposition, whose
metric names are stable and documented."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import anyio
import pytest
from anyio import wait_all_tasks_blocked
from anyio.lowlevel import checkpoint
from prometheus_client import CollectorRegistry, generate_latest

from cartloader import CartLoader, LoaderMetrics, LoaderStatistics, Outcome
from cartloader.config import Backoff
from cartloader.simulator import Simulator

pytestmark = pytest.mark.anyio

ROOT = Path(__file__).resolve().parent.parent
FAST = "1000/1s"


def carts(count: int, start: int = 1) -> list[dict[str, str]]:
    return [{"hs_cart_name": f"cart {i}", "hs_external_cart_id": f"ext-{i}"} for i in range(start, start + count)]


async def test_statistics_count_every_call_of_the_loader_and_are_a_frozen_snapshot() -> None:
    async with (
        Simulator(faults={"pre_503": 1.0}, seed=1) as sim,
        CartLoader(
            "sim-token",
            base_url=sim.url,
            rate=FAST,
            batch_size=10,
            linger=0,
            backoff=Backoff(0.01, 0.02),
            preflight=False,  # the requests counted here are the batches'
        ) as loader,
    ):
        async with anyio.create_task_group() as group:
            got: list[Outcome] = []

            async def submit() -> None:
                got.append(await loader.submit({"hs_cart_name": "submitted"}))

            group.start_soon(submit)
            while sim.stats().requests < 2:  # two 503s, then HubSpot recovers
                await checkpoint()
            sim.set_fault("pre_503", 0.0)
        summary = await loader.create(carts(25))
        before = loader.statistics()
        await loader.create(carts(5, start=100))
        after = loader.statistics()
    assert isinstance(before, LoaderStatistics)
    with pytest.raises(dataclasses.FrozenInstanceError):
        before.requests = 0  # type: ignore[misc]
    assert got[0].attempts == 3  # two 503s, then created
    assert before.requests == summary.requests + 3
    assert before.error_responses == 2 == before.retries
    assert before.outcomes["created"] == 26
    assert before.records_submitted == 1
    assert after.requests == before.requests + 1  # the snapshot taken before did not move
    assert after.outcomes["created"] == 31


async def test_statistics_show_records_waiting_and_the_budget() -> None:
    async with (
        Simulator(seed=2) as sim,
        anyio.create_task_group() as group,
        # Closed first: drains. No preflight: the records wait for their batch, not for the schema.
        CartLoader("sim-token", base_url=sim.url, rate="190/10s", linger=60, preflight=False) as loader,
    ):
        for record in carts(3):
            group.start_soon(loader.submit, record)
        await wait_all_tasks_blocked()
        s = loader.statistics()
        assert (s.records_waiting, s.callers_waiting, s.batches_in_flight) == (3, 3, 0)
        assert s.budget is not None and s.budget.limit.requests == 190
        assert s.concurrency.auto and s.concurrency.limit == 10 and s.concurrency.latency_ms is None
        assert not s.closed


def exposition(loader: CartLoader, labels: dict[str, str] | None = None) -> str:
    registry = CollectorRegistry()
    registry.register(LoaderMetrics(loader, labels=labels))
    return generate_latest(registry).decode()


async def test_prometheus_exposition_carries_the_statistics() -> None:
    async with (
        Simulator(seed=3) as sim,
        CartLoader("sim-token", base_url=sim.url, rate=FAST, linger=0, preflight=False) as loader,
    ):
        await loader.submit(carts(1)[0])
        await loader.create(carts(4, start=2))
        text = exposition(loader, {"loader": "carts"})
    assert 'cartloader_requests_total{loader="carts"} 2.0' in text
    assert 'cartloader_outcomes_total{loader="carts",status="created"} 5.0' in text
    assert 'cartloader_records_submitted_total{loader="carts"} 1.0' in text
    assert 'cartloader_rate_limit_requests{loader="carts"} 1000.0' in text
    assert 'cartloader_closed{loader="carts"} 0.0' in text


async def test_the_metric_names_are_those_docs_library_md_lists() -> None:
    async with Simulator(seed=4) as sim, CartLoader("sim-token", base_url=sim.url, rate=FAST, linger=0) as loader:
        await loader.submit(carts(1)[0])
        text = exposition(loader)
    exposed = {line.split(" ")[2] for line in text.splitlines() if line.startswith("# TYPE ")}
    library = (ROOT / "docs" / "library.md").read_text()
    documented = set(re.findall(r"^\| `(cartloader_[a-z_]+)", library, flags=re.MULTILINE))
    assert exposed == documented
