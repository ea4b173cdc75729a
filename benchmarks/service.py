"""``python -m benchmarks.service``: many callers with a few carts each, coalesced by ``submit()``, against one
``create()`` per caller, under HubSpot's real rolling limit.

The simulator runs in its own process at 190/10s with a fixed latency (``--latency-ms``, default 300 ms for 100
inputs). Callers (tasks) arrive at random (Poisson) moments for ``--seconds`` (default 20), each holding 1-5 carts
(uniform), in two regimes: saturated (demand 3x the window's capacity of 1,900 records/s) and light (0.2x). Each
caller either submits its carts to one shared ``CartLoader`` (``submit``) or calls ``loader.create(carts)`` on it
(``create``, today's way). At most ``--max-callers`` callers wait at once (a service would turn the rest away
with a 503; they are counted). Per cell, from the simulator's counters over the arrival period: records created
per second (and over the capacity), records per accepted (2xx) request, 429s; from the loader: each record's
wait from the call to its request being sent (p50, p99), and the in-flight limit ``auto`` settled on. Callers
still waiting when the period ends are cancelled (unsent records withdrawn). ``--linger`` (repeatable list)
sweeps the submit cells. Prints the table with the load average, writes ``benchmarks/results/service.json``.
"""

from __future__ import annotations

import argparse
import functools
import math
import os
import random
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import anyio

from benchmarks._harness import TOKEN, cart_record, cpu_seconds, machine, print_table, simulator, write_json
from cartloader import CartLoader, Outcome
from cartloader.config import DEFAULT_LINGER_S, DEFAULT_MAX_PENDING
from cartloader.models import CartInput, Settled
from cartloader.rate import Rate

REGIMES = {"saturated": 3.0, "light": 0.2}
MEAN_CARTS = 3.0  # uniform 1..5
ARRIVAL_TICK_S = 0.01


@dataclass(slots=True)
class Cell:
    """What one regime x mode (x linger) run measured."""

    regime: str
    mode: str
    linger_s: float | None
    seconds: float
    created: int = 0
    accepted_requests: int = 0
    rate_limited: int = 0
    callers: int = 0
    turned_away: int = 0
    cancelled: int = 0
    waits_ms: list[float] = field(default_factory=list)
    concurrency_limit: int = 0
    cpu_share: float = 0.0  # this process's CPU seconds per second of the period (the loader and the callers)
    budget_per_s: float = 0.0  # the pace the budget kept at the end
    others_in_window: float = 0.0  # what the budget believed others drew from the window

    def row(self, capacity: float) -> tuple[object, ...]:
        per_s = self.created / self.seconds
        return (
            self.regime,
            self.mode,
            "-" if self.linger_s is None else f"{self.linger_s * 1000:g}",
            per_s,
            per_s / capacity,
            self.created / self.accepted_requests if self.accepted_requests else 0.0,
            _percentile(self.waits_ms, 0.50),
            _percentile(self.waits_ms, 0.99),
            self.callers,
            self.turned_away,
            self.rate_limited,
            self.concurrency_limit,
            self.cpu_share,
        )

    def to_dict(self, capacity: float) -> dict[str, Any]:
        per_s = self.created / self.seconds
        return {
            "regime": self.regime,
            "mode": self.mode,
            "linger_ms": None if self.linger_s is None else self.linger_s * 1000,
            "records_per_s": round(per_s, 1),
            "of_capacity": round(per_s / capacity, 4),
            "records_per_accepted_request": round(self.created / self.accepted_requests, 2)
            if self.accepted_requests
            else 0.0,
            "wait_to_send_ms": {
                "p50": round(_percentile(self.waits_ms, 0.50), 1),
                "p99": round(_percentile(self.waits_ms, 0.99), 1),
                "count": len(self.waits_ms),
            },
            "callers_served": self.callers,
            "callers_turned_away": self.turned_away,
            "callers_cancelled_at_end": self.cancelled,
            "rate_limited": self.rate_limited,
            "created_in_period": self.created,
            "accepted_requests_in_period": self.accepted_requests,
            "auto_concurrency_limit": self.concurrency_limit,
            "cpu_share": round(self.cpu_share, 3),
            "budget_per_s": round(self.budget_per_s, 2),
            "budget_others_in_window": self.others_in_window,
        }


