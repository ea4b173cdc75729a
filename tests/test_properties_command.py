"""``python -m cartloader properties`` against the simulator over loopback HTTP: the table and the JSON list,
sensitive properties where the token may read them, and one-line errors with the right exit status (3 naming the
scope on 403, 2 for usage); the token is never printed."""

from __future__ import annotations

from pathlib import Path

import orjson

from tests.test_cli_support import Start, run_cli

SCOPES = frozenset({"crm.objects.carts.write", "crm.objects.carts.read", "crm.schemas.carts.read"})
SENSITIVE_READ = "crm.objects.carts.sensitive.read"
PORTAL = {
    "properties": ("color:enumeration/checkbox:options=red|green|blue", "sku:string:unique", "iban:string:sensitive"),
}


def test_json_lists_every_property_with_label_type_options_unique_and_read_only(
    tmp_path: Path, simulator: Start
) -> None:
    sim = simulator(tokens={"reader": SCOPES | {SENSITIVE_READ}}, **PORTAL)
    result = run_cli("properties", "--base-url", sim.url, "--format", "json", cwd=tmp_path, token="reader")
    assert result.returncode == 0, result.stderr
    by_name = {p["name"]: p for p in orjson.loads(result.stdout)}
    assert by_name["color"]["type"] == "enumeration" and by_name["color"]["field_type"] == "checkbox"
    assert by_name["color"]["options"] == ["blue", "green", "red"]
    assert by_name["sku"]["unique"] is True and by_name["hs_object_id"]["read_only"] is True
    assert by_name["hs_cart_name"]["label"] == "Cart name"
    assert by_name["iban"]["sensitivity"] == "sensitive"  # read from the sensitive list: the token may
    assert set(by_name["hs_cart_name"]) == {
        "name",
        "label",
        "type",
        "field_type",
        "options",
        "unique",
        "read_only",
        "external_options",
        "sensitivity",
    }
    # highly_sensitive: this token may not; one warning names the list's scope
    warnings = [line for line in result.stderr.splitlines() if "warning" in line]
    assert len(warnings) == 1 and "crm.objects.carts.highly_sensitive.read" in warnings[0], result.stderr


def test_the_table_has_fixed_columns_and_cuts_long_option_lists(tmp_path: Path, simulator: Start) -> None:
    sim = simulator(**PORTAL)
    result = run_cli("properties", "--base-url", sim.url, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    header = lines[0]
    assert header.split() == ["name", "label", "type", "unique", "read-only", "options"]
    rows = {line.split()[0]: line for line in lines[1:]}
    assert "iban" not in rows  # sensitive: the default token may not list it
    currency = rows["hs_currency_code"]
    assert len(currency) <= 200 and "more" in currency and "AED" in currency  # 150+ ISO codes, cut
    options_at = header.index("options")
    assert rows["color"][options_at:] == "blue, green, red"
    assert rows["sku"][header.index("unique") :].startswith("yes")
    assert rows["hs_object_id"][header.index("read-only") :].startswith("yes")
    assert rows["color"][header.index("type") :].startswith("enumeration (multi)")


def test_a_token_without_the_schema_scope_exits_3_naming_it(tmp_path: Path, simulator: Start) -> None:
    sim = simulator(tokens={"s3cr3t-writer": frozenset({"crm.objects.carts.write"})})
    result = run_cli("properties", "--base-url", sim.url, cwd=tmp_path, token="s3cr3t-writer")
    assert result.returncode == 3, result.stderr
    assert result.stdout == ""
    assert result.stderr.count("\n") == 1 and "crm.schemas.carts.read" in result.stderr, result.stderr
    assert "s3cr3t" not in result.stderr


def test_a_refused_token_exits_3_and_is_never_printed(tmp_path: Path, simulator: Start) -> None:
    sim = simulator()
    result = run_cli("properties", "--base-url", sim.url, cwd=tmp_path, token="wrong-t0ken-value")
    assert result.returncode == 3, result.stderr
    assert result.stderr.count("\n") == 1 and "access token" in result.stderr
    assert "wrong-t0ken-value" not in result.stderr + result.stdout


def test_usage_errors_and_no_token_exit_2_in_one_line(tmp_path: Path, simulator: Start) -> None:
    sim = simulator()
    bad_format = run_cli("properties", "--base-url", sim.url, "--format", "xml", cwd=tmp_path)
    no_token = run_cli("properties", "--base-url", sim.url, cwd=tmp_path, token=None)
    unknown = run_cli("properties", "--token", "abc123", cwd=tmp_path)
    for result in (bad_format, no_token, unknown):
        assert result.returncode == 2, result.stderr
        assert result.stderr.count("\n") == 1 and result.stdout == ""
    assert "--format" in bad_format.stderr and "HUBSPOT_ACCESS_TOKEN" in no_token.stderr
    assert "abc123" not in unknown.stderr
    assert sim.stats().requests == 0


def test_simulate_lists_the_built_in_portal(tmp_path: Path) -> None:
    result = run_cli("properties", "--simulate", "--format", "json", cwd=tmp_path, token=None)
    assert result.returncode == 0, result.stderr
    names = {p["name"] for p in orjson.loads(result.stdout)}
    assert {"hs_cart_name", "hs_external_cart_id", "hs_currency_code"} <= names
