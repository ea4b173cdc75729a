"""Exit statuses of ``python -m cartloader``: 2 for each kind of refusal before sending, 3 for fatal API
conditions, 4 for an outcome log that becomes unwritable, and one clear error line each time."""

from __future__ import annotations

import gzip
import resource
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.test_cli_support import (
    EXAMPLES,
    Start,
    assert_one_line,
    capped_env,
    created_count,
    run_cli,
    start_cli,
    statuses,
    wait_for,
    write_carts,
)


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["--concurrency", "0"], "--concurrency"),
        (["--batch-size", "101"], "--batch-size"),
        (["--rate", "fast"], "--rate"),
        (["--retry-failed"], "--retry-failed only makes sense with --resume"),
        (["--resume", "--overwrite"], "exclude each other"),
        (["--no-such-option"], "unrecognized arguments: --no-such-option"),
        (["--base-url", "http://crm.example.com"], "refusing plain-http base URL"),
        (["--base-url", "ftp://example.com"], "invalid base URL"),
    ],
)
def test_a_bad_option_exits_2_with_one_error_line_and_sends_nothing(
    tmp_path: Path, simulator: Start, args: list[str], needle: str
) -> None:
    result = run_cli(EXAMPLES / "carts.ndjson", *args, cwd=tmp_path)
    assert result.returncode == 2
    assert_one_line(result.stderr, needle)
    assert list(tmp_path.iterdir()) == []


def test_no_token_exits_2_naming_where_a_token_comes_from(tmp_path: Path) -> None:
    result = run_cli(EXAMPLES / "carts.ndjson", cwd=tmp_path, token=None)
    assert result.returncode == 2
    assert_one_line(result.stderr, "no access token", "HUBSPOT_ACCESS_TOKEN", "--token-file")
    assert list(tmp_path.iterdir()) == []


def test_a_missing_or_empty_token_file_exits_2(tmp_path: Path) -> None:
    missing = run_cli(EXAMPLES / "carts.ndjson", "--token-file", "nope.txt", cwd=tmp_path, token=None)
    assert missing.returncode == 2
    assert_one_line(missing.stderr, "cannot read token file nope.txt")
    (tmp_path / "empty.txt").write_text("\n")
    empty = run_cli(EXAMPLES / "carts.ndjson", "--token-file", "empty.txt", cwd=tmp_path, token=None)
    assert empty.returncode == 2
    assert_one_line(empty.stderr, "token file empty.txt is empty")


def test_the_token_file_is_used_when_given(tmp_path: Path, simulator: Start) -> None:
    sim = simulator()
    (tmp_path / "token.txt").write_text("sim-token\n")
    result = run_cli(
        EXAMPLES / "carts.ndjson", "--base-url", sim.url, "--token-file", "token.txt", cwd=tmp_path, token=None
    )
    assert result.returncode == 0, result.stderr
    assert len(sim.objects()) == 800


def test_the_token_file_is_read_again_when_hubspot_says_the_token_expired(tmp_path: Path, simulator: Start) -> None:
    write = frozenset({"crm.objects.carts.write"})
    sim = simulator(tokens={"old-token": write, "new-token": write}, rate="20/1s", latency_ms=(100, 200))
    token_file = tmp_path / "token.txt"
    token_file.write_text("old-token\n")
    source = tmp_path / "carts.ndjson"
    write_carts(source, 400)
    log = tmp_path / "carts.outcomes.ndjson"
    process = start_cli(
        source, "--base-url", sim.url, "--token-file", token_file, "--batch-size", "20", cwd=tmp_path, token=None
    )
    wait_for(lambda: created_count(log) >= 60, what="60 records created")
    token_file.write_text("new-token\n")
    sim.expire_token("old-token")
    _, stderr = process.communicate(timeout=30)
    assert process.returncode == 0, stderr.decode()
    assert set(statuses(log).values()) == {"created"}
    assert len(sim.objects()) == 400
    assert sim.stats().by_status.get(401, 0) >= 1


@pytest.mark.parametrize("kind", ["missing", "directory", "not gzip"])
def test_an_unreadable_input_exits_2(tmp_path: Path, kind: str) -> None:
    if kind == "missing":
        source = tmp_path / "missing.ndjson"
    elif kind == "directory":
        source = tmp_path / "folder.ndjson"
        source.mkdir()
    else:
        source = tmp_path / "fake.ndjson.gz"
        source.write_text('{"hs_cart_name": "not compressed"}\n')
    result = run_cli(source, "--simulate", cwd=tmp_path)
    assert result.returncode == 2
    assert_one_line(result.stderr, "cannot read input")
    assert not any(path.name.endswith(".outcomes.ndjson") for path in tmp_path.iterdir())


