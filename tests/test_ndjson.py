"""The streaming NDJSON reader: line splitting, numbering, limits, gzip, and parsing into records."""

from __future__ import annotations

import gzip
import io
import os
import tracemalloc
from pathlib import Path
from typing import BinaryIO

import anyio
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cartloader.errors import ConfigError, InputReadError
from cartloader.input.ndjson import ndjson_inputs, open_input, parse_line, read_lines
from cartloader.models import CartInput, InvalidInput

pytestmark = pytest.mark.anyio


async def lines_of(data: bytes, **options: int) -> list[tuple[int, bytes | None]]:
    return [item async for item in read_lines(io.BytesIO(data), **options)]


def expected_lines(data: bytes) -> list[tuple[int, bytes]]:
    """The contract's splitting rules, written the slow and obvious way."""
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    pieces = data.split(b"\n")
    if pieces[-1] == b"":
        pieces.pop()
    result = []
    for number, piece in enumerate(pieces, 1):
        content = piece[:-1] if piece.endswith(b"\r") else piece
        if content.strip(b" \t\n\r\x0b\x0c"):
            result.append((number, content))
    return result


# --- splitting ------------------------------------------------------------------------------------------


async def test_lines_are_numbered_and_blank_lines_counted() -> None:
    data = b'{"a":1}\n\n   \n\t\n{"b":2}\n'
    assert await lines_of(data) == [(1, b'{"a":1}'), (5, b'{"b":2}')]


async def test_crlf_drops_one_carriage_return() -> None:
    assert await lines_of(b"a\r\nb\r\r\nc\r") == [(1, b"a"), (2, b"b\r"), (3, b"c")]


async def test_lone_carriage_return_does_not_split() -> None:
    assert await lines_of(b"a\rb\n") == [(1, b"a\rb")]


async def test_bom_dropped_on_line_one_only() -> None:
    bom = b"\xef\xbb\xbf"
    assert await lines_of(bom + b"a\n" + bom + b"b\n") == [(1, b"a"), (2, bom + b"b")]


async def test_bom_split_across_blocks() -> None:
    assert await lines_of(b"\xef\xbb\xbfab\ncd", block_size=1) == [(1, b"ab"), (2, b"cd")]


async def test_last_line_without_newline_counts() -> None:
    assert await lines_of(b"a\nb") == [(1, b"a"), (2, b"b")]


async def test_empty_input() -> None:
    assert await lines_of(b"") == []
    assert await lines_of(b"\n\n") == []


@pytest.mark.parametrize("block_size", [1, 2, 3, 5, 64])
async def test_lines_spanning_blocks(block_size: int) -> None:
    data = b'{"a":"first"}\r\n\n{"b":"second line"}\nx\n  \nlast'
    assert await lines_of(data, block_size=block_size) == expected_lines(data)


@pytest.mark.parametrize("block_size", [1, 4, 7, 1024])
async def test_overlong_line_is_reported_once_and_skipped(block_size: int) -> None:
    data = b"short\n" + b"x" * 50 + b"\nok\n" + b"y" * 11 + b"\r\nzz\n" + b"w" * 30
    result = await lines_of(data, max_line_bytes=10, block_size=block_size)
    assert result == [(1, b"short"), (2, None), (3, b"ok"), (4, None), (5, b"zz"), (6, None)]


async def test_line_of_exactly_the_limit_is_kept() -> None:
    data = b"x" * 10 + b"\r\n" + b"\xef\xbb\xbf"
    assert await lines_of(b"\xef\xbb\xbf" + data, max_line_bytes=10, block_size=3) == [(1, b"x" * 10), (2, data[12:])]


class CountingStream(io.RawIOBase):
    """An endless line (no newline) that records the largest block asked for."""

    def __init__(self, total: int) -> None:
        self.left = total

    def read(self, size: int = -1) -> bytes:
        chunk = min(size, self.left)
        self.left -= chunk
        return b"z" * chunk


