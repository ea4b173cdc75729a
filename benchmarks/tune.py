"""``python -m benchmarks.tune``: which concurrency fills HubSpot's rolling window at a given latency.

For each latency (``--latency-ms P50[,P95]``, repeatable; default 50, 300 and 1000 ms with p95 = 3 x p50) the
simulator runs in its own process under the rolling limit (``--rate``, default 190/10s), and cartloader loads carts
at each concurrency of ``--concurrency`` for ``--windows`` windows after one window of warm-up. Time is compressed
by ``--speedup`` (window and latency divided by the same factor: the concurrency needed is rate x latency either
way), so the sweep takes minutes. Per point: admitted requests/s over the ceiling (median window), 429s per request
the loader sent, p50/p95 request latency (from the loader's Summary, scaled back to real time). ``auto`` (in the
default ``--concurrency``) runs next to the fixed values, and one more cell has the latency move from p50 300 ms to
1000 ms halfway through each point's windows (``--no-move`` skips it; there the figure is the mean of all its
windows): auto's requests/s is set against the best fixed concurrency's in every cell (goal: within 3%). Recommends
the smallest fixed concurrency reaching 97% of the ceiling, prints the table, writes JSON (``--json``, default
benchmarks/results/tune.json) and draws the chart (``--chart``, default benchmarks/results/tune.png) when matplotlib
is installed (``pip install -e '.[bench]'``).
"""

from __future__ import annotations

import argparse
import functools
import os
import sys
import time
from pathlib import Path
from typing import Any

import aiohttp
import anyio

from benchmarks._harness import RESULTS_DIR, concurrency_arg, machine, print_table, simulator, write_json
from benchmarks._paced import paced_load, simulated_latency
from cartloader.config import Concurrency
from cartloader.rate import Rate

TARGET = 0.97
DEFAULT_LATENCIES = ((50.0, 150.0), (300.0, 900.0), (1000.0, 3000.0))
DEFAULT_CONCURRENCIES: tuple[Concurrency, ...] = (1, 2, 4, 8, 16, 24, 32, 48, 64, "auto")
#: The cell whose latency moves mid-run: p50/p95 before, p50/p95 after.
DEFAULT_MOVE = ((300.0, 900.0), (1000.0, 3000.0))
#: auto's admitted requests/s against the best fixed concurrency's, in every cell (issue 17).
AUTO_GOAL = 0.97


def _latency(text: str) -> tuple[float, float]:
    parts = [float(part) for part in text.split(",")]
    if len(parts) == 1:
        return (parts[0], 3 * parts[0])
    if len(parts) != 2 or parts[0] <= 0 or parts[1] < parts[0]:
        raise argparse.ArgumentTypeError(f"invalid latency {text!r}: expected P50[,P95] in ms, P95 >= P50")
    return (parts[0], parts[1])


def _compressed(rate: Rate, speedup: float) -> Rate:
    return Rate(rate.requests, rate.window_s / speedup)


def _rate_text(rate: Rate) -> str:
    return f"{rate.requests}/{rate.window_s * 1000:g}ms"


def recommend(points: list[dict[str, Any]], target: float = TARGET) -> int | None:
    """The smallest fixed concurrency whose fill reaches ``target`` (points of one latency, any order)."""
    reaching = [p["concurrency"] for p in points if p["fill"] >= target and p["concurrency"] != "auto"]
    return min(reaching) if reaching else None


def auto_against_best(points: list[dict[str, Any]]) -> tuple[float, float, float] | None:
    """(auto's requests/s, the best fixed concurrency's, their ratio) for the points of one cell."""
    auto = [p["requests_per_s"] for p in points if p["concurrency"] == "auto"]
    fixed = [p["requests_per_s"] for p in points if p["concurrency"] != "auto"]
    if not auto or not fixed or not max(fixed):
        return None
    return auto[0], max(fixed), auto[0] / max(fixed)


