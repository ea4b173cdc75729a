"""Associations by email: 20,000 carts from a shop whose customers return (about 60% of carts from a customer seen
before), 70% of the customers known to the portal, 10% of emails in mixed case. Measures the lookup requests
against the minimum (distinct emails / 100), the cache hits, and the load's time against the same load given ids.

    python -m benchmarks.associations                 # 20,000 carts, 1 round (~1 min)
    python -m benchmarks.associations --carts 2000    # a quick look

Both loads run in this process against the in-process simulator (no stored objects kept but the links), at
1000/1s and 50 ms p50 latency, so the figures compare the two loads, not HubSpot.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import random
import time
from pathlib import Path
from typing import Any

from cartloader.api.loader import CartLoader
from cartloader.simulator import Simulator

RESULTS = Path(__file__).resolve().parent / "results" / "associations.json"
KNOWN = 10_000  # contacts of the portal: customer1..customer10000@example.com


def shop(count: int, seed: int = 1) -> list[str]:
    """Each cart's customer email as the shop wrote it."""
    rng = random.Random(seed)
    customers: list[str] = []
    emails = []
    for _ in range(count):
        if customers and rng.random() < 0.6:
            email = rng.choice(customers)
        else:
            email = (
                f"customer{rng.randint(1, KNOWN)}@example.com" if rng.random() < 0.7 else f"n{len(customers)}@x.test"
            )
            customers.append(email)
        emails.append(email.upper() if rng.random() < 0.1 else email)
    return emails


async def load(records: list[dict[str, Any]]) -> dict[str, Any]:
    async with Simulator(contacts=KNOWN, rate="1000/1s", latency_ms=(50, 150), seed=1) as sim:
        started = time.perf_counter()
        async with CartLoader("sim-token", base_url=sim.url, rate="1000/1s", preflight=False) as loader:
            summary = await loader.create(records)
            hits = loader.lookup_cache.hits
        elapsed = time.perf_counter() - started
        stats = sim.stats()
    reads = sum(count for name, count in stats.by_endpoint.items() if name.endswith("/contacts/batch/read"))
    return {
        "seconds": round(elapsed, 2),
        "created": summary.created,
        "failed": summary.failed,
        "lookups": summary.lookups,
        "simulator_lookups": reads,
        "cache_hits": hits,
        "requests": summary.requests,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--carts", type=int, default=20_000)
    args = parser.parse_args()
    emails = shop(args.carts)
    distinct = len({email.strip().lower() for email in emails})
    by_email = [
        {
            "properties": {"hs_cart_name": f"c{i}"},
            "associations": [{"to": {"objectType": "contacts", "idProperty": "email", "id": e}}],
        }
        for i, e in enumerate(emails)
    ]
    by_id = []
    for i, email in enumerate(emails):
        record: dict[str, Any] = {"properties": {"hs_cart_name": f"c{i}"}}
        key = email.lower()
        if key.startswith("customer"):
            contact = str(100_000_000 + int(key.removeprefix("customer").split("@")[0]))
            record["associations"] = [
                {"to": {"id": contact}, "types": [{"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": 586}]}
            ]
        by_id.append(record)
    email_run = asyncio.run(load(by_email))
    id_run = asyncio.run(load(by_id))
    minimum = math.ceil(distinct / 100)
    result = {
        "carts": args.carts,
        "distinct_emails": distinct,
        "minimum_lookups": minimum,
        "by_email": email_run,
        "by_id": id_run,
        "lookups_vs_minimum": round(email_run["lookups"] / minimum, 3),
        "time_ratio": round(email_run["seconds"] / id_run["seconds"], 3),
        "load_average": os.getloadavg(),
    }
    print(f"carts {args.carts}, distinct emails {distinct}, minimum lookups {minimum}")
    print(f"{'load':<10}{'seconds':>9}{'created':>9}{'failed':>8}{'lookups':>9}{'sim reads':>11}{'hits':>8}")
    for name, run in (("by email", email_run), ("by id", id_run)):
        print(
            f"{name:<10}{run['seconds']:>9}{run['created']:>9}{run['failed']:>8}{run['lookups']:>9}"
            f"{run['simulator_lookups']:>11}{run['cache_hits']:>8}"
        )
    print(f"lookups / minimum {result['lookups_vs_minimum']}, time by email / by id {result['time_ratio']}")
    print("load average", " ".join(f"{x:.2f}" for x in result["load_average"]))
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
