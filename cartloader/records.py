"""Producer side: turn input objects into normalized cart inputs, or invalid outcomes.

(Interface fixed; bodies being written.)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(slots=True)
class CartInput:
    """One valid input record, normalized to HubSpot's shape (all property values strings).

    ``trace_id`` is the record's own ``objectWriteTraceId`` when it gave one; ``key`` is the trace id
    actually sent, assigned by the chunker. ``raw`` is the input line verbatim (NDJSON only), kept
    for ``--rejects``.
    """

    line: int
    properties: dict[str, str]
    associations: list[Any] | None = None
    trace_id: str | None = None
    raw: bytes | None = None
    key: str | None = None


@dataclass(slots=True)
class InvalidInput:
    """An input refused locally; ``message`` names the line and the reason (``line 14: ...``)."""

    line: int
    message: str
    raw: bytes | None = None
