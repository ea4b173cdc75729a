"""Run metadata: ``OUT.meta.json`` beside the outcome log (the run id, the input's fingerprint, the options), and
the run id itself, made here and nowhere else."""

from __future__ import annotations

import hashlib
import os
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

import orjson

from cartloader._version import __version__
from cartloader.errors import ConfigError

META_SUFFIX = ".meta.json"
_HEAD_BYTES = 64 * 1024


def meta_path_for(log_path: str) -> str:
    """Where the meta file of a log lives: the log's path plus ``.meta.json``."""
    return log_path + META_SUFFIX


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
            return cls("stdin", "-")  # not fingerprinted: see of_stdin
        resolved = os.path.realpath(path)
        try:
            with open(resolved, "rb") as stream:
                size = os.fstat(stream.fileno()).st_size
                head = stream.read(_HEAD_BYTES)
        except OSError as exc:
            raise ConfigError(f"cannot read input {path}: {exc.strerror or exc}") from None
        return cls("file", resolved, size, len(head), hashlib.sha256(head).hexdigest())

    @classmethod
    def of_stdin(cls, head: bytes) -> InputFingerprint:
        """The fingerprint of stdin from its first bytes (``head``, at most 64 KiB)."""
        if not head:
            return cls("stdin", "-")
        return cls("stdin", "-", None, len(head), hashlib.sha256(head).hexdigest())

    def mismatch(self, current: InputFingerprint) -> str | None:
        """Why a log made from this input cannot be continued with ``current``, or ``None`` if it can."""
        if current.kind != self.kind:
            return f"it was made from {self._describe()}, not {current._describe()}"
        if self.kind == "stdin":
            return self._stdin_mismatch(current)
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

    def _stdin_mismatch(self, current: InputFingerprint) -> str | None:
        # A log from before stdin was fingerprinted (or from an empty stdin) accepts any data.
        if not self.head_bytes or self.head_sha256 is None:
            return None
        if current.head_bytes < self.head_bytes:
            return f"it was made from stdin whose first {self.head_bytes} bytes this stdin does not have"
        if current.head_bytes != self.head_bytes or current.head_sha256 != self.head_sha256:
            return f"it was made from stdin whose first {self.head_bytes} bytes differ from this stdin's"
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


#: Options recorded in the meta file that change what a line of the input means: ``--resume`` refuses a change.
MEANING_OPTIONS: Mapping[str, str] = {
    "upsert_by": "--upsert-by",
    "object_type": "--object-type",
    "api_version": "--api-version",
    "format": "--format",
    "csv": "the CSV layout (--map, --associate, --csv-delimiter)",
    "encoding": "--encoding",
    "convert": "--convert",
}


def _shown(value: object) -> str:
    if value is None:
        return "none"
    if isinstance(value, str):
        return value
    return orjson.dumps(value).decode()


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


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
    version: str = __version__

    @classmethod
    def new(
        cls, input_path: str | None, options: Mapping[str, Any] | None = None, *, stdin_head: bytes | None = None
    ) -> RunMeta:
        """A fresh run's meta with a new run id; ``input_path`` as for ``InputFingerprint.of_input`` (stdin is
        fingerprinted from ``stdin_head``, its first bytes, when given)."""
        if input_path == "-" and stdin_head is not None:
            fingerprint = InputFingerprint.of_stdin(stdin_head)
        else:
            fingerprint = InputFingerprint.of_input(input_path)
        return cls(new_run_id(), fingerprint, dict(options or {}))

    @classmethod
    def read(cls, meta_path: str) -> RunMeta | None:
        """The meta file at ``meta_path``, or ``None`` when it is missing or unreadable."""
        try:
            with open(meta_path, "rb") as stream:
                return cls.from_json(stream.read())
        except (OSError, ValueError):
            return None

    def meaning_mismatch(self, current: RunMeta) -> str | None:
        """Which option that changes what a line means (``MEANING_OPTIONS``) differs between this (earlier) run and
        ``current``, or ``None``. An option this meta file does not record (written before it existed) accepts
        any value."""
        for name, label in MEANING_OPTIONS.items():
            if name not in self.options:
                continue
            before, now = self.options.get(name), current.options.get(name)
            if before != now:
                return f"it was made with {label} {_shown(before)}, and this run has {_shown(now)}"
        return None

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
            option=orjson.OPT_INDENT_2 | orjson.OPT_APPEND_NEWLINE,
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
