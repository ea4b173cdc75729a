"""CSV input: RFC 4180 with a header row naming the columns, read with Python's ``csv`` module.

Each row becomes one record, numbered by the physical line where it starts (a quoted field may span lines). An
empty cell omits its property; ``--map COLUMN=PROPERTY`` renames a column (``COLUMN=`` drops it) and
``--associate`` turns a column's cells into association targets: ids (``COLUMN=TYPE_ID``; a cell may hold several
separated by ``;``, each digits, else the record is invalid) or values of a property that names one object
(``COLUMN=OBJECTTYPE.PROPERTY[:TYPE_ID]``, resolved before sending). The header is read (and every
option checked against it) before anything is sent; rows are then read a chunk at a time off the event loop, so
memory stays bounded whatever the file size.
"""

from __future__ import annotations

import csv
import itertools
from collections.abc import AsyncGenerator, Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, BinaryIO

import anyio.to_thread

from cartloader.errors import ConfigError, InputReadError
from cartloader.input.associations import ColumnAssociation
from cartloader.input.convert import Conversion, ConversionError
from cartloader.input.encoding import DEFAULT_ENCODING, not_text_reason
from cartloader.input.ndjson import MAX_LINE_BYTES, read_error_reason
from cartloader.input.preflight import shown_value
from cartloader.input.sniff import one_column_hint, sniff_delimiter
from cartloader.models import CartInput, InvalidInput, PropertyProblem

_BOM = b"\xef\xbb\xbf"
_ROWS_PER_STEP = 500


@dataclass(frozen=True, slots=True)
class CsvLayout:
    """How CSV columns become records: the delimiter (``None``: sniffed from the header), renamed or dropped
    columns (``mapping``: column -> property, ``None`` drops it), association columns (column -> HUBSPOT_DEFINED
    association type id of its target ids, or a ``ColumnAssociation``), conversions of cells (column ->
    ``Conversion``) and the codec the input was read with (for messages)."""

    delimiter: str | None = ","
    mapping: Mapping[str, str | None] = field(default_factory=dict)
    associations: Mapping[str, int | ColumnAssociation] = field(default_factory=dict)
    conversions: Mapping[str, Conversion] = field(default_factory=dict)
    encoding: str = DEFAULT_ENCODING

    def describe(self, delimiter: str | None = None) -> dict[str, Any]:
        """The layout as recorded in the outcome log's meta file (what a line means depends on it), with the
        delimiter actually used (``delimiter``, when sniffed). Conversions are recorded apart (``convert``)."""
        return {
            "delimiter": delimiter or self.delimiter,
            "map": dict(sorted(self.mapping.items())),
            "associate": {
                column: _association(column, given).describe() for column, given in sorted(self.associations.items())
            },
        }


class _Lines:
    """The physical lines of a binary stream (split on ``\\n``), decoded for the csv module, keeping the raw
    bytes of the row being read and the first problem found in it (a line that is not UTF-8, or too long)."""

    __slots__ = ("_encoding", "_limit", "_stream", "number", "problem", "raw")

    def __init__(self, stream: BinaryIO, max_line_bytes: int, encoding: str = DEFAULT_ENCODING) -> None:
        self._stream = stream
        self._encoding = encoding
        self._limit = max_line_bytes
        self.number = 0
        self.raw: list[bytes] | None = []
        self.problem: str | None = None

    def __iter__(self) -> Iterator[str]:
        return self

    def __next__(self) -> str:
        try:
            line = self._stream.readline(self._limit + 2)
        except (OSError, EOFError) as exc:
            name = getattr(self._stream, "name", "")
            raise InputReadError(f"cannot read input {name}: {read_error_reason(exc)}") from None
        if not line:
            raise StopIteration
        self.number += 1
        if self.number == 1 and line.startswith(_BOM):
            line = line[len(_BOM) :]
        if len(line) > self._limit + 1 or (len(line) > self._limit and not line.endswith(b"\n")):
            self._skip_rest(line)
            self.problem = self.problem or f"line {self.number} is longer than {MAX_LINE_BYTES // (1 << 20)} MiB"
            self.raw = None
            return "\n"
        if self.raw is not None:
            self.raw.append(line)
        try:
            return line.decode("utf-8")
        except UnicodeDecodeError as exc:
            if self.problem is None:
                self.problem = not_text_reason(line, exc.start, self.number, self._encoding)
            return line.decode("utf-8", "replace")

    def _skip_rest(self, line: bytes) -> None:
        while not line.endswith(b"\n"):
            line = self._stream.readline(1 << 20)
            if not line:
                return

    def take_row(self) -> tuple[bytes | None, str | None]:
        """The raw bytes of the row just read (without its final line end) and its problem; starts the next row."""
        raw = b"".join(self.raw).removesuffix(b"\n").removesuffix(b"\r") if self.raw is not None else None
        problem = self.problem
        self.raw, self.problem = [], None
        return raw, problem


