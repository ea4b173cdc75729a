"""Helpers shared by the simulator tests (no tests here): a running simulator plus an HTTP client."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import aiohttp
import anyio
import orjson

from cartloader.simulator import Simulator

CREATE = "/crm/v3/objects/carts/batch/create"
UPSERT = "/crm/v3/objects/carts/batch/upsert"
AUTH = {"Authorization": "Bearer sim-token"}


@dataclass
class Answer:
    """One HTTP answer: status, parsed JSON body (None if not JSON), headers, raw text."""

    status: int
    body: Any
    headers: dict[str, str]
    text: str


class Client:
    """A thin aiohttp client for the simulator."""

    def __init__(self, sim: Simulator, session: aiohttp.ClientSession) -> None:
        self.sim = sim
        self.session = session

    async def request(
        self, method: str, path: str, body: Any = None, *, token: str | None = "sim-token", raw: bytes | None = None
    ) -> Answer:
        headers = {"Content-Type": "application/json"}
        if token is not None:
            headers["Authorization"] = f"Bearer {token}"
        data = raw if raw is not None else (orjson.dumps(body) if body is not None else None)
        async with self.session.request(method, self.sim.url + path, data=data, headers=headers) as response:
            text = await response.text()
            try:
                parsed = orjson.loads(text)
            except orjson.JSONDecodeError:
                parsed = None
            return Answer(response.status, parsed, dict(response.headers), text)

    async def create(self, inputs: list[dict[str, Any]], **kwargs: Any) -> Answer:
        return await self.request("POST", CREATE, {"inputs": inputs}, **kwargs)

    async def upsert(self, inputs: list[dict[str, Any]], **kwargs: Any) -> Answer:
        return await self.request("POST", UPSERT, {"inputs": inputs}, **kwargs)


@asynccontextmanager
async def running(**config: Any) -> AsyncIterator[Client]:
    """A started simulator with ``config`` and a client for it."""
    async with Simulator(**config) as sim, aiohttp.ClientSession() as session:
        yield Client(sim, session)


def cart(i: int, trace: bool = True, **props: str) -> dict[str, Any]:
    """A valid cart input number ``i`` (unique external id; unique trace id unless ``trace`` is False)."""
    item: dict[str, Any] = {"properties": {"hs_cart_name": f"cart {i}", "hs_external_cart_id": f"ext-{i}", **props}}
    if trace:
        item["objectWriteTraceId"] = f"t{i}"
    return item


async def eventually(predicate: Callable[[], bool], timeout_s: float = 2.0) -> None:
    """Wait until ``predicate()`` holds (the server runs in this loop, so polling is cheap); fail after a timeout."""
    with anyio.fail_after(timeout_s):
        while True:
            if predicate():
                return
            await anyio.sleep(0.005)
