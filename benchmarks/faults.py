"""The fault matrix at scale: ``python -m benchmarks.faults [--records N]``.

Each of the simulator's nine faults at 20 % of requests, then all nine at once (5 % each: 45 % of requests
hit), then all at once in upsert mode, each over 100,000 records loaded by the command line into a simulator
in its own process. The simulator keeps its objects (duplicate detection needs them): in create mode no
property is unique, so a resent batch HubSpot had processed really is created twice, as at HubSpot.

Per scenario it prints and writes to ``benchmarks/results/faults.json``: requests, retries, faults injected,
records flagged ``duplicate_risk``, duplicates actually created, duplicates not flagged (must be 0), records
failed (every attempt hit a fault), and records lost (must be 0: a line without a final outcome, or a
``created``/``updated`` outcome whose id the simulator does not hold for that record).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections import Counter
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import orjson

from benchmarks._harness import RESULTS_DIR, cli_command, cli_env, machine, simulator, write_input
from cartloader.simulator.faults import BASIC_FAULTS

RECORDS = 100_000
SEED = 20_240
UPSERT_BY = "hs_external_cart_id"
# Client settings: HubSpot's batch size, quick timeouts (post_hang holds an answer for an hour), and attempts
# enough that a record fails only when a fault strikes every one of them.
CLIENT = ("--batch-size", "100", "--concurrency", "32", "--rate", "200000/10s", "--timeout", "2", "--max-retries", "10")


@dataclass(frozen=True, slots=True)
class Scenario:
    """One row of the matrix."""

    name: str
    faults: dict[str, float]
    upsert: bool = False


def scenarios() -> list[Scenario]:
    """The nine faults at 20 %, all at once, all at once in upsert mode."""
    every = dict.fromkeys(BASIC_FAULTS, 0.05)
    return [
        *(Scenario(name, {name: 0.2}) for name in BASIC_FAULTS),
        Scenario("all", every),
        Scenario("all (upsert)", every, upsert=True),
    ]


@dataclass(frozen=True, slots=True)
class Row:
    """The figures of one scenario."""

    scenario: str
    exit_status: int
    wall_s: float
    requests: int
    retries: int
    faults_injected: int
    duplicates_flagged: int
    duplicates_created: int
    duplicates_unflagged: int
    failed: int
    lost: int


@contextmanager
def stored_simulator(scenario: Scenario, seed: int) -> Iterator[str]:
    """A simulator process that keeps its objects, with the scenario's faults; yields its URL."""
    extra: list[str] = []
    for name, probability in scenario.faults.items():
        extra += ["--fault", f"{name}={probability:g}"]
    # Create mode: make only a property no record has unique, so resends of processed batches duplicate.
    extra += ["--unique", UPSERT_BY if scenario.upsert else "bench_unused_unique_id"]
    with simulator(seed=seed, store=True, extra=extra) as process:
        yield process.url


def _get(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=120) as response:
        return orjson.loads(response.read())


