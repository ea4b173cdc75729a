"""cartloader.input.sniff, in process: the input's first bytes peeked without being consumed, gzip data, UTF-16/32
text and a CSV header given as NDJSON refused with their hint, a CSV header's delimiter sniffed (or refused when two
fit alike), and a one-column header holding another delimiter refused. (These are the focused tests that
tests/mutation.py runs for ``sniff``.)"""

from __future__ import annotations

import codecs
import gzip
import io
from typing import Any, BinaryIO, cast

import pytest

from cartloader.errors import ConfigError
from cartloader.input.sniff import (
    DELIMITERS,
    check_head,
    delimiter_name,
    looks_like_csv,
    one_column_hint,
    peek_head,
    sniff_delimiter,
)

HEAD = 64 * 1024


def test_a_buffered_stream_is_peeked_without_being_consumed() -> None:
    data = b"x" * (HEAD + 10)
    stream = io.BufferedReader(io.BytesIO(data), buffer_size=HEAD * 2)
    head = peek_head(stream)
    assert head == data[:HEAD]
    assert type(head) is bytes
    assert stream.read() == data


def test_a_seekable_stream_is_read_and_put_back_where_it_was() -> None:
    stream = io.BytesIO(b"skip" + b"y" * (HEAD + 10))
    stream.read(4)
    assert peek_head(stream) == b"y" * HEAD
    assert stream.tell() == 4


class _Pipe(io.RawIOBase):
    """Neither peekable nor seekable."""

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return False


def test_a_stream_that_can_neither_peek_nor_seek_gives_nothing() -> None:
    assert peek_head(cast(BinaryIO, _Pipe())) == b""


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        (b"name,price", True),
        (b"  name;price  \r", True),
        (b"name\tprice", True),
        (b"name|price", True),
        (b"name price", False),  # no separator
        (b"", False),
        (b"   ", False),
        (b'{"a": 1,', False),  # broken JSON, still JSON
        (b"[1,2", False),
        (b'"a,b"', False),  # a JSON string
        (b"1,2", True),
        (b"12", False),  # JSON
        (b"true", False),
    ],
)
def test_a_csv_header_is_told_from_json(line: bytes, expected: bool) -> None:
    assert looks_like_csv(line) is expected


def test_gzip_data_is_refused_with_the_hint_for_its_name() -> None:
    head = gzip.compress(b"{}\n")
    with pytest.raises(ConfigError) as info:
        check_head(head, path="in.ndjson", input_format="ndjson")
    assert str(info.value) == "input in.ndjson is gzip-compressed data: name it in.ndjson.gz, or pipe it through gunzip"
    with pytest.raises(ConfigError) as stdin:
        check_head(head, path="-", input_format="csv")
    assert str(stdin.value) == "input stdin is gzip-compressed data: pipe it through gunzip"


def test_utf16_read_as_utf8_is_refused_naming_the_input() -> None:
    with pytest.raises(ConfigError, match=r"^input stdin is UTF-16 text"):
        check_head(codecs.BOM_UTF16_LE + "{}".encode("utf-16-le"), path="-", input_format="ndjson")
    with pytest.raises(ConfigError, match=r"^input in.csv is UTF-16 text"):
        check_head(codecs.BOM_UTF16_LE + "a,b".encode("utf-16-le"), path="in.csv", input_format="csv")
    with pytest.raises(ConfigError, match=r"^input in.ndjson is UTF-16 text"):
        check_head(
            codecs.BOM_UTF16_LE + "{}".encode("utf-16-le"),
            path="in.ndjson",
            input_format="ndjson",
            encoding="utf-8-sig",
        )


def test_utf16_read_as_utf16_is_decoded_before_the_csv_check() -> None:
    head = "a,b\n".encode("utf-16")
    with pytest.raises(ConfigError, match=r"^input in.ndjson looks like CSV, not NDJSON \(its first line is 'a,b'\)"):
        check_head(head, path="in.ndjson", input_format="ndjson", encoding="utf-16")
    check_head('{"a": 1}\n'.encode("utf-16"), path="in.ndjson", input_format="ndjson", encoding="utf-16")
    # bytes latin-1 reads but UTF-8 does not: decoded, never refused as undecodable here
    check_head(b'{"a": "\xe9"}\n', path="in.ndjson", input_format="ndjson", encoding="iso8859-1")
    with pytest.raises(ConfigError, match=r"its first line is 'caf\xe9,b'"):
        check_head(b"caf\xe9,b\n", path="in.ndjson", input_format="ndjson", encoding="iso8859-1")


