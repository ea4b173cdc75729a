"""The entry point: ``python -m cartloader INPUT [options]``, ``cartloader ...``, ``... simulator [options]`` and
``... properties [options]``."""

from __future__ import annotations

import logging
import sys
from collections.abc import Sequence

from cartloader.cli import console
from cartloader.cli.options import EXIT_OK, EXIT_SIGINT, EXIT_USAGE, PROG, UsageError, parse_options, print_error
from cartloader.cli.report import StderrLogHandler


def _route_library_logging() -> None:
    logger = logging.getLogger("cartloader")
    if not any(isinstance(handler, StderrLogHandler) for handler in logger.handlers):
        logger.addHandler(StderrLogHandler(logging.WARNING))
    logger.setLevel(logging.WARNING)
    logger.propagate = False


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return the exit status."""
    args = list(sys.argv[1:] if argv is None else argv)
    if args and args[0] == "simulator":
        from cartloader.simulator.cli import main as simulator_main

        return simulator_main(args[1:])
    if args and args[0] == "reconcile":
        from cartloader.cli.reconcile import main as reconcile_main

        return reconcile_main(args[1:])
    if args and args[0] == "properties":
        from cartloader.cli.properties import main as properties_main

        _route_library_logging()
        return properties_main(args[1:])
    console.use_json(console.wants_json(args))
    try:
        options = parse_options(args)
    except UsageError as exc:
        print_error(f"{exc} (see {PROG} --help)")
        return EXIT_USAGE
    except SystemExit as exc:  # --help
        return exc.code if isinstance(exc.code, int) else EXIT_OK
    _route_library_logging()
    from cartloader.cli.command import run_command

    try:
        return run_command(options, argv=args)
    except KeyboardInterrupt:  # before the run's own signal handling was in place
        print_error("interrupted before anything was sent")
        return EXIT_SIGINT
