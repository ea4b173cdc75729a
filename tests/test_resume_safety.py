"""``--resume`` refuses (exit 2, naming the difference, nothing sent) a log made with another upsert key, object
type, API version, format or CSV layout, and stdin that is not the data the log was made from; a meta file
written before a field existed accepts any value for it."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest

from tests.test_cli_support import Start, assert_one_line, run_cli, statuses, write_carts


@pytest.mark.parametrize(
    ("first", "second", "needle"),
    [
        (
            (),
            ("--upsert-by", "hs_external_cart_id"),
            "it was made with --upsert-by none, and this run has hs_external_cart_id",
        ),
        (("--upsert-by", "hs_external_cart_id"), (), "--upsert-by hs_external_cart_id, and this run has none"),
        ((), ("--object-type", "deals"), "it was made with --object-type carts, and this run has deals"),
        ((), ("--api-version", "v3"), "it was made with --api-version 2026-09, and this run has v3"),
    ],
)
def test_resume_with_an_option_that_changes_what_a_line_means_exits_2_naming_it(
    tmp_path: Path, simulator: Start, first: tuple[str, ...], second: tuple[str, ...], needle: str
) -> None:
    sim = simulator(unique=("hs_external_cart_id",))
    source = tmp_path / "carts.ndjson"
    write_carts(source, 5)
    log = tmp_path / "carts.outcomes.ndjson"
    assert run_cli(source, "--base-url", sim.url, *first, cwd=tmp_path).returncode == 0
    before = log.read_bytes()
    requests = sim.stats().requests
    result = run_cli(source, "--base-url", sim.url, *second, "--resume", cwd=tmp_path)
    assert result.returncode == 2, result.stderr
    assert_one_line(result.stderr, needle, "changes what a line means")
    assert sim.stats().requests == requests
    assert log.read_bytes() == before


def test_resume_of_a_csv_log_with_another_mapping_exits_2_unless_the_meta_file_predates_the_field(
    tmp_path: Path, simulator: Start
) -> None:
    sim = simulator()
    (tmp_path / "c.csv").write_text("name,total\nA,1\nB,2\n")
    first = run_cli("c.csv", "--base-url", sim.url, "--map", "name=hs_cart_name", "--map", "total=", cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    changed = ("c.csv", "--base-url", sim.url, "--map", "name=hs_cart_name", "--map", "total=hs_total_price")
    refused = run_cli(*changed, "--resume", cwd=tmp_path)
    assert refused.returncode == 2
    assert_one_line(refused.stderr, "the CSV layout (--map, --associate, --csv-delimiter)", '"total":"hs_total_price"')

    # A meta file written before the CSV layout was recorded accepts any layout.
    meta_path = tmp_path / "c.outcomes.ndjson.meta.json"
    meta = orjson.loads(meta_path.read_bytes())
    del meta["options"]["csv"]
    del meta["options"]["format"]
    meta_path.write_bytes(orjson.dumps(meta))
    accepted = run_cli(*changed, "--resume", cwd=tmp_path)
    assert accepted.returncode == 0, accepted.stderr
    assert "2 skipped" in accepted.stderr


def test_stdin_is_fingerprinted_so_resume_refuses_other_data_on_stdin(tmp_path: Path, simulator: Start) -> None:
    sim = simulator()
    write_carts(tmp_path / "a.ndjson", 20, prefix="A")
    write_carts(tmp_path / "b.ndjson", 20, prefix="B")
    data_a, data_b = (tmp_path / "a.ndjson").read_bytes(), (tmp_path / "b.ndjson").read_bytes()
    args = ("-", "--base-url", sim.url, "--out", "log.ndjson")
    assert run_cli(*args, cwd=tmp_path, stdin=data_a).returncode == 0
    meta = orjson.loads((tmp_path / "log.ndjson.meta.json").read_bytes())
    assert meta["input"]["kind"] == "stdin"
    assert meta["input"]["head_bytes"] == len(data_a)

    refused = run_cli(*args, "--resume", cwd=tmp_path, stdin=data_b)
    assert refused.returncode == 2
    assert_one_line(refused.stderr, "belongs to another input", "stdin")
    assert len(sim.objects()) == 20

    same = run_cli(*args, "--resume", cwd=tmp_path, stdin=data_a + b'{"hs_cart_name": "appended"}\n')
    assert same.returncode == 0, same.stderr
    assert "20 skipped" in same.stderr
    assert statuses(tmp_path / "log.ndjson")[21] == "created"
