"""Helpers shared by the command-line tests (no tests here): a simulator on a background thread, and
``python -m cartloader`` run as a subprocess against it over real loopback HTTP."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Coroutine, Iterator, Sequence
from pathlib import Path
from typing import Any, TypeVar

import orjson
import pytest

from cartloader.simulator import Simulator
from cartloader.simulator.state import SimStats, StoredObject

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"
TOKEN = "sim-token"
T = TypeVar("T")


class SimThread:
    """A ``Simulator`` serving from its own event loop on a daemon thread, so that tests can run the
    command line as a subprocess and still read the simulator's objects and statistics directly."""

    def __init__(self, **config: Any) -> None:
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="simulator", daemon=True)
        self._thread.start()
        self.sim = Simulator(**config)
        self._await(self.sim.start())
        self.url = self.sim.url

    def _await(self, coroutine: Coroutine[Any, Any, T]) -> T:
        return asyncio.run_coroutine_threadsafe(coroutine, self._loop).result(timeout=30)

    def _call(self, function: Callable[[], T]) -> T:
        async def call() -> T:
            return function()

        return self._await(call())

    def objects(self) -> list[StoredObject]:
        """Every stored object (a copy)."""
        return self._call(lambda: list(self.sim.objects.values()))

    def stats(self) -> SimStats:
        """A snapshot of the statistics."""
        return self._call(self.sim.stats)

    def expire_token(self, token: str) -> None:
        """From now on ``token`` gets 401 EXPIRED_AUTHENTICATION."""
        self._call(lambda: self.sim.expire_token(token))

    def close(self) -> None:
        """Stop serving and end the thread."""
        self._await(self.sim.stop())
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=10)
        self._loop.close()


Start = Callable[..., SimThread]
"""The ``simulator`` fixture: start a simulator configured like ``Simulator(**config)``."""


def simulators() -> Iterator[Callable[..., SimThread]]:
    """For a fixture: a factory of simulators (configured like ``Simulator(**config)``), all stopped after."""
    started: list[SimThread] = []

    def start(**config: Any) -> SimThread:
        sim = SimThread(**config)
        started.append(sim)
        return sim

    yield start
    for sim in started:
        sim.close()


def cli_env(token: str | None = TOKEN, **extra: str) -> dict[str, str]:
    """The environment for a subprocess: no HubSpot settings inherited, the token if given."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("HUBSPOT_") and k != "CARTLOADER_DEBUG"}
    env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    if token is not None:
        env["HUBSPOT_ACCESS_TOKEN"] = token
    env.update(extra)
    return env


def capped_env(token: str | None = TOKEN) -> dict[str, str]:
    """``cli_env`` for a child whose file sizes are capped (RLIMIT_FSIZE): without coverage's subprocess
    measurement (``pytest --cov``), whose data file the cap would also break at the child's exit."""
    env = cli_env(token)
    env.pop("COVERAGE_PROCESS_CONFIG", None)
    env.pop("COVERAGE_PROCESS_START", None)
    return env


def command(*args: str | Path) -> list[str]:
    """``python -m cartloader ARGS``."""
    return [sys.executable, "-m", "cartloader", *(str(arg) for arg in args)]


def run_cli(
    *args: str | Path,
    cwd: Path,
    token: str | None = TOKEN,
    stdin: bytes | None = None,
    timeout: float = 60,
    env: dict[str, str] | None = None,
    **popen: Any,
) -> subprocess.CompletedProcess[str]:
    """Run the command line to its end; stdout and stderr are captured as text."""
    completed = subprocess.run(
        command(*args),
        cwd=cwd,
        env=env if env is not None else cli_env(token),
        input=stdin,
        capture_output=True,
        timeout=timeout,
        check=False,
        **popen,
    )
    return subprocess.CompletedProcess(
        completed.args, completed.returncode, completed.stdout.decode(), completed.stderr.decode()
    )


def start_cli(*args: str | Path, cwd: Path, token: str | None = TOKEN, **popen: Any) -> subprocess.Popen[bytes]:
    """Start the command line without waiting (for signal tests)."""
    return subprocess.Popen(
        command(*args),
        cwd=cwd,
        env=cli_env(token),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        **popen,
    )


def log_entries(path: Path) -> list[dict[str, Any]]:
    """Every entry of an outcome log, in order."""
    return [orjson.loads(line) for line in path.read_bytes().splitlines() if line.strip()]


def last_entries(path: Path) -> dict[int, dict[str, Any]]:
    """The last entry of each line of an outcome log (the one that counts)."""
    return {entry["line"]: entry for entry in log_entries(path)}


def complete_last_entries(path: Path) -> dict[int, dict[str, Any]]:
    """Like ``last_entries``, but a torn last line (a kill may cut one) is ignored; no log yet: empty."""
    entries: dict[int, dict[str, Any]] = {}
    if not path.exists():
        return entries
    for line in path.read_bytes().split(b"\n"):
        try:
            entry = orjson.loads(line)
        except orjson.JSONDecodeError:
            continue
        entries[entry["line"]] = entry
    return entries


def statuses(path: Path) -> dict[int, str]:
    """The last status of each line of an outcome log."""
    return {line: entry["status"] for line, entry in last_entries(path).items()}


def write_carts(path: Path, count: int, *, prefix: str = "T") -> list[str]:
    """Write ``count`` valid flat carts with unique external ids; return the ids by line (index 0 = line 1)."""
    ids = [f"{prefix}-{n}" for n in range(1, count + 1)]
    with path.open("wb") as stream:
        for n, external_id in enumerate(ids, 1):
            cart = {
                "hs_cart_name": f"cart {n}",
                "hs_external_cart_id": external_id,
                "hs_total_price": round(n * 1.25, 2),
                "hs_currency_code": "EUR",
            }
            stream.write(orjson.dumps(cart) + b"\n")
    return ids


def wait_for(condition: Callable[[], bool], *, timeout: float = 20, what: str = "condition") -> None:
    """Poll ``condition`` until it holds; fail the test after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}")
        time.sleep(0.02)


def created_count(path: Path) -> int:
    """How many ``created`` entries the log holds so far (0 if it does not exist yet)."""
    try:
        return path.read_bytes().count(b'"status":"created"')
    except FileNotFoundError:
        return 0


def assert_one_line(stderr: str, *needles: str) -> None:
    """stderr holds exactly one error line, containing every needle, and no traceback."""
    errors = [line for line in stderr.splitlines() if line.startswith("cartloader: error:")]
    assert len(errors) == 1, stderr
    assert "Traceback" not in stderr
    for needle in needles:
        assert needle in errors[0], stderr


def ids_by_external_id(objects: Sequence[StoredObject]) -> dict[str, list[str]]:
    """Simulator object ids grouped by ``hs_external_cart_id``."""
    grouped: dict[str, list[str]] = {}
    for obj in objects:
        grouped.setdefault(obj.properties.get("hs_external_cart_id", ""), []).append(obj.id)
    return grouped


#: The scopes of the token the command line's --simulate portal gives (cartloader/cli/simulate.py): the simulator's
#: default ones and the sensitive lists', so that the preflight refuses an unknown property locally.
SENSITIVE_READER = frozenset(
    {
        "crm.objects.carts.write",
        "crm.objects.carts.read",
        "crm.schemas.carts.read",
        "crm.objects.contacts.read",
        "crm.objects.carts.sensitive.read",
        "crm.objects.carts.highly_sensitive.read",
    }
)
