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
    assert done.stdout.splitlines()[-1] == "created 3, failed 0, invalid 1"
    assert "line 3: invalid INVALID_DECIMAL" in done.stdout


def test_service_example_answers_each_webhook_and_coalesces_their_carts() -> None:
    done = subprocess.run(
        [sys.executable, str(ROOT / "examples" / "service.py"), "--demo", "60"],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    first, second = done.stdout.splitlines()[-2:]
    webhooks, carts = first.split(":")[0].split(", ")
    assert webhooks == "60 webhooks"
    created = int(carts.removesuffix(" carts"))
    assert first.endswith(f"{{'created': {created}}}")  # every cart of every webhook came back created
    requests = int(second.split()[2])
    assert requests < 60  # far fewer requests than webhooks: their carts shared batches
