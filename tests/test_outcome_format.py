"""The outcome log's line format and the resume index as pure functions: fast, focused tests of
``cartloader/outcomes/format.py`` and ``cartloader/outcomes/resume.py`` (what their mutation runs use;
tests/test_outcome_log.py covers the file itself)."""

from __future__ import annotations

import io
import re
import tracemalloc
from dataclasses import replace

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from cartloader.models import CartInput, Outcome, PropertyProblem, RecordError
from cartloader.outcomes.format import (
    ENTRY_HEAD,
    RESERVED_FIELDS,
    STATUSES,
    LogFormatError,
    decode,
    encode_outcome,
    encode_pending,
    read_entry_head,
)
from cartloader.outcomes.resume import ResumeCounts, ResumeIndex, scan_log

# --- encoding -------------------------------------------------------------------------------------------


def test_the_statuses_and_reserved_fields_are_the_documented_ones() -> None:
    assert STATUSES == ("pending", "created", "updated", "failed", "invalid", "unsent")
    assert frozenset(
        {
            "line",
            "key",
            "status",
            "id",
            "error",
            "existing_id",
            "attempts",
            "duplicate_risk",
            "answered_at",
            "unmatched",
            "skipped_associations",
        }
    ) == (RESERVED_FIELDS)


def test_a_pending_line_without_a_key_has_only_line_and_status() -> None:
    assert encode_pending(CartInput(3, {})) == b'{"line":3,"status":"pending"}\n'
    assert encode_pending(CartInput(4, {}, key="k")) == b'{"line":4,"key":"k","status":"pending"}\n'


@pytest.mark.parametrize(
    ("outcome", "line"),
    [
        (Outcome(1, "created", "k", "5", attempts=2), b'{"line":1,"key":"k","status":"created","id":"5","attempts":2}'),
        (Outcome(1, "updated", None, None, attempts=1), b'{"line":1,"status":"updated","id":null,"attempts":1}'),
        (
            Outcome(1, "failed", "k", error=RecordError("X", "m", 400), attempts=3),
            b'{"line":1,"key":"k","status":"failed","error":{"category":"X","message":"m","status":400},"attempts":3}',
        ),
        (
            Outcome(1, "unsent", "k", error=RecordError("X", "m"), attempts=1),
            b'{"line":1,"key":"k","status":"unsent","error":{"category":"X","message":"m"},"attempts":1}',
        ),
        (Outcome(1, "pending", "k", attempts=4), b'{"line":1,"key":"k","status":"pending"}'),
        (
            Outcome(1, "invalid", error=RecordError("I", "m")),
            b'{"line":1,"status":"invalid","error":{"category":"I","message":"m"}}',
        ),
        (Outcome(1, "failed", "k", "77", attempts=1), b'{"line":1,"key":"k","status":"failed","id":"77","attempts":1}'),
        (
            Outcome(1, "created", "k", None, attempts=1, duplicate_risk=True, unmatched=True),
            b'{"line":1,"key":"k","status":"created","id":null,"attempts":1,"duplicate_risk":true,"unmatched":true}',
        ),
    ],
)
def test_each_outcome_is_one_line_with_exactly_its_fields_in_order(outcome: Outcome, line: bytes) -> None:
    assert encode_outcome(outcome) == line + b"\n"


def test_echoed_properties_follow_the_fields() -> None:
    line = encode_outcome(Outcome(1, "created", "k", "5", attempts=1), {"shop_id": "S1", "b": "2"})
    assert line == b'{"line":1,"key":"k","status":"created","id":"5","attempts":1,"shop_id":"S1","b":"2"}\n'
    assert encode_outcome(Outcome(1, "created", "k", "5", attempts=1), {}) == encode_outcome(
        Outcome(1, "created", "k", "5", attempts=1)
    )


# --- decoding -------------------------------------------------------------------------------------------


