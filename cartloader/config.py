"""Run configuration, validated once at the edge (CLI or library call) and trusted inside."""

from __future__ import annotations

import ipaddress
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Literal
from urllib.parse import urlsplit

from cartloader.errors import ConfigError
from cartloader.rate import Rate

DEFAULT_BASE_URL = "https://api.hubapi.com"
#: HubSpot's API versions: the legacy ``v3`` and the date versions (a new one each March and September).
API_VERSIONS = ("v3", "2026-03", "2026-09")
DEFAULT_API_VERSION = "2026-09"  # the newest stable version, as HubSpot tells new integrations to use
#: How long the preflight trusts property definitions and validation rules before reading them again (10 min):
#: a long-lived loader notices a property added or changed in the portal within that time.
DEFAULT_SCHEMA_MAX_AGE_S = 600.0
Concurrency = int | Literal["auto"]
"""Requests in flight at most: a fixed number, or ``"auto"`` (rate x observed latency, with headroom)."""
DEFAULT_CONCURRENCY: Concurrency = "auto"
MAX_AUTO_CONCURRENCY = 128  # auto never goes above this (nor below 1)
DEFAULT_LINGER_S = 0.1  # longest a record waits for its batch to fill; benchmarks.service (docs/benchmarks.md)
DEFAULT_MAX_PENDING = 1000  # records submitted and not yet sent, before submit() waits
DEFAULT_TIMEOUT_S = 130.0  # outlasts the 100 s HubSpot waits before answering 524 (a slow batch is not resent)
DEFAULT_CONNECT_TIMEOUT_S = 10.0
DEFAULT_MAX_ATTEMPTS = 5
MAX_BATCH_SIZE = 100
INITIAL_RATE = Rate(100, 10.0)  # HubSpot's lowest tier, until its headers say more
PACES = ("burst", "even")
#: What an association naming by ``idProperty`` an object that does not exist does to its record.
MISSING_TARGETS = ("fail", "skip")  # how the rate budget spends the rolling window (cartloader/budget/pacing.py)


@dataclass(frozen=True, slots=True)
class Backoff:
    """Full-jitter exponential backoff: attempt n waits uniformly in [0, min(cap, base * 2**(n-1))]."""

    base_s: float = 0.5
    cap_s: float = 30.0

    def delay(self, attempt: int, rng: random.Random) -> float:
        """The wait before resend number ``attempt`` (1-based)."""
        return rng.uniform(0.0, min(self.cap_s, self.base_s * 2 ** max(0, attempt - 1)))


def is_loopback(host: str | None) -> bool:
    """True for localhost and loopback addresses (127.0.0.0/8, ::1)."""
    if host is None:
        return False
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


