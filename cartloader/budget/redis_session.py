"""The shared budget's Redis session: the connection, the one script call and its answer, leaving the budget.

:class:`~cartloader.budget.shared.SharedBudget` paces; this module is all it knows of Redis. The script
(:mod:`cartloader.budget.script`) is registered on connecting and called with a timeout; its answer becomes a
:class:`SlotAnswer`. Redis unreachable when connecting -> ``ConfigError`` (one line, no password); any Redis error
later is raised as it is (one of :func:`redis_errors`) for the budget to fall back on its own.
"""

from __future__ import annotations

import os
import secrets
import socket
from collections.abc import Awaitable, Callable, Hashable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import anyio

from cartloader.budget.pacing import BEFORE_FIRST_ANSWER, EDGE_NOISE, MIN_RESERVE
from cartloader.budget.script import SCRIPT
from cartloader.budget.url import BudgetUrl
from cartloader.config import INITIAL_RATE
from cartloader.errors import ConfigError
from cartloader.models import RateLimitHeaders
from cartloader.rate import Rate

if TYPE_CHECKING:
    from redis.asyncio import Redis
    from redis.commands.core import AsyncScript

#: A participant not heard from for this long (or two windows, if longer) no longer counts.
HEARTBEAT_TTL_S = 5.0
#: Socket timeouts towards Redis: a slow Redis must not hold requests longer than this.
REDIS_TIMEOUT_S = 1.0


@dataclass(frozen=True, slots=True)
class SlotRequest:
    """What one call tells the script (ARGV in :mod:`cartloader.budget.script`), as of ``now`` (monotonic):
    whether to take a slot; the hard cap and the safety margin; the latest rate-limit headers seen and when their
    request left; until when a pause asked for here lasts; the participants expected back after a fallback and
    the earliest next slot; the window in force (the heartbeat's lifetime); the pace, whether HubSpot answered
    here yet, this call's number, and the held places that move later (slot number, microseconds)."""

    take: bool
    now: float
    cap: Rate | None
    margin: float
    observation: tuple[RateLimitHeaders, float] | None
    pause_until: float
    expected: int
    not_before: float
    window_s: float
    burst_pace: bool
    answered: bool
    seq: int
    holds: list[tuple[Hashable, int]]
    #: Requests that may go before HubSpot's first answer to any participant.
    before_first_answer: int = BEFORE_FIRST_ANSWER


@dataclass(frozen=True, slots=True)
class SlotAnswer:
    """What the script answered one call: the wait before the slot (or before asking again, when not
    ``granted``), the limit in force, the participants, the even pace's interval, what other integrations draw,
    the pause every participant honours, and the burst."""

    wait_s: float
    limit: Rate
    participants: int
    interval_s: float
    others: float
    paused_s: float
    granted: bool = True
    burst: int = 1


def redis_errors() -> tuple[type[BaseException], ...]:
    """What losing Redis looks like (TimeoutError is an OSError). Any Redis error mid-run means "go on
    alone": the local fallback is safe, a crash in the middle of a load is not."""
    from redis.exceptions import RedisError

    return (RedisError, OSError)