def test_a_csv_header_given_as_ndjson_is_refused_with_the_hint() -> None:
    with pytest.raises(ConfigError) as info:
        check_head(b"\n  \r\nname,price\n{}\n", path="in.ndjson", input_format="ndjson")
    assert str(info.value) == (
        "input in.ndjson looks like CSV, not NDJSON (its first line is 'name,price'): give --format csv"
    )
    with pytest.raises(ConfigError, match=r"^input stdin looks like CSV"):
        check_head(b"\xef\xbb\xbfname,price\n", path="-", input_format="ndjson")


def test_a_long_csv_header_is_shown_cut() -> None:
    header = ",".join(f"column{i}" for i in range(20))
    with pytest.raises(ConfigError) as info:
        check_head(header.encode() + b"\n", path="in.ndjson", input_format="ndjson")
    assert f"(its first line is {header[:57] + '...'!r})" in str(info.value)
    exactly = ("a," * 30)[:60]
    with pytest.raises(ConfigError) as sixty:
        check_head(exactly.encode(), path="in.ndjson", input_format="ndjson")
    assert f"(its first line is {exactly!r})" in str(sixty.value)


def test_only_the_first_non_blank_line_is_looked_at() -> None:
    check_head(b'\n{"a": 1}\nname,price\n', path="in.ndjson", input_format="ndjson")
    check_head(b"\xef\xbb\xbf{}\nname,price\n", path="in.ndjson", input_format="ndjson")
    check_head(b"", path="in.ndjson", input_format="ndjson")


def test_a_csv_input_is_not_checked_for_a_csv_header() -> None:
    check_head(b"name,price\n", path="in.csv", input_format="csv")


def test_delimiters_are_named_as_messages_show_them() -> None:
    assert DELIMITERS == (",", ";", "\t", "|")
    assert [delimiter_name(d) for d in DELIMITERS] == ["','", "';'", "tab", "'|'"]
    assert delimiter_name(":") == "':'"


@pytest.mark.parametrize(
    ("header", "delimiter"),
    [
        ("name,price", ","),
        ("name;price;tax", ";"),
        ("name\tprice", "\t"),
        ("name|price", "|"),
        ("name", ","),
        ("", ","),
        ('"a;b",c', ","),  # quotes respected: one ";" inside a field
        ('"a,b,c";d;e', ";"),
        ("a,b;c;d", ";"),
    ],
)
def test_the_delimiter_that_splits_the_header_into_the_most_columns_wins(header: str, delimiter: str) -> None:
    assert sniff_delimiter(header, "in.csv") == delimiter


def test_two_delimiters_splitting_alike_are_refused_naming_both() -> None:
    with pytest.raises(ConfigError) as info:
        sniff_delimiter("a,b;c", "in.csv")
    assert str(info.value) == (
        "input in.csv: the header splits into 2 columns at ',' and ';' alike: "
        "give --csv-delimiter (e.g. --csv-delimiter ,)"
    )
    with pytest.raises(ConfigError) as tab:
        sniff_delimiter("a\tb|c", "in.csv")
    assert str(tab.value) == (
        "input in.csv: the header splits into 2 columns at tab and '|' alike: "
        "give --csv-delimiter (e.g. --csv-delimiter tab)"
    )


def test_a_one_column_header_holding_another_delimiter_is_refused() -> None:
    with pytest.raises(ConfigError) as info:
        one_column_hint(["name;price"], ",", "in.csv")
    assert str(info.value) == (
        "input in.csv: the header is one column 'name;price', which holds ';': its delimiter is probably ';' "
        "(give --csv-delimiter ;, or leave the option out to sniff it)"
    )
    with pytest.raises(ConfigError) as tab:
        one_column_hint(["name\tprice"], ";", "in.csv")
    assert "which holds tab: its delimiter is probably tab (give --csv-delimiter tab," in str(tab.value)
    with pytest.raises(ConfigError) as comma:
        one_column_hint(["name,price"], "|", "in.csv")
    assert "which holds ',': its delimiter is probably ',' (give --csv-delimiter ,," in str(comma.value)


