"""CSV input through the real command line against the simulator: a header row names the columns, empty cells are
omitted, ``--map`` renames or drops columns, ``--associate`` makes association targets, ``--csv-delimiter`` reads
``;`` exports, line numbers are the physical lines where rows start, the rejects file is a reloadable CSV, and a
CSV or gzip file given as NDJSON is refused at once with a hint."""

from __future__ import annotations

import gzip
from pathlib import Path

from cartloader.simulator.state import StoredObject
from tests.test_cli_support import Start, assert_one_line, last_entries, run_cli

SHOP = (
    "Name;External ID;Total;Contact;Notes\r\n"
    "Ana cart;E-1;12.5;123456789;first\r\n"
    '"Two-line\r\ncart name";E-2;abc;;\r\n'
    ";;;;\r\n"
    "Bad contact;E-3;7;12;\r\n"
    'Fine;E-4;;;"note; with separator"\r\n'
)
SHOP_OPTIONS = (
    "--csv-delimiter",
    ";",
    "--map",
    "Name=hs_cart_name",
    "--map",
    "External ID=hs_external_cart_id",
    "--map",
    "Total=hs_total_price",
    "--map",
    "Notes=",
    "--associate",
    "Contact=586",
)


def _by_external_id(sim_objects: list[StoredObject]) -> dict[str, dict[str, str]]:
    return {obj.properties["hs_external_cart_id"]: obj.properties for obj in sim_objects}


def test_a_csv_export_loads_with_mapped_columns_empty_cells_omitted_and_physical_line_numbers(
    tmp_path: Path, simulator: Start
) -> None:
    sim = simulator()
    (tmp_path / "shop.csv").write_text(SHOP, encoding="utf-8")
    result = run_cli("shop.csv", "--base-url", sim.url, *SHOP_OPTIONS, cwd=tmp_path)
    assert result.returncode == 1, result.stderr
    outcomes = last_entries(tmp_path / "shop.outcomes.ndjson")
    # Line 3 starts a row that spans lines 3-4; line 5 holds only empty cells (skipped, still counted).
    assert {line: entry["status"] for line, entry in outcomes.items()} == {
        2: "created",
        3: "invalid",  # "abc" is no number: the preflight refuses it
        6: "failed",
        7: "created",
    }
    assert outcomes[3]["error"]["details"][0]["property"] == "hs_total_price"
    assert outcomes[6]["error"]["category"] == "VALIDATION_ERROR"  # the association to 12: no such contact
    stored = _by_external_id(sim.objects())
    assert stored["E-1"]["hs_cart_name"] == "Ana cart"
    assert stored["E-1"]["hs_total_price"] == "12.5"
    assert "Notes" not in stored["E-1"] and "first" not in stored["E-1"].values()  # --map Notes= drops it
    assert "hs_total_price" not in stored["E-4"]  # an empty cell omits the property
    assert "Contact" not in stored["E-1"]  # an association column is not a property


def test_the_rejects_of_a_csv_input_are_a_csv_with_its_header_that_reloads_with_the_same_options(
    tmp_path: Path, simulator: Start
) -> None:
    sim = simulator()
    (tmp_path / "shop.csv").write_text(SHOP, encoding="utf-8")
    first = run_cli("shop.csv", "--base-url", sim.url, *SHOP_OPTIONS, "--rejects", "fix.csv", cwd=tmp_path)
    assert first.returncode == 1, first.stderr
    rejects = (tmp_path / "fix.csv").read_bytes()
    header = b"Name;External ID;Total;Contact;Notes\n"
    rows = [b'"Two-line\r\ncart name";E-2;abc;;\n', b"Bad contact;E-3;7;12;\n"]  # the input's bytes, verbatim
    assert rejects in (header + rows[0] + rows[1], header + rows[1] + rows[0])

    # Fixed in place, the rejects file loads as it is.
    fixed = rejects.replace(b"abc", b"1.5").replace(b";12;", b";987654321;")
    (tmp_path / "fix.csv").write_bytes(fixed)
    again = run_cli("fix.csv", "--base-url", sim.url, *SHOP_OPTIONS, cwd=tmp_path)
    assert again.returncode == 0, again.stderr
    assert {e["status"] for e in last_entries(tmp_path / "fix.outcomes.ndjson").values()} == {"created"}
    assert _by_external_id(sim.objects())["E-2"]["hs_cart_name"] == "Two-line\r\ncart name"


