"""Conversions a user names for CSV columns (``--convert COLUMN=KIND[:ARG]``): values as shops write them, turned
into the forms HubSpot reads. Nothing is guessed: a number's decimal mark, a bool's words and a date's pattern
(so its day/month order) are given; a cell a conversion cannot read makes its row ``invalid``.

========================  =====================================================================  ================
kind                      reads                                                                  sends
========================  =====================================================================  ================
``number``                ``1,234.56``, ``$12.00``, ``- 5``: currency symbols and spaces         canonical number
                          dropped; ``,`` groups exactly three digits                             (``1234.56``,
``number:,``              ``1.234,56``, ``12,5 €``: a decimal comma, ``.`` groups three digits   ``12``)
``bool:YES|NO``           the words for true and false, any case (``bool:yes,y|no,n``)           ``true``/``false``
``date:PATTERN``          ``strptime`` pattern naming year, month and day (``%d.%m.%Y``)          ``YYYY-MM-DD``
``datetime:PATTERN@ZONE`` ``strptime`` pattern with a time, read in an IANA zone (``%z`` in the   ISO 8601 UTC
                          pattern: the cell's own offset); a local time that does not exist or   with ms
                          is ambiguous at a DST change is refused
========================  =====================================================================  ================
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from cartloader.values import format_date, format_datetime, format_number

__all__ = ["Conversion", "ConversionError", "parse_conversion"]

_KINDS = ("number", "bool", "date", "datetime")
_SAMPLE = datetime(2024, 4, 15, 10, 38)
#: What a conversion's failure is counted as (``problems_by_code``); HubSpot's own codes where it has one.
_CODES = {"number": "INVALID_NUMBER", "bool": "INVALID_BOOLEAN", "date": "INVALID_DATE", "datetime": "INVALID_DATETIME"}


class ConversionError(ValueError):
    """A cell a conversion cannot read: ``str()`` says why (the caller adds line, column and value)."""


def _number_pattern(decimal: str) -> re.Pattern[str]:
    group = "," if decimal == "." else "."
    d, g = re.escape(decimal), re.escape(group)
    # Digits grouped by threes with one kind of separator (the other mark, or a space), or not grouped at all.
    grouped = rf"[0-9]{{1,3}}(?P<g>{g}|\s)[0-9]{{3}}(?:(?P=g)[0-9]{{3}})*"
    return re.compile(rf"(?P<sign>[+-]?)\s*(?P<digits>(?:{grouped}|[0-9]+)(?:{d}[0-9]+)?|{d}[0-9]+)")


_NUMBERS = {".": _number_pattern("."), ",": _number_pattern(",")}
_SPACE = re.compile(r"\s")


@dataclass(frozen=True, slots=True)
class Conversion:
    """One ``--convert`` option: ``column``, ``kind`` and its argument as given (``spec``), ready to convert cells."""

    column: str
    kind: str
    arg: str = ""
    true_words: frozenset[str] = frozenset()
    false_words: frozenset[str] = frozenset()
    pattern: str = ""
    zone: str = ""

    @property
    def spec(self) -> str:
        """The conversion as the option names it (``number:,``, ``date:%d.%m.%Y``)."""
        return f"{self.kind}:{self.arg}" if self.arg else self.kind

    @property
    def code(self) -> str:
        """The problem code of a cell this conversion cannot read."""
        return _CODES[self.kind]

    def describe(self) -> str:
        """``COLUMN=KIND[:ARG]``, as recorded in the meta file."""
        return f"{self.column}={self.spec}"

    def convert(self, cell: str) -> str:
        """The value sent for ``cell``; ``ConversionError`` when it cannot be read."""
        if self.kind == "number":
            return self._number(cell)
        if self.kind == "bool":
            word = cell.strip().casefold()
            if word in self.true_words:
                return "true"
            if word in self.false_words:
                return "false"
            raise ConversionError("is neither of the words given for true and false")
        try:
            moment = datetime.strptime(cell.strip(), self.pattern)
        except ValueError:
            raise ConversionError(f"does not match the pattern {self.pattern!r}") from None
        if self.kind == "date":
            return format_date(moment.date())
        return format_datetime(self._aware(moment))

    def _number(self, cell: str) -> str:
        text = "".join(ch for ch in cell if unicodedata.category(ch) != "Sc").strip()
        decimal = "," if self.arg == "," else "."
        found = _NUMBERS[decimal].fullmatch(text)
        if found is None:
            if decimal == ".":
                raise ConversionError(
                    "is not a number (a decimal point; a ',' only between groups of three digits: "
                    "for a decimal comma, give number:,)"
                )
            raise ConversionError("is not a number (a decimal comma; a '.' only between groups of three digits)")
        group = "," if decimal == "." else "."
        digits = _SPACE.sub("", found["digits"]).replace(group, "").replace(decimal, ".")
        return format_number(Decimal(found["sign"] + digits))

    def _aware(self, moment: datetime) -> datetime:
        if moment.tzinfo is not None:
            return moment  # the pattern's %z read the cell's own offset
        zone = ZoneInfo(self.zone)
        first, second = moment.replace(tzinfo=zone, fold=0), moment.replace(tzinfo=zone, fold=1)
        if first.utcoffset() != second.utcoffset():
            if first.astimezone(UTC).astimezone(zone).replace(tzinfo=None) != moment:
                raise ConversionError(f"does not exist in {self.zone} (clocks skip it at a daylight-saving change)")
            raise ConversionError(f"is ambiguous in {self.zone} (it happens twice at a daylight-saving change)")
        return first


def _check_pattern(pattern: str, kind: str, zone: ZoneInfo | None) -> None:
    """Refuse a pattern strptime cannot use, or one that does not name what its kind needs."""
    if "%" not in pattern:
        raise ValueError(f"{kind}:{pattern!r} is not a strptime pattern (e.g. %d.%m.%Y)")
    sample = _SAMPLE.replace(tzinfo=zone) if zone is not None and "%z" in pattern else _SAMPLE
    try:
        back = datetime.strptime(sample.strftime(pattern), pattern)
    except ValueError as exc:
        raise ValueError(f"{kind}:{pattern}: not a pattern strptime can read ({exc})") from None
    if back.date() != sample.date():
        raise ValueError(f"{kind}:{pattern}: the pattern must name the year, the month and the day")
    if kind == "datetime" and (back.hour, back.minute) != (sample.hour, sample.minute):
        raise ValueError(f"datetime:{pattern}: the pattern names no time of day (give date:{pattern} for days)")


def parse_conversion(text: str) -> Conversion:
    """Read ``COLUMN=KIND[:ARG]``; ``ValueError`` (one line) for an unknown kind, a bad pattern or zone."""
    column, equals, spec = text.partition("=")
    if not equals or not column or not spec:
        raise ValueError(f"expected COLUMN=KIND[:ARG] (KIND one of {', '.join(_KINDS)}), not {text!r}")
    kind, _, arg = spec.partition(":")
    if kind not in _KINDS:
        raise ValueError(f"unknown conversion {kind!r} in {text!r}: one of {', '.join(_KINDS)}")
    if kind == "number":
        if arg not in ("", ",", "."):
            raise ValueError(f"number takes ',' for a decimal comma (number:,), not {arg!r}")
        return Conversion(column, kind, "," if arg == "," else "")
    if kind == "bool":
        true, bar, false = arg.partition("|")
        true_words = frozenset(word.strip().casefold() for word in true.split(",") if word.strip())
        false_words = frozenset(word.strip().casefold() for word in false.split(",") if word.strip())
        if not bar or not true_words or not false_words or "|" in false:
            raise ValueError(f"bool needs the words for true and false, e.g. bool:yes|no, not {spec!r}")
        if true_words & false_words:
            raise ValueError(f"bool:{arg}: a word cannot mean both true and false")
        return Conversion(column, kind, arg, true_words, false_words)
    if kind == "date":
        _check_pattern(arg, kind, None)
        return Conversion(column, kind, arg, pattern=arg)
    pattern, at, zone_name = arg.rpartition("@")
    if not at or not pattern or not zone_name:
        raise ValueError(f"datetime needs PATTERN@ZONE, e.g. datetime:%d.%m.%Y %H:%M@Europe/Berlin, not {spec!r}")
    try:
        zone = ZoneInfo(zone_name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(
            f"datetime:{arg}: unknown time zone {zone_name!r} (an IANA name such as Europe/Berlin)"
        ) from None
    _check_pattern(pattern, kind, zone)
    return Conversion(column, kind, arg, pattern=pattern, zone=zone_name)
