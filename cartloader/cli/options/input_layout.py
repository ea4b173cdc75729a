"""The "input format" options: ``--format``, ``--encoding``, ``--map``, ``--associate``, ``--csv-delimiter``,
``--convert``, the readers of their values, and their check against the input's format."""

from __future__ import annotations

import argparse

from cartloader.cli.options.exits import UsageError
from cartloader.input.convert import Conversion, parse_conversion
from cartloader.input.encoding import check_encoding


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


def encoding_option(text: str) -> str:
    """``--encoding CODEC``: any text codec Python knows, as its canonical name (``latin-1`` -> ``iso8859-1``)."""
    try:
        return check_encoding(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def conversion_option(text: str) -> Conversion:
    """``--convert COLUMN=KIND[:ARG]``, checked now: an unknown kind, a bad pattern or zone is a usage error."""
    try:
        return parse_conversion(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def add_input_layout_options(group: argparse._ArgumentGroup) -> None:
    """Add the "input format" group's options to ``group``."""
    group.add_argument(
        "--format",
        choices=("ndjson", "csv"),
        help="input format (default: from the extension (.csv, .csv.gz, and .tsv, .tsv.gz as CSV with tabs), "
        "else NDJSON)",
    )
    group.add_argument(
        "--encoding",
        type=encoding_option,
        default="utf-8",
        metavar="CODEC",
        help="the input's text encoding, CSV or NDJSON: any codec Python knows, e.g. latin-1, cp1252, utf-16 "
        "(default utf-8; a BOM is dropped)",
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
        default=None,
        metavar="CHAR",
        help="CSV field separator, e.g. ; for European exports, or \\t (default: sniffed from the header among , ; "
        "tab |; tab for .tsv)",
    )
    group.add_argument(
        "--convert",
        type=conversion_option,
        action="append",
        default=[],
        metavar="COLUMN=KIND[:ARG]",
        help="CSV: convert COLUMN's cells: number (number:, for a decimal comma; currency symbols stripped), "
        "bool:YES|NO, date:PATTERN, datetime:PATTERN@ZONE (strptime patterns, e.g. date:%%d.%%m.%%Y); a cell it "
        "cannot read is invalid (repeatable)",
    )


def input_format(path: str, given: str | None) -> str:
    """``--format``, else from INPUT's extension: ``.csv``, ``.tsv`` (and ``.gz`` of each) are CSV, anything else
    (stdin too) NDJSON."""
    if given is not None:
        return given
    name = path.lower().removesuffix(".gz")
    return "csv" if name.endswith((".csv", ".tsv")) else "ndjson"


def csv_delimiter(path: str, given: str | None) -> str | None:
    """``--csv-delimiter``, else a tab for ``.tsv`` (``.tsv.gz``), else None (sniffed from the header)."""
    if given is not None:
        return given
    return "\t" if path.lower().removesuffix(".gz").endswith(".tsv") else None


def check_input_options(args: argparse.Namespace) -> str:
    """The input format, after checking the CSV options against it; ``UsageError`` if they do not fit."""
    fmt = input_format(args.input, args.format)
    if fmt != "csv":
        for name, given in (("--map", args.map), ("--associate", args.associate), ("--convert", args.convert)):
            if given:
                raise UsageError(f"{name} applies to CSV input only (give --format csv for a CSV file)")
        if args.csv_delimiter is not None:
            raise UsageError("--csv-delimiter applies to CSV input only (give --format csv for a CSV file)")
    columns = [column for column, _ in args.map] + [column for column, _ in args.associate]
    for column in columns:
        if columns.count(column) > 1:
            raise UsageError(f"column {column!r} is given more than once in --map and --associate")
    converted = [conversion.column for conversion in args.convert]
    for column in converted:
        if converted.count(column) > 1:
            raise UsageError(f"column {column!r} is given more than once in --convert")
    return str(fmt)
