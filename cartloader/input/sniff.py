"""A look at the input's first bytes before anything is sent: gzip data without a ``.gz`` name, UTF-16 text read as
UTF-8, or a CSV file given as NDJSON, is refused at once with a hint (exit 2) instead of becoming thousands of
``invalid`` lines; and a CSV header's delimiter, when none is given."""

from __future__ import annotations

import codecs
import csv
from typing import BinaryIO

import orjson

from cartloader.errors import ConfigError
from cartloader.input.encoding import is_utf8, refuse_utf16_without_encoding

_GZIP_MAGIC = b"\x1f\x8b"
_BOM = b"\xef\xbb\xbf"
_HEAD_BYTES = 64 * 1024
_SEPARATORS = (b",", b";", b"\t", b"|")


def peek_head(stream: BinaryIO) -> bytes:
    """The first bytes of ``stream`` without consuming them (what a buffered reader holds: at least one byte
    unless the input is empty)."""
    peek = getattr(stream, "peek", None)
    if peek is not None:
        return bytes(peek(_HEAD_BYTES)[:_HEAD_BYTES])
    if stream.seekable():
        position = stream.tell()
        head = stream.read(_HEAD_BYTES)
        stream.seek(position)
        return head
    return b""


def looks_like_csv(line: bytes) -> bool:
    """Whether an input's first non-blank line reads as a CSV header rather than (broken) JSON."""
    text = line.strip()
    if not text or text[:1] in (b"{", b"["):
        return False
    try:
        orjson.loads(text)
    except orjson.JSONDecodeError:
        return any(separator in text for separator in _SEPARATORS)
    return False


def check_head(head: bytes, *, path: str, input_format: str, encoding: str = "utf-8") -> None:
    """Refuse (``ConfigError``) gzip data without a ``.gz`` name, UTF-16/32 text read as UTF-8, and for NDJSON a
    first non-blank line that looks like a CSV header. ``head`` is the input's first bytes as stored, ``encoding``
    the canonical name of the codec it is read with."""
    shown = "stdin" if path == "-" else path
    if head.startswith(_GZIP_MAGIC):
        hint = "pipe it through gunzip" if path == "-" else f"name it {path}.gz, or pipe it through gunzip"
        raise ConfigError(f"input {shown} is gzip-compressed data: {hint}")
    if is_utf8(encoding):
        refuse_utf16_without_encoding(head, shown)
    else:
        decoder = codecs.getincrementaldecoder(encoding)("replace")
        head = decoder.decode(head).encode("utf-8")
    if input_format != "ndjson":
        return
    for line in head.removeprefix(_BOM).split(b"\n"):
        if not line.strip():
            continue
        if looks_like_csv(line):
            first = line.strip().decode("utf-8", "replace")
            if len(first) > 60:
                first = first[:57] + "..."
            raise ConfigError(
                f"input {shown} looks like CSV, not NDJSON (its first line is {first!r}): give --format csv"
            )
        return


#: The delimiters a CSV header is sniffed for, in the order a message names them.
DELIMITERS = (",", ";", "\t", "|")
_NAMES = {",": "','", ";": "';'", "\t": "tab", "|": "'|'"}


def delimiter_name(delimiter: str) -> str:
    """A delimiter as a message names it (``tab`` for a tab)."""
    return _NAMES.get(delimiter, repr(delimiter))


def sniff_delimiter(header: str, path: str) -> str:
    """The delimiter of a CSV header line: the one of ``,`` ``;`` tab ``|`` that splits it into the most columns
    (quotes respected); ``,`` when none splits it. ``ConfigError`` when two split it into as many columns."""
    counts = {}
    for delimiter in DELIMITERS:
        try:
            fields = next(csv.reader([header], delimiter=delimiter, strict=False), [])
        except csv.Error:
            continue
        counts[delimiter] = len(fields)
    most = max(counts.values(), default=1)
    if most <= 1:
        return ","
    best = [delimiter for delimiter, count in counts.items() if count == most]
    if len(best) > 1:
        shown = " and ".join(delimiter_name(delimiter) for delimiter in best)
        raise ConfigError(
            f"input {path}: the header splits into {most} columns at {shown} alike: "
            f"give --csv-delimiter (e.g. --csv-delimiter {best[0] if best[0] != chr(9) else 'tab'})"
        )
    return best[0]


def one_column_hint(columns: list[str], delimiter: str, path: str) -> None:
    """Refuse (``ConfigError``) a header read as one column that holds another delimiter: the wrong delimiter."""
    if len(columns) != 1:
        return
    for other in DELIMITERS:
        if other != delimiter and other in columns[0]:
            first = columns[0] if len(columns[0]) <= 60 else columns[0][:57] + "..."
            raise ConfigError(
                f"input {path}: the header is one column {first!r}, which holds {delimiter_name(other)}: "
                f"its delimiter is probably {delimiter_name(other)} (give --csv-delimiter "
                f"{'tab' if other == chr(9) else other}, or leave the option out to sniff it)"
            )
