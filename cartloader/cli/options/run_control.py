"""The "run" options: what a run covers (``--limit``, ``--shard``, ``--dry-run``, ``--no-preflight``) and what it
shows (``--no-progress``, ``--progress-interval``, ``--log-format``)."""

from __future__ import annotations

import argparse

from cartloader.cli.options.values import positive_float, positive_int

DEFAULT_PROGRESS_INTERVAL_S = 30.0


def shard_option(text: str) -> tuple[int, int]:
    """``--shard I/N`` as ``(I, N)``."""
    index, slash, count = text.partition("/")
    try:
        i, n = int(index), int(count)
    except ValueError:
        i, n = -1, 0
    if not slash or n < 1 or not 0 <= i < n:
        raise argparse.ArgumentTypeError(f"expected I/N with 0 <= I < N, such as 0/3, not {text!r}")
    return i, n


def add_run_options(group: argparse._ArgumentGroup) -> None:
    """Add the "run" group's options to ``group``."""
    group.add_argument("--limit", type=positive_int, metavar="N", help="stop after N records (a trial run)")
    group.add_argument(
        "--shard",
        type=shard_option,
        metavar="I/N",
        help="load only line numbers L with (L - 1) mod N == I, for 0 <= I < N (one of N processes or machines; "
        "default log <input stem>.shard-I-of-N.outcomes.ndjson; combine with --budget)",
    )
    group.add_argument(
        "--dry-run",
        action="store_true",
        help="read, normalize and validate locally, print the counts and each invalid line's reason, send no "
        "batch (no token needed; with one, the preflight runs too); writes a log only if --out is given",
    )
    group.add_argument(
        "--no-preflight",
        action="store_true",
        help="skip reading the object's property definitions and validation rules before the first batch "
        "(by default records HubSpot would refuse become invalid locally, never sent; needs the scope "
        "crm.schemas.carts.read)",
    )
    group.add_argument(
        "--missing-target",
        choices=("fail", "skip"),
        default="fail",
        help="an association naming by idProperty an object that does not exist: fail the record "
        "ASSOCIATION_TARGET_MISSING, or create the cart without that association (its outcome lists it in "
        "skipped_associations) (default fail)",
    )
    group.add_argument(
        "--no-progress",
        action="store_true",
        help="no progress bar and no progress lines (default: a bar when stderr is a terminal, else lines)",
    )
    group.add_argument(
        "--progress-interval",
        type=positive_float,
        metavar="SECONDS",
        default=DEFAULT_PROGRESS_INTERVAL_S,
        help="when stderr is not a terminal (or --log-format json), one progress line every SECONDS "
        f"(default {DEFAULT_PROGRESS_INTERVAL_S:g})",
    )
    group.add_argument(
        "--log-format",
        choices=("text", "json"),
        default="text",
        help="json: every stderr line is one JSON object (progress, warnings, errors including usage errors, "
        "the summary), for log shippers (default text)",
    )