async def test_overlong_line_memory_is_bounded() -> None:
    stream = CountingStream(total=8_000_000)
    tracemalloc.start()
    try:
        seen = [item async for item in read_lines(stream, max_line_bytes=1000, block_size=4096)]  # type: ignore[arg-type]
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert seen == [(1, None)]
    assert stream.left == 0  # the whole 8 MB line was read through
    assert peak < 256 * 1024, peak  # a few blocks, not the line


class GeneratedCarts:
    """A stream of ``count`` NDJSON carts made as they are read (the input itself is never held whole)."""

    def __init__(self, count: int) -> None:
        self.count = count
        self.made = 0
        self.size = 0

    def read(self, size: int = -1) -> bytes:
        lines: list[bytes] = []
        total = 0
        while (size < 0 or total < size) and self.made < self.count:
            self.made += 1
            line = b'{"hs_cart_name":"cart %d","hs_external_cart_id":"ext-%d","hs_total_price":12.5}\n' % (
                self.made,
                self.made,
            )
            lines.append(line)
            total += len(line)
        self.size += total
        return b"".join(lines)


async def test_reading_a_large_input_keeps_memory_bounded_by_the_block_not_the_input() -> None:
    stream = GeneratedCarts(40_000)
    bound = 1024 * 1024
    records = 0
    tracemalloc.start()
    try:
        async for item in ndjson_inputs(stream, block_size=1 << 16):  # type: ignore[arg-type]
            assert isinstance(item, CartInput)
            records += 1
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert records == 40_000
    assert stream.size > 3 * bound  # the input is several times the bound
    assert peak < bound, peak


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=200), st.integers(min_value=1, max_value=17))
def test_arbitrary_bytes_never_crash(data: bytes, block_size: int) -> None:
    async def run() -> None:
        got = await lines_of(data, block_size=block_size)
        assert got == expected_lines(data)
        parsed = [parse_line(line, content) for line, content in got]
        assert [p.line for p in parsed] == [line for line, _ in got]

    anyio.run(run)


@settings(max_examples=100, deadline=None)
@given(st.lists(st.sampled_from([b"a", b"\n", b"\r", b" ", b"\xef\xbb\xbf", b"{}", b"xyz"]), max_size=40))
def test_structured_bytes_split_like_the_rules(pieces: list[bytes]) -> None:
    data = b"".join(pieces)

    async def run() -> None:
        for block_size in (1, 2, 5, 1 << 20):
            assert await lines_of(data, block_size=block_size) == expected_lines(data)

    anyio.run(run)


# --- parsing --------------------------------------------------------------------------------------------


def test_parse_line_valid() -> None:
    record = parse_line(4, b'{"hs_total_price": 19.99, "qty": 2}')
    assert isinstance(record, CartInput)
    assert record.properties == {"hs_total_price": "19.99", "qty": "2"}
    assert record.raw == b'{"hs_total_price": 19.99, "qty": 2}'
    assert record.line == 4


def test_parse_line_too_long() -> None:
    result = parse_line(9, None)
    assert isinstance(result, InvalidInput)
    assert result.message == "line 9: longer than 8 MiB"


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        (b"{", "line 2: invalid JSON: "),
        (b'{"a": NaN}', "line 2: invalid JSON: "),
        (b'{"a": 1e400}', "line 2: invalid JSON: "),
        (b'{"a": "\xff"}', "line 2: not UTF-8 text (byte 0xFF at column 8 of line 2); if it is Latin-1"),
        (b'{"a": 1} x', "line 2: invalid JSON: "),
        (b"[1]", "line 2: expected a JSON object"),
    ],
)
def test_parse_line_invalid(content: bytes, reason: str) -> None:
    result = parse_line(2, content)
    assert isinstance(result, InvalidInput)
    assert result.message.startswith(reason)
    assert result.raw == content


@pytest.mark.parametrize(
    ("literal", "expected"),
    [
        (b"18446744073709551615", "18446744073709551615"),
        (b"-9223372036854775808", "-9223372036854775808"),
        (b"1.5e-7", "0.00000015"),
        (b"1E21", "1000000000000000000000"),
        (b"2.0", "2"),
        (b"-0.0", "0"),
        # More digits than a double holds: kept exactly, never rounded.
        (b"0.1000000000000000000001", "0.1000000000000000000001"),
        (b"12345678901234567.5", "12345678901234567.5"),
    ],
)
def test_json_numbers_are_never_changed(literal: bytes, expected: str) -> None:
    record = parse_line(1, b'{"p": ' + literal + b', "s": "x"}')
    assert isinstance(record, CartInput)
    assert record.properties == {"p": expected, "s": "x"}