@dataclass(frozen=True, slots=True)
class LoaderConfig:
    """Everything that shapes a run except the token and the records.

    ``api_path`` overrides the objects path that ``api_version`` implies (``/crm/v3/objects`` or
    ``/crm/objects/VERSION``); ``preflight`` reads the object type's property definitions and validation rules
    before the first batch and refuses locally (``invalid``) what HubSpot would refuse, reading them again once
    they are ``schema_max_age_s`` old.
    ``concurrency`` is a number or ``"auto"``; ``rate`` is a hard cap (``None``: at most ten requests before
    HubSpot's first answer, then follow its headers); ``pace`` is ``"burst"`` (use what the rolling window holds
    free at once, then keep the trailing count within the limit) or ``"even"`` (evenly spaced requests, never a
    burst); ``linger_s`` is the longest a record waits for its batch to fill; ``max_pending`` the records
    ``submit()`` holds unsent before it makes callers wait;
    ``missing_target`` is ``"fail"`` (a record whose association names by ``idProperty`` an object that does not
    exist fails ``ASSOCIATION_TARGET_MISSING``) or ``"skip"`` (it is sent without that association);
    ``max_attempts`` is the number of requests a batch may take before its records fail
    (``--max-retries``); ``retry_ambiguous=False`` never resends a batch HubSpot may have processed.
    """

    base_url: str = DEFAULT_BASE_URL
    api_path: str | None = None
    object_type: str = "carts"
    concurrency: Concurrency = DEFAULT_CONCURRENCY
    rate: Rate | None = None
    batch_size: int = MAX_BATCH_SIZE
    timeout_s: float = DEFAULT_TIMEOUT_S
    connect_timeout_s: float = DEFAULT_CONNECT_TIMEOUT_S
    max_attempts: int = DEFAULT_MAX_ATTEMPTS
    upsert_by: str | None = None
    retry_ambiguous: bool = True
    allow_insecure: bool = False
    backoff: Backoff = field(default_factory=Backoff)
    breaker_window: int = 32
    breaker_threshold: float = 0.75
    api_version: str = DEFAULT_API_VERSION
    linger_s: float = DEFAULT_LINGER_S
    max_pending: int = DEFAULT_MAX_PENDING
    pace: str = "burst"
    preflight: bool = True
    schema_max_age_s: float = DEFAULT_SCHEMA_MAX_AGE_S
    missing_target: str = "fail"

    def __post_init__(self) -> None:
        url = urlsplit(self.base_url)
        if url.scheme not in ("http", "https") or not url.hostname:
            raise ConfigError(f"invalid base URL {self.base_url!r}: expected http(s)://HOST[:PORT]")
        if url.scheme == "http" and not self.allow_insecure and not is_loopback(url.hostname):
            raise ConfigError(
                f"refusing plain-http base URL {url.scheme}://{url.hostname}: the token would travel unencrypted "
                "(use https, or --allow-insecure)"
            )
        if not 1 <= self.batch_size <= MAX_BATCH_SIZE:
            raise ConfigError(f"batch size must be 1..{MAX_BATCH_SIZE}, not {self.batch_size}")
        concurrency = self.concurrency
        if concurrency != "auto" and (
            isinstance(concurrency, bool) or not isinstance(concurrency, int) or concurrency < 1
        ):
            raise ConfigError(f'concurrency must be "auto" or a whole number of at least 1, not {concurrency!r}')
        if not 0 <= self.linger_s <= 60:
            raise ConfigError(f"linger must be 0..60 seconds, not {self.linger_s!r}")
        if self.max_pending < 1:
            raise ConfigError(f"max_pending must be at least 1, not {self.max_pending}")
        if self.schema_max_age_s < 0:
            raise ConfigError("the schema's maximum age must not be negative")
        if self.timeout_s <= 0 or self.connect_timeout_s <= 0:
            raise ConfigError("timeouts must be positive")
        if self.max_attempts < 1:
            raise ConfigError(f"max retries (attempts per batch) must be at least 1, not {self.max_attempts}")
        if not self.object_type or "/" in self.object_type:
            raise ConfigError(f"invalid object type {self.object_type!r}")
        if self.api_version not in API_VERSIONS:
            raise ConfigError(f"unknown API version {self.api_version!r}: expected {', '.join(API_VERSIONS)}")
        if self.api_path is not None and not self.api_path.strip("/"):
            raise ConfigError(f"invalid API path {self.api_path!r}")
        if not 0 < self.breaker_threshold <= 1 or self.breaker_window < 1:
            raise ConfigError("invalid circuit breaker settings")
        if self.missing_target not in MISSING_TARGETS:
            raise ConfigError(f"invalid missing_target {self.missing_target!r}: expected fail or skip")
        if self.pace not in PACES:
            raise ConfigError(f"invalid pace {self.pace!r}: expected one of {', '.join(PACES)}")

    @property
    def connections(self) -> int:
        """The connection pool's size: the fixed concurrency, or auto's ceiling."""
        return MAX_AUTO_CONCURRENCY if self.concurrency == "auto" else self.concurrency


TokenCallable = Callable[[], Awaitable[str]]
