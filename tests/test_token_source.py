"""cartloader.hubspot.auth, in process: the token checked (trimmed, one printable line, never shown), fetched once
from a callable by every concurrent caller, and refreshed once per expired generation. (These are the focused tests
that tests/mutation.py runs for ``auth``.)"""

from __future__ import annotations

import anyio
import pytest

from cartloader.errors import ConfigError
from cartloader.hubspot.auth import TokenSource

SECRET = "pat-eu1-SECRET"


class Callable:
    """A token callable that counts its calls and gives ``pat-<n>`` (or what it is told to)."""

    def __init__(self, answers: list[object] | None = None, delay: float = 0.0) -> None:
        self.calls = 0
        self.answers = answers
        self.delay = delay

    async def __call__(self) -> str:
        self.calls += 1
        if self.delay:
            await anyio.sleep(self.delay)
        if self.answers is not None:
            return self.answers.pop(0)  # type: ignore[return-value]
        return f"pat-{self.calls}"


def test_a_string_token_is_trimmed_and_fixed() -> None:
    async def main() -> None:
        source = TokenSource(f"  {SECRET}\n")
        assert not source.refreshable
        assert await source.get() == (SECRET, 0)
        assert await source.refresh(0) is False
        assert await source.get() == (SECRET, 0)

    anyio.run(main)


@pytest.mark.parametrize("token", ["", "   ", "\n"])
def test_an_empty_token_is_refused(token: str) -> None:
    with pytest.raises(ConfigError, match=r"^the access token is empty$"):
        TokenSource(token)


@pytest.mark.parametrize("token", ["pat one", "pat\none", f"{SECRET}\x00", "pat\u00a0x", f"{SECRET}\x7f"])
def test_a_token_of_more_than_one_printable_word_is_refused_without_showing_it(token: str) -> None:
    with pytest.raises(ConfigError) as info:
        TokenSource(token)
    assert str(info.value) == "the access token contains white space or control characters (is it one line?)"


def test_a_token_that_is_neither_a_string_nor_callable_is_refused() -> None:
    with pytest.raises(ConfigError, match=r"^token must be a string or an async callable returning one$"):
        TokenSource(42)  # type: ignore[arg-type]


def test_the_token_is_never_shown() -> None:
    for source in (TokenSource(SECRET), TokenSource(Callable())):
        assert repr(source) == "TokenSource(<hidden>)"
        assert str(source) == "TokenSource(<hidden>)"


def test_a_callable_is_asked_once_by_concurrent_callers_then_kept() -> None:
    async def main() -> None:
        ask = Callable(delay=0.05)
        source = TokenSource(ask)
        assert source.refreshable
        assert ask.calls == 0  # asked only when first needed
        got: list[tuple[str, int]] = []

        async def one() -> None:
            got.append(await source.get())

        async with anyio.create_task_group() as group:
            for _ in range(5):
                group.start_soon(one)
        assert got == [("pat-1", 0)] * 5
        assert ask.calls == 1
        assert await source.get() == ("pat-1", 0)
        assert ask.calls == 1

    anyio.run(main)


def test_a_refresh_asks_again_once_per_expired_generation() -> None:
    async def main() -> None:
        ask = Callable(delay=0.05)
        source = TokenSource(ask)
        assert await source.get() == ("pat-1", 0)
        results: list[bool] = []

        async def refresh() -> None:
            results.append(await source.refresh(0))

        async with anyio.create_task_group() as group:
            for _ in range(4):
                group.start_soon(refresh)
        assert results == [True] * 4
        assert ask.calls == 2  # the four callers that saw generation 0 expire share one call
        assert await source.get() == ("pat-2", 1)
        assert await source.refresh(0) is True  # a stale generation: already refreshed, not asked again
        assert ask.calls == 2
        assert await source.refresh(1) is True
        assert await source.get() == ("pat-3", 2)

    anyio.run(main)


def test_a_refresh_before_the_first_get_fetches_the_first_generation() -> None:
    async def main() -> None:
        ask = Callable()
        source = TokenSource(ask)
        assert await source.refresh(0) is True
        assert ask.calls == 1
        assert await source.get() == ("pat-1", 1)
        assert ask.calls == 1

    anyio.run(main)


def test_what_a_callable_returns_is_checked() -> None:
    async def main() -> None:
        with pytest.raises(ConfigError, match=r"^the token callable returned no token$"):
            await TokenSource(Callable([None])).get()
        with pytest.raises(ConfigError, match=r"^the access token is empty$"):
            await TokenSource(Callable([" "])).get()
        with pytest.raises(ConfigError, match=r"white space or control characters"):
            await TokenSource(Callable(["pat\nx"])).get()
        assert await TokenSource(Callable([f" {SECRET} "])).get() == (SECRET, 0)

    anyio.run(main)