@pytest.mark.parametrize("literal", [b"18446744073709551616", b"-9223372036854775809", b"1" + b"0" * 300])
def test_json_integers_beyond_64_bits_are_invalid(literal: bytes) -> None:
    result = parse_line(3, b'{"p": 1.5, "q": ' + literal + b"}")
    assert isinstance(result, InvalidInput)
    assert result.message == 'line 3: property "q": integers beyond 64 bits are not allowed'


async def test_ndjson_inputs_parses_and_skips() -> None:
    data = b'{"a":"1"}\nnot json\n\n{"b":2}\n[]\n'
    results = [r async for r in ndjson_inputs(io.BytesIO(data))]
    assert [(type(r).__name__, r.line) for r in results] == [
        ("CartInput", 1),
        ("InvalidInput", 2),
        ("CartInput", 4),
        ("InvalidInput", 5),
    ]
    skipped = [r.line async for r in ndjson_inputs(io.BytesIO(data), skip=lambda line: line in (1, 2))]
    assert skipped == [4, 5]


async def test_ndjson_inputs_reports_overlong_lines_with_the_limit() -> None:
    results = [r async for r in ndjson_inputs(io.BytesIO(b'{"a":"' + b"x" * 100 + b'"}\n'), max_line_bytes=16)]
    assert isinstance(results[0], InvalidInput)
    assert results[0].message == "line 1: longer than 16 bytes"


# --- opening --------------------------------------------------------------------------------------------


def test_open_plain_and_gzip(tmp_path: Path) -> None:
    plain = tmp_path / "carts.ndjson"
    plain.write_bytes(b'{"a":1}\n')
    packed = tmp_path / "carts.ndjson.gz"
    packed.write_bytes(gzip.compress(b'{"a":1}\n'))
    for path in (plain, packed):
        with open_input(str(path)) as stream:
            assert stream.read() == b'{"a":1}\n'


def test_open_stdin() -> None:
    import sys

    assert open_input("-") is sys.stdin.buffer


def test_open_missing_file() -> None:
    with pytest.raises(ConfigError, match=r"^cannot read input nope\.ndjson: No such file or directory$"):
        open_input("nope.ndjson")


def test_open_directory(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"^cannot read input .*: Is a directory$"):
        open_input(str(tmp_path))


def test_open_gz_that_is_not_gzip(tmp_path: Path) -> None:
    path = tmp_path / "carts.ndjson.gz"
    path.write_bytes(b'{"a":1}\n')
    with pytest.raises(ConfigError, match=r"^cannot read input .*carts\.ndjson\.gz: "):
        open_input(str(path))


async def test_truncated_gzip_fails_with_one_line_as_an_input_read_error(tmp_path: Path) -> None:
    path = tmp_path / "carts.ndjson.gz"
    path.write_bytes(gzip.compress(b"".join(b'{"a":%d}\n' % n for n in range(100_000)))[:-100])
    with (
        open_input(str(path)) as stream,
        pytest.raises(
            InputReadError, match=r"^cannot read input .*carts\.ndjson\.gz: the compressed file is truncated$"
        ),
    ):
        async for _ in read_lines(stream, block_size=1 << 16):
            pass


def open_pipe() -> tuple[BinaryIO, BinaryIO]:
    read_end, write_end = os.pipe()
    return open(read_end, "rb"), open(write_end, "wb", buffering=0)


async def test_lines_from_a_pipe_arrive_before_the_block_is_full() -> None:
    stream, writer = open_pipe()
    with stream, writer:
        writer.write(b'{"a":"1"}\n')
        lines = read_lines(stream)
        with anyio.fail_after(5):
            assert await lines.__anext__() == (1, b'{"a":"1"}')
        writer.close()
        assert [item async for item in lines] == []
