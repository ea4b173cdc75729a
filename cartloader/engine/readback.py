"""A conflict after an ambiguous attempt, settled by reading back (issue 24 part 6; design rule 4).

A record whose earlier request may have been processed (a timeout or reset after writing, a 500/502/504, a
malformed 2xx) is resent; when the resend is refused with a 409 naming the object that holds its unique value,
that object may well be the record's own, written by the earlier attempt. It is read back (a batch read by
object id, or by the unique property when no id is named, through the run's rate budget, counted in
``requests``) and adopted, the record ``created`` (``updated`` in upsert mode) with its id, only when all hold:

- it holds every value the record sent, in stored form (:func:`~cartloader.engine.matching.compatibility`, by the
  property types the preflight read; any level but ``NONE``);
- it was created within the record's attempt window on HubSpot's clock (local clock + the offset from the latest
  ``Date`` header, :class:`~cartloader.hubspot.clock.HubSpotClock`): from ``MARGIN_S`` before its first request
  of this run to ``MARGIN_S`` after the answer of its last (no answer: its last send plus the request timeout).
  An object made before the run by someone else is never taken;
- no other line of this run carries the unique value it conflicts on, as far as :class:`SeenValues` can tell;
- no other record of this run was given that object.

Anything less (or no read scope: a 403, one warning) leaves the record ``failed`` ``CONFLICT``, flagged
``duplicate_risk``, with ``existing_id``: never a fatal stop. A record whose only ambiguous attempt was in an
earlier run (resumed from ``pending``) is not read back: that attempt's window is not known to this run.

What "no other line" checks: the unique properties known when the run delivers its first batch (the preflight's,
and the upsert key) are tracked for every record the run delivers, noted before its first request. A line that
could have made the object was delivered, so noted, before the object existed; a line delivered later with the
same value finds the adopted record's note when its own conflict is decided. Lines not read yet are not known,
but neither were they sent: they cannot have made the object. A property not tracked (the preflight off and no
upsert key, or one the preflight does not mark unique) cannot be checked: no read, no adoption. Lines of other
runs (an earlier run resumed, other loads) are not known; the window keeps out objects made before this run.
"""

from __future__ import annotations

import hashlib
import logging
import random
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from cartloader.config import LoaderConfig
from cartloader.engine.calls import Requester, call
from cartloader.engine.matching import Kinds, compatibility
from cartloader.engine.stats import RunStats
from cartloader.hubspot.failures import Action
from cartloader.hubspot.protocol import Endpoint
from cartloader.hubspot.reads import MAX_READ_INPUTS, ReadObject, parse_read, read_body, read_url
from cartloader.models import CartInput
from cartloader.values import Agreement, absent

logger = logging.getLogger("cartloader")

#: Seconds of slack at each end of an attempt window (clock estimates, HubSpot's processing time).
MARGIN_S = 5.0


class Attempts:
    """When a record's requests of this run left and were answered, on HubSpot's clock (epoch seconds), and
    whether one of them may have been processed without saying so (``ambiguous``)."""

    __slots__ = ("ambiguous", "first_sent", "last_answer", "last_sent")

    def __init__(self) -> None:
        self.first_sent: float | None = None
        self.last_sent: float | None = None
        self.last_answer: float | None = None
        self.ambiguous = False

    def sent(self, at: float) -> None:
        """A request carrying the record left at ``at``."""
        if self.first_sent is None:
            self.first_sent = at
        self.last_sent = at
        self.last_answer = None

    def answered(self, at: float) -> None:
        """The last request's answer came at ``at``."""
        self.last_answer = at

    def __repr__(self) -> str:
        return (
            f"Attempts(first_sent={self.first_sent}, last_sent={self.last_sent}, last_answer={self.last_answer}, "
            f"ambiguous={self.ambiguous})"
        )


def attempt_window(
    first_sent: float, last_sent: float, last_answer: float | None, timeout_s: float
) -> tuple[float, float]:
    """The times (epoch seconds) between which an object a record's attempts made was created: ``MARGIN_S``
    before its first send to ``MARGIN_S`` after its last answer (no answer: its last send plus the timeout)."""
    end = last_answer if last_answer is not None else last_sent + timeout_s
    return first_sent - MARGIN_S, end + MARGIN_S


