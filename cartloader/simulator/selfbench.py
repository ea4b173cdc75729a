"""``python -m cartloader.simulator.selfbench``: how many 100-input batch creates per second the simulator serves.

The simulator runs in its own process (one core, as in the benchmarks); an aiohttp client in this process keeps
``--concurrency`` requests in flight over loopback for ``--seconds``, each a fresh batch of valid carts with
unique trace ids and external ids. ``--same-loop`` runs the simulator in the client's event loop instead.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import subprocess
import sys
import time
from collections.abc import Sequence

import aiohttp
import orjson

from cartloader.simulator.server import Simulator

CREATE = "/crm/v3/objects/carts/batch/create"


def _body(batch_no: int, size: int) -> bytes:
    inputs = [
        {
            "properties": {
                "hs_cart_name": f"cart {batch_no}-{i}",
                "hs_external_cart_id": f"b{batch_no}-{i}",
                "hs_total_price": "19.90",
                "hs_currency_code": "EUR",
            },
            "objectWriteTraceId": f"{batch_no}-{i}",
        }
        for i in range(size)
    ]
    return orjson.dumps({"inputs": inputs})


async def _drive(url: str, seconds: float, concurrency: int, size: int) -> tuple[int, float]:
    counter = itertools.count()
    done = 0
    headers = {"Authorization": "Bearer sim-token", "Content-Type": "application/json"}
    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(connector=connector) as session:

        async def worker(deadline: float) -> None:
            nonlocal done
            while time.perf_counter() < deadline:
                async with session.post(url + CREATE, data=_body(next(counter), size), headers=headers) as response:
                    await response.read()
                    if response.status != 201:
                        raise RuntimeError(f"unexpected status {response.status}")
                done += 1

        await asyncio.gather(*(worker(time.perf_counter() + 0.5) for _ in range(concurrency)))  # warm-up
        done = 0
        start = time.perf_counter()
        await asyncio.gather(*(worker(start + seconds) for _ in range(concurrency)))
        return done, time.perf_counter() - start


async def _drive_same_loop(args: argparse.Namespace) -> tuple[int, float]:
    async with Simulator(store=not args.no_store) as sim:
        return await _drive(sim.url, args.seconds, args.concurrency, args.batch_size)


def _run(args: argparse.Namespace) -> tuple[int, float]:
    if args.same_loop:
        return asyncio.run(_drive_same_loop(args))
    command = [sys.executable, "-m", "cartloader.simulator", *(["--no-store"] if args.no_store else [])]
    with subprocess.Popen(command, stdout=subprocess.PIPE, text=True) as proc:
        try:
            assert proc.stdout is not None
            url = proc.stdout.readline().strip().removeprefix("listening on ")
            return asyncio.run(_drive(url, args.seconds, args.concurrency, args.batch_size))
        finally:
            proc.terminate()


def main(argv: Sequence[str] | None = None) -> int:
    """Run the measurement and print one line of results."""
    parser = argparse.ArgumentParser(prog="python -m cartloader.simulator.selfbench", description=__doc__)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--batch-size", type=int, default=100)
    parser.add_argument("--no-store", action="store_true", help="run the simulator with --no-store")
    parser.add_argument("--same-loop", action="store_true", help="serve from the client's own event loop")
    args = parser.parse_args(argv)
    requests, elapsed = _run(args)
    where = "same loop" if args.same_loop else "separate process"
    print(
        f"{requests / elapsed:,.0f} requests/s, {requests * args.batch_size / elapsed:,.0f} inputs/s "
        f"({requests} requests of {args.batch_size} in {elapsed:.1f} s, concurrency {args.concurrency}, "
        f"simulator in a {where}, store={'off' if args.no_store else 'on'})"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
