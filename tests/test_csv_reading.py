"""cartloader.input.csv, in process: the header read and checked against the options, each row read into the
record it is (numbered by its physical first line, with its raw bytes, its problem, its columns renamed, dropped,
associated or converted), and the records yielded as ``csv_inputs`` promises (the focused tests that
tests/mutation.py runs for ``csv``; the command line's CSV runs are in tests/test_csv_input.py)."""

from __future__ import annotations

import csv
import io
import tracemalloc
from collections.abc import Iterator
from typing import Any

import pytest

from cartloader.errors import ConfigError, InputReadError
from cartloader.input.associations import ColumnAssociation
from cartloader.input.convert import parse_conversion
from cartloader.input.csv import CsvLayout, CsvSource, csv_inputs
from cartloader.input.ndjson import MAX_LINE_BYTES
from cartloader.models import CartInput, InvalidInput, PropertyProblem


@pytest.fixture(autouse=True)
def _field_size_limit() -> Iterator[None]:
    """``CsvSource`` sets the csv module's (process-wide) field size limit: put it back after each test."""
    before = csv.field_size_limit()
    yield
    csv.field_size_limit(before)


def source(data: bytes, *, max_line_bytes: int = MAX_LINE_BYTES, **layout: Any) -> CsvSource:
    return CsvSource(io.BytesIO(data), "in.csv", CsvLayout(**layout), max_line_bytes=max_line_bytes)


def records(opened: CsvSource) -> list[CartInput | InvalidInput | None]:
    """Every row's record, read one row at a time, rows of empty cells included (as ``None``)."""
    found = []
    while rows := opened.rows(1):
        assert len(rows) == 1
        found.append(opened.record(*rows[0]))
    return found


def only(data: bytes, **layout: Any) -> CartInput | InvalidInput:
    [record] = [record for record in records(source(data, **layout)) if record is not None]
    return record


def error(data: bytes, **layout: Any) -> str:
    with pytest.raises(ConfigError) as raised:
        source(data, **layout)
    return str(raised.value)


# --- the header -------------------------------------------------------------------------------------------------


def test_the_header_names_the_columns_trimmed_and_keeps_its_raw_line_for_the_rejects_file() -> None:
    opened = source(b" a ,b\t\r\n1,2\r\n")
    assert opened.columns == ["a", "b"]
    assert opened.header == b" a ,b\t"
    assert opened.delimiter == ","


def test_blank_rows_before_the_header_are_passed_over_and_lines_still_count_from_the_first() -> None:
    opened = source(b"\r\n , \r\n,,\r\na,b\r\n1,2\r\n")
    assert opened.columns == ["a", "b"]
    assert opened.header == b"a,b"
    assert opened.rows(5) == [(5, ["1", "2"], b"1,2", None)]


def test_a_sniffed_delimiter_passes_over_blank_lines_and_keeps_the_header_raw() -> None:
    opened = source(b"\n  \r\na;b\n1;2\n", delimiter=None)
    assert opened.delimiter == ";"
    assert opened.columns == ["a", "b"]
    assert opened.header == b"a;b"
    assert opened.rows(5) == [(4, ["1", "2"], b"1;2", None)]


def test_a_given_delimiter_is_used_as_given() -> None:
    opened = source(b"a|b\n1|2\n", delimiter="|")
    assert opened.delimiter == "|"
    assert opened.rows(1) == [(2, ["1", "2"], b"1|2", None)]


@pytest.mark.parametrize("delimiter", [None, ","])
@pytest.mark.parametrize("data", [b"", b"\n\r\n", b" , \n"])
def test_an_input_without_a_header_row_is_refused(data: bytes, delimiter: str | None) -> None:
    assert error(data, delimiter=delimiter) == (
        "input in.csv has no header row: a CSV input starts with a row naming its columns"
    )


