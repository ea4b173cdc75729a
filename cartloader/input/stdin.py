"""Stdin as an input that can be fingerprinted: its first bytes are read before anything is sent (the outcome
log's meta file records their hash, so ``--resume`` can refuse other data), then handed back in front of the rest.

A new run waits at most ``HEAD_WAIT_S`` for those bytes, so a slow producer's first records are not held back;
a resumed run reads exactly as many as the earlier run fingerprinted (the same data has them).
"""

from __future__ import annotations

import io
import select
import sys
import time
from typing import Any, BinaryIO

#: How much of stdin a new run fingerprints, at most, and how long it waits for it.
HEAD_BYTES = 64 * 1024
HEAD_WAIT_S = 1.0


class _Prefixed(io.RawIOBase):
    """A raw stream that reads ``head`` first, then ``rest``."""

    def __init__(self, head: bytes, rest: Any) -> None:
        super().__init__()
        self._head = memoryview(head)
        self._rest = rest

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        if self._head:
            count = min(len(buffer), len(self._head))
            buffer[:count] = self._head[:count]
            self._head = self._head[count:]
            return count
        data = self._rest.read(len(buffer))
        if not data:
            return 0
        buffer[: len(data)] = data
        return len(data)

    def fileno(self) -> int:
        return int(self._rest.fileno())


def _readable_within(raw: Any, seconds: float) -> bool:
    try:
        ready, _, _ = select.select([raw], [], [], max(0.0, seconds))
    except (OSError, ValueError, TypeError):
        return True  # cannot tell: read (and block) as any reader would
    return bool(ready)


def read_head(raw: Any, want: int, wait_s: float | None) -> bytes:
    """Up to ``want`` bytes from the start of ``raw``: all of them (or up to the end) when ``wait_s`` is None, else
    what arrives within ``wait_s`` seconds."""
    chunks: list[bytes] = []
    got = 0
    deadline = None if wait_s is None else time.monotonic() + wait_s
    while got < want:
        if deadline is not None and not _readable_within(raw, deadline - time.monotonic()):
            break
        data = raw.read(want - got)
        if not data:
            break
        chunks.append(data)
        got += len(data)
    return b"".join(chunks)


def open_stdin(*, want: int = HEAD_BYTES, wait_s: float | None = HEAD_WAIT_S) -> tuple[BinaryIO, bytes]:
    """Stdin as a buffered binary stream, and its first bytes (``read_head``), which the stream still yields."""
    buffer = sys.stdin.buffer
    raw = getattr(buffer, "raw", buffer)
    head = read_head(raw, want, wait_s)
    return io.BufferedReader(_Prefixed(head, raw)), head
