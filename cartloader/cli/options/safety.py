"""The "safety" options: ``--upsert-by``, ``--no-retry-ambiguous``, ``--allow-insecure``."""

from __future__ import annotations

import argparse


def add_safety_options(group: argparse._ArgumentGroup) -> None:
    """Add the "safety" group's options to ``group``."""
    group.add_argument(
        "--upsert-by",
        metavar="PROPERTY",
        help="load through batch/upsert with this unique property as idProperty: a resend can never duplicate; "
        "a record without it is invalid (default: batch/create)",
    )
    group.add_argument(
        "--no-retry-ambiguous",
        action="store_true",
        help="never resend a batch HubSpot may already have processed: its records fail, category AMBIGUOUS "
        "(default: resend, flagged duplicate_risk)",
    )
    group.add_argument(
        "--allow-insecure",
        action="store_true",
        help="allow a plain-http base URL that is not loopback (the token would travel unencrypted)",
    )
