"""Files as shops export them, through the real command line against the simulator: another encoding (``--encoding``),
a delimiter sniffed from the header, ``.tsv`` files, and values converted with ``--convert``; and ``--resume``
refusing a change of any of them."""

from __future__ import annotations

import gzip
from pathlib import Path

import orjson

from tests.test_cli_support import Start, last_entries, run_cli, statuses

EXPORT_HEADER = "Ref;Name;Price;Total;Ordered;Paid"
EXPORT_OPTIONS = (
    "--encoding",
    "latin-1",
    *("--map", "Ref=hs_external_cart_id", "--map", "Name=hs_cart_name", "--map", "Price=hs_total_price"),
    *("--map", "Total=hs_subtotal_price", "--map", "Ordered=order_day", "--map", "Paid=hs_buyer_accepts_marketing"),
    *("--convert", "Price=number", "--convert", "Total=number:,", "--convert", "Ordered=date:%d.%m.%Y"),
    *("--convert", "Paid=bool:ja|nein"),
)


def write_export(path: Path, count: int, *, bad: dict[int, str] | None = None) -> None:
    """A Latin-1, ``;``-separated export with CRLF line ends, as a European spreadsheet writes it."""
    rows = [EXPORT_HEADER]
    for i in range(1, count + 1):
        rows.append((bad or {}).get(i, f"R-{i};Café Müller {i};$12.00;1.234,56;15.04.2024;{'ja' if i % 2 else 'nein'}"))
    path.write_bytes(("\r\n".join(rows) + "\r\n").encode("latin-1"))


