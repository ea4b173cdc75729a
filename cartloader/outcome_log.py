"""The outcome log file: one JSON object per record outcome, plus ``OUT.meta.json`` describing the run.

``OutcomeLog.open`` applies ``--out``/``--resume``/``--overwrite``: it refuses an existing log unless told,
checks on resume that the log belongs to the same input, cuts a torn last line and builds the resume index.
Writing is buffered per batch and turns any ``OSError`` into ``OutcomeLogError``. The format is described
in ``docs/outcome-log.md``.
"""

from __future__ import annotations

import hashlib
import os
import secrets
import stat
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from importlib import metadata
from types import TracebackType
from typing import Any, BinaryIO, Literal

import orjson

try:
    import fcntl
except ImportError:  # pragma: no cover - not POSIX
    fcntl = None  # type: ignore[assignment]

from cartloader.errors import ConfigError, OutcomeLogError
from cartloader.outcome import Outcome, RecordError
from cartloader.records import CartInput
from cartloader.resume import LogFormatError, ResumeIndex, scan_log

OpenMode = Literal["new", "overwrite", "resume"]
META_SUFFIX = ".meta.json"
# Fields of a log entry; an echoed property may not take one of these names.
RESERVED_FIELDS = frozenset({"line", "key", "status", "id", "error", "attempts", "duplicate_risk", "unmatched"})
_STATUSES = frozenset({"pending", "created", "updated", "failed", "invalid"})
_HEAD_BYTES = 64 * 1024
_APPEND_NEWLINE = orjson.OPT_APPEND_NEWLINE
_WRITE_BUFFER = 1 << 20


def meta_path_for(log_path: str) -> str:
    """Where the meta file of a log lives: the log's path plus ``.meta.json``."""
    return log_path + META_SUFFIX


# --- entries --------------------------------------------------------------------------------------------


def encode_outcome(outcome: Outcome, echo_property: str | None = None) -> bytes:
    """One log line (with its ``"\\n"``) for an outcome; absent fields are omitted.

    Keys in order: ``line, key, status, id, error, attempts, duplicate_risk, unmatched`` and the echoed
    property. ``id`` is written as ``null`` for a created/updated record without one (``unmatched``);
    ``attempts`` only for created, updated and failed records.
    """
    entry: dict[str, Any] = {"line": outcome.line}
    if outcome.key is not None:
        entry["key"] = outcome.key
    status = outcome.status
    entry["status"] = status
    if outcome.id is not None or status == "created" or status == "updated":
        entry["id"] = outcome.id
    if outcome.error is not None:
        entry["error"] = outcome.error.to_dict()
    if status == "created" or status == "updated" or status == "failed":
        entry["attempts"] = outcome.attempts
    if outcome.duplicate_risk:
        entry["duplicate_risk"] = True
    if outcome.unmatched:
        entry["unmatched"] = True
    if echo_property is not None and outcome.echo is not None:
        entry[echo_property] = outcome.echo
    return orjson.dumps(entry, option=_APPEND_NEWLINE)


def encode_pending(record: CartInput) -> bytes:
    """The ``pending`` line written for a record before its batch is sent."""
    if record.key is None:
        return orjson.dumps({"line": record.line, "status": "pending"}, option=_APPEND_NEWLINE)
    return orjson.dumps({"line": record.line, "key": record.key, "status": "pending"}, option=_APPEND_NEWLINE)


def decode(data: bytes, echo_property: str | None = None) -> Outcome:
    """Read one log line back into an ``Outcome``; raises ``ValueError`` if it is not an outcome entry."""
    entry = orjson.loads(data)
    if not isinstance(entry, dict):
        raise ValueError("an outcome entry is a JSON object")
    line = entry.get("line")
    status = entry.get("status")
    if type(line) is not int or line < 1:
        raise ValueError('"line" must be a positive integer')
    if status not in _STATUSES:
        raise ValueError(f'unknown "status" {status!r}')
    key = _optional(entry, "key", str)
    record_id = _optional(entry, "id", str)
    error = None
    raw_error = entry.get("error")
    if raw_error is not None:
        if not isinstance(raw_error, dict):
            raise ValueError('"error" must be an object')
        error = RecordError(
            _required(raw_error, "category", str),
            _required(raw_error, "message", str),
            _optional(raw_error, "status", int),
        )
    attempts = entry.get("attempts", 0)
    if type(attempts) is not int:
        raise ValueError('"attempts" must be an integer')
    echo = _optional(entry, echo_property, str) if echo_property is not None else None
    return Outcome(
        line,
        status,
        key,
        record_id,
        error,
        attempts,
        entry.get("duplicate_risk") is True,
        entry.get("unmatched") is True,
        echo,
    )


