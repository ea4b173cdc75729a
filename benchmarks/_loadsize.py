"""The load-size sweep of ``python -m benchmarks.ceiling``: how close a load of N requests comes to the shortest
time HubSpot's rolling window allows.

Under ``L`` requests per window ``W`` (190/10s compressed x10: 190 per second) and a fixed latency ``d``, N
requests need at least ``ceil(N / L)`` windows' worth of the limit: the last window's share can go ``(ceil(N / L)
- 1) x W`` after the first request, and is answered ``d`` later. Figure: that minimum over the actual time, from
the first request sent (the first rate slot given) to the last answer received (the last outcome), per load
size, in three settings:

- **alone**: one ``bulk_create`` in this process;
- **beside**: the same, while another client of the same token draws 30% of the window (``L' = 0.7 L`` in the
  minimum);
- **four**: four processes on one Redis budget, the N requests split evenly (one minimum for all, from the
  first request of any to the last answer of any).

The N requests are batch creates, so the preflight is off by default (``--preflight`` turns it on): its two schema
reads take two slots of the same window, and at exactly two windows' worth they push the last request into a
third window (``(ceil((N + 2) / L) - 1) x W + d`` is then the true minimum).

429s per request are counted by the loaders (and the other client's separately).
"""

from __future__ import annotations

import json
import math
import os
import secrets
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import anyio

from benchmarks._harness import REPO_ROOT, TOKEN, cart_record, median, simulator
from benchmarks.scaleout import redis_server
from cartloader import Outcome, bulk_create
from cartloader.budget.local import RateBudget
from cartloader.budget.shared import SharedBudget
from cartloader.config import Concurrency
from cartloader.rate import Rate

SETTINGS = ("alone", "beside", "four")
PROCESSES = 4


@dataclass(frozen=True, slots=True)
class Load:
    """What a sweep point asks for."""

    fast: Rate  # the compressed limit
    requests: int
    batch_size: int
    concurrency: Concurrency
    pace: str
    preflight: bool = False  # its two schema reads take two slots of the window (not part of the N requests)


@dataclass(frozen=True, slots=True)
class Timing:
    """One run: first request sent and last answer received (monotonic, comparable across processes on Linux),
    the loaders' requests and 429s, and the other client's."""

    first_sent: float
    last_answer: float
    requests: int
    rate_limited: int
    other_admitted: int = 0
    other_refused: int = 0

    @property
    def actual_s(self) -> float:
        return self.last_answer - self.first_sent


def minimum_s(requests: int, per_window: float, window_s: float, latency_s: float) -> float:
    """``(ceil(N / L) - 1) x W + d``."""
    return (math.ceil(requests / per_window) - 1) * window_s + latency_s


class _Stamps:
    """When the first rate slot was given and the last outcome arrived."""

    def __init__(self) -> None:
        self.first = math.inf
        self.last = -math.inf

    def slot(self) -> None:
        self.first = min(self.first, time.monotonic())

    def outcome(self, _: Outcome) -> None:
        self.last = time.monotonic()


class _TimedBudget(RateBudget):
    """The loader's own budget, noting when it gives its first slot."""

    def __init__(self, stamps: _Stamps, pace: str) -> None:
        super().__init__(pace=pace)
        self.stamps = stamps

    async def acquire(self) -> None:
        await super().acquire()
        self.stamps.slot()


class _TimedSharedBudget(SharedBudget):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self.stamps = kwargs.pop("stamps")
        super().__init__(*args, **kwargs)

    async def acquire(self) -> None:
        await super().acquire()
        self.stamps.slot()


def _records(count: int, first: int = 0) -> Iterator[dict[str, Any]]:
    return (cart_record(first + i) for i in range(count))


async def _load(url: str, load: Load, records: int, stamps: _Stamps, budget: Any) -> tuple[int, int]:
    summary = await bulk_create(
        _records(records),
        token=TOKEN,
        base_url=url,
        concurrency=load.concurrency,
        batch_size=load.batch_size,
        budget=budget,
        preflight=load.preflight,
        on_outcome=stamps.outcome,
    )
    return summary.requests, summary.rate_limited