class RedisSession:
    """One participant's connection to the shared budget at ``url``: its id, its keys, its script."""

    __slots__ = ("_client", "_clock", "_script", "id", "keys", "timeout_s", "url")

    def __init__(self, url: BudgetUrl, *, timeout_s: float, clock: Callable[[], float]) -> None:
        self.url = url
        self.timeout_s = timeout_s
        self._clock = clock
        self.id = f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(3)}"
        prefix = f"cartloader:budget:{{{url.key}}}"  # one hash tag: every key on one cluster slot
        names = ("last", "state", "pause", "members", "sent", "expected", "held")
        self.keys = [f"{prefix}:{name}" for name in names]
        self._client: Redis | None = None
        self._script: AsyncScript | None = None

    @property
    def connected(self) -> bool:
        """Whether a connection is open (made by :meth:`open`, not yet closed)."""
        return self._client is not None

    def open(self) -> None:
        """Make the client and register the script (no round trip yet); ``ConfigError`` without redis-py or for an
        invalid URL."""
        try:
            from redis.asyncio import Redis
            from redis.asyncio.retry import Retry
            from redis.backoff import NoBackoff
        except ImportError:
            raise ConfigError("a shared budget needs redis-py: pip install 'cartloader[redis]'") from None
        try:
            client = Redis.from_url(
                self.url.connect_url,
                socket_timeout=self.timeout_s,
                socket_connect_timeout=self.timeout_s,
                retry=Retry(NoBackoff(), 0),  # a lost Redis means "fall back now", not "retry for seconds"
            )
        except ValueError as exc:
            raise ConfigError(f"invalid budget URL {self.url.masked!r}: {self.url.scrub(str(exc))}") from None
        script = client.register_script(SCRIPT)
        self._client, self._script = client, script

    async def unreachable(self, exc: BaseException) -> ConfigError:
        """Close the connection whose first call failed with ``exc``; the error for ``connect`` to raise."""
        client = self._client
        self._client = self._script = None
        if client is not None:
            await client.aclose()
        reason = self.url.scrub(str(exc) or type(exc).__name__)
        return ConfigError(f"cannot reach Redis for the shared budget at {self.url.masked}: {reason}")

    async def call(self, request: SlotRequest) -> SlotAnswer:
        """Run the script for ``request``, within the timeout."""
        script = self._script
        if script is None:
            raise ConfigError("the shared budget is closed")
        now = request.now
        cap = request.cap or INITIAL_RATE
        obs_max = obs_remaining = obs_window = obs_age = 0
        observation = request.observation
        if observation is not None:
            headers, sent_at = observation
            assert headers.max is not None
            obs_max = headers.max
            obs_remaining = headers.remaining if headers.remaining is not None else -1
            obs_window = (headers.interval_ms or 0) * 1000
            obs_age = max(0, round((now - sent_at) * 1e6))
        pause_us = max(0, round((request.pause_until - now) * 1e6))
        min_wait_us = max(0, round((request.not_before - now) * 1e6))
        ttl_us = round(max(HEARTBEAT_TTL_S, 2 * request.window_s) * 1e6)
        args: list[str | int | float] = [
            self.id,
            int(request.take),
            cap.requests,
            round(cap.window_s * 1e6),
            int(request.cap is not None),
            request.margin,
            obs_max,
            obs_remaining,
            obs_window,
            obs_age,
            pause_us,
            request.expected,
            min_wait_us,
            ttl_us,
            MIN_RESERVE,
            EDGE_NOISE,
            int(request.burst_pace),
            int(request.answered),
            request.before_first_answer,
            request.seq,
        ]
        for number, later_us in request.holds:
            args += [f"{self.id}:{number}", later_us]
        started = self._clock()
        with anyio.fail_after(self.timeout_s):
            raw = await script(keys=self.keys, args=args)
        # The wait is counted from Redis's "now", about half a round trip ago.
        elapsed = self._clock() - started
        wait_us, req, win_us, members, interval_us, others_milli, paused_us, granted, burst = (int(v) for v in raw)
        return SlotAnswer(
            wait_s=max(0.0, wait_us / 1e6 - elapsed / 2),
            limit=Rate(req, win_us / 1e6),
            participants=max(1, members),
            interval_s=interval_us / 1e6,
            others=others_milli / 1000,
            paused_s=paused_us / 1e6,
            granted=bool(granted),
            burst=burst,
        )

    async def close(self, *, leave: bool, last_call: Callable[[], Awaitable[object]] | None = None) -> None:
        """Close the connection (shielded from cancellation). With ``leave``, first run ``last_call`` on it (no other
        caller can use it meanwhile), then leave the budget so the others stop counting this participant."""
        client, script = self._client, self._script
        self._client = self._script = None
        if client is None or script is None:
            return
        with anyio.CancelScope(shield=True):
            try:
                if leave:
                    if last_call is not None:
                        self._client, self._script = client, script
                        try:
                            await last_call()
                        finally:
                            self._client = self._script = None
                    with anyio.fail_after(self.timeout_s):
                        await client.zrem(self.keys[3], self.id)
            except redis_errors():
                pass  # the heartbeat expires on its own
            finally:
                await client.aclose()
