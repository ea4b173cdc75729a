"""The "input format" options: ``--format``, ``--encoding``, ``--map``, ``--associate``, ``--csv-delimiter``,
``--convert``, the readers of their values, and their check against the input's format."""

from __future__ import annotations

import argparse

from cartloader.cli.options.exits import UsageError
from cartloader.hubspot.lookups import DEFAULT_TYPES
from cartloader.input.associations import ColumnAssociation
from cartloader.input.convert import Conversion, parse_conversion
from cartloader.input.encoding import check_encoding


def column_map_option(text: str) -> tuple[str, str | None]:
    """``--map COLUMN=PROPERTY`` (``COLUMN=``: dropped, None)."""
    column, equals, target = text.partition("=")
    if not equals or not column:
        raise argparse.ArgumentTypeError(f"expected COLUMN=PROPERTY (or COLUMN= to drop it), not {text!r}")
    return column, target or None


#: ``--associate`` as parsed: (column, type id or None for the pair's default, object type, property).
AssociateOption = tuple[str, int | None, str | None, str | None]


def association_option(text: str) -> AssociateOption:
    """``--associate COLUMN=TYPE_ID`` or ``--associate COLUMN=OBJECTTYPE.PROPERTY[:TYPE_ID]``."""
    column, equals, target = text.partition("=")
    if target.isascii() and target.isdigit():
        if not column or int(target) < 1:
            raise argparse.ArgumentTypeError(f"expected COLUMN=TYPE_ID with a positive type id, not {text!r}")
        return column, int(target), None, None
    named, colon, type_id = target.rpartition(":") if ":" in target else (target, "", "")
    object_type, dot, id_property = named.partition(".")
    if (
        not equals
        or not column
        or not dot
        or not object_type
        or not id_property
        or (colon and not (type_id.isascii() and type_id.isdigit() and int(type_id) > 0))
    ):
        raise argparse.ArgumentTypeError(
            f"expected COLUMN=TYPE_ID (target ids) or COLUMN=OBJECTTYPE.PROPERTY[:TYPE_ID] (e.g. "
            f"customer_email=contacts.email), not {text!r}"
        )
    return column, int(type_id) if colon else None, object_type, id_property


def column_associations(given: list[AssociateOption], object_type: str) -> tuple[ColumnAssociation, ...]:
    """The ``--associate`` columns, each natural-key one given HubSpot's documented type for the pair when it names
    none; ``UsageError`` when HubSpot documents none for the pair."""
    columns = []
    for column, type_id, to_type, id_property in given:
        if type_id is None:
            assert to_type is not None
            type_id = DEFAULT_TYPES.get((object_type, to_type))
            if type_id is None:
                raise UsageError(
                    f"--associate {column}={to_type}.{id_property}: HubSpot documents no association type from "
                    f"{object_type} to {to_type}; give it: {column}={to_type}.{id_property}:TYPE_ID"
                )
        columns.append(ColumnAssociation(column, type_id, to_type, id_property))
    return tuple(columns)


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
        metavar="COLUMN=TYPE_ID|COLUMN=OBJECTTYPE.PROPERTY[:TYPE_ID]",
        help="CSV: COLUMN=TYPE_ID: each non-empty cell of COLUMN holds target ids (several separated by ;), "
        "associated with that HUBSPOT_DEFINED type id; COLUMN=OBJECTTYPE.PROPERTY[:TYPE_ID] (e.g. "
        "customer_email=contacts.email): each cell is a value of PROPERTY (contacts' email, or a property the "
        "portal marks unique) naming one object of OBJECTTYPE, resolved to its id before sending; TYPE_ID defaults "
        "to HubSpot's documented type for the pair (repeatable)",
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
    columns = [column for column, _ in args.map] + [given[0] for given in args.associate]
    for column in columns:
        if columns.count(column) > 1:
            raise UsageError(f"column {column!r} is given more than once in --map and --associate")
    converted = [conversion.column for conversion in args.convert]
    for column in converted:
        if converted.count(column) > 1:
            raise UsageError(f"column {column!r} is given more than once in --convert")
    return str(fmt)
