"""The command line: ``python -m cartloader INPUT [options]`` and ``python -m cartloader simulator``."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence


def build_parser() -> argparse.ArgumentParser:
    """The loader's argument parser."""
    parser = argparse.ArgumentParser(
        prog="python -m cartloader",
        description="Load cart records (NDJSON) into HubSpot's CRM, fast and without losing or duplicating any.",
        epilog="Run `python -m cartloader simulator --help` for the built-in HubSpot simulator.",
    )
    parser.add_argument("input", metavar="INPUT", help='NDJSON file to load ("-" for stdin; *.gz is decompressed)')
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return the exit status."""
    args = list(sys.argv[1:] if argv is None else argv)
    if args and args[0] == "simulator":
        from cartloader.simulator.cli import main as simulator_main

        return simulator_main(args[1:])
    build_parser().parse_args(args)
    print("cartloader: loading is not implemented yet", file=sys.stderr)
    return 2
