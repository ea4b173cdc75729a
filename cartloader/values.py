"""Stored forms of property values by type: what HubSpot keeps of a sent value, and the string it echoes.

HubSpot answers with what it *stored*, not with what it was sent: numbers in canonical form (``10.50`` -> ``10.5``),
datetimes in ISO 8601 UTC with milliseconds (``2019-10-30T03:30:17.883Z``), dates as ``YYYY-MM-DD`` or as epoch
milliseconds (``1572480000000``), booleans as ``true``/``false``, and a value that is ``""`` (or only white space)
left out, since it clears the property. This module is the one place those forms are written down; the matcher, the
preflight and the simulator all read them here. It imports nothing of the loader.

Stored forms, by the property's ``type`` as the Properties API names it:

==============  ==================================================================  ============================
type            a sent value is read as                                             stored form (Python)
==============  ==================================================================  ============================
``number``      digits with at most one point, optional sign and exponent           ``Decimal`` (by value)
``datetime``    ISO 8601 (offset, ``Z`` or none; any fraction), or epoch ms         ``int`` epoch milliseconds
``date``        ``YYYY-MM-DD``, or epoch ms at midnight UTC                         ``datetime.date``
``bool``        ``true`` / ``false`` in any case                                    ``bool``
``enumeration`` the option's value exactly (multi-select: values joined by ``;``)   ``str`` (``frozenset[str]``)
``string``      (and any other type) the text                                       ``str``
==============  ==================================================================  ============================

Every form is read after removing surrounding white space (what ``str.strip()`` removes); a value that is empty
then is *absent*. Assumptions, where HubSpot documents nothing:

- a datetime without an offset is UTC;
- a fraction of a second beyond milliseconds is cut off towards the past (as Java's ``Instant.toEpochMilli``);
- instants and days outside the years 1 to 9999 are not values;
- digits are ASCII digits (``0-9``), never other scripts' digits;
- a number is echoed in plain digits from ``1E-400`` up to (not including) ``1E+400``; beyond, its canonical echo
  keeps an exponent (``1E+500``);
- multi-select values are compared as a set (HubSpot may re-order them), empty parts and repeats ignored.
"""

from __future__ import annotations

import re
from collections.abc import Hashable
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from enum import IntEnum
from functools import lru_cache
from typing import Literal

__all__ = [
    "DAY_MS",
    "PROPERTY_TYPES",
    "Agreement",
    "DateEcho",
    "StoredValue",
    "ValueFormError",
    "absent",
    "agreement",
    "canonical_number",
    "date_epoch_ms",
    "echo_form",
    "format_date",
    "format_datetime",
    "format_day",
    "format_instant",
    "format_number",
    "interchangeable",
    "parse_bool",
    "parse_date",
    "parse_datetime",
    "parse_epoch_ms",
    "parse_multi_select",
    "parse_number",
    "same_shape",
    "stored_form",
    "stored_key",
]

#: The property types whose values have a stored form other than their text (``string`` and any other type are
#: kept as text).
PROPERTY_TYPES = frozenset({"string", "number", "bool", "date", "datetime", "enumeration"})
#: Milliseconds in a day: a date as epoch milliseconds is a multiple of it (midnight UTC).
DAY_MS = 86_400_000
#: How a date is echoed: ``YYYY-MM-DD`` or epoch milliseconds (the v3 spec's own example echoes a date that way).
DateEcho = Literal["iso", "epoch-ms"]
#: A value's stored form: ``Decimal`` (number), ``int`` epoch ms (datetime), ``date`` (date), ``bool`` (bool),
#: ``frozenset[str]`` (multi-select), ``str`` (anything else).
StoredValue = Decimal | int | date | bool | str | frozenset[str]

