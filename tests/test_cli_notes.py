"""One-line notes a newcomer needs: a dry run without a token says the schema was not checked; `--simulate
--upsert-by` says the simulator starts empty each run."""

from __future__ import annotations

from pathlib import Path

from tests.test_cli_support import run_cli, write_carts


def test_a_dry_run_without_a_token_says_the_schema_was_not_checked(tmp_path: Path) -> None:
    source = tmp_path / "carts.ndjson"
    write_carts(source, 3)
    result = run_cli(source, "--dry-run", cwd=tmp_path, token=None)
    assert result.returncode == 0, result.stderr
    assert "schema not checked (no token)" in result.stderr


def test_simulate_with_upsert_says_the_simulator_starts_empty(tmp_path: Path) -> None:
    source = tmp_path / "carts.ndjson"
    write_carts(source, 3)
    result = run_cli(source, "--simulate", "--upsert-by", "hs_external_cart_id", "--no-progress", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stderr.count("starts an empty simulator each run") == 1
