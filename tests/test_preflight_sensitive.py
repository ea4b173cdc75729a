"""The preflight and properties its default list leaves out (sensitive ones), and the "did you mean" of an unknown
property: through the real command line against the simulator over loopback HTTP."""

from __future__ import annotations

from pathlib import Path

import orjson

from tests.test_cli_support import Start, last_entries, run_cli, statuses

SCOPES = frozenset({"crm.objects.carts.write", "crm.objects.carts.read", "crm.schemas.carts.read"})
SENSITIVE = frozenset({"crm.objects.carts.sensitive.read", "crm.objects.carts.highly_sensitive.read"})
PORTAL = {"properties": ("iban:string:sensitive", "risk_score:number:highly_sensitive")}


def _warnings(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if line.startswith("cartloader: warning:")]


def test_a_sensitive_property_the_list_leaves_out_is_sent_after_one_warning(tmp_path: Path, simulator: Start) -> None:
    sim = simulator(**PORTAL)  # the default token may not read the sensitive lists
    source = tmp_path / "in.ndjson"
    source.write_text(
        "".join(orjson.dumps({"hs_cart_name": f"c{n}", "iban": f"DE{n:04d}"}).decode() + "\n" for n in range(5))
        + '{"hs_cart_name": "x", "bogus": "1"}\n'
    )
    result = run_cli(source, "--base-url", sim.url, cwd=tmp_path)
    assert result.returncode == 1, result.stderr  # bogus: HubSpot refuses it, not the preflight
    lines = statuses(tmp_path / "in.outcomes.ndjson")
    assert [lines[n] for n in range(1, 6)] == ["created"] * 5
    last = last_entries(tmp_path / "in.outcomes.ndjson")
    assert last[6]["status"] == "failed"  # sent and refused by HubSpot, not refused locally
    # One warning about it (a 6-record run also hears that its one refused list read was an error response)
    warnings = [line for line in _warnings(result.stderr) if "sensitive" in line]
    assert len(warnings) == 1, result.stderr
    assert "sensitive properties of carts could not be read" in warnings[0]
    assert "crm.objects.carts.sensitive.read" in warnings[0] and "left to HubSpot" in warnings[0]
    assert {o.properties.get("iban") for o in sim.objects()} >= {"DE0000", "DE0004"}
    assert sim.stats().requests == 4  # definitions, rules, the sensitive list (refused: no second), one batch


def test_with_the_sensitive_scopes_sensitive_properties_are_checked_and_unknown_ones_refused(
    tmp_path: Path, simulator: Start
) -> None:
    sim = simulator(tokens={"full": SCOPES | SENSITIVE}, **PORTAL)
    source = tmp_path / "in.ndjson"
    source.write_text(
        '{"hs_cart_name": "a", "iban": "DE1", "risk_score": "7"}\n'
        '{"hs_cart_name": "b", "risk_score": "high"}\n'
        '{"hs_cart_nam": "c"}\n'
    )
    result = run_cli(source, "--base-url", sim.url, cwd=tmp_path, token="full")
    assert result.returncode == 1, result.stderr
    assert not _warnings(result.stderr), result.stderr
    last = last_entries(tmp_path / "in.outcomes.ndjson")
    assert last[1]["status"] == "created"
    assert (last[2]["status"], last[2]["error"]["category"]) == ("invalid", "INVALID_DECIMAL")
    assert (last[3]["status"], last[3]["error"]["category"]) == ("invalid", "PROPERTY_DOESNT_EXIST")
    assert 'did you mean "hs_cart_name"' in last[3]["error"]["message"]
    assert sim.stats().inputs_received == 1


def test_only_listed_properties_ask_for_no_sensitive_list(tmp_path: Path, simulator: Start) -> None:
    sim = simulator(**PORTAL)
    source = tmp_path / "in.ndjson"
    source.write_text('{"hs_cart_name": "a"}\n')
    result = run_cli(source, "--base-url", sim.url, cwd=tmp_path)
    assert result.returncode == 0 and not _warnings(result.stderr), result.stderr
    assert sim.stats().requests == 3  # definitions, rules, one batch


def test_a_csv_header_gets_a_did_you_mean_from_names_and_labels(tmp_path: Path, simulator: Start) -> None:
    sim = simulator(tokens={"full": SCOPES | SENSITIVE})
    source = tmp_path / "in.csv"
    source.write_text("Cart name,hs_total_prise\nA,10\n")
    result = run_cli(source, "--dry-run", "--base-url", sim.url, cwd=tmp_path, token="full")
    assert result.returncode == 1, result.stderr
    assert 'property "Cart name"' in result.stderr and 'did you mean "hs_cart_name"' in result.stderr
    assert 'did you mean "hs_total_price"' in result.stderr


def test_without_the_sensitive_scope_a_dry_run_names_unlisted_headers_with_a_did_you_mean(
    tmp_path: Path, simulator: Start
) -> None:
    sim = simulator()
    source = tmp_path / "in.csv"
    source.write_text("Cart name,hs_total_price\nA,10\nB,11\n")
    result = run_cli(source, "--dry-run", "--base-url", sim.url, cwd=tmp_path)
    assert result.returncode == 0, result.stderr  # left to HubSpot: not refused locally
    notes = [line for line in result.stderr.splitlines() if 'property "Cart name"' in line]
    assert len(notes) == 1 and 'did you mean "hs_cart_name"' in notes[0], result.stderr
    assert "left to HubSpot" in notes[0]


def test_a_load_names_the_unlisted_property_in_its_one_warning(tmp_path: Path, simulator: Start) -> None:
    sim = simulator()
    source = tmp_path / "in.csv"
    source.write_text("Cart name\nA\n")
    result = run_cli(source, "--base-url", sim.url, cwd=tmp_path)
    warnings = [line for line in _warnings(result.stderr) if "sensitive" in line]
    assert len(warnings) == 1 and '"Cart name"; did you mean "hs_cart_name"' in warnings[0], result.stderr


def test_a_dry_run_finds_sensitive_properties_too(tmp_path: Path, simulator: Start) -> None:
    sim = simulator(tokens={"full": SCOPES | SENSITIVE}, **PORTAL)
    source = tmp_path / "in.ndjson"
    source.write_text('{"hs_cart_name": "a", "iban": "DE1"}\n{"risk_score": "x"}\n')
    result = run_cli(source, "--dry-run", "--base-url", sim.url, cwd=tmp_path, token="full")
    assert result.returncode == 1, result.stderr
    assert "1 valid, 1 invalid" in result.stderr and "INVALID_DECIMAL" not in result.stderr.split("invalid:")[0]
    assert 'property "risk_score" value "x" is not a number' in result.stderr


def test_a_dry_run_without_a_token_names_the_properties_command(tmp_path: Path) -> None:
    source = tmp_path / "in.ndjson"
    source.write_text('{"hs_cart_name": "a"}\n')
    result = run_cli(source, "--dry-run", cwd=tmp_path, token=None)
    assert result.returncode == 0, result.stderr
    assert "schema not checked" in result.stderr and "cartloader properties" in result.stderr
