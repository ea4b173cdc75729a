"""The "input format" options: ``--format``, ``--map``, ``--associate``, ``--csv-delimiter``, the readers of their
values, and their check against the input's format."""

from __future__ import annotations

import argparse

from cartloader.cli.options.exits import UsageError


def column_map_option(text: str) -> tuple[str, str | None]:
    """``--map COLUMN=PROPERTY`` (``COLUMN=``: dropped, None)."""
    column, equals, target = text.partition("=")
    if not equals or not column:
        raise argparse.ArgumentTypeError(f"expected COLUMN=PROPERTY (or COLUMN= to drop it), not {text!r}")
    return column, target or None


def association_option(text: str) -> tuple[str, int]:
    """``--associate COLUMN=TYPE_ID``."""
    column, equals, type_id = text.partition("=")
    try:
        number = int(type_id)
    except ValueError:
        number = 0
    if not equals or not column or number < 1:
        raise argparse.ArgumentTypeError(f"expected COLUMN=TYPE_ID with a numeric association type id, not {text!r}")
    return column, number


def delimiter_option(text: str) -> str:
    """``--csv-delimiter CHAR`` (``\\t`` or ``tab`` for a tab)."""
    if text in ("\\t", "tab"):
        return "\t"
    if len(text) != 1 or text in ('"', "\r", "\n"):
        raise argparse.ArgumentTypeError(f"expected one character such as ; or \\t, not {text!r}")
    return text


def add_input_layout_options(group: argparse._ArgumentGroup) -> None:
    """Add the "input format" group's options to ``group``."""
    group.add_argument(
        "--format",
        choices=("ndjson", "csv"),
        help="input format (default: from the extension (.csv, .csv.gz), else NDJSON)",
    )
    group.add_argument(
        "--map",
        type=column_map_option,
        action="append",
        default=[],
        metavar="COLUMN=PROPERTY",
        help="CSV: send COLUMN as PROPERTY; COLUMN= drops the column (repeatable; default: columns are sent "
        "under their own names)",
    )
    group.add_argument(
        "--associate",
        type=association_option,
        action="append",
        default=[],
        metavar="COLUMN=TYPE_ID",
        help="CSV: each non-empty cell of COLUMN is a target id, associated with that HUBSPOT_DEFINED type id "
        "(repeatable)",
    )
    group.add_argument(
        "--csv-delimiter",
        type=delimiter_option,
        default=",",
        metavar="CHAR",
        help="CSV field separator, e.g. ; for European exports, or \\t (default ,)",
    )


def input_format(path: str, given: str | None) -> str:
    """``--format``, else from INPUT's extension: ``.csv`` and ``.csv.gz`` are CSV, anything else (stdin too)
    NDJSON."""
    if given is not None:
        return given
    name = path.lower().removesuffix(".gz")
    return "csv" if name.endswith(".csv") else "ndjson"


def check_input_options(args: argparse.Namespace) -> str:
    """The input format, after checking the CSV options against it; ``UsageError`` if they do not fit."""
    fmt = input_format(args.input, args.format)
    if fmt != "csv":
        for name, given in (("--map", args.map), ("--associate", args.associate)):
            if given:
                raise UsageError(f"{name} applies to CSV input only (give --format csv for a CSV file)")
        if args.csv_delimiter != ",":
            raise UsageError("--csv-delimiter applies to CSV input only (give --format csv for a CSV file)")
    columns = [column for column, _ in args.map] + [column for column, _ in args.associate]
    for column in columns:
        if columns.count(column) > 1:
            raise UsageError(f"column {column!r} is given more than once in --map and --associate")
    return str(fmt)