def test_a_latin1_semicolon_export_loads_with_one_command_line(tmp_path: Path, simulator: Start) -> None:
    sim = simulator(properties=("order_day:date",))
    source = tmp_path / "export.csv"
    write_export(source, 300)
    result = run_cli(source, "--base-url", sim.url, *EXPORT_OPTIONS, "--no-progress", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "300 created" in result.stderr and "0 invalid" in result.stderr
    stored = {obj.properties["hs_external_cart_id"]: obj.properties for obj in sim.objects()}
    assert len(stored) == 300
    assert stored["R-7"]["hs_cart_name"] == "Café Müller 7"
    assert (stored["R-7"]["hs_total_price"], stored["R-7"]["hs_subtotal_price"]) == ("12", "1234.56")
    assert (stored["R-7"]["order_day"], stored["R-7"]["hs_buyer_accepts_marketing"]) == ("2024-04-15", "true")
    assert stored["R-8"]["hs_buyer_accepts_marketing"] == "false"
    meta = orjson.loads((tmp_path / "export.outcomes.ndjson.meta.json").read_bytes())["options"]
    assert meta["encoding"] == "iso8859-1" and meta["csv"]["delimiter"] == ";"
    assert meta["convert"] == ["Price=number", "Total=number:,", "Ordered=date:%d.%m.%Y", "Paid=bool:ja|nein"]


def test_a_cell_a_conversion_cannot_read_is_invalid_naming_line_column_conversion_and_value(
    tmp_path: Path, simulator: Start
) -> None:
    sim = simulator(properties=("order_day:date",))
    source = tmp_path / "export.csv"
    write_export(source, 120, bad={5: "R-5;x;1,5;12,34,5;2024-04-15;vielleicht"})
    result = run_cli(
        source, "--base-url", sim.url, *EXPORT_OPTIONS, "--echo", "hs_external_cart_id", "--summary-json",
        tmp_path / "summary.json", "--no-progress", cwd=tmp_path,
    )  # fmt: skip
    assert result.returncode == 1, result.stderr
    entry = last_entries(tmp_path / "export.outcomes.ndjson")[6]  # the header is line 1
    assert entry["status"] == "invalid" and entry["hs_external_cart_id"] == "R-5"
    message = entry["error"]["message"]
    assert message.startswith("line 6: column 'Price' value \"1,5\" is not a number")
    assert "(--convert Price=number)" in message and "'Total' value \"12,34,5\"" in message
    assert "'Ordered' value \"2024-04-15\" does not match the pattern '%d.%m.%Y'" in message
    assert "'Paid' value \"vielleicht\" is neither of the words" in message
    codes = [detail["code"] for detail in entry["error"]["details"]]
    assert codes == ["INVALID_NUMBER", "INVALID_NUMBER", "INVALID_DATE", "INVALID_BOOLEAN"]
    summary = orjson.loads((tmp_path / "summary.json").read_bytes())
    assert summary["failures_by_category"] == {"INVALID_NUMBER": 1}
    assert summary["problems_by_code"] == {"INVALID_NUMBER": 2, "INVALID_DATE": 1, "INVALID_BOOLEAN": 1}
    assert "problems, by code (every problem of every record): INVALID_NUMBER 2" in result.stderr
    assert len(sim.objects()) == 119


def test_utf8_failing_names_the_likely_encoding(tmp_path: Path, simulator: Start) -> None:
    sim = simulator()
    source = tmp_path / "export.csv"
    write_export(source, 3)
    result = run_cli(source, "--base-url", sim.url, "--dry-run", cwd=tmp_path)
    assert result.returncode == 1
    assert (
        "line 2: not UTF-8 text (byte 0xE9 at column 8 of line 2); if it is Latin-1 (Windows export), "
        "pass --encoding latin-1" in result.stderr
    )


def test_utf16_is_decoded_before_lines_are_split_and_refused_without_encoding(tmp_path: Path, simulator: Start) -> None:
    sim = simulator()
    source = tmp_path / "carts.ndjson"
    lines = [orjson.dumps({"hs_external_cart_id": f"U-{i}", "hs_cart_name": f"Grüße {i}"}).decode() for i in range(150)]
    source.write_bytes("\r\n".join(lines).encode("utf-16"))  # "\n" is 0A 00: a byte split would cut characters
    result = run_cli(source, "--base-url", sim.url, "--no-progress", cwd=tmp_path)
    assert result.returncode == 2
    assert "is UTF-16 text (it starts with a byte order mark): pass --encoding utf-16" in result.stderr
    result = run_cli(source, "--base-url", sim.url, "--encoding", "utf-16", "--no-progress", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert statuses(tmp_path / "carts.outcomes.ndjson") == dict.fromkeys(range(1, 151), "created")
    assert sorted(obj.properties["hs_cart_name"] for obj in sim.objects())[:2] == ["Grüße 0", "Grüße 1"]


def test_tsv_loads_without_options_and_gzip_too(tmp_path: Path, simulator: Start) -> None:
    sim = simulator()
    rows = "hs_external_cart_id\ths_cart_name\n" + "".join(f"T-{i}\tcart, {i}\n" for i in range(200))
    (tmp_path / "carts.tsv").write_text(rows)
    result = run_cli(tmp_path / "carts.tsv", "--base-url", sim.url, "--no-progress", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    (tmp_path / "more.tsv.gz").write_bytes(gzip.compress(rows.replace("T-", "G-").encode()))
    result = run_cli(tmp_path / "more.tsv.gz", "--base-url", sim.url, "--no-progress", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    names = {obj.properties["hs_cart_name"] for obj in sim.objects()}
    assert len(sim.objects()) == 400 and "cart, 7" in names


def test_the_delimiter_is_sniffed_and_a_tie_or_a_one_column_header_is_exit_2(tmp_path: Path, simulator: Start) -> None:
    sim = simulator()
    for name, delimiter in (("pipe.csv", "|"), ("tab.csv", "\t"), ("semi.csv", ";")):
        rows = f"hs_external_cart_id{delimiter}hs_cart_name\n" + "".join(
            f'P-{i}{delimiter}"a, b; c | {i}"\n' for i in range(100)
        )
        (tmp_path / name).write_text(rows)
        result = run_cli(tmp_path / name, "--base-url", sim.url, "--no-progress", cwd=tmp_path)
        assert result.returncode == 0, (name, result.stderr)
    assert len(sim.objects()) == 300 and {o.properties["hs_cart_name"] for o in sim.objects()} >= {"a, b; c | 5"}
    (tmp_path / "tie.csv").write_text("a,b;c\n1,2;3\n")
    result = run_cli(tmp_path / "tie.csv", "--base-url", sim.url, cwd=tmp_path)
    assert result.returncode == 2
    assert "the header splits into 2 columns at ',' and ';' alike: give --csv-delimiter" in result.stderr
    result = run_cli(tmp_path / "semi.csv", "--base-url", sim.url, "--csv-delimiter", ",", cwd=tmp_path)
    assert result.returncode == 2
    assert "the header is one column 'hs_external_cart_id;hs_cart_name', which holds ';'" in result.stderr


def test_bad_encoding_or_conversion_options_are_exit_2_before_anything_is_sent(
    tmp_path: Path, simulator: Start
) -> None:
    sim = simulator(properties=("order_day:date",))
    source = tmp_path / "export.csv"
    write_export(source, 5)
    for args, message in (
        (("--encoding", "no-such-codec"), "argument --encoding: unknown encoding 'no-such-codec'"),
        (("--convert", "Price=money"), "argument --convert: unknown conversion 'money'"),
        (("--convert", "Ordered=date:%d.%Q"), "not a pattern strptime can read"),
        (("--convert", "Ordered=datetime:%d.%m.%Y %H@Nowhere/City"), "unknown time zone 'Nowhere/City'"),
        ((*EXPORT_OPTIONS, "--convert", "Missing=number"), "--convert Missing=...: the header has no column 'Missing'"),
    ):
        result = run_cli(source, "--base-url", sim.url, *args, cwd=tmp_path)
        assert result.returncode == 2, (args, result.stderr)
        assert message in result.stderr and len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert sim.stats().requests == 0


def test_resume_refuses_a_changed_encoding_or_conversion_and_an_older_meta_accepts_any(
    tmp_path: Path, simulator: Start
) -> None:
    sim = simulator(properties=("order_day:date",))
    source = tmp_path / "export.csv"
    write_export(source, 100)
    assert run_cli(source, "--base-url", sim.url, *EXPORT_OPTIONS, "--limit", "40", cwd=tmp_path).returncode == 0
    changed = [arg if arg != "latin-1" else "cp1252" for arg in EXPORT_OPTIONS]
    result = run_cli(source, "--base-url", sim.url, *changed, "--resume", cwd=tmp_path)
    assert result.returncode == 2 and "it was made with --encoding iso8859-1, and this run has cp1252" in result.stderr
    changed = [arg if arg != "Ordered=date:%d.%m.%Y" else "Ordered=date:%m.%d.%Y" for arg in EXPORT_OPTIONS]
    result = run_cli(source, "--base-url", sim.url, *changed, "--resume", cwd=tmp_path)
    assert result.returncode == 2 and "it was made with --convert" in result.stderr
    meta_path = tmp_path / "export.outcomes.ndjson.meta.json"
    meta = orjson.loads(meta_path.read_bytes())
    del meta["options"]["encoding"], meta["options"]["convert"]  # a meta file from before these fields existed
    meta_path.write_bytes(orjson.dumps(meta))
    result = run_cli(source, "--base-url", sim.url, *changed, "--resume", "--no-progress", cwd=tmp_path)
    # Accepted: the 40 lines logged are skipped, and the changed pattern reads the other 60 days as invalid.
    assert result.returncode == 1 and "60 invalid; 40 skipped" in result.stderr, result.stderr
    assert len(sim.objects()) == 40
