"""Design rule 6: a batch's records are in the outcome log file as ``pending`` before HubSpot sees the request.

A reverse proxy stands between the loader and the simulator. When a batch request has fully arrived, and before
forwarding it, the proxy reads the outcome log from disk: every trace id in the request must already have its
``pending`` line there. No sleeps: the proxy looks at the one moment that matters, whatever the timing."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import aiohttp
import orjson
import pytest
from aiohttp import web

from cartloader.api.loader import bulk_create
from cartloader.config import Backoff
from cartloader.simulator import Simulator

pytestmark = pytest.mark.anyio

# Headers the proxy passes back: what the loader reads off an answer.
_ANSWER_HEADERS = ("Content-Type", "Retry-After")


class LogWatchingProxy:
    """Forwards every request to ``upstream``; for each batch request, records the trace ids it carried that
    the outcome log at ``log`` did not yet hold as ``pending`` when the request arrived."""

    def __init__(self, upstream: str, log: Path) -> None:
        self.upstream = upstream
        self.log = log
        self.batches = 0
        self.keys_seen: set[str] = set()
        self.unlogged: list[set[str]] = []

    def _pending_on_disk(self) -> set[str]:
        try:
            data = self.log.read_bytes()
        except FileNotFoundError:
            return set()
        entries = [orjson.loads(line) for line in data.split(b"\n") if line.endswith(b"}")]
        return {entry["key"] for entry in entries if entry["status"] == "pending"}

    async def handle(self, request: web.Request) -> web.Response:
        body = await request.read()
        if "/batch/" in request.path:
            sent = {item["objectWriteTraceId"] for item in orjson.loads(body)["inputs"]}
            self.batches += 1
            self.keys_seen |= sent
            missing = sent - self._pending_on_disk()
            if missing:
                self.unlogged.append(missing)
        headers = {name: value for name, value in request.headers.items() if name in ("Authorization", "Content-Type")}
        async with (
            aiohttp.ClientSession() as session,
            session.request(request.method, self.upstream + request.path_qs, data=body, headers=headers) as answer,
        ):
            passed = {
                name: value
                for name, value in answer.headers.items()
                if name in _ANSWER_HEADERS or name.startswith("X-HubSpot-RateLimit")
            }
            return web.Response(status=answer.status, body=await answer.read(), headers=passed)


@asynccontextmanager
async def proxy_in_front(sim: Simulator, log: Path) -> AsyncIterator[tuple[LogWatchingProxy, str]]:
    """A ``LogWatchingProxy`` to ``sim`` served on a loopback port; yields it and its URL."""
    proxy = LogWatchingProxy(sim.url, log)
    app = web.Application(client_max_size=64 * 1024 * 1024)
    app.router.add_route("*", "/{path:.*}", proxy.handle)
    runner = web.AppRunner(app, access_log=None, handle_signals=False)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = next(address[1] for address in runner.addresses if isinstance(address, tuple))
    try:
        yield proxy, f"http://127.0.0.1:{port}"
    finally:
        await runner.cleanup()


def carts(count: int) -> list[dict[str, str]]:
    return [{"hs_cart_name": f"cart {n}", "hs_external_cart_id": f"ext-{n}"} for n in range(1, count + 1)]


@pytest.mark.parametrize("upsert_by", [None, "hs_external_cart_id"])
async def test_every_record_is_pending_in_the_log_file_before_hubspot_sees_its_request(
    tmp_path: Path, upsert_by: str | None
) -> None:
    log = tmp_path / "carts.outcomes.ndjson"
    # Resent batches too (a 500 after processing): a resend carries records already logged pending.
    unique = ("hs_external_cart_id",) if upsert_by else ()  # create mode: a resend creates again
    async with (
        Simulator(faults={"post_500": 0.2}, seed=3, latency_ms=(5, 20), unique=unique) as sim,
        proxy_in_front(sim, log) as (proxy, url),
    ):
        summary = await bulk_create(
            carts(600), token="sim-token", base_url=url, outcome_log=str(log), batch_size=20, concurrency=4,
            rate="1000/1s", upsert_by=upsert_by, backoff=Backoff(base_s=0.005, cap_s=0.02), max_attempts=10,
        )  # fmt: skip
    assert summary.created + summary.updated == 600
    assert proxy.batches > 30  # every batch, and the resends, went through the proxy
    assert len(proxy.keys_seen) == 600
    assert proxy.unlogged == []