@given(
    st.integers(min_value=1, max_value=10**12),
    st.sampled_from(STATUSES),
    st.one_of(st.none(), st.text(max_size=8)),
    st.one_of(st.none(), st.text(min_size=1, max_size=8)),
    st.one_of(
        st.none(),
        st.builds(RecordError, st.text(max_size=5), st.text(max_size=5), st.one_of(st.none(), st.integers(400, 599))),
    ),
    st.integers(min_value=0, max_value=50),
    st.booleans(),
    st.booleans(),
)
def test_any_outcome_decodes_to_what_was_encoded(
    line: int,
    status: str,
    key: str | None,
    record_id: str | None,
    error: RecordError | None,
    attempts: int,
    risk: bool,
    unmatched: bool,
) -> None:
    outcome = Outcome(line, status, key, record_id, error, attempts, risk, unmatched)  # type: ignore[arg-type]
    decoded = decode(encode_outcome(outcome))
    with_attempts = status in ("created", "updated", "failed", "unsent")
    assert decoded == replace(outcome, attempts=attempts if with_attempts else 0)


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"[]", "an outcome entry is a JSON object"),
        (b'{"status":"created"}', '"line" must be a positive integer'),
        (b'{"line":0,"status":"created"}', '"line" must be a positive integer'),
        (b'{"line":-3,"status":"created"}', '"line" must be a positive integer'),
        (b'{"line":true,"status":"created"}', '"line" must be a positive integer'),
        (b'{"line":"1","status":"created"}', '"line" must be a positive integer'),
        (b'{"line":1.0,"status":"created"}', '"line" must be a positive integer'),
        (b'{"line":1,"status":"done"}', "unknown \"status\" 'done'"),
        (b'{"line":1}', 'unknown "status" None'),
        (b'{"line":1,"status":"created","key":5}', '"key" must be a str'),
        (b'{"line":1,"status":"created","id":5}', '"id" must be a str'),
        (b'{"line":1,"status":"failed","error":"x"}', '"error" must be an object'),
        (b'{"line":1,"status":"failed","error":{"message":"m"}}', '"category" must be a str'),
        (b'{"line":1,"status":"failed","error":{"category":"C"}}', '"message" must be a str'),
        (
            b'{"line":1,"status":"failed","error":{"category":"C","message":"m","status":"400"}}',
            '"status" must be a int',
        ),
        (b'{"line":1,"status":"created","attempts":"2"}', '"attempts" must be an integer'),
        (b'{"line":1,"status":"created","attempts":null}', '"attempts" must be an integer'),
    ],
)
def test_decode_refuses_what_is_not_an_outcome_entry_saying_why(data: bytes, reason: str) -> None:
    with pytest.raises(ValueError, match="^" + __import__("re").escape(reason) + "$"):
        decode(data)


def test_decode_reads_flags_only_when_true() -> None:
    base = b'{"line":2,"key":"k","status":"created","id":"9","attempts":1'
    assert decode(base + b"}") == Outcome(2, "created", "k", "9", None, 1, False, False)
    assert decode(base + b',"duplicate_risk":1,"unmatched":"true"}') == Outcome(2, "created", "k", "9", None, 1)
    assert decode(base + b',"duplicate_risk":true,"unmatched":true}') == Outcome(
        2, "created", "k", "9", None, 1, True, True
    )
    assert decode(b'{"line":2,"status":"invalid"}').attempts == 0


# --- the resume fast path and its slow twin -------------------------------------------------------------


@pytest.mark.parametrize(
    ("content", "head"),
    [
        (b'{"line":12,"key":"r-12","status":"created","id":"5"}', (12, "created")),
        (b'{"line":3,"status":"pending"}', (3, "pending")),
        (b'{"status": "unsent", "line": 7}', (7, "unsent")),
        (b' {"line":1,"status":"invalid"} ', (1, "invalid")),
    ],
)
def test_read_entry_head_gives_line_and_status(content: bytes, head: tuple[int, str]) -> None:
    assert read_entry_head(content, 40) == head


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        (b'{"line":1,"sta', "invalid JSON: "),
        (b"[1]", "not an object"),
        (b'{"line":0,"status":"created"}', '"line" must be a positive integer'),
        (b'{"line":false,"status":"created"}', '"line" must be a positive integer'),
        (b'{"line":2,"status":"maybe"}', "unknown \"status\" 'maybe'"),
    ],
)
def test_read_entry_head_names_the_log_line_of_a_bad_entry(content: bytes, reason: str) -> None:
    with pytest.raises(LogFormatError) as caught:
        read_entry_head(content, 40)
    assert caught.value.log_line == 40
    assert str(caught.value).startswith(f"line 40 is not an outcome entry ({reason}")
    assert str(caught.value).endswith(")")


def test_the_fast_head_matches_only_what_the_encoder_writes() -> None:
    written = encode_outcome(Outcome(5, "failed", 'a"b\\c', error=RecordError("X", "m"), attempts=1))
    assert ENTRY_HEAD.findall(written) == [(b"5", b"failed")]
    assert ENTRY_HEAD.findall(b'{"line": 5,"status":"failed"}') == []
    assert ENTRY_HEAD.findall(b'{"line":05,"status":"failed"}') == []


# --- the resume index -----------------------------------------------------------------------------------


