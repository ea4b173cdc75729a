"""``python -m cartloader.simulator``: the same as ``python -m cartloader simulator``."""

import sys

from cartloader.simulator.cli import main

if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
