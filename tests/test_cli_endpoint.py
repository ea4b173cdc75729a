"""Where the command line sends its requests: ``HUBSPOT_BASE_URL``, ``--api-path``, ``--object-type``; and
``--shard`` with ``--resume`` (a shard's log continues that shard only). Against a simulator over loopback."""

from __future__ import annotations

import socket
from pathlib import Path

import orjson

from tests.test_cli_support import (
    Start,
    assert_one_line,
    cli_env,
    ids_by_external_id,
    last_entries,
    run_cli,
    write_carts,
)


def _dead_url() -> str:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{probe.getsockname()[1]}"  # closed again at once: nothing listens there


def test_hubspot_base_url_from_the_environment_is_used_and_base_url_overrides_it(
    tmp_path: Path, simulator: Start
) -> None:
    sim = simulator()
    source = tmp_path / "carts.ndjson"
    write_carts(source, 5)
    result = run_cli(source, cwd=tmp_path, env=cli_env(HUBSPOT_BASE_URL=sim.url))
    assert result.returncode == 0, result.stderr
    assert len(sim.objects()) == 5
    overridden = run_cli(
        source, "--base-url", sim.url, "--overwrite", cwd=tmp_path, env=cli_env(HUBSPOT_BASE_URL=_dead_url())
    )
    assert overridden.returncode == 0, overridden.stderr
    assert len(sim.objects()) == 10


def _with_one_bad_price(path: Path) -> None:
    write_carts(path, 4)
    with path.open("ab") as stream:
        stream.write(orjson.dumps({"hs_cart_name": "bad", "hs_external_cart_id": "T-5", "hs_total_price": "x"}) + b"\n")


def test_api_path_chooses_the_objects_path_the_requests_go_to(tmp_path: Path, simulator: Start) -> None:
    source = tmp_path / "carts.ndjson"
    _with_one_bad_price(source)
    # v3 answers a partial failure with 207; 2026-09 inside a 201.
    v3 = simulator()
    # No preflight: HubSpot itself must see the bad price.
    result = run_cli(source, "--base-url", v3.url, "--api-path", "/crm/v3/objects", "--no-preflight", cwd=tmp_path)
    assert result.returncode == 1, result.stderr
    statuses = v3.stats().by_status
    assert statuses.get(207) == 1 and 201 not in statuses
    dated = simulator()
    result = run_cli(
        source, "--base-url", dated.url, "--api-path", "/crm/objects/2026-09", "--overwrite", "--no-preflight",
        cwd=tmp_path,
    )  # fmt: skip
    assert result.returncode == 1, result.stderr
    statuses = dated.stats().by_status
    assert statuses.get(201) == 1 and 207 not in statuses
    # A path HubSpot does not serve: 404 for the whole batch stops the run, naming the URL.
    unknown = simulator()
    result = run_cli(
        source, "--base-url", unknown.url, "--api-path", "/crm/v9/objects", "--overwrite",
        cwd=tmp_path,
    )  # fmt: skip
    assert result.returncode == 3, result.stderr
    assert_one_line(result.stderr, "404", "/crm/v9/objects/carts/batch/create")
    assert unknown.stats().by_status.get(404, 0) >= 1
    assert unknown.objects() == []


def test_object_type_is_the_path_segment_the_records_are_created_under(tmp_path: Path, simulator: Start) -> None:
    source = tmp_path / "carts.ndjson"
    write_carts(source, 3)
    sim = simulator()
    result = run_cli(source, "--base-url", sim.url, "--object-type", "0-142", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert len(sim.objects()) == 3
    other = simulator()
    result = run_cli(source, "--base-url", other.url, "--object-type", "deals", "--overwrite", cwd=tmp_path)
    assert result.returncode == 3, result.stderr
    assert_one_line(result.stderr, "404", "'deals'")
    assert other.objects() == []


def test_resuming_a_shard_finishes_that_shard_only_and_the_other_shard_completes_the_input(
    tmp_path: Path, simulator: Start
) -> None:
    sim = simulator()
    source = tmp_path / "carts.ndjson"
    external_ids = write_carts(source, 200)
    args = (source, "--base-url", sim.url, "--batch-size", "10")
    first = run_cli(*args, "--shard", "0/2", "--limit", "30", cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    shard_log = tmp_path / "carts.shard-0-of-2.outcomes.ndjson"
    assert sorted(last_entries(shard_log)) == list(range(1, 60, 2))

    resumed = run_cli(*args, "--shard", "0/2", "--resume", cwd=tmp_path)
    assert resumed.returncode == 0, resumed.stderr
    assert "30 skipped" in resumed.stderr
    entries = last_entries(shard_log)
    assert sorted(entries) == list(range(1, 201, 2))  # the even lines belong to the other shard
    assert {entry["status"] for entry in entries.values()} == {"created"}

    other = run_cli(*args, "--shard", "1/2", cwd=tmp_path)
    assert other.returncode == 0, other.stderr
    assert sorted(last_entries(tmp_path / "carts.shard-1-of-2.outcomes.ndjson")) == list(range(2, 201, 2))
    held = ids_by_external_id(sim.objects())
    assert sorted(held) == sorted(external_ids)
    assert all(len(ids) == 1 for ids in held.values())  # every line loaded once, by one shard
    for line, entry in entries.items():
        assert held[external_ids[line - 1]] == [entry["id"]]
