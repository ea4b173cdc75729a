"""A batch HubSpot refused whole (a 400, 409 or 413 for the whole request): which inputs fail now and which are
sent again (design rule 3).

The inputs HubSpot names (by trace id, or by the bad value, missing association target or conflicting unique
value they carry) fail at once and the rest are sent again; when it names none, the batch is bisected until each
bad input stands alone, and a lone input fails. No I/O: :class:`~cartloader.engine.delivery.Sender` settles the
failures and sends the parts.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from cartloader.engine.calls import Exchange
from cartloader.hubspot.details import refusal
from cartloader.hubspot.failures import single_input_category
from cartloader.hubspot.refusals import attribute, existing_id
from cartloader.models import CartInput, RecordError


@dataclass(frozen=True, slots=True)
class Split:
    """What becomes of a refused batch's inputs, by their index in the batch: ``failed`` fail now with their
    error (and ``existing``, the object that holds a conflicting unique value, for a 409), ``resend`` are the
    parts sent again, in order."""

    failed: dict[int, RecordError]
    existing: str | None
    resend: list[list[int]]


def split_refused(records: Sequence[CartInput], exchange: Exchange) -> Split:
    """Attribute the whole-batch refusal of ``exchange`` to the inputs of ``records`` it names; failing that,
    bisect (a lone input fails)."""
    answer = exchange.answer
    assert answer is not None
    index_by_key = {record.key: i for i, record in enumerate(records)}
    named: dict[int, RecordError] = {}
    for error in answer.errors:
        for trace_id in error.trace_ids:
            i = index_by_key.get(trace_id)
            if i is not None and i not in named:
                named[i] = refusal(error.category, error.message, answer.status, error.details)
    # A conflict names the object that holds the unique value: the existing_id of the inputs it fails.
    existing = existing_id(answer.message) if answer.status == 409 else None
    if not named:
        why = exchange.record_error()
        named = dict.fromkeys(attribute(answer, records), why)
    if named:
        rest = [i for i in range(len(records)) if i not in named]
        return Split(named, existing, [rest] if rest else [])
    if len(records) == 1:
        return Split({0: exchange.record_error(category=single_input_category(answer.status))}, existing, [])
    middle = len(records) // 2
    return Split({}, existing, [list(range(middle)), list(range(middle, len(records)))])
