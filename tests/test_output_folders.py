"""Every output path's folder is checked before anything is read or sent: missing or not writable is exit 2."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.test_cli_support import Start, assert_one_line, run_cli, write_carts


@pytest.mark.parametrize("option", ["--summary-json", "--rejects", "--out"])
def test_an_output_into_a_missing_folder_is_refused_before_sending(
    simulator: Start, tmp_path: Path, option: str
) -> None:
    sim = simulator()
    source = tmp_path / "carts.ndjson"
    write_carts(source, 3)
    result = run_cli(source, "--base-url", sim.url, option, tmp_path / "missing" / "file", cwd=tmp_path)
    assert result.returncode == 2, result.stderr
    assert_one_line(result.stderr, "does not exist")
    assert sim.stats().requests == 0
