"""What the run learnt about association targets named by a property: the object each value names (an LRU of
``size`` values) and the values that named none (remembered ``miss_ttl_s``, then asked again). Bounded whatever the
number of records."""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable

Slot = tuple[str, str, str]  # (object type, property, compared value)
#: Values remembered at most (found and missing each).
DEFAULT_CACHE_SIZE = 100_000
#: How long a value that named no object is remembered (it may be created meanwhile).
DEFAULT_MISS_TTL_S = 300.0
MISSING = ""  # what ``get`` answers for a remembered miss


class LookupCache:
    """Resolved values (``put``), misses (``miss``), and eviction of an id HubSpot said is gone (``evict_id``)."""

    __slots__ = ("_clock", "_found", "_ids", "_misses", "_size", "_ttl_s", "hits")

    def __init__(
        self,
        size: int = DEFAULT_CACHE_SIZE,
        miss_ttl_s: float = DEFAULT_MISS_TTL_S,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._size = size
        self._ttl_s = miss_ttl_s
        self._clock = clock
        self._found: OrderedDict[Slot, str] = OrderedDict()
        self._ids: dict[str, Slot] = {}  # id -> the slot that resolved to it, for eviction
        self._misses: OrderedDict[Slot, float] = OrderedDict()
        self.hits = 0  # values answered from the cache

    def get(self, slot: Slot) -> str | None:
        """The id ``slot`` names, ``MISSING`` for a remembered miss, None when unknown."""
        found = self._found.get(slot)
        if found is not None:
            self._found.move_to_end(slot)
            self.hits += 1
            return found
        expires = self._misses.get(slot)
        if expires is not None:
            if expires > self._clock():
                self.hits += 1
                return MISSING
            del self._misses[slot]
        return None

    def put(self, slot: Slot, object_id: str) -> None:
        """Remember that ``slot`` names ``object_id``."""
        self._misses.pop(slot, None)
        self._found[slot] = object_id
        self._found.move_to_end(slot)
        self._ids[object_id] = slot
        if len(self._found) > self._size:
            _, old_id = self._found.popitem(last=False)
            self._ids.pop(old_id, None)

    def miss(self, slot: Slot) -> None:
        """Remember for a while that ``slot`` names no object."""
        self._misses[slot] = self._clock() + self._ttl_s
        self._misses.move_to_end(slot)
        if len(self._misses) > self._size:
            self._misses.popitem(last=False)

    def evict_id(self, object_id: str) -> Slot | None:
        """Forget the value that resolved to ``object_id``: HubSpot said that object is gone. The slot it was
        cached under, or None when this cache did not resolve it."""
        slot = self._ids.pop(object_id, None)
        if slot is not None:
            self._found.pop(slot, None)
        return slot

    def __len__(self) -> int:
        return len(self._found) + len(self._misses)

    def __repr__(self) -> str:
        return f"LookupCache(found={len(self._found)}, misses={len(self._misses)}, hits={self.hits})"
