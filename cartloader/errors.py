"""The exceptions cartloader raises.

    CartloaderError
    ├── ConfigError            bad options or arguments, found before anything is sent
    ├── FatalApiError          HubSpot refused the run as a whole; carries category and correlation id
    │   ├── AuthenticationError    401, after one token refresh
    │   ├── MissingScopesError     403 MISSING_SCOPES
    │   └── DailyLimitError        429 with policy DAILY
    ├── OutcomeLogError        the outcome log could not be written after sending began
    ├── InputReadError         the input could not be read after sending began (a truncated .gz, an I/O error)
    └── LoaderClosedError      the CartLoader was closed (left, or stopped by a fatal error): make a new one

Per-record failures never raise: they are outcomes.
"""

from __future__ import annotations


class CartloaderError(Exception):
    """Root of every error cartloader raises on purpose."""


class ConfigError(CartloaderError, ValueError):
    """An option or argument is invalid; raised before any request is sent."""


class FatalApiError(CartloaderError):
    """HubSpot answered in a way that makes going on pointless or harmful; the run stops.

    ``category`` is HubSpot's error category (or policy name), ``correlation_id`` the id HubSpot
    support asks for, ``status`` the HTTP status.
    """

    def __init__(
        self,
        message: str,
        *,
        category: str | None = None,
        correlation_id: str | None = None,
        status: int | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.category = category
        self.correlation_id = correlation_id
        self.status = status

    def __str__(self) -> str:
        parts = [self.message]
        if self.category:
            parts.append(f"category {self.category}")
        if self.status is not None:
            parts.append(f"HTTP {self.status}")
        if self.correlation_id:
            parts.append(f"correlation id {self.correlation_id}")
        return parts[0] if len(parts) == 1 else f"{parts[0]} ({', '.join(parts[1:])})"

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}({self.message!r}, category={self.category!r}, "
            f"correlation_id={self.correlation_id!r}, status={self.status!r})"
        )


class AuthenticationError(FatalApiError):
    """HubSpot rejected the token (401), also after refreshing it once."""


class MissingScopesError(FatalApiError):
    """The token lacks a scope the endpoint needs (403 MISSING_SCOPES); ``scopes`` lists the scopes HubSpot says
    are required (its ``requiredGranularScopes``; empty when it named none)."""

    def __init__(
        self,
        message: str,
        *,
        category: str | None = None,
        correlation_id: str | None = None,
        status: int | None = None,
        scopes: tuple[str, ...] = (),
    ) -> None:
        super().__init__(message, category=category, correlation_id=correlation_id, status=status)
        self.scopes = tuple(scopes)

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}({self.message!r}, category={self.category!r}, "
            f"correlation_id={self.correlation_id!r}, status={self.status!r}, scopes={self.scopes!r})"
        )


class DailyLimitError(FatalApiError):
    """The account's daily request limit is spent (429 DAILY); retrying before midnight is pointless."""


class OutcomeLogError(CartloaderError, OSError):
    """The outcome log could not be written after sending began."""


class InputReadError(CartloaderError, OSError):
    """The input could not be read after sending began (a truncated ``.gz``, an I/O error).

    Reading stops; requests already sent are answered and logged, so the run can be resumed.
    """


class LoaderClosedError(CartloaderError, RuntimeError):
    """The ``CartLoader`` is closed: its ``async with`` block was left, or a fatal error stopped it (then this
    error's ``__cause__`` is that error). A service makes a new loader, e.g. once the daily limit has reset."""
