"""Injected faults: which one (if any) hits a request, drawn from seeded probabilities."""

from __future__ import annotations

import random
from collections.abc import Mapping

from cartloader.errors import ConfigError

#: Every fault the simulator can inject, in the fixed order used to draw them.
#: ``pre_*`` and ``locked_423`` strike before anything is processed; the others after the batch was processed.
FAULT_NAMES: tuple[str, ...] = (
    "pre_503",
    "pre_reset",
    "locked_423",
    "post_500",
    "post_502",
    "post_504",
    "post_reset",
    "post_hang",
    "malformed_2xx",
)
PRE_FAULTS = frozenset({"pre_503", "pre_reset", "locked_423"})
POST_FAULTS = frozenset(FAULT_NAMES) - PRE_FAULTS


def check_faults(faults: Mapping[str, float]) -> dict[str, float]:
    """Return ``faults`` as a plain dict after checking names and probabilities; raise ConfigError if bad."""
    checked: dict[str, float] = {}
    for name, probability in faults.items():
        if name not in FAULT_NAMES:
            raise ConfigError(f"unknown fault {name!r}: expected one of {', '.join(FAULT_NAMES)}")
        probability = float(probability)
        if not 0.0 <= probability <= 1.0:
            raise ConfigError(f"fault {name}: probability {probability:g} is not between 0 and 1")
        checked[name] = probability
    if sum(checked.values()) > 1.0 + 1e-9:
        raise ConfigError("fault probabilities add up to more than 1 (at most one fault strikes a request)")
    return checked


class FaultPicker:
    """Draws at most one fault per request: one uniform number against the cumulative probabilities."""

    __slots__ = ("_faults", "_rng")

    def __init__(self, faults: Mapping[str, float], rng: random.Random) -> None:
        self._faults = check_faults(faults)
        self._rng = rng

    def set(self, name: str, probability: float) -> None:
        """Change one fault's probability (0 switches it off); raise ConfigError if the result is invalid."""
        updated = dict(self._faults)
        updated[name] = probability
        self._faults = check_faults(updated)

    def pick(self) -> str | None:
        """The fault striking the next request, or None."""
        if not self._faults:
            return None
        draw = self._rng.random()
        cumulative = 0.0
        for name in FAULT_NAMES:
            cumulative += self._faults.get(name, 0.0)
            if draw < cumulative:
                return name
        return None

    def __repr__(self) -> str:
        active = {name: p for name, p in self._faults.items() if p}
        return f"FaultPicker({active!r})"