def test_a_header_that_is_not_utf8_is_refused_naming_the_byte() -> None:
    assert error(b"a,\xe9\n1,2\n").startswith(
        "input in.csv: the header is not UTF-8 text (byte 0xE9 at column 3 of line 1); "
    )


@pytest.mark.parametrize("delimiter", [None, ","])
def test_a_header_longer_than_the_line_limit_is_refused_never_passed_over(delimiter: str | None) -> None:
    assert error(b"a,bcdefghijkl\n1,2\n", max_line_bytes=8, delimiter=delimiter) == (
        f"input in.csv: the header is line 1 is longer than {MAX_LINE_BYTES // (1 << 20)} MiB"
    )


def test_a_header_field_beyond_the_field_limit_cannot_be_read() -> None:
    assert error(b'a,"bcdef\nghijk"\n1,2\n', max_line_bytes=8) == (
        "input in.csv: cannot read the CSV header: field larger than field limit (8)"
    )


def test_a_header_read_as_one_column_holding_another_delimiter_is_refused() -> None:
    assert error(b"a;b\n1;2\n", delimiter=",").startswith(
        "input in.csv: the header is one column 'a;b', which holds ';': its delimiter is probably ';'"
    )


def test_a_header_of_one_quoted_column_holding_its_own_delimiter_is_read() -> None:
    assert source(b'"a,b"\n1\n').columns == ["a,b"]


def test_a_header_that_splits_alike_at_two_delimiters_is_refused_naming_the_input() -> None:
    assert error(b"a,b;c\n", delimiter=None).startswith(
        "input in.csv: the header splits into 2 columns at ',' and ';' alike"
    )


def test_two_columns_of_one_name_are_refused() -> None:
    assert error(b"a,b,a\n") == "input in.csv: columns 1 and 3 of the header are both named 'a'"


def test_several_unnamed_columns_are_no_clash() -> None:
    assert source(b"a,,b,\n").columns == ["a", "", "b", ""]


@pytest.mark.parametrize(
    ("option", "layout"),
    [
        ("--map", {"mapping": {"c": "x"}}),
        ("--associate", {"associations": {"c": 1}}),
        ("--convert", {"conversions": {"c": parse_conversion("c=number")}}),
    ],
)
def test_an_option_naming_a_column_the_header_lacks_is_refused_listing_the_named_columns(
    option: str, layout: dict[str, Any]
) -> None:
    assert error(b"a,,b\n", **layout) == f"{option} c=...: the header has no column 'c' (it has: a, b)"


def test_an_option_naming_the_empty_column_is_refused() -> None:
    assert error(b"a,,b\n", mapping={"": "x"}) == "--map =...: the header has no column '' (it has: a, b)"


def test_two_columns_sent_as_one_property_are_refused() -> None:
    assert error(b"a,b\n", mapping={"a": "b"}) == (
        "columns 'a' and 'b' would both be sent as property 'b': rename or drop one with --map"
    )


def test_a_column_mapped_onto_a_dropped_columns_name_is_no_clash() -> None:
    assert only(b"a,b\n1,2\n", mapping={"a": "b", "b": None}) == CartInput(2, {"b": "1"}, raw=b"1,2")


@pytest.mark.parametrize(
    "layout",
    [
        {"mapping": {"a": None}, "conversions": {"a": parse_conversion("a=number")}},
        {"associations": {"a": 1}, "conversions": {"a": parse_conversion("a=number")}},
    ],
)
def test_a_conversion_of_a_column_not_sent_as_a_property_is_refused(layout: dict[str, Any]) -> None:
    assert error(b"a,b\n", **layout) == (
        "--convert a=...: that column is not sent as a property (see --map, --associate)"
    )


def test_a_header_whose_every_column_is_dropped_or_unnamed_is_refused() -> None:
    assert error(b"a,\n", mapping={"a": None}) == (
        "input in.csv: no column is left to send (every one is dropped or unnamed)"
    )


def test_a_header_with_only_an_association_column_is_read() -> None:
    assert only(b"c\n7\n", associations={"c": 5}) == CartInput(2, {}, [ColumnAssociation("c", 5).item("7")], raw=b"7")


