"""How long a record lingers (issue 25): a batch that does not fill leaves once its *oldest* record has waited
``linger``, never later, and a record that opens a new batch starts a clock of its own. Proven on the event loop's
clock moved by hand (the pipeline's linger clock, with a sender that only notes when each batch left), then end to
end through ``submit()`` against the simulator on the wall clock, with margin for a loaded machine."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from typing import cast

import anyio
import pytest

from cartloader import CartLoader
from cartloader.budget.local import RateBudget
from cartloader.engine.chunker import Chunker
from cartloader.engine.collector import Collector
from cartloader.engine.concurrency import InFlightLimit
from cartloader.engine.delivery import Sender
from cartloader.engine.pipeline import run_pipeline
from cartloader.input.normalize import normalize
from cartloader.models import CartInput, InvalidInput
from cartloader.simulator import Simulator
from tests.test_budget_support import virtual_time

pytestmark = pytest.mark.anyio

LINGER_S = 0.3
STEP_S = 0.001


class _Departures:
    """A sender that notes when each batch left, and of which lines."""

    def __init__(self) -> None:
        self.left: list[tuple[float, list[int]]] = []

    async def deliver(self, batch: list[CartInput]) -> None:
        self.left.append((anyio.current_time(), [record.line for record in batch]))


async def test_a_batch_that_does_not_fill_leaves_once_its_oldest_record_waited_linger() -> None:
    # Record 1 comes at 0 and opens a batch; record 2 joins it at 0.1; record 3 comes at 0.5, after that batch left.
    arrivals = {1: 0.0, 2: 0.1, 3: 0.5}
    came: dict[int, float] = {}
    with virtual_time() as clock:

        async def source() -> AsyncIterator[CartInput | InvalidInput]:
            for line, at in arrivals.items():
                await anyio.sleep_until(at)
                came[line] = anyio.current_time()
                yield normalize({"hs_cart_name": f"cart {line}"}, line)
            await anyio.sleep_until(2.0)  # the source stays open: only the linger clock sends

        sender = _Departures()
        async with anyio.create_task_group() as group:
            group.start_soon(
                lambda: run_pipeline(
                    source(),
                    sender=cast(Sender, sender),
                    collector=Collector(),
                    concurrency=InFlightLimit(4, RateBudget()),
                    chunker=Chunker(batch_size=100, run_id="r"),
                    linger_s=LINGER_S,
                )
            )
            await clock.run_until(1.5, STEP_S)
            group.cancel_scope.cancel()
    assert [lines for _, lines in sender.left] == [[1, 2], [3]]
    (first, _), (second, _) = sender.left
    # Counted from the oldest record of each batch (1 and 3), never from the newest (2), and not later.
    assert came[2] - came[1] >= 0.09
    assert LINGER_S <= first - came[1] <= LINGER_S + 3 * STEP_S
    assert LINGER_S <= second - came[3] <= LINGER_S + 3 * STEP_S


@pytest.mark.timing
async def test_a_lone_submitted_record_is_sent_within_linger() -> None:
    linger = 0.2
    async with (
        Simulator(seed=51) as sim,
        CartLoader("sim-token", base_url=sim.url, rate="1000/1s", linger=linger, preflight=False) as loader,
    ):
        await loader.submit({"hs_cart_name": "warm-up"})  # connection opened, first answer in
        started = time.monotonic()
        outcome = await loader.submit({"hs_cart_name": "lone"})
        waited = time.monotonic() - started
    assert outcome.status == "created"
    # It lingers (its batch might have filled), then leaves: a loaded machine adds event-loop lag and the
    # simulator's answer, never another linger.
    assert linger * 0.9 <= waited < linger + 0.5, waited
