"""A look at the input's first bytes before anything is sent: gzip data without a ``.gz`` name, or a CSV file given
as NDJSON, is refused at once with a hint (exit 2) instead of becoming thousands of ``invalid`` lines."""

from __future__ import annotations

from typing import BinaryIO

import orjson

from cartloader.errors import ConfigError

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


def check_head(head: bytes, *, path: str, input_format: str) -> None:
    """Refuse (``ConfigError``) gzip data without a ``.gz`` name, and for NDJSON a first non-blank line that looks
    like a CSV header."""
    shown = "stdin" if path == "-" else path
    if head.startswith(_GZIP_MAGIC):
        hint = "pipe it through gunzip" if path == "-" else f"name it {path}.gz, or pipe it through gunzip"
        raise ConfigError(f"input {shown} is gzip-compressed data: {hint}")
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
