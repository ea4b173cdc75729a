"""The fault matrix at scale: ``python -m benchmarks.faults [--records N]``.

Each of the simulator's nine faults at 20 % of requests, then all nine at once (5 % each: 45 % of requests
hit), then all at once in upsert mode, each over 100,000 records loaded by the command line into a simulator
in its own process. The simulator keeps its objects (duplicate detection needs them): in create mode no
property is unique, so a resent batch HubSpot had processed really is created twice, as at HubSpot.

Per scenario it prints and writes to ``benchmarks/results/faults.json``: requests, retries, faults injected,
records flagged ``duplicate_risk``, duplicates actually created, duplicates not flagged (must be 0), records
failed (every attempt hit a fault), and records lost (must be 0: a line without a final outcome, or a
``created``/``updated`` outcome whose id the simulator does not hold for that record). Also (issue 24): records the
simulator holds but the log says ``failed`` without ``duplicate_risk`` (must be 0), records failed ``CONFLICT``
although the simulator holds their object, and records whose object exists but whose final line does not name it.

``--echo-trace-ids never`` runs the simulator answering without trace ids (HubSpot's own 207 example omits them):
results are then matched by their stored values. ``--unique`` adds two create-mode scenarios in which
``hs_external_cart_id`` is unique at the simulator: the ambiguous faults (``post_504``, ``post_reset``,
``post_hang``, 10 % each) and all nine at once; a resend of a batch HubSpot had processed meets a 409, which the
loader settles by reading the object back. ``--only NAME`` runs only the named scenarios.
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
    #: Create mode with ``hs_external_cart_id`` unique at the simulator (resends of processed batches meet 409s).
    unique: bool = False


AMBIGUOUS = ("post_504", "post_reset", "post_hang")


def scenarios(*, unique: bool = False) -> list[Scenario]:
    """The nine faults at 20 %, all at once, all at once in upsert mode; with ``unique``, the ambiguous faults and
    all nine at once in create mode with a unique external id."""
    every = dict.fromkeys(BASIC_FAULTS, 0.05)
    rows = [
        *(Scenario(name, {name: 0.2}) for name in BASIC_FAULTS),
        Scenario("all", every),
        Scenario("all (upsert)", every, upsert=True),
    ]
    if unique:
        rows += [
            Scenario("ambiguous (unique)", dict.fromkeys(AMBIGUOUS, 0.1), unique=True),
            Scenario("all (unique)", every, unique=True),
        ]
    return rows


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
    #: Held by the simulator, logged ``failed`` without ``duplicate_risk`` (a resume would duplicate it unknowingly).
    created_failed_unflagged: int
    #: Logged ``failed`` ``CONFLICT`` although the simulator holds an object of that record.
    conflicts_own: int
    #: The simulator holds an object of the record, and its final line does not name one of them.
    not_own_id: int
    #: Faults injected, by name (in the JSON only).
    faults_by_name: dict[str, int]


@contextmanager
def stored_simulator(scenario: Scenario, seed: int, echo_trace_ids: str | None = None) -> Iterator[str]:
    """A simulator process that keeps its objects, with the scenario's faults; yields its URL."""
    extra: list[str] = []
    for name, probability in scenario.faults.items():
        extra += ["--fault", f"{name}={probability:g}"]
    if echo_trace_ids is not None:
        extra += ["--echo-trace-ids", echo_trace_ids]
    # Create mode: make only a property no record has unique, so resends of processed batches duplicate (unless
    # the scenario makes the external id unique: then they meet 409s).
    extra += ["--unique", UPSERT_BY if scenario.upsert or scenario.unique else "bench_unused_unique_id"]
    with simulator(seed=seed, store=True, extra=extra) as process:
        yield process.url


def _get(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=120) as response:
        return orjson.loads(response.read())


def measure(
    scenario: Scenario, input_path: Path, workdir: Path, records: int, seed: int, echo_trace_ids: str | None = None
) -> Row:
    """Load ``input_path`` under the scenario's faults and check every record against the simulator."""
    log = workdir / "faults.outcomes.ndjson"
    log.unlink(missing_ok=True)
    summary_path = workdir / "faults.summary.json"
    with stored_simulator(scenario, seed, echo_trace_ids) as url:
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
    failed_held = {line: last[line] for line in held if line in last and last[line]["status"] == "failed"}
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
        created_failed_unflagged=sum(1 for entry in failed_held.values() if not entry.get("duplicate_risk")),
        conflicts_own=sum(
            1 for entry in failed_held.values() if (entry.get("error") or {}).get("category") == "CONFLICT"
        ),
        not_own_id=sum(1 for line, ids in held.items() if line not in last or last[line].get("id") not in ids),
        faults_by_name=dict(sorted(stats["faults_injected"].items())),
    )


def _lost(entry: dict[str, Any] | None, held: set[str]) -> bool:
    """A line is lost without a final outcome, or when its outcome names an id the simulator does not hold for it."""
    if entry is None or entry["status"] == "pending":
        return True
    return entry["status"] in ("created", "updated") and entry.get("id") not in held


COLUMNS = (
    ("scenario", "scenario", "<18"),
    ("requests", "requests", ">8"),
    ("retries", "retries", ">7"),
    ("faults_injected", "faults", ">6"),
    ("duplicates_flagged", "dup flagged", ">11"),
    ("duplicates_created", "extra copies", ">12"),
    ("duplicates_unflagged", "dup unflagged", ">13"),
    ("failed", "failed", ">6"),
    ("lost", "lost", ">4"),
    ("created_failed_unflagged", "held, failed unflagged", ">22"),
    ("conflicts_own", "CONFLICT own", ">12"),
    ("not_own_id", "not own id", ">10"),
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
    parser.add_argument(
        "--echo-trace-ids",
        choices=("always", "never", "sometimes"),
        help="whether the simulator's results carry objectWriteTraceId (default: the simulator's, sometimes)",
    )
    parser.add_argument(
        "--unique", action="store_true", help="add create-mode scenarios with a unique external id (409s on resends)"
    )
    parser.add_argument("--only", action="append", metavar="NAME", help="run only this scenario (repeatable)")
    args = parser.parse_args(argv)
    chosen = [s for s in scenarios(unique=args.unique) if not args.only or s.name in args.only]
    if not chosen:
        parser.error(f"--only: no such scenario: {', '.join(args.only)}")
    rows: list[Row] = []
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="cartloader-faults-") as folder:
        workdir = Path(folder)
        input_path = write_input(workdir / "faults.ndjson", args.records)
        for number, scenario in enumerate(chosen):
            row = measure(scenario, input_path, workdir, args.records, args.seed + number, args.echo_trace_ids)
            rows.append(row)
            print(
                f"{scenario.name}: done in {row.wall_s:g} s, faults {row.faults_by_name}", file=sys.stderr, flush=True
            )
    echo = f", trace ids echoed: {args.echo_trace_ids}" if args.echo_trace_ids else ""
    print(f"fault matrix: {args.records:,} records per scenario{echo}, command line {' '.join(CLIENT)}")
    print(table(rows))
    result = {
        "benchmark": "faults",
        "command": " ".join(["python -m benchmarks.faults", *(argv if argv is not None else sys.argv[1:])]),
        "echo_trace_ids": args.echo_trace_ids,
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
    bad = [row.scenario for row in rows if row.lost or row.duplicates_unflagged or row.created_failed_unflagged]
    if bad:
        print(
            f"FAILED: records lost, duplicated unflagged or held but failed unflagged in {', '.join(bad)}",
            file=sys.stderr,
        )
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
