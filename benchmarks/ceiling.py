"""``python -m benchmarks.ceiling``: does cartloader use HubSpot's rolling window to the last slot without drawing
429s?

By default, the load-size sweep (:mod:`benchmarks._loadsize`): N = 2, 5 and 50 windows' worth of requests under
190/10s compressed x10 with a fixed latency of 30 ms, each against the shortest time the window allows, alone,
beside another client drawing 30% of the window, and as four processes on one Redis budget.

With ``--fill``, the long-load measurement: the simulator runs in its own process under ``--rate`` (default
190/10s), time-compressed by ``--speedup`` (window and latency divided by the same factor), with latency p50 300 ms,
p95 1000 ms. Cartloader (default concurrency, following HubSpot's headers as the CLI does by default) loads carts
for ``--windows`` windows after one of warm-up. Measured per window at the simulator: admitted requests over the
ceiling; from the loader: 429s per request. A second run adds another client on the same token drawing a steady
``--other`` share of the limit (another integration of the same app): cartloader must give way, so the window stays
full but not over-full. Goal: at least 0.97 of the ceiling (of what the other client leaves, in the shared run) with
under 1% 429s. Median of ``--runs`` runs.
"""

from __future__ import annotations

import argparse
import functools
import itertools
import os
import sys
import time
from typing import Any

import aiohttp
import anyio

from benchmarks import _loadsize
from benchmarks._harness import CREATE_PATH, TOKEN, concurrency_arg, machine, median, print_table, simulator, write_json
from benchmarks._paced import WindowedRun, paced_load, simulated_latency
from cartloader.config import DEFAULT_CONCURRENCY, Concurrency
from cartloader.rate import Rate

GOAL_FILL = 0.97
GOAL_429 = 0.01
LATENCY_MS = (300.0, 1000.0)


class SteadyClient:
    """Another integration on the same token: one small create every ``1 / per_s`` seconds, whatever answers."""

    def __init__(self, url: str, per_s: float) -> None:
        self.url = url
        self.per_s = per_s
        self.admitted = 0
        self.refused = 0
        self._ids = itertools.count()

    async def run(self, seconds: float) -> None:
        headers = {"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"}
        async with aiohttp.ClientSession() as session, anyio.create_task_group() as group:
            start = time.monotonic()
            for n in itertools.count():
                at = start + n / self.per_s
                if at - start > seconds:
                    break
                await anyio.sleep(max(0.0, at - time.monotonic()))
                group.start_soon(self._send, session, headers)

    async def _send(self, session: aiohttp.ClientSession, headers: dict[str, str]) -> None:
        i = next(self._ids)
        body = b'{"inputs":[{"properties":{"hs_cart_name":"other %d"},"objectWriteTraceId":"o%d"}]}' % (i, i)
        async with session.post(self.url + CREATE_PATH, data=body, headers=headers) as response:
            await response.read()
            if response.status == 429:
                self.refused += 1
            elif 200 <= response.status < 300:
                self.admitted += 1