# --- rows and records -------------------------------------------------------------------------------------------


def test_each_row_is_numbered_by_its_first_physical_line_with_its_raw_bytes() -> None:
    opened = source(b'a,b\r\n1,"x\r\ny"\r\n\r\n2,z\n3,w')
    assert opened.rows(10) == [
        (2, ["1", "x\r\ny"], b'1,"x\r\ny"', None),
        (4, [], b"", None),
        (5, ["2", "z"], b"2,z", None),
        (6, ["3", "w"], b"3,w", None),
    ]
    assert opened.rows(10) == []


def test_rows_gives_at_most_the_count_asked_for_and_goes_on_from_there() -> None:
    opened = source(b"a\n1\n2\n3\n")
    assert [row[0] for row in opened.rows(2)] == [2, 3]
    assert [row[0] for row in opened.rows(2)] == [4]


def test_a_stray_quote_inside_a_field_is_read_leniently() -> None:
    assert only(b'a,b\n1,"x"y\n') == CartInput(2, {"a": "1", "b": "xy"}, raw=b'1,"x"y')


def test_a_row_that_is_not_utf8_is_invalid_naming_the_byte_and_keeps_its_raw_bytes() -> None:
    [record] = records(source(b"a,b\n1,\xff\xfe\n"))
    assert isinstance(record, InvalidInput)
    assert record.line == 2
    assert record.raw == b"1,\xff\xfe"
    assert record.message.startswith("line 2: not UTF-8 text (byte 0xFF at column 3 of line 2); ")
    assert record.category == "INVALID_INPUT"


def test_the_first_problem_of_a_row_spanning_lines_is_kept() -> None:
    [record] = records(source(b'a,b\n"\xff\n\xfe",1\n'))
    assert isinstance(record, InvalidInput)
    assert "(byte 0xFF at column 2 of line 2)" in record.message


def test_a_row_that_is_not_text_in_the_encoding_named_says_so() -> None:
    [record] = records(source(b"a\n\xff\n", encoding="latin-9"))
    assert isinstance(record, InvalidInput)
    assert record.message == "line 2: not latin-9 text (line 2 holds bytes that do not decode as latin-9)"


def test_a_line_up_to_the_limit_is_read_and_one_byte_more_is_too_long() -> None:
    limit = 8
    opened = source(
        b"a\n" + b"x" * 8 + b"\n" + b"y" * 9 + b"\n" + b"z" * 9 + b"zzz\n1\n" + b"w" * 8, max_line_bytes=limit
    )
    too_long = f"line {{}} is longer than {MAX_LINE_BYTES // (1 << 20)} MiB"
    assert opened.rows(10) == [
        (2, ["x" * 8], b"x" * 8, None),
        (3, [], None, too_long.format(3)),
        (4, [], None, too_long.format(4)),
        (5, ["1"], b"1", None),
        (6, ["w" * 8], b"w" * 8, None),
    ]


def test_a_last_line_one_byte_over_the_limit_without_a_line_end_is_too_long() -> None:
    opened = source(b"a\n" + b"x" * 9, max_line_bytes=8)
    assert opened.rows(10) == [(2, [], None, f"line 2 is longer than {MAX_LINE_BYTES // (1 << 20)} MiB")]


def test_a_too_long_line_inside_a_quoted_field_keeps_the_first_problem_and_no_raw_bytes() -> None:
    opened = source(b'a,b\n"\xff\n' + b"x" * 20 + b'\nq",1\n2,3\n', max_line_bytes=8)
    rows = opened.rows(10)
    assert rows[0][0] == 2
    assert rows[0][2] is None
    assert rows[0][3] is not None
    assert rows[0][3].startswith("not UTF-8 text")
    assert rows[-1] == (5, ["2", "3"], b"2,3", None)


