"""The command line's exit statuses (docs/cli.md) and its one-line error.

Exit statuses: 0 all loaded, 1 some records failed or invalid, 2 usage or configuration error, 3 fatal API
condition, 4 local I/O failure after sending began, 130/143 interrupted by SIGINT/SIGTERM, 70 an internal error.
"""

from __future__ import annotations

from cartloader.cli import console

EXIT_OK = 0
EXIT_SOME_FAILED = 1
EXIT_USAGE = 2
EXIT_FATAL_API = 3
EXIT_LOG_FAILED = 4
EXIT_SIGINT = 130
EXIT_SIGTERM = 143
EXIT_INTERNAL = 70  # EX_SOFTWARE: a bug in cartloader, reported as one line


class UsageError(Exception):
    """A bad option or argument (exit 2); ``str()`` is the one-line message."""


def print_error(message: str) -> None:
    """Print one ``cartloader: error: ...`` line on stderr (a JSON object with ``--log-format json``)."""
    console.error(message)