def measure(scenario: Scenario, input_path: Path, workdir: Path, records: int, seed: int) -> Row:
    """Load ``input_path`` under the scenario's faults and check every record against the simulator."""
    log = workdir / "faults.outcomes.ndjson"
    summary_path = workdir / "faults.summary.json"
    with stored_simulator(scenario, seed) as url:
        options = [*CLIENT, "--summary-json", str(summary_path)]
        if scenario.upsert:
            options += ["--upsert-by", UPSERT_BY]
        started = time.perf_counter()
        done = subprocess.run(
            cli_command(input_path, url, log, *options), env=cli_env(), cwd=workdir, capture_output=True, check=False
        )
        wall = time.perf_counter() - started
        if done.returncode not in (0, 1):
            raise RuntimeError(f"{scenario.name}: exit {done.returncode}: {done.stderr.decode()[-500:]}")
        stats = _get(url + "/_sim/stats")
        objects = _get(url + "/_sim/objects")["objects"]
    summary = orjson.loads(summary_path.read_bytes())

    # The last entry of each line wins.
    last: dict[int, dict[str, Any]] = {}
    with open(log, "rb") as stream:
        for raw in stream:
            entry = orjson.loads(raw)
            last[entry["line"]] = entry
    held: dict[int, set[str]] = {}
    for obj in objects:
        line = int(obj["properties"][UPSERT_BY].removeprefix("ext-"))
        held.setdefault(line, set()).add(obj["id"])
    copies = Counter({line: len(ids) for line, ids in held.items()})
    flagged = {line for line, entry in last.items() if entry.get("duplicate_risk")}
    twice = {line for line, n in copies.items() if n > 1}
    lost = sum(1 for line in range(1, records + 1) if _lost(last.get(line), held.get(line, set())))
    return Row(
        scenario=scenario.name,
        exit_status=done.returncode,
        wall_s=round(wall, 1),
        requests=summary["requests"],
        retries=summary["retries"],
        faults_injected=sum(stats["faults_injected"].values()),
        duplicates_flagged=len(flagged),
        duplicates_created=sum(n - 1 for n in copies.values() if n > 1),
        duplicates_unflagged=len(twice - flagged),
        failed=summary["failed"],
        lost=lost,
    )


def _lost(entry: dict[str, Any] | None, held: set[str]) -> bool:
    """A line is lost without a final outcome, or when its outcome names an id the simulator does not hold for it."""
    if entry is None or entry["status"] == "pending":
        return True
    return entry["status"] in ("created", "updated") and entry.get("id") not in held


COLUMNS = (
    ("scenario", "scenario", "<14"),
    ("requests", "requests", ">8"),
    ("retries", "retries", ">7"),
    ("faults_injected", "faults", ">6"),
    ("duplicates_flagged", "dup flagged", ">11"),
    ("duplicates_created", "extra copies", ">12"),
    ("duplicates_unflagged", "dup unflagged", ">13"),
    ("failed", "failed", ">6"),
    ("lost", "lost", ">4"),
    ("wall_s", "wall s", ">6"),
)


def table(rows: Sequence[Row]) -> str:
    """The rows as a fixed-width table."""
    lines = ["  ".join(f"{title:{spec}}" for _, title, spec in COLUMNS)]
    for row in rows:
        values = asdict(row)
        lines.append("  ".join(f"{values[field]:{spec}}" for field, _, spec in COLUMNS))
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the matrix, print the table, write the JSON; exit 1 if any record was lost or duplicated unflagged."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks.faults", description=__doc__.split("\n\n")[0])
    parser.add_argument("--records", type=int, default=RECORDS, help=f"records per scenario (default {RECORDS:,})")
    parser.add_argument("--seed", type=int, default=SEED, help="the simulator's seed (plus the scenario's number)")
    parser.add_argument("--out", type=Path, default=RESULTS_DIR / "faults.json", help="where to write the JSON")
    args = parser.parse_args(argv)
    rows: list[Row] = []
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="cartloader-faults-") as folder:
        workdir = Path(folder)
        input_path = write_input(workdir / "faults.ndjson", args.records)
        for number, scenario in enumerate(scenarios()):
            row = measure(scenario, input_path, workdir, args.records, args.seed + number)
            rows.append(row)
            print(f"{scenario.name}: done in {row.wall_s:g} s", file=sys.stderr, flush=True)
    print(f"fault matrix: {args.records:,} records per scenario, command line {' '.join(CLIENT)}")
    print(table(rows))
    result = {
        "benchmark": "faults",
        "command": "python -m benchmarks.faults" + (f" --records {args.records}" if args.records != RECORDS else ""),
        "records": args.records,
        "seed": args.seed,
        "client_options": list(CLIENT),
        "total_s": round(time.perf_counter() - started, 1),
        "machine": machine(),
        "rows": [asdict(row) for row in rows],
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"written {args.out}")
    bad = [row.scenario for row in rows if row.lost or row.duplicates_unflagged]
    if bad:
        print(f"FAILED: records lost or duplicated unflagged in {', '.join(bad)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
