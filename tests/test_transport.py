"""Transport: the proxy named by the environment is used, and ~/.netrc never mixes its credentials in."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web

from cartloader.api.loader import bulk_create
from cartloader.hubspot.transport import proxy_for
from cartloader.simulator import Simulator

pytestmark = pytest.mark.anyio

CARTS = [{"hs_cart_name": f"cart {i}"} for i in range(30)]


class ForwardProxy:
    """A plain-HTTP forward proxy on loopback that counts what it relays; it resolves the made-up host
    ``carts.test`` to loopback, so a client can only reach that host through it."""

    def __init__(self) -> None:
        self.relayed = 0
        self.url = ""

    async def relay(self, request: web.Request) -> web.Response:
        self.relayed += 1
        target = request.url.with_host("127.0.0.1") if request.url.host == "carts.test" else request.url
        headers = {k: v for k, v in request.headers.items() if k.lower() not in ("host", "proxy-connection")}
        async with (
            aiohttp.ClientSession() as session,
            session.request(request.method, str(target), headers=headers, data=await request.read()) as answer,
        ):
            body = await answer.read()
            return web.Response(status=answer.status, body=body, content_type=answer.content_type)

    async def __aenter__(self) -> ForwardProxy:
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self.relay)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = self._runner.addresses[0][1]
        self.url = f"http://127.0.0.1:{port}"
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self._runner.cleanup()


@pytest.fixture
async def proxy() -> AsyncIterator[ForwardProxy]:
    async with ForwardProxy() as running:
        yield running


async def test_requests_go_through_the_proxy_the_environment_names(
    proxy: ForwardProxy, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HTTP_PROXY", proxy.url)
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    async with Simulator(seed=1) as sim:
        summary = await bulk_create(
            CARTS,
            token="sim-token",
            base_url=f"http://carts.test:{sim.port}",
            allow_insecure=True,
            batch_size=10,
            rate="1000/1s",
        )
        assert len(sim.objects) == 30
    assert summary.created == 30
    assert proxy.relayed == summary.requests == 2 + 3  # the preflight's two reads, three batches


async def test_loopback_never_goes_through_a_proxy(proxy: ForwardProxy, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HTTP_PROXY", proxy.url)
    async with Simulator(seed=2) as sim:
        summary = await bulk_create(CARTS, token="sim-token", base_url=sim.url, rate="1000/1s")
    assert summary.created == 30
    assert proxy.relayed == 0


def test_no_proxy_hosts_are_reached_directly(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.internal:3128")
    monkeypatch.setenv("NO_PROXY", "hubapi.com")
    assert proxy_for("https://api.hubapi.com/crm/v3/objects/carts/batch/create") is None
    monkeypatch.setenv("NO_PROXY", "")
    assert proxy_for("https://api.hubapi.com/crm/v3/objects/carts/batch/create") == "http://proxy.internal:3128"


async def test_a_netrc_entry_for_the_host_does_not_break_the_bearer_token(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    netrc = tmp_path / "netrc"
    netrc.write_text("machine 127.0.0.1 login someone password other-secret\n")
    netrc.chmod(0o600)
    monkeypatch.setenv("NETRC", str(netrc))
    async with Simulator(seed=3) as sim:
        summary = await bulk_create(CARTS, token="sim-token", base_url=sim.url, rate="1000/1s")
    assert summary.created == 30
