"""The simulator's handlers for finding and removing objects: search (``.../objects/{objectType}/search``) and
batch archive (``.../objects/{objectType}/batch/archive``), on the v3 and date-versioned paths alike."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol

import orjson
from aiohttp import web

from cartloader.simulator import bodies
from cartloader.simulator.archive import archive, archive_ids
from cartloader.simulator.config import READ_SCOPE, WRITE_SCOPE, SimulatorConfig
from cartloader.simulator.search import SearchLimiter, SearchRefused, rate_limited_body, search
from cartloader.simulator.state import ObjectStore, StatsRecorder, StoredObject
from cartloader.simulator.validation import MalformedRequest

OBJECT_TYPES = frozenset({"carts", "0-142"})
_JSON_TYPE = "application/json;charset=utf-8"


class Hub(Protocol):
    """What the handlers use of ``SimulatedHubSpot``."""

    config: SimulatorConfig
    tokens: dict[str, frozenset[str]]
    stats: StatsRecorder
    store: ObjectStore

    def _authenticate(self, request: web.Request) -> tuple[str | None, web.Response | None]: ...

    def _admit(self, request: web.Request, scopes: tuple[str, ...]) -> tuple[dict[str, str], web.Response | None]: ...


def _json(status: int, body: Any, headers: Mapping[str, str] | None = None) -> web.Response:
    all_headers = {"Content-Type": _JSON_TYPE, **(headers or {})}
    return web.Response(status=status, body=orjson.dumps(body), headers=all_headers)


class Finder:
    """Search and batch archive for one ``SimulatedHubSpot``; ``archived`` holds what was archived (by id)."""

    def __init__(self, hub: Hub) -> None:
        self._hub = hub
        self.limiter = SearchLimiter(hub.config.search_rate)
        self.index_delay_s = hub.config.search_index_delay_ms / 1000
        self.archived: dict[str, StoredObject] = {}

    async def search(self, request: web.Request, request_no: int) -> web.Response:
        """``POST .../search``: exempt from the ten-secondly window, limited per token per second instead; its
        answers carry no rate-limit headers."""
        hub = self._hub
        token, refusal = hub._authenticate(request)
        if token is None:
            assert refusal is not None
            return refusal
        if not self.limiter.admit(token):
            hub.stats.rate_limited["SECONDLY"] = hub.stats.rate_limited.get("SECONDLY", 0) + 1
            return _json(429, rate_limited_body())
        if READ_SCOPE not in hub.tokens[token]:
            return _json(403, bodies.missing_scopes(READ_SCOPE))
        object_type = request.match_info["object_type"]
        if object_type not in OBJECT_TYPES:
            return _json(404, bodies.unknown_object_type(object_type))
        try:
            body = orjson.loads(await request.read())
            answer = search(hub.store.objects.values(), body, index_delay_s=self.index_delay_s)
        except orjson.JSONDecodeError as exc:
            return _json(400, bodies.bad_request(f"Invalid input JSON on line 1: {exc}"))
        except SearchRefused as exc:
            return _json(400, bodies.bad_request(exc.message))
        return _json(200, answer)

    async def archive(self, request: web.Request, request_no: int) -> web.Response:
        """``POST .../batch/archive``: 204, counted in the ten-secondly window like other batch requests."""
        hub = self._hub
        headers, refusal = hub._admit(request, (WRITE_SCOPE,))
        if refusal is not None:
            return refusal
        object_type = request.match_info["object_type"]
        if object_type not in OBJECT_TYPES:
            return _json(404, bodies.unknown_object_type(object_type), headers)
        try:
            ids = archive_ids(orjson.loads(await request.read()))
        except orjson.JSONDecodeError as exc:
            return _json(400, bodies.bad_request(f"Invalid input JSON on line 1: {exc}"), headers)
        except MalformedRequest as exc:
            return _json(400, bodies.bad_request(exc.message), headers)
        archive(hub.store, ids, self.archived)
        return web.Response(status=204, headers=headers)
