"""A time-boxed load under a rolling limit: cartloader sends an endless stream of carts for a number of windows
while the simulator's counters are sampled at every window boundary (for ``tune`` and ``ceiling``)."""

from __future__ import annotations

import itertools
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import anyio

from benchmarks._harness import TOKEN, cart_record, median
from cartloader import bulk_create
from cartloader.config import Concurrency
from cartloader.models import Summary

_ids = itertools.count(1)


@dataclass(slots=True)
class WindowedRun:
    """What one paced run did: per measured window, the requests the simulator admitted (2xx) and refused
    with 429 (all clients of the token together); and the loader's own summary."""

    limit: int
    window_s: float
    admitted: list[int] = field(default_factory=list)
    refused: list[int] = field(default_factory=list)
    summary: Summary | None = None

    @property
    def fill(self) -> float:
        """Admitted requests over the ceiling, across all measured windows."""
        return sum(self.admitted) / (self.limit * len(self.admitted)) if self.admitted else 0.0

    @property
    def median_fill(self) -> float:
        """The median window's admitted requests over the ceiling."""
        return median([a / self.limit for a in self.admitted])

    @property
    def loader_429_share(self) -> float:
        """429 answers per request the loader sent."""
        s = self.summary
        return s.rate_limited / s.requests if s is not None and s.requests else 0.0

    def to_dict(self) -> dict[str, Any]:
        s = self.summary
        return {
            "fill": round(self.fill, 4),
            "median_window_fill": round(self.median_fill, 4),
            "admitted_per_window": self.admitted,
            "refused_per_window": self.refused,
            "loader_requests": s.requests if s else 0,
            "loader_429": s.rate_limited if s else 0,
            "loader_429_share": round(self.loader_429_share, 5),
            "latency_ms": {"p50": s.latency_ms.p50, "p95": s.latency_ms.p95} if s else None,
        }


async def _stats(session: aiohttp.ClientSession, url: str) -> tuple[int, int]:
    async with session.get(url + "/_sim/stats") as response:
        data = await response.json()
    by_status: dict[str, int] = data["by_status"]
    admitted = sum(count for status, count in by_status.items() if status.startswith("2"))
    return admitted, by_status.get("429", 0)


async def paced_load(
    url: str,
    *,
    concurrency: Concurrency,
    limit: int,
    window_s: float,
    windows: int,
    warmup_windows: float = 1.0,
    rate: str | None = None,
    batch_size: int = 100,
    halfway: Callable[[aiohttp.ClientSession], Awaitable[None]] | None = None,
) -> WindowedRun:
    """Load carts into the simulator at ``url`` for ``warmup_windows + windows`` windows, then stop reading
    input and let the loader drain. ``rate`` is the loader's hard cap (None: follow HubSpot's headers);
    ``halfway`` runs when half the measured windows are over (to change the simulator's latency, say)."""
    run = WindowedRun(limit, window_s)
    stop = anyio.Event()

    async def records() -> AsyncIterator[dict[str, Any]]:
        while not stop.is_set():
            yield cart_record(next(_ids))

    async def load() -> None:
        run.summary = await bulk_create(
            records(), token=TOKEN, base_url=url, concurrency=concurrency, rate=rate, batch_size=batch_size
        )

    async with aiohttp.ClientSession() as session, anyio.create_task_group() as group:
        group.start_soon(load)
        await anyio.sleep(warmup_windows * window_s)
        before = await _stats(session, url)
        mark = time.monotonic()
        for n in range(1, windows + 1):
            await anyio.sleep(max(0.0, mark + n * window_s - time.monotonic()))
            after = await _stats(session, url)
            run.admitted.append(after[0] - before[0])
            run.refused.append(after[1] - before[1])
            before = after
            if halfway is not None and n == windows // 2:
                await halfway(session)
        stop.set()
    return run


def simulated_latency(latency_ms: tuple[float, float], speedup: float, batch_size: int) -> tuple[float, float]:
    """The simulator's ``--latency-ms`` (given for 100 inputs) that makes a ``batch_size`` request take
    ``latency_ms / speedup``: the simulator charges ``0.3 + 0.7 x n / 100`` of a full batch's draw."""
    share = 0.3 + 0.7 * batch_size / 100
    return (latency_ms[0] / speedup / share, latency_ms[1] / speedup / share)
