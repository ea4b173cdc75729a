"""Helpers for tests that need a folder the loader cannot write (no tests here).

Root ignores file permissions, and CI runs as root. So such a check runs in a child process that, when the
test runs as root, first gives up the capabilities that override permissions (``CAP_DAC_OVERRIDE``,
``CAP_DAC_READ_SEARCH``) from its bounding set: the program it then executes is refused like any user."""

from __future__ import annotations

import ctypes
import os
import subprocess
from collections.abc import Sequence
from typing import Any

_PR_CAPBSET_DROP = 24
_CAP_DAC_OVERRIDE = 1
_CAP_DAC_READ_SEARCH = 2


def _drop_permission_overrides() -> None:
    if os.geteuid() != 0:
        return
    libc = ctypes.CDLL(None, use_errno=True)
    for capability in (_CAP_DAC_OVERRIDE, _CAP_DAC_READ_SEARCH):
        if libc.prctl(_PR_CAPBSET_DROP, capability, 0, 0, 0) != 0:
            errno = ctypes.get_errno()
            raise OSError(errno, f"cannot drop capability {capability}: {os.strerror(errno)}")


def run_without_permission_overrides(args: Sequence[str], **kwargs: Any) -> subprocess.CompletedProcess[str]:
    """Run ``args`` so that file permissions apply to it even when the test runs as root."""
    kwargs.setdefault("capture_output", True)
    kwargs.setdefault("timeout", 60)
    return subprocess.run(list(args), preexec_fn=_drop_permission_overrides, text=True, check=False, **kwargs)


def popen_kwargs() -> dict[str, Any]:
    """Keyword arguments for ``run_cli``/``subprocess`` that make file permissions apply to the child."""
    return {"preexec_fn": _drop_permission_overrides}