_NUMBER = re.compile(r"[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")
# Already canonical: no sign but "-", no leading zero, no trailing zero in the fraction, no exponent, not "-0".
_CANONICAL_NUMBER = re.compile(r"-?[1-9][0-9]*(?:\.[0-9]*[1-9])?|-?0\.[0-9]*[1-9]|0")
_PLAIN_DIGITS = 400
_MILLIS = re.compile(r"-?[0-9]+")
_ISO_DAY = re.compile(r"([0-9]{4})-([0-9]{2})-([0-9]{2})")
_ISO_TIME = re.compile(
    r"[Tt ]([0-9]{2})(?::([0-9]{2})(?::([0-9]{2})(?:[.,]([0-9]+))?)?)?"
    r"(?:([Zz])|([+-])([0-9]{2})(?::?([0-9]{2}))?)?"
)
#: ``_ISO_DAY`` followed, optionally, by ``_ISO_TIME``: one match for a whole ISO 8601 datetime.
_ISO_DATETIME = re.compile(_ISO_DAY.pattern + "(?:" + _ISO_TIME.pattern + ")?")
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_EPOCH_DAY = date(1970, 1, 1).toordinal()
_MS = timedelta(milliseconds=1)
#: The first and last instants a datetime can name (years 1 to 9999), in epoch milliseconds.
_FIRST_MS = (datetime(1, 1, 1, tzinfo=UTC) - _EPOCH) // _MS
_LAST_MS = (datetime(9999, 12, 31, 23, 59, 59, 999_000, tzinfo=UTC) - _EPOCH) // _MS
_CODES = {
    "number": "INVALID_DECIMAL",
    "bool": "INVALID_BOOLEAN",
    "date": "INVALID_DATE",
    "datetime": "INVALID_DATETIME",
}
_EXPECTED = {
    "number": "digits with at most one decimal point and an optional exponent",
    "bool": "true or false",
    "date": "YYYY-MM-DD, or epoch milliseconds at midnight UTC",
    "datetime": "ISO 8601, or epoch milliseconds",
}


class ValueFormError(ValueError):
    """A value is not a value of its property's type. ``code`` is HubSpot's error code for that type
    (``INVALID_DECIMAL``, ``INVALID_BOOLEAN``, ``INVALID_DATE``, ``INVALID_DATETIME``), ``kind`` the type."""

    def __init__(self, kind: str, text: str, expected: str | None = None) -> None:
        self.kind = kind
        self.text = text
        self.code = _CODES.get(kind, "INVALID_VALUE")
        super().__init__(f"{text!r} is not a {kind}: expected {expected or _EXPECTED.get(kind, 'a value')}")


class Agreement(IntEnum):
    """How well an echoed value agrees with a sent one; a higher level beats a lower one."""

    #: Not the sent value (or not shown while the input sent one).
    NONE = 0
    #: Type unknown: both are numbers of one value, or both datetimes (or dates) naming one instant.
    SHAPE = 1
    #: Equal stored forms under the property's type (``10.50`` and ``10.5`` for a number).
    TYPED = 2
    #: The same text, less surrounding white space (or both absent).
    EXACT = 3


def absent(text: str) -> bool:
    """Whether a sent value clears its property: ``""`` or only white space (HubSpot leaves it out of answers)."""
    return not text.strip()


# --- reading a sent value -------------------------------------------------------------------------------------------


def parse_number(text: str) -> Decimal | None:
    """The number ``text`` names, exactly (no rounding), or None when it is not HubSpot's number form."""
    text = text.strip()
    if _NUMBER.fullmatch(text) is None:
        return None
    return Decimal(text)


def _instant(ms: int) -> int | None:
    return ms if _FIRST_MS <= ms <= _LAST_MS else None


def parse_epoch_ms(text: str) -> int | None:
    """The epoch milliseconds ``text`` is written as (ASCII digits, ``-`` before 1970), whatever year they fall in;
    None when it is not written that way. ``parse_datetime`` and ``parse_date`` also bound the year (1 to 9999)."""
    text = text.strip()
    return int(text) if _MILLIS.fullmatch(text) else None


def parse_datetime(text: str) -> int | None:
    """The instant ``text`` names, in epoch milliseconds, or None when it is not a datetime.

    Epoch milliseconds (``1572406217883``, negative before 1970), or ISO 8601: ``YYYY-MM-DD``, optionally followed by
    ``T`` (or a space), ``HH[:MM[:SS[.fraction]]]`` and an offset (``Z``, ``+05:30``, ``+0530``, ``+05``). No offset:
    UTC (assumption). Fraction digits beyond milliseconds are cut off towards the past.
    """
    text = text.strip()
    ms = parse_epoch_ms(text)
    if ms is not None:
        return _instant(ms)
    found = _ISO_DATETIME.fullmatch(text)
    if found is None:
        return None
    year, month, day, hour, minute, second, fraction, _, sign, offset_h, offset_m = found.groups()
    days = _day_number(int(year), int(month), int(day))
    hours, minutes, seconds = int(hour or 0), int(minute or 0), int(second or 0)
    if days is None or hours > 23 or minutes > 59 or seconds > 59:
        return None  # what datetime() refuses
    ms = ((days * 24 + hours) * 60 + minutes) * 60_000 + seconds * 1000
    if sign is not None:
        offset = int(offset_h or 0) * 60 + int(offset_m or 0)
        if int(offset_m or 0) > 59 or offset >= 1440:
            return None  # what timezone() refuses: an offset of a day or more
        ms += offset * 60_000 if sign == "-" else -offset * 60_000
    if fraction:
        ms += int(fraction[:3].ljust(3, "0"))
    return _instant(ms)


