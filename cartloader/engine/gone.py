"""Targets gone between lookup and send: HubSpot refuses a record whose association names an id it no longer
holds (archived or merged since the lookup) with ``INVALID_OBJECT_IDS``. An id the run resolved from a property is
evicted from the lookup cache (the next record naming that value asks again) and the record fails
``ASSOCIATION_TARGET_MISSING`` naming the type and value; ids the record gave itself keep HubSpot's refusal."""

from __future__ import annotations

from collections import OrderedDict

from cartloader.engine.lookup_cache import LookupCache, Slot
from cartloader.hubspot.lookups import ASSOCIATION_TARGET_MISSING
from cartloader.hubspot.targets import invalid_ids
from cartloader.models import CartInput, RecordError

#: Evicted ids remembered, so that every record of the run naming one is told which value it was.
MAX_REMEMBERED = 10_000


class GoneTargets:
    """Called by the delivery with each refusal that has details (``Sender(gone=...)``)."""

    __slots__ = ("_cache", "_evicted")

    def __init__(self, cache: LookupCache) -> None:
        self._cache = cache
        self._evicted: OrderedDict[str, Slot] = OrderedDict()

    def __call__(self, error: RecordError, record: CartInput) -> RecordError:
        """``error``, or the ``ASSOCIATION_TARGET_MISSING`` error when it names an id resolved from a property."""
        named = []
        for object_id in invalid_ids(error.details):
            slot = self._cache.evict_id(object_id) or self._evicted.get(object_id)
            if slot is None:
                continue
            self._evicted[object_id] = slot
            if len(self._evicted) > MAX_REMEMBERED:
                self._evicted.popitem(last=False)
            object_type, id_property, value = slot
            named.append(f'{object_type} with {id_property} "{value}" (id {object_id}) is gone')
        if not named:
            return error
        message = f"{'; '.join(named)}: HubSpot refused the association ({error.message})"
        return RecordError(ASSOCIATION_TARGET_MISSING, message, error.status, error.details)
