"""The package's version, written once: ``pyproject.toml`` reads it from here, and the command line, the outcome
log's meta file and the User-Agent header all say this."""

__version__ = "0.1.0"