_Row = tuple[int, list[str] | None, bytes | None, str | None]


@dataclass(frozen=True, slots=True)
class _Column:
    """What one column of the header becomes: a property, association targets, or nothing."""

    property: str | None = None
    association: ColumnAssociation | None = None
    unnamed: bool = False
    conversion: Conversion | None = None


class CsvSource:
    """An open CSV input whose header has been read and checked: ``header`` is its raw first row (for the
    rejects file), ``columns`` the names. Read the records with ``csv_inputs``."""

    __slots__ = ("_columns", "_converted", "_lines", "_reader", "_start", "columns", "delimiter", "header")

    def __init__(self, stream: BinaryIO, path: str, layout: CsvLayout, *, max_line_bytes: int = MAX_LINE_BYTES) -> None:
        csv.field_size_limit(max_line_bytes)
        self._lines = _Lines(stream, max_line_bytes, layout.encoding)
        lines: Iterator[str] = self._lines
        delimiter = layout.delimiter
        if delimiter is None:
            first = self._first_line()
            delimiter = sniff_delimiter(first, path) if first is not None else ","
            lines = itertools.chain([first] if first is not None else [], self._lines)
        #: The delimiter in use: the one given, else the one sniffed from the header.
        self.delimiter = delimiter
        self._reader = csv.reader(lines, delimiter=delimiter, strict=False)
        header = self._read_header(path)
        self.columns = [name.strip() for name in header]
        one_column_hint(self.columns, delimiter, path)
        self._columns = _plan(self.columns, layout, path)
        self._converted = any(column.conversion is not None for column in self._columns)
        raw, _ = self._lines.take_row()
        self.header = raw or b""
        self._start = self._lines.number + 1

    def _first_line(self) -> str | None:
        """The first line that is not blank (to sniff the delimiter from), blank lines before it passed over."""
        for line in self._lines:
            if line.strip() or self._lines.problem is not None:  # a line too long to read is no blank line
                return line
            self._lines.take_row()
        return None

    def _read_header(self, path: str) -> list[str]:
        try:
            for row in self._reader:
                problem = self._lines.problem  # a line too long to read is no blank line: it is the header
                if problem is not None:
                    raise ConfigError(f"input {path}: the header is {problem}")
                if any(cell.strip() for cell in row):
                    return row
                self._lines.take_row()
        except csv.Error as exc:
            raise ConfigError(f"input {path}: cannot read the CSV header: {exc}") from None
        raise ConfigError(f"input {path} has no header row: a CSV input starts with a row naming its columns")

    def rows(self, count: int) -> list[_Row]:
        """Up to ``count`` rows: (the line where each starts, its cells or ``None`` when unreadable, its raw
        bytes, its problem). Blocking: run it in a worker thread."""
        out: list[_Row] = []
        reader = self._reader
        lines = self._lines
        while len(out) < count:
            start = self._start
            try:
                row: list[str] | None = next(reader)
            except StopIteration:
                break
            except csv.Error as exc:
                row = None
                lines.problem = lines.problem or str(exc)
            raw, problem = lines.take_row()
            self._start = lines.number + 1
            out.append((start, row, raw, problem))
        return out

    def record(
        self, line: int, row: list[str] | None, raw: bytes | None, problem: str | None
    ) -> CartInput | InvalidInput | None:
        """The record of one row (``None`` for a row of empty cells: skipped like a blank line)."""
        if problem is not None or row is None:
            return InvalidInput(line, f"line {line}: {problem or 'unreadable CSV'}", raw)
        if not any(row):
            return None
        columns = self._columns
        problems: list[PropertyProblem] | None = None
        if self._converted:
            row, problems = self._convert(row)
        properties: dict[str, str] = {}
        associations: list[dict[str, Any]] = []
        unnamed = 0
        not_ids: list[str] = []
        for position, (column, cell) in enumerate(zip(columns, row, strict=False), 1):
            if not cell:
                continue
            if column.property is not None:
                properties[column.property] = cell
            elif column.association is not None:
                not_ids += _targets(column.association, cell, associations)
            elif column.unnamed and cell.strip() and not unnamed:
                unnamed = position
        if len(row) > len(columns):
            message = f"line {line}: {len(row)} fields, but the header names {len(columns)}"
            return InvalidInput(line, message, raw, properties=properties)
        if unnamed:
            message = f"line {line}: a value in column {unnamed}, which the header leaves unnamed"
            return InvalidInput(line, message, raw, properties=properties)
        if not_ids:
            message = f"line {line}: " + "; ".join(not_ids)
            return InvalidInput(line, message, raw, properties=properties)
        if problems:
            message = f"line {line}: " + "; ".join(problem.message for problem in problems)
            return InvalidInput(line, message, raw, problems[0].code, tuple(problems), properties)
        return CartInput(line, properties, associations or None, None, raw)

    def _convert(self, row: list[str]) -> tuple[list[str], list[PropertyProblem]]:
        """The row with its cells converted (a cell that cannot be, as it was), and a problem for each of those."""
        problems: list[PropertyProblem] = []
        cells: list[str] = []
        for position, (column, cell) in enumerate(zip(self._columns, row, strict=False)):
            conversion = column.conversion
            if conversion is None or not cell.strip():
                cells.append(cell if conversion is None else "")
                continue
            try:
                cells.append(conversion.convert(cell))
            except ConversionError as exc:
                cells.append(cell)
                name = self.columns[position]
                why = f"column {name!r} value {shown_value(cell)} {exc} (--convert {conversion.describe()})"
                problems.append(PropertyProblem(column.property or name, conversion.code, why, cell))
        cells.extend(row[len(cells) :])
        return cells, problems


