"""The outcome log file: one JSON object per record outcome, plus ``OUT.meta.json`` describing the run.

``OutcomeLog.open`` applies ``--out``/``--resume``/``--overwrite``: it refuses an existing log unless told,
checks on resume that the log belongs to the same input, cuts a torn last line and builds the resume index.
Writing is buffered per batch and turns any ``OSError`` into ``OutcomeLogError``. The format is described
in ``docs/outcome-log.md``.
"""

from __future__ import annotations

import os
import stat
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import replace
from types import TracebackType
from typing import BinaryIO, Literal

try:
    import fcntl
except ImportError:  # pragma: no cover - not POSIX
    fcntl = None  # type: ignore[assignment]

from cartloader.errors import ConfigError, OutcomeLogError
from cartloader.models import CartInput, Outcome, Settled, echoed_values
from cartloader.outcomes.format import (
    RESERVED_FIELDS,
    LogFormatError,
    encode_outcome,
    encode_pending,
    format_sent_at,
    may_be_copied,
)
from cartloader.outcomes.meta import RunMeta, meta_path_for
from cartloader.outcomes.resume import ResumeIndex, scan_log

OpenMode = Literal["new", "overwrite", "resume"]
#: ``--out -``: the log goes to stdout.
STDOUT = "-"
#: ``--overwrite`` keeps the replaced log and meta file under their names plus this suffix.
BACKUP_SUFFIX = ".1"
_WRITE_BUFFER = 1 << 20