async def _shared(
    url: str, fast: Rate, concurrency: Concurrency, windows: int, other: float, batch_size: int
) -> tuple[WindowedRun, SteadyClient]:
    client = SteadyClient(url, other * fast.requests / fast.window_s)
    result: list[WindowedRun] = []

    async def load() -> None:
        await anyio.sleep(fast.window_s)  # the other integration is already running when the load starts
        result.append(
            await paced_load(
                url,
                concurrency=concurrency,
                limit=fast.requests,
                window_s=fast.window_s,
                windows=windows,
                batch_size=batch_size,
            )
        )

    async with anyio.create_task_group() as group:
        group.start_soon(client.run, (windows + 3) * fast.window_s)
        group.start_soon(load)
    return result[0], client


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["worker"]:
        return _loadsize.worker_main(argv[1:])
    if "--fill" not in argv:
        return sweep_main(argv)
    argv = [arg for arg in argv if arg != "--fill"]
    parser = argparse.ArgumentParser(prog="python -m benchmarks.ceiling --fill", description=__doc__)
    parser.add_argument("--rate", type=Rate.parse, default=Rate.parse("190/10s"), help="rolling limit (190/10s)")
    parser.add_argument("--speedup", type=float, default=10.0, help="time compression factor (default 10)")
    parser.add_argument("--windows", type=int, default=30, help="measured windows per run (default 30)")
    parser.add_argument("--runs", type=int, default=3, help="runs of each kind; figures are medians (default 3)")
    parser.add_argument(
        "--concurrency", type=concurrency_arg, default=DEFAULT_CONCURRENCY, help="cartloader's concurrency (auto|N)"
    )
    parser.add_argument("--other", type=float, default=0.3, help="the other client's share of the limit (0.3)")
    parser.add_argument("--batch-size", type=int, default=10, help="inputs per request (default 10, see tune)")
    args = parser.parse_args(argv)
    rate: Rate = args.rate
    fast = Rate(rate.requests, rate.window_s / args.speedup)
    rate_text = f"{fast.requests}/{fast.window_s * 1000:g}ms"

    info = machine()
    alone: list[WindowedRun] = []
    shared: list[tuple[WindowedRun, SteadyClient]] = []
    latency = simulated_latency(LATENCY_MS, args.speedup, args.batch_size)
    for run_no in range(args.runs):
        with simulator(rate=rate_text, latency_ms=latency, seed=run_no + 1) as sim:
            alone.append(
                anyio.run(
                    functools.partial(
                        paced_load,
                        sim.url,
                        concurrency=args.concurrency,
                        limit=fast.requests,
                        window_s=fast.window_s,
                        windows=args.windows,
                        batch_size=args.batch_size,
                    ),
                    backend="asyncio",
                )
            )
        with simulator(rate=rate_text, latency_ms=latency, seed=run_no + 101) as sim:
            shared.append(
                anyio.run(
                    _shared,
                    sim.url,
                    fast,
                    args.concurrency,
                    args.windows,
                    args.other,
                    args.batch_size,
                    backend="asyncio",
                )
            )
        print(
            f"run {run_no + 1}: alone {alone[-1].fill:.3f} of the ceiling, "
            f"shared {shared[-1][0].fill:.3f} (window total)",
            file=sys.stderr,
        )

    other_share = [client.admitted / (client.admitted + client.refused or 1) for _, client in shared]
    # In the shared run, cartloader's part of the window is the total minus what the other client was let in.
    shared_rows = []
    for run, client in shared:
        other_per_window = args.other * fast.requests * (client.admitted / max(1, client.admitted + client.refused))
        ours = run.fill - other_per_window / fast.requests
        left = 1 - other_per_window / fast.requests
        shared_rows.append({"window_fill": run.fill, "ours_of_what_is_left": ours / left, "run": run})
    alone_fill = median([run.fill for run in alone])
    alone_429 = median([run.loader_429_share for run in alone])
    shared_fill = median([row["ours_of_what_is_left"] for row in shared_rows])
    shared_total = median([run.fill for run, _ in shared])
    shared_429 = median([run.loader_429_share for run, _ in shared])
    other_429 = median([client.refused / max(1, client.admitted + client.refused) for _, client in shared])
    rows = [
        ("alone", alone_fill, alone_fill, alone_429, "-"),
        (f"other client at {args.other:.0%}", shared_fill, shared_total, shared_429, f"{other_429:.4f}"),
    ]
    print(
        f"\nceiling: {rate.requests}/{rate.window_s:g}s compressed x{args.speedup:g} ({rate_text}), latency p50 "
        f"{LATENCY_MS[0]:g} ms p95 {LATENCY_MS[1]:g} ms, concurrency {args.concurrency}, {args.windows} windows, "
        f"median of {args.runs} runs"
    )
    print_table(
        ("run", "cartloader / what is left", "window filled", "429/request (cartloader)", "429/request (other)"),
        rows,
    )
    met = alone_fill >= GOAL_FILL and alone_429 < GOAL_429 and shared_fill >= GOAL_FILL and shared_429 < GOAL_429
    print(f"goal (>= {GOAL_FILL} of the ceiling, < 1% 429s): {'met' if met else 'MISSED'}")
    data: dict[str, Any] = {
        "benchmark": "ceiling",
        "machine": info,
        "rate": f"{rate.requests}/{rate.window_s:g}s",
        "speedup": args.speedup,
        "windows": args.windows,
        "concurrency": args.concurrency,
        "batch_size": args.batch_size,
        "other_share": args.other,
        "alone": {"fill": alone_fill, "loader_429_share": alone_429, "runs": [run.to_dict() for run in alone]},
        "shared": {
            "ours_of_what_is_left": shared_fill,
            "window_fill": shared_total,
            "loader_429_share": shared_429,
            "other_429_share": other_429,
            "other_admitted_share": other_share,
            "runs": [{**run.to_dict(), "other_admitted": c.admitted, "other_refused": c.refused} for run, c in shared],
        },
        "goal_met": met,
    }
    print(f"wrote {write_json('ceiling', data)}")
    return 0


