"""No message shows a Redis password or the token, even when what it quotes does: a real Redis behind a proxy
that, when told to, answers every command with an error quoting the password (decoded, and the budget URL as
written); the password holds a ``/``. Every path that formats a budget URL or a Redis error is driven: joining
(library ``ConfigError`` and its traceback, command-line stderr), losing Redis mid-run (the warning, ``repr``,
``statistics``), rejoining, and a command-line load that loses and regains Redis (stderr, the outcome log, its meta
file, the summary JSON). And a token file holding a trailing newline works, and one holding two lines is refused,
without either showing the token."""

from __future__ import annotations

import logging
import socket
import subprocess
import threading
import time
import traceback
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import anyio
import pytest

from cartloader import ConfigError
from cartloader.budget.shared import SharedBudget
from tests.test_cli_support import Start, assert_one_line, cli_env, command, run_cli, write_carts
from tests.test_shared_budget_support import RedisServer, free_port, require_redis_server

PASSWORD = "Zx9/SECRETpw+q"
MARK = "SECRETpw"
TOKEN = "pat-na1-TOKENSECRET-55aa"
TOKEN_MARK = "TOKENSECRET"


class QuotingProxy:
    """A TCP proxy in front of a real Redis. While ``quoting``, every chunk a client sends is answered with an
    error that quotes the password and the budget URL (as a careless server or proxy might), not forwarded."""

    def __init__(self, upstream_port: int, error: bytes) -> None:
        self.quoting = False
        self._upstream = upstream_port
        self._error = error
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port: int = self._listener.getsockname()[1]
        self._closed = False
        self._sockets: list[socket.socket] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def url(self, key: str) -> str:
        return f"redis://:{quote(PASSWORD, safe='')}@127.0.0.1:{self.port}/0?key={key}"

    def _accept(self) -> None:
        while not self._closed:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            upstream = socket.create_connection(("127.0.0.1", self._upstream))
            self._sockets += [client, upstream]
            threading.Thread(target=self._pump, args=(client, upstream, True), daemon=True).start()
            threading.Thread(target=self._pump, args=(upstream, client, False), daemon=True).start()

    def _pump(self, source: socket.socket, target: socket.socket, from_client: bool) -> None:
        try:
            while chunk := source.recv(65536):
                if from_client and self.quoting:
                    source.sendall(self._error)
                else:
                    target.sendall(chunk)
        except OSError:
            pass
        finally:
            for sock in (source, target):
                try:
                    sock.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

    def close(self) -> None:
        self._closed = True
        self._listener.close()
        for sock in self._sockets:
            sock.close()


@pytest.fixture
def proxy() -> Iterator[QuotingProxy]:
    require_redis_server()
    server = RedisServer(free_port(), password=PASSWORD)
    server.start()
    error = f"-ERR invalid password '{PASSWORD}' for {server.url('t')}\r\n".encode()
    assert quote(PASSWORD, safe="").encode() in error and PASSWORD.encode() in error
    front = QuotingProxy(server.port, error)
    try:
        yield front
    finally:
        front.close()
        server.kill()


def _assert_hidden(text: str | bytes, where: str) -> None:
    data = text.encode() if isinstance(text, str) else text
    assert MARK.encode() not in data, f"the Redis password appears in {where}"
    assert quote(MARK).encode() not in data


@pytest.mark.anyio
async def test_joining_through_an_error_quoting_the_password_is_a_config_error_without_it(
    proxy: QuotingProxy,
) -> None:
    proxy.quoting = True
    budget = SharedBudget.from_url(proxy.url("join"), rate="20/1s")
    with pytest.raises(ConfigError) as info:
        await budget.connect()
    message = str(info.value)
    assert message.startswith(f"cannot reach Redis for the shared budget at redis://:***@127.0.0.1:{proxy.port}/0")
    assert "invalid password '***'" in message  # the server's reason is kept, its secret masked
    _assert_hidden(message, "the ConfigError")
    _assert_hidden(repr(info.value), "repr(ConfigError)")
    _assert_hidden("".join(traceback.format_exception(info.value)), "the traceback")
    _assert_hidden(repr(budget), "repr(SharedBudget)")


