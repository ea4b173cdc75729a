"""The access token: a string, or an async callable asked again when HubSpot says the token expired."""

from __future__ import annotations

import anyio

from cartloader.config import TokenCallable
from cartloader.errors import ConfigError


def _checked(token: str) -> str:
    """The token without surrounding white space; refused if empty or if it holds other white space or
    control characters (a header cannot carry them). The message never shows the token."""
    value = token.strip()
    if not value:
        raise ConfigError("the access token is empty")
    if any(ch.isspace() or not ch.isprintable() for ch in value):
        raise ConfigError("the access token contains white space or control characters (is it one line?)")
    return value


class TokenSource:
    """The access token, refreshed at most once per expiry by everyone who shares it.

    It never shows its value: not in ``repr``, not in ``str``.
    """

    __slots__ = ("_generation", "_lock", "_refresh", "_value")

    def __init__(self, token: str | TokenCallable) -> None:
        if isinstance(token, str):
            self._value: str | None = _checked(token)
            self._refresh: TokenCallable | None = None
        elif callable(token):
            self._value = None
            self._refresh = token
        else:
            raise ConfigError("token must be a string or an async callable returning one")
        self._generation = 0
        self._lock = anyio.Lock()

    @property
    def refreshable(self) -> bool:
        """True when the token comes from a callable that can be asked again."""
        return self._refresh is not None

    async def get(self) -> tuple[str, int]:
        """The current token and its generation (which changes at each refresh)."""
        if self._value is None:
            async with self._lock:
                if self._value is None:
                    self._value = await self._fetch()
        return self._value, self._generation

    async def refresh(self, seen_generation: int) -> bool:
        """Ask the callable again after HubSpot said generation ``seen_generation`` expired.

        Returns False when there is nothing to refresh (a fixed string). Concurrent callers that saw
        the same generation share one call.
        """
        if self._refresh is None:
            return False
        async with self._lock:
            if self._generation == seen_generation:
                self._value = await self._fetch()
                self._generation += 1
        return True

    async def _fetch(self) -> str:
        assert self._refresh is not None
        value = await self._refresh()
        if not isinstance(value, str):
            raise ConfigError("the token callable returned no token")
        return _checked(value)

    def __repr__(self) -> str:
        return "TokenSource(<hidden>)"

    __str__ = __repr__
