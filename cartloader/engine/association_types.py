"""Association types checked before sending: the portal's own list of the types it defines for a pair of object
types (its labels), read through the same rate budget as the batches (counted in ``requests``) and kept for the
loader's life, so that a record whose association type the portal does not define is refused locally
(``invalid``, category ``ASSOCIATION_TYPE_UNKNOWN``, naming the types that exist) and no request is spent on it.

    GET /crm/associations/{v4|2026-03|2026-09}/{from}/{to}/labels   (v3 loads: /crm/v4/associations/{from}/{to}/labels)
    -> {"results": [{"category": "HUBSPOT_DEFINED", "typeId": 586, "label": null}, ...]}

A type counts when its category and id are both listed (HUBSPOT_DEFINED, USER_DEFINED and INTEGRATOR_DEFINED
alike). An item naming its target by a property names the pair (its labels are read when that target type first
appears); an ``{"id"}`` item does not, so it is checked against every pair HubSpot documents for the object type
(carts: contacts, discounts, line items, orders, quotes, tasks, tickets), all read when the first such item comes.
A labels read that is refused (403, 404) or unanswered: one warning, and every type it would have decided is left
to HubSpot; a 401 stops the run like any 401.
"""

from __future__ import annotations

import dataclasses
import logging
import random
from collections.abc import Iterable, Mapping, Sequence

import anyio

from cartloader.config import LoaderConfig
from cartloader.engine.calls import Exchange, Requester, call
from cartloader.engine.stats import RunStats
from cartloader.errors import ConfigError
from cartloader.hubspot.associations import TARGETS_BY_OBJECT_TYPE, Kind, item_kinds, read_labels
from cartloader.hubspot.failures import Action
from cartloader.hubspot.lookups import default_types, natural_target
from cartloader.hubspot.protocol import Endpoint
from cartloader.input.associations import ColumnAssociation
from cartloader.models import CartInput, InvalidInput, PropertyProblem

logger = logging.getLogger("cartloader")

ASSOCIATION_TYPE_UNKNOWN = "ASSOCIATION_TYPE_UNKNOWN"
#: Attempts per labels read: a portal that does not answer costs a few seconds, then HubSpot decides the types.
READ_ATTEMPTS = 3
#: The types a check knows: (category, type id) -> the target types (and labels) that define it.
Known = Mapping[Kind, Sequence[str]]


def shown_kind(kind: Kind) -> str:
    """``HUBSPOT_DEFINED/586``."""
    return f"{kind[0]}/{kind[1]}"


def _existing(known: Known) -> str:
    return "; ".join(f"{shown_kind(kind)} ({', '.join(where)})" for kind, where in sorted(known.items())) or "none"


