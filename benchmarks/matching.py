"""``python -m benchmarks.matching``: what matching one answer to its inputs costs per record, by how HubSpot echoes.

Each case is a 100-input batch of carts and its answer (results shuffled, HubSpot's own properties added), matched
with ``match_results`` in this process, no I/O. Cases:

- ``traced``: every result echoes its ``objectWriteTraceId`` (the baseline of the ratios);
- ``untraced exact``: no trace id, every value echoed as sent;
- ``untraced typed``: no trace id, values sent in other forms than HubSpot echoes (datetimes as epoch ms or with an
  offset, dates as epoch ms, numbers with trailing zeros), echoed in stored form, the property types known;
- ``untraced shape``: the same answer, the types unknown (the preflight off): paired by shape;
- ``twins``: no trace id, exact echo, ten groups of ten inputs with equal values;
- ``blank values``: no trace id, exact echo, every input sending two ``""`` values (left out of the answer).

For each case: CPU µs per record (this thread's CPU time for a call, over the batch's 100 records: time spent
waiting for a shared core is not counted), the median of ``--rounds`` rounds of ``--repeat`` calls each, and its
ratio to the ``traced`` case measured in the same round (the machine may be shared: ratios travel better than
microseconds). The 1-minute load average is printed before and after; the figures are also written to
``benchmarks/results/matching.json``.
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from benchmarks._harness import machine, median, print_table, write_json
from cartloader.engine.matching import Kinds, match_results
from cartloader.hubspot.protocol import ResultItem
from cartloader.models import CartInput
from cartloader.values import echo_form

BATCH = 100
KINDS: Kinds = {
    "hs_external_cart_id": ("string", False),
    "hs_cart_name": ("string", False),
    "hs_source_store": ("string", False),
    "hs_external_status": ("enumeration", False),
    "hs_total_price": ("number", False),
    "hs_currency_code": ("enumeration", False),
    "hs_tags": ("string", False),
    "hs_cart_url": ("string", False),
    "closed_at": ("datetime", False),
    "ship_day": ("date", False),
}
_ADDED = {"hs_createdate": "2026-11-30T10:00:00.000Z", "hs_lastmodifieddate": "2026-11-30T10:00:00.000Z"}


@dataclass(frozen=True, slots=True)
class Case:
    """One batch and its answer, matched with ``kinds``."""

    name: str
    inputs: list[CartInput]
    results: list[ResultItem]
    kinds: Kinds


def _cart(i: int, **extra: str) -> CartInput:
    properties = {
        "hs_external_cart_id": f"ext-{i:08d}",
        "hs_cart_name": f"Cart {i}",
        "hs_source_store": "bench-store",
        "hs_external_status": "open",
        "hs_total_price": f"{10 + i % 90}.{i % 100:02d}",
        "hs_currency_code": "EUR",
        **extra,
    }
    record = CartInput(i, properties)
    record.key = f"run-{i}"
    return record


def _typed(i: int) -> CartInput:
    """A cart sending a datetime (epoch ms, or ISO with an offset), a date (epoch ms) and a price with zeros."""
    ms = 1_764_496_800_000 + i * 61_001
    closed = str(ms) if i % 2 else f"2025-11-30T{12 + i % 10:02d}:{i % 60:02d}:{i % 60:02d}.5+02:00"
    record = _cart(i, closed_at=closed, ship_day=str(1_764_460_800_000 + i % 7 * 86_400_000))
    record.properties["hs_total_price"] = f"{10 + i % 90}.{i % 10}0"
    return record


def _answer(inputs: Sequence[CartInput], *, traced: bool, stored: bool, rng: random.Random) -> list[ResultItem]:
    """HubSpot's results for ``inputs``: each value echoed as sent (``stored``: in stored form by ``KINDS``),
    blanks left out, HubSpot's own properties added, trace ids echoed or not, shuffled."""
    results = []
    for n, record in enumerate(inputs):
        echoed: dict[str, Any] = {"hs_object_id": str(900_000 + n), **_ADDED}
        for name, text in record.properties.items():
            shown = echo_form(text, KINDS[name][0]) if stored else (text if text.strip() else None)
            if shown is not None:
                echoed[name] = shown
        results.append(ResultItem(str(900_000 + n), echoed, record.key if traced else None, None))
    rng.shuffle(results)
    return results