class OutcomeLog:
    """An open outcome log. Use ``OutcomeLog.open``; write entries, ``flush()`` once per batch, ``close()``.

    ``resume_index`` holds what the log said when it was opened (empty for a new log); ``meta`` is the
    meta as written (on resume: the earlier run id and start, with this start added to ``resumed``). ``clock``
    gives the ``sent_at`` of ``pending`` lines (epoch seconds; the loader sets HubSpot's clock, see
    ``cartloader.hubspot.clock``).
    """

    __slots__ = (
        "_echo",
        "_failed",
        "_file",
        "clock",
        "echo_checked",
        "echo_unseen",
        "meta",
        "path",
        "resume_index",
        "resumed",
    )

    def __init__(
        self, path: str, file: BinaryIO, meta: RunMeta, index: ResumeIndex, echo: tuple[str, ...], resumed: bool
    ) -> None:
        self.path = path
        self.meta = meta
        self.resume_index = index
        self.resumed = resumed
        self._file = file
        self._echo = echo
        self._failed = False
        # --echo names no record logged so far had (once a record was logged: echo_checked), for a warning.
        self.echo_unseen = set(echo)
        self.echo_checked = False
        self.clock: Callable[[], float] = time.time

    @classmethod
    def open(cls, path: str, *, mode: OpenMode, meta: RunMeta, echo: Sequence[str] = ()) -> OutcomeLog:
        """Open the log at ``path`` for ``mode``; raises ``ConfigError`` (one line) when it must not or cannot.

        ``"new"`` refuses an existing non-empty log; ``"overwrite"`` replaces it, keeping the replaced log and
        its meta file as ``NAME.1`` (an older backup is replaced); ``"resume"`` continues it
        (or starts fresh if there is none): it refuses a log from another input or without its meta file,
        cuts a torn last line and builds ``resume_index``. ``echo`` names input properties copied into each
        final outcome written with ``write_settled`` (``--echo``).
        """
        if mode not in ("new", "overwrite", "resume"):
            raise ValueError(f"unknown mode {mode!r}")
        for name in echo:
            if name in RESERVED_FIELDS:
                raise ConfigError(f"--echo {name}: that name is a field of the outcome log; echo another property")
        meta_path = meta_path_for(path)
        exists = _has_content(path)
        if exists and mode == "new":
            raise ConfigError(f"outcome log {path} exists: use --resume to continue it or --overwrite to replace it")
        try:
            # Opened for appending, never truncated before the lock is held: another process may own it.
            file = open(path, "ab", buffering=_WRITE_BUFFER)  # noqa: SIM115
        except OSError as exc:
            raise ConfigError(f"cannot write outcome log {path}: {exc.strerror or exc}") from None
        try:
            _lock(file, path)
            index = ResumeIndex()
            resumed = exists and mode == "resume"
            if resumed:
                meta = _resumed_meta(path, meta_path, meta)
                index = _prepare_for_append(path)
            elif exists:
                file = _replace_with_backup(file, path, meta_path)
            try:
                # Writing the meta file (through a temporary file beside it) also proves the folder is writable.
                _write_meta(meta_path, meta)
            except OSError as exc:
                raise ConfigError(f"cannot write outcome log {path}: {exc.strerror or exc} ({meta_path})") from None
        except BaseException:
            file.close()
            raise
        return cls(path, file, meta, index, tuple(echo), resumed)

    @classmethod
    def to_stdout(cls, *, meta: RunMeta, echo: Sequence[str] = ()) -> OutcomeLog:
        """A log written to stdout (``--out -``): no meta file, no lock, nothing to resume; closing only flushes."""
        for name in echo:
            if name in RESERVED_FIELDS:
                raise ConfigError(f"--echo {name}: that name is a field of the outcome log; echo another property")
        return cls(STDOUT, sys.stdout.buffer, meta, ResumeIndex(), tuple(echo), False)

    def write_pending(self, records: Sequence[CartInput]) -> None:
        """Log ``pending`` for records about to be sent (each with its ``key`` assigned), and flush.

        The flush is the point: once the batch is sent, a killed process must still leave these entries
        behind, so that ``--resume`` knows the records may exist in HubSpot.
        """
        sent_at = format_sent_at(self.clock())
        self._write(b"".join([encode_pending(record, sent_at) for record in records]))
        self.flush()

    def write(self, outcomes: Sequence[Outcome]) -> None:
        """Log outcomes (final ones, or ``pending`` ones)."""
        self._write(b"".join([encode_outcome(outcome) for outcome in outcomes]))

    def write_settled(self, results: Sequence[Settled]) -> None:
        """Log final outcomes, each with the ``echo`` properties of the input it came from; a line that may be
        copied in HubSpot (``may_be_copied``) carries ``answered_at``, now on the ``clock`` of ``sent_at``."""
        echo = self._echo
        answered_at = format_sent_at(self.clock()) if any(may_be_copied(o) for o, _ in results) else None
        if not echo:
            self._write(b"".join([encode_outcome(outcome, None, answered_at) for outcome, _ in results]))
            return
        lines = []
        unseen = self.echo_unseen
        for outcome, record in results:
            echoed = echoed_values(record, echo)
            if unseen and isinstance(record, CartInput):
                self.echo_checked = True
                unseen.difference_update(name for name, value in echoed.items() if value is not None)
            lines.append(encode_outcome(outcome, echoed, answered_at))
        self._write(b"".join(lines))

    def flush(self) -> None:
        """Hand what was written to the operating system (no fsync): called once per batch."""
        try:
            self._file.flush()
        except OSError as exc:
            self._fail(exc)

    def close(self) -> None:
        """Flush and close; idempotent. After a write error, closes quietly (the error was raised already)."""
        if self._file.closed:
            return
        try:
            if self.path == STDOUT:
                self._file.flush()  # stdout stays open for whoever writes after us
                return
            self._file.close()
        except OSError as exc:
            if not self._failed:
                self._fail(exc)

    def __enter__(self) -> OutcomeLog:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<OutcomeLog {self.path!r} run {self.meta.run_id}{' resumed' if self.resumed else ''}>"

    def _write(self, data: bytes) -> None:
        try:
            self._file.write(data)
        except OSError as exc:
            self._fail(exc)

    def _fail(self, exc: OSError) -> None:
        self._failed = True
        error = OutcomeLogError(f"cannot write outcome log {self.path}: {exc.strerror or exc}")
        error.errno = exc.errno
        raise error from None


