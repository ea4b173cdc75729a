"""The resume index: the last status of every line of an outcome log, packed in a few bits per line.

``--resume`` reads the log once into a ``ResumeIndex`` and then asks it, line by line, whether a record must
be sent again. Memory is half a byte per line number up to the highest one seen, in pages allocated only
where lines exist (a million lines take about 0.5 MB), never a set or dict of line numbers.

Each half byte holds the status code of the line's last entry (three bits) and one sticky bit: some entry of the
line shows that HubSpot may hold the record already (``duplicate_risk``, or a failure ``AMBIGUOUS``), so that a
record resent by ``--retry-failed`` keeps its flag.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import BinaryIO, Literal

import orjson

from cartloader.outcomes.format import ENTRY_HEAD, STATUSES, LogFormatError, read_entry_head

Resumption = Literal["absent", "pending", "unsent", "failed", "done"]

# One 4-bit code per line; 0 means no entry, then the statuses in the log format's order.
_CODES: dict[str, int] = {status: code for code, status in enumerate(STATUSES, 1)}
_CODES_BYTES: dict[bytes, int] = {name.encode(): code for name, code in _CODES.items()}
_NAMES = ("absent", *STATUSES)
_RESUMPTION: tuple[Resumption, ...] = ("absent", "pending", "done", "done", "failed", "done", "unsent")
_PENDING = _CODES["pending"]
_FAILED = _CODES["failed"]
_UNSENT = _CODES["unsent"]
_STATUS_BITS = 0x07
_MAY_EXIST = 0x08  # the sticky bit, beside the status code of a line's half byte
# What an entry showing that HubSpot may hold the record contains, as orjson writes it (a JSON string cannot
# contain these bytes unescaped); a line that contains them is then parsed exactly.
_MAY_EXIST_MARKS = (b'"duplicate_risk":true', b'"category":"AMBIGUOUS"')
_PAGE_SHIFT = 16  # 65,536 lines per page: 32 KiB
_PAGE_LINES = 1 << _PAGE_SHIFT
_PAGE_MASK = _PAGE_LINES - 1
_BLOCK_SIZE = 1 << 20


@dataclass(frozen=True, slots=True)
class ResumeCounts:
    """How many lines of a log end in each status (its last entry)."""

    pending: int = 0
    created: int = 0
    updated: int = 0
    failed: int = 0
    invalid: int = 0
    unsent: int = 0

    @property
    def done(self) -> int:
        """Lines with a final outcome that ``--resume`` never sends again: created, updated or invalid."""
        return self.created + self.updated + self.invalid

    def skipped(self, *, retry_failed: bool) -> int:
        """Lines ``--resume`` skips: the done ones, and the failed ones unless they are retried."""
        return self.done + (0 if retry_failed else self.failed)


class ResumeIndex:
    """The last status recorded for each line number; the last entry for a line wins."""

    __slots__ = ("_pages",)

    def __init__(self) -> None:
        self._pages: dict[int, bytearray] = {}

    def record(self, line: int, status: str) -> None:
        """Note ``status`` as the latest entry for ``line`` (a line number >= 1)."""
        if line < 1:
            raise ValueError(f"line numbers start at 1, not {line}")
        self._set(line, _CODES[status])

    def mark_may_exist(self, line: int) -> None:
        """Note that an entry of ``line`` shows HubSpot may hold its record already; later entries keep it."""
        if line < 1:
            raise ValueError(f"line numbers start at 1, not {line}")
        page = self._page(line)
        offset = line & _PAGE_MASK
        page[offset >> 1] |= _MAY_EXIST << 4 if offset & 1 else _MAY_EXIST

    def _page(self, line: int) -> bytearray:
        page = self._pages.get(line >> _PAGE_SHIFT)
        if page is None:
            page = self._pages[line >> _PAGE_SHIFT] = bytearray(_PAGE_LINES >> 1)
        return page

    def _set(self, line: int, code: int) -> None:
        """Set the status code of ``line``, keeping its sticky bit and the other line of the byte."""
        page = self._pages.get(line >> _PAGE_SHIFT)
        if page is None:
            page = self._pages[line >> _PAGE_SHIFT] = bytearray(_PAGE_LINES >> 1)
        offset = line & _PAGE_MASK
        index = offset >> 1
        if offset & 1:
            page[index] = (page[index] & 0x8F) | (code << 4)
        else:
            page[index] = (page[index] & 0xF8) | code

    def _half_byte(self, line: int) -> int:
        page = self._pages.get(line >> _PAGE_SHIFT)
        if page is None or line < 1:
            return 0
        offset = line & _PAGE_MASK
        byte = page[offset >> 1]
        return byte >> 4 if offset & 1 else byte & 0x0F

    def _code(self, line: int) -> int:
        return self._half_byte(line) & _STATUS_BITS

    def last_status(self, line: int) -> str | None:
        """The status of the line's last entry (``"pending"``, ``"created"``, ...), or ``None``."""
        code = self._code(line)
        return _NAMES[code] if code else None

    def status(self, line: int) -> Resumption:
        """``"done"`` (created, updated, invalid), ``"failed"``, ``"pending"``, ``"unsent"`` or ``"absent"``
        (no entry)."""
        return _RESUMPTION[self._code(line)]

    def should_send(self, line: int, *, retry_failed: bool = False) -> bool:
        """Whether ``--resume`` sends the line: absent, pending and unsent lines, and failed ones when retried."""
        code = self._code(line)
        return code <= _PENDING or code == _UNSENT or (code == _FAILED and retry_failed)

    def is_pending(self, line: int) -> bool:
        """Whether the line was being sent when the run stopped: it may exist in HubSpot already (an ``unsent``
        line may not: HubSpot answered that it processed nothing, or it never left)."""
        return self._code(line) == _PENDING

    def may_exist(self, line: int) -> bool:
        """Whether HubSpot may hold the line's record already, so that sending it again risks a duplicate: it
        was ``pending``, or an entry of it was flagged ``duplicate_risk`` or failed ``AMBIGUOUS`` (a record
        resent by ``--retry-failed``)."""
        half = self._half_byte(line)
        return half & _STATUS_BITS == _PENDING or bool(half & _MAY_EXIST)

    def counts(self) -> ResumeCounts:
        """How many lines end in each status."""
        per_byte: Counter[int] = Counter()
        for page in self._pages.values():
            per_byte.update(page)
        totals = [0] * len(_NAMES)
        for byte, count in per_byte.items():
            totals[byte & _STATUS_BITS] += count
            totals[byte >> 4 & _STATUS_BITS] += count
        return ResumeCounts(*totals[1:])

    def __len__(self) -> int:
        """The number of lines with an entry."""
        counts = self.counts()
        return counts.done + counts.failed + counts.pending + counts.unsent

    def __repr__(self) -> str:
        return f"<ResumeIndex {self.counts()}>"


