"""``python -m cartloader``: see :mod:`cartloader.cli`."""

from cartloader.cli import main

if __name__ == "__main__":
    raise SystemExit(main())
