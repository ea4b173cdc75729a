"""The examples the docs point to run as shown."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_library_quickstart_example_prints_its_summary() -> None:
    done = subprocess.run(
        [sys.executable, str(ROOT / "examples" / "library_quickstart.py")],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert done.stdout.splitlines()[-1] == "created 3, failed 1, invalid 0"
    assert "line 3: failed VALIDATION_ERROR" in done.stdout
