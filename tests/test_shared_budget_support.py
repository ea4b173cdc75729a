"""Helpers for the shared-budget tests (no tests here): a real Redis server on a loopback port, and a
loader process (``python -m tests.test_shared_budget_support``) to run several of against one simulator."""

from __future__ import annotations

import argparse
import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Sequence
from typing import Any

import anyio
import orjson

REDIS_SERVER = shutil.which("redis-server")


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class RedisServer:
    """``redis-server`` on 127.0.0.1 without persistence, as a subprocess that can be killed and restarted."""

    def __init__(self, port: int, password: str | None = None) -> None:
        self.port = port
        self.password = password
        self._proc: subprocess.Popen[bytes] | None = None

    def url(self, key: str) -> str:
        """A budget URL for ``key`` on this server."""
        auth = f":{self.password}@" if self.password else ""
        return f"redis://{auth}127.0.0.1:{self.port}/0?key={key}"

    def start(self) -> None:
        """Start the server and wait until it accepts connections."""
        assert REDIS_SERVER is not None
        args = [REDIS_SERVER, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]
        if self.password:
            args += ["--requirepass", self.password]
        self._proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 10
        while True:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2) as sock:
                    sock.sendall(b"PING\r\n")
                    reply = sock.recv(64)
                if reply.startswith((b"+PONG", b"-NOAUTH")):
                    return
            except OSError:
                pass
            if self._proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"redis-server did not start on port {self.port}")
            time.sleep(0.02)

    def kill(self) -> None:
        """Kill the server at once (SIGKILL): everything it held is lost."""
        if self._proc is not None:
            self._proc.kill()
            self._proc.wait()
            self._proc = None


def require_redis_server() -> None:
    """Skip the calling test when Debian's ``redis-server`` is not installed."""
    if REDIS_SERVER is None:
        import pytest  # here, not at the top: the loader processes started from this module never need it

        pytest.skip("redis-server is not installed (apt-get install redis-server; .ci/run installs it)")


def carts(first: int, count: int) -> list[dict[str, Any]]:
    """Valid carts numbered ``first`` .. ``first + count - 1``, each with a unique external id."""
    return [
        {"properties": {"hs_cart_name": f"cart {i}", "hs_external_cart_id": f"ext-{i}"}}
        for i in range(first, first + count)
    ]


async def run_loaders(
    base_url: str,
    *,
    processes: int,
    records_each: int,
    budget: str | None,
    rate: str | None = None,
    batch_size: int = 2,
    concurrency: int = 4,
) -> list[dict[str, Any]]:
    """Run ``processes`` loader processes at once, each loading its own ``records_each`` carts into
    ``base_url``; return their summaries (as JSON objects)."""
    summaries: list[dict[str, Any]] = [{} for _ in range(processes)]

    async def one(index: int) -> None:
        argv = [
            sys.executable,
            "-m",
            "tests.test_shared_budget_support",
            base_url,
            "--first",
            str(index * records_each),
            "--count",
            str(records_each),
            "--batch-size",
            str(batch_size),
            "--concurrency",
            str(concurrency),
        ]
        if budget is not None:
            argv += ["--budget", budget]
        if rate is not None:
            argv += ["--rate", rate]
        result = await anyio.run_process(argv, check=False)
        assert result.returncode == 0, result.stderr.decode()
        summaries[index] = orjson.loads(result.stdout.splitlines()[-1])
        summaries[index]["stderr"] = result.stderr.decode()

    async with anyio.create_task_group() as group:
        for index in range(processes):
            group.start_soon(one, index)
    return summaries


async def _load(options: argparse.Namespace) -> dict[str, Any]:
    import logging

    from cartloader import bulk_create

    logging.basicConfig(level=logging.WARNING, format="%(message)s")
    if os.environ.get("CARTLOADER_TEST_DEBUG"):
        logging.getLogger("cartloader").setLevel(logging.DEBUG)
    summary = await bulk_create(
        carts(options.first, options.count),
        token="sim-token",
        base_url=options.base_url,
        concurrency=options.concurrency,
        rate=options.rate,
        batch_size=options.batch_size,
        budget=options.budget,
        max_attempts=20,
    )
    return {
        "created": summary.created,
        "failed": summary.failed,
        "requests": summary.requests,
        "rate_limited": summary.rate_limited,
        "elapsed_s": summary.elapsed_s,
    }


def main(argv: Sequence[str] | None = None) -> None:
    """Load carts ``--first`` .. into the simulator at BASE_URL; print the summary as one JSON line."""
    parser = argparse.ArgumentParser()
    parser.add_argument("base_url")
    parser.add_argument("--first", type=int, default=0)
    parser.add_argument("--count", type=int, default=100)
    parser.add_argument("--batch-size", type=int, default=2)
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--budget")
    parser.add_argument("--rate")
    options = parser.parse_args(argv)
    result = anyio.run(_load, options)
    sys.stdout.write(orjson.dumps(result).decode() + "\n")


if __name__ == "__main__":
    main()
