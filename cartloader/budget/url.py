"""Budget URLs (``redis://[[USER]:PASSWORD@]HOST[:PORT][/DB][?key=NAME]``) and masking their passwords."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import parse_qsl, quote, urlencode, urlsplit, urlunsplit

from cartloader.errors import ConfigError

DEFAULT_KEY = "default"
SCHEMES = ("redis", "rediss")


@dataclass(frozen=True, slots=True)
class BudgetUrl:
    """A ``redis://[[USER]:PASSWORD@]HOST[:PORT][/DB][?key=NAME]`` URL, split into what redis-py connects
    to and the budget's key name. ``str()`` masks the password."""

    connect_url: str
    key: str
    masked: str
    password: str | None

    @classmethod
    def parse(cls, url: str) -> BudgetUrl:
        """Check and split ``url``; ``ConfigError`` (never showing the password) when malformed."""
        masked = mask_password(url)
        try:
            parts = urlsplit(url)
            parts.port  # noqa: B018 -- raises ValueError for a port that is not a number in range
        except ValueError:
            parts = None
        if parts is None or parts.scheme not in SCHEMES or not parts.hostname:
            raise ConfigError(f"invalid budget URL {masked!r}: expected redis://HOST:PORT/DB?key=NAME (or rediss://)")
        path = parts.path.strip("/")
        if path and not path.isdigit():
            raise ConfigError(f"invalid budget URL {masked!r}: the database must be a number, not {path!r}")
        query = parse_qsl(parts.query, keep_blank_values=True)
        keys = [value for name, value in query if name == "key"]
        if len(keys) > 1 or (keys and not keys[0]):
            raise ConfigError(f"invalid budget URL {masked!r}: give one non-empty key=NAME")
        rest = urlencode([(name, value) for name, value in query if name != "key"])
        connect_url = urlunsplit((parts.scheme, parts.netloc, parts.path, rest, ""))
        return cls(connect_url, keys[0] if keys else DEFAULT_KEY, masked, parts.password)

    def scrub(self, text: str) -> str:
        """``text`` with the password (should a library quote it) replaced by ``***``."""
        if not self.password:
            return text
        for secret in {self.password, quote(self.password, safe="")}:
            text = text.replace(secret, "***")
        return text

    def __str__(self) -> str:
        return self.masked

    def __repr__(self) -> str:
        return f"BudgetUrl({self.masked!r})"


def mask_password(url: str) -> str:
    """``url`` (or an argument holding one, such as ``--budget=redis://...``) with its password as ``***``."""
    scheme, sep, rest = url.partition("://")
    if not sep:
        return url
    netloc, slash, tail = rest.partition("/")
    userinfo, at, hostport = netloc.rpartition("@")
    if not at:
        return url
    user, colon, _password = userinfo.partition(":")
    return f"{scheme}://{user}{':***' if colon else ''}@{hostport}{slash}{tail}"