def cases(seed: int = 1) -> list[Case]:
    """The benchmark's cases, the baseline (``traced``) first."""
    rng = random.Random(seed)
    plain = [_cart(i) for i in range(1, BATCH + 1)]
    typed = [_typed(i) for i in range(1, BATCH + 1)]
    twins = [_cart(i % 10 + 1) for i in range(BATCH)]
    for line, record in enumerate(twins, 1):
        record.line, record.key = line, f"run-{line}"
    blanks = [_cart(i, hs_tags="", hs_cart_url=" ") for i in range(1, BATCH + 1)]
    typed_answer = _answer(typed, traced=False, stored=True, rng=rng)
    return [
        Case("traced", plain, _answer(plain, traced=True, stored=False, rng=rng), KINDS),
        Case("untraced exact", plain, _answer(plain, traced=False, stored=False, rng=rng), KINDS),
        Case("untraced typed", typed, typed_answer, KINDS),
        Case("untraced shape", typed, typed_answer, {}),
        Case("twins", twins, _answer(twins, traced=False, stored=False, rng=rng), KINDS),
        Case("blank values", blanks, _answer(blanks, traced=False, stored=False, rng=rng), KINDS),
    ]


def _check(case: Case) -> None:
    """Every input of the case gets a result (a benchmark of a matcher that pairs nothing measures nothing)."""
    matching = match_results(case.inputs, case.results, kinds=case.kinds)
    if len(matching.pairs) != len(case.inputs) or matching.unmatched_results or matching.ambiguous:
        raise SystemExit(f"{case.name}: {len(matching.pairs)} of {len(case.inputs)} inputs paired")


def _per_record_us(call: Callable[[], object], repeat: int) -> float:
    started = time.thread_time()
    for _ in range(repeat):
        call()
    return (time.thread_time() - started) / repeat / BATCH * 1e6


def measure(all_cases: Sequence[Case], rounds: int, repeat: int) -> dict[str, tuple[float, float]]:
    """Each case's median µs per record and median ratio to the first case (measured in the same round)."""
    times: dict[str, list[float]] = {case.name: [] for case in all_cases}
    ratios: dict[str, list[float]] = {case.name: [] for case in all_cases}
    for _ in range(rounds):
        baseline = 0.0
        for case in all_cases:

            def call(case: Case = case) -> object:
                return match_results(case.inputs, case.results, kinds=case.kinds)

            us = _per_record_us(call, repeat)
            baseline = baseline or us
            times[case.name].append(us)
            ratios[case.name].append(us / baseline)
    return {name: (median(times[name]), median(ratios[name])) for name in times}


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.matching", description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=15, help="rounds, each timing every case once (default 15)")
    parser.add_argument("--repeat", type=int, default=40, help="calls per case and round (default 40)")
    args = parser.parse_args(argv)
    all_cases = cases()
    for case in all_cases:
        _check(case)
    load_before = os.getloadavg()[0]
    figures = measure(all_cases, args.rounds, args.repeat)
    load_after = os.getloadavg()[0]
    print(
        f"{BATCH}-input batches, median of {args.rounds} rounds x {args.repeat} calls; python {sys.version.split()[0]}"
    )
    print(f"load average (1 min): {load_before:.2f} before, {load_after:.2f} after; {os.cpu_count()} CPUs\n")
    print_table(["case", "CPU µs/record", "x traced"], [[name, us, ratio] for name, (us, ratio) in figures.items()])
    cells = {name: {"cpu_us_per_record": us, "ratio_to_traced": ratio} for name, (us, ratio) in figures.items()}
    settings = {"batch": BATCH, "rounds": args.rounds, "repeat": args.repeat, "load_1min_after": load_after}
    path = write_json("matching", {"machine": machine(), "settings": settings, "cases": cells})
    print(f"\nwrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
