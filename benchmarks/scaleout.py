"""``python -m benchmarks.scaleout``: 1, 2, 4 and 8 loader processes under one shared budget (Redis).

One simulator process enforces one rolling limit (default 190/10s, time-compressed by ``--speedup``; latency
p50 300 ms, p95 1000 ms, compressed alike) on one token. For each process count, that many ``cartloader``
processes load an endless stream of carts with ``budget="redis://...?key=..."`` (a fresh key per run) against a
``redis-server`` this benchmark starts on a loopback port. Once every process has started loading (each says
so) and after one window of warm-up, the simulator's counters are sampled at every window boundary for
``--windows`` windows:

- **fill**: requests the simulator admitted (2xx) per window over the ceiling, all processes together
  (goal: at least 0.9);
- **429/request**: 429 answers over all requests in those windows.

Two contrast rows run 4 processes each on its own per-process budget (no Redis), the way they ran before:
following HubSpot's headers (the default), and each told the app's limit with ``--rate``.
Medians of ``--runs`` runs; the whole benchmark takes about 4 minutes with the defaults.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from typing import Any

import anyio

from benchmarks._harness import (
    REPO_ROOT,
    TOKEN,
    cart_record,
    concurrency_arg,
    machine,
    median,
    print_table,
    simulator,
    write_json,
)
from benchmarks._paced import simulated_latency
from cartloader.config import DEFAULT_CONCURRENCY, Concurrency
from cartloader.rate import Rate

GOAL_FILL = 0.9
LATENCY_MS = (300.0, 1000.0)
PROCESS_COUNTS = (1, 2, 4, 8)
CONTRAST_PROCESSES = 4


# -- Redis -----------------------------------------------------------------------------------------


@contextmanager
def redis_server() -> Iterator[str]:
    """``redis-server`` on a free loopback port, without persistence; yields ``redis://127.0.0.1:PORT/0``."""
    binary = shutil.which("redis-server")
    if binary is None:
        raise SystemExit("redis-server is not installed (apt-get install redis-server)")
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    args = [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]
    process = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=0.2) as conn:
                    conn.sendall(b"PING\r\n")
                    if conn.recv(16).startswith(b"+PONG"):
                        break
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError("redis-server did not start")
            time.sleep(0.02)
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        process.terminate()
        process.wait()


# -- one loader process ----------------------------------------------------------------------------


async def _work(
    url: str, budget: str | None, rate: str | None, concurrency: Concurrency, batch_size: int, first: int
) -> None:
    from cartloader import bulk_create

    stop = anyio.Event()

    async def records() -> AsyncIterator[dict[str, Any]]:
        print("ready", flush=True)  # the loader is open: the budget is connected
        i = first
        while not stop.is_set():
            yield cart_record(i)
            i += 1

    async def stop_on_input() -> None:
        await anyio.to_thread.run_sync(sys.stdin.readline, abandon_on_cancel=True)
        stop.set()

    async with anyio.create_task_group() as group:
        group.start_soon(stop_on_input)
        summary = await bulk_create(
            records(),
            token=TOKEN,
            base_url=url,
            concurrency=concurrency,
            batch_size=batch_size,
            budget=budget,
            rate=rate,
        )
        group.cancel_scope.cancel()
    print(json.dumps({"requests": summary.requests, "rate_limited": summary.rate_limited, "created": summary.created}))