def sweep_latency(
    latency: tuple[float, float],
    rate: Rate,
    concurrencies: list[Concurrency],
    speedup: float,
    windows: int,
    batch_size: int,
    moves_to: tuple[float, float] | None = None,
) -> list[dict[str, Any]]:
    """Run every concurrency against one simulator at ``latency`` (real ms); with ``moves_to``, the simulator's
    latency moves there halfway through each point's measured windows (and back before the next point)."""
    fast = _compressed(rate, speedup)
    points = []
    start_latency = simulated_latency(latency, speedup, batch_size)
    with simulator(rate=_rate_text(fast), latency_ms=start_latency) as sim:
        for concurrency in concurrencies:
            halfway = None
            if moves_to is not None:
                halfway = functools.partial(_set_latency, sim.url, simulated_latency(moves_to, speedup, batch_size))
            run = anyio.run(
                functools.partial(
                    paced_load,
                    sim.url,
                    concurrency=concurrency,
                    limit=fast.requests,
                    window_s=fast.window_s,
                    windows=windows,
                    rate=_rate_text(fast),
                    batch_size=batch_size,
                    halfway=halfway,
                ),
                backend="asyncio",
            )
            if moves_to is not None:
                anyio.run(_set_latency, sim.url, start_latency, None, backend="asyncio")
            summary = run.summary
            assert summary is not None
            # A latency that moves mid-run: the whole run's mean, not one half's median window.
            fill = run.fill if moves_to is not None else run.median_fill
            point = {
                "latency_p50_ms": latency[0],
                "latency_p95_ms": latency[1],
                "moves_to_ms": list(moves_to) if moves_to is not None else None,
                "concurrency": concurrency,
                "fill": round(fill, 4),
                "fill_all_windows": round(run.fill, 4),
                "requests_per_s": round(fill * rate.requests / rate.window_s, 2),
                "loader_429_per_request": round(run.loader_429_share, 5),
                "p50_ms": round(summary.latency_ms.p50 * speedup, 1),
                "p95_ms": round(summary.latency_ms.p95 * speedup, 1),
                "windows": run.admitted,
            }
            points.append(point)
            print(
                f"  p50 {latency[0]:g} ms, concurrency {concurrency}: {point['fill']:.3f} of the ceiling, "
                f"429/request {point['loader_429_per_request']:.4f}",
                file=sys.stderr,
            )
            time.sleep(fast.window_s * 1.2)  # let this point's requests leave the rolling window
    return points


CHART_HINT = "pip install -e '.[bench]' (matplotlib), then run again"


async def _set_latency(url: str, latency_ms: tuple[float, float], session: aiohttp.ClientSession | None) -> None:
    """``POST /_sim/latency``."""
    body = {"p50_ms": latency_ms[0], "p95_ms": latency_ms[1]}
    if session is None:
        async with aiohttp.ClientSession() as own, own.post(url + "/_sim/latency", json=body) as response:
            response.raise_for_status()
        return
    async with session.post(url + "/_sim/latency", json=body) as response:
        response.raise_for_status()


def _by_concurrency(point: dict[str, Any]) -> int:
    return int(point["concurrency"])


