"""The command line's options, one module per option group as ``--help`` shows them (``outcome_log``, ``hubspot``,
``pace``, ``run_control``, ``safety``, ``input_layout``); ``parser`` assembles them, ``checked`` is the checked
``Options``, ``exits`` the exit statuses. This module only re-exports what the rest of the command line uses."""

from cartloader.cli.options.checked import Options, parse_options
from cartloader.cli.options.exits import (
    EXIT_FATAL_API,
    EXIT_INTERNAL,
    EXIT_LOG_FAILED,
    EXIT_OK,
    EXIT_SIGINT,
    EXIT_SIGTERM,
    EXIT_SOME_FAILED,
    EXIT_USAGE,
    UsageError,
    print_error,
)
from cartloader.cli.options.input_layout import input_format
from cartloader.cli.options.pace import concurrency_option
from cartloader.cli.options.parser import PROG, TOKEN_ENV_NAME, build_parser, package_version
from cartloader.cli.options.run_control import DEFAULT_PROGRESS_INTERVAL_S

__all__ = [
    "DEFAULT_PROGRESS_INTERVAL_S",
    "EXIT_FATAL_API",
    "EXIT_INTERNAL",
    "EXIT_LOG_FAILED",
    "EXIT_OK",
    "EXIT_SIGINT",
    "EXIT_SIGTERM",
    "EXIT_SOME_FAILED",
    "EXIT_USAGE",
    "PROG",
    "TOKEN_ENV_NAME",
    "Options",
    "UsageError",
    "build_parser",
    "concurrency_option",
    "input_format",
    "package_version",
    "parse_options",
    "print_error",
]