class PortalTypes:
    """The association types the portal defines, per target type, for one loader: each pair read once (safe to
    ask from many tasks: one read serves them all); None for a pair whose labels could not be read."""

    def __init__(self, requester: Requester, config: LoaderConfig, rng: random.Random) -> None:
        self._requester = requester
        self._config = dataclasses.replace(config, max_attempts=min(config.max_attempts, READ_ATTEMPTS))
        self._endpoint = Endpoint(config.base_url, config.api_path, config.object_type, config.api_version)
        self._object_type = config.object_type
        self._rng = rng
        self._read: dict[str, Known | None] = {}
        self._locks: dict[str, anyio.Lock] = {}
        self._documented: Known | None = None
        self._documented_read = False
        self._warned = False

    async def of_pair(self, to_type: str, stats: RunStats) -> Known | None:
        """The types the portal defines from the object type to ``to_type`` (read now on first use)."""
        if to_type in self._read:
            return self._read[to_type]
        lock = self._locks.setdefault(to_type, anyio.Lock())
        async with lock:
            if to_type not in self._read:
                self._read[to_type] = await self._fetch(to_type, stats)
        return self._read[to_type]

    async def of_documented(self, stats: RunStats) -> Known | None:
        """The types the portal defines to any target type HubSpot documents for the object type (the union); None
        when there are none documented or one pair could not be read (a type could then be that pair's)."""
        if self._documented_read:
            return self._documented
        pairs = sorted(set(TARGETS_BY_OBJECT_TYPE.get(self._object_type, {}).values()))
        async with anyio.create_task_group() as group:
            for to_type in pairs:
                group.start_soon(self.of_pair, to_type, stats)
        known: dict[Kind, list[str]] = {}
        readable = bool(pairs)
        for to_type in pairs:
            found = self._read.get(to_type)
            if found is None:
                readable = False
                continue
            for kind, where in found.items():
                known.setdefault(kind, []).extend(where)
        self._documented = known if readable else None
        self._documented_read = True
        return self._documented

    async def _fetch(self, to_type: str, stats: RunStats) -> Known | None:
        exchange = await call(
            self._requester,
            "GET",
            self._endpoint.labels_url(to_type),
            None,
            stats=stats,
            config=self._config,
            rng=self._rng,
        )
        found = read_labels(exchange.body) if exchange.rule.action is Action.ACCEPT else None
        if found is None:
            self._warn(to_type, exchange)
            return None
        return {kind: [f'{to_type} "{label}"' if label else to_type] for kind, label in found.items()}

    def _warn(self, to_type: str, exchange: Exchange) -> None:
        if self._warned:
            return
        self._warned = True
        answer = exchange.answer
        reason = exchange.describe() + (f": {answer.message}" if answer is not None and answer.message else "")
        logger.warning(
            "cannot read the association types the portal defines from %s to %s (%s): association types are "
            "left to HubSpot",
            self._object_type,
            to_type,
            reason,
        )

    async def check(self, record: CartInput, stats: RunStats) -> InvalidInput | None:
        """``record`` as ``invalid`` (``ASSOCIATION_TYPE_UNKNOWN``) when one of its association types is one the
        portal does not define for the pair, else None (defined, or not known: HubSpot decides)."""
        for position, item in enumerate(record.associations or (), 1):
            if not isinstance(item, dict):
                continue
            target = natural_target(item)
            kinds = item_kinds(item)
            if target is not None and not item.get("types"):
                types = default_types(self._object_type, target.object_type)
                kinds = item_kinds({"types": types}) if types is not None else None  # no default: the resolver's
            if not kinds:
                continue
            if target is not None:
                known, pair = await self.of_pair(target.object_type, stats), f"to {target.object_type}"
            else:
                known, pair = await self.of_documented(stats), "to any object type"
            if known is None:
                continue
            for kind in kinds:
                if kind not in known:
                    return self._refusal(record, position, kind, pair, known)
        return None

    def _refusal(self, record: CartInput, position: int, kind: Kind, pair: str, known: Known) -> InvalidInput:
        why = (
            f"association {position} has type {shown_kind(kind)}, which the portal does not define from "
            f"{self._object_type} {pair}; types that exist: {_existing(known)}"
        )
        problem = PropertyProblem("associations", ASSOCIATION_TYPE_UNKNOWN, why, shown_kind(kind))
        return InvalidInput(
            record.line,
            f"line {record.line}: {why}",
            record.raw,
            ASSOCIATION_TYPE_UNKNOWN,
            (problem,),
            record.properties,
        )

    async def check_columns(self, columns: Iterable[ColumnAssociation], stats: RunStats) -> None:
        """Raise ``ConfigError`` when a column's association type is one the portal does not define for its pair
        (a natural-key column names the pair; an id column is checked against every documented pair)."""
        for column in columns:
            kind: Kind = ("HUBSPOT_DEFINED", column.type_id)
            if column.object_type is not None:
                known, pair = await self.of_pair(column.object_type, stats), f"to {column.object_type}"
            else:
                known, pair = await self.of_documented(stats), "to any object type"
            if known is not None and kind not in known:
                raise ConfigError(
                    f"--associate {column.describe_option()}: the portal does not define the association type "
                    f"{shown_kind(kind)} from {self._object_type} {pair}; types that exist: {_existing(known)}"
                )

    def for_run(self, stats: RunStats) -> RunTypes:
        """The check as one run makes it: its reads counted in ``stats``."""
        return RunTypes(self, stats)


class RunTypes:
    """``PortalTypes.check`` for one run's records (the pipeline's check step)."""

    __slots__ = ("_stats", "_types")

    def __init__(self, types: PortalTypes, stats: RunStats) -> None:
        self._types = types
        self._stats = stats

    async def check(self, record: CartInput) -> InvalidInput | None:
        """See ``PortalTypes.check``."""
        return await self._types.check(record, self._stats)