def sweep_main(argv: list[str]) -> int:
    """The load-size sweep: print the table, write ``benchmarks/results/ceiling-sweep.json``."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks.ceiling", description=__doc__)
    parser.add_argument("--rate", type=Rate.parse, default=Rate.parse("190/10s"), help="rolling limit (190/10s)")
    parser.add_argument("--speedup", type=float, default=10.0, help="time compression factor (default 10)")
    parser.add_argument("--sizes", default="380,950,9500", help="requests per load (default 380,950,9500)")
    parser.add_argument("--settings", default=",".join(_loadsize.SETTINGS), help="alone,beside,four (all)")
    parser.add_argument("--runs", type=int, default=3, help="runs per point; figures are medians (default 3)")
    parser.add_argument("--latency-ms", type=float, default=300.0, help="fixed latency, real time (300: 30 ms x10)")
    parser.add_argument("--concurrency", type=concurrency_arg, default=DEFAULT_CONCURRENCY, help="auto or N")
    parser.add_argument("--pace", default="burst", choices=("burst", "even"), help="the budget's pace (burst)")
    parser.add_argument("--other", type=float, default=0.3, help="the other client's share of the limit (0.3)")
    parser.add_argument("--batch-size", type=int, default=10, help="inputs per request (default 10)")
    parser.add_argument(
        "--preflight", action="store_true", help="run the schema preflight too (two more requests per loader)"
    )
    args = parser.parse_args(argv)
    rate: Rate = args.rate
    fast = Rate(rate.requests, rate.window_s / args.speedup)
    latency_s = args.latency_ms / 1000 / args.speedup
    info = machine()
    started = time.monotonic()
    points = _loadsize.sweep(
        fast=fast,
        sizes=[int(size) for size in args.sizes.split(",")],
        settings=args.settings.split(","),
        runs=args.runs,
        latency_s=latency_s,
        simulator_latency_ms=simulated_latency((args.latency_ms, args.latency_ms), args.speedup, args.batch_size)[0],
        batch_size=args.batch_size,
        concurrency=args.concurrency,
        pace=args.pace,
        preflight=args.preflight,
        other_share=args.other,
        client_factory=SteadyClient,
        progress=lambda line: print(line, file=sys.stderr),
    )
    load_end = os.getloadavg()[0]
    print(
        f"\nceiling, load-size sweep: {rate.requests}/{rate.window_s:g}s compressed x{args.speedup:g} "
        f"({fast.requests} per {fast.window_s:g} s), fixed latency {latency_s * 1000:g} ms, batch {args.batch_size}, "
        f"concurrency {args.concurrency}, pace {args.pace}, preflight {'on' if args.preflight else 'off'}, "
        f"median of {args.runs} runs; load average "
        f"{info['load_1min_at_start']:.2f} at the start, {load_end:.2f} at the end"
    )
    rows = []
    met = True
    for point in points:
        target = _loadsize.goal(point)
        ok = point["ratio"] >= target and point["loader_429_share"] < GOAL_429
        met = met and ok
        rows.append(
            (
                point["setting"],
                point["requests"],
                point["minimum_s"],
                point["actual_s"],
                point["ratio"],
                f">= {target:g}" if target else "-",
                point["loader_429_share"],
                "met" if ok else "MISSED",
            )
        )
    print_table(("setting", "requests", "minimum s", "actual s", "minimum / actual", "goal", "429/request", ""), rows)
    print(f"goals: {'met' if met else 'MISSED'}")
    data = {
        "benchmark": "ceiling-sweep",
        "machine": info,
        "load_1min_at_end": load_end,
        "duration_s": round(time.monotonic() - started, 1),
        "rate": f"{rate.requests}/{rate.window_s:g}s",
        "speedup": args.speedup,
        "latency_ms": args.latency_ms,
        "batch_size": args.batch_size,
        "concurrency": args.concurrency,
        "pace": args.pace,
        "preflight": args.preflight,
        "other_share": args.other,
        "points": points,
        "goal_met": met,
    }
    print(f"wrote {write_json('ceiling-sweep', data)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
