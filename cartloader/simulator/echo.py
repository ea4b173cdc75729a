"""How the simulator stores, and so echoes, a valid value: HubSpot's stored forms (``cartloader.values``) by default,
with switches that vary them the ways HubSpot's docs leave open.

The default is what the reference says HubSpot writes: numbers canonical, datetimes in ISO 8601 UTC with
milliseconds, dates as ``YYYY-MM-DD`` (or epoch milliseconds, switched), booleans ``true``/``false``, white space
around values removed (assumption: HubSpot does not document trimming strings), multi-select values in the order
sent (assumption: HubSpot may re-order them; ``sorted`` tries that).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from cartloader import values
from cartloader.errors import ConfigError
from cartloader.simulator.schema import PropertyDefinition

DatetimeEcho = Literal["iso", "as-sent"]
DateEcho = Literal["iso", "epoch-ms", "as-sent"]
WhitespaceEcho = Literal["trim", "keep"]
MultiSelectEcho = Literal["as-sent", "sorted"]
DATETIME_ECHOES: tuple[DatetimeEcho, ...] = ("iso", "as-sent")
DATE_ECHOES: tuple[DateEcho, ...] = ("iso", "epoch-ms", "as-sent")
WHITESPACE_ECHOES: tuple[WhitespaceEcho, ...] = ("trim", "keep")
MULTI_SELECT_ECHOES: tuple[MultiSelectEcho, ...] = ("as-sent", "sorted")


@dataclass(frozen=True, slots=True)
class EchoForms:
    """The form each type of value is stored and echoed in.

    ``datetimes``: ``iso`` (ISO 8601 UTC with milliseconds) or ``as-sent``; ``dates``: ``iso`` (``YYYY-MM-DD``),
    ``epoch-ms`` or ``as-sent``; ``whitespace``: ``trim`` (also: a value of only white space clears the property,
    as ``""`` does) or ``keep`` (values as sent); ``multi_select``: ``as-sent`` (order sent, each option once) or
    ``sorted``; ``numbers``: canonical (True) or as sent.
    """

    datetimes: DatetimeEcho = "iso"
    dates: DateEcho = "iso"
    whitespace: WhitespaceEcho = "trim"
    multi_select: MultiSelectEcho = "as-sent"
    numbers: bool = True

    def __post_init__(self) -> None:
        for name, value, allowed in (
            ("echo_datetimes", self.datetimes, DATETIME_ECHOES),
            ("echo_dates", self.dates, DATE_ECHOES),
            ("echo_whitespace", self.whitespace, WHITESPACE_ECHOES),
            ("echo_multi_select", self.multi_select, MULTI_SELECT_ECHOES),
        ):
            if value not in allowed:
                raise ConfigError(f"{name} {value!r}: expected {' or '.join(allowed)}")

    @property
    def trim(self) -> bool:
        """Whether white space around values goes (and a value of only white space clears its property)."""
        return self.whitespace == "trim"

    def stored(self, definition: PropertyDefinition, text: str, number: str | None = None) -> str:
        """What is stored for ``text``, a non-empty value already found valid for ``definition``; ``number`` is
        the canonical form of a number property's value."""
        kind = definition.type
        if kind == "number" and number is not None and self.numbers:
            return number
        if kind == "datetime" and self.datetimes == "iso":
            return values.echo_form(text, "datetime") or ""
        if kind == "date" and self.dates != "as-sent":
            return values.echo_form(text, "date", dates=self.dates) or ""
        if kind == "enumeration" and definition.multi_select and self.multi_select == "sorted":
            return ";".join(sorted(values.parse_multi_select(text)))
        if not self.trim:
            return text
        if kind == "enumeration" and definition.multi_select:
            return values.echo_form(text, "enumeration", multi_select=True) or ""
        return text.strip()