def _worker(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.scaleout worker")
    parser.add_argument("url")
    parser.add_argument("--budget")
    parser.add_argument("--rate")
    parser.add_argument("--concurrency", type=concurrency_arg, required=True)
    parser.add_argument("--batch-size", type=int, required=True)
    parser.add_argument("--first", type=int, default=0)
    args = parser.parse_args(argv)
    anyio.run(_work, args.url, args.budget, args.rate, args.concurrency, args.batch_size, args.first)
    return 0


# -- one run ---------------------------------------------------------------------------------------


def _counts(stats: dict[str, Any]) -> tuple[int, int]:
    by_status: dict[str, int] = stats["by_status"]
    admitted = sum(count for status, count in by_status.items() if status.startswith("2"))
    return admitted, by_status.get("429", 0)


def _run(
    processes: int,
    budget: str | None,
    cap: str | None,
    *,
    rate_text: str,
    fast: Rate,
    latency: tuple[float, float],
    windows: int,
    concurrency: Concurrency,
    batch_size: int,
    seed: int,
) -> dict[str, Any]:
    """``processes`` loaders against one fresh simulator; the simulator's counts per measured window."""
    with simulator(rate=rate_text, latency_ms=latency, seed=seed) as sim:
        env = dict(os.environ)
        env["PYTHONPATH"] = str(REPO_ROOT) + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
        workers = []
        for n in range(processes):
            command = [sys.executable, "-m", "benchmarks.scaleout", "worker", sim.url]
            command += ["--concurrency", str(concurrency), "--batch-size", str(batch_size)]
            command += ["--first", str(n * 10_000_000)]
            if budget is not None:
                command += ["--budget", budget]
            if cap is not None:
                command += ["--rate", cap]
            workers.append(
                subprocess.Popen(
                    command,
                    stdin=subprocess.PIPE,
                    stdout=subprocess.PIPE,
                    stderr=subprocess.PIPE,
                    text=True,
                    cwd=REPO_ROOT,
                    env=env,
                )
            )
        for worker in workers:  # every process has started loading (startup is not what is measured)
            assert worker.stdout is not None
            if worker.stdout.readline().strip() != "ready":
                raise RuntimeError(f"a loader process did not start: {worker.communicate()[1].strip()[-2000:]}")
        measure_from = time.time() + fast.window_s  # one window of warm-up
        time.sleep(fast.window_s)
        admitted: list[int] = []
        refused: list[int] = []
        before = _counts(sim.stats())
        for n in range(1, windows + 1):
            time.sleep(max(0.0, measure_from + n * fast.window_s - time.time()))
            after = _counts(sim.stats())
            admitted.append(after[0] - before[0])
            refused.append(after[1] - before[1])
            before = after
        summaries = []
        for worker in workers:
            out, err = worker.communicate("stop\n", timeout=120)
            if worker.returncode != 0:
                raise RuntimeError(f"a loader process failed ({worker.returncode}): {err.strip()[-2000:]}")
            summaries.append(json.loads(out.strip().splitlines()[-1]))
    requests = sum(admitted) + sum(refused)
    return {
        "fill": sum(admitted) / (fast.requests * windows),
        "share_429": sum(refused) / requests if requests else 0.0,
        "admitted_per_window": admitted,
        "refused_per_window": refused,
        "loaders": summaries,
    }


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["worker"]:
        return _worker(argv[1:])
    parser = argparse.ArgumentParser(prog="python -m benchmarks.scaleout", description=__doc__)
    parser.add_argument("--rate", type=Rate.parse, default=Rate.parse("190/10s"), help="rolling limit (190/10s)")
    parser.add_argument("--speedup", type=float, default=10.0, help="time compression factor (default 10)")
    parser.add_argument("--windows", type=int, default=10, help="measured windows per run (default 10)")
    parser.add_argument("--runs", type=int, default=2, help="runs per process count; figures are medians (2)")
    parser.add_argument(
        "--concurrency",
        type=concurrency_arg,
        default=DEFAULT_CONCURRENCY,
        help="each process's concurrency (the default)",
    )
    parser.add_argument(
        "--processes", default=",".join(map(str, PROCESS_COUNTS)), help="process counts to run (1,2,4,8)"
    )
    parser.add_argument("--batch-size", type=int, default=10, help="inputs per request (default 10)")
    parser.add_argument("--no-contrast", action="store_true", help="skip the run without a shared budget")
    args = parser.parse_args(argv)
    rate: Rate = args.rate
    fast = Rate(rate.requests, rate.window_s / args.speedup)
    rate_text = f"{fast.requests}/{fast.window_s * 1000:g}ms"
    latency = simulated_latency(LATENCY_MS, args.speedup, args.batch_size)
    options = {
        "rate_text": rate_text,
        "fast": fast,
        "latency": latency,
        "windows": args.windows,
        "concurrency": args.concurrency,
        "batch_size": args.batch_size,
    }

    info = machine()
    started = time.monotonic()
    counts = [int(n) for n in args.processes.split(",")]
    # (name, processes, shared budget, each process's --rate)
    scenarios: list[tuple[str, int, bool, str | None]] = [(f"{n} shared", n, True, None) for n in counts]
    if not args.no_contrast:
        n = CONTRAST_PROCESSES
        scenarios.append((f"{n} on their own", n, False, None))
        scenarios.append((f"{n} on their own, --rate {rate_text}", n, False, rate_text))
    results: dict[str, list[dict[str, Any]]] = {name: [] for name, *_ in scenarios}
    with redis_server() as redis_url:
        for run_no in range(args.runs):
            for name, processes, shared, cap in scenarios:
                budget = f"{redis_url}?key=scaleout-{secrets.token_hex(4)}" if shared else None
                result = _run(processes, budget, cap, seed=run_no + 1, **options)
                results[name].append(result)
                print(
                    f"run {run_no + 1}, {name}: fill {result['fill']:.3f}, 429/request {result['share_429']:.4f}",
                    file=sys.stderr,
                )

    rows = []
    summary: dict[str, Any] = {}
    for name, processes, shared, _ in scenarios:
        fill = median([r["fill"] for r in results[name]])
        share_429 = median([r["share_429"] for r in results[name]])
        rows.append((name, processes, "yes" if shared else "no", fill, share_429))
        summary[name] = {"processes": processes, "shared_budget": shared, "fill": fill, "share_429": share_429}
    print(
        f"\nceiling: {rate.requests}/{rate.window_s:g}s compressed x{args.speedup:g} ({rate_text}), latency p50 "
        f"{LATENCY_MS[0]:g} ms p95 {LATENCY_MS[1]:g} ms, batch {args.batch_size}, concurrency {args.concurrency} "
        f"per process, {args.windows} windows, median of {args.runs} runs"
    )
    print_table(("processes", "n", "shared budget", "fill (of the ceiling)", "429/request"), rows)
    shared_fills = [summary[name]["fill"] for name, _, shared, _ in scenarios if shared]
    shared_429 = [summary[name]["share_429"] for name, _, shared, _ in scenarios if shared]
    met = min(shared_fills) >= GOAL_FILL and max(shared_429) < 0.01
    verdict = "met" if met else "MISSED"
    print(f"goal (shared: >= {GOAL_FILL} of the ceiling, < 1% 429s, at every process count): {verdict}")
    data: dict[str, Any] = {
        "benchmark": "scaleout",
        "machine": info,
        "rate": f"{rate.requests}/{rate.window_s:g}s",
        "speedup": args.speedup,
        "windows": args.windows,
        "runs": args.runs,
        "concurrency_per_process": args.concurrency,
        "batch_size": args.batch_size,
        "summary": summary,
        "results": results,
        "goal_met": met,
        "duration_s": round(time.monotonic() - started, 1),
    }
    print(f"wrote {write_json('scaleout', data)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
