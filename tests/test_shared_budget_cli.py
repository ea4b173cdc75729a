"""``--budget`` and ``--shard`` on the command line, run as real processes against a simulator and Redis."""

from __future__ import annotations

import os
import sys
from collections import Counter
from pathlib import Path

import anyio
import orjson
import pytest

from cartloader.cli.options import UsageError, parse_options
from cartloader.cli.setup import default_log_path, resume_command
from cartloader.simulator import Simulator
from tests.test_shared_budget_support import RedisServer, forks, free_port

pytestmark = pytest.mark.anyio

SECRET = "s3cret-pw"


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env["HUBSPOT_ACCESS_TOKEN"] = "sim-token"
    env.pop("HUBSPOT_BASE_URL", None)
    root = str(Path(__file__).resolve().parent.parent)
    env["PYTHONPATH"] = root + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    return env


def _write_input(path: Path, count: int) -> None:
    lines = [
        orjson.dumps({"hs_cart_name": f"cart {i}", "hs_external_cart_id": f"ext-{i}"}) for i in range(1, count + 1)
    ]
    path.write_bytes(b"\n".join(lines) + b"\n")


async def _cli(cwd: Path, *args: str) -> tuple[int, str]:
    result = await anyio.run_process(
        [sys.executable, "-m", "cartloader", *args, "--no-progress"], cwd=cwd, env=_env(), check=False
    )
    return result.returncode, result.stderr.decode()


def test_shard_option_takes_i_of_n() -> None:
    assert parse_options(["in.ndjson", "--shard", "2/3"]).shard == (2, 3)
    for bad in ("3/3", "-1/3", "0/0", "1", "a/b"):
        with pytest.raises(UsageError, match="0 <= I < N"):
            parse_options(["in.ndjson", f"--shard={bad}"])


def test_default_log_names_are_per_shard() -> None:
    assert default_log_path("data/carts.ndjson.gz", (1, 3)) == "carts.shard-1-of-3.outcomes.ndjson"
    assert default_log_path("-", (0, 2)) == "shard-0-of-2.outcomes.ndjson"
    assert default_log_path("carts.ndjson") == "carts.outcomes.ndjson"


def test_a_bad_budget_url_is_a_usage_error_that_hides_the_password() -> None:
    with pytest.raises(UsageError) as info:
        parse_options(["in.ndjson", "--budget", f"http://:{SECRET}@host:6379/0?key=a"])
    assert SECRET not in str(info.value)


def test_the_resume_hint_hides_the_budget_password() -> None:
    command = resume_command(["in.ndjson", "--budget", f"redis://:{SECRET}@host:6379/0?key=a", "--overwrite"])
    assert SECRET not in command
    assert "redis://:***@host:6379/0?key=a" in command


async def test_redis_unreachable_at_start_exits_2_with_one_line_and_sends_nothing(tmp_path: Path) -> None:
    _write_input(tmp_path / "carts.ndjson", 5)
    budget = f"redis://:{SECRET}@127.0.0.1:{free_port()}/0?key=t"
    async with Simulator() as sim:
        status, stderr = await _cli(tmp_path, "carts.ndjson", "--base-url", sim.url, "--budget", budget)
        assert sim.stats().requests == 0
    assert status == 2
    assert stderr.startswith("cartloader: error: cannot reach Redis for the shared budget at redis://:***@127.0.0.1:")
    assert stderr.count("\n") == 1
    assert SECRET not in stderr
    assert not (tmp_path / "carts.outcomes.ndjson").exists()


@pytest.mark.timing
async def test_three_shards_under_one_budget_create_every_record_once(
    tmp_path: Path, redis_server: RedisServer
) -> None:
    total = 60
    _write_input(tmp_path / "carts.ndjson", total)
    budget = redis_server.url("shards")
    async with Simulator(rate="30/1s") as sim:
        # Forked from one process that imported the command line once: the three start together.
        runs = [
            ["carts.ndjson", "--base-url", sim.url, "--budget", budget, "--shard", f"{i}/3", "--batch-size", "2",
             "--no-progress"]
            for i in range(3)
        ]  # fmt: skip
        results = await anyio.to_thread.run_sync(lambda: forks().run(runs, cli=True, cwd=str(tmp_path), env=_env()))
        for status, _, stderr in results:
            assert status == 0, stderr
        ids = Counter(obj.properties["hs_external_cart_id"] for obj in sim.objects.values())
        assert sim.stats().rate_limited.get("TEN_SECONDLY_ROLLING", 0) <= 1  # an arrival at the window's edge
    assert ids == Counter(f"ext-{i}" for i in range(1, total + 1))
    for i in range(3):
        log = tmp_path / f"carts.shard-{i}-of-3.outcomes.ndjson"
        final = {e["line"]: e["status"] for e in map(orjson.loads, log.read_bytes().splitlines())}
        assert final == dict.fromkeys(range(i + 1, total + 1, 3), "created")
