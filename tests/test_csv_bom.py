"""A CSV saved with a byte order mark (Excel's "CSV UTF-8"): the first column's name never carries it, whatever
``--encoding`` names the UTF-8 codec (or a Unicode codec whose BOM arrives as U+FEFF), quoted or not, mapped or not."""

from __future__ import annotations

import codecs
import io
from pathlib import Path

import pytest

from cartloader.input.csv import CsvLayout, CsvSource
from cartloader.input.encoding import check_encoding, decoded
from tests.test_cli_support import Start, last_entries, run_cli

HEADER = "hs_cart_name,hs_total_price\r\nA,1\r\n"
QUOTED = '"hs_cart_name",hs_total_price\r\nA,1\r\n'
UTF8_BOM = codecs.BOM_UTF8


def source(data: bytes, encoding: str, **layout: object) -> CsvSource:
    codec = check_encoding(encoding)
    stream = decoded(io.BytesIO(data), codec)
    return CsvSource(stream, "in.csv", CsvLayout(delimiter=None, encoding=codec, **layout))  # type: ignore[arg-type]


@pytest.mark.parametrize("text", [HEADER, QUOTED], ids=["plain", "quoted"])
@pytest.mark.parametrize(
    ("encoding", "bom"),
    [
        ("utf-8", UTF8_BOM),
        ("utf-8-sig", UTF8_BOM),
        ("UTF8", UTF8_BOM),
        ("utf-16", b""),  # the codec writes and drops its own BOM
        ("utf-16-le", codecs.BOM_UTF16_LE),  # no BOM in the codec: U+FEFF arrives as text
        ("utf-32-be", codecs.BOM_UTF32_BE),
    ],
)
def test_the_first_column_never_carries_the_bom(text: str, encoding: str, bom: bytes) -> None:
    data = bom + text.encode(encoding.removesuffix("-sig"))  # one BOM, as a file has
    opened = source(data, encoding)
    assert opened.columns == ["hs_cart_name", "hs_total_price"]
    mapped = source(data, encoding, mapping={"hs_cart_name": "hs_external_cart_id"})
    assert mapped.columns[0] == "hs_cart_name"


def test_only_a_bom_at_the_start_is_dropped() -> None:
    opened = source(b"a,b\r\n" + UTF8_BOM + b"x,y\r\n", "utf-8")
    assert opened.columns == ["a", "b"]


@pytest.mark.parametrize("encoding", [None, "utf-8", "utf-8-sig"])
def test_a_bom_csv_mapping_its_first_column_loads(tmp_path: Path, simulator: Start, encoding: str | None) -> None:
    sim = simulator()
    (tmp_path / "bom.csv").write_bytes(UTF8_BOM + b"Cart,hs_total_price\r\nA,1\r\n")
    options = ("--encoding", encoding) if encoding else ()
    result = run_cli("bom.csv", "--base-url", sim.url, "--map", "Cart=hs_cart_name", *options, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert [entry["status"] for entry in last_entries(tmp_path / "bom.outcomes.ndjson").values()] == ["created"]
    assert [obj.properties["hs_cart_name"] for obj in sim.objects()] == ["A"]