@pytest.mark.anyio
async def test_losing_redis_to_an_error_quoting_the_password_warns_and_rejoins_without_it(
    proxy: QuotingProxy, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="cartloader")
    async with SharedBudget.from_url(proxy.url("lost"), rate="100/1s", rejoin_after_s=0.2) as budget:
        await budget.acquire()
        proxy.quoting = True
        for _ in range(3):
            await budget.acquire()
        assert budget.statistics().fallback
        _assert_hidden(repr(budget), "repr(SharedBudget) on its fallback")
        _assert_hidden(repr(budget.statistics()), "statistics()")
        proxy.quoting = False
        await anyio.sleep(0.3)
        await budget.acquire()
        assert not budget.statistics().fallback
    messages = [record.getMessage() for record in caplog.records]
    lost = [m for m in messages if "lost Redis" in m]
    assert len(lost) == 1 and "invalid password '***'" in lost[0], messages
    assert any("is back; rejoined" in m for m in messages)
    for record in caplog.records:
        _assert_hidden(record.getMessage(), "the library's logging")
        if record.exc_info and record.exc_info[1] is not None:
            _assert_hidden("".join(traceback.format_exception(record.exc_info[1])), "a logged exception")


def test_the_command_line_never_shows_the_password_quoted_by_redis_at_start(
    tmp_path: Path, proxy: QuotingProxy
) -> None:
    write_carts(tmp_path / "carts.ndjson", 3)
    proxy.quoting = True
    result = run_cli("carts.ndjson", "--simulate", "--budget", proxy.url("cli"), cwd=tmp_path, token=None)
    assert result.returncode == 2, result.stderr
    assert_one_line(result.stderr, "cannot reach Redis for the shared budget at redis://:***@", "invalid password")
    _assert_hidden(result.stderr + result.stdout, "the command line's output")


def test_a_command_line_load_losing_redis_to_a_quoting_error_never_shows_the_password(
    tmp_path: Path, proxy: QuotingProxy, simulator: Start
) -> None:
    sim = simulator(rate="100/1s")
    write_carts(tmp_path / "carts.ndjson", 60)
    args = (
        "carts.ndjson",
        "--base-url",
        sim.url,
        "--budget",
        proxy.url("run"),
        "--rate",
        "10/1s",
        "--batch-size",
        "1",
        "--concurrency",
        "2",
        "--no-progress",
        "--summary-json",
        "s.json",
        "--log-format",
    )
    texts: list[bytes] = []
    for log_format in ("text", "json"):
        proc = subprocess.Popen(command(*args, log_format, "--out", f"{log_format}.ndjson"), cwd=tmp_path,
                                env=cli_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE)  # fmt: skip
        log = tmp_path / f"{log_format}.ndjson"
        deadline = time.monotonic() + 30
        while not (log.exists() and b'"created"' in log.read_bytes()):  # joined, and loading
            assert proc.poll() is None and time.monotonic() < deadline, proc.communicate()[1]
            time.sleep(0.05)
        proxy.quoting = True
        time.sleep(1.0)
        proxy.quoting = False
        stdout, stderr = proc.communicate(timeout=60)
        assert proc.returncode == 0, stderr
        assert b"lost Redis" in stderr and b"invalid password '***'" in stderr, stderr
        texts += [stdout, stderr]
    for number, text in enumerate(texts):
        _assert_hidden(text, f"output {number}")
    for path in tmp_path.iterdir():
        _assert_hidden(path.read_bytes(), path.name)


# -- the token file ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("ending", ["\n", "\r\n", "\n\n", " \n"])
def test_a_token_file_with_a_trailing_newline_works_and_never_shows_the_token(
    tmp_path: Path, simulator: Start, ending: str
) -> None:
    sim = simulator(tokens={TOKEN: frozenset({"crm.objects.carts.write", "crm.schemas.carts.read"})})
    write_carts(tmp_path / "carts.ndjson", 5)
    (tmp_path / "token.txt").write_bytes((TOKEN + ending).encode())
    result = run_cli(
        "carts.ndjson", "--base-url", sim.url, "--token-file", "token.txt", "--summary-json", "s.json",
        "--rejects", "r.ndjson", cwd=tmp_path, token=None,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert TOKEN_MARK not in result.stdout + result.stderr
    for path in tmp_path.iterdir():
        if path.name != "token.txt":
            assert TOKEN_MARK.encode() not in path.read_bytes(), path.name


@pytest.mark.parametrize("content", [f"{TOKEN}\nsecond-line\n", f"pat {TOKEN}\n", f"{TOKEN}\x00\n"])
def test_a_token_file_holding_more_than_one_token_line_is_refused_without_showing_it(
    tmp_path: Path, simulator: Start, content: str
) -> None:
    sim = simulator(tokens={TOKEN: frozenset({"crm.objects.carts.write"})})
    write_carts(tmp_path / "carts.ndjson", 2)
    (tmp_path / "token.txt").write_text(content)
    result = run_cli("carts.ndjson", "--base-url", sim.url, "--token-file", "token.txt", cwd=tmp_path, token=None)
    assert result.returncode == 2, result.stderr
    assert_one_line(result.stderr, "white space or control characters")
    assert TOKEN_MARK not in result.stdout + result.stderr
    assert sim.stats().requests == 0
