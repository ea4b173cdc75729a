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


# --- exact messages and masks (the focused tests of ``python -m tests.mutation url``) ------------------------------


def test_text_that_is_not_a_url_is_masked_up_to_its_last_at() -> None:
    with pytest.raises(ConfigError) as info:
        BudgetUrl.parse("u:SECRETpw@x@host:6379/0")
    assert str(info.value) == (
        "invalid budget URL '***@host:6379/0': expected redis://HOST:PORT/DB?key=NAME (or rediss://)"
    )


def test_an_at_after_the_host_is_refused_with_the_way_out() -> None:
    with pytest.raises(ConfigError) as info:
        BudgetUrl.parse("redis://host/0?x=a@b://c")  # the "@" in a query value other than key's
    assert str(info.value) == (
        "invalid budget URL 'redis://***@b://c': an '@' after the host; percent-encode a password holding "
        "'/', '?', '#' or '@' (%2F, %3F, %23, %40)"
    )


def test_a_password_is_masked_up_to_the_at_after_which_the_url_reads_cleanly() -> None:
    # the first "@" is followed by a path holding another "@": the password runs on to the second
    assert mask_password("redis://:a@/SECRETpw@host/0") == "redis://:***@host/0"


def test_a_user_name_is_shown_whatever_its_letters() -> None:
    assert mask_password("redis://Xavier:SECRETpw@host/0") == "redis://Xavier:***@host/0"


@pytest.mark.parametrize(
    ("password", "text", "scrubbed"),
    [
        # a library re-encoding the decoded password whole ("/" as %2F, "!" as %21)
        ("Zx9%2FSECRET!pw", "AUTH Zx9%2FSECRET%21pw failed", "AUTH *** failed"),
        # forms that hold one another: the longest is replaced first
        ("SECRET%25", "AUTH SECRET%2525 failed", "AUTH *** failed"),
        ("SECRET%25", "AUTH SECRET%25 failed", "AUTH *** failed"),
        # percent escapes in another case, at the very start, in the middle, several times
        ("bb%25", "AUTH BB%25 failed", "AUTH *** failed"),
        ("Zx9%2fSECRET", "ZX9%2FSECRET refused", "*** refused"),
        ("Zx9%2fpw", "AUTH zX9%2FPW failed", "AUTH *** failed"),
        ("A%41b", "A%2541b A%41B x A%41B", "*** *** x ***"),
        ("%2Fa%41", "%2fa%41 %2FA%41 %2FA%41", "*** *** ***"),
        ("%25%2F%", "%25%2f% %25%2f% y", "*** *** y"),
    ],
)
def test_scrub_replaces_every_form_of_the_password_by_three_stars(password: str, text: str, scrubbed: str) -> None:
    parsed = BudgetUrl.parse(f"redis://:{password}@host/0")
    assert parsed.scrub(text) == scrubbed


def test_scrub_without_a_password_leaves_the_text_alone() -> None:
    assert BudgetUrl.parse("redis://host/0").scrub("AUTH x failed") == "AUTH x failed"
    assert BudgetUrl.parse("redis://u:@host/0").scrub("AUTH x failed") == "AUTH x failed"


def test_a_budget_url_is_split_into_what_redis_connects_to_and_the_key() -> None:
    parsed = BudgetUrl.parse("redis://:SECRETpw@host")
    assert (parsed.connect_url, parsed.key, parsed.password) == ("redis://:SECRETpw@host", "default", "SECRETpw")
    parsed = BudgetUrl.parse("rediss://u:pw@host:6380/2?key=team&ssl_cert_reqs=none#frag")
    assert (parsed.connect_url, parsed.key) == ("rediss://u:pw@host:6380/2?ssl_cert_reqs=none", "team")
    assert str(parsed) == "rediss://u:***@host:6380/2?key=team&ssl_cert_reqs=none#frag"


@pytest.mark.parametrize(
    ("url", "key"),
    [
        ("redis://host/0?key=team@eu", "team@eu"),
        ("redis://host/0?key=a?b@c", "a?b@c"),  # a "?" inside the query is part of it
        ("redis://host/0?key=a=b@c", "a=b@c"),  # the name ends at the first "="
    ],
)
def test_an_at_in_the_key_is_part_of_the_key(url: str, key: str) -> None:
    assert BudgetUrl.parse(url).key == key
    assert mask_password(url) == url


@pytest.mark.parametrize(
    "url",
    [
        "redis://host/0?key=a&x=b@c",  # an "@" in another parameter
        "redis://host/0?key=x#a@b",  # an "@" in the fragment
        "redis://host/0#a@b",
    ],
)
def test_an_at_outside_the_key_after_the_host_is_refused(url: str) -> None:
    with pytest.raises(ConfigError, match=r": an '@' after the host; percent-encode"):
        BudgetUrl.parse(url)


def test_a_url_whose_query_starts_the_authority_holds_no_password() -> None:
    assert mask_password("redis://?key=team@eu") == "redis://?key=team@eu"
    assert mask_password("redis://:SECRETpw@host/0?key=a://b") == "redis://:***@host/0?key=a://b"


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("redis://host/X", "invalid budget URL 'redis://host/X': the database must be a number, not 'X'"),
        (
            "redis://:SECRETpw@host/x1",
            "invalid budget URL 'redis://:***@host/x1': the database must be a number, not 'x1'",
        ),
        ("redis://host/0?key=", "invalid budget URL 'redis://host/0?key=': give one non-empty key=NAME"),
        ("redis://host/0?key=a&key=b", "invalid budget URL 'redis://host/0?key=a&key=b': give one non-empty key=NAME"),
        (
            "redis://host:port/0",
            "invalid budget URL 'redis://host:port/0': expected redis://HOST:PORT/DB?key=NAME (or rediss://)",
        ),
    ],
)
def test_a_malformed_budget_url_is_refused_saying_why(url: str, message: str) -> None:
    with pytest.raises(ConfigError) as info:
        BudgetUrl.parse(url)
    assert str(info.value) == message
