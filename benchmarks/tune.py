"""``python -m benchmarks.tune``: which concurrency fills HubSpot's rolling window at a given latency.

For each latency (``--latency-ms P50[,P95]``, repeatable; default 50, 300 and 1000 ms with p95 = 3 x p50) the
simulator runs in its own process under the rolling limit (``--rate``, default 190/10s), and cartloader loads
carts at each concurrency of ``--concurrency`` for ``--windows`` windows after one window of warm-up. Time is
compressed by ``--speedup`` (window and latency divided by the same factor: the concurrency needed is rate x
latency either way), so the sweep takes minutes. Per point: admitted requests/s over the ceiling (median
window), 429s per request the loader sent, p50/p95 request latency (from the loader's Summary, scaled back to
real time). Recommends the smallest concurrency reaching 97% of the ceiling, prints the table, writes JSON
(``--json``, default benchmarks/results/tune.json) and draws the chart (``--chart``, default
benchmarks/results/tune.png) when matplotlib is installed (``pip install -e '.[bench]'``).
"""

from __future__ import annotations

import argparse
import functools
import sys
import time
from pathlib import Path
from typing import Any

import anyio

from benchmarks._harness import RESULTS_DIR, machine, print_table, simulator, write_json
from benchmarks._paced import paced_load, simulated_latency
from cartloader.rate import Rate

TARGET = 0.97
DEFAULT_LATENCIES = ((50.0, 150.0), (300.0, 900.0), (1000.0, 3000.0))
DEFAULT_CONCURRENCIES = (1, 2, 4, 8, 16, 24, 32, 48, 64)


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
    """The smallest concurrency whose fill reaches ``target`` (points of one latency, any order)."""
    reaching = [p["concurrency"] for p in points if p["fill"] >= target]
    return min(reaching) if reaching else None


def sweep_latency(
    latency: tuple[float, float], rate: Rate, concurrencies: list[int], speedup: float, windows: int, batch_size: int
) -> list[dict[str, Any]]:
    """Run every concurrency against one simulator at ``latency`` (real ms)."""
    fast = _compressed(rate, speedup)
    points = []
    with simulator(rate=_rate_text(fast), latency_ms=simulated_latency(latency, speedup, batch_size)) as sim:
        for concurrency in concurrencies:
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
                ),
                backend="asyncio",
            )
            summary = run.summary
            assert summary is not None
            point = {
                "latency_p50_ms": latency[0],
                "latency_p95_ms": latency[1],
                "concurrency": concurrency,
                "fill": round(run.median_fill, 4),
                "fill_all_windows": round(run.fill, 4),
                "requests_per_s": round(run.median_fill * rate.requests / rate.window_s, 2),
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


def draw(points: list[dict[str, Any]], rate: Rate, path: Path) -> bool:
    """Throughput over the ceiling against concurrency, one line per latency; False when matplotlib is missing."""
    try:
        import matplotlib
    except ImportError:
        return False

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(figsize=(7, 4.2), dpi=120)
    latencies = sorted({(p["latency_p50_ms"], p["latency_p95_ms"]) for p in points})
    for p50, p95 in latencies:
        line = sorted((p for p in points if p["latency_p50_ms"] == p50), key=lambda p: p["concurrency"])
        axes.plot(
            [p["concurrency"] for p in line],
            [p["fill"] for p in line],
            marker="o",
            label=f"latency p50 {p50:g} ms, p95 {p95:g} ms",
        )
    axes.axhline(TARGET, color="grey", linestyle="--", linewidth=1, label=f"{TARGET:.0%} of the ceiling")
    axes.set_xscale("log", base=2)
    concurrencies = sorted({p["concurrency"] for p in points})
    axes.set_xticks(concurrencies, [str(c) for c in concurrencies])
    axes.set_ylim(0, 1.05)
    axes.set_xlabel("concurrency (requests in flight at most)")
    axes.set_ylabel("admitted requests / ceiling")
    axes.set_title(f"cartloader under {rate.requests}/{rate.window_s:g}s: throughput against concurrency")
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
    concurrencies = [int(value) for value in args.concurrency.split(",")]
    rate: Rate = args.rate

    info = machine()
    points: list[dict[str, Any]] = []
    for latency in latencies:
        print(f"latency p50 {latency[0]:g} ms, p95 {latency[1]:g} ms:", file=sys.stderr)
        points += sweep_latency(latency, rate, concurrencies, args.speedup, args.windows, args.batch_size)

    recommendations = {}
    rows = []
    for p50, p95 in latencies:
        mine = [p for p in points if p["latency_p50_ms"] == p50 and p["latency_p95_ms"] == p95]
        best = recommend(mine)
        recommendations[f"{p50:g},{p95:g}"] = best
        for p in mine:
            mark = " <- smallest >= 97%" if p["concurrency"] == best else ""
            rows.append(
                (
                    f"{p50:g}/{p95:g}",
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
        low, high = key.split(",")
        verdict = f"concurrency {best}" if best is not None else f"none of {concurrencies} reached {TARGET:.0%}"
        print(f"recommendation at p50 {low} ms, p95 {high} ms: {verdict}")
    data = {
        "benchmark": "tune",
        "machine": info,
        "rate": f"{rate.requests}/{rate.window_s:g}s",
        "speedup": args.speedup,
        "windows_per_point": args.windows,
        "batch_size": args.batch_size,
        "target": TARGET,
        "recommendations": recommendations,
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