def _percentile(values: Sequence[float], fraction: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, math.ceil(fraction * len(ordered)) - 1))]


class SentTimes:
    """An outcome sink noting when each line's first request left (for submit: lines are submission positions)."""

    def __init__(self) -> None:
        self.sent: dict[int, float] = {}

    def pending(self, inputs: Sequence[CartInput]) -> None:
        now = time.monotonic()
        for record in inputs:
            self.sent[record.line] = now

    def settled(self, results: Sequence[Settled]) -> None:
        pass


def _counters(stats: dict[str, Any]) -> tuple[int, int, int]:
    by_status: dict[str, int] = stats["by_status"]
    accepted = sum(count for status, count in by_status.items() if status.startswith("2"))
    return stats["objects_created"], accepted, by_status.get("429", 0)


async def run_cell(
    url: str,
    sim_stats: Any,
    *,
    regime: str,
    mode: str,
    linger_s: float,
    seconds: float,
    capacity: float,
    max_callers: int,
    max_pending: int,
    seed: int,
) -> Cell:
    """Callers arrive for ``seconds``; the simulator's counters are read at the start and the end of that period."""
    rng = random.Random(seed)
    callers_per_s = REGIMES[regime] * capacity / MEAN_CARTS
    cell = Cell(regime, mode, linger_s if mode == "submit" else None, seconds)
    submit_log = SentTimes()
    ids = iter(range(1, 10**9))

    async with (
        anyio.create_task_group() as callers,
        CartLoader(TOKEN, base_url=url, linger=linger_s, submit_log=submit_log, max_pending=max_pending) as loader,
    ):

        async def submit_caller(records: list[dict[str, Any]]) -> None:
            started = time.monotonic()
            outcomes: list[Outcome] = []

            async def one(record: dict[str, Any]) -> None:
                outcomes.append(await loader.submit(record))

            async with anyio.create_task_group() as group:
                for record in records:
                    group.start_soon(one, record)
            for outcome in outcomes:
                sent = submit_log.sent.pop(outcome.line, None)
                if sent is not None:
                    cell.waits_ms.append((sent - started) * 1000)

        async def create_caller(records: list[dict[str, Any]]) -> None:
            started = time.monotonic()
            times = SentTimes()
            await loader.create(records, outcome_log=times)
            cell.waits_ms.extend((sent - started) * 1000 for sent in times.sent.values())

        caller = submit_caller if mode == "submit" else create_caller

        live: set[anyio.CancelScope] = set()

        async def run_caller(records: list[dict[str, Any]], scope: anyio.CancelScope) -> None:
            try:
                with scope:
                    await caller(records)
                    cell.callers += 1
            finally:
                live.discard(scope)

        before = _counters(await anyio.to_thread.run_sync(sim_stats))
        start = time.monotonic()
        cpu_before = cpu_seconds()
        end = start + seconds
        due = start + rng.expovariate(callers_per_s)
        while due < end:
            # Wake once per tick and start every caller due by then: one timer per arrival (1,900 a second when
            # saturated) would cost the event loop the loader shares more than the callers themselves.
            await anyio.sleep_until(min(due + ARRIVAL_TICK_S, end))
            now = time.monotonic()
            while due <= now and due < end:
                if len(live) >= max_callers:
                    cell.turned_away += 1
                else:
                    records = [cart_record(next(ids)) for _ in range(rng.randint(1, 5))]
                    scope = anyio.CancelScope()
                    live.add(scope)
                    callers.start_soon(run_caller, records, scope)
                due += rng.expovariate(callers_per_s)
        await anyio.sleep_until(end)
        after = _counters(await anyio.to_thread.run_sync(sim_stats))
        cell.cpu_share = (cpu_seconds() - cpu_before) / (time.monotonic() - start)
        statistics = loader.statistics()
        cell.concurrency_limit = statistics.concurrency.limit
        if statistics.budget is not None:
            cell.budget_per_s = statistics.budget.effective_per_s
            cell.others_in_window = statistics.budget.others_in_window
        cell.cancelled = len(live)
        for scope in list(live):
            scope.cancel()
    cell.created = after[0] - before[0]
    cell.accepted_requests = after[1] - before[1]
    cell.rate_limited = after[2] - before[2]
    return cell


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.service", description=__doc__)
    parser.add_argument("--seconds", type=float, default=20.0, help="arrival period per cell (default 20)")
    parser.add_argument("--rate", type=Rate.parse, default=Rate.parse("190/10s"), help="the simulator's limit")
    parser.add_argument("--latency-ms", type=float, default=300.0, help="fixed latency of a 100-input request")
    parser.add_argument(
        "--linger",
        default=f"{DEFAULT_LINGER_S * 1000:g}",
        help="linger values for submit, in ms, comma-separated (default: the library default)",
    )
    parser.add_argument("--regimes", default="saturated,light", help="saturated, light or both (default)")
    parser.add_argument("--modes", default="submit,create", help="submit, create or both (default)")
    parser.add_argument("--max-callers", type=int, default=1000, help="callers waiting at once at most (1000)")
    parser.add_argument(
        "--max-pending", type=int, default=DEFAULT_MAX_PENDING, help="the loader's max_pending (library default)"
    )
    parser.add_argument("--pause", type=float, default=11.0, help="seconds between cells for the window to empty")
    args = parser.parse_args(argv)
    rate: Rate = args.rate
    capacity = rate.per_second * 100  # records per second with full batches
    lingers = [float(v) / 1000 for v in args.linger.split(",")]
    regimes = args.regimes.split(",")
    modes = args.modes.split(",")

    info = machine()
    cells: list[Cell] = []
    plan = [
        (regime, mode, linger)
        for regime in regimes
        for mode in modes
        for linger in (lingers if mode == "submit" else [DEFAULT_LINGER_S])
    ]
    with simulator(
        rate=f"{rate.requests}/{rate.window_s * 1000:g}ms", latency_ms=(args.latency_ms, args.latency_ms)
    ) as sim:
        for n, (regime, mode, linger) in enumerate(plan):
            if n:
                time.sleep(args.pause)
            print(f"{regime}, {mode}, linger {linger * 1000:g} ms ...", file=sys.stderr, flush=True)
            cell = anyio.run(
                functools.partial(
                    run_cell,
                    sim.url,
                    sim.stats,
                    regime=regime,
                    mode=mode,
                    linger_s=linger,
                    seconds=args.seconds,
                    capacity=capacity,
                    max_callers=args.max_callers,
                    max_pending=args.max_pending,
                    seed=n + 1,
                ),
                backend="asyncio",
            )
            cells.append(cell)
    load_end = os.getloadavg()[0]
    print(
        f"\nservice: {rate.requests}/{rate.window_s:g}s (capacity {capacity:,.0f} records/s with full batches), "
        f"latency {args.latency_ms:g} ms, {args.seconds:g} s of Poisson callers with 1-5 carts each; "
        f"load average {info['load_1min_at_start']:.2f} at the start, {load_end:.2f} at the end"
    )
    print_table(
        (
            "regime",
            "mode",
            "linger ms",
            "records/s",
            "of capacity",
            "records/request",
            "wait p50 ms",
            "wait p99 ms",
            "callers",
            "turned away",
            "429",
            "auto limit",
            "CPU",
        ),
        [cell.row(capacity) for cell in cells],
    )
    ratios = {}
    for regime in regimes:
        mine = [c for c in cells if c.regime == regime]
        submit = [c for c in mine if c.mode == "submit"]
        create = [c for c in mine if c.mode == "create"]
        if submit and create and create[0].created:
            best = max(submit, key=lambda c: c.created)
            ratios[regime] = round(best.created / create[0].created, 1)
            print(f"{regime}: submit creates {ratios[regime]}x the records of one create() per caller")
    data = {
        "benchmark": "service",
        "machine": info,
        "load_1min_at_end": load_end,
        "rate": f"{rate.requests}/{rate.window_s:g}s",
        "latency_ms": args.latency_ms,
        "seconds": args.seconds,
        "max_callers": args.max_callers,
        "max_pending": args.max_pending,
        "cells": [cell.to_dict(capacity) for cell in cells],
        "submit_over_create": ratios,
    }
    print(f"wrote {write_json('service', data)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