def _has_content(path: str) -> bool:
    """Whether ``path`` is a log with entries (a folder is not: opening it then fails with a clear reason)."""
    try:
        status = os.stat(path)
    except OSError:
        return False
    return stat.S_ISREG(status.st_mode) and status.st_size > 0


def _lock(file: BinaryIO, path: str) -> None:
    """Hold an exclusive advisory lock on the log while it is open: two runs must never write one log."""
    if fcntl is None:  # pragma: no cover - not POSIX
        return
    try:
        fcntl.flock(file.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        raise ConfigError(f"outcome log {path} is in use by another cartloader run") from None
    except OSError:
        pass  # a file system without locks: go on unprotected rather than refuse to run


def _replace_with_backup(file: BinaryIO, path: str, meta_path: str) -> BinaryIO:
    """``--overwrite``: move the locked log (and its meta file) aside as ``NAME.1`` and open a new, locked log.

    Renamed, not copied: instant whatever the log's size, and hard links to the old log keep its content.
    """
    try:
        os.replace(path, path + BACKUP_SUFFIX)
        if os.path.lexists(meta_path):
            os.replace(meta_path, meta_path + BACKUP_SUFFIX)
    except OSError as exc:
        file.close()
        raise ConfigError(
            f"cannot keep the replaced outcome log as {path}{BACKUP_SUFFIX}: {exc.strerror or exc}"
        ) from None
    file.close()
    try:
        new = open(path, "ab", buffering=_WRITE_BUFFER)  # noqa: SIM115 - owned by the OutcomeLog
    except OSError as exc:
        raise ConfigError(f"cannot write outcome log {path}: {exc.strerror or exc}") from None
    try:
        _lock(new, path)
    except BaseException:
        new.close()
        raise
    return new


def _resumed_meta(path: str, meta_path: str, meta: RunMeta) -> RunMeta:
    """The meta to continue a log with, after checking that the log belongs to this input."""
    try:
        with open(meta_path, "rb") as stream:
            earlier = RunMeta.from_json(stream.read())
    except FileNotFoundError:
        raise ConfigError(
            f"outcome log {path} has no {meta_path}, so it cannot be checked against this input: "
            "restore it, or use --overwrite to replace the log"
        ) from None
    except (OSError, ValueError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise ConfigError(f"cannot read {meta_path}: {reason}") from None
    problem = earlier.input.mismatch(meta.input)
    if problem:
        raise ConfigError(f"outcome log {path} belongs to another input: {problem}; use another --out or --overwrite")
    changed = earlier.meaning_mismatch(meta)
    if changed:
        raise ConfigError(
            f"outcome log {path} cannot be continued: {changed}, which changes what a line means; "
            "resume with the same options, or use another --out or --overwrite"
        )
    return replace(meta, run_id=earlier.run_id, started=earlier.started, resumed=(*earlier.resumed, meta.started))


def _prepare_for_append(path: str) -> ResumeIndex:
    """Index the log and make it end with a complete entry: a torn last line is cut."""
    try:
        with open(path, "r+b") as stream:
            try:
                scan = scan_log(stream)
            except LogFormatError as exc:
                raise ConfigError(f"outcome log {path}: {exc}; fix or remove that line, or use --overwrite") from None
            stream.truncate(scan.end)
            if scan.needs_newline:
                stream.seek(scan.end)
                stream.write(b"\n")
    except OSError as exc:
        raise ConfigError(f"cannot continue outcome log {path}: {exc.strerror or exc}") from None
    return scan.index


def _write_meta(meta_path: str, meta: RunMeta) -> None:
    temporary = f"{meta_path}.{os.getpid()}.tmp"
    try:
        with open(temporary, "wb") as stream:
            stream.write(meta.to_json())
        os.replace(temporary, meta_path)
    except OSError:
        try:
            os.unlink(temporary)
        except OSError:
            pass
        raise