def _optional(entry: dict[str, Any], name: str, kind: type[Any]) -> Any:
    value = entry.get(name)
    if value is not None and type(value) is not kind:
        raise ValueError(f'"{name}" must be a {kind.__name__}')
    return value


def _required(entry: dict[str, Any], name: str, kind: type[Any]) -> Any:
    value = entry.get(name)
    if type(value) is not kind:
        raise ValueError(f'"{name}" must be a {kind.__name__}')
    return value


# --- meta -----------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class InputFingerprint:
    """What identifies the input of a run, so that ``--resume`` can refuse a log from another input.

    For a file: its resolved path, its size, and a SHA-256 of its first ``head_bytes`` bytes (up to 64 KiB).
    The same input may have grown (records appended) or moved, but not shrunk or changed at the start.
    Stdin and iterables cannot be checked: only their kind is compared.
    """

    kind: Literal["file", "stdin", "iterable"]
    path: str | None = None
    size: int | None = None
    head_bytes: int = 0
    head_sha256: str | None = None

    @classmethod
    def of_input(cls, path: str | None) -> InputFingerprint:
        """The fingerprint of INPUT (``"-"``: stdin; ``None``: a library iterable); ``ConfigError`` if unreadable."""
        if path is None:
            return cls("iterable")
        if path == "-":
            return cls("stdin", "-")
        resolved = os.path.realpath(path)
        try:
            with open(resolved, "rb") as stream:
                size = os.fstat(stream.fileno()).st_size
                head = stream.read(_HEAD_BYTES)
        except OSError as exc:
            raise ConfigError(f"cannot read input {path}: {exc.strerror or exc}") from None
        return cls("file", resolved, size, len(head), hashlib.sha256(head).hexdigest())

    def mismatch(self, current: InputFingerprint) -> str | None:
        """Why a log made from this input cannot be continued with ``current``, or ``None`` if it can."""
        if current.kind != self.kind:
            return f"it was made from {self._describe()}, not {current._describe()}"
        if self.kind != "file":
            return None
        assert current.path is not None
        assert current.size is not None
        assert self.size is not None
        if current.size < self.size:
            return f"it was made from {self._describe()} of {self.size} bytes; this input has {current.size}"
        head = current.head_sha256
        if current.head_bytes != self.head_bytes:
            try:
                with open(current.path, "rb") as stream:
                    head = hashlib.sha256(stream.read(self.head_bytes)).hexdigest()
            except OSError as exc:
                return f"this input cannot be read ({exc.strerror or exc})"
        if head != self.head_sha256:
            return f"it was made from {self._describe()}, whose first bytes differ from this input's"
        return None

    def _describe(self) -> str:
        if self.kind == "file":
            return f"input {self.path}"
        return "stdin" if self.kind == "stdin" else "an iterable"

    def to_dict(self) -> dict[str, Any]:
        """The fingerprint as stored in the meta file."""
        return {
            "kind": self.kind,
            "path": self.path,
            "size": self.size,
            "head_bytes": self.head_bytes,
            "head_sha256": self.head_sha256,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> InputFingerprint:
        """Read a fingerprint back from the meta file; ``ValueError``/``TypeError``/``KeyError`` if malformed."""
        kind = data["kind"]
        if kind not in ("file", "stdin", "iterable"):
            raise ValueError(f"unknown input kind {kind!r}")
        fingerprint = cls(
            kind, data.get("path"), data.get("size"), int(data.get("head_bytes", 0)), data.get("head_sha256")
        )
        if kind == "file" and (type(fingerprint.size) is not int or not isinstance(fingerprint.head_sha256, str)):
            raise ValueError("a file fingerprint needs a size and a hash")
        return fingerprint


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def _version() -> str:
    try:
        return metadata.version("cartloader")
    except metadata.PackageNotFoundError:
        return "unknown"


@dataclass(frozen=True, slots=True)
class RunMeta:
    """What ``OUT.meta.json`` holds: the run id (kept on resume, so generated keys stay stable), the input's
    fingerprint, the options (JSON values; never the token), when the run started and was resumed, and
    the cartloader version."""

    run_id: str
    input: InputFingerprint
    options: Mapping[str, Any] = field(default_factory=dict)
    started: str = field(default_factory=_now)
    resumed: tuple[str, ...] = ()
    version: str = field(default_factory=_version)

    @classmethod
    def new(cls, input_path: str | None, options: Mapping[str, Any] | None = None) -> RunMeta:
        """A fresh run's meta with a new run id; ``input_path`` as for ``InputFingerprint.of_input``."""
        return cls(new_run_id(), InputFingerprint.of_input(input_path), dict(options or {}))

    def to_json(self) -> bytes:
        """The meta file's content."""
        return orjson.dumps(
            {
                "run_id": self.run_id,
                "input": self.input.to_dict(),
                "options": dict(self.options),
                "started": self.started,
                "resumed": list(self.resumed),
                "version": self.version,
            },
            option=orjson.OPT_INDENT_2 | _APPEND_NEWLINE,
        )

    @classmethod
    def from_json(cls, data: bytes) -> RunMeta:
        """Read a meta file back; ``ValueError`` if it is not one."""
        try:
            raw = orjson.loads(data)
            run_id = raw["run_id"]
            if not isinstance(run_id, str) or not run_id:
                raise ValueError("no run id")
            return cls(
                run_id,
                InputFingerprint.from_dict(raw["input"]),
                dict(raw.get("options") or {}),
                str(raw.get("started", "")),
                tuple(str(item) for item in raw.get("resumed") or ()),
                str(raw.get("version", "unknown")),
            )
        except (orjson.JSONDecodeError, KeyError, TypeError, AttributeError) as exc:
            raise ValueError(f"not a cartloader meta file ({exc})") from None


def new_run_id() -> str:
    """A short random run id such as ``r7f3a``: generated keys are ``<run id>-<line>``."""
    return "r" + secrets.token_hex(2)


# --- the log --------------------------------------------------------------------------------------------


class OutcomeLog:
    """An open outcome log. Use ``OutcomeLog.open``; write entries, ``flush()`` once per batch, ``close()``.

    ``resume_index`` holds what the log said when it was opened (empty for a new log); ``meta`` is the
    meta as written (on resume: the earlier run id and start, with this start added to ``resumed``).
    """

    __slots__ = ("_echo", "_failed", "_file", "meta", "path", "resume_index", "resumed")

    def __init__(
        self, path: str, file: BinaryIO, meta: RunMeta, index: ResumeIndex, echo: str | None, resumed: bool
    ) -> None:
        self.path = path
        self.meta = meta
        self.resume_index = index
        self.resumed = resumed
        self._file = file
        self._echo = echo
        self._failed = False

    @classmethod
    def open(cls, path: str, *, mode: OpenMode, meta: RunMeta, echo_property: str | None = None) -> OutcomeLog:
        """Open the log at ``path`` for ``mode``; raises ``ConfigError`` (one line) when it must not or cannot.

        ``"new"`` refuses an existing non-empty log; ``"overwrite"`` replaces it; ``"resume"`` continues it
        (or starts fresh if there is none): it refuses a log from another input or without its meta file,
        cuts a torn last line and builds ``resume_index``.
        """
        if mode not in ("new", "overwrite", "resume"):
            raise ValueError(f"unknown mode {mode!r}")
        if echo_property in RESERVED_FIELDS:
            raise ConfigError(f"--echo {echo_property}: that name is a field of the outcome log; echo another property")
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
                try:
                    file.truncate(0)
                except OSError as exc:
                    raise ConfigError(f"cannot replace outcome log {path}: {exc.strerror or exc}") from None
            try:
                # Writing the meta file (through a temporary file beside it) also proves the folder is writable.
                _write_meta(meta_path, meta)
            except OSError as exc:
                raise ConfigError(f"cannot write outcome log {path}: {exc.strerror or exc} ({meta_path})") from None
        except BaseException:
            file.close()
            raise
        return cls(path, file, meta, index, echo_property, resumed)

    def write_pending(self, records: Sequence[CartInput]) -> None:
        """Log ``pending`` for records about to be sent (each with its ``key`` assigned), and flush.

        The flush is the point: once the batch is sent, a killed process must still leave these entries
        behind, so that ``--resume`` knows the records may exist in HubSpot.
        """
        self._write(b"".join([encode_pending(record) for record in records]))
        self.flush()

    def write(self, outcomes: Sequence[Outcome]) -> None:
        """Log outcomes (final ones, or ``pending`` ones)."""
        echo = self._echo
        self._write(b"".join([encode_outcome(outcome, echo) for outcome in outcomes]))

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
