"""The "outcome log" options: ``--out``, ``--resume``, ``--retry-failed``, ``--overwrite``, ``--rejects``,
``--echo``, ``--summary-json``."""

from __future__ import annotations

import argparse


def add_outcome_log_options(group: argparse._ArgumentGroup) -> None:
    """Add the "outcome log" group's options to ``group``."""
    group.add_argument(
        "--out",
        metavar="PATH",
        help="outcome log, one JSON line per record (default: <input stem>.outcomes.ndjson in the current "
        "folder; outcomes.ndjson for stdin; - writes it to stdout). An existing log is refused unless --resume "
        "or --overwrite",
    )
    group.add_argument(
        "--resume",
        action="store_true",
        help="continue the log: lines with a final outcome are skipped; pending lines (flagged duplicate_risk), "
        "unsent lines and lines never reached are sent. Without a log yet: start fresh",
    )
    group.add_argument("--retry-failed", action="store_true", help="with --resume, also resend lines that failed")
    group.add_argument(
        "--overwrite",
        action="store_true",
        help="replace an existing log; the replaced log and its meta file are kept as NAME.1",
    )
    group.add_argument(
        "--rejects",
        metavar="PATH",
        help="also write every failed or invalid input line verbatim to PATH (fix it, then load it) and its "
        "error to PATH.errors.ndjson, line for line",
    )
    group.add_argument(
        "--echo",
        metavar="PROPERTY",
        action="append",
        default=[],
        help="copy this input property into each outcome (to join with your own ids); repeatable",
    )
    group.add_argument("--summary-json", metavar="PATH", help="write the final summary as JSON to PATH")