async def run_alone(url: str, load: Load) -> Timing:
    stamps = _Stamps()
    requests, limited = await _load(url, load, load.requests * load.batch_size, stamps, _TimedBudget(stamps, load.pace))
    return Timing(stamps.first, stamps.last, requests, limited)


async def run_beside(url: str, load: Load, share: float, client_factory: Callable[[str, float], Any]) -> Timing:
    """The load while another client on the same token draws ``share`` of the window (from a window before)."""
    client = client_factory(url, share * load.fast.requests / load.fast.window_s)
    stop = anyio.Event()
    result: list[Timing] = []

    async def other() -> None:
        with anyio.CancelScope() as scope:
            async with anyio.create_task_group() as group:
                group.start_soon(client.run, 3600.0)
                await stop.wait()
                scope.cancel()

    async with anyio.create_task_group() as group:
        group.start_soon(other)
        await anyio.sleep(load.fast.window_s)
        result.append(await run_alone(url, load))
        stop.set()
    timing = result[0]
    return Timing(
        timing.first_sent, timing.last_answer, timing.requests, timing.rate_limited, client.admitted, client.refused
    )


def run_four(url: str, redis_url: str, load: Load) -> Timing:
    """Four loader processes on one fresh Redis budget key, started together, N split evenly."""
    budget = f"{redis_url}?key=sweep-{secrets.token_hex(4)}"
    env = dict(os.environ)
    env["PYTHONPATH"] = str(REPO_ROOT) + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    share = load.requests // PROCESSES
    workers = []
    for n in range(PROCESSES):
        command = [sys.executable, "-m", "benchmarks.ceiling", "worker", url, budget]
        command += ["--requests", str(share), "--batch-size", str(load.batch_size), "--first", str(n * 10_000_000)]
        command += ["--concurrency", str(load.concurrency), "--pace", load.pace]
        command += ["--preflight"] if load.preflight else []
        workers.append(
            subprocess.Popen(
                command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env
            )
        )
    for worker in workers:  # every process has joined the budget: start-up is not what is measured
        assert worker.stdout is not None
        if worker.stdout.readline().strip() != "ready":
            raise RuntimeError(f"a loader process did not start: {worker.communicate()[1].strip()[-2000:]}")
    for worker in workers:
        assert worker.stdin is not None
        worker.stdin.write("go\n")
        worker.stdin.flush()
    results = []
    for worker in workers:
        out, err = worker.communicate(timeout=600)
        if worker.returncode != 0:
            raise RuntimeError(f"a loader process failed ({worker.returncode}): {err.strip()[-2000:]}")
        results.append(json.loads(out.strip().splitlines()[-1]))
    return Timing(
        min(r["first_sent"] for r in results),
        max(r["last_answer"] for r in results),
        sum(r["requests"] for r in results),
        sum(r["rate_limited"] for r in results),
    )


async def _worker(
    url: str,
    budget_url: str,
    requests: int,
    batch_size: int,
    first: int,
    concurrency: str,
    pace: str,
    preflight: bool,
) -> None:
    stamps = _Stamps()
    async with _TimedSharedBudget.from_url(budget_url, pace=pace, stamps=stamps) as budget:
        print("ready", flush=True)
        await anyio.to_thread.run_sync(sys.stdin.readline)
        summary = await bulk_create(
            _records(requests * batch_size, first),
            token=TOKEN,
            base_url=url,
            concurrency="auto" if concurrency == "auto" else int(concurrency),
            batch_size=batch_size,
            budget=budget,
            on_outcome=stamps.outcome,
            preflight=preflight,
        )
    print(
        json.dumps(
            {
                "first_sent": stamps.first,
                "last_answer": stamps.last,
                "requests": summary.requests,
                "rate_limited": summary.rate_limited,
            }
        )
    )


