"""Text encodings of the input: ``--encoding CODEC`` (any codec Python knows), and what to say when a file that
was read as UTF-8 is not.

An input in another encoding is decoded *before* its lines are split (UTF-16 and UTF-32 put bytes of a line end in
the middle of other characters) and handed on as UTF-8, so the readers beside this module only ever see UTF-8. A
byte sequence the codec cannot decode becomes an encoded surrogate, which no UTF-8 reader accepts: the line that
holds it is ``invalid``, named by the readers with ``not_text_reason``, and the lines around it are read as usual.
The input's fingerprint (the outcome log's meta file) is taken of the bytes as they are on disk.
"""

from __future__ import annotations

import codecs
import io
from typing import Any, BinaryIO

from cartloader.errors import ConfigError

__all__ = ["DEFAULT_ENCODING", "check_encoding", "decoded", "is_utf8", "not_text_reason", "utf8_hint"]

DEFAULT_ENCODING = "utf-8"
_UTF8_NAMES = frozenset({"utf-8", "utf-8-sig"})
_ERRORS = "cartloader.undecodable"
#: A byte sequence the codec cannot decode is replaced by this lone surrogate; encoded with ``surrogatepass`` it
#: becomes bytes that are never valid UTF-8 (``ED B3 BF``), so the line holding it is refused, not changed.
_MARK = "\udcff"
_CHUNK = 1 << 16


def _mark_undecodable(error: UnicodeError) -> tuple[str, int]:
    if not isinstance(error, UnicodeDecodeError):
        raise error
    return _MARK, error.end


codecs.register_error(_ERRORS, _mark_undecodable)


def check_encoding(name: str) -> str:
    """The codec's canonical name (``latin-1`` -> ``iso8859-1``); ``ValueError`` naming it when Python has no such
    text codec."""
    try:
        info = codecs.lookup(name)
    except LookupError:
        raise ValueError(f"unknown encoding {name!r} (e.g. utf-8, latin-1, cp1252, utf-16)") from None
    if not getattr(info, "_is_text_encoding", True):
        raise ValueError(f"{name!r} is not a text encoding")
    return info.name


def is_utf8(name: str) -> bool:
    """Whether the canonical codec name reads UTF-8 (the readers' own form: no decoding step needed)."""
    return name in _UTF8_NAMES


class _Transcoded(io.RawIOBase):
    """The bytes of ``stream`` decoded with ``encoding`` and encoded again as UTF-8."""

    def __init__(self, stream: BinaryIO, encoding: str) -> None:
        super().__init__()
        self._stream = stream
        # read1 returns what a pipe has now: lines from a slow producer (stdin) flow on at once.
        self._read = getattr(stream, "read1", stream.read)
        self._decoder = codecs.getincrementaldecoder(encoding)(_ERRORS)
        self._pending = b""
        self._done = False
        self.name = getattr(stream, "name", "")

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        while not self._pending and not self._done:
            data = self._read(_CHUNK)
            text = self._decoder.decode(data, final=not data)
            self._done = not data
            self._pending = text.encode("utf-8", "surrogatepass")
        count = min(len(buffer), len(self._pending))
        buffer[:count] = self._pending[:count]
        self._pending = self._pending[count:]
        return count

    def fileno(self) -> int:
        return int(self._stream.fileno())

    def close(self) -> None:
        try:
            self._stream.close()
        finally:
            super().close()


def decoded(stream: BinaryIO, encoding: str) -> BinaryIO:
    """``stream`` read as UTF-8: itself for a UTF-8 codec, else its text decoded with ``encoding`` (a canonical
    name from ``check_encoding``; a BOM the codec knows is dropped) and encoded as UTF-8."""
    if is_utf8(encoding):
        return stream
    return io.BufferedReader(_Transcoded(stream, encoding))


def utf8_hint(data: bytes) -> str:
    """Which ``--encoding`` a line that is not UTF-8 most likely needs (a guess for the message, never applied)."""
    if data.count(0) * 4 >= len(data) > 0:
        return "if it is UTF-16 (Unicode text), pass --encoding utf-16"
    if any(0x80 <= byte <= 0x9F for byte in data):
        return "if it is Windows-1252 (a Windows export), pass --encoding cp1252"
    return "if it is Latin-1 (Windows export), pass --encoding latin-1"


def not_text_reason(line: bytes, start: int, number: int, encoding: str) -> str:
    """Why a line is not text: the byte at ``start`` (0-based) of line ``number`` does not decode. ``encoding`` is
    the canonical name the input was read with; for UTF-8, a hint names the likely encoding."""
    if is_utf8(encoding):
        return (
            f"not UTF-8 text (byte 0x{line[start]:02X} at column {start + 1} of line {number}); "
            f"{utf8_hint(line)}, or save the file as UTF-8"
        )
    return f"not {encoding} text (line {number} holds bytes that do not decode as {encoding})"


def refuse_utf16_without_encoding(head: bytes, shown: str) -> None:
    """Refuse (``ConfigError``) a UTF-16 or UTF-32 input read as UTF-8: its BOM (or its NUL bytes) give it away."""
    if head.startswith((codecs.BOM_UTF32_LE, codecs.BOM_UTF32_BE)):
        raise ConfigError(f"input {shown} is UTF-32 text (it starts with a byte order mark): pass --encoding utf-32")
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        raise ConfigError(f"input {shown} is UTF-16 text (it starts with a byte order mark): pass --encoding utf-16")
    sample = head[:4096]
    if len(sample) >= 8 and sample.count(0) * 4 >= len(sample):
        raise ConfigError(
            f"input {shown} holds NUL bytes between its characters: if it is UTF-16, pass --encoding utf-16"
        )
