"""``python -m benchmarks.overhead``: what cartloader costs per record, next to a bare aiohttp floor.

The simulator runs in its own process (``--no-store``, no latency, no limit). In the same run, ``--records``
records go through: the floor (aiohttp posting pre-serialized 100-input bodies with ``--concurrency`` requests in
flight, answers parsed with orjson, no per-record work), ``bulk_create`` (in this process; the loader is given a
rate far above what the simulator serves, so its budget never binds), and the CLI (a subprocess reading an NDJSON
file and writing the outcome log). For each: records/s and the loader process's own CPU microseconds per record
(``getrusage`` of this process, or ``wait4`` of the CLI's; never the simulator's), median of ``--runs`` rounds
(default one: the default run must fit in five minutes on a 2-core machine). Then a sampling profile
(pyinstrument) of one CLI run shows where the loader's time goes.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import aiohttp
import anyio
import orjson

from benchmarks._harness import (
    CREATE_PATH,
    FIXED_CONCURRENCY,
    RESULTS_DIR,
    TOKEN,
    cart_record,
    cli_command,
    cli_env,
    cpu_seconds,
    machine,
    median,
    print_table,
    require_extra,
    run_child,
    simulator,
    write_input,
    write_json,
)
from cartloader import bulk_create

UNBOUNDED_RATE = "1000000/1s"  # far above what one simulator process serves: the budget never waits
BATCH = 100
DISTINCT_BODIES = 64


def _floor_bodies() -> list[bytes]:
    bodies = []
    for b in range(DISTINCT_BODIES):
        inputs = []
        for i in range(BATCH):
            record = cart_record(b * BATCH + i + 1)
            properties = {k: str(v) for k, v in record.items()}
            inputs.append({"properties": properties, "objectWriteTraceId": f"floor-{b}-{i}"})
        bodies.append(orjson.dumps({"inputs": inputs}))
    return bodies


async def _floor(url: str, records: int, concurrency: int, bodies: list[bytes]) -> tuple[float, float]:
    """Post ceil(records / 100) pre-serialized bodies; return (wall seconds, CPU seconds)."""
    requests = -(-records // BATCH)
    counter = itertools.count()
    headers = {"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"}
    created = 0
    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(connector=connector) as session:

        async def worker() -> None:
            nonlocal created
            while (n := next(counter)) < requests:
                async with session.post(url + CREATE_PATH, data=bodies[n % len(bodies)], headers=headers) as response:
                    data = orjson.loads(await response.read())
                    created += len(data["results"])

        cpu, wall = cpu_seconds(), time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        wall, cpu = time.perf_counter() - wall, cpu_seconds() - cpu
    if created != requests * BATCH:
        raise RuntimeError(f"floor: {created} created of {requests * BATCH}")
    return wall, cpu


def _records(count: int) -> Iterator[dict[str, Any]]:
    for i in range(1, count + 1):
        yield cart_record(i)


async def _library(url: str, records: int, concurrency: int) -> tuple[float, float]:
    cpu, wall = cpu_seconds(), time.perf_counter()
    summary = await bulk_create(
        _records(records),
        token=TOKEN,
        base_url=url,
        concurrency=concurrency,
        rate=UNBOUNDED_RATE,
        preflight=False,  # the per-record cost of the schema check is measured on its own (docs/preflight.md)
    )
    wall, cpu = time.perf_counter() - wall, cpu_seconds() - cpu
    if summary.created != records:
        raise RuntimeError(f"bulk_create: {summary}")
    return wall, cpu


def _source_cpu(records: int) -> float:
    """CPU seconds spent only building the input dicts that ``bulk_create`` is given."""
    cpu = cpu_seconds()
    for _ in _records(records):
        pass
    return cpu_seconds() - cpu


def _cli(input_path: Path, url: str, workdir: Path, records: int, concurrency: int) -> tuple[float, float, float]:
    summary_path = workdir / "summary.json"
    command = cli_command(
        input_path,
        url,
        workdir / "overhead.outcomes.ndjson",
        "--concurrency",
        str(concurrency),
        "--rate",
        UNBOUNDED_RATE,
        "--no-preflight",
        "--summary-json",
        str(summary_path),
    )
    run = run_child(command, env=cli_env())
    if run.returncode != 0:
        raise RuntimeError(f"CLI exited {run.returncode}: {run.stderr[-2000:]}")
    summary = orjson.loads(summary_path.read_bytes())
    if summary["created"] != records:
        raise RuntimeError(f"CLI: {summary}")
    return run.wall_s, run.cpu_s, run.max_rss_mb


def _profile(input_path: Path, url: str, workdir: Path, concurrency: int) -> str:
    """Profile one CLI run with pyinstrument (sampling, flat self-time); return the report."""
    report = RESULTS_DIR / "overhead_profile.txt"
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    command = [
        sys.executable,
        "-m",
        "pyinstrument",
        "--show-all",
        "-r",
        "text",
        "-p",
        "flat=true",
        "-p",
        "time=percent_of_total",
        "--no-color",
        "-o",
        str(report),
        "-m",
        "cartloader",
        *cli_command(input_path, url, workdir / "profile.outcomes.ndjson", "--concurrency", str(concurrency))[3:],
        "--rate",
        UNBOUNDED_RATE,
        "--no-preflight",
    ]
    subprocess.run(command, check=True, env=cli_env(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return report.read_text()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.overhead", description=__doc__)
    parser.add_argument("--records", type=int, default=1_000_000, help="records per run (default 1,000,000)")
    # One round of 1,000,000 records takes about 2-4 minutes on a shared 2-core machine (floor, bulk_create and
    # the CLI in turn), so the default is one round, whose ratios are measured side by side; --runs 3 for medians.
    parser.add_argument("--runs", type=int, default=1, help="rounds; figures are medians (default 1, see above)")
    parser.add_argument(
        "--concurrency", type=int, default=FIXED_CONCURRENCY, help=f"requests in flight (default {FIXED_CONCURRENCY})"
    )
    parser.add_argument("--profile-records", type=int, default=100_000, help="records in the profiled CLI run")
    parser.add_argument("--no-profile", action="store_true", help="skip the profile")
    parser.add_argument("--no-cli", action="store_true", help="skip the CLI variant")
    args = parser.parse_args(argv)
    if not args.no_profile:
        require_extra("pyinstrument", "the profile of python -m benchmarks.overhead (or give --no-profile)")

    info = machine()
    rows: dict[str, list[tuple[float, float]]] = {"floor": [], "bulk_create": [], "cli": []}
    cli_rss: list[float] = []
    bodies = _floor_bodies()
    with tempfile.TemporaryDirectory(prefix="cartloader-bench-") as tmp:
        workdir = Path(tmp)
        input_path = write_input(workdir / "carts.ndjson", args.records)
        with simulator() as sim:
            # Warm-up: connections, imports, the simulator's first requests.
            asyncio.run(_floor(sim.url, 20 * BATCH, args.concurrency, bodies))
            for round_no in range(args.runs):
                rows["floor"].append(asyncio.run(_floor(sim.url, args.records, args.concurrency, bodies)))
                rows["bulk_create"].append(
                    anyio.run(_library, sim.url, args.records, args.concurrency, backend="asyncio")
                )
                if not args.no_cli:
                    wall, cpu, rss = _cli(input_path, sim.url, workdir, args.records, args.concurrency)
                    rows["cli"].append((wall, cpu))
                    cli_rss.append(rss)
                print(f"round {round_no + 1}/{args.runs} done", file=sys.stderr)
            source_cpu = median([_source_cpu(args.records) for _ in range(args.runs)])
            profile = ""
            if not args.no_profile and not args.no_cli:
                profile_input = write_input(workdir / "profile.ndjson", min(args.profile_records, args.records))
                profile = _profile(profile_input, sim.url, workdir, args.concurrency)

    floor_cpu = median([cpu for _, cpu in rows["floor"]]) / args.records * 1e6
    results: dict[str, Any] = {}
    table = []
    for name, runs in rows.items():
        if not runs:
            continue
        wall = median([w for w, _ in runs])
        cpu_us = median([c for _, c in runs]) / args.records * 1e6
        ratios = [c / f for (_, c), (_, f) in zip(runs, rows["floor"], strict=True)]
        results[name] = {
            "records_per_s": round(args.records / wall, 1),
            "cpu_us_per_record": round(cpu_us, 2),
            "cpu_vs_floor": round(median(ratios), 2),
            "runs": [{"wall_s": round(w, 3), "cpu_s": round(c, 3)} for w, c in runs],
        }
        table.append((name, args.records / wall, cpu_us, median(ratios)))
    results["bulk_create"]["input_dicts_cpu_us_per_record"] = round(source_cpu / args.records * 1e6, 2)
    if cli_rss:
        results["cli"]["max_rss_mb"] = round(median(cli_rss), 1)

    print(f"\noverhead: {args.records:,} records, concurrency {args.concurrency}, median of {args.runs} runs")
    print_table(("variant", "records/s", "CPU µs/record", "CPU vs floor (same round)"), table)
    print(f"(bulk_create's figure includes {source_cpu / args.records * 1e6:.2f} µs/record building the input dicts)")
    data = {
        "benchmark": "overhead",
        "machine": info,
        "records": args.records,
        "concurrency": args.concurrency,
        "runs": args.runs,
        "floor_cpu_us_per_record": round(floor_cpu, 2),
        "results": results,
    }
    if profile:
        top = [line for line in profile.splitlines() if line.strip()][:40]
        data["profile_top"] = top
        print("\nprofile of one CLI run (pyinstrument, flat, % of wall time):")
        print("\n".join(top[:30]))
    print(f"\nwrote {write_json('overhead', data)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