def worker_main(argv: list[str]) -> int:
    """``python -m benchmarks.ceiling worker URL BUDGET_URL ...``: one of the four processes."""
    import argparse

    parser = argparse.ArgumentParser(prog="python -m benchmarks.ceiling worker")
    parser.add_argument("url")
    parser.add_argument("budget")
    parser.add_argument("--requests", type=int, required=True)
    parser.add_argument("--batch-size", type=int, required=True)
    parser.add_argument("--first", type=int, default=0)
    parser.add_argument("--concurrency", default="auto")
    parser.add_argument("--pace", default="burst")
    parser.add_argument("--preflight", action="store_true")
    args = parser.parse_args(argv)
    anyio.run(
        _worker,
        args.url,
        args.budget,
        args.requests,
        args.batch_size,
        args.first,
        args.concurrency,
        args.pace,
        args.preflight,
    )
    return 0


def sweep(
    *,
    fast: Rate,
    sizes: list[int],
    settings: list[str],
    runs: int,
    latency_s: float,
    simulator_latency_ms: float,
    batch_size: int,
    concurrency: Concurrency,
    pace: str,
    preflight: bool,
    other_share: float,
    client_factory: Callable[[str, float], Any],
    progress: Callable[[str], None],
) -> list[dict[str, Any]]:
    """Every (setting, size) point, ``runs`` times each on a fresh simulator; medians."""
    points: list[dict[str, Any]] = []
    rate_text = f"{fast.requests}/{fast.window_s * 1000:g}ms"
    latency = (simulator_latency_ms, simulator_latency_ms)
    with redis_server() as redis_url:
        for setting in settings:
            for size in sizes:
                per_window = fast.requests * (1 - other_share) if setting == "beside" else fast.requests
                minimum = minimum_s(size, per_window, fast.window_s, latency_s)
                load = Load(fast, size, batch_size, concurrency, pace, preflight)
                timings: list[Timing] = []
                for run_no in range(runs):
                    with simulator(rate=rate_text, latency_ms=latency, seed=run_no + 1) as sim:
                        if setting == "alone":
                            timing = anyio.run(run_alone, sim.url, load, backend="asyncio")
                        elif setting == "beside":
                            timing = anyio.run(
                                run_beside, sim.url, load, other_share, client_factory, backend="asyncio"
                            )
                        else:
                            timing = run_four(sim.url, redis_url, load)
                    timings.append(timing)
                    progress(
                        f"{setting} N={size} run {run_no + 1}: {timing.actual_s:.3f} s, "
                        f"minimum/actual {minimum / timing.actual_s:.3f}, 429 {timing.rate_limited}/{timing.requests}"
                    )
                ratios = [minimum / t.actual_s for t in timings]
                points.append(
                    {
                        "setting": setting,
                        "requests": size,
                        "windows": size / fast.requests,
                        "minimum_s": round(minimum, 4),
                        "actual_s": round(median([t.actual_s for t in timings]), 4),
                        "ratio": round(median(ratios), 4),
                        "ratios": [round(r, 4) for r in ratios],
                        "loader_429_share": median([t.rate_limited / max(1, t.requests) for t in timings]),
                        "loader_429": [t.rate_limited for t in timings],
                        "other_429_share": median(
                            [t.other_refused / max(1, t.other_admitted + t.other_refused) for t in timings]
                        )
                        if setting == "beside"
                        else None,
                        "load_1min": round(os.getloadavg()[0], 2),
                    }
                )
    return points


def goal(point: dict[str, Any]) -> float:
    """The issue's goal for a point: 0.95 at 5 and 50 windows, 0.9 at 2 windows (alone and beside); 0.9 for
    four processes at 50 windows (the smaller four-process loads are shown, without a goal)."""
    windows = point["windows"]
    if point["setting"] == "four":
        return 0.9 if windows >= 50 else 0.0
    return 0.9 if windows <= 2 else 0.95
