"""Budget URLs (``redis://[[USER]:PASSWORD@]HOST[:PORT][/DB][?key=NAME]``) and masking their passwords.

A password is masked whatever it holds. Written raw, a ``/``, ``?`` or ``#`` in it ends the URL's authority for
every URL parser (redis-py's included), so the ``@`` that ends the password shows up later, in the path, query or
fragment: such a URL is masked up to its last ``@`` and refused as a budget URL (percent-encode the password).
An ``@`` in the value of ``key=`` is part of the key, never a password's end.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import parse_qsl, quote, unquote, urlencode, urlsplit, urlunsplit

from cartloader.errors import ConfigError

DEFAULT_KEY = "default"
SCHEMES = ("redis", "rediss")
MASK = "***"
#: What ends a URL's authority (RFC 3986 section 3.2).
_AUTHORITY_END = "/?#"


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
        if "://" not in url and "@" in url:
            masked = MASK + "@" + url.rpartition("@")[2]  # not a URL at all: all before its last "@" may be secret
        _, sep, rest = url.partition("://")
        if sep and _stray_at(rest):
            raise ConfigError(
                f"invalid budget URL {masked!r}: an '@' after the host; percent-encode a password holding "
                "'/', '?', '#' or '@' (%2F, %3F, %23, %40)"
            )
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
        rest_query = urlencode([(name, value) for name, value in query if name != "key"])
        connect_url = urlunsplit((parts.scheme, parts.netloc, parts.path, rest_query, ""))
        return cls(connect_url, keys[0] if keys else DEFAULT_KEY, masked, parts.password)

    def scrub(self, text: str) -> str:
        """``text`` with the password (should a library quote it: as written, decoded or re-encoded) replaced by
        ``***``."""
        if not self.password:
            return text
        decoded = unquote(self.password)
        secrets = {self.password, decoded, quote(decoded, safe=""), quote(self.password, safe="")}
        for secret in sorted(secrets, key=len, reverse=True):
            text = text.replace(secret, MASK)
        lowered = {secret.lower() for secret in secrets if "%" in secret}  # %2f as well as %2F
        for secret in sorted(lowered, key=len, reverse=True):
            start = text.lower().find(secret)
            while start >= 0:
                text = text[:start] + MASK + text[start + len(secret) :]
                start = text.lower().find(secret, start + len(MASK))
        return text

    def __str__(self) -> str:
        return self.masked

    def __repr__(self) -> str:
        return f"BudgetUrl({self.masked!r})"


def _split_authority(rest: str) -> tuple[str, str]:
    """The part of a URL after ``scheme://`` as its authority and what follows (path, query, fragment)."""
    end = min((i for i in (rest.find(c) for c in _AUTHORITY_END) if i >= 0), default=len(rest))
    return rest[:end], rest[end:]


def _password_end(rest: str) -> int:
    """Where the userinfo of a URL with a stray ``@`` ends: at the first ``@`` after which the URL reads cleanly
    (an authority without ``@``, no stray ``@`` after it); the last ``@`` always does."""
    ats = (i for i, char in enumerate(rest) if char == "@")
    return next(at for at in ats if "@" not in _split_authority(rest[at + 1 :])[0] and not _stray_at(rest[at + 1 :]))


def _stray_at(rest: str) -> bool:
    """Whether the part of a URL after ``scheme://`` holds an ``@`` past its authority (in the path, the
    fragment, or the query other than inside the value of ``key=``): a raw password's end, read wrongly."""
    tail = _split_authority(rest)[1]
    before_fragment, _, fragment = tail.partition("#")
    path, _, query = before_fragment.partition("?")
    if "@" in fragment or "@" in path:
        return True
    for field in query.split("&"):
        name, _, value = field.partition("=")
        if "@" in name or ("@" in value and name != "key"):
            return True
    return False


def _mask_userinfo(userinfo: str) -> str:
    """``USER:***`` when the user name is plain; else all of it (a password given without its colon, or a
    user name that is really part of a password) as ``***``."""
    user, colon, _ = userinfo.partition(":")
    if colon and not any(c in user for c in _AUTHORITY_END + "@"):
        return f"{user}:{MASK}"
    return MASK


def mask_password(url: str) -> str:
    """``url`` (or an argument holding one, such as ``--budget=redis://...``) with its password as ``***``.

    The userinfo ends at the authority's last ``@``; when an ``@`` also shows past the authority (a raw ``/``,
    ``?`` or ``#`` in the password), at the first ``@`` after which the rest reads as a clean URL, else at the last
    ``@`` of all. Text without ``://`` is returned as it is."""
    head, sep, rest = url.partition("://")
    if not sep or "@" not in rest:
        return url
    if _stray_at(rest):
        at = _password_end(rest)
        return f"{head}://{_mask_userinfo(rest[:at])}@{rest[at + 1 :]}"
    authority, tail = _split_authority(rest)
    if "@" not in authority:
        return url  # an "@" only in the key's name: no password
    userinfo, _, hostport = authority.rpartition("@")
    return f"{head}://{_mask_userinfo(userinfo)}@{hostport}{tail}"
