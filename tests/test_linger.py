"""``linger``: a slow source never keeps a record waiting for its batch to fill, in ``create()``, ``stream()`` and
the command line reading a pipe. Proven by deadlock-free progress and the simulator's request log, not by time."""

from __future__ import annotations

import subprocess
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import anyio
import orjson
import pytest

from cartloader import CartLoader, Outcome, bulk_create
from cartloader.simulator import Simulator
from tests.test_cli_support import Start, start_cli

pytestmark = pytest.mark.anyio

FAST = "1000/1s"


def cart(i: int) -> dict[str, Any]:
    return {"hs_cart_name": f"cart {i}", "hs_external_cart_id": f"ext-{i}"}


def request_sizes(sim: Simulator) -> list[int]:
    """Inputs per request, from the simulator's request log (the request number of each stored object)."""
    sizes: dict[int, int] = {}
    for stored in sim.objects.values():
        sizes[stored.request_no] = sizes.get(stored.request_no, 0) + 1
    return [sizes[n] for n in sorted(sizes)]


async def test_create_sends_each_record_of_a_source_that_waits_for_its_outcome() -> None:
    # The source yields the next record only once the previous one has its outcome: without the linger clock the
    # first record would wait for 99 more that never come.
    answered = {i: anyio.Event() for i in range(1, 4)}

    def seen(outcome: Outcome) -> None:
        answered[outcome.line].set()

    async def trickle() -> AsyncIterator[dict[str, Any]]:
        for i in range(1, 4):
            yield cart(i)
            await answered[i].wait()

    async with Simulator(seed=1) as sim:
        with anyio.fail_after(20):
            summary = await bulk_create(
                trickle(), token="sim-token", base_url=sim.url, rate=FAST, linger=0.05, on_outcome=seen
            )
        assert summary.created == 3
        assert request_sizes(sim) == [1, 1, 1]


async def test_stream_delivers_an_outcome_before_its_slow_source_ends() -> None:
    more = anyio.Event()

    async def trickle() -> AsyncIterator[dict[str, Any]]:
        yield cart(1)
        await more.wait()
        yield cart(2)

    async with (
        Simulator(seed=2) as sim,
        CartLoader("sim-token", base_url=sim.url, rate=FAST, linger=0.05) as loader,
        loader.stream(trickle()) as outcomes,
    ):
        with anyio.fail_after(20):
            first = await outcomes.receive()
            more.set()
            second = await outcomes.receive()
    assert (first.line, second.line) == (1, 2)


async def test_a_full_batch_leaves_at_once_whatever_the_linger() -> None:
    async with Simulator(seed=3) as sim:
        with anyio.fail_after(20):
            summary = await bulk_create(
                [cart(i) for i in range(1, 26)],
                token="sim-token",
                base_url=sim.url,
                rate=FAST,
                batch_size=10,
                linger=60,
            )
        assert summary.created == 25
        assert sorted(request_sizes(sim)) == [5, 10, 10]


def test_the_command_line_sends_a_line_from_a_slow_pipe_before_the_next_arrives(
    simulator: Start, tmp_path: Path
) -> None:
    sim = simulator()
    out = tmp_path / "out.ndjson"
    process = start_cli("-", "--base-url", sim.url, "--out", out, "--no-progress", cwd=tmp_path, stdin=subprocess.PIPE)
    assert process.stdin is not None
    try:
        for i in (1, 2):
            process.stdin.write(orjson.dumps(cart(i)) + b"\n")
            process.stdin.flush()
            _wait_for_final_line(out, i, process)  # the pipe stays open: only linger can send it
        process.stdin.close()
        assert process.wait(timeout=30) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    finals = [e for e in map(orjson.loads, out.read_bytes().splitlines()) if e["status"] != "pending"]
    assert [e["line"] for e in finals] == [1, 2]


def _wait_for_final_line(out: Path, line: int, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if out.exists():
            for raw in out.read_bytes().splitlines():
                entry = orjson.loads(raw)
                if entry["line"] == line and entry["status"] == "created":
                    return
        if process.poll() is not None:
            raise AssertionError(f"the command line ended early: {process.stderr.read() if process.stderr else ''!r}")
        time.sleep(0.05)
    raise AssertionError(f"line {line} got no outcome while the pipe stayed open")
