"""The "pace and retries" options: ``--concurrency``, ``--rate``, ``--pace``, ``--batch-size``, ``--timeout``,
``--max-retries``, ``--budget``, and the readers of their values."""

from __future__ import annotations

import argparse

from cartloader.budget.url import BudgetUrl
from cartloader.cli.options.values import positive_float, positive_int
from cartloader.config import (
    DEFAULT_CONCURRENCY,
    DEFAULT_MAX_ATTEMPTS,
    DEFAULT_TIMEOUT_S,
    MAX_BATCH_SIZE,
    PACES,
    Concurrency,
)
from cartloader.errors import ConfigError
from cartloader.rate import Rate


def concurrency_option(text: str) -> Concurrency:
    """``--concurrency auto|N`` as the command line (and the benchmarks) read it."""
    if text == "auto":
        return "auto"
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected auto or a whole number of at least 1, not {text!r}")
    return value


def rate_option(text: str) -> Rate:
    """``--rate N/DURATION`` as a ``Rate``."""
    try:
        return Rate.parse(text)
    except ConfigError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def budget_option(text: str) -> str:
    """``--budget redis://...``, checked (the error masks any password) and kept as given."""
    try:
        BudgetUrl.parse(text)
    except ConfigError as exc:  # the message masks any password
        raise argparse.ArgumentTypeError(str(exc)) from None
    return text


def add_pace_options(group: argparse._ArgumentGroup) -> None:
    """Add the "pace and retries" group's options to ``group``."""
    group.add_argument(
        "--concurrency",
        type=concurrency_option,
        metavar="auto|N",
        default=DEFAULT_CONCURRENCY,
        help="requests in flight at most; auto keeps enough in flight to fill the window at the observed latency "
        f"(default {DEFAULT_CONCURRENCY})",
    )
    group.add_argument(
        "--rate",
        type=rate_option,
        metavar="N/DURATION",
        help="request budget, e.g. 190/10s, 20/1s, 5/500ms: a hard cap, lowered when HubSpot advertises less "
        "(default: at most 10 requests before HubSpot's first answer, then follow what its rate-limit headers "
        "advertise, Max and Remaining)",
    )
    group.add_argument(
        "--pace",
        choices=PACES,
        default="burst",
        help="burst: use the capacity the rolling window holds free, then keep the trailing count under the "
        "limit; even: evenly spaced requests, never a burst (default burst)",
    )
    group.add_argument(
        "--batch-size",
        type=positive_int,
        metavar="N",
        default=MAX_BATCH_SIZE,
        help=f"inputs per request, 1..{MAX_BATCH_SIZE} (default {MAX_BATCH_SIZE})",
    )
    group.add_argument(
        "--timeout",
        type=positive_float,
        metavar="SECONDS",
        default=DEFAULT_TIMEOUT_S,
        help=f"total timeout of one request (default {DEFAULT_TIMEOUT_S:g}: longer than the 100 s HubSpot waits before "
        "answering 524; Ctrl-C may wait that long for answers in flight)",
    )
    group.add_argument(
        "--max-retries",
        type=positive_int,
        metavar="N",
        default=DEFAULT_MAX_ATTEMPTS,
        help=f"attempts per batch before its records fail (default {DEFAULT_MAX_ATTEMPTS})",
    )
    group.add_argument(
        "--budget",
        type=budget_option,
        metavar="redis://HOST:PORT/DB?key=NAME",
        help="share one rate budget with every process using the same Redis key, on this machine or others "
        "(needs the extra cartloader[redis]; a password in the URL is never printed; default: per process)",
    )
