"""``python -m benchmarks.memory``: the CLI's peak RSS at 100k and 1,000,000 records.

The simulator runs in its own process (``--no-store``, no latency, no limit); the CLI loads a generated NDJSON
file and writes its outcome log. Peak RSS is ``ru_maxrss`` of the CLI process alone (``wait4``), median of
``--runs``. Goal: the two sizes within 20% of each other, both under 150 MB.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path
from typing import Any

from benchmarks._harness import (
    cli_command,
    cli_env,
    machine,
    median,
    print_table,
    run_child,
    simulator,
    write_input,
    write_json,
)

UNBOUNDED_RATE = "1000000/1s"
GOAL_MB = 150.0
GOAL_SPREAD = 0.20


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.memory", description=__doc__)
    parser.add_argument("--sizes", default="100000,1000000", help="record counts, comma-separated")
    parser.add_argument("--runs", type=int, default=3, help="runs per size; figures are medians (default 3)")
    args = parser.parse_args(argv)
    sizes = [int(size) for size in args.sizes.split(",")]

    info = machine()
    measured: dict[int, list[float]] = {size: [] for size in sizes}
    walls: dict[int, list[float]] = {size: [] for size in sizes}
    with tempfile.TemporaryDirectory(prefix="cartloader-bench-") as tmp, simulator() as sim:
        workdir = Path(tmp)
        for size in sizes:
            input_path = write_input(workdir / f"carts-{size}.ndjson", size)
            for run_no in range(args.runs):
                out = workdir / "memory.outcomes.ndjson"
                command = cli_command(input_path, sim.url, out, "--rate", UNBOUNDED_RATE)
                run = run_child(command, env=cli_env())
                if run.returncode != 0:
                    raise RuntimeError(f"CLI exited {run.returncode}: {run.stderr[-2000:]}")
                measured[size].append(run.max_rss_mb)
                walls[size].append(run.wall_s)
                print(f"{size:,} records, run {run_no + 1}: {run.max_rss_mb:.1f} MB", file=sys.stderr)
            input_path.unlink()

    peaks = {size: median(values) for size, values in measured.items()}
    smallest = min(peaks.values())
    rows = []
    results: dict[str, Any] = {}
    for size in sizes:
        ratio = peaks[size] / smallest
        rows.append((f"{size:,}", peaks[size], min(measured[size]), max(measured[size]), ratio, median(walls[size])))
        results[str(size)] = {
            "peak_rss_mb": round(peaks[size], 1),
            "runs_mb": [round(value, 1) for value in measured[size]],
            "vs_smallest": round(ratio, 3),
            "wall_s": round(median(walls[size]), 2),
        }
    spread = max(peaks.values()) / smallest - 1
    met = spread <= GOAL_SPREAD and max(peaks.values()) < GOAL_MB
    print(f"\nmemory: CLI peak RSS (MiB), median of {args.runs} runs")
    print_table(("records", "peak RSS MB", "min", "max", "vs smallest", "wall s"), rows)
    print(f"spread {spread:.1%}; goal (within 20%, under {GOAL_MB:.0f} MB): {'met' if met else 'MISSED'}")
    data = {"benchmark": "memory", "machine": info, "runs": args.runs, "results": results, "goal_met": met}
    print(f"wrote {write_json('memory', data)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
