"""TLS and proxies over real sockets: the certificate is always verified, ``SSL_CERT_FILE`` names the trusted
authorities, ``HTTPS_PROXY`` carries an https base URL through a CONNECT tunnel, and a connect timeout proves
the request never left (resent, never flagged).

A TLS front on loopback (a self-signed authority made by ``trustme``) relays to the simulator; the made-up host
``carts.test`` resolves nowhere, so only the tunnelling proxy can reach it."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import ssl
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path

import aiohttp
import pytest
import trustme
from aiohttp import web

from cartloader.api.loader import CartLoader, bulk_create
from cartloader.config import Backoff, LoaderConfig
from cartloader.models import Outcome
from cartloader.rate import Rate
from cartloader.simulator import Simulator

pytestmark = pytest.mark.anyio

QUICK = Backoff(base_s=0.005, cap_s=0.02)
CARTS = [{"hs_cart_name": f"cart {n}", "hs_external_cart_id": f"ext-{n}"} for n in range(1, 31)]


class TlsFront:
    """An HTTPS server on loopback relaying every request to ``upstream``; counts what it relayed."""

    def __init__(self, upstream: str, context: ssl.SSLContext) -> None:
        self.upstream = upstream
        self.context = context
        self.relayed = 0
        self.port = 0

    async def relay(self, request: web.Request) -> web.Response:
        self.relayed += 1
        headers = {k: v for k, v in request.headers.items() if k in ("Authorization", "Content-Type")}
        async with (
            aiohttp.ClientSession() as session,
            session.request(
                request.method, self.upstream + request.path_qs, data=await request.read(), headers=headers
            ) as answer,
        ):
            passed = {k: v for k, v in answer.headers.items() if k == "Content-Type" or k.startswith("X-HubSpot")}
            return web.Response(status=answer.status, body=await answer.read(), headers=passed)

    @asynccontextmanager
    async def serving(self) -> AsyncIterator[TlsFront]:
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self.relay)
        runner = web.AppRunner(app, access_log=None, handle_signals=False)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0, ssl_context=self.context)
        await site.start()
        self.port = next(address[1] for address in runner.addresses if isinstance(address, tuple))
        try:
            yield self
        finally:
            await runner.cleanup()


class ConnectProxy:
    """A forward proxy that only tunnels (``CONNECT host:port``), to ``target_port`` on loopback whatever the
    host: ``carts.test`` exists only through it. Records the CONNECT targets it was asked for."""

    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self.tunnels: list[str] = []
        self.url = ""

    async def _pipe(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(ConnectionError):
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
        writer.close()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = await reader.readuntil(b"\r\n\r\n")
        method, target, _ = head.split(b"\r\n", 1)[0].decode().split(" ", 2)
        if method != "CONNECT":
            writer.write(b"HTTP/1.1 405 Method Not Allowed\r\nContent-Length: 0\r\n\r\n")
            writer.close()
            return
        self.tunnels.append(target)
        upstream_reader, upstream_writer = await asyncio.open_connection("127.0.0.1", self.target_port)
        writer.write(b"HTTP/1.1 200 Connection established\r\n\r\n")
        await writer.drain()
        await asyncio.gather(self._pipe(reader, upstream_writer), self._pipe(upstream_reader, writer))

    @asynccontextmanager
    async def serving(self) -> AsyncIterator[ConnectProxy]:
        server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        self.url = f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}"
        try:
            yield self
        finally:
            server.close()


@pytest.fixture(scope="module")
def authority() -> trustme.CA:
    return trustme.CA()


def server_context(authority: trustme.CA) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    authority.issue_cert("localhost", "127.0.0.1", "carts.test").configure_cert(context)
    return context


@asynccontextmanager
async def tls_simulator(authority: trustme.CA) -> AsyncIterator[tuple[Simulator, TlsFront]]:
    async with Simulator(seed=2) as sim, TlsFront(sim.url, server_context(authority)).serving() as front:
        yield sim, front


async def load(base_url: str, **options: object) -> list[Outcome]:
    outcomes: list[Outcome] = []
    await bulk_create(
        CARTS, token="sim-token", base_url=base_url, on_outcome=outcomes.append, rate="1000/1s", backoff=QUICK,
        batch_size=10, **options,  # type: ignore[arg-type]
    )  # fmt: skip
    return outcomes


async def test_a_certificate_no_trusted_authority_signed_is_refused_and_nothing_is_sent(
    authority: trustme.CA, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    other = tmp_path / "other-ca.pem"
    trustme.CA().cert_pem.write_to_path(str(other))
    monkeypatch.setenv("SSL_CERT_FILE", str(other))  # trust only an unrelated authority
    async with tls_simulator(authority) as (sim, front):
        outcomes = await load(f"https://localhost:{front.port}", max_attempts=2)
    assert front.relayed == 0
    assert len(sim.objects) == 0
    assert {o.status for o in outcomes} == {"failed"}
    assert all(o.error is not None and "CERTIFICATE_VERIFY_FAILED" in o.error.message for o in outcomes), outcomes
    assert not any(o.duplicate_risk for o in outcomes)


async def test_ssl_cert_file_names_the_authority_that_makes_the_certificate_trusted(
    authority: trustme.CA, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    bundle = tmp_path / "ca.pem"
    authority.cert_pem.write_to_path(str(bundle))
    monkeypatch.setenv("SSL_CERT_FILE", str(bundle))
    async with tls_simulator(authority) as (sim, front):
        outcomes = await load(f"https://localhost:{front.port}")
        held = {obj.properties["hs_external_cart_id"]: obj.id for obj in sim.objects.values()}
    assert front.relayed == 2 + 3  # the preflight's two reads and three batches, all through TLS
    assert {o.status for o in outcomes} == {"created"}
    assert all(o.id == held[f"ext-{o.line}"] for o in outcomes)


async def test_https_proxy_tunnels_an_https_base_url_and_the_certificate_is_still_verified(
    authority: trustme.CA, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    bundle = tmp_path / "ca.pem"
    authority.cert_pem.write_to_path(str(bundle))
    monkeypatch.setenv("SSL_CERT_FILE", str(bundle))
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    async with tls_simulator(authority) as (sim, front), ConnectProxy(front.port).serving() as proxy:
        monkeypatch.setenv("HTTPS_PROXY", proxy.url)
        outcomes = await load("https://carts.test:8443")
        stored = len(sim.objects)
    assert proxy.tunnels and set(proxy.tunnels) == {"carts.test:8443"}
    assert front.relayed == 2 + 3  # the preflight's two reads and three batches, all through TLS
    assert stored == 30
    assert {o.status for o in outcomes} == {"created"}


@contextlib.contextmanager
def a_port_that_never_completes_a_connection() -> Iterator[int]:
    """A listening socket whose accept queue is full and never served: a new connection attempt is left
    waiting (the kernel drops its SYN), so the client's connect times out."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(0)
    fillers: list[socket.socket] = []
    try:
        for _ in range(4):  # fill the queue (a backlog of 0 still admits one or two)
            filler = socket.socket()
            filler.setblocking(False)
            with contextlib.suppress(BlockingIOError):
                filler.connect(listener.getsockname())
            fillers.append(filler)
        yield listener.getsockname()[1]
    finally:
        for filler in fillers:
            filler.close()
        listener.close()


