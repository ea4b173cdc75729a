"""Shared test configuration: every async test runs on asyncio through the anyio plugin."""

from __future__ import annotations

import pytest


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"
