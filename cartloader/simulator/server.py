"""``Simulator``: runs the simulated HubSpot on a loopback port for the length of an ``async with``."""

from __future__ import annotations

import asyncio
import dataclasses
import time
from collections.abc import Mapping
from types import MappingProxyType, TracebackType
from typing import Any

from aiohttp import web

from cartloader.simulator.app import SimulatedHubSpot
from cartloader.simulator.config import DEFAULT_SCOPES, SimulatorConfig
from cartloader.simulator.contacts import Directory
from cartloader.simulator.state import SimStats, StoredObject

# How long stop() lets in-flight answers finish before cancelling them.
SHUTDOWN_GRACE_S = 1.0


class Simulator:
    """A simulated HubSpot served over HTTP.

    Build it from a ``SimulatorConfig`` or from its fields as keywords (``Simulator(rate="10/1s")``); keywords
    given with ``config`` override its fields. Use ``async with`` or ``await start()`` / ``await stop()``.
    """

    def __init__(self, config: SimulatorConfig | None = None, **fields: Any) -> None:
        if config is None:
            config = SimulatorConfig(**fields)
        elif fields:
            config = dataclasses.replace(config, **fields)
        self.config = config
        self._hubspot = SimulatedHubSpot(config)
        self._runner: web.AppRunner | None = None
        self._port: int | None = None

    @property
    def port(self) -> int:
        """The TCP port the simulator listens on (only once started)."""
        if self._port is None:
            raise RuntimeError("the simulator is not running: call start() or use `async with`")
        return self._port

    @property
    def url(self) -> str:
        """The simulator's base URL, e.g. ``http://127.0.0.1:8123`` (no trailing slash)."""
        host = self.config.host
        if ":" in host:
            host = f"[{host}]"
        return f"http://{host}:{self.port}"

    @property
    def objects(self) -> Mapping[str, StoredObject]:
        """Stored objects by id (a live read-only view; empty with ``store=False``)."""
        return self._hubspot.store.view()

    @property
    def associations(self) -> Mapping[str, list[dict[str, Any]]]:
        """Associations by cart id (from creates and the v4 endpoint): ``toObjectId``, category and type id."""
        return MappingProxyType(self._hubspot.store.associations)

    @property
    def directory(self) -> Directory:
        """The contacts and orders carts may be associated with (``archive`` one to make it gone)."""
        return self._hubspot.directory

    def stats(self) -> SimStats:
        """A frozen snapshot of the statistics."""
        return self._hubspot.snapshot()

    def reset_stats(self) -> None:
        """Zero the statistics (stored objects stay)."""
        self._hubspot.stats.reset()

    def add_token(self, token: str, scopes: frozenset[str] = DEFAULT_SCOPES) -> None:
        """Accept ``token`` with ``scopes`` from now on (also a token that was expired)."""
        self._hubspot.tokens[token] = frozenset(scopes)
        self._hubspot.expired.pop(token, None)

    def expire_token(self, token: str) -> None:
        """From now on ``token`` gets 401 EXPIRED_AUTHENTICATION."""
        self._hubspot.expired.setdefault(token, time.monotonic())

    def set_fault(self, name: str, probability: float) -> None:
        """Inject fault ``name`` with ``probability`` from now on (0 switches it off); ConfigError if invalid."""
        self._hubspot.faults.set(name, probability)

    def force_fault(self, name: str, batch_request: int) -> None:
        """Make fault ``name`` strike the ``batch_request``-th batch request (counted from the start, 1-based)."""
        self._hubspot.faults.force(name, batch_request)

    async def start(self) -> None:
        """Bind and start serving."""
        if self._runner is not None:
            raise RuntimeError("the simulator is already running")
        self._hubspot.closing = asyncio.Event()  # a restarted simulator hangs again
        runner = web.AppRunner(
            self._hubspot.application(), access_log=None, handle_signals=False, shutdown_timeout=SHUTDOWN_GRACE_S
        )
        await runner.setup()
        site = web.TCPSite(runner, self.config.host, self.config.port, reuse_address=True)
        try:
            await site.start()
        except BaseException:
            await runner.cleanup()
            raise
        sockets = [s for s in runner.addresses if isinstance(s, tuple)]
        self._port = int(sockets[0][1])
        self._runner = runner

    async def stop(self) -> None:
        """Stop serving: hanging answers are dropped, in-flight ones get a short grace period."""
        runner, self._runner = self._runner, None
        if runner is None:
            return
        self._hubspot.closing.set()
        await runner.cleanup()
        self._port = None

    async def __aenter__(self) -> Simulator:
        await self.start()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.stop()

    def __repr__(self) -> str:
        where = self.url if self._port is not None else "stopped"
        return f"<Simulator {where} rate={self.config.rate} daily={self.config.daily} store={self.config.store}>"
