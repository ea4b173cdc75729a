"""Everything the command line writes to stderr, in one place: text lines (``cartloader: ...``), or with
``--log-format json`` one JSON object per line, for log shippers (progress, warnings, errors, usage errors
included, and the summary).

A JSON line always has ``time`` (UTC, ISO 8601), ``level`` (``info``, ``warning``, ``error``), ``event`` and
``message`` (the text line's words); some events add fields (``progress`` and ``summary`` their counts).
"""

from __future__ import annotations

import sys
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

import orjson
from tqdm import tqdm

_PREFIX = "cartloader: "


class _State:
    json = False


def use_json(enabled: bool) -> None:
    """Write JSON objects (``--log-format json``) instead of text lines from now on."""
    _State.json = enabled


def is_json() -> bool:
    """Whether stderr gets JSON objects."""
    return _State.json


def wants_json(argv: Sequence[str]) -> bool:
    """Whether raw arguments ask for ``--log-format json`` (read before parsing, so usage errors follow it)."""
    for index, arg in enumerate(argv):
        if arg == "--":
            break
        if arg == "--log-format=json" or (arg == "--log-format" and argv[index + 1 : index + 2] == ["json"]):
            return True
    return False


def _write(text: str) -> None:
    # tqdm.write does not tear a progress bar that may be showing.
    tqdm.write(text, file=sys.stderr)
    sys.stderr.flush()


def _object(level: str, event: str, message: str, fields: Mapping[str, Any]) -> str:
    entry: dict[str, Any] = {
        "time": datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
        "level": level,
        "event": event,
        "message": message,
    }
    entry.update(fields)
    return orjson.dumps(entry, default=str).decode()


def emit(message: str, *, level: str = "info", event: str = "message", **fields: Any) -> None:
    """One line: ``cartloader: MESSAGE`` (``cartloader: LEVEL: MESSAGE`` for warnings and errors), or its JSON."""
    message = " ".join(message.split())
    if _State.json:
        _write(_object(level, event, message, fields))
    elif level == "info":
        _write(_PREFIX + message)
    else:
        _write(f"{_PREFIX}{level}: {message}")


def error(message: str, **fields: Any) -> None:
    """One ``cartloader: error: ...`` line."""
    emit(message, level="error", event="error", **fields)


def warning(message: str, **fields: Any) -> None:
    """One ``cartloader: warning: ...`` line."""
    emit(message, level="warning", event="warning", **fields)


def block(lines: Sequence[str], *, event: str, level: str = "info", **fields: Any) -> None:
    """A few text lines that belong together (the summary): as they are, or one JSON object whose ``message``
    is the first line and whose other fields are ``fields``."""
    if not lines:
        return
    if _State.json:
        first = lines[0].removeprefix(_PREFIX)
        _write(_object(level, event, " ".join(first.split()), fields))
        return
    for line in lines:
        _write(line)
