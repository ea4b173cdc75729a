"""Failures explain themselves: the summary counts them by category with one readable sample each (HubSpot's
nested JSON unpacked), ``--summary-json`` adds ``failures_by_category`` and ``exit_status``, the outcome log keeps
HubSpot's per-property problems in ``error.details``, and a host that cannot be reached is named as such."""

from __future__ import annotations

import socket
from pathlib import Path

import orjson
import pytest

from cartloader import Outcome, PropertyProblem, RecordError, bulk_create
from cartloader.outcomes.format import decode, encode_outcome
from cartloader.simulator import Simulator
from tests.test_cli_support import EXAMPLES, Start, last_entries, run_cli, write_carts


def _closed_port() -> int:
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        return int(listener.getsockname()[1])


def _category_lines(stderr: str) -> dict[str, str]:
    lines = stderr.splitlines()
    start = lines.index("  failed or invalid, by category:")
    found = {}
    for line in lines[start + 1 :]:
        if not line.startswith("    "):
            break
        category, _, rest = line.strip().partition(": ")
        found[category] = rest
    return found


def test_the_summary_counts_failures_by_category_with_one_readable_sample_each(
    tmp_path: Path, simulator: Start
) -> None:
    sim = simulator()
    result = run_cli(
        EXAMPLES / "carts-with-errors.ndjson",
        "--base-url",
        sim.url,
        "--summary-json",
        "summary.json",
        "--no-preflight",  # HubSpot's own refusals, as it words them
        cwd=tmp_path,
    )
    assert result.returncode == 1, result.stderr
    by_category = _category_lines(result.stderr)
    assert set(by_category) == {"INVALID_INPUT", "VALIDATION_ERROR"}
    assert by_category["INVALID_INPUT"].startswith("6, e.g. line 2: invalid JSON")
    validation = by_category["VALIDATION_ERROR"]
    assert validation.startswith("5, e.g. line ")
    assert "Property values were not valid: " in validation
    assert '\\"' not in validation and "isValid" not in validation  # the JSON inside the message is unpacked

    summary = orjson.loads((tmp_path / "summary.json").read_bytes())
    assert summary["failures_by_category"] == {"INVALID_INPUT": 6, "VALIDATION_ERROR": 5}
    assert summary["exit_status"] == 1


def test_the_outcome_log_keeps_hubspots_per_property_problems_in_error_details(
    tmp_path: Path, simulator: Start
) -> None:
    sim = simulator()
    result = run_cli(EXAMPLES / "carts-with-errors.ndjson", "--base-url", sim.url, "--no-preflight", cwd=tmp_path)
    assert result.returncode == 1
    entries = last_entries(tmp_path / "carts-with-errors.outcomes.ndjson")
    error = entries[12]["error"]
    assert error["category"] == "VALIDATION_ERROR"
    assert error["details"] == [
        {
            "property": "hs_currency_code",
            "code": "INVALID_OPTION",
            "message": error["details"][0]["message"],
            "value": "euro",
        }
    ]
    assert error["details"][0]["message"].startswith("euro was not one of the allowed options")
    assert error["message"].startswith("Property values were not valid: hs_currency_code (INVALID_OPTION): euro")
    assert entries[13]["error"]["details"][0]["code"] == "INVALID_DECIMAL"
    assert "details" not in entries[2]["error"]  # refused locally: no HubSpot details


def test_a_whole_batch_refusal_bisected_down_to_one_input_keeps_its_details(tmp_path: Path, simulator: Start) -> None:
    sim = simulator(whole_batch_400=1.0)
    source = tmp_path / "carts.ndjson"
    write_carts(source, 8)
    with source.open("ab") as stream:
        stream.write(b'{"hs_cart_name": "bad", "hs_total_price": "twelve"}\n')
    result = run_cli(source, "--base-url", sim.url, "--no-preflight", cwd=tmp_path)
    assert result.returncode == 1, result.stderr
    error = last_entries(tmp_path / "carts.outcomes.ndjson")[9]["error"]
    assert error["status"] == 400
    assert [(d["property"], d["code"], d["value"]) for d in error["details"]] == [
        ("hs_total_price", "INVALID_DECIMAL", "twelve")
    ]


def test_records_that_never_reached_the_host_fail_naming_it_not_hubspot(tmp_path: Path) -> None:
    source = tmp_path / "carts.ndjson"
    write_carts(source, 30)
    host = f"127.0.0.1:{_closed_port()}"
    result = run_cli(
        source, "--base-url", f"http://{host}", "--max-retries", "2", "--summary-json", "s.json", cwd=tmp_path
    )
    assert result.returncode == 1, result.stderr
    assert "stopped by HubSpot" not in result.stderr
    sample = _category_lines(result.stderr)["CONNECTION_ERROR"]
    assert sample.startswith("30, e.g. line ")
    assert "could not reach 127.0.0.1: " in sample
    entries = last_entries(tmp_path / "carts.outcomes.ndjson")
    assert {entry["error"]["message"].split(":")[0] for entry in entries.values()} == {"could not reach 127.0.0.1"}
    assert orjson.loads((tmp_path / "s.json").read_bytes())["failures_by_category"] == {"CONNECTION_ERROR": 30}


def test_a_clean_run_writes_exit_status_0_and_no_failures(tmp_path: Path, simulator: Start) -> None:
    sim = simulator()
    source = tmp_path / "carts.ndjson"
    write_carts(source, 5)
    result = run_cli(source, "--base-url", sim.url, "--summary-json", "s.json", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    summary = orjson.loads((tmp_path / "s.json").read_bytes())
    assert (summary["exit_status"], summary["failures_by_category"]) == (0, {})
    assert "by category" not in result.stderr


@pytest.mark.anyio
async def test_the_library_summary_counts_failures_by_category() -> None:
    records = [
        {"hs_cart_name": "ok"},
        {"hs_cart_name": "bad", "no_such_property": "x"},
        {"hs_total_price": float("nan")},
    ]
    outcomes: list[Outcome] = []
    async with Simulator() as sim:
        summary = await bulk_create(
            records, token="sim-token", base_url=sim.url, on_outcome=outcomes.append, preflight=False
        )
    assert summary.failures_by_category == {"VALIDATION_ERROR": 1, "INVALID_INPUT": 1}
    assert summary.failure_samples["INVALID_INPUT"].startswith("line 3: ")
    refused = next(o for o in outcomes if o.status == "failed")
    assert refused.error is not None
    assert [(d.property, d.code, d.value) for d in refused.error.details] == [
        ("no_such_property", "PROPERTY_DOESNT_EXIST", "x")
    ]


def test_an_outcome_with_details_reads_back_from_its_log_line() -> None:
    problem = PropertyProblem("hs_total_price", "INVALID_DECIMAL", "12,50 was not a valid number.", "12,50")
    outcome = Outcome(4, "failed", "k-4", error=RecordError("VALIDATION_ERROR", "bad", 400, (problem,)), attempts=1)
    assert decode(encode_outcome(outcome)) == outcome
