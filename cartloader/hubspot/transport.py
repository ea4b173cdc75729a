"""The transport: the only module that touches aiohttp.

One ``ClientSession`` per loader (keep-alive, a connection limit), TLS always verified
(``ssl.create_default_context()``, which honours ``SSL_CERT_FILE``), the proxy the environment names
(``HTTPS_PROXY``/``HTTP_PROXY`` minus ``NO_PROXY``, never for loopback), per-request timeouts. Network
exceptions are mapped here to :class:`NoAnswer`, which says whether the request may have reached HubSpot.
"""

from __future__ import annotations

import asyncio
import socket
import ssl
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass
from types import SimpleNamespace
from urllib.parse import urlsplit

import aiohttp

from cartloader._version import __version__
from cartloader.config import is_loopback
from cartloader.hubspot.clock import HubSpotClock

USER_AGENT = f"cartloader/{__version__} (+https://pypi.org/project/cartloader/)"
# What a failed request raises from inside aiohttp: its own errors, timeouts, and socket errors.
_NETWORK_ERRORS: tuple[type[BaseException], ...] = (aiohttp.ClientError, asyncio.TimeoutError, OSError)


@dataclass(frozen=True, slots=True)
class Response:
    """An HTTP answer, read whole."""

    status: int
    headers: Mapping[str, str]
    body: bytes


class NoAnswer(Exception):
    """A request that got no HTTP answer.

    ``written`` is False only when the request provably never left (the connection could not be made),
    so HubSpot cannot have processed it; ``timed_out`` tells a timeout from a broken connection;
    ``host`` is the host that was asked; ``dns`` is True when the host's name did not resolve (nothing was sent).
    """

    def __init__(self, reason: str, *, host: str, written: bool, timed_out: bool, dns: bool = False) -> None:
        super().__init__(reason)
        self.reason = reason
        self.host = host
        self.written = written
        self.timed_out = timed_out
        self.dns = dns


def _dns_failure(exc: BaseException) -> bool:
    """Whether ``exc`` (or what it wraps) is a failed name lookup: ``socket.gaierror``, which aiohttp wraps in
    ``ClientConnectorError`` (``ClientConnectorDNSError`` since 3.10.6)."""
    seen: BaseException | None = exc
    for _ in range(4):
        if seen is None:
            return False
        if isinstance(seen, socket.gaierror) or isinstance(getattr(seen, "os_error", None), socket.gaierror):
            return True
        if type(seen).__name__ == "ClientConnectorDNSError":
            return True
        seen = seen.__cause__ or seen.__context__
    return False


def proxy_for(url: str) -> str | None:
    """The proxy the environment names for ``url`` (``HTTPS_PROXY``/``HTTP_PROXY``, minus ``NO_PROXY``).

    Loopback never goes through a proxy: the simulator (``--simulate``, tests) must work behind one too.
    """
    parts = urlsplit(url)
    host = parts.hostname
    if host is None or is_loopback(host) or urllib.request.proxy_bypass(host):
        return None
    return urllib.request.getproxies().get(parts.scheme)


def map_network_error(exc: BaseException, host: str, *, connected: bool = True) -> NoAnswer:
    """The ``NoAnswer`` for an exception aiohttp raised while asking ``host``: only a failure to connect (refused,
    unreachable, the connect timeout), or any failure before the request had a connection (``connected``
    false: the total timeout ran out while connecting or waiting for a pooled connection), proves the request
    was never written."""
    connect_failed = not connected or isinstance(exc, aiohttp.ClientConnectorError | aiohttp.ConnectionTimeoutError)
    timed_out = isinstance(exc, asyncio.TimeoutError)
    detail = str(exc).strip()
    reason = type(exc).__name__ + (f": {detail}" if detail else "")
    if _dns_failure(exc):
        return NoAnswer(f"DNS lookup failed ({reason})", host=host, written=False, timed_out=False, dns=True)
    return NoAnswer(reason, host=host, written=not connect_failed, timed_out=timed_out)


