"""Shared test configuration: every async test runs on asyncio through the anyio plugin; CLI tests get
simulators running in their own threads."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.test_cli_support import Start, simulators


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def simulator() -> Iterator[Start]:
    """A factory of simulators served from background threads, all stopped after the test."""
    yield from simulators()