@dataclass(frozen=True, slots=True)
class LogScan:
    """What reading a log found: its index, and where its complete entries end.

    ``end`` is the length of the log up to the last complete entry; bytes after it are a torn line to cut.
    ``needs_newline`` is true when the last entry is complete but lacks its ``"\\n"`` (kept, not cut: the
    outcome it holds would otherwise be lost).
    """

    index: ResumeIndex
    end: int
    needs_newline: bool


def scan_log(stream: BinaryIO, *, block_size: int = _BLOCK_SIZE) -> LogScan:
    """Read an outcome log once, in blocks, into a ``ResumeIndex``; raises ``LogFormatError`` on a bad line."""
    index = ResumeIndex()
    set_code = index._set
    offset = 0  # bytes of the log consumed as complete lines
    log_line = 0
    tail = b""
    while True:
        block = stream.read(block_size)
        if not block:
            break
        block = tail + block if tail else block
        cut = block.rfind(b"\n") + 1
        if cut == 0:
            tail = block
            continue
        complete, tail = block[:cut], block[cut:]
        entries = ENTRY_HEAD.findall(complete)
        lines_in_block = complete.count(b"\n")
        if len(entries) == lines_in_block:
            try:
                # dict() keeps the last entry per line in C; most lines have two entries (pending, final).
                for number, status in dict(entries).items():
                    set_code(int(number), _CODES_BYTES[status])
            except KeyError:
                _scan_slowly(index, complete, log_line)
        else:
            _scan_slowly(index, complete, log_line)
        if _MAY_EXIST_MARKS[0] in complete or _MAY_EXIST_MARKS[1] in complete:
            _mark_may_exist(index, complete)
        log_line += lines_in_block
        offset += cut
    if tail.strip():
        try:
            line, status = read_entry_head(tail, log_line + 1)
        except LogFormatError:
            return LogScan(index, offset, needs_newline=False)
        index.record(line, status)
        _mark_may_exist(index, tail)
        return LogScan(index, offset + len(tail), needs_newline=True)
    # A tail of only whitespace is harmless and kept.
    return LogScan(index, offset + len(tail), needs_newline=bool(tail))


def _scan_slowly(index: ResumeIndex, complete: bytes, first_log_line: int) -> None:
    """The exact path: every line parsed as JSON, blank lines allowed, errors named by log line."""
    for number, content in enumerate(complete.split(b"\n")[:-1], first_log_line + 1):
        if content.strip():
            line, status = read_entry_head(content, number)
            index.record(line, status)


def _mark_may_exist(index: ResumeIndex, complete: bytes) -> None:
    """Mark the lines of entries (already read, so well formed) showing HubSpot may hold their record."""
    for content in complete.split(b"\n"):
        if _MAY_EXIST_MARKS[0] in content or _MAY_EXIST_MARKS[1] in content:
            try:
                entry = orjson.loads(content)
            except orjson.JSONDecodeError:
                continue  # the fast path reads only an entry's head; a line spoilt after it proves nothing
            if not isinstance(entry, dict):
                continue
            error = entry.get("error")
            ambiguous = isinstance(error, dict) and error.get("category") == "AMBIGUOUS"
            if entry.get("duplicate_risk") is True or ambiguous:
                index.mark_may_exist(entry["line"])