def test_each_status_resumes_as_documented() -> None:
    index = ResumeIndex()
    for line, status in enumerate(STATUSES, 1):
        index.record(line, status)
    assert [index.status(line) for line in range(0, 8)] == [
        "absent", "pending", "done", "done", "failed", "done", "unsent", "absent",
    ]  # fmt: skip
    assert [index.should_send(line) for line in range(1, 8)] == [True, False, False, False, False, True, True]
    assert [index.should_send(line, retry_failed=True) for line in range(1, 8)] == [
        True, False, False, True, False, True, True,
    ]  # fmt: skip
    assert [index.is_pending(line) for line in range(1, 8)] == [True, False, False, False, False, False, False]
    assert [index.last_status(line) for line in range(1, 8)] == [*STATUSES, None]
    assert index.counts() == ResumeCounts(pending=1, created=1, updated=1, failed=1, invalid=1, unsent=1)
    assert len(index) == 6
    assert repr(index) == f"<ResumeIndex {index.counts()}>"


def test_neighbouring_lines_keep_their_own_status_and_the_last_entry_wins() -> None:
    index = ResumeIndex()
    for line in range(1, 9):
        index.record(line, "pending")
    index.record(4, "created")
    index.record(5, "failed")
    index.record(4, "unsent")
    assert [index.last_status(line) for line in range(1, 9)] == [
        "pending", "pending", "pending", "unsent", "failed", "pending", "pending", "pending",
    ]  # fmt: skip
    assert index.counts() == ResumeCounts(pending=6, failed=1, unsent=1)


def test_lines_on_page_edges_and_far_apart_are_kept() -> None:
    index = ResumeIndex()
    lines = [1, 65535, 65536, 65537, 131071, 10**9]
    for line in lines:
        index.record(line, "created")
    assert all(index.status(line) == "done" for line in lines)
    assert index.status(65534) == "absent" and index.status(10**9 + 1) == "absent"
    assert len(index) == 6
    with pytest.raises(ValueError, match=r"^line numbers start at 1, not -1$"):
        index.record(-1, "created")
    assert index.status(-1) == "absent" and index.status(0) == "absent"


def test_counts_skipped_by_resume() -> None:
    counts = ResumeCounts(pending=1, created=2, updated=3, failed=4, invalid=5, unsent=6)
    assert counts.done == 10
    assert counts.skipped(retry_failed=False) == 14
    assert counts.skipped(retry_failed=True) == 10


# --- scanning a log -------------------------------------------------------------------------------------

LOG = b"".join(
    encode_outcome(o)
    for o in [
        Outcome(1, "pending", "r-1"),
        Outcome(2, "pending", "r-2"),
        Outcome(1, "created", "r-1", "11", attempts=1),
        Outcome(3, "invalid", error=RecordError("INVALID_INPUT", "line 3: x")),
        Outcome(2, "unsent", "r-2", error=RecordError("X", "m"), attempts=1),
        Outcome(4, "failed", "r-4", error=RecordError("X", "m", 400), attempts=1),
    ]
)
EXPECTED = {1: "created", 2: "unsent", 3: "invalid", 4: "failed"}


def scanned(data: bytes, block_size: int = 1 << 20) -> tuple[dict[int, str | None], int, bool]:
    scan = scan_log(io.BytesIO(data), block_size=block_size)
    return {line: scan.index.last_status(line) for line in range(1, 6)}, scan.end, scan.needs_newline


@pytest.mark.parametrize("block_size", [1, 2, 5, 40, 64, 1 << 20])
def test_a_log_scans_alike_in_any_block_size(block_size: int) -> None:
    statuses, end, needs_newline = scanned(LOG, block_size)
    assert statuses == {**EXPECTED, 5: None}
    assert (end, needs_newline) == (len(LOG), False)


def test_an_empty_log_scans_empty() -> None:
    assert scanned(b"") == (dict.fromkeys(range(1, 6)), 0, False)


def test_a_torn_last_line_is_left_out_and_cut() -> None:
    statuses, end, needs_newline = scanned(LOG + b'{"line":5,"key":"r-5","sta')
    assert statuses == {**EXPECTED, 5: None}
    assert (end, needs_newline) == (len(LOG), False)


def test_a_complete_last_line_without_its_newline_is_kept() -> None:
    last = b'{"line":5,"key":"r-5","status":"created","id":"15","attempts":1}'
    statuses, end, needs_newline = scanned(LOG + last, 7)
    assert statuses == {**EXPECTED, 5: "created"}
    assert (end, needs_newline) == (len(LOG) + len(last), True)


@pytest.mark.parametrize("tail", [b"  ", b"\n\n"])
def test_white_space_after_the_last_entry_is_harmless(tail: bytes) -> None:
    statuses, end, needs_newline = scanned(LOG + tail)
    assert statuses == {**EXPECTED, 5: None}
    assert end == len(LOG) + len(tail)
    assert needs_newline == (tail == b"  ")