def test_a_long_one_column_header_is_shown_cut() -> None:
    column = "x" * 70 + ";"
    with pytest.raises(ConfigError) as info:
        one_column_hint([column], ",", "in.csv")
    assert f"one column {'x' * 57 + '...'!r}," in str(info.value)
    sixty = "x" * 59 + ";"
    with pytest.raises(ConfigError) as exact:
        one_column_hint([sixty], ",", "in.csv")
    assert f"one column {sixty!r}," in str(exact.value)


def test_a_header_of_several_columns_or_without_another_delimiter_passes() -> None:
    one_column_hint(["name", "price;tax"], ",", "in.csv")
    one_column_hint(["name"], ",", "in.csv")
    one_column_hint(["name,x"], ",", "in.csv")  # its own delimiter (quoted)
    one_column_hint([], ",", "in.csv")


class _UnseekableRaw(io.RawIOBase):
    """A pipe's raw stream: readable, not seekable (a BufferedReader over it can peek)."""

    def __init__(self, data: bytes) -> None:
        self._data = data

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return False

    def readinto(self, buffer: Any) -> int:
        size = min(len(buffer), len(self._data))
        buffer[:size] = self._data[:size]
        self._data = self._data[size:]
        return size


def test_a_pipe_is_peeked_through_its_buffer() -> None:
    stream = io.BufferedReader(_UnseekableRaw(b"name,price\n"))
    assert peek_head(cast(BinaryIO, stream)) == b"name,price\n"
    assert stream.read() == b"name,price\n"


def test_undecodable_bytes_are_shown_replaced_whatever_the_codec() -> None:
    with pytest.raises(ConfigError) as utf8:
        check_head(b"caf\xff,b\n", path="in.ndjson", input_format="ndjson")
    assert "(its first line is 'caf\ufffd,b')" in str(utf8.value)
    with pytest.raises(ConfigError) as ascii:
        check_head(b"caf\xff,b\n", path="in.ndjson", input_format="ndjson", encoding="ascii")
    assert "(its first line is 'caf\ufffd,b')" in str(ascii.value)
    check_head(b'{"a": "\xff"}\n', path="in.ndjson", input_format="ndjson", encoding="ascii")


def test_a_header_is_read_as_its_whole_line() -> None:
    with pytest.raises(ConfigError, match=r"its first line is 'cart name,price'"):
        check_head(b"cart name,price\n", path="in.ndjson", input_format="ndjson")
    # a JSON line holding separators after a byte order mark is JSON
    check_head(b'\xef\xbb\xbf{"a": 1, "b": 2}\n', path="in.ndjson", input_format="ndjson")


def test_a_first_line_of_61_characters_is_cut() -> None:
    line = ("a," * 31)[:61]
    with pytest.raises(ConfigError) as info:
        check_head(line.encode(), path="in.ndjson", input_format="ndjson")
    assert f"(its first line is {line[:57] + '...'!r})" in str(info.value)
    column = "x" * 60 + ";"
    with pytest.raises(ConfigError) as hint:
        one_column_hint([column], ",", "in.csv")
    assert f"one column {'x' * 57 + '...'!r}," in str(hint.value)


def test_a_delimiter_whose_reading_fails_is_skipped() -> None:
    # read strictly, '"a";b' breaks at ',' (a character after the closing quote): read as CSV does, it does not
    assert sniff_delimiter('"a";b,c,d', "in.csv") == ","
    # one field over the csv module's size limit at ',': the next delimiters are still tried
    field = "x" * 70_000
    assert sniff_delimiter(f"{field};{field};{field}", "in.csv") == ";"
    # at every delimiter: none splits it
    assert sniff_delimiter("x" * 200_000, "in.csv") == ","
