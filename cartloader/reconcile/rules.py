"""Deciding, for one identifying value, which objects are provably surplus copies (the rules of docs/duplicates.md):

(a) the object's value equals the value exactly (search may ignore case); (b) it holds the record's other values in
stored form (``cartloader.values``; the identifying property is rule (a)'s alone: one job per rule); (c) it was
created within the record's attempt window (from the ``sent_at`` of its ``pending`` lines and the ``answered_at`` of
its final lines: ``windows``); (d) no line of the log (or of a sibling shard's) names it; (e) more objects qualify
than the input has lines carrying the value that are ``created``, flagged or ``pending``: only the surplus goes, the
objects the log names stay; (f) an object the log names that search does not show means the index is behind: the
value is not checkable now. Pure: no I/O.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

from cartloader.reconcile.client import Found
from cartloader.values import Agreement, agreement

#: HubSpot's clock may differ from the loader's estimate, and an object's ``createdAt`` is stamped while the
#: request is processed: the attempt window is widened by this much on each side (issue 24's definition).
MARGIN_S = 5.0

Window = tuple[float, float]
PropertyTypes = Mapping[str, tuple[str, bool]]


@dataclass(slots=True)
class LineFacts:
    """One input line carrying the value: its last log entry and, for a checked line, what it sent and when."""

    line: int
    status: str
    flagged: bool
    id: str | None
    checked: bool
    #: ``failed`` ``AMBIGUOUS`` (``--no-retry-ambiguous``): never resent, so its cart may exist once.
    ambiguous: bool = False
    properties: dict[str, str] | None = None
    #: The attempt windows of a checked line (``windows``); None when a pending line lacks ``sent_at``.
    windows: list[Window] | None = None

    @property
    def counts(self) -> bool:
        """Whether the line expects an object (rule e): ``created``/``updated``, flagged, ``pending``, or ``failed``
        ``AMBIGUOUS``."""
        return self.status in ("created", "updated", "pending") or self.flagged or self.ambiguous


@dataclass(slots=True)
class Decision:
    """What to do for one value."""

    value: str
    archive: list[str] = field(default_factory=list)
    settle: list[tuple[int, str]] = field(default_factory=list)  # id-less lines: created with that id
    unflag: list[tuple[int, str]] = field(default_factory=list)  # flagged lines with an id: the flag goes
    kept: dict[str, int] = field(default_factory=dict)  # the objects kept for the value's lines: id -> line
    lagging: bool = False
    unchecked: list[int] = field(default_factory=list)  # checked lines without sent_at


def windows(times: Sequence[tuple[bool, float | None]], span_s: float) -> list[Window] | None:
    """The attempt windows of a line, from its times in log order (``logindex.attempt_times``): one per ``pending``
    entry (one per run that sent the record), from its ``sent_at - MARGIN_S`` to, ``+ MARGIN_S``:

    - the ``answered_at`` of the final entry that settled that run's attempts (written once the last answer came,
      or the last attempt timed out: no attempt of that run is later);
    - else (the run stopped without settling the record, or a log written before ``answered_at`` existed)
      ``sent_at + span_s`` (``attempt_span_s``: an estimate, see docs/duplicates.md), but never past the
      ``sent_at`` of the record's next ``pending`` entry (that later run started after this one had ended).

    None if a ``pending`` entry has no ``sent_at`` (a log written before it existed): not checkable."""
    sent = [at for answered, at in times if not answered]
    if not sent or any(at is None for at in sent):
        return None
    found: list[Window] = []
    start: float | None = None
    for answered, at in times:
        if at is None:
            continue  # an answered_at that does not parse: as if absent
        if not answered:
            if start is not None:
                found.append((start - MARGIN_S, min(start + span_s, at) + MARGIN_S))
            start = at
        elif start is not None:
            found.append((start - MARGIN_S, at + MARGIN_S))
            start = None
    if start is not None:
        found.append((start - MARGIN_S, start + span_s + MARGIN_S))
    return found


def holds(obj: Found, sent: Mapping[str, str], types: PropertyTypes, key: str) -> bool:
    """Rule (b): every value the record sent, but the identifying ``key`` (rule (a)), agrees with the object's in
    stored form."""
    for name, value in sent.items():
        if name == key:
            continue
        kind, multi = types.get(name, (None, False))
        if agreement(value, obj.properties.get(name), kind, multi_select=multi) is Agreement.NONE:
            return False
    return True


def _qualifies(obj: Found, line: LineFacts, types: PropertyTypes, key: str) -> bool:
    if line.properties is None or line.windows is None or obj.created_s is None:
        return False
    created = obj.created_s
    in_window = any(start <= created <= end for start, end in line.windows)  # rule (c)
    return in_window and holds(obj, line.properties, types, key)


def decide(
    value: str,
    key: str,
    found: Sequence[Found],
    lines: Sequence[LineFacts],
    named: Callable[[str], bool],
    types: PropertyTypes,
) -> Decision:
    """The decision for ``value`` (see the module's rules)."""
    decision = Decision(value)
    exact = [obj for obj in found if (obj.properties.get(key) or "").strip() == value]  # rule (a)
    exact_ids = {obj.id for obj in exact}
    expecting = [line for line in lines if line.counts]
    checked = [line for line in lines if line.checked]
    decision.unchecked = [line.line for line in checked if line.windows is None]
    if decision.unchecked:
        return decision
    owned = {line.id: line.line for line in expecting if line.id is not None}
    if any(object_id not in exact_ids for object_id in owned):  # rule (f)
        decision.lagging = True
        return decision
    decision.kept.update(owned)
    candidates = [
        obj
        for obj in exact
        if not named(obj.id) and obj.id not in owned and any(_qualifies(obj, line, types, key) for line in checked)
    ]  # rules (b), (c), (d)
    idless = [line for line in expecting if line.id is None]
    matched = _match(idless, candidates, types, key)
    surplus = len(owned) + len(candidates) - len(expecting)  # rule (e)
    spare = sorted(
        (obj for obj in candidates if obj.id not in matched.values()),
        key=lambda obj: (obj.created_s or 0.0, int(obj.id) if obj.id.isdigit() else 0),
        reverse=True,
    )
    decision.archive = [obj.id for obj in spare[: max(0, surplus)]]
    if len(matched) == len(idless) and len(spare) <= max(0, surplus):
        # every expecting line has exactly its object left: settle the id-less ones, unflag the others
        decision.settle = sorted(matched.items())
        decision.kept.update({object_id: line for line, object_id in matched.items()})
        decision.unflag = [(line.line, line.id) for line in expecting if line.flagged and line.id is not None]
    return decision


def _match(lines: Sequence[LineFacts], candidates: Sequence[Found], types: PropertyTypes, key: str) -> dict[int, str]:
    """A largest one-to-one pairing of id-less lines with candidates that qualify for them (earliest first)."""
    ordered = sorted(candidates, key=lambda obj: (obj.created_s or 0.0, obj.id))
    options = {line.line: [obj.id for obj in ordered if _qualifies(obj, line, types, key)] for line in lines}
    owner: dict[str, int] = {}

    def place(line: int, seen: set[str]) -> bool:
        for object_id in options[line]:
            if object_id in seen:
                continue
            seen.add(object_id)
            if object_id not in owner or place(owner[object_id], seen):
                owner[object_id] = line
                return True
        return False

    for line in options:
        place(line, set())
    return {line: object_id for object_id, line in owner.items()}