async def test_a_connect_timeout_is_a_connect_error_resent_without_duplicate_risk() -> None:
    with a_port_that_never_completes_a_connection() as port:
        config = LoaderConfig(
            base_url=f"http://127.0.0.1:{port}", batch_size=10, rate=Rate.parse("1000/1s"), timeout_s=10.0,
            connect_timeout_s=0.2, max_attempts=2, backoff=QUICK, preflight=False,
        )  # fmt: skip
        outcomes: list[Outcome] = []
        async with CartLoader("sim-token", config=config) as loader:
            summary = await loader.create(CARTS, on_outcome=outcomes.append)
    assert summary.requests == 6  # three batches, two attempts each: resent after the timeout
    assert len(outcomes) == 30
    assert not any(o.duplicate_risk for o in outcomes)
    assert {(o.status, o.attempts) for o in outcomes} == {("failed", 2)}
    assert all(o.error is not None and o.error.category == "TIMEOUT" for o in outcomes), outcomes[0]


async def test_a_request_timeout_running_out_while_connecting_is_resent_without_duplicate_risk() -> None:
    # --timeout runs out first, while the connection is still being made: nothing was written.
    with a_port_that_never_completes_a_connection() as port:
        config = LoaderConfig(
            base_url=f"http://127.0.0.1:{port}", batch_size=10, rate=Rate.parse("1000/1s"), timeout_s=0.2,
            connect_timeout_s=10.0, max_attempts=2, backoff=QUICK, preflight=False,
        )  # fmt: skip
        outcomes: list[Outcome] = []
        async with CartLoader("sim-token", config=config) as loader:
            summary = await loader.create(CARTS, on_outcome=outcomes.append)
    assert summary.requests == 6
    assert len(outcomes) == 30
    assert not any(o.duplicate_risk for o in outcomes)
    assert {(o.status, o.attempts) for o in outcomes} == {("failed", 2)}
