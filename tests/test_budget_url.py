"""Budget URLs never show their password: whatever characters it holds (``/``, ``@``, ``:``, ``?``, ``#``, percent
escapes), in the ``str``/``repr`` of a ``BudgetUrl``, in every "invalid budget URL" message, in the resume command
and in what ``scrub`` leaves of a library's message that quotes it. A URL that cannot be read unambiguously is
masked conservatively (everything before its last ``@`` after the host's start)."""

from __future__ import annotations

import pytest

from cartloader.budget.url import BudgetUrl, mask_password
from cartloader.cli.options import UsageError, parse_options
from cartloader.cli.setup import resume_command
from cartloader.errors import ConfigError

MARK = "SECRETpw"
#: Passwords as generators make them, each holding the mark, written raw into the URL.
RAW_PASSWORDS = [
    "Zx9/SECRETpw",  # the issue's: a "/" cut the masking short
    "Zx9/SECRETpw/",
    "a@b/SECRETpw",
    "SECRETpw@x",
    "Zx9:SECRETpw",
    "Zx9?SECRETpw",
    "Zx9#SECRETpw",
    "Zx9?k=SECRETpw@",
    "/SECRETpw",
    "SECRETpw",
    "Zx9%2FSECRETpw",  # percent-encoded, as the URL should carry it
]


@pytest.mark.parametrize("password", RAW_PASSWORDS)
@pytest.mark.parametrize("user", ["", "acme"])
@pytest.mark.parametrize("tail", ["/0", "/0?key=t", ":6380/2?key=team@eu", ""])
def test_mask_password_hides_any_password(password: str, user: str, tail: str) -> None:
    url = f"redis://{user}:{password}@redis.internal{tail}"
    masked = mask_password(url)
    assert MARK not in masked
    assert masked == f"redis://{user}:***@redis.internal{tail}"
    assert MARK not in mask_password(f"--budget={url}")


@pytest.mark.parametrize(
    "url",
    [
        "redis://SECRETpw@host/0",  # a password given without its colon
        "redis://Zx9/SECRETpw@host/0",
        "redis://u/SECRETpw:x@host/0",
        "redis://:Zx9/SECRETpw@host/0#frag",
        "rediss://:Zx9/SECRETpw@[::1]:6379/0",
    ],
)
def test_mask_password_is_conservative_when_the_userinfo_is_unclear(url: str) -> None:
    masked = mask_password(url)
    assert MARK not in masked
    assert "***@" in masked


@pytest.mark.parametrize(
    "text",
    ["redis://host:6379/0?key=a", "redis://host:6379/0?key=team@eu", "carts@2024.ndjson", "--rate", "x://y"],
)
def test_mask_password_leaves_text_without_a_password_alone(text: str) -> None:
    assert mask_password(text) == text


@pytest.mark.parametrize("password", RAW_PASSWORDS)
def test_a_budget_url_with_any_password_is_masked_or_refused_without_showing_it(password: str) -> None:
    url = f"redis://:{password}@redis.internal:6379/0?key=acme"
    try:
        parsed = BudgetUrl.parse(url)
    except ConfigError as exc:
        message = str(exc)
        assert message.startswith("invalid budget URL 'redis://:***@redis.internal:6379/0?key=acme'"), message
        assert MARK not in message
        assert "percent-encode" in message  # the way out: %2F, %40, %3F, %23
    else:
        assert (parsed.key, parsed.password) == ("acme", password)
        assert MARK not in str(parsed) and MARK not in repr(parsed)
        assert str(parsed) == "redis://:***@redis.internal:6379/0?key=acme"
        assert MARK not in parsed.scrub(f"AUTH failed for {password!r} ({parsed.connect_url})")


def test_the_issue_url_is_refused_without_its_password_on_the_command_line() -> None:
    with pytest.raises(UsageError) as info:
        parse_options(["in.ndjson", "--budget", "redis://:Zx9/SECRETpw@host/0"])
    assert MARK not in str(info.value)
    assert "redis://:***@host/0" in str(info.value)


@pytest.mark.parametrize(
    "url",
    [
        "redis:/:Zx9/SECRETpw@host/0",  # no "//": not a URL at all
        ":SECRETpw@host:6379/0",
        "redis//:SECRETpw@host/0",
        "http://:Zx9/SECRETpw@host/0",
        "redis://:SECRETpw@host:99999/0",
        "redis://:SECRETpw@host:port/0",
        "redis://u:1234/SECRETpw@host/0",  # read naively: host "u", port 1234, database "SECRETpw@host/0"
        "redis://:SECRETpw@/0",
        "redis://:SECRETpw@host/zero",
    ],
)
def test_an_unparsable_budget_url_is_refused_without_its_password(url: str) -> None:
    with pytest.raises(ConfigError) as info:
        BudgetUrl.parse(url)
    assert MARK not in str(info.value)
    with pytest.raises(UsageError) as usage:
        parse_options(["in.ndjson", "--budget", url])
    assert MARK not in str(usage.value)


def test_scrub_hides_the_password_raw_percent_encoded_and_decoded() -> None:
    parsed = BudgetUrl.parse("redis://:Zx9%2FSECRETpw%40@host/0")
    for quoted in ("Zx9%2FSECRETpw%40", "Zx9/SECRETpw@", "Zx9%2fSECRETpw%40"):
        assert MARK not in parsed.scrub(f"WRONGPASS {quoted} refused"), quoted


@pytest.mark.parametrize("password", RAW_PASSWORDS)
def test_the_resume_command_never_shows_the_budget_password(password: str) -> None:
    url = f"redis://:{password}@host:6379/0?key=a"
    for argv in (["in.ndjson", "--budget", url], ["in.ndjson", f"--budget={url}"]):
        assert MARK not in resume_command(argv)
