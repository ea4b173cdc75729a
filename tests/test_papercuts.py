"""Small things a new user meets in the first hour: ``--version``, long options never abbreviated (and a token typed
on the command line never echoed), ``--echo`` repeatable with a warning for a property no record has, ``--out -``,
and the resume hint naming the command the user ran."""

from __future__ import annotations

import subprocess
import sys
from importlib import metadata
from pathlib import Path

import orjson

from cartloader.hubspot.transport import USER_AGENT
from cartloader.outcomes.meta import RunMeta
from tests.test_cli_support import Start, assert_one_line, cli_env, last_entries, run_cli, write_carts

SCRIPT = Path(sys.executable).parent / "cartloader"


def test_version_prints_the_installed_version(tmp_path: Path) -> None:
    result = run_cli("--version", cwd=tmp_path)
    assert result.returncode == 0
    assert result.stdout.strip() == f"cartloader {metadata.version('cartloader')}"


def test_the_user_agent_and_the_meta_file_name_the_installed_version() -> None:
    assert USER_AGENT.startswith(f"cartloader/{metadata.version('cartloader')} ")
    assert RunMeta.new(None).version == metadata.version("cartloader")


def test_a_long_option_is_never_abbreviated_and_a_token_on_the_command_line_is_never_shown(tmp_path: Path) -> None:
    source = tmp_path / "carts.ndjson"
    write_carts(source, 2)
    for args in (("--token", "pat-na1-s3cr3t"), ("--token=pat-na1-s3cr3t",)):
        result = run_cli(source, *args, "--simulate", cwd=tmp_path)
        assert result.returncode == 2
        assert_one_line(result.stderr, "unrecognized arguments: --token", "--token-file")
        assert "s3cr3t" not in result.stderr + result.stdout
    abbreviated = run_cli(source, "--summ", "s.json", "--simulate", cwd=tmp_path)
    assert abbreviated.returncode == 2
    assert_one_line(abbreviated.stderr, "unrecognized arguments: --summ")
    assert not (tmp_path / "s.json").exists()


def test_echo_is_repeatable_and_a_property_no_record_has_is_warned_about(tmp_path: Path, simulator: Start) -> None:
    sim = simulator()
    source = tmp_path / "carts.ndjson"
    write_carts(source, 5)
    result = run_cli(
        source, "--base-url", sim.url, "--echo", "hs_external_cart_id", "--echo", "hs_cart_name",
        "--echo", "hs_external_card_id", cwd=tmp_path,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    entry = last_entries(tmp_path / "carts.outcomes.ndjson")[3]
    assert (entry["hs_external_cart_id"], entry["hs_cart_name"]) == ("T-3", "cart 3")
    warnings = [line for line in result.stderr.splitlines() if line.startswith("cartloader: warning:")]
    assert len(warnings) == 1
    assert "--echo hs_external_card_id: no record had this property" in warnings[0]


def test_out_dash_writes_the_outcome_log_to_stdout_and_nothing_else_there(tmp_path: Path, simulator: Start) -> None:
    sim = simulator()
    source = tmp_path / "carts.ndjson"
    write_carts(source, 7)
    result = run_cli(source, "--base-url", sim.url, "--out", "-", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    entries = [orjson.loads(line) for line in result.stdout.splitlines()]
    assert [e["status"] for e in entries].count("pending") == 7
    assert sorted(e["line"] for e in entries if e["status"] == "created") == list(range(1, 8))
    assert "outcome log: stdout" in result.stderr
    assert sorted(path.name for path in tmp_path.iterdir()) == ["carts.ndjson"]  # no log file, no meta file

    resumed = run_cli(source, "--base-url", sim.url, "--out", "-", "--resume", cwd=tmp_path)
    assert resumed.returncode == 2
    assert_one_line(resumed.stderr, "--out - writes the outcome log to stdout, which cannot be resumed")


def test_out_dash_redirected_onto_the_input_is_refused_and_the_input_kept(tmp_path: Path, simulator: Start) -> None:
    sim = simulator()
    source = tmp_path / "carts.ndjson"
    write_carts(source, 3)
    before = source.read_bytes()
    with source.open("ab") as stdout:  # as `>> carts.ndjson` would
        completed = subprocess.run(
            [sys.executable, "-m", "cartloader", str(source), "--base-url", sim.url, "--out", "-"],
            cwd=tmp_path, env=cli_env(), stdout=stdout, stderr=subprocess.PIPE, timeout=60, check=False,
        )  # fmt: skip
    assert completed.returncode == 2
    assert_one_line(completed.stderr.decode(), "--out - (stdout) is the same file as the input")
    assert source.read_bytes() == before


def test_the_resume_hint_names_the_console_script_when_that_is_what_ran(tmp_path: Path, simulator: Start) -> None:
    sim = simulator(tokens={"other-token": frozenset({"crm.objects.carts.write"})})
    source = tmp_path / "carts.ndjson"
    write_carts(source, 3)
    completed = subprocess.run(
        [str(SCRIPT), str(source), "--base-url", sim.url],
        cwd=tmp_path, env=cli_env(), capture_output=True, timeout=60, check=False,
    )  # fmt: skip
    stderr = completed.stderr.decode()
    assert completed.returncode == 3, stderr
    [hint] = [line for line in stderr.splitlines() if "to continue after fixing the cause: " in line]
    program = hint.split("to continue after fixing the cause: ", 1)[1].split(" ")[0]
    assert program in ("cartloader", str(SCRIPT))
    assert "-m cartloader" not in hint and hint.endswith(f"{source} --base-url {sim.url} --resume")

    by_module = run_cli(source, "--base-url", sim.url, "--resume", cwd=tmp_path)
    assert by_module.returncode == 3
    assert f"-m cartloader {source} --base-url {sim.url} --resume" in by_module.stderr
