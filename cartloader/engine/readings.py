"""What the matcher reads of one answer and its inputs, each value read once (engine/matching.py, design rule 2).

An input's values are split by the property's type into *plain* ones, which agree with an echo only as the same
trimmed text (strings, single enumerations, values of unknown type that are neither numbers nor datetimes: looked
up, never compared), and the others, compared by stored form (a known type) or by shape (type unknown). Readings
are cached per answer by trimmed text, so a value sent or echoed by several records, or a result compared with
several inputs, is parsed once; the layout of a set of property names is worked out once per answer.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import date, timedelta
from functools import lru_cache
from itertools import compress
from operator import itemgetter
from typing import Any

from cartloader.values import (
    DAY_MS,
    PROPERTY_TYPES,
    parse_bool,
    parse_date,
    parse_datetime,
    parse_multi_select,
    parse_number,
)

#: A record's values that an answer shows (blank ones left out), by name in sorted order: (names, trimmed texts).
Sent = tuple[tuple[str, ...], tuple[str, ...]]
#: A property's type and whether it is a multi-select, by property name (from the portal's schema).
Kinds = Mapping[str, tuple[str, bool]]
#: Reads a trimmed text as the stored form of its type (``values.stored_form`` without the blank and error cases).
Parser = Callable[[str], object]
#: One value compared with an echo: (name, trimmed text, its type's parser or None (shape only), its stored form,
#: the text HubSpot echoes for it where it is cheaper to write than the echo is to read (a datetime), else None).
Check = tuple[str, str, Parser | None, object, str | None]
#: How each position of a set of names is read: plain (True), compared (False), by the text (None: type unknown);
#: whether a plain value is of a type this module does not know (it may agree by shape); the parser.
_Layout = tuple[tuple[bool | None, bool, Parser | None], ...]

_Plan = tuple[tuple[str, ...], tuple[bool, ...], list[tuple[int, str, Parser | None]], list[int]]

_PARSERS: dict[str, Parser] = {
    "number": parse_number,
    "datetime": parse_datetime,
    "date": parse_date,
    "bool": parse_bool,
}
_NOTHING: list[int] = []
_UNREAD = object()
#: The characters a number or a datetime (values.parse_number, values.parse_datetime) may start with.
_NUMERIC = frozenset("+-.0123456789")
_EPOCH_DAY = date(1970, 1, 1)


@lru_cache(maxsize=1024)
def getter(names: tuple[str, ...]) -> Callable[[Mapping[str, Any]], tuple[Any, ...]]:
    """The values of ``names`` in a mapping, as a tuple (``KeyError`` when one is missing)."""
    if len(names) > 1:
        return itemgetter(*names)
    return lambda mapping: tuple([mapping[name] for name in names])


def echo_text(value: object) -> str | None:
    """An echoed value as text (HubSpot writes strings; a JSON number or bool is read as its text), None when
    the answer shows nothing usable."""
    if type(value) is str:
        return value
    if value is True or value is False:
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    return None


def lookup(
    by_texts: Mapping[tuple[str, ...], list[int]],
    echoed: Mapping[str, Any],
    names: tuple[str, ...],
    read: Callable[[Mapping[str, Any]], tuple[Any, ...]],
) -> list[int] | None:
    """The inputs of ``by_texts`` whose trimmed texts of ``names`` (read by ``read``, their ``getter``) the result
    shows (an empty list: none), or None when it leaves out one of the names. Most results echo those texts
    verbatim: one lookup then."""
    try:
        raw = read(echoed)
    except KeyError:
        return None  # it leaves out a value these inputs sent
    try:
        found = by_texts.get(raw)
        return found if found is not None else by_texts.get(tuple(map(str.strip, raw)), _NOTHING)
    except TypeError:  # a value that is not text: read as HubSpot writes it (or an unhashable one: none)
        pass
    signature = []
    for name in names:
        text = echo_text(echoed.get(name))
        if text is None:
            return None
        signature.append(text.strip())
    return by_texts.get(tuple(signature), _NOTHING)


class Readings:
    """One answer's readings: per input (on demand) its plain values and its compared ones; stored forms,
    numbers and instants by trimmed text."""

    __slots__ = ("_instants", "_kinds", "_layouts", "_numbers", "_of", "_parsed", "_plans", "sent")

    def __init__(self, kinds: Kinds, sent: Mapping[int, Sent]) -> None:
        self._kinds = kinds
        self.sent = sent
        self._of: dict[int, tuple[Sent, list[Check], list[Check]]] = {}
        self._layouts: dict[tuple[str, ...], _Layout] = {}
        # Names whose types are all known -> plain names, which positions are plain, compared and of unknown types.
        self._plans: dict[tuple[str, ...], _Plan] = {}
        self._parsed: dict[Parser, dict[str, Any]] = {parser: {} for parser in _PARSERS.values()}
        self._numbers = self._parsed[parse_number]
        self._instants = self._parsed[parse_datetime]

    def _layout(self, names: tuple[str, ...]) -> _Layout:
        layout = self._layouts.get(names)
        if layout is None:
            positions: list[tuple[bool | None, bool, Parser | None]] = []
            for name in names:
                found = self._kinds.get(name)
                kind, multi = found if found is not None else (None, False)
                if kind is None:
                    positions.append((None, False, None))
                elif kind == "enumeration" and multi:
                    positions.append((False, False, parse_multi_select))
                elif kind in _PARSERS:
                    positions.append((False, False, _PARSERS[kind]))
                else:  # string, single enumeration, or a type this module does not know: the text
                    positions.append((True, kind not in PROPERTY_TYPES, None))
            layout = self._layouts[names] = tuple(positions)
        return layout

    def of(self, i: int) -> tuple[Sent, list[Check], list[Check]]:
        """Input ``i``'s plain values (names, texts), its values compared by type or shape, and those of its plain
        values of a type this module does not know (they may agree by shape: ``_augment`` compares them)."""
        known = self._of.get(i)
        if known is not None:
            return known
        names, texts = self.sent[i]
        layout = self._layout(names)
        plan = self._plans.get(names)
        if plan is None and None not in (plain for plain, _, _ in layout):  # every type known: one plan per names
            plan = self._plans[names] = (
                tuple(name for name, (plain, _, _) in zip(names, layout, strict=True) if plain),
                tuple(bool(plain) for plain, _, _ in layout),
                [
                    (j, name, parser)
                    for j, (name, (plain, _, parser)) in enumerate(zip(names, layout, strict=True))
                    if not plain
                ],
                [j for j, (plain, unknown, _) in enumerate(layout) if plain and unknown],
            )
        if plan is not None:
            plain_names, mask, compared, unknown = plan
            checks = [self._check(name, texts[j], parser) for j, name, parser in compared]
            loose: list[Check] = [(names[j], texts[j], None, None, None) for j in unknown]
            found = self._of[i] = ((plain_names, tuple(compress(texts, mask))), checks, loose)
            return found
        plain_names_list, plain_texts = [], []
        checks, loose = [], []
        for name, text, (plain, unknown_type, parser) in zip(names, texts, layout, strict=True):
            if plain is None:  # type unknown: plain unless a number or a datetime (each starts so)
                plain = text[0] not in _NUMERIC or (self.number(text) is None and self.instant(text) is None)
            if plain:
                plain_names_list.append(name)
                plain_texts.append(text)
                if unknown_type:
                    loose.append((name, text, None, None, None))
            else:
                checks.append(self._check(name, text, parser))
        found = self._of[i] = ((tuple(plain_names_list), tuple(plain_texts)), checks, loose)
        return found

    def _check(self, name: str, text: str, parser: Parser | None) -> Check:
        if parser is None:
            return (name, text, None, None, None)
        stored = self.parsed(parser, text)
        return (
            name,
            text,
            parser,
            stored,
            _iso_instant(stored) if isinstance(stored, int) and parser is parse_datetime else None,
        )

    def level(self, echoed: Mapping[str, Any], checks: Sequence[Check]) -> int:
        """``matching.compatibility`` over ``checks`` (each trimmed and not blank): their weakest level, as the
        ``Agreement`` it is (0: none)."""
        level = 3  # Agreement.EXACT; TYPED is 2, SHAPE 1
        for name, sent, parser, stored, echo in checks:
            value = echoed.get(name)
            text = value if type(value) is str else echo_text(value)
            if text is None:
                return 0
            text = text.strip()
            if text == sent:
                continue
            if not text:
                return 0
            if text == echo:  # a datetime echoed as HubSpot writes it: the same instant (values.format_instant)
                level = min(level, 2)
                continue
            if stored is not None:  # a value of its type: compared by stored form when the echo is one too
                assert parser is not None
                cache = self._parsed[parser]
                shown = cache.get(text, _UNREAD)
                if shown is _UNREAD:
                    shown = cache[text] = parser(text)
                if shown is not None:
                    if shown != stored:
                        return 0
                    level = min(level, 2)
                    continue
            if not self._same_shape(sent, text):
                return 0
            level = 1
        return level

    def _same_shape(self, sent: str, echoed: str) -> bool:
        """``values.same_shape`` of two trimmed texts."""
        number = self.number(sent)
        if number is not None and number == self.number(echoed):
            return True
        instant = self.instant(sent)
        return instant is not None and instant == self.instant(echoed)

    def parsed(self, parser: Parser, text: str) -> object:
        """``parser(text)``, read once per answer."""
        cache = self._parsed.setdefault(parser, {})
        try:
            return cache[text]
        except KeyError:
            value = cache[text] = parser(text)
            return value

    def number(self, text: str) -> Any:
        """``parse_number(text)``, read once per answer."""
        try:
            return self._numbers[text]
        except KeyError:
            number = self._numbers[text] = parse_number(text)
            return number

    def instant(self, text: str) -> int | None:
        """``parse_datetime(text)``, read once per answer."""
        try:
            instant: int | None = self._instants[text]
        except KeyError:
            instant = self._instants[text] = parse_datetime(text)
        return instant


def _iso_instant(ms: int) -> str:
    """``values.format_instant(ms)`` for an instant between the years 1 and 9999, written without a datetime."""
    day, rest = divmod(ms, DAY_MS)
    seconds, milli = divmod(rest, 1000)
    minutes, second = divmod(seconds, 60)
    hour, minute = divmod(minutes, 60)
    return f"{_day_text(day)}T{hour:02d}:{minute:02d}:{second:02d}.{milli:03d}Z"


@lru_cache(maxsize=4096)
def _day_text(day: int) -> str:
    return (_EPOCH_DAY + timedelta(days=day)).isoformat()


def strip_blank(names: tuple[str, ...], texts: tuple[str, ...]) -> Sent:
    """``names`` and ``texts`` without the blank texts."""
    return tuple(compress(names, texts)), tuple(filter(None, texts))
