"""Injected faults: which one (if any) hits a batch request, drawn from seeded probabilities or forced on the
N-th batch request."""

from __future__ import annotations

import random
from collections.abc import Mapping

from cartloader.errors import ConfigError

#: The transport and server faults: after each of them nothing is wrong with the records, only the answer.
#: ``pre_*`` and ``locked_423`` strike before anything is processed; the others after the batch was processed.
BASIC_FAULTS: tuple[str, ...] = (
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
#: Irregular answers: what HubSpot has been seen to answer, or may answer, that a loader rarely plans for.
IRREGULAR_FAULTS: tuple[str, ...] = (
    "missing_result",
    "stray_result",
    "errors_untraced",
    "batch_error_traced",
    "mixed_echo",
    "too_large_413",
    "teapot_418",
    "migration_477",
    "status_not_complete",
)
#: Every fault the simulator can inject, in the fixed order used to draw them.
FAULT_NAMES: tuple[str, ...] = BASIC_FAULTS + IRREGULAR_FAULTS
#: Faults answered before the batch is read: nothing is processed.
PRE_FAULTS = frozenset({"pre_503", "pre_reset", "locked_423", "too_large_413", "teapot_418", "migration_477"})
#: Faults after which the batch was processed but the answer does not say so (fully).
POST_FAULTS = frozenset({"post_500", "post_502", "post_504", "post_reset", "post_hang", "malformed_2xx"})


def check_faults(faults: Mapping[str, float]) -> dict[str, float]:
    """Return ``faults`` as a plain dict after checking names and probabilities; raise ConfigError if bad."""
    checked: dict[str, float] = {}
    for name, probability in faults.items():
        _check_name(name)
        probability = float(probability)
        if not 0.0 <= probability <= 1.0:
            raise ConfigError(f"fault {name}: probability {probability:g} is not between 0 and 1")
        checked[name] = probability
    if sum(checked.values()) > 1.0 + 1e-9:
        raise ConfigError("fault probabilities add up to more than 1 (at most one fault strikes a request)")
    return checked


def check_schedule(schedule: Mapping[int, str]) -> dict[int, str]:
    """Return the forced faults (batch request number -> fault name) after checking them."""
    checked: dict[int, str] = {}
    for number, name in schedule.items():
        _check_name(name)
        if int(number) < 1:
            raise ConfigError(f"fault {name}@{number}: batch requests are numbered from 1")
        checked[int(number)] = name
    return checked


def _check_name(name: str) -> None:
    if name not in FAULT_NAMES:
        raise ConfigError(f"unknown fault {name!r}: expected one of {', '.join(FAULT_NAMES)}")


class FaultPicker:
    """Draws at most one fault per batch request: a forced one for its number, else one uniform number against
    the cumulative probabilities."""

    __slots__ = ("_batches", "_faults", "_rng", "_schedule")

    def __init__(self, faults: Mapping[str, float], rng: random.Random, schedule: Mapping[int, str] = {}) -> None:
        self._faults = check_faults(faults)
        self._schedule = check_schedule(schedule)
        self._rng = rng
        self._batches = 0

    def set(self, name: str, probability: float) -> None:
        """Change one fault's probability (0 switches it off); raise ConfigError if the result is invalid."""
        updated = dict(self._faults)
        updated[name] = probability
        self._faults = check_faults(updated)

    def force(self, name: str, batch_request: int) -> None:
        """Make fault ``name`` strike the ``batch_request``-th batch request (counted since start)."""
        self._schedule.update(check_schedule({batch_request: name}))

    def pick(self) -> str | None:
        """The fault striking the next batch request, or None."""
        self._batches += 1
        forced = self._schedule.pop(self._batches, None)
        if forced is not None:
            return forced
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
        return f"FaultPicker({active!r}, forced={self._schedule!r})"
