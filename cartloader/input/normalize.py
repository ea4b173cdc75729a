"""Normalization: turn one input object into a ``CartInput`` in HubSpot's shape, or an ``InvalidInput`` saying why.

``normalize`` applies the input rules (docs/input.md) to one object; ``normalized`` numbers and normalizes an
iterable or async iterable. Reading files is the job of the readers beside this module.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterable, AsyncIterator, Callable, Iterable
from datetime import date, datetime
from decimal import Decimal
from enum import Enum
from typing import Any

import orjson

from cartloader.input.associations import association_problem
from cartloader.models import CartInput, InvalidInput
from cartloader.values import ValueFormError, format_date, format_datetime

# Integers are accepted when they fit in 64 bits, signed or unsigned: the range orjson itself reads exactly.
MIN_INT = -(2**63)
MAX_INT = 2**64 - 1
# A trace id is echoed in every log line and request; anything longer is a mistake, not an id.
MAX_TRACE_ID_LENGTH = 512
# Decimals (library callers, or exact re-reads of long JSON numbers) beyond a double's range are refused:
# their plain-decimal form would be thousands of digits long.
_MAX_DECIMAL_EXPONENT = 400
_HUBSPOT_KEYS = frozenset({"properties", "associations", "objectWriteTraceId"})
# A run of 16+ digits (dots included) in a line may be a number that a double cannot hold exactly; so may
# a number with a 3-digit exponent (1e-400 reads as 0.0, 1.5e-320 as a subnormal with fewer digits).
_LONG_NUMBER = re.compile(rb"[0-9][0-9.]{15}|[0-9][eE][+-]?[0-9]{3}")
# The regex costs ~2 us on a typical line; mapping digits and dots to "0" (e/E to "e", signs to "+") and looking
# for sixteen "0" in a row, or a digit before a 3-digit exponent, is ~10x cheaper and finds every line the regex
# can match (a necessary condition), so the regex runs rarely.
_DIGITS_AND_DOTS = bytes(
    0x30 if chr(b) in "0123456789." else 0x65 if chr(b) in "eE" else 0x2B if chr(b) in "+-" else 0x20
    for b in range(256)
)
_SIXTEEN = b"0" * 16
_EXPONENTS = (b"0e000", b"0e+000")


def _has_long_number(line: bytes) -> bool:
    shape = line.translate(_DIGITS_AND_DOTS)
    # bytes.find, not "in" (measurably slower here); "0e" first: both exponent shapes contain it, and it is rare.
    find = shape.find
    if find(_SIXTEEN) < 0 and (find(b"0e") < 0 or (find(_EXPONENTS[0]) < 0 and find(_EXPONENTS[1]) < 0)):
        return False
    return _LONG_NUMBER.search(line) is not None


class _Invalid(Exception):
    """Internal: a property value that makes the record invalid; ``str()`` is the reason."""


def normalize(obj: object, line: int, raw: bytes | None = None) -> CartInput | InvalidInput:
    """Normalize one input object to a ``CartInput``, or explain why it is ``InvalidInput``.

    Follows the contract's input rules: the HubSpot shape (``properties`` plus optional ``associations`` and
    ``objectWriteTraceId``) or a flat object whose keys are all properties; property values become strings
    (see ``format_value``), ``None`` values are omitted. ``raw`` is kept on the result. Never raises.
    """
    result = _normalize(obj, line, raw, None)
    assert result is not None  # only a number check can ask for a re-read
    return result


def normalize_parsed(obj: object, line: int, raw: bytes) -> CartInput | InvalidInput | None:
    """Like ``normalize`` for ``obj`` parsed from the JSON text ``raw`` into floats.

    Returns ``None`` when a float property value comes from a line holding a long number (16+ digits): the
    float may differ from the number written (an integer beyond 64 bits, or more digits than a double
    holds), so the caller must re-read ``raw`` with exact numbers (``Decimal``) and call ``normalize``.
    """
    return _normalize(obj, line, raw, raw)


def _normalize(obj: object, line: int, raw: bytes | None, check: bytes | None) -> CartInput | InvalidInput | None:
    if not isinstance(obj, dict):
        return InvalidInput(line, f"line {line}: expected a JSON object", raw)
    if "properties" not in obj:
        props = _properties(obj, line, raw, check)
        if props is None or isinstance(props, InvalidInput):
            return props
        if type(props) is _WithDatetimes:
            return CartInput(line, dict(props), None, None, raw, datetimes=props.datetimes)
        return CartInput(line, props, None, None, raw)
    return _hubspot_shape(obj, line, raw, check)


class _WithDatetimes(dict[str, str]):
    """Normalized properties some of which were ``datetime`` objects (named in ``datetimes``)."""

    __slots__ = ("datetimes",)

    datetimes: tuple[str, ...]


def _properties(
    obj: dict[Any, Any], line: int, raw: bytes | None, check: bytes | None
) -> dict[str, str] | InvalidInput | None:
    # One pass: string values under non-empty string names (the common case) are taken as they are; the
    # object is copied only at the first value that must change, which is then replaced (None: deleted) in
    # the copy, so the names keep their order.
    props: dict[str, str] | None = None
    datetimes: list[str] | None = None  # made only when a datetime is met: the common path allocates nothing
    try:
        for name, value in obj.items():
            kind = type(value)
            if kind is str and type(name) is str and name:
                continue
            if (type(name) is not str and not isinstance(name, str)) or not name:
                return InvalidInput(line, f"line {line}: property names must be non-empty strings", raw)
            if kind is str:
                continue
            if props is None:
                props = dict(obj)
            # Exact-type checks first: they are the common JSON types and cheaper than format_value's chain.
            if value is None:
                del props[name]
            elif kind is int and MIN_INT <= value <= MAX_INT:
                props[name] = int.__repr__(value)
            elif kind is float:
                if check is not None:
                    if _has_long_number(check):
                        return None
                    check = None  # one search per line is enough
                props[name] = format_float(value)
            else:
                props[name] = format_value(value)
                if isinstance(value, datetime):
                    datetimes = [*(datetimes or ()), name]
    except _Invalid as exc:
        return InvalidInput(line, f"line {line}: property {_quote(name)}: {exc}", raw, properties=_readable(obj))
    if datetimes is not None:
        assert props is not None
        marked = _WithDatetimes(props)
        marked.datetimes = tuple(datetimes)
        return marked
    return dict(obj) if props is None else props


def _readable(obj: dict[Any, Any]) -> dict[str, str]:
    """The values of ``obj`` that normalize (for ``--echo`` on an invalid record)."""
    readable: dict[str, str] = {}
    for name, value in obj.items():
        if type(name) is str and value is not None:
            try:
                readable[name] = format_value(value)
            except _Invalid:
                continue
    return readable


def _hubspot_shape(
    obj: dict[Any, Any], line: int, raw: bytes | None, check: bytes | None
) -> CartInput | InvalidInput | None:
    properties = obj["properties"]
    if not isinstance(properties, dict):
        return InvalidInput(line, f'line {line}: "properties" must be an object', raw)
    for key in obj:
        if key not in _HUBSPOT_KEYS:
            return InvalidInput(
                line,
                f'line {line}: unexpected key {_quote(key)} beside "properties" '
                '(only "associations" and "objectWriteTraceId" may go with it)',
                raw,
            )
    props = _properties(properties, line, raw, check)
    if props is None or isinstance(props, InvalidInput):
        return props
    trace_id = obj.get("objectWriteTraceId")
    if trace_id is not None and (not isinstance(trace_id, str) or not trace_id or len(trace_id) > MAX_TRACE_ID_LENGTH):
        return InvalidInput(
            line, f'line {line}: "objectWriteTraceId" must be a string of 1 to {MAX_TRACE_ID_LENGTH} characters', raw
        )
    associations = obj.get("associations")
    if associations is not None:
        problem = association_problem(associations)
        if problem:
            return InvalidInput(line, f'line {line}: "associations" {problem}', raw)
    if type(props) is _WithDatetimes:
        return CartInput(line, dict(props), associations, trace_id, raw, datetimes=props.datetimes)
    return CartInput(line, props, associations, trace_id, raw)


def format_value(value: object) -> str:
    """The string HubSpot receives for a non-null property value; raises ``_Invalid`` when refused.

    int -> decimal string (64-bit range); float -> shortest round-trip decimal without exponent or
    trailing ``.0`` (``-0.0`` -> ``"0"``); ``Decimal`` -> its exact value in plain notation; bool ->
    ``"true"``/``"false"``; list of strings -> joined with ``";"``; an aware ``datetime`` -> ISO 8601 UTC with
    milliseconds (``2024-04-15T08:38:00.000Z``; a naive one is refused); ``date`` -> ``YYYY-MM-DD``; an ``Enum`` ->
    its value, formatted the same way (``StrEnum`` and ``IntEnum`` members are strings and integers already).
    The checks for these types come after the common ones, so they cost the common path nothing.
    """
    if isinstance(value, str):
        return str.__str__(value)
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        if MIN_INT <= value <= MAX_INT:
            return int.__repr__(value)
        raise _Invalid("integers beyond 64 bits are not allowed")
    if isinstance(value, float):
        return format_float(value)
    if isinstance(value, Decimal):
        return _format_decimal(value)
    if isinstance(value, list):
        if all(isinstance(item, str) for item in value):
            return ";".join(value)
        raise _Invalid("a list may hold only strings")
    if isinstance(value, dict):
        raise _Invalid("nested objects are not allowed")
    if isinstance(value, datetime):
        if value.utcoffset() is None:
            raise _Invalid(
                "a datetime without a time zone (naive) is not allowed: its instant is unknown; attach its zone "
                "(tzinfo), e.g. value.replace(tzinfo=ZoneInfo(...))"
            )
        try:
            return format_datetime(value)
        except (ValueFormError, OverflowError):
            raise _Invalid("a datetime outside the years 1 to 9999 in UTC is not allowed") from None
    if isinstance(value, date):
        return format_date(value)
    if isinstance(value, Enum):
        return format_value(value.value)
    raise _Invalid(f"a value of type {type(value).__name__} is not allowed")


def format_float(value: float) -> str:
    """Shortest round-trip decimal of a finite float, in plain notation: ``1e21`` -> ``"1000000000000000000000"``.

    Works on ``repr()``'s digits with string operations only, so no digit ever changes.
    """
    text = float.__repr__(value)
    if "e" not in text:
        if text.endswith(".0"):
            text = text[:-2]
            return "0" if text == "-0" else text
        if text in ("nan", "inf", "-inf"):
            raise _Invalid("NaN is not allowed" if text == "nan" else "Infinity is not allowed")
        return text
    mantissa, _, exponent = text.partition("e")
    sign = ""
    if mantissa[0] == "-":
        sign, mantissa = "-", mantissa[1:]
    whole, _, fraction = mantissa.partition(".")
    digits = whole + fraction
    point = len(whole) + int(exponent)
    if point <= 0:
        return f"{sign}0.{'0' * -point}{digits}"
    if point >= len(digits):
        return f"{sign}{digits}{'0' * (point - len(digits))}"
    return f"{sign}{digits[:point]}.{digits[point:]}"


def _format_decimal(value: Decimal) -> str:
    if not value.is_finite():
        raise _Invalid("NaN is not allowed" if value.is_nan() else "Infinity is not allowed")
    if value and abs(value.adjusted()) > _MAX_DECIMAL_EXPONENT:
        raise _Invalid(f"a number beyond 1e{_MAX_DECIMAL_EXPONENT} in size or precision is not allowed")
    text = format(value, "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return "0" if text == "-0" else text


def _quote(name: object) -> str:
    """A property name as JSON, shortened, so a message stays one readable line."""
    text = name if isinstance(name, str) else repr(name)
    if len(text) > 80:
        text = text[:77] + "..."
    return orjson.dumps(text).decode()


async def normalized(
    source: Iterable[object] | AsyncIterable[object],
    *,
    skip: Callable[[int], bool] | None = None,
    pending: Callable[[int], bool] | None = None,
) -> AsyncIterator[CartInput | InvalidInput]:
    """Normalize the objects of an iterable or async iterable, numbered 1, 2, ... by position.

    Resuming a library outcome log: a position for which ``skip`` is true is passed over unread, and a record
    for which ``pending`` is true is marked ``was_pending`` (it may exist in HubSpot already).
    """
    line = 0
    if isinstance(source, AsyncIterable):
        async for obj in source:
            line += 1
            if skip is None or not skip(line):
                yield _mark(normalize(obj, line), pending)
    elif skip is None and pending is None:  # a fresh run: nothing to skip or mark, one call less per record
        for line, obj in enumerate(source, 1):
            yield normalize(obj, line)
    else:
        for obj in source:
            line += 1
            if skip is None or not skip(line):
                yield _mark(normalize(obj, line), pending)


def _mark(item: CartInput | InvalidInput, pending: Callable[[int], bool] | None) -> CartInput | InvalidInput:
    if pending is not None and isinstance(item, CartInput) and pending(item.line):
        item.was_pending = True
    return item
