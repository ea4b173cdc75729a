"""``python -m benchmarks.peers``: cartloader next to the official ``hubspot-api-client``.

Against the same simulator (its own process, ``--no-store``, latency 300 ms), 100-input batch creates through:
the official client in a sequential loop; the official client from a ThreadPoolExecutor of the same
concurrency as cartloader; and cartloader's ``bulk_create``. Records/s and the ratio to cartloader, median of
``--runs``. Twice: without a limit, and under 190/10s time-compressed by ``--speedup`` (latency too). The
official client has no limiter and does not retry POSTs, so the loops do what a user would write: on a 429,
wait a tenth of the window and send the batch again (429s are counted).
"""

from __future__ import annotations

import argparse
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import anyio

from benchmarks._harness import (
    FIXED_CONCURRENCY,
    TOKEN,
    cart_record,
    machine,
    median,
    print_table,
    require_extra,
    simulator,
    write_json,
)
from cartloader import bulk_create
from cartloader.rate import Rate

LATENCY_MS = 300.0
BATCH = 100
NO_LIMIT_RATE = "100000/1s"


class OfficialClient:
    """``hubspot-api-client`` batch creates, retried after a 429 as a user would."""

    def __init__(self, url: str, retry_wait_s: float) -> None:
        self._url = url
        self._retry_wait_s = retry_wait_s
        self._local = threading.local()
        self.rate_limited = 0
        self._lock = threading.Lock()

    def _api(self) -> Any:
        api = getattr(self._local, "api", None)
        if api is None:
            # Each access to ``batch_api`` builds a new API object: keep the one whose host is changed.
            from hubspot import HubSpot

            api = HubSpot(access_token=TOKEN).crm.objects.batch_api
            api.api_client.configuration.host = self._url
            self._local.api = api
        return api

    def create(self, first: int) -> int:
        """Create records ``first .. first + 99``; return how many were created."""
        from hubspot.crm.objects import BatchInputSimplePublicObjectBatchInputForCreate as Batch
        from hubspot.crm.objects import SimplePublicObjectBatchInputForCreate as Input
        from hubspot.crm.objects.exceptions import ApiException

        inputs = [
            Input(properties={k: str(v) for k, v in cart_record(i).items()}, object_write_trace_id=str(i))
            for i in range(first, first + BATCH)
        ]
        while True:
            try:
                answer = self._api().create("carts", Batch(inputs=inputs))
                return len(answer.results)
            except ApiException as exc:
                if exc.status != 429:
                    raise
                with self._lock:
                    self.rate_limited += 1
                time.sleep(self._retry_wait_s)


def _sequential(url: str, batches: int, retry_wait_s: float) -> tuple[float, int]:
    client = OfficialClient(url, retry_wait_s)
    start = time.perf_counter()
    created = sum(client.create(1 + b * BATCH) for b in range(batches))
    assert created == batches * BATCH
    return created / (time.perf_counter() - start), client.rate_limited


def _threads(url: str, batches: int, workers: int, retry_wait_s: float) -> tuple[float, int]:
    client = OfficialClient(url, retry_wait_s)
    start = time.perf_counter()
    with ThreadPoolExecutor(workers) as pool:
        created = sum(pool.map(client.create, [1 + b * BATCH for b in range(batches)]))
    assert created == batches * BATCH
    return created / (time.perf_counter() - start), client.rate_limited


def _cartloader(url: str, batches: int, concurrency: int, rate: str | None) -> tuple[float, int]:
    async def load() -> tuple[float, int]:
        start = time.perf_counter()
        records = (cart_record(i) for i in range(1, batches * BATCH + 1))
        summary = await bulk_create(records, token=TOKEN, base_url=url, concurrency=concurrency, rate=rate)
        assert summary.created == batches * BATCH, summary
        return summary.created / (time.perf_counter() - start), summary.rate_limited

    return anyio.run(load, backend="asyncio")


def _scenario(
    name: str, rate: Rate | None, speedup: float, args: argparse.Namespace, info: dict[str, Any]
) -> dict[str, Any]:
    window_s = rate.window_s / speedup if rate else 1.0
    sim_rate = f"{rate.requests}/{window_s * 1000:g}ms" if rate else None
    latency = LATENCY_MS / speedup
    figures: dict[str, list[tuple[float, int]]] = {
        "official, sequential": [],
        "official, threads": [],
        "cartloader": [],
    }
    batches = args.batches if rate is None else args.limited_batches
    for run_no in range(args.runs):
        with simulator(rate=sim_rate, latency_ms=(latency, latency), seed=run_no + 1) as sim:
            figures["official, sequential"].append(_sequential(sim.url, args.sequential_batches, window_s / 10))
            time.sleep(window_s)
            figures["official, threads"].append(_threads(sim.url, batches, args.concurrency, window_s / 10))
            time.sleep(window_s)
            # Without a limit the simulator sends no X-HubSpot-RateLimit-* headers, so the loader would stay at its
            # starting budget (100/10s, as for HubSpot, which always sends them): give it a budget that never binds.
            # Under the limit it follows the headers, as the CLI does by default.
            loader_rate = NO_LIMIT_RATE if rate is None else None
            figures["cartloader"].append(_cartloader(sim.url, batches, args.concurrency, loader_rate))
        print(f"{name}: run {run_no + 1} done", file=sys.stderr)
    ours = median([rps for rps, _ in figures["cartloader"]])
    return {
        name: {
            label: {
                "records_per_s": round(median([rps for rps, _ in runs]), 1),
                "vs_cartloader": round(median([rps for rps, _ in runs]) / ours, 3),
                "rate_limited": [n for _, n in runs],
            }
            for label, runs in figures.items()
        }
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.peers", description=__doc__)
    parser.add_argument("--runs", type=int, default=3, help="runs; figures are medians (default 3)")
    parser.add_argument(
        "--concurrency",
        type=int,
        default=FIXED_CONCURRENCY,
        help=f"threads and cartloader (default {FIXED_CONCURRENCY})",
    )
    parser.add_argument("--batches", type=int, default=150, help="batches per parallel run without a limit")
    parser.add_argument("--limited-batches", type=int, default=400, help="batches per parallel run under the limit")
    parser.add_argument("--sequential-batches", type=int, default=15, help="batches of the sequential loop")
    parser.add_argument("--speedup", type=float, default=10.0, help="time compression of the limited run (10)")
    parser.add_argument("--rate", type=Rate.parse, default=Rate.parse("190/10s"), help="the limit (190/10s)")
    args = parser.parse_args(argv)
    require_extra("hubspot", "python -m benchmarks.peers (the official client, hubspot-api-client)")

    info = machine()
    results: dict[str, Any] = {}
    results.update(_scenario("no limit, 300 ms", None, 1.0, args, info))
    rate: Rate = args.rate
    results.update(
        _scenario(f"{rate.requests}/{rate.window_s:g}s, 300 ms (x{args.speedup:g})", rate, args.speedup, args, info)
    )
    rows = []
    for scenario, figures in results.items():
        for label, figure in figures.items():
            rows.append(
                (scenario, label, figure["records_per_s"], figure["vs_cartloader"], median(figure["rate_limited"]))
            )
    print(f"\npeers: concurrency {args.concurrency}, median of {args.runs} runs (records/s in compressed time)")
    print_table(("scenario", "client", "records/s", "vs cartloader", "429s (median)"), rows)
    print(
        f"wrote {write_json('peers', {'benchmark': 'peers', 'machine': info, 'runs': args.runs, 'results': results})}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
