"""The command line: options, setup, the run and its signals, the report, and ``--simulate``."""

from cartloader.cli.main import main

__all__ = ["main"]