class SeenValues:
    """The unique values of the lines a run delivered, in fixed memory: two Bloom filters of ``BITS`` bits each
    (values noted once, values noted again). ``repeated`` may say True of a value no other line carries (a false
    positive: the conflict stays failed), never False of one another noted line carries. Values compare trimmed
    and case-folded (coarser than HubSpot may be, so safe)."""

    BITS = 1 << 23
    HASHES = 4
    __slots__ = ("_once", "_twice", "names")

    def __init__(self, names: Iterable[str]) -> None:
        self.names = frozenset(names)
        size = self.BITS // 8 if self.names else 0
        self._once = bytearray(size)
        self._twice = bytearray(size)

    @classmethod
    def _positions(cls, name: str, value: str) -> list[int]:
        text = f"{name}\0{value.strip().casefold()}".encode()
        digest = hashlib.blake2b(text, digest_size=4 * cls.HASHES).digest()
        return [int.from_bytes(digest[4 * i : 4 * i + 4], "little") % cls.BITS for i in range(cls.HASHES)]

    @staticmethod
    def _has(bits: bytearray, positions: list[int]) -> bool:
        return all(bits[p >> 3] & (1 << (p & 7)) for p in positions)

    @staticmethod
    def _add(bits: bytearray, positions: list[int]) -> None:
        for p in positions:
            bits[p >> 3] |= 1 << (p & 7)

    def note(self, record: CartInput) -> None:
        """Count the line of ``record`` (once per line, before its first request)."""
        properties = record.properties
        for name in self.names:
            value = properties.get(name)
            if value is None or absent(value):
                continue
            positions = self._positions(name, value)
            self._add(self._twice if self._has(self._once, positions) else self._once, positions)

    def repeated(self, name: str, value: str) -> bool | None:
        """Whether a line besides the one noted with ``value`` may carry it (None: ``name`` is not tracked)."""
        if name not in self.names:
            return None
        return self._has(self._twice, self._positions(name, value))


@dataclass(slots=True)
class Conflict:
    """A record refused with a 409 on a resend: the object HubSpot names (``existing``), the unique properties
    it names (``properties``; none named: every tracked one the record carries), and the record's attempts."""

    record: CartInput
    attempts: Attempts
    existing: str | None
    properties: tuple[str, ...] = ()


