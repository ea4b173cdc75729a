"""HubSpot for reconcile: search (paced under the search endpoints' own per-second limit, outside the ten-secondly
window), batch archive, and the property types; through the loader's transport. 401 and 403 stop the run
(``FatalApiError``: exit 3); 429, 5xx and lost answers are retried (a search and an archive are both safe to repeat)."""

from __future__ import annotations

import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import anyio
import orjson

from cartloader.errors import AuthenticationError, FatalApiError, MissingScopesError
from cartloader.hubspot.auth import TokenSource
from cartloader.hubspot.protocol import objects_path
from cartloader.hubspot.transport import NoAnswer, Response, Transport

#: Values in one IN filter (an assumption: HubSpot documents no cap), filter groups in one search.
IN_VALUES = 100
GROUPS = 5
PAGE = 200
#: Searches per second: HubSpot's changelog says 4 (its current docs 5); reconcile keeps to 4.
SEARCHES_PER_S = 4.0
_ATTEMPTS = 8


@dataclass(frozen=True, slots=True)
class Found:
    """An object search found: id, the properties asked for, creation time (epoch s; None if unreadable)."""

    id: str
    properties: dict[str, str | None]
    created_s: float | None


def _created(text: object) -> float | None:
    from datetime import datetime

    if not isinstance(text, str):
        return None
    try:
        return datetime.fromisoformat(text).timestamp()
    except ValueError:
        return None


class HubSpotClient:
    """Reconcile's requests; ``requests`` counts every HTTP request, ``searches`` the searches."""

    def __init__(
        self, *, base_url: str, api_version: str, object_type: str, token: TokenSource, api_path: str | None = None
    ) -> None:
        path = api_path or objects_path(api_version)
        self._objects = f"{base_url.rstrip('/')}/{path.strip('/')}/{object_type}"
        self._properties = f"{base_url.rstrip('/')}/crm/v3/properties/{object_type}"
        self._token = token
        self._transport = Transport(connections=4, timeout_s=60.0, connect_timeout_s=10.0)
        self._last_search = 0.0
        self.requests = 0
        self.searches = 0

    async def __aenter__(self) -> HubSpotClient:
        await self._transport.open()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self._transport.close()

    async def _send(self, url: str, body: Any | None, *, search: bool = False) -> Response:
        refreshed = False
        for attempt in range(1, _ATTEMPTS + 1):
            if search:
                wait = self._last_search + 1.0 / SEARCHES_PER_S - time.monotonic()
                if wait > 0:
                    await anyio.sleep(wait)
                self._last_search = time.monotonic()
                self.searches += 1
            token, generation = await self._token.get()
            headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
            self.requests += 1
            try:
                if body is None:
                    response = await self._transport.get(url, headers)
                else:
                    response = await self._transport.post(url, orjson.dumps(body), headers)
            except NoAnswer:
                await anyio.sleep(min(8.0, 0.25 * 2**attempt))
                continue
            if response.status == 401 and not refreshed and await self._token.refresh(generation):
                refreshed = True
                continue
            if response.status in (401, 403):
                raise _refused(response)
            if response.status == 429 or response.status >= 500 or response.status in (423, 477):
                retry_after = response.headers.get("Retry-After")
                try:
                    pause = float(retry_after) if retry_after else 1.0
                except ValueError:
                    pause = 1.0
                await anyio.sleep(min(pause, 30.0) if response.status == 429 else min(8.0, 0.25 * 2**attempt))
                continue
            return response
        raise FatalApiError(f"HubSpot did not answer {url} after {_ATTEMPTS} attempts", category="UNAVAILABLE")

    async def search(self, prop: str, values: Sequence[str], properties: Iterable[str]) -> list[Found]:
        """Every object whose ``prop`` is one of ``values`` (at most ``IN_VALUES * GROUPS``), with ``properties``."""
        groups = [
            {"filters": [{"propertyName": prop, "operator": "IN", "values": list(values[i : i + IN_VALUES])}]}
            for i in range(0, len(values), IN_VALUES)
        ]
        body: dict[str, Any] = {"filterGroups": groups, "properties": sorted({prop, *properties}), "limit": PAGE}
        found: list[Found] = []
        while True:
            response = await self._send(f"{self._objects}/search", body, search=True)
            if response.status != 200:
                raise _unexpected(response, "search")
            answer = orjson.loads(response.body)
            for item in answer.get("results") or ():
                raw = item.get("properties") or {}
                found.append(Found(str(item.get("id")), dict(raw), _created(item.get("createdAt"))))
            after = ((answer.get("paging") or {}).get("next") or {}).get("after")
            if not after:
                return found
            body = {**body, "after": str(after)}

    async def archive(self, ids: Sequence[str]) -> None:
        """Archive ``ids`` (batches of 100)."""
        for start in range(0, len(ids), 100):
            inputs = [{"id": object_id} for object_id in ids[start : start + 100]]
            response = await self._send(f"{self._objects}/batch/archive", {"inputs": inputs})
            if not 200 <= response.status < 300:
                raise _unexpected(response, "batch archive")

    async def property_types(self) -> dict[str, tuple[str, bool]]:
        """Property name -> (type, multi-select) from the Properties API; empty when it cannot be read."""
        try:
            response = await self._send(self._properties, None)
        except FatalApiError:
            return {}
        if response.status != 200:
            return {}
        try:
            results = orjson.loads(response.body).get("results") or []
        except (orjson.JSONDecodeError, AttributeError):
            return {}
        return {
            item["name"]: (str(item.get("type")), item.get("fieldType") == "checkbox")
            for item in results
            if isinstance(item, dict) and isinstance(item.get("name"), str)
        }


def _body(response: Response) -> dict[str, Any]:
    try:
        body = orjson.loads(response.body)
    except orjson.JSONDecodeError:
        return {}
    return body if isinstance(body, dict) else {}


def _refused(response: Response) -> FatalApiError:
    body = _body(response)
    message = str(body.get("message") or f"HubSpot refused the request (HTTP {response.status})")
    category = body.get("category")
    correlation = body.get("correlationId")
    if response.status == 401:
        return AuthenticationError(message, category=category, correlation_id=correlation, status=401)
    errors = body.get("errors")
    context = errors[0].get("context") if isinstance(errors, list) and errors and isinstance(errors[0], dict) else None
    scopes = context.get("requiredGranularScopes") if isinstance(context, dict) else None
    named = tuple(str(scope) for scope in scopes) if isinstance(scopes, list) else ()
    return MissingScopesError(
        message, category=category, correlation_id=correlation, status=response.status, scopes=named
    )


def _unexpected(response: Response, what: str) -> FatalApiError:
    body = _body(response)
    return FatalApiError(
        f"{what} refused: {body.get('message') or 'HTTP ' + str(response.status)}",
        category=body.get("category"),
        correlation_id=body.get("correlationId"),
        status=response.status,
    )
