"""A small web service that receives cart webhooks and loads them into HubSpot through one shared CartLoader.

Each ``POST /carts`` (one cart, or a JSON list of carts) submits its carts with ``loader.submit()``: carts from all
concurrent webhooks share batches of up to 100, so HubSpot's window is spent on full requests, and each webhook
answers with its own carts' outcomes. ``GET /stats`` shows ``loader.statistics()``; ``GET /metrics`` is the
Prometheus exposition when ``cartloader[metrics]`` is installed.

    python examples/service.py                  # the built-in simulator plays HubSpot; serves http://127.0.0.1:8080
    curl -s localhost:8080/carts -d '{"hs_external_cart_id": "c-1", "hs_cart_name": "Basket"}'
    python examples/service.py --demo 200       # also fire 200 webhooks at itself, print what happened, stop
    HUBSPOT_ACCESS_TOKEN=... python examples/service.py --hubspot   # the real HubSpot

Ctrl-C stops taking webhooks, sends what was submitted, then exits.
"""

from __future__ import annotations

import argparse
import os
import random
import signal
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from typing import Any

import aiohttp
import anyio
from aiohttp import web

from cartloader import CartLoader, FatalApiError, LoaderClosedError, Outcome
from cartloader.simulator import Simulator

LOADER = web.AppKey("loader", CartLoader)


async def receive_carts(request: web.Request) -> web.Response:
    """Submit the webhook's carts and answer with each cart's outcome."""
    loader = request.app[LOADER]
    try:
        body = await request.json()
    except ValueError:
        return web.json_response({"error": "expected a JSON cart or a list of carts"}, status=400)
    carts = body if isinstance(body, list) else [body]
    outcomes: list[Outcome | None] = [None] * len(carts)
    stopped: list[Exception] = []

    async def submit(index: int, cart: Any) -> None:
        try:
            outcomes[index] = await loader.submit(cart)
        except (FatalApiError, LoaderClosedError) as exc:  # HubSpot stopped the loader (bad token, daily limit...)
            stopped.append(exc)

    async with anyio.create_task_group() as group:
        for index, cart in enumerate(carts):
            group.start_soon(submit, index, cart)
    if stopped:  # tell the sender to retry later (a real service would make a new loader when it can)
        return web.json_response({"error": str(stopped[0])}, status=503)
    return web.json_response([_outcome_json(outcome) for outcome in outcomes if outcome is not None])


def _outcome_json(outcome: Outcome) -> dict[str, Any]:
    data: dict[str, Any] = {"status": outcome.status, "id": outcome.id}
    if outcome.error is not None:
        data["error"] = outcome.error.to_dict()
    return data


async def show_statistics(request: web.Request) -> web.Response:
    s = request.app[LOADER].statistics()
    return web.json_response(
        {
            "records_waiting": s.records_waiting,
            "records_submitted": s.records_submitted,
            "batches_in_flight": s.batches_in_flight,
            "concurrency_limit": s.concurrency.limit,
            "requests": s.requests,
            "error_responses": s.error_responses,
            "outcomes": dict(s.outcomes),
        }
    )


def make_app(loader: CartLoader) -> web.Application:
    """The service's routes around one loader."""
    app = web.Application()
    app[LOADER] = loader
    app.router.add_post("/carts", receive_carts)
    app.router.add_get("/stats", show_statistics)
    try:
        from prometheus_client import CollectorRegistry, generate_latest

        from cartloader import LoaderMetrics
    except ImportError:
        return app
    registry = CollectorRegistry()
    registry.register(LoaderMetrics(loader))

    async def metrics(request: web.Request) -> web.Response:
        return web.Response(body=generate_latest(registry), content_type="text/plain")

    app.router.add_get("/metrics", metrics)
    return app


@asynccontextmanager
async def serving(app: web.Application, host: str, port: int) -> AsyncIterator[str]:
    """Serve ``app`` for the length of the block; yields the base URL."""
    runner = web.AppRunner(app, handle_signals=False)
    await runner.setup()
    site = web.TCPSite(runner, host, port)
    await site.start()
    address = runner.addresses[0]
    try:
        yield f"http://{address[0]}:{address[1]}"
    finally:
        await runner.cleanup()


async def demo(url: str, webhooks: int) -> None:
    """Fire ``webhooks`` webhooks of 1-5 carts each at the service, all at once, and print what came back."""
    rng = random.Random(1)
    statuses: dict[str, int] = {}

    async def webhook(session: aiohttp.ClientSession, n: int) -> None:
        carts = [
            {"hs_external_cart_id": f"demo-{n}-{i}", "hs_cart_name": f"Basket {n}.{i}", "hs_currency_code": "EUR"}
            for i in range(rng.randint(1, 5))
        ]
        async with session.post(f"{url}/carts", json=carts) as response:
            for outcome in await response.json():
                statuses[outcome["status"]] = statuses.get(outcome["status"], 0) + 1

    async with aiohttp.ClientSession() as session:
        async with anyio.create_task_group() as group:
            for n in range(webhooks):
                group.start_soon(webhook, session, n)
        async with session.get(f"{url}/stats") as response:
            stats = await response.json()
    carts = sum(statuses.values())
    print(f"{webhooks} webhooks, {carts} carts: {statuses}")
    print(f"HubSpot requests: {stats['requests']} ({carts / max(1, stats['requests']):.0f} carts per request)")


async def main() -> None:
    parser = argparse.ArgumentParser(description="A cart-webhook service on one shared CartLoader.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8080)
    parser.add_argument("--hubspot", action="store_true", help="load into HubSpot (HUBSPOT_ACCESS_TOKEN) ")
    parser.add_argument("--demo", type=int, metavar="N", help="fire N webhooks at the service, print, stop")
    args = parser.parse_args()
    async with AsyncExitStack() as stack:
        if args.hubspot:
            token, base_url = os.environ["HUBSPOT_ACCESS_TOKEN"], None
        else:
            hubspot = await stack.enter_async_context(Simulator(rate="190/10s", latency_ms=(300.0, 1000.0)))
            token, base_url = "sim-token", hubspot.url
        # One loader for the whole service: one rate budget, shared batches. Leaving it sends what was submitted.
        loader = await stack.enter_async_context(CartLoader(token, base_url=base_url))
        port = 0 if args.demo else args.port
        url = await stack.enter_async_context(serving(make_app(loader), args.host, port))
        if args.demo:
            await demo(url, args.demo)
            return
        print(f"serving on {url}: POST /carts, GET /stats, GET /metrics (Ctrl-C stops)", flush=True)
        with anyio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
            async for _ in signals:
                print("stopping: sending what was submitted", flush=True)
                break


if __name__ == "__main__":
    anyio.run(main)
