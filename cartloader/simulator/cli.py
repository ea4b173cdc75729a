"""``python -m cartloader simulator``: serve the built-in HubSpot simulator."""

from __future__ import annotations

import sys
from collections.abc import Sequence


def main(argv: Sequence[str]) -> int:
    """Serve the simulator until interrupted; return the exit status."""
    print("cartloader simulator: not implemented yet", file=sys.stderr)
    return 2
