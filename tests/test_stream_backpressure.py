"""``CartLoader.stream()`` applies backpressure: a caller that stops reading outcomes stops the load (the source
is read no further than a few batches ahead), and reading on finishes it with nothing lost."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import anyio
import pytest

from cartloader.api.loader import CartLoader
from cartloader.simulator import Simulator

pytestmark = pytest.mark.anyio

RECORDS = 2000


async def settled(sim: Simulator, pulled: list[int]) -> None:
    """Wait until the load stands still: nothing in flight at the simulator, and neither its request count nor
    the records pulled from the source moved for a while. (A load without backpressure would not stand still
    before the whole source was read, which the test then sees.)"""
    quiet = 0
    last = (-1, -1)
    with anyio.fail_after(30):
        while quiet < 5:
            now = (sim.stats().requests, pulled[0])
            quiet = quiet + 1 if now == last and sim.stats().in_flight == 0 else 0
            last = now
            await anyio.sleep(0.05)


async def test_a_stream_nobody_reads_stops_pulling_records_and_reading_on_finishes_the_load() -> None:
    pulled = [0]

    def source() -> Iterator[dict[str, Any]]:
        for n in range(1, RECORDS + 1):
            pulled[0] += 1
            yield {"hs_cart_name": f"cart {n}", "hs_external_cart_id": f"ext-{n}"}

    concurrency, batch_size = 2, 10
    async with (
        Simulator(seed=21) as sim,
        CartLoader(
            "sim-token", base_url=sim.url, rate="1000/1s", batch_size=batch_size, concurrency=concurrency
        ) as loader,
        loader.stream(source()) as outcomes,
    ):
        lines = [(await outcomes.receive()).line]
        await settled(sim, pulled)  # the caller is busy elsewhere: the load must stand still
        # Outcomes waiting for the caller (one batch's worth), a batch in each worker, one in the send stream and
        # one in the making: a few batches, never the source.
        assert pulled[0] <= (concurrency + 3) * batch_size + 1, pulled[0]
        assert len(sim.objects) <= (concurrency + 1) * batch_size
        lines += [outcome.line async for outcome in outcomes]
        stored = len(sim.objects)
    assert sorted(lines) == list(range(1, RECORDS + 1))
    assert stored == RECORDS
