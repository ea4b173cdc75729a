"""The loader's argument parser: one-line errors, no abbreviations, no value of an unknown argument shown, and
the option groups as ``--help`` shows them."""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from typing import Any, NoReturn

from cartloader._version import __version__
from cartloader.cli.options.exits import UsageError
from cartloader.cli.options.hubspot import add_hubspot_options
from cartloader.cli.options.input_layout import add_input_layout_options
from cartloader.cli.options.outcome_log import add_outcome_log_options
from cartloader.cli.options.pace import add_pace_options
from cartloader.cli.options.run_control import add_run_options
from cartloader.cli.options.safety import add_safety_options

PROG = "python -m cartloader"
TOKEN_ENV_NAME = "HUBSPOT_ACCESS_TOKEN"


def package_version() -> str:
    """cartloader's version."""
    return __version__


class _Parser(argparse.ArgumentParser):
    """An argument parser that raises instead of printing usage and exiting, so every error is one line; long
    options are never abbreviated (``--token x`` must not be read as ``--token-file x``), and an unknown argument's
    value is never shown (it may be a token)."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(allow_abbrev=False, **kwargs)

    def error(self, message: str) -> NoReturn:
        raise UsageError(message)

    def parse_args(self, args: Sequence[str] | None = None, namespace: Any = None) -> Any:  # type: ignore[override]
        parsed, unknown = self.parse_known_args(args, namespace)
        if unknown:
            raise UsageError(_unknown_arguments(unknown))
        return parsed


def command_parser(**kwargs: Any) -> argparse.ArgumentParser:
    """A parser with the loader's rules (one-line errors, no abbreviations), for a subcommand's options."""
    return _Parser(**kwargs)


def _unknown_arguments(unknown: Sequence[str]) -> str:
    """``unrecognized arguments: --token`` without the values (a token typed on the command line stays unseen)."""
    names = [arg.split("=", 1)[0] for arg in unknown if arg.startswith("-") and arg != "-"]
    values = len(unknown) - len(names)
    shown = " ".join(names) if names else "a value"
    message = f"unrecognized arguments: {shown}"
    if names and values:
        message += f" (and {values} value{'s' if values > 1 else ''}, not shown)"
    if any(name.startswith("--token") and name != "--token-file" for name in names):
        message += f"; the token never comes from the command line: set {TOKEN_ENV_NAME} or give --token-file PATH"
    return message


def build_parser() -> argparse.ArgumentParser:
    """The loader's argument parser (options grouped as ``--help`` shows them)."""
    parser = _Parser(
        prog=PROG,
        description="Load cart records (NDJSON, one JSON object per line, or CSV) into HubSpot's CRM through "
        "batch/create: fast, rate-limited, resumable, with one outcome per input line. The token comes from "
        "--token-file or the environment variable HUBSPOT_ACCESS_TOKEN, never from the command line.",
        epilog="Exit status: 0 all loaded, 1 some records failed or invalid, 2 usage or configuration error, "
        "3 stopped by HubSpot (bad token, missing scopes, daily limit, ...), 4 a file failed after sending began "
        "(outcome log unwritable, input cut short), 130/143 interrupted (SIGINT/SIGTERM), 70 a bug. "
        "Details: docs/cli.md. "
        f"Run `{PROG} simulator --help` for the built-in HubSpot simulator.",
    )
    parser.add_argument(
        "input", metavar="INPUT", help='NDJSON or CSV file to load ("-" for stdin; *.gz is decompressed)'
    )
    parser.add_argument("--version", action="version", version=f"cartloader {package_version()}")
    add_outcome_log_options(parser.add_argument_group("outcome log"))
    add_hubspot_options(parser.add_argument_group("HubSpot"))
    add_pace_options(parser.add_argument_group("pace and retries"))
    add_run_options(parser.add_argument_group("run"))
    add_safety_options(parser.add_argument_group("safety"))
    add_input_layout_options(parser.add_argument_group("input format"))
    return parser
