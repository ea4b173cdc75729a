"""A host whose name never resolves: the run ends (exit 3) in seconds, naming DNS, never a missing scope."""

from __future__ import annotations

import time
from pathlib import Path

from tests.test_cli_support import run_cli, write_carts


def test_a_host_that_does_not_resolve_ends_the_run_naming_dns(tmp_path: Path) -> None:
    source = tmp_path / "carts.ndjson"
    write_carts(source, 5)
    started = time.monotonic()
    result = run_cli(source, "--base-url", "https://cartloader-no-such-host.invalid", cwd=tmp_path)
    assert time.monotonic() - started < 60
    assert result.returncode == 3, result.stderr
    assert "DNS" in result.stderr
    assert "scope" not in result.stderr
    assert "does not resolve" in result.stderr