@lru_cache(maxsize=4096)
def _day_number(year: int, month: int, day: int) -> int | None:
    """Days from 1970-01-01 to a real day (years 1 to 9999), or None."""
    try:
        return date(year, month, day).toordinal() - _EPOCH_DAY
    except ValueError:
        return None


def parse_date(text: str) -> date | None:
    """The day ``text`` names, or None: a real ``YYYY-MM-DD``, or epoch milliseconds at midnight UTC."""
    text = text.strip()
    ms = parse_epoch_ms(text)
    if ms is not None:
        if ms % DAY_MS or _instant(ms) is None:
            return None
        return (_EPOCH + ms * _MS).date()
    if _ISO_DAY.fullmatch(text) is None:
        return None
    try:
        return date(int(text[:4]), int(text[5:7]), int(text[8:]))
    except ValueError:
        return None


def parse_bool(text: str) -> bool | None:
    """``True`` or ``False`` for ``true`` / ``false`` in any case, else None."""
    word = text.strip().lower()
    if word == "true":
        return True
    if word == "false":
        return False
    return None


def parse_multi_select(text: str) -> frozenset[str]:
    """The option values of a multi-select value (split on ``;``, each part trimmed, empty parts ignored)."""
    return frozenset(part for part in (piece.strip() for piece in text.split(";")) if part)


def stored_form(text: str, kind: str | None, *, multi_select: bool = False) -> StoredValue | None:
    """What HubSpot stores for ``text`` sent to a property of type ``kind`` (None: type unknown, read as text);
    None when the value is absent. Raises ``ValueFormError`` when it is not a value of the type."""
    if absent(text):
        return None
    value: StoredValue | None
    if kind == "number":
        value = parse_number(text)
    elif kind == "datetime":
        value = parse_datetime(text)
    elif kind == "date":
        value = parse_date(text)
    elif kind == "bool":
        value = parse_bool(text)
    elif kind == "enumeration" and multi_select:
        return parse_multi_select(text)
    else:
        return text.strip()
    if value is None:
        raise ValueFormError(kind, text)
    return value


def stored_key(text: str, kind: str | None = None, *, multi_select: bool = False) -> Hashable | None:
    """A key equal for two sent values exactly when HubSpot stores them alike under the strictest reading of
    their type: by stored form where the type is known and the value is of it, else by the trimmed text.
    None for an absent value."""
    if absent(text):
        return None
    try:
        value = stored_form(text, kind, multi_select=multi_select)
    except ValueFormError:
        return ("text", text.strip())
    if isinstance(value, str):
        return ("text", value)
    return (kind, value)


def interchangeable(first: str, second: str, kind: str | None = None, *, multi_select: bool = False) -> bool:
    """Whether two sent values are stored alike (see ``stored_key``): type unknown, the same trimmed text."""
    return stored_key(first, kind, multi_select=multi_select) == stored_key(second, kind, multi_select=multi_select)


# --- writing the echo -----------------------------------------------------------------------------------------------


def format_number(number: Decimal) -> str:
    """HubSpot's canonical form of a number: plain digits, no ``+``, no leading or trailing zero that adds nothing,
    ``0`` for zero (``-0`` too); an exponent only from ``1E+400`` up or below ``1E-400`` (``1E+500``)."""
    if not number.is_finite():
        raise ValueFormError("number", str(number))
    sign, digit_tuple, exponent = number.as_tuple()
    assert isinstance(exponent, int)  # finite
    digits = "".join(map(str, digit_tuple)).lstrip("0")
    if not digits:
        return "0"
    significant = digits.rstrip("0")
    point = len(digits) + exponent  # where the point goes, counted from the left of ``significant``
    minus = "-" if sign else ""
    if not -_PLAIN_DIGITS <= point - 1 < _PLAIN_DIGITS:
        mantissa = significant[0] + ("." + significant[1:] if len(significant) > 1 else "")
        return f"{minus}{mantissa}E{point - 1:+d}"
    if point <= 0:
        return f"{minus}0.{'0' * -point}{significant}"
    if point >= len(significant):
        return minus + significant + "0" * (point - len(significant))
    return f"{minus}{significant[:point]}.{significant[point:]}"


def canonical_number(text: str) -> str | None:
    """The canonical echo of a sent number (``" 10.50 "`` -> ``10.5``, ``1e3`` -> ``1000``), or None when ``text``
    is not a number."""
    if len(text) <= _PLAIN_DIGITS and _CANONICAL_NUMBER.fullmatch(text):
        return text  # most numbers arrive canonical; only the others pay for Decimal
    number = parse_number(text)
    return None if number is None else format_number(number)