def test_a_field_beyond_the_field_limit_is_an_unreadable_row_and_reading_goes_on() -> None:
    opened = source(b'a\n"abcde\nfghij"\n1\n', max_line_bytes=8)
    assert opened.rows(10) == [
        (2, None, b'"abcde\nfghij"', "field larger than field limit (8)"),
        (4, ["1"], b"1", None),
    ]


def test_a_row_read_without_a_problem_yet_unreadable_is_invalid_as_unreadable_csv() -> None:
    opened = source(b"a\n")
    assert opened.record(4, None, b"x", None) == InvalidInput(4, "line 4: unreadable CSV", b"x")
    assert opened.record(4, ["1"], b"x", "bad") == InvalidInput(4, "line 4: bad", b"x")


def test_a_row_of_empty_cells_is_no_record_but_a_row_of_spaces_is_one() -> None:
    assert records(source(b"a,b\n,\n \t, \n")) == [None, CartInput(3, {"a": " \t", "b": " "}, raw=b" \t, ")]


def test_empty_cells_omit_their_property_and_short_rows_are_records() -> None:
    assert records(source(b"a,b,c\n1,,3\n,2\n")) == [
        CartInput(2, {"a": "1", "c": "3"}, raw=b"1,,3"),
        CartInput(3, {"b": "2"}, raw=b",2"),
    ]


def test_mapped_columns_are_sent_renamed_and_dropped_columns_not_at_all() -> None:
    assert only(b"Name,Total,Note\nA,1,x\n", mapping={"Name": "hs_cart_name", "Note": None}) == CartInput(
        2, {"hs_cart_name": "A", "Total": "1"}, raw=b"A,1,x"
    )


def test_a_row_with_more_fields_than_the_header_names_is_invalid_with_what_could_be_read() -> None:
    assert only(b"a,b\n1,2,3\n") == InvalidInput(
        2, "line 2: 3 fields, but the header names 2", b"1,2,3", properties={"a": "1", "b": "2"}
    )


def test_a_value_under_an_unnamed_column_is_invalid_naming_the_first_such_column() -> None:
    assert only(b"a,,b,\n1, ,2,x\n") == InvalidInput(
        2, "line 2: a value in column 4, which the header leaves unnamed", b"1, ,2,x", properties={"a": "1", "b": "2"}
    )
    assert only(b"a,,,b\n1,y,x,2\n") == InvalidInput(
        2, "line 2: a value in column 2, which the header leaves unnamed", b"1,y,x,2", properties={"a": "1", "b": "2"}
    )
    assert only(b",a\n \t,1\n") == CartInput(2, {"a": "1"}, raw=b" \t,1")


def test_an_id_column_splits_its_cells_on_semicolons_into_association_items() -> None:
    association = ColumnAssociation("ids", 5)
    assert only(b"a,ids\n1, 11 ;;22;\n", associations={"ids": 5}) == CartInput(
        2, {"a": "1"}, [association.item("11"), association.item("22")], raw=b"1, 11 ;;22;"
    )


def test_an_id_column_with_a_target_that_is_no_id_is_invalid_naming_each() -> None:
    assert only(b"a,ids\n1,12;x;\xd9\xa1;3\n", associations={"ids": 5}) == InvalidInput(
        2,
        "line 2: column 'ids' value \"12;x;\u0661;3\": \"x\" is not a HubSpot id (digits); column 'ids' value "
        '"12;x;\u0661;3": "\u0661" is not a HubSpot id (digits)',
        "1,12;x;\u0661;3".encode(),
        properties={"a": "1"},
    )


def test_the_targets_that_are_no_id_are_named_across_every_id_column() -> None:
    record = only(b"x,y\n1;a,b;2\n", associations={"x": 5, "y": 6})
    assert isinstance(record, InvalidInput)
    assert record.message == (
        'line 2: column \'x\' value "1;a": "a" is not a HubSpot id (digits); column \'y\' value "b;2": "b" is not a '
        "HubSpot id (digits)"
    )


