"""Poison records: what bad records cost in requests: ``python -m benchmarks.poison [--records N]``.

20,000 carts of which 1.5% are poison, a quarter each: a property the portal does not have, a number that is not
one, a currency code that is not an option, an association to a contact that does not exist. Loaded by the
command line (API 2026-09) into a simulator in its own process, four ways: the simulator as HubSpot documents it
(invalid inputs named one by one inside the 201) and hostile (``--whole-batch-400 0.3``: three batches in ten
that hold a bad input fail whole although every trace id is unique), each with and without the preflight.

The minimum is one request per 100 records HubSpot accepts, plus the preflight's two schema reads when it is on.
Per scenario it prints and writes to ``benchmarks/results/poison.json``: requests, the minimum, their ratio,
error responses (non-2xx other than 429) and their share, and the outcomes (every good record must be created,
every poison one refused). Speed is not the point: the simulator answers at once and has no rate limit, so
only request counts are compared, and they do not depend on the machine's load (noted anyway).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import random
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import orjson

from benchmarks._harness import RESULTS_DIR, cli_command, cli_env, machine, print_table, run_child, simulator

RECORDS = 20_000
POISON_SHARE = 0.015
SEED = 15
KINDS = ("unknown property", "bad number", "bad option", "bad association")
BAD_NUMBERS = ("12,50", "n/a", "1.234,56", "ten", "€10")
BAD_OPTIONS = ("euro", "usd", "Euro", "dollars", "GBP£")
CONTACT = {"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": 586}
#: The checks the issue sets: (scenario, the most requests as a multiple of the minimum, the largest share of
#: error responses among them, or None).
GOALS = {
    "documented, preflight": (1.02, 0.01),
    "hostile, preflight": (1.15, None),
    "hostile, no preflight": (1.3, None),
}


@dataclass(frozen=True, slots=True)
class Scenario:
    """One way to load the file."""

    name: str
    whole_batch_400: float
    preflight: bool


SCENARIOS = (
    Scenario("documented, preflight", 0.0, True),
    Scenario("documented, no preflight", 0.0, False),
    Scenario("hostile, preflight", 0.3, True),
    Scenario("hostile, no preflight", 0.3, False),
)


def poison_plan(records: int, seed: int) -> dict[int, str]:
    """The poison lines (1-based) and their kind: 1.5% of ``records``, a quarter of each kind."""
    rng = random.Random(seed)
    count = round(records * POISON_SHARE)
    lines = rng.sample(range(1, records + 1), count)
    return {line: KINDS[i % len(KINDS)] for i, line in enumerate(lines)}


def cart(line: int, kind: str | None, rng: random.Random) -> dict[str, Any]:
    """One input line: a cart with a unique external id, a price, a currency, and for about a third of the carts
    a contact (a 9-digit id, as real ones); ``kind`` makes it poison."""
    properties: dict[str, Any] = {
        "hs_external_cart_id": f"ext-{line:08d}",
        "hs_cart_name": f"Cart {line}",
        "hs_total_price": f"{10 + line % 90}.{line % 100:02d}",
        "hs_currency_code": "EUR",
    }
    associations = []
    if line % 3 == 0 or kind == "bad association":
        contact = str(100_000_000 + line) if kind != "bad association" else str(rng.randrange(1, 99_999))
        associations.append({"to": {"id": contact}, "types": [CONTACT]})
    if kind == "unknown property":
        properties["hs_cart_nmae"] = properties.pop("hs_cart_name")  # a misspelt property name
    elif kind == "bad number":
        properties["hs_total_price"] = rng.choice(BAD_NUMBERS)
    elif kind == "bad option":
        properties["hs_currency_code"] = rng.choice(BAD_OPTIONS)
    return {"properties": properties, "associations": associations} if associations else properties


def write_input(path: Path, records: int, plan: dict[int, str], seed: int) -> None:
    rng = random.Random(seed + 1)
    with open(path, "wb") as stream:
        for line in range(1, records + 1):
            stream.write(orjson.dumps(cart(line, plan.get(line), rng)) + b"\n")


@dataclass(frozen=True, slots=True)
class Result:
    """What one scenario cost."""

    scenario: str
    whole_batch_400: float
    preflight: bool
    requests: int
    minimum: int
    ratio: float
    error_responses: int
    error_share: float
    created: int
    failed: int
    invalid: int
    by_status: dict[str, int]
    goal: str
    met: bool | None
    load_1min: float
    wall_s: float


def run(scenario: Scenario, source: Path, workdir: Path, accepted: int, seed: int) -> Result:
    extra = ("--whole-batch-400", str(scenario.whole_batch_400))
    with simulator(seed=seed, extra=extra) as sim:
        summary_path = workdir / "summary.json"
        options = ["--summary-json", str(summary_path), "--api-version", "2026-09"]
        if not scenario.preflight:
            options.append("--no-preflight")
        started = time.perf_counter()
        child = run_child(cli_command(source, sim.url, workdir / "out.ndjson", *options), env=cli_env())
        wall = time.perf_counter() - started
        if child.returncode not in (0, 1):
            raise RuntimeError(f"{scenario.name}: exit {child.returncode}: {child.stderr.strip()[-500:]}")
        summary = orjson.loads(summary_path.read_bytes())
        by_status = sim.stats()["by_status"]
    minimum = math.ceil(accepted / 100) + (2 if scenario.preflight else 0)
    requests = summary["requests"]
    ratio = requests / minimum
    error_share = summary["error_responses"] / requests if requests else 0.0
    goal = GOALS.get(scenario.name)
    met: bool | None = None
    goal_text = "-"
    if goal is not None:
        most, errors = goal
        met = ratio <= most and (errors is None or error_share <= errors)
        goal_text = f"<= {most:g}x" + (f", errors <= {errors:.0%}" if errors is not None else "")
    return Result(
        scenario.name,
        scenario.whole_batch_400,
        scenario.preflight,
        requests,
        minimum,
        round(ratio, 4),
        summary["error_responses"],
        round(error_share, 4),
        summary["created"],
        summary["failed"],
        summary["invalid"],
        {str(k): v for k, v in by_status.items()},
        goal_text,
        met,
        round(os.getloadavg()[0], 2),
        round(wall, 1),
    )


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.poison", description=__doc__.split("\n\n")[0])
    parser.add_argument("--records", type=int, default=RECORDS, help=f"carts to load (default {RECORDS:,})")
    parser.add_argument("--seed", type=int, default=SEED, help="poison placement, values and simulator seed")
    args = parser.parse_args()
    plan = poison_plan(args.records, args.seed)
    accepted = args.records - len(plan)
    results: list[Result] = []
    with tempfile.TemporaryDirectory(prefix="cartloader-poison-") as folder:
        workdir = Path(folder)
        source = workdir / "carts.ndjson"
        write_input(source, args.records, plan, args.seed)
        for scenario in SCENARIOS:
            result = run(scenario, source, workdir, accepted, args.seed)
            if result.created != accepted or result.failed + result.invalid != len(plan):
                raise RuntimeError(f"{scenario.name}: outcomes are wrong: {result}")
            results.append(result)
    print(f"{args.records:,} carts, {len(plan)} poison ({', '.join(KINDS)}: a quarter each), API 2026-09")
    print_table(
        [
            "scenario",
            "requests",
            "minimum",
            "ratio",
            "goal",
            "met",
            "error responses",
            "error share",
            "invalid",
            "failed",
        ],
        [
            (
                r.scenario,
                r.requests,
                r.minimum,
                f"{r.ratio:.3f}x",
                r.goal,
                "-" if r.met is None else ("yes" if r.met else "NO"),
                r.error_responses,
                f"{r.error_share:.1%}",
                r.invalid,
                r.failed,
            )
            for r in results
        ],
    )
    report = {
        "machine": machine(),
        "records": args.records,
        "poison": len(plan),
        "results": [asdict(r) for r in results],
    }
    RESULTS_DIR.mkdir(exist_ok=True)
    path = RESULTS_DIR / "poison.json"
    path.write_text(json.dumps(report, indent=2) + "\n")
    print(f"load average (1 min) at the end: {os.getloadavg()[0]:.2f}; written to {path}")


if __name__ == "__main__":
    main()