class _Attempt:
    """One request's progress as aiohttp's tracing reports it: whether it got a connection to write on."""

    __slots__ = ("connected",)

    def __init__(self) -> None:
        self.connected = False


async def _on_connection(
    session: aiohttp.ClientSession, context: SimpleNamespace, params: aiohttp.TraceConnectionCreateEndParams
) -> None:
    context.trace_request_ctx.connected = True


async def _on_reused_connection(
    session: aiohttp.ClientSession, context: SimpleNamespace, params: aiohttp.TraceConnectionReuseconnParams
) -> None:
    context.trace_request_ctx.connected = True


def _tracing() -> aiohttp.TraceConfig:
    """aiohttp reports a new or reused connection before the request can use it: until then nothing is written,
    whichever timeout fires (``--timeout`` may be shorter than the connect timeout)."""
    trace = aiohttp.TraceConfig()
    trace.on_connection_create_end.append(_on_connection)
    trace.on_connection_reuseconn.append(_on_reused_connection)
    return trace


class Transport:
    """HTTP for one loader: ``open()``, then ``post()``/``get()`` from any number of tasks, then ``close()``.

    ``connections`` bounds the open connections; ``timeout_s`` is each request's total time,
    ``connect_timeout_s`` the time to connect.
    """

    __slots__ = ("_connections", "_proxies", "_session", "_timeout", "clock")

    def __init__(self, *, connections: int, timeout_s: float, connect_timeout_s: float) -> None:
        self._connections = connections
        self._timeout = aiohttp.ClientTimeout(total=timeout_s, sock_connect=connect_timeout_s)
        self._session: aiohttp.ClientSession | None = None
        self._proxies: dict[tuple[str, str], str | None] = {}
        self.clock = HubSpotClock()  # HubSpot's clock, from the latest answer's Date header

    @property
    def is_open(self) -> bool:
        """Whether ``open()`` was called and ``close()`` not yet."""
        return self._session is not None

    async def open(self) -> None:
        """Create the session (idempotent)."""
        if self._session is not None:
            return
        connector = aiohttp.TCPConnector(limit=self._connections, ssl=ssl.create_default_context())
        # Not trust_env: it would also add ~/.netrc credentials beside the Bearer header (aiohttp then refuses
        # the request); the proxy from the environment is applied per request instead.
        self._session = aiohttp.ClientSession(
            connector=connector, headers={"User-Agent": USER_AGENT}, trace_configs=[_tracing()]
        )

    async def close(self) -> None:
        """Close the session and its connections (idempotent)."""
        session, self._session = self._session, None
        if session is not None:
            await session.close()

    def _proxy(self, url: str) -> str | None:
        parts = urlsplit(url)
        key = (parts.scheme, parts.netloc)
        try:
            return self._proxies[key]
        except KeyError:
            proxy = self._proxies[key] = proxy_for(url)
            return proxy

    async def post(self, url: str, body: bytes, headers: Mapping[str, str]) -> Response:
        """POST ``body`` and read the whole answer; raises :class:`NoAnswer` when none came."""
        return await self._request("POST", url, body, headers)

    async def get(self, url: str, headers: Mapping[str, str]) -> Response:
        """GET ``url`` and read the whole answer; raises :class:`NoAnswer` when none came."""
        return await self._request("GET", url, None, headers)

    async def _request(self, method: str, url: str, body: bytes | None, headers: Mapping[str, str]) -> Response:
        session = self._session
        if session is None:
            raise RuntimeError("the transport is not open")
        attempt = _Attempt()
        try:
            async with session.request(
                method,
                url,
                data=body,
                headers=headers,
                timeout=self._timeout,
                proxy=self._proxy(url),
                trace_request_ctx=attempt,
            ) as response:
                payload = await response.read()
                self.clock.observe(response.headers.get("Date"))
                return Response(response.status, response.headers, payload)
        except _NETWORK_ERRORS as exc:
            raise map_network_error(exc, urlsplit(url).hostname or url, connected=attempt.connected) from exc

    def __repr__(self) -> str:
        return f"Transport(connections={self._connections}, open={self.is_open})"