def test_targets_of_several_id_columns_are_all_sent() -> None:
    assert only(b"x,y\n1,2;3\n", associations={"x": 5, "y": 6}) == CartInput(
        2,
        {},
        [ColumnAssociation("x", 5).item("1"), ColumnAssociation("y", 6).item("2"), ColumnAssociation("y", 6).item("3")],
        raw=b"1,2;3",
    )


def test_a_natural_key_column_gives_one_trimmed_target_per_cell() -> None:
    email = ColumnAssociation("mail", 279, "contacts", "email")
    assert only(b"a,mail\n1, x;y@z \n", associations={"mail": email}) == CartInput(
        2, {"a": "1"}, [email.item("x;y@z")], raw=b"1, x;y@z "
    )
    assert records(source(b"a,mail\n1, \n", associations={"mail": email})) == [CartInput(2, {"a": "1"}, raw=b"1, ")]


def test_a_row_with_no_association_has_none() -> None:
    record = only(b"a,ids\n1,\n", associations={"ids": 5})
    assert isinstance(record, CartInput)
    assert record.associations is None


def test_converted_cells_are_sent_converted_and_blank_ones_omitted() -> None:
    conversions = {"n": parse_conversion("n=number:,"), "b": parse_conversion("b=bool:ja|nein")}
    assert only(b'n,b,c\n"1.234,5",JA,x\n', conversions=conversions) == CartInput(
        2, {"n": "1234.5", "b": "true", "c": "x"}, raw=b'"1.234,5",JA,x'
    )
    assert only(b"n,b,c\n \t,nein,\n", conversions=conversions) == CartInput(2, {"b": "false"}, raw=b" \t,nein,")


def test_a_cell_that_cannot_be_converted_is_invalid_with_its_code_column_and_conversion() -> None:
    conversions = {"Price": parse_conversion("Price=number:,"), "ok": parse_conversion("ok=bool:y|n")}
    record = only(b"Price,ok,x\n1.5,maybe,z\n", conversions=conversions, mapping={"Price": "hs_total_price", "x": None})
    price = (
        "column 'Price' value \"1.5\" is not a number (a decimal comma; a '.' only between groups of three digits) "
        "(--convert Price=number:,)"
    )
    ok = "column 'ok' value \"maybe\" is neither of the words given for true and false (--convert ok=bool:y|n)"
    assert record == InvalidInput(
        2,
        f"line 2: {price}; {ok}",
        b"1.5,maybe,z",
        "INVALID_NUMBER",
        (
            PropertyProblem("hs_total_price", "INVALID_NUMBER", price, "1.5"),
            PropertyProblem("ok", "INVALID_BOOLEAN", ok, "maybe"),
        ),
        {"hs_total_price": "1.5", "ok": "maybe"},
    )


def test_a_header_whose_every_column_is_converted_sends_converted_cells() -> None:
    assert only(b'n\n"1,5"\n', conversions={"n": parse_conversion("n=number:,")}) == CartInput(
        2, {"n": "1.5"}, raw=b'"1,5"'
    )


def test_a_converted_row_with_more_fields_than_the_header_is_still_refused() -> None:
    record = only(b"n\n1,2\n", conversions={"n": parse_conversion("n=number")})
    assert isinstance(record, InvalidInput)
    assert record.message == "line 2: 2 fields, but the header names 1"


# --- reading the stream -----------------------------------------------------------------------------------------


class Failing(io.BytesIO):
    """A stream that fails after its first line (``exc``), with or without a name."""

    def __init__(self, data: bytes, exc: BaseException, name: str | None) -> None:
        super().__init__(data)
        self.exc = exc
        if name is not None:
            self.name = name

    def readline(self, size: int | None = -1) -> bytes:
        if self.tell():
            raise self.exc
        return super().readline(size)