def test_resuming_a_log_made_from_another_input_exits_2(tmp_path: Path, simulator: Start) -> None:
    sim = simulator()
    first, second = tmp_path / "a.ndjson", tmp_path / "b.ndjson"
    write_carts(first, 5, prefix="A")
    write_carts(second, 5, prefix="B")
    assert run_cli(first, "--base-url", sim.url, "--out", "log.ndjson", cwd=tmp_path).returncode == 0
    requests = sim.stats().requests
    result = run_cli(second, "--base-url", sim.url, "--out", "log.ndjson", "--resume", cwd=tmp_path)
    assert result.returncode == 2
    assert_one_line(result.stderr, "belongs to another input")
    assert sim.stats().requests == requests


@pytest.mark.parametrize(
    ("scopes", "category"), [(None, "HubSpot refused the access token"), ({"crm.objects.carts.read"}, "MISSING_SCOPES")]
)
def test_a_bad_token_or_missing_scopes_exits_3_and_says_how_to_resume(
    tmp_path: Path, simulator: Start, scopes: set[str] | None, category: str
) -> None:
    tokens = {"other-token": frozenset({"crm.objects.carts.write"})}
    if scopes is not None:
        tokens["sim-token"] = frozenset(scopes)
    sim = simulator(tokens=tokens)
    result = run_cli(EXAMPLES / "carts.ndjson", "--base-url", sim.url, cwd=tmp_path)
    assert result.returncode == 3, result.stderr
    assert_one_line(result.stderr, "stopped by HubSpot", category)
    assert "--resume" in result.stderr
    assert sim.objects() == []
    assert "created" not in set(statuses(tmp_path / "carts.outcomes.ndjson").values())


def test_a_daily_limit_too_small_for_the_load_warns_once_then_exits_3(tmp_path: Path, simulator: Start) -> None:
    # The preflight's two reads, the association labels of the seven documented cart pairs (the examples associate by
    # id: engine/association_types.py), then four batches of 50.
    sim = simulator(daily=2 + 7 + 4)
    result = run_cli(EXAMPLES / "carts.ndjson", "--base-url", sim.url, "--batch-size", "50", cwd=tmp_path)
    assert result.returncode == 3, result.stderr
    warnings = [line for line in result.stderr.splitlines() if line.startswith("cartloader: warning:")]
    assert len(warnings) == 1
    assert "daily limit" in warnings[0]
    assert_one_line(result.stderr, "daily request limit")
    assert len(sim.objects()) == 200


def _limit_file_size(limit: int) -> Callable[[], None]:
    def apply() -> None:
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))  # writes beyond it fail with EFBIG

    return apply


def test_an_outcome_log_that_becomes_unwritable_mid_run_exits_4(tmp_path: Path, simulator: Start) -> None:
    sim = simulator()
    result = run_cli(
        EXAMPLES / "carts.ndjson",
        "--base-url",
        sim.url,
        "--batch-size",
        "20",
        "--concurrency",
        "1",
        cwd=tmp_path,
        env=capped_env(),
        preexec_fn=_limit_file_size(30_000),
    )
    assert result.returncode == 4, result.stderr
    assert_one_line(result.stderr, "cannot write outcome log carts.outcomes.ndjson")
    assert sim.stats().requests >= 1


def test_an_input_that_breaks_off_mid_run_exits_4_with_the_summary_and_the_resume_command(
    tmp_path: Path, simulator: Start
) -> None:
    plain = tmp_path / "carts.ndjson"
    write_carts(plain, 20_000)
    compressed = gzip.compress(plain.read_bytes())
    truncated = tmp_path / "carts.ndjson.gz"
    truncated.write_bytes(compressed[: len(compressed) // 2])  # the reader gets a few blocks, then the break
    sim = simulator()
    result = run_cli(truncated, "--base-url", sim.url, cwd=tmp_path)
    assert result.returncode == 4, result.stderr
    assert_one_line(result.stderr, "cannot read input", "carts.ndjson.gz", "truncated")
    assert "records:" in result.stderr  # the summary
    assert "--resume" in result.stderr
    logged = statuses(tmp_path / "carts.outcomes.ndjson")
    created = [line for line, status in logged.items() if status == "created"]
    assert sim.stats().requests >= 1
    assert len(created) == len(sim.objects()) > 0  # every object HubSpot made has its outcome
    assert set(logged.values()) == {"created"}


def test_an_input_that_breaks_off_before_its_first_batch_exits_2_although_the_preflight_read_the_schema(
    tmp_path: Path, simulator: Start
) -> None:
    plain = tmp_path / "carts.ndjson"
    write_carts(plain, 3_000)
    truncated = tmp_path / "carts.ndjson.gz"
    truncated.write_bytes(gzip.compress(plain.read_bytes())[:400])  # a few records, far from a batch of 100
    sim = simulator()
    result = run_cli(truncated, "--base-url", sim.url, cwd=tmp_path)
    assert result.returncode == 2, result.stderr
    assert_one_line(result.stderr, "cannot read input", "carts.ndjson.gz", "truncated")
    assert sim.stats().requests == 2  # the preflight's two schema reads, no batch
    assert sim.objects() == []
