"""Hypothesis, for what tests/test_ndjson.py and tests/test_records.py do not already cover: arbitrary bytes
through the whole reader the command line uses (``ndjson_inputs``) give exactly one record or ``invalid`` per
non-blank line, and any JSON number literal is either kept exactly or refused: never silently changed."""

from __future__ import annotations

import io
from decimal import Decimal

import anyio
from hypothesis import example, given, settings
from hypothesis import strategies as st

from cartloader.input.ndjson import ndjson_inputs, parse_line
from cartloader.models import CartInput, InvalidInput
from tests.test_ndjson import expected_lines

# Bytes that make lines, blanks, BOMs, JSON and broken UTF-8 likely, mixed with anything at all.
PIECES = st.sampled_from(
    [b"\n", b"\r\n", b"\r", b" ", b"\t", b"\xef\xbb\xbf", b"{", b"}", b'"a"', b":", b",", b"1", b"1e999", b"[]",
     b'{"a": 1}', b'{"properties": {"b": "x"}}', b"\xff", b"\xc3", b"null", b"-"]
)  # fmt: skip
NDJSON_BYTES = st.lists(PIECES | st.binary(max_size=8), max_size=60).map(b"".join)


@settings(max_examples=300, deadline=None)
@given(NDJSON_BYTES)
def test_any_bytes_through_the_reader_give_one_outcome_per_non_blank_line_in_order(data: bytes) -> None:
    async def read() -> list[CartInput | InvalidInput]:
        return [item async for item in ndjson_inputs(io.BytesIO(data))]

    items = anyio.run(read)
    assert [item.line for item in items] == [line for line, _ in expected_lines(data)]
    for item in items:
        assert isinstance(item, CartInput | InvalidInput)
        if isinstance(item, InvalidInput):
            assert item.message.startswith(f"line {item.line}: ")
        else:
            assert all(isinstance(value, str) for value in item.properties.values())


@st.composite
def number_literals(draw: st.DrawFn) -> str:
    """A JSON number literal: sign, integer part, optional fraction and exponent (any length within reason)."""
    sign = draw(st.sampled_from(["", "-"]))
    integer = draw(st.sampled_from(["0"]) | st.from_regex(r"[1-9][0-9]{0,40}", fullmatch=True))
    fraction = draw(st.sampled_from([""]) | st.from_regex(r"\.[0-9]{1,40}", fullmatch=True))
    exponent = draw(st.sampled_from([""]) | st.from_regex(r"[eE][+-]?[0-9]{1,3}", fullmatch=True))
    return sign + integer + fraction + exponent


@settings(max_examples=500, deadline=None)
@given(number_literals())
@example("18446744073709551615")
@example("18446744073709551616")
@example("-9223372036854775809")
@example("0.1000000000000000055511151231257827")
@example("1e400")
@example("1e-400")  # underflows a double to 0.0: was silently logged and sent as "0"
@example("1.5e-320")  # a subnormal double: fewer digits than written
@example("-0.0e-5")
@example("123456789012345678901234567890.5")
def test_a_json_number_is_kept_exactly_or_refused_never_changed(literal: str) -> None:
    result = parse_line(7, b'{"n": ' + literal.encode() + b', "s": "x"}')
    if isinstance(result, InvalidInput):
        assert result.message.startswith("line 7: ")  # 1e400 is refused by the JSON reader: beyond a double
        is_integer = not any(c in literal for c in ".eE")
        if is_integer:  # a whole number is refused only beyond 64 bits
            assert not -(2**63) <= int(literal) < 2**64, result.message
        return
    out = result.properties["n"]
    assert Decimal(out) == Decimal(literal), (literal, out)
    assert "e" not in out.lower()
    assert out == "0" or not out.endswith(".0")
    assert result.properties["s"] == "x"
