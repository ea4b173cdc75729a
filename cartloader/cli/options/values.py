"""Readers of option values shared by several groups: whole numbers and seconds (argparse ``type=``)."""

from __future__ import annotations

import argparse


def positive_int(text: str) -> int:
    """``N`` of at least 1 (``--batch-size``, ``--max-retries``, ``--limit``)."""
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a whole number of at least 1, not {text!r}")
    return value


def positive_float(text: str) -> float:
    """A positive, finite number of seconds (``--timeout``, ``--progress-interval``)."""
    try:
        value = float(text)
    except ValueError:
        value = 0.0
    if not value > 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"expected a positive number of seconds, not {text!r}")
    return value