def test_a_csv_gz_file_is_read_as_csv_and_stdin_with_format_csv(tmp_path: Path, simulator: Start) -> None:
    sim = simulator()
    content = "hs_cart_name,hs_external_cart_id\nA,G-1\nB,G-2\n"
    (tmp_path / "carts.csv.gz").write_bytes(gzip.compress(content.encode()))
    packed = run_cli("carts.csv.gz", "--base-url", sim.url, cwd=tmp_path)
    assert packed.returncode == 0, packed.stderr
    assert set(last_entries(tmp_path / "carts.outcomes.ndjson")) == {2, 3}
    piped = run_cli("-", "--format", "csv", "--base-url", sim.url, cwd=tmp_path, stdin=content.encode())
    assert piped.returncode == 0, piped.stderr
    assert len(sim.objects()) == 4


def test_a_row_that_is_not_utf8_is_invalid_with_a_hint_and_a_header_that_is_not_exits_2(
    tmp_path: Path, simulator: Start
) -> None:
    sim = simulator()
    (tmp_path / "latin.csv").write_bytes(b"hs_cart_name\nCaf\xe9 cart\nPlain cart\n")
    result = run_cli("latin.csv", "--base-url", sim.url, cwd=tmp_path)
    assert result.returncode == 1, result.stderr
    entry = last_entries(tmp_path / "latin.outcomes.ndjson")[2]
    assert entry["status"] == "invalid"
    assert "line 2: not UTF-8 text (byte 0xE9" in entry["error"]["message"]
    assert "save the file as UTF-8" in entry["error"]["message"]

    (tmp_path / "header.csv").write_bytes(b"hs_cart_name,Caf\xe9\nx,y\n")
    requests = sim.stats().requests
    refused = run_cli("header.csv", "--base-url", sim.url, cwd=tmp_path)
    assert refused.returncode == 2
    assert_one_line(refused.stderr, "the header is not UTF-8 text")
    assert sim.stats().requests == requests


def test_a_csv_file_given_as_ndjson_is_refused_at_once_with_a_hint(tmp_path: Path, simulator: Start) -> None:
    sim = simulator()
    (tmp_path / "export.txt").write_text("\nhs_cart_name,hs_total_price\nA,1\nB,2\n")
    result = run_cli("export.txt", "--base-url", sim.url, cwd=tmp_path)
    assert result.returncode == 2
    assert_one_line(result.stderr, "looks like CSV, not NDJSON", "--format csv")
    assert sim.stats().requests == 0
    assert not (tmp_path / "export.outcomes.ndjson").exists()


def test_gzip_data_without_a_gz_name_is_refused_at_once_with_a_hint(tmp_path: Path, simulator: Start) -> None:
    sim = simulator()
    (tmp_path / "carts.ndjson").write_bytes(gzip.compress(b'{"hs_cart_name": "A"}\n'))
    result = run_cli("carts.ndjson", "--base-url", sim.url, cwd=tmp_path)
    assert result.returncode == 2
    assert_one_line(result.stderr, "is gzip-compressed data", "carts.ndjson.gz")
    piped = run_cli("-", "--base-url", sim.url, cwd=tmp_path, stdin=gzip.compress(b'{"hs_cart_name": "A"}\n'))
    assert piped.returncode == 2
    assert_one_line(piped.stderr, "input stdin is gzip-compressed data", "gunzip")
    assert sim.stats().requests == 0


def test_csv_options_that_do_not_fit_the_header_or_the_format_exit_2(tmp_path: Path, simulator: Start) -> None:
    sim = simulator()
    (tmp_path / "c.csv").write_text("name,total\nA,1\n")
    (tmp_path / "c.ndjson").write_text('{"hs_cart_name": "A"}\n')
    cases = [
        (("c.csv", "--map", "nope=hs_cart_name"), "the header has no column 'nope' (it has: name, total)"),
        (("c.csv", "--map", "name=total"), "would both be sent as property 'total'"),
        (("c.csv", "--associate", "total=x"), "COLUMN=TYPE_ID"),
        (("c.ndjson", "--map", "a=b"), "--map applies to CSV input only"),
        (("c.ndjson", "--csv-delimiter", ";"), "--csv-delimiter applies to CSV input only"),
        (("c.csv", "--csv-delimiter", ";;"), "expected one character"),
    ]
    for args, needle in cases:
        result = run_cli(*args, "--base-url", sim.url, cwd=tmp_path)
        assert result.returncode == 2, (args, result.stderr)
        assert_one_line(result.stderr, needle)
    assert sim.stats().requests == 0


def test_a_dry_run_reads_csv_like_a_real_run(tmp_path: Path) -> None:
    (tmp_path / "shop.csv").write_text(SHOP, encoding="utf-8")
    result = run_cli("shop.csv", "--dry-run", *SHOP_OPTIONS, cwd=tmp_path, token=None)
    assert result.returncode == 0, result.stderr
    assert "4 records read: 4 valid, 0 invalid" in result.stderr
