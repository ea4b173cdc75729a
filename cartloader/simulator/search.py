"""The CRM search API of the simulated HubSpot: ``POST .../objects/{objectType}/search``.

What it models (docs/simulator.md, "Search and batch archive", says where each comes from):
- ``filterGroups`` (at most 5, at most 25 filters in all) of ``EQ`` and ``IN`` filters; a group matches when all
  its filters do, the request when any group does; ``IN`` takes at most 100 values (an assumption);
- ``properties`` to return (else ``hs_createdate``, ``hs_lastmodifieddate``, ``hs_object_id``), ``limit`` (default
  10, at most 200), ``after`` paging, at most 10,000 results per query (paging beyond: 400);
- string comparison ignoring case (an assumption: HubSpot's search may ignore case);
- an index delay: an object is found only ``index_delay_s`` after it was created (eventual consistency);
- its own per-token limit of ``rate`` requests per rolling second, answered 429 with no rate-limit headers; it
  takes no place in the ten-secondly window.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from cartloader.simulator.state import StoredObject

MAX_GROUPS = 5
MAX_FILTERS = 25
MAX_IN_VALUES = 100  # assumption: HubSpot documents no cap here
MAX_LIMIT = 200
MAX_RESULTS = 10_000
DEFAULT_LIMIT = 10
DEFAULT_PROPERTIES = ("hs_createdate", "hs_lastmodifieddate", "hs_object_id")


class SearchRefused(Exception):
    """A search request HubSpot would refuse with 400 ``VALIDATION_ERROR``."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class SearchLimiter:
    """At most ``rate`` searches per token in any rolling second; ``None``: unlimited."""

    __slots__ = ("_recent", "rate")

    def __init__(self, rate: float | None) -> None:
        self.rate = rate
        self._recent: dict[str, deque[float]] = {}

    def admit(self, token: str, now: float | None = None) -> bool:
        """Whether a search by ``token`` may run now (a refused one is not counted)."""
        if self.rate is None:
            return True
        now = time.monotonic() if now is None else now
        recent = self._recent.setdefault(token, deque())
        while recent and recent[0] <= now - 1.0:
            recent.popleft()
        if len(recent) >= self.rate:
            return False
        recent.append(now)
        return True


def _filters(body: Mapping[str, Any]) -> list[list[tuple[str, frozenset[str]]]]:
    """The filter groups as lists of (property, accepted values folded to lower case)."""
    groups = body.get("filterGroups") or []
    if not isinstance(groups, list) or len(groups) > MAX_GROUPS:
        raise SearchRefused(f"filterGroups: at most {MAX_GROUPS} groups")
    parsed: list[list[tuple[str, frozenset[str]]]] = []
    total = 0
    for group in groups:
        filters = group.get("filters") if isinstance(group, dict) else None
        if not isinstance(filters, list):
            raise SearchRefused("each filter group needs a list of filters")
        total += len(filters)
        if total > MAX_FILTERS:
            raise SearchRefused(f"at most {MAX_FILTERS} filters in all")
        parsed.append([_filter(item) for item in filters])
    return parsed


def _filter(item: object) -> tuple[str, frozenset[str]]:
    if not isinstance(item, dict) or not isinstance(item.get("propertyName"), str):
        raise SearchRefused("a filter needs a propertyName")
    operator = item.get("operator")
    if operator == "EQ":
        value = item.get("value")
        if not isinstance(value, str | int | float | bool):
            raise SearchRefused("an EQ filter needs a value")
        values: Iterable[object] = (value,)
    elif operator == "IN":
        raw = item.get("values")
        if not isinstance(raw, list) or not raw:
            raise SearchRefused("an IN filter needs a list of values")
        if len(raw) > MAX_IN_VALUES:
            raise SearchRefused(f"an IN filter takes at most {MAX_IN_VALUES} values")
        values = raw
    else:
        raise SearchRefused(f"operator {operator!r} is not served by the simulator (EQ and IN are)")
    return item["propertyName"], frozenset(str(value).strip().lower() for value in values)


def _created_s(obj: StoredObject) -> float:
    return datetime.fromisoformat(obj.created_at).timestamp()


def search(
    objects: Iterable[StoredObject], body: object, *, index_delay_s: float = 0.0, now: float | None = None
) -> dict[str, Any]:
    """The 200 body answering search ``body`` over ``objects``; raises ``SearchRefused``."""
    if not isinstance(body, dict):
        raise SearchRefused("the body must be a JSON object")
    groups = _filters(body)
    limit = body.get("limit", DEFAULT_LIMIT)
    if type(limit) is not int or not 1 <= limit <= MAX_LIMIT:
        raise SearchRefused(f"limit must be between 1 and {MAX_LIMIT}")
    after_text = body.get("after") or "0"
    try:
        after = int(after_text)
    except (TypeError, ValueError):
        raise SearchRefused(f"after {after_text!r} is not a paging token") from None
    if after < 0 or after + limit > MAX_RESULTS:
        raise SearchRefused(f"a query returns at most {MAX_RESULTS} results")
    wanted = body.get("properties") or DEFAULT_PROPERTIES
    if not isinstance(wanted, list | tuple) or not all(isinstance(name, str) for name in wanted):
        raise SearchRefused("properties must be a list of names")
    visible_before = (time.time() if now is None else now) - index_delay_s
    found = [
        obj
        for obj in objects
        if _created_s(obj) <= visible_before and (not groups or any(_matches(obj, group) for group in groups))
    ]
    found.sort(key=lambda obj: int(obj.id))
    page = found[after : after + limit]
    answer: dict[str, Any] = {
        "total": len(found),
        "results": [_result(obj, wanted) for obj in page],
    }
    if after + limit < min(len(found), MAX_RESULTS):
        answer["paging"] = {"next": {"after": str(after + limit)}}
    return answer


def _matches(obj: StoredObject, group: list[tuple[str, frozenset[str]]]) -> bool:
    for name, values in group:
        value = obj.id if name == "hs_object_id" else obj.properties.get(name)
        if value is None or value.strip().lower() not in values:
            return False
    return True


def _result(obj: StoredObject, wanted: Iterable[str]) -> dict[str, Any]:
    names = dict.fromkeys((*DEFAULT_PROPERTIES, *wanted))
    return {
        "id": obj.id,
        "properties": {name: obj.id if name == "hs_object_id" else obj.properties.get(name) for name in names},
        "createdAt": obj.created_at,
        "updatedAt": obj.updated_at,
        "archived": False,
    }


def rate_limited_body() -> dict[str, Any]:
    """The 429 of the search limit (assumption: HubSpot's 429 shape with the policy ``SECONDLY``)."""
    return {
        "status": "error",
        "message": "You have reached your secondly limit.",
        "errorType": "RATE_LIMIT",
        "policyName": "SECONDLY",
    }
