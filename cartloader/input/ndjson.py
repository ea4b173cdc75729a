"""Streaming NDJSON input: open the input, split it into numbered lines, parse each line into a record.

Memory stays bounded whatever the file size: blocks are read off the event loop and split in bulk; a line
longer than the limit is reported and skipped without ever being held whole.
"""

from __future__ import annotations

import gzip
import json
import sys
import zlib
from collections.abc import AsyncGenerator, AsyncIterator, Callable
from contextlib import aclosing
from decimal import Decimal
from typing import BinaryIO

import anyio.to_thread
import orjson

from cartloader.errors import ConfigError, InputReadError
from cartloader.input.encoding import DEFAULT_ENCODING, not_text_reason
from cartloader.input.normalize import normalize, normalize_parsed
from cartloader.models import CartInput, InvalidInput

MAX_LINE_BYTES = 8 * 1024 * 1024
BLOCK_SIZE = 1 << 20
_BOM = b"\xef\xbb\xbf"


def open_input(path: str) -> BinaryIO:
    """Open INPUT for reading bytes: ``"-"`` is stdin, ``*.gz`` is decompressed, anything else is a plain file.

    Raises ``ConfigError`` (one line naming the input and the reason) when it cannot be opened, including a
    ``.gz`` file that is not gzip.
    """
    if path == "-":
        return sys.stdin.buffer
    try:
        if path.endswith(".gz"):
            stream = gzip.open(path, "rb")  # noqa: SIM115 - the caller owns and closes the stream
            try:
                stream.peek(1)  # a file that is not gzip fails here, before anything is sent
            except BaseException:
                stream.close()
                raise
            return stream  # type: ignore[return-value]
        return open(path, "rb")
    except (OSError, EOFError, zlib.error) as exc:
        raise ConfigError(f"cannot read input {path}: {read_error_reason(exc)}") from None


def read_error_reason(exc: BaseException) -> str:
    """Why reading the input failed, in a few words."""
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    if isinstance(exc, EOFError):
        return "the compressed file is truncated"
    return str(exc) or type(exc).__name__


async def read_lines(
    stream: BinaryIO, *, max_line_bytes: int = MAX_LINE_BYTES, block_size: int = BLOCK_SIZE
) -> AsyncIterator[tuple[int, bytes | None]]:
    """Yield ``(line_number, content)`` for every non-blank line of ``stream``.

    Lines are split on ``b"\\n"`` only; one trailing ``b"\\r"`` is dropped, and a UTF-8 BOM on line 1. Blank
    lines (only ASCII whitespace) are skipped but counted. A final line without ``b"\\n"`` counts. A line
    longer than ``max_line_bytes`` yields ``(n, None)`` once and the rest of it is skipped unread into memory.
    A read error raises ``InputReadError`` naming the input. The stream is not closed.
    """
    async for lines in _line_blocks(stream, max_line_bytes, block_size):
        for item in lines:
            yield item


