"""The public surface: what ``cartloader`` exports, and that the token never shows."""

from __future__ import annotations

import pytest

import cartloader
from cartloader import ConfigError, Rate
from cartloader.api.loader import CartLoader
from cartloader.config import LoaderConfig
from cartloader.errors import AuthenticationError, CartloaderError, DailyLimitError, FatalApiError, MissingScopesError
from cartloader.hubspot.auth import TokenSource

pytestmark = pytest.mark.anyio


def test_all_is_sorted_names_real_objects_and_covers_every_public_class() -> None:
    assert sorted(cartloader.__all__) == cartloader.__all__
    for name in cartloader.__all__:
        assert getattr(cartloader, name) is not None
    public = {name for name in vars(cartloader) if not name.startswith("_") and name[0].isupper()}
    assert public <= set(cartloader.__all__)


def test_exception_tree_matches_the_contract() -> None:
    assert issubclass(ConfigError, CartloaderError)
    for fatal in (AuthenticationError, MissingScopesError, DailyLimitError):
        assert issubclass(fatal, FatalApiError)
    error = MissingScopesError("no scope", category="MISSING_SCOPES", correlation_id="abc", status=403)
    assert (error.category, error.correlation_id, error.status) == ("MISSING_SCOPES", "abc", 403)
    assert "abc" in str(error) and "MISSING_SCOPES" in str(error)


async def test_token_never_appears_in_reprs() -> None:
    secret = "pat-na1-0123456789abcdef"
    assert secret not in repr(TokenSource(secret)) and secret not in str(TokenSource(secret))
    async with CartLoader(secret, base_url="http://127.0.0.1:9") as loader:
        assert secret not in repr(loader)
        assert secret not in repr(loader.config)


@pytest.mark.parametrize(
    ("text", "rate"),
    [("190/10s", Rate(190, 10.0)), ("20/1s", Rate(20, 1.0)), ("5/500ms", Rate(5, 0.5)), ("100/s", Rate(100, 1.0))],
)
def test_rate_parses_the_contract_forms(text: str, rate: Rate) -> None:
    assert Rate.parse(text) == rate


@pytest.mark.parametrize("text", ["", "190", "0/10s", "10/0s", "ten/1s", "5/1y"])
def test_rate_refuses_malformed_text_with_config_error(text: str) -> None:
    with pytest.raises(ConfigError):
        Rate.parse(text)


@pytest.mark.parametrize(
    ("options", "fragment"),
    [
        ({"base_url": "http://api.example.com"}, "plain-http"),
        ({"base_url": "ftp://x"}, "invalid base URL"),
        ({"batch_size": 101}, "batch size"),
        ({"concurrency": 0}, "concurrency"),
        ({"max_attempts": 0}, "max retries"),
    ],
)
def test_config_refuses_bad_options_with_one_clear_message(options: dict[str, object], fragment: str) -> None:
    with pytest.raises(ConfigError, match=fragment):
        LoaderConfig(**options)  # type: ignore[arg-type]


def test_plain_http_is_allowed_to_loopback_or_when_insecure_is_asked_for() -> None:
    for url in ("http://127.0.0.1:8080", "http://127.8.9.10:8080", "http://localhost:8080", "http://[::1]:8080"):
        assert LoaderConfig(base_url=url).base_url == url
    assert LoaderConfig(base_url="http://api.example.com", allow_insecure=True).base_url == "http://api.example.com"
    for url in ("http://api.example.com", "http://10.0.0.1:8080", "http://localhost.example.com"):
        with pytest.raises(ConfigError, match=r"plain-http .*--allow-insecure"):
            LoaderConfig(base_url=url)


async def test_a_mapping_or_string_given_as_records_is_refused() -> None:
    async with CartLoader("t", base_url="http://127.0.0.1:9") as loader:
        with pytest.raises(ConfigError, match="iterable of records"):
            await loader.create({"hs_cart_name": "x"})
        with pytest.raises(ConfigError, match="iterable of records"):
            await loader.create("carts.ndjson")


@pytest.mark.parametrize("token", ["", "   ", "pat-na1-abc\npat-na1-def", "pat\x00abc"])
def test_a_token_that_cannot_be_sent_is_refused_without_showing_it(token: str) -> None:
    with pytest.raises(ConfigError) as caught:
        TokenSource(token)
    if token.strip():
        assert token.strip() not in str(caught.value)