def _association(column: str, given: int | ColumnAssociation) -> ColumnAssociation:
    """``--associate COLUMN=TYPE_ID`` given as the type id alone, or the column's ``ColumnAssociation``."""
    return given if isinstance(given, ColumnAssociation) else ColumnAssociation(column, given)


def _targets(association: ColumnAssociation, cell: str, items: list[dict[str, Any]]) -> list[str]:
    """Add the association items of one cell to ``items``; the problems of the cell's targets that are not ids.
    A cell of ids may hold several, separated by ``;``; a natural-key cell is one value (trimmed)."""
    if association.object_type is not None:
        value = cell.strip()
        if value:
            items.append(association.item(value))
        return []
    problems = []
    for part in cell.split(";"):
        target = part.strip()
        if not target:
            continue
        if not (target.isascii() and target.isdigit()):
            problems.append(
                f"column {association.column!r} value {shown_value(cell)}: {shown_value(target)} is not a HubSpot "
                "id (digits)"
            )
            continue
        items.append(association.item(target))
    return problems


def _plan(names: Sequence[str], layout: CsvLayout, path: str) -> list[_Column]:
    """What each column becomes; ``ConfigError`` when the header and the options do not fit together."""
    seen: dict[str, int] = {}
    for position, name in enumerate(names, 1):
        if name and name in seen:
            raise ConfigError(
                f"input {path}: columns {seen[name]} and {position} of the header are both named {name!r}"
            )
        seen[name] = position
    for option, columns in (
        ("--map", layout.mapping),
        ("--associate", layout.associations),
        ("--convert", layout.conversions),
    ):
        for column in columns:
            if column not in seen or not column:
                shown = ", ".join(name for name in names if name)
                raise ConfigError(f"{option} {column}=...: the header has no column {column!r} (it has: {shown})")
    plan: list[_Column] = []
    targets: dict[str, str] = {}
    for name in names:
        if not name:
            plan.append(_Column(unnamed=True))
        elif name in layout.associations:
            plan.append(_Column(association=_association(name, layout.associations[name])))
        elif name in layout.mapping and layout.mapping[name] is None:
            plan.append(_Column())
        else:
            target = layout.mapping.get(name) or name
            if target in targets:
                raise ConfigError(
                    f"columns {targets[target]!r} and {name!r} would both be sent as property {target!r}: "
                    "rename or drop one with --map"
                )
            targets[target] = name
            plan.append(_Column(property=target, conversion=layout.conversions.get(name)))
    for column in layout.conversions:
        if column in layout.associations or (column in layout.mapping and layout.mapping[column] is None):
            raise ConfigError(f"--convert {column}=...: that column is not sent as a property (see --map, --associate)")
    if not targets and not layout.associations:
        raise ConfigError(f"input {path}: no column is left to send (every one is dropped or unnamed)")
    return plan


async def csv_inputs(
    source: CsvSource,
    *,
    skip: Callable[[int], bool] | None = None,
    limit: int | None = None,
    on_item: Callable[[CartInput | InvalidInput], None] | None = None,
) -> AsyncGenerator[CartInput | InvalidInput, None]:
    """The records of a CSV input, like ``ndjson_inputs``: ``skip(line)`` true leaves a row unbuilt, ``on_item``
    sees each item before it is yielded, and the iteration ends after ``limit`` items."""
    count = 0
    while True:
        rows = await anyio.to_thread.run_sync(source.rows, _ROWS_PER_STEP)
        if not rows:
            return
        for line, row, raw, problem in rows:
            if skip is not None and skip(line):
                continue
            item = source.record(line, row, raw, problem)
            if item is None:
                continue
            if on_item is not None:
                on_item(item)
            yield item
            if limit is not None:
                count += 1
                if count >= limit:
                    return
