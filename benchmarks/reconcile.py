"""Duplicates before and after ``reconcile --apply``: ``python -m benchmarks.reconcile [--records N]``.

Loads N carts under the fault benchmark's "all" mix (every basic fault at 5 %, ambiguous ones included) against a
simulator that never echoes trace ids and whose search index lags ``--lag-ms``; then runs ``reconcile`` while the
index lags (values whose named object the index does not show yet are not checkable: exit 1; give a --lag-ms
longer than the tail of the load to be sure the first reconcile meets the lag), waits for the index, runs
``reconcile --apply`` and a second one. Prints a table and writes JSON: duplicate objects before and after,
records settled, reconcile's requests against the minimum (flagged values / 100 searches, plus one archive per 100
copies), objects the log names that are gone (must be 0), and the machine's load average at the start and the end.
"""

from __future__ import annotations

import argparse
import math
import os
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections import Counter
from pathlib import Path
from typing import Any

import orjson

from benchmarks._harness import RESULTS_DIR, cli_command, cli_env, print_table, simulator, write_input, write_json
from benchmarks.faults import CLIENT
from cartloader.simulator.faults import BASIC_FAULTS

SCOPES = "crm.objects.carts.write,crm.objects.carts.read,crm.schemas.carts.read"


def _objects(url: str) -> list[dict[str, Any]]:
    with urllib.request.urlopen(url + "/_sim/objects", timeout=120) as response:
        objects: list[dict[str, Any]] = orjson.loads(response.read())["objects"]
        return objects


def _copies(url: str) -> int:
    counts = Counter(obj["properties"].get("hs_external_cart_id") for obj in _objects(url))
    return sum(n - 1 for value, n in counts.items() if value and n > 1)


def _reconcile(url: str, log: Path, *extra: str) -> tuple[int, dict[str, Any]]:
    command = [sys.executable, "-m", "cartloader", "reconcile", str(log), "--base-url", url, *extra]
    done = subprocess.run(command, env=cli_env(), capture_output=True, check=False)
    if done.returncode not in (0, 1):
        raise RuntimeError(f"reconcile exit {done.returncode}: {done.stderr.decode()[-500:]}")
    return done.returncode, orjson.loads(done.stdout)


def _named_missing(url: str, log: Path) -> int:
    """Objects the log names (``id`` of any entry) that HubSpot no longer holds: reconcile must keep them all."""
    named = {entry["id"] for entry in map(orjson.loads, log.read_bytes().splitlines()) if entry.get("id")}
    return len(named - {obj["id"] for obj in _objects(url)})


def run(records: int, lag_ms: int, seed: int) -> dict[str, Any]:
    """The figures of one run."""
    load_average = os.getloadavg()
    extra = ["--token", f"sim-token:{SCOPES}", "--echo-trace-ids", "never", "--search-index-delay-ms", str(lag_ms)]
    for name in BASIC_FAULTS:
        extra += ["--fault", f"{name}=0.05"]
    with tempfile.TemporaryDirectory() as folder, simulator(seed=seed, store=True, extra=extra) as sim:
        work = Path(folder)
        source = write_input(work / "in.ndjson", records)
        log = work / "in.outcomes.ndjson"
        load = subprocess.run(
            cli_command(source, sim.url, log, *CLIENT), env=cli_env(), capture_output=True, check=False
        )
        if load.returncode not in (0, 1):
            raise RuntimeError(f"load exit {load.returncode}: {load.stderr.decode()[-500:]}")
        loaded_at = time.monotonic()
        before = _copies(sim.url)
        lag_exit, lagging = _reconcile(sim.url, log, "--apply")
        time.sleep(max(0.0, lag_ms / 1000 + 0.2 - (time.monotonic() - loaded_at)))
        started = time.perf_counter()
        apply_exit, applied = _reconcile(sim.url, log, "--apply")
        wall = time.perf_counter() - started
        after = _copies(sim.url)
        named_missing = _named_missing(sim.url, log)
        again_exit, again = _reconcile(sim.url, log, "--apply")
    # Both runs together: what the lag let through first, then the rest.
    values = lagging["checked"]
    archived = lagging["archived"] + applied["archived"]
    minimum = math.ceil(values / 100) + math.ceil(archived / 100)
    return {
        "records": records,
        "index_lag_ms": lag_ms,
        "duplicates_before": before,
        "during_lag": {
            "exit": lag_exit,
            "archived": lagging["archived"],
            "lagging_values": lagging["lagging_values"],
            "not_checkable": lagging["not_checkable"],
        },
        "duplicates_after": after,
        "archived": archived,
        "settled": lagging["settled"] + applied["settled"],
        "checked": values,
        "requests": lagging["requests"] + applied["requests"],
        "search_requests": lagging["search_requests"] + applied["search_requests"],
        "minimum_requests": minimum,
        "apply_exit": apply_exit,
        "apply_wall_s": round(wall, 2),
        "second_apply": {"exit": again_exit, "archived": again["archived"]},
        "named_missing": named_missing,
        "load_average": {"start": [round(x, 2) for x in load_average], "end": [round(x, 2) for x in os.getloadavg()]},
    }


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark once, print the table, write the JSON."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks.reconcile", description=__doc__)
    parser.add_argument("--records", type=int, default=10_000, help="records to load (default 10,000)")
    parser.add_argument("--lag-ms", type=int, default=2000, help="the simulator's search index lag (default 2000)")
    parser.add_argument("--seed", type=int, default=20_240, help="the simulator's seed")
    parser.add_argument("--out", type=Path, default=RESULTS_DIR / "reconcile.json", help="where to write the JSON")
    args = parser.parse_args(argv)
    result = run(args.records, args.lag_ms, args.seed)
    print_table(
        ["records", "dups before", "lag: archived/lagging/exit", "dups after", "archived", "settled",
         "requests (min)", "2nd apply"],
        [[result["records"], result["duplicates_before"],
          "/".join(str(result["during_lag"][k]) for k in ("archived", "lagging_values", "exit")),
          result["duplicates_after"],
          result["archived"], result["settled"], f"{result['requests']} ({result['minimum_requests']})",
          f"{result['second_apply']['archived']}/{result['second_apply']['exit']}"]],
    )  # fmt: skip
    write_json("reconcile", result, args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
