"""The input meter: counts the records read and estimates how many remain, for the progress bar's ETA and the
daily-quota estimate."""

from __future__ import annotations

from cartloader.models import CartInput, InvalidInput


class InputMeter:
    """Counts the records read from the input and estimates how many remain, from the input's size.

    ``size`` is the byte size of a regular, uncompressed input file (``None``: unknown, no estimate);
    ``limit`` caps the estimate (``--limit``); ``shards`` is N of ``--shard I/N`` (this run reads one line in N).
    """

    __slots__ = ("_bytes", "_measured", "last_line", "limit", "read", "shards", "size")

    def __init__(self, size: int | None, limit: int | None = None, shards: int = 1) -> None:
        self.size = size
        self.limit = limit
        self.shards = shards
        self.read = 0
        self.last_line = 0
        self._bytes = 0
        self._measured = 0

    def saw(self, item: CartInput | InvalidInput) -> None:
        """Count one record read from the input."""
        self.read += 1
        self.last_line = item.line
        if item.raw is not None:
            self._bytes += len(item.raw) + 1
            self._measured += 1

    def estimated_total(self) -> int | None:
        """The estimated number of records this run will read, or ``None`` when it cannot be told."""
        if self.size is None or not self._measured:
            return self.limit
        per_line = self._bytes / self._measured
        remaining_lines = max(0, round(self.size / per_line) - self.last_line) // self.shards
        total = self.read + remaining_lines
        return total if self.limit is None else min(total, self.limit)

    def estimated_remaining(self) -> int | None:
        """Records not read yet, estimated; ``None`` when unknown."""
        total = self.estimated_total()
        return None if total is None else max(0, total - self.read)

    def __repr__(self) -> str:
        return f"InputMeter(read={self.read}, size={self.size}, estimated_total={self.estimated_total()})"