def test_other_spellings_blank_lines_and_unknown_fast_statuses_are_read_exactly() -> None:
    spaced = b'{"line": 1, "status": "created"}\n\n{"status":"pending","line":2}\n{"line":3,"status":"unsent"}\n'
    statuses, end, _ = scanned(spaced)
    assert statuses == {1: "created", 2: "pending", 3: "unsent", 4: None, 5: None}
    assert end == len(spaced)


def test_a_fast_line_with_a_status_the_format_does_not_know_is_refused_naming_its_log_line() -> None:
    data = LOG + b'{"line":5,"status":"zzz"}\n'
    with pytest.raises(LogFormatError, match=r"^line 7 is not an outcome entry \(unknown \"status\" 'zzz'\)$"):
        scan_log(io.BytesIO(data))


@pytest.mark.parametrize("block_size", [1, 64, 1 << 20])
def test_a_bad_line_in_the_middle_is_refused_naming_its_log_line(block_size: int) -> None:
    data = LOG + b"garbage\n" + LOG
    with pytest.raises(LogFormatError, match=r"^line 7 is not an outcome entry \(invalid JSON"):
        scan_log(io.BytesIO(data), block_size=block_size)


def test_the_last_entry_of_a_line_wins_within_one_block() -> None:
    data = b'{"line":1,"status":"created"}\n{"line":1,"status":"pending"}\n'
    assert scanned(data)[0][1] == "pending"
    assert orjson.loads(data.splitlines()[0])["line"] == 1


class RecordingStream(io.BytesIO):
    """A log whose reads are noted, to check the scan never asks for more than a block at a time."""

    def __init__(self, data: bytes) -> None:
        super().__init__(data)
        self.asked: list[int | None] = []

    def read(self, size: int | None = -1) -> bytes:
        self.asked.append(size)
        return super().read(size)


def test_a_log_is_scanned_a_block_at_a_time() -> None:
    stream = RecordingStream(LOG * 20)
    scan_log(stream, block_size=64)
    assert set(stream.asked) == {64}


def test_the_index_takes_half_a_byte_per_line_in_pages_where_lines_exist() -> None:
    tracemalloc.start()
    try:
        index = ResumeIndex()
        for line in range(1, 200_001):  # pages 0..3 of 65,536 lines
            index.record(line, "created")
        index.record(10**12, "created")  # one more page, far away
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert len(index) == 200_001
    assert peak < 5 * 32 * 1024 + 16 * 1024, peak  # five pages of 32 KiB, and the dict holding them


def test_an_error_with_details_decodes_each_property_problem() -> None:
    error = RecordError(
        "VALIDATION_ERROR",
        "2 properties",
        400,
        (
            PropertyProblem("hs_currency_code", "INVALID_OPTION", "not an option", "XYZ"),
            PropertyProblem("price", "INVALID_DECIMAL", "not a number"),
        ),
    )
    outcome = Outcome(7, "failed", "k", error=error, attempts=1)
    line = encode_outcome(outcome)
    assert orjson.loads(line)["error"]["details"] == [
        {"property": "hs_currency_code", "code": "INVALID_OPTION", "message": "not an option", "value": "XYZ"},
        {"property": "price", "code": "INVALID_DECIMAL", "message": "not a number"},
    ]
    assert decode(line) == outcome


@pytest.mark.parametrize(
    ("details", "reason"),
    [
        (b'"x"', '"error.details" must be a list of objects'),
        (b'[{"property":"p","code":"c","message":"m"}, 1]', '"error.details" must be a list of objects'),
        (b'[{"code":"c","message":"m"}]', '"property" must be a str'),
        (b'[{"property":"p","message":"m"}]', '"code" must be a str'),
        (b'[{"property":"p","code":"c"}]', '"message" must be a str'),
        (b'[{"property":"p","code":"c","message":"m","value":5}]', '"value" must be a str'),
    ],
)
def test_error_details_that_are_not_property_problems_are_refused(details: bytes, reason: str) -> None:
    data = b'{"line":1,"status":"failed","error":{"category":"C","message":"m","details":' + details + b"}}"
    with pytest.raises(ValueError, match="^" + re.escape(reason) + "$"):
        decode(data)


def test_empty_or_null_details_decode_to_none() -> None:
    for details in (b"null", b"[]"):
        data = b'{"line":1,"status":"failed","error":{"category":"C","message":"m","details":' + details + b"}}"
        assert decode(data).error == RecordError("C", "m")
