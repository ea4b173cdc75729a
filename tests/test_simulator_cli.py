"""The simulator's command line, run as a real subprocess."""

from __future__ import annotations

import re
import signal
import subprocess
import sys

import aiohttp
import anyio
import pytest

from cartloader.simulator.cli import build_parser, config_from_args, main
from tests.test_simulator_support import CREATE

pytestmark = pytest.mark.anyio

LISTENING = re.compile(r"^listening on (http://127\.0\.0\.1:\d+)$")


def _start(*args: str) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


async def _serve_one_request(proc: subprocess.Popen[str], token: str) -> int:
    assert proc.stdout is not None
    line = await anyio.to_thread.run_sync(proc.stdout.readline)
    match = LISTENING.match(line.rstrip("\n"))
    assert match, line
    async with aiohttp.ClientSession() as session:
        body = {"inputs": [{"properties": {"hs_cart_name": "x"}}]}
        async with session.post(match[1] + CREATE, json=body, headers={"Authorization": f"Bearer {token}"}) as r:
            return r.status


@pytest.mark.parametrize("entry", [["-m", "cartloader", "simulator"], ["-m", "cartloader.simulator"]])
@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
async def test_cli_prints_listening_serves_and_exits_0_on_signal(entry: list[str], signum: int) -> None:
    proc = _start(*entry, "--port", "0", "--seed", "1", "--token", "cli-token", "--rate", "10/1s")
    try:
        assert await _serve_one_request(proc, "cli-token") == 201
        proc.send_signal(signum)
        code = await anyio.to_thread.run_sync(lambda: proc.wait(10))
    finally:
        proc.kill()
        _, stderr = proc.communicate()
    assert code == 0
    assert "Traceback" not in stderr


async def test_cli_token_with_other_scopes_gets_403() -> None:
    proc = _start("-m", "cartloader.simulator", "--token", "reader:crm.objects.carts.read")
    try:
        assert await _serve_one_request(proc, "reader") == 403
    finally:
        proc.terminate()
        proc.communicate()


@pytest.mark.parametrize(
    "args",
    [
        ["--rate", "lots"],
        ["--fault", "gremlin=1"],
        ["--fault", "pre_503=x"],
        ["--latency-ms", "a"],
        ["--bogus"],
        ["--whole-batch-400", "3"],
        ["--fault", "pre_503=0.7", "--fault", "post_500=0.7"],
    ],
)
def test_bad_options_exit_2_with_one_line_on_stderr(args: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    assert main(args) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert err.startswith("python -m cartloader simulator: error: ")


def test_options_build_the_config() -> None:
    args = build_parser().parse_args(
        [
            "--token",
            "a",
            "--token",
            "b:x,y",
            "--rate",
            "190/10s",
            "--daily",
            "7",
            "--latency-ms",
            "300,1000",
            "--fault",
            "post_500=0.1",
            "--seed",
            "3",
            "--unique",
            "hs_cart_name",
            "--no-store",
            "--echo-trace-ids",
            "never",
            "--whole-batch-400",
            "0.5",
            "--retry-after",
            "2",
        ]
    )
    config = config_from_args(args)
    scopes = frozenset({"crm.objects.carts.write", "crm.schemas.carts.read", "crm.objects.contacts.read"})
    assert dict(config.tokens) == {"a": scopes, "b": frozenset({"x", "y"})}
    assert str(config.rate) == "190/10s"
    assert (config.daily, config.latency_ms, config.seed) == (7, (300.0, 1000.0), 3)
    assert dict(config.faults) == {"post_500": 0.1}
    assert config.unique == ("hs_cart_name",)
    assert (config.store, config.echo_trace_ids, config.whole_batch_400, config.retry_after_s) == (
        False,
        "never",
        0.5,
        2.0,
    )


def test_single_latency_value_means_constant_latency() -> None:
    config = config_from_args(build_parser().parse_args(["--latency-ms", "250"]))
    assert config.latency_ms == (250.0, 250.0)