async def _line_blocks(
    stream: BinaryIO, max_line_bytes: int, block_size: int
) -> AsyncGenerator[list[tuple[int, bytes | None]], None]:
    """``read_lines``'s lines, one list per block read (never empty): one async step per block, not per line."""
    line_no = 0  # lines completed so far
    pending: list[bytes] = []  # pieces of the unfinished line
    pending_len = 0
    skipping = False  # inside an overlong line already reported
    # A BOM and a "\r" may still be stripped from an unfinished line, so it is only too long beyond this.
    early_limit = max_line_bytes + len(_BOM) + 1
    # read1 returns what a pipe has now instead of waiting for a full block: lines from a slow producer
    # (stdin) flow on at once.
    read = getattr(stream, "read1", stream.read)
    while True:
        try:
            block = await anyio.to_thread.run_sync(read, block_size)
        except (OSError, EOFError, zlib.error) as exc:
            raise InputReadError(f"cannot read input {getattr(stream, 'name', '')}: {read_error_reason(exc)}") from None
        if not block:
            break
        lines: list[tuple[int, bytes | None]] = []
        out = lines.append
        parts = block.split(b"\n")
        if len(parts) == 1:  # no line ends in this block
            if not skipping:
                pending.append(block)
                pending_len += len(block)
                if pending_len > early_limit:
                    yield [(line_no + 1, None)]
                    pending, pending_len, skipping = [], 0, True
            continue
        # The first part ends the unfinished line.
        line_no += 1
        if skipping:
            skipping = False
        else:
            pending.append(parts[0])
            content = b"".join(pending)
            pending, pending_len = [], 0
            if line_no == 1 and content.startswith(_BOM):
                content = content[3:]
            if content.endswith(b"\r"):
                content = content[:-1]
            if len(content) > max_line_bytes:
                out((line_no, None))
            elif content and not content.isspace():
                out((line_no, content))
        last = parts.pop()
        has_cr = b"\r" in block
        # Hot loop over the complete lines inside the block: keep it to a few bytes operations per line.
        for index in range(1, len(parts)):
            content = parts[index]
            line_no += 1
            if has_cr and content.endswith(b"\r"):
                content = content[:-1]
            if not content or content.isspace():
                continue
            if len(content) > max_line_bytes:
                out((line_no, None))
            else:
                out((line_no, content))
        if last:
            if len(last) > early_limit:
                out((line_no + 1, None))
                skipping = True
            else:
                pending.append(last)
                pending_len = len(last)
        if lines:
            yield lines
    if pending and not skipping:
        line_no += 1
        content = b"".join(pending)
        if line_no == 1 and content.startswith(_BOM):
            content = content[3:]
        if content.endswith(b"\r"):
            content = content[:-1]
        if len(content) > max_line_bytes:
            yield [(line_no, None)]
        elif content and not content.isspace():
            yield [(line_no, content)]


def parse_line(
    line: int, content: bytes | None, *, max_line_bytes: int = MAX_LINE_BYTES, encoding: str = DEFAULT_ENCODING
) -> CartInput | InvalidInput:
    """Parse and normalize one NDJSON line (``None`` content: the line was too long). ``encoding`` names the codec
    the input was read with, for the message of a line that is not text. Never raises."""
    if content is None:
        return InvalidInput(line, f"line {line}: longer than {_size(max_line_bytes)}")
    try:
        obj = orjson.loads(content)
    except orjson.JSONDecodeError as exc:
        try:
            content.decode("utf-8")
        except UnicodeDecodeError as bad:
            return InvalidInput(line, f"line {line}: {not_text_reason(content, bad.start, line, encoding)}", content)
        return InvalidInput(line, f"line {line}: invalid JSON: {exc.msg} at column {exc.colno}", content)
    result = normalize_parsed(obj, line, content)
    if result is not None:
        return result
    # orjson turns an integer beyond 64 bits into a float and rounds long decimals; the line (already
    # validated by orjson) is re-read with exact numbers so that no number is ever silently changed.
    try:
        obj = json.loads(content.decode(), parse_float=Decimal)
    except (ValueError, RecursionError) as exc:  # e.g. an integer of more than 4300 digits
        return InvalidInput(line, f"line {line}: invalid JSON: {exc}", content)
    return normalize(obj, line, content)


def _size(limit: int) -> str:
    if limit % (1024 * 1024) == 0:
        return f"{limit // (1024 * 1024)} MiB"
    return f"{limit} bytes"


async def ndjson_inputs(
    stream: BinaryIO,
    *,
    skip: Callable[[int], bool] | None = None,
    limit: int | None = None,
    on_item: Callable[[CartInput | InvalidInput], None] | None = None,
    max_line_bytes: int = MAX_LINE_BYTES,
    block_size: int = BLOCK_SIZE,
    encoding: str = DEFAULT_ENCODING,
) -> AsyncGenerator[CartInput | InvalidInput, None]:
    """Read, parse and normalize every non-blank line of ``stream`` (UTF-8; see ``encoding.decoded`` for other
    codecs, named by ``encoding`` in messages); ``skip(line)`` true: the line is not parsed.

    ``on_item`` is called with each item just before it is yielded; after ``limit`` items the iteration ends
    (without reading further). Lines are read and split a block at a time, so each record costs one async step.
    """
    count = 0
    blocks = _line_blocks(stream, max_line_bytes, block_size)
    async with aclosing(blocks):
        async for lines in blocks:
            for line, content in lines:
                if skip is not None and skip(line):
                    continue
                item = parse_line(line, content, max_line_bytes=max_line_bytes, encoding=encoding)
                if on_item is not None:
                    on_item(item)
                yield item
                if limit is not None:
                    count += 1
                    if count >= limit:
                        return