class Readback:
    """Reads back the objects conflicts name and decides which ones are the records' own (see the module)."""

    def __init__(self, requester: Requester, config: LoaderConfig, stats: RunStats, rng: random.Random) -> None:
        self._requester = requester
        self._config = config
        self._stats = stats
        self._rng = rng
        endpoint = Endpoint(config.base_url, config.api_path, config.object_type, config.api_version)
        self._url = read_url(endpoint.create_url)
        self._seen: SeenValues | None = None
        self._no_scope = False
        self._adopted: set[str] = set()
        #: The portal's unique properties (the preflight sets them before the first batch).
        self.unique: tuple[str, ...] = ()

    def note(self, records: Sequence[CartInput]) -> None:
        """Note the lines of a batch before its first request (the tracked properties are fixed by the first)."""
        seen = self._seen
        if seen is None:
            upsert_by = self._config.upsert_by
            seen = self._seen = SeenValues({*self.unique, *((upsert_by,) if upsert_by else ())})
        if seen.names:
            for record in records:
                seen.note(record)

    def checkable(self, conflict: Conflict) -> bool:
        """Whether ``conflict`` may be settled by reading back: an ambiguous attempt in this run, an object to
        read (by id, or by the one unique property named), each unique value it conflicts on carried by no
        other line of the run, and the read scope not found missing."""
        attempts, record, seen = conflict.attempts, conflict.record, self._seen
        if self._no_scope or not attempts.ambiguous or attempts.first_sent is None or seen is None:
            return False
        names = conflict.properties or tuple(sorted(n for n in seen.names if record.properties.get(n)))
        if not names or (conflict.existing is None and len(names) != 1):
            return False
        for name in names:
            value = record.properties.get(name)
            if value is None or absent(value) or seen.repeated(name, value) is not False:
                return False
        conflict.properties = names
        return True

    async def settle(self, conflicts: Sequence[Conflict], kinds: Kinds) -> list[ReadObject | None]:
        """For each conflict (each one ``checkable``), the object to adopt as the record's own, or None (the
        record fails ``CONFLICT``)."""
        names = sorted({name for conflict in conflicts for name in conflict.record.properties})
        found: dict[tuple[str | None, str], ReadObject] = {}
        ids = sorted({conflict.existing for conflict in conflicts if conflict.existing is not None})
        for start in range(0, len(ids), MAX_READ_INPUTS):
            for obj in await self._read(ids[start : start + MAX_READ_INPUTS], names, None):
                found[(None, obj.id)] = obj
        values: dict[str, set[str]] = {}
        for conflict in conflicts:
            name, value = self._key(conflict)
            if name is not None:
                values.setdefault(name, set()).add(value)
        for name, wanted in sorted(values.items()):
            # One read per MAX_READ_INPUTS values (a batch refused whole reads its inputs in one request, not one
            # each); an object is found again by its value as stored (trimmed; a lone value: whatever it echoes).
            ordered = sorted(wanted)
            for start in range(0, len(ordered), MAX_READ_INPUTS):
                chunk = ordered[start : start + MAX_READ_INPUTS]
                by_value = {value.strip(): value for value in chunk}
                for obj in [] if self._no_scope else await self._read(chunk, names, name):
                    echoed = obj.properties.get(name)
                    sent = chunk[0] if len(chunk) == 1 else by_value.get(str(echoed).strip()) if echoed else None
                    if sent is not None:
                        found[(name, sent)] = obj
        adopted: list[ReadObject | None] = []
        for conflict in conflicts:
            held = found.get(self._key(conflict))
            if held is not None and self._owns(conflict, held, kinds):
                self._adopted.add(held.id)
                adopted.append(held)
            else:
                adopted.append(None)
        return adopted

    async def reclaim(self, conflicts: Sequence[Conflict], kinds: Kinds) -> list[ReadObject | None]:
        """For each conflict, the object to adopt (:meth:`settle`) where it is ``checkable``, else None: the inputs
        a whole-batch 409 did not name, read back before they are resent."""
        checks = [conflict for conflict in conflicts if self.checkable(conflict)]
        owned = dict(zip(map(id, checks), await self.settle(checks, kinds) if checks else [], strict=True))
        return [owned.get(id(conflict)) for conflict in conflicts]

    @staticmethod
    def _key(conflict: Conflict) -> tuple[str | None, str]:
        """What the object is read by: (None, its id), else (the unique property, the record's value)."""
        if conflict.existing is not None:
            return None, conflict.existing
        (name,) = conflict.properties
        return name, conflict.record.properties[name]

    def _owns(self, conflict: Conflict, obj: ReadObject, kinds: Kinds) -> bool:
        """Whether ``obj`` is the record's own: its values, created within its attempt window, not given yet."""
        attempts = conflict.attempts
        if obj.id in self._adopted or obj.created_ms is None:
            return False
        assert attempts.first_sent is not None and attempts.last_sent is not None
        start, end = attempt_window(
            attempts.first_sent, attempts.last_sent, attempts.last_answer, self._config.timeout_s
        )
        if not start <= obj.created_ms / 1000 <= end:
            return False
        return compatibility(conflict.record, obj.properties, kinds) is not Agreement.NONE

    async def _read(self, ids: list[str], names: list[str], id_property: str | None) -> list[ReadObject]:
        """One batch read (resent only after answers that ask for it); a 403: one warning, nothing read."""
        exchange = await call(
            self._requester,
            "POST",
            self._url,
            read_body(ids, names, id_property),
            stats=self._stats,
            config=self._config,
            rng=self._rng,
        )
        if exchange.rule.action is Action.ACCEPT:
            return parse_read(exchange.body)
        answer = exchange.answer
        if answer is not None and answer.status == 403 and not self._no_scope:
            self._no_scope = True
            scopes = answer.context_values("requiredGranularScopes")
            scope = ", ".join(scopes) if scopes else f"crm.objects.{self._config.object_type}.read"
            logger.warning(
                "cannot read back the objects conflicts name (%s: the token lacks the scope %s); records refused as "
                "conflicts after an ambiguous attempt stay failed CONFLICT, flagged duplicate_risk",
                exchange.describe(),
                scope,
            )
        return []