def draw(points: list[dict[str, Any]], rate: Rate, path: Path) -> bool:
    """Throughput over the ceiling against concurrency, one line per latency; False when matplotlib is missing."""
    try:
        import matplotlib
    except ImportError:
        return False

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(figsize=(7, 4.2), dpi=120)
    for cell in dict.fromkeys(p["cell"] for p in points):
        fixed = sorted((p for p in points if p["cell"] == cell and p["concurrency"] != "auto"), key=_by_concurrency)
        (line,) = axes.plot(
            [p["concurrency"] for p in fixed], [p["fill"] for p in fixed], marker="o", label=f"latency {cell} ms"
        )
        for p in points:
            if p["cell"] == cell and p["concurrency"] == "auto":  # auto: one dashed level across the sweep
                axes.axhline(p["fill"], color=line.get_color(), linestyle=":", linewidth=1)
    axes.axhline(TARGET, color="grey", linestyle="--", linewidth=1, label=f"{TARGET:.0%} of the ceiling")
    axes.set_xscale("log", base=2)
    concurrencies = sorted({p["concurrency"] for p in points if p["concurrency"] != "auto"})
    axes.set_xticks(concurrencies, [str(c) for c in concurrencies])
    axes.set_ylim(0, 1.05)
    axes.set_xlabel("concurrency (requests in flight at most)")
    axes.set_ylabel("admitted requests / ceiling")
    axes.set_title(
        f"cartloader under {rate.requests}/{rate.window_s:g}s: throughput against concurrency (dotted: auto)"
    )
    axes.grid(True, alpha=0.3)
    axes.legend(loc="lower right", fontsize=8)
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path)
    plt.close(figure)
    return True


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.tune", description=__doc__)
    parser.add_argument(
        "--latency-ms",
        type=_latency,
        action="append",
        help="request latency P50[,P95] in ms (P95 defaults to 3 x P50); repeatable (default 50, 300, 1000)",
    )
    parser.add_argument("--rate", type=Rate.parse, default=Rate.parse("190/10s"), help="rolling limit (190/10s)")
    parser.add_argument("--concurrency", default=",".join(map(str, DEFAULT_CONCURRENCIES)), help="values to sweep")
    parser.add_argument("--speedup", type=float, default=10.0, help="time compression factor (default 10)")
    parser.add_argument("--windows", type=int, default=3, help="measured windows per point (default 3)")
    parser.add_argument(
        "--no-move", action="store_true", help="skip the cell whose latency moves from 300 to 1000 ms midway"
    )
    parser.add_argument(
        "--batch-size",
        type=int,
        default=10,
        help="inputs per request (default 10: the limit counts requests, and small batches keep the CPU out of "
        "the measurement; the simulated latency is scaled so that each request still takes the given latency)",
    )
    parser.add_argument(
        "--chart",
        type=Path,
        default=RESULTS_DIR / "tune.png",
        help="PNG to draw, if matplotlib is installed (default benchmarks/results/tune.png)",
    )
    parser.add_argument(
        "--json",
        type=Path,
        default=RESULTS_DIR / "tune.json",
        help="JSON to write (default benchmarks/results/tune.json)",
    )
    args = parser.parse_args(argv)
    latencies: list[tuple[float, float]] = args.latency_ms or list(DEFAULT_LATENCIES)
    concurrencies = [concurrency_arg(value) for value in args.concurrency.split(",")]
    rate: Rate = args.rate
    move: tuple[tuple[float, float], tuple[float, float]] | None = None if args.no_move else DEFAULT_MOVE

    info = machine()
    cells: list[tuple[str, tuple[float, float], tuple[float, float] | None]] = [
        (f"{p50:g}/{p95:g}", (p50, p95), None) for p50, p95 in latencies
    ]
    if move is not None:
        (a50, a95), (b50, b95) = move
        cells.append((f"{a50:g}/{a95:g} -> {b50:g}/{b95:g}", move[0], move[1]))
    points: list[dict[str, Any]] = []
    for name, latency, moves_to in cells:
        print(f"latency p50/p95 {name} ms:", file=sys.stderr)
        windows = max(4, args.windows) if moves_to is not None else args.windows
        for point in sweep_latency(
            latency, rate, concurrencies, args.speedup, windows, args.batch_size, moves_to=moves_to
        ):
            point["cell"] = name
            points.append(point)

    recommendations = {}
    against_best = {}
    rows = []
    for name, _, _ in cells:
        mine = [p for p in points if p["cell"] == name]
        best = recommend(mine)
        recommendations[name] = best
        against_best[name] = auto_against_best(mine)
        for p in mine:
            mark = " <- smallest >= 97%" if p["concurrency"] == best else ""
            rows.append(
                (
                    name,
                    p["concurrency"],
                    p["requests_per_s"],
                    p["fill"],
                    p["loader_429_per_request"],
                    p["p50_ms"],
                    p["p95_ms"],
                    mark,
                )
            )
    print(
        f"\ntune: {rate.requests}/{rate.window_s:g}s, time compressed x{args.speedup:g}, "
        f"median of {args.windows} windows per point (requests/s and latency in real time)"
    )
    print_table(
        ("latency p50/p95 ms", "concurrency", "requests/s", "of ceiling", "429/request", "p50 ms", "p95 ms", ""),
        rows,
    )
    for key, best in recommendations.items():
        verdict = f"concurrency {best}" if best is not None else f"none of {concurrencies} reached {TARGET:.0%}"
        where = " -> ".join(
            f"p50 {p50} ms, p95 {p95} ms" for p50, p95 in (part.split("/") for part in key.split(" -> "))
        )
        print(f"recommendation at {where}: {verdict}")
    auto_met = True
    for key, figures in against_best.items():
        if figures is None:
            continue
        auto, best_fixed, ratio = figures
        auto_met = auto_met and ratio >= AUTO_GOAL
        print(
            f"auto at p50/p95 {key} ms: {auto:.2f} requests/s, {ratio:.3f} of the best fixed concurrency's "
            f"{best_fixed:.2f} ({'met' if ratio >= AUTO_GOAL else 'MISSED'}: goal >= {AUTO_GOAL})"
        )
    load_end = os.getloadavg()[0]
    print(f"load average {info['load_1min_at_start']:.2f} at the start, {load_end:.2f} at the end")
    data = {
        "benchmark": "tune",
        "machine": info,
        "rate": f"{rate.requests}/{rate.window_s:g}s",
        "speedup": args.speedup,
        "windows_per_point": args.windows,
        "batch_size": args.batch_size,
        "target": TARGET,
        "recommendations": recommendations,
        "auto_against_best_fixed": against_best,
        "auto_goal_met": auto_met,
        "load_1min_at_end": load_end,
        "points": points,
    }
    print(f"wrote {write_json('tune', data, args.json)}")
    if draw(points, rate, args.chart):
        print(f"chart: {args.chart}")
    else:
        print(f"chart: not drawn, matplotlib is not installed: {CHART_HINT} (the table and the JSON hold every figure)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