def format_instant(ms: int) -> str:
    """An instant in epoch milliseconds as HubSpot writes datetimes: ISO 8601 UTC with milliseconds and ``Z``."""
    if _instant(ms) is None:
        raise ValueFormError("datetime", str(ms), "an instant between the years 1 and 9999")
    return (_EPOCH + ms * _MS).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def date_epoch_ms(day: date) -> int:
    """A day as epoch milliseconds at midnight UTC (``2019-10-31`` -> ``1572480000000``)."""
    return (day - date(1970, 1, 1)).days * DAY_MS


def format_day(day: date, dates: DateEcho = "iso") -> str:
    """A day as HubSpot echoes a date: ``YYYY-MM-DD``, or (``dates="epoch-ms"``) epoch milliseconds."""
    return str(date_epoch_ms(day)) if dates == "epoch-ms" else day.isoformat()


def echo_form(text: str, kind: str | None, *, multi_select: bool = False, dates: DateEcho = "iso") -> str | None:
    """The string HubSpot echoes for ``text`` sent to a property of type ``kind``; None when it is absent (left out
    of the answer). Multi-select values keep the order sent, each once. Raises ``ValueFormError`` when the value is
    not of the type."""
    value = stored_form(text, kind, multi_select=multi_select)
    if value is None:
        return None
    if kind == "number":
        assert isinstance(value, Decimal)
        return format_number(value)
    if kind == "datetime":
        assert isinstance(value, int)
        return format_instant(value)
    if kind == "date":
        assert isinstance(value, date)
        return format_day(value, dates)
    if kind == "bool":
        return "true" if value else "false"
    if isinstance(value, frozenset):
        parts = (part.strip() for part in text.split(";"))
        return ";".join(dict.fromkeys(part for part in parts if part))
    assert isinstance(value, str)
    return value


# --- comparing an echo with what was sent ---------------------------------------------------------------------------


def same_shape(sent: str, echoed: str) -> bool:
    """Type unknown: whether both are numbers of one value, or both datetimes (dates, epoch milliseconds) naming
    one instant. Only to decide between candidates: never to make two inputs interchangeable."""
    number = parse_number(sent)
    if number is not None and number == parse_number(echoed):
        return True
    instant = parse_datetime(sent)
    return instant is not None and instant == parse_datetime(echoed)


def agreement(sent: str, echoed: str | None, kind: str | None = None, *, multi_select: bool = False) -> Agreement:
    """How ``echoed`` (None: the answer leaves the property out) agrees with ``sent`` for a property of type
    ``kind`` (None: unknown).

    ``EXACT``: the same trimmed text, or both absent. ``TYPED``: a known type (not string) reads both as one stored
    form. ``SHAPE``: the type is unknown (or a side is not of the known type), and ``same_shape`` holds. Otherwise
    ``NONE``; also when the answer shows a value the input cleared, or leaves out a value the input sent.
    """
    if echoed is None or absent(echoed):
        return Agreement.EXACT if absent(sent) else Agreement.NONE
    if absent(sent):
        return Agreement.NONE
    if sent.strip() == echoed.strip():
        return Agreement.EXACT
    typed = kind in PROPERTY_TYPES and kind not in ("string", "enumeration")
    if typed or (kind == "enumeration" and multi_select):
        try:
            equal = stored_form(sent, kind, multi_select=multi_select) == stored_form(
                echoed, kind, multi_select=multi_select
            )
        except ValueFormError:
            pass
        else:
            return Agreement.TYPED if equal else Agreement.NONE
    elif kind in PROPERTY_TYPES:
        return Agreement.NONE  # string or single enumeration: stored as the trimmed text
    return Agreement.SHAPE if same_shape(sent, echoed) else Agreement.NONE


# --- Python values the library accepts ------------------------------------------------------------------------------


def format_datetime(value: datetime) -> str:
    """An aware ``datetime`` as ISO 8601 UTC with milliseconds (``2019-10-30T03:30:17.883Z``); microseconds are
    cut off. A naive one raises ``ValueFormError`` (its instant is unknown)."""
    if value.utcoffset() is None:
        raise ValueFormError("datetime", value.isoformat(), "an aware datetime (with a time zone)")
    return format_instant((value - _EPOCH) // _MS)


def format_date(value: date) -> str:
    """A ``date`` as ``YYYY-MM-DD``. A ``datetime`` raises ``ValueFormError``: pass ``value.date()`` to mean its
    day (in its own zone)."""
    if isinstance(value, datetime):
        raise ValueFormError("date", value.isoformat(), "a date without a time")
    return value.isoformat()
