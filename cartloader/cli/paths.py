"""Output paths that must not destroy data: no output (the outcome log, its meta file, the rejects file and its
errors file, the summary, the backups ``--overwrite`` keeps) may be the input, the token file or another output.

Files are compared as files, not as names: two paths to one inode (a hard link, a symlink, ``./x`` and ``x``) are
the same file. A path that does not exist yet is compared by where it resolves to.
"""

from __future__ import annotations

import os
import stat
import sys
from collections.abc import Sequence

from cartloader.errors import ConfigError

Identity = tuple[str, int, int] | tuple[str, str]


def identity(path: str) -> Identity | None:
    """What makes ``path`` one file: its device and inode when it exists, else the path it resolves to.
    ``None`` for character devices (``/dev/null``, a terminal), which many outputs may share harmlessly."""
    try:
        status = os.stat(path)
    except OSError:
        return ("path", os.path.realpath(path))
    if stat.S_ISCHR(status.st_mode):
        return None
    return ("file", status.st_dev, status.st_ino)


def _stream_identity(stream: object) -> Identity | None:
    try:
        status = os.fstat(stream.fileno())  # type: ignore[attr-defined]
    except (OSError, ValueError, AttributeError):
        return None
    if not stat.S_ISREG(status.st_mode):
        return None
    return ("file", status.st_dev, status.st_ino)


def stdin_identity() -> Identity | None:
    """The file stdin was redirected from (``< carts.ndjson``), or ``None`` for a pipe or a terminal."""
    return _stream_identity(sys.stdin)


def stdout_identity() -> Identity | None:
    """The file behind file descriptor 1, where ``--out -`` writes: a file stdout was redirected to
    (``> log.ndjson``, ``>> log.ndjson``), or a pipe (which ``/dev/stdout`` given as another output also opens).
    ``None`` for a character device (a terminal, ``/dev/null``) or a closed descriptor."""
    try:
        status = os.fstat(1)
    except OSError:
        return None
    if stat.S_ISCHR(status.st_mode):
        return None
    return ("file", status.st_dev, status.st_ino)


def check_outputs(
    protected: Sequence[tuple[str, Identity | None]], outputs: Sequence[tuple[str, str | Identity]]
) -> None:
    """Refuse (``ConfigError``, exit 2) any output that is one of the ``protected`` files (the input, the token
    file) or the same file as another output. ``outputs`` are ``(what, path)`` pairs, ``what`` naming the option
    (or ``(what, identity)`` for an open stream such as stdout)."""
    seen: list[tuple[str, Identity]] = [(what, ident) for what, ident in protected if ident is not None]
    for what, target in outputs:
        ident = identity(target) if isinstance(target, str) else target
        if ident is None:
            continue
        named = f"{what} {target}" if isinstance(target, str) else what
        for other, other_ident in seen:
            if ident == other_ident:
                raise ConfigError(
                    f"{named} is the same file as {other}: writing it would destroy that; choose another path"
                )
        seen.append((named, ident))
