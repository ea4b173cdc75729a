"""``POST /_sim/latency``: a benchmark moves the simulator's processing time mid-run."""

from __future__ import annotations

import time

import pytest

from tests.test_simulator_support import cart, running

pytestmark = pytest.mark.anyio


async def test_a_latency_set_mid_run_applies_to_the_requests_after_it() -> None:
    async with running() as client:
        answer = await client.request("POST", "/_sim/latency", {"p50_ms": 400, "p95_ms": 400}, token=None)
        assert answer.status == 200
        started = time.monotonic()
        created = await client.create([cart(1)])
        elapsed = time.monotonic() - started
        assert created.status == 201
        # A one-input request takes 0.3 + 0.7 x 1/100 of a full batch's 400 ms: about 123 ms, never less.
        assert elapsed >= 0.12


@pytest.mark.parametrize("body", [{}, {"p50_ms": "slow"}, {"p50_ms": 500, "p95_ms": 100}, {"p50_ms": -1}])
async def test_a_latency_change_without_a_valid_p50_and_p95_is_refused(body: dict[str, object]) -> None:
    async with running() as client:
        answer = await client.request("POST", "/_sim/latency", body, token=None)
    assert answer.status == 400