@pytest.mark.parametrize(
    ("exc", "name", "message"),
    [
        (OSError(5, "Input/output error"), "in.csv", "cannot read input in.csv: Input/output error"),
        (EOFError(), None, "cannot read input : the compressed file is truncated"),
    ],
)
def test_a_stream_that_fails_to_read_is_an_input_read_error(exc: BaseException, name: str | None, message: str) -> None:
    opened = CsvSource(Failing(b"a\n", exc, name), "in.csv", CsvLayout())
    with pytest.raises(InputReadError) as raised:
        opened.rows(1)
    assert str(raised.value) == message


def test_reading_a_line_far_over_the_limit_holds_only_pieces_of_it() -> None:
    data = b"a\n" + b"x" * (8 << 20) + b"\n1\n"
    tracemalloc.start()
    try:
        rows = source(data, max_line_bytes=1024).rows(10)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert rows == [(2, [], None, f"line 2 is longer than {MAX_LINE_BYTES // (1 << 20)} MiB"), (3, ["1"], b"1", None)]
    assert peak < 3 << 20  # the line is read in pieces of at most 1 MiB, never whole (8 MiB)


# --- the layout as recorded -------------------------------------------------------------------------------------


def test_the_layout_is_described_with_the_delimiter_used_sorted_maps_and_association_columns() -> None:
    email = ColumnAssociation("mail", 279, "contacts", "email")
    layout = CsvLayout(
        delimiter=None,
        mapping={"b": None, "a": "x"},
        associations={"mail": email, "ids": 5},
        conversions={"a": parse_conversion("a=number")},
    )
    described = layout.describe(";")
    assert described == {
        "delimiter": ";",
        "map": {"a": "x", "b": None},
        "associate": {"ids": 5, "mail": "contacts.email:279"},
    }
    assert list(described["map"]) == ["a", "b"]
    assert list(described["associate"]) == ["ids", "mail"]
    assert CsvLayout(delimiter="\t").describe() == {"delimiter": "\t", "map": {}, "associate": {}}


# --- csv_inputs -------------------------------------------------------------------------------------------------


async def collect(opened: CsvSource, **options: Any) -> tuple[list[CartInput | InvalidInput], list[Any]]:
    seen: list[Any] = []
    items = [item async for item in csv_inputs(opened, on_item=seen.append, **options)]
    return items, seen


@pytest.mark.anyio
async def test_csv_inputs_yields_every_record_across_steps_each_seen_first_and_skips_empty_rows() -> None:
    data = b"a\n" + b"".join(b"%d\n" % n if n % 100 else b",\n" for n in range(1, 1201))
    items, seen = await collect(source(data))
    assert [item.line for item in items] == [n + 1 for n in range(1, 1201) if n % 100]
    assert seen == items


@pytest.mark.anyio
async def test_csv_inputs_leaves_rows_skip_names_unbuilt_and_stops_after_limit_items() -> None:
    data = b"a\n" + b"".join(b"%d\n" % n for n in range(1, 8)) + b"x,y\n"
    items, seen = await collect(source(data), skip=lambda line: line % 2 == 0, limit=2)
    assert [item.line for item in items] == [3, 5]
    assert seen == items
    items, _ = await collect(source(data), limit=8)
    assert [item.line for item in items] == [2, 3, 4, 5, 6, 7, 8, 9]
    assert isinstance(items[-1], InvalidInput)
    items, _ = await collect(source(data), limit=1)
    assert [item.line for item in items] == [2]


@pytest.mark.anyio
async def test_csv_inputs_yields_a_row_with_a_problem_as_invalid() -> None:
    items, _ = await collect(source(b"a\n\xff\n1\n"))
    assert [type(item) for item in items] == [InvalidInput, CartInput]
    assert items[0].line == 2


@pytest.mark.anyio
async def test_csv_inputs_without_on_item_or_limit_yields_everything() -> None:
    items = [item async for item in csv_inputs(source(b"a\n1\n,\n2\n"))]
    assert items == [CartInput(2, {"a": "1"}, raw=b"1"), CartInput(4, {"a": "2"}, raw=b"2")]
