"""The pacing math (``cartloader/budget/pacing.py``) as pure functions: fast, focused tests with numbers worked
out by hand (what its mutation run uses; tests/test_budget_pacing.py checks the Lua mirror)."""

from __future__ import annotations

import math

import pytest

from cartloader.budget.pacing import (
    EDGE_NOISE,
    MIN_RESERVE,
    SAFETY_MARGIN,
    measured_others,
    next_slot,
    reserve,
    smoothed_others,
    spacing_s,
)
from cartloader.rate import Rate


def test_the_constants_are_the_documented_ones() -> None:
    assert (SAFETY_MARGIN, MIN_RESERVE, EDGE_NOISE) == (0.985, 2.0, 1.0)


@pytest.mark.parametrize(
    ("limit", "margin", "expected"),
    [
        (Rate(190, 10.0), SAFETY_MARGIN, 2.85),  # 1.5 % of 190
        (Rate(1000, 10.0), SAFETY_MARGIN, 15.0),
        (Rate(100, 10.0), SAFETY_MARGIN, 2.0),  # 1.5 would be below the floor
        (Rate(20, 1.0), SAFETY_MARGIN, 2.0),
        (Rate(1000, 10.0), 0.9, 100.0),
        (Rate(1000, 10.0), 1.0, 2.0),
    ],
)
def test_the_reserve_is_a_share_of_the_whole_window_never_under_two(
    limit: Rate, margin: float, expected: float
) -> None:
    assert reserve(limit, margin) == pytest.approx(expected)


def test_the_reserve_defaults_to_the_safety_margin() -> None:
    assert reserve(Rate(1000, 10.0)) == reserve(Rate(1000, 10.0), SAFETY_MARGIN)


@pytest.mark.parametrize(
    ("limit", "others", "margin", "expected"),
    [
        (Rate(20, 1.0), 0.0, SAFETY_MARGIN, 1 / 18),  # 20 less the reserve of 2
        (Rate(190, 10.0), 0.0, SAFETY_MARGIN, 10 / (190 - 2.85)),
        (Rate(190, 10.0), 50.0, SAFETY_MARGIN, 10 / (190 - 2.85 - 50)),
        (Rate(20, 1.0), 18.0, SAFETY_MARGIN, 1.0),  # nothing left: still one request a window
        (Rate(20, 1.0), 100.0, SAFETY_MARGIN, 1.0),
        (Rate(20, 1.0), 17.5, SAFETY_MARGIN, 1.0),  # half a request left: one a window, not two
        (Rate(1000, 10.0), 0.0, 0.9, 10 / 900),
    ],
)
def test_spacing_is_the_window_over_what_is_left_for_us(
    limit: Rate, others: float, margin: float, expected: float
) -> None:
    assert spacing_s(limit, others, margin) == pytest.approx(expected)
    if margin == SAFETY_MARGIN:
        assert spacing_s(limit, others) == pytest.approx(expected)


def test_an_idle_budget_starts_the_grid_again_from_now() -> None:
    assert next_slot(None, 100.0, 0.5) == 100.5


@pytest.mark.parametrize(
    ("slot", "now", "expected"),
    [
        (10.0, 10.0, 10.5),  # on time: one interval after the slot
        (10.0, 10.2, 10.5),  # a little late: the grid is kept
        (10.0, 10.25, 10.5),  # exactly half an interval late: still the grid
        (10.0, 10.4, 10.65),  # later: catch up at most half an interval
        (10.0, 12.0, 12.25),
    ],
)
def test_a_late_slot_keeps_the_grid_but_catches_up_half_an_interval_at_most(
    slot: float, now: float, expected: float
) -> None:
    assert next_slot(slot, now, 0.5) == pytest.approx(expected)


@pytest.mark.parametrize(
    ("advertised", "remaining", "ours", "expected"),
    [
        (190, 190, 0, 0.0),
        (190, 150, 10, 29.0),  # 40 drawn, 10 of them ours, less the edge allowance
        (190, 150, 39, 0.0),  # all but the edge allowance ours
        (190, 150, 40, 0.0),  # never negative
        (190, 0, 0, 189.0),
    ],
)
def test_others_are_what_the_window_drew_less_ours_and_the_edge_allowance(
    advertised: int, remaining: int, ours: int, expected: float
) -> None:
    assert measured_others(advertised, remaining, ours) == expected


def test_the_estimate_of_others_rises_at_once() -> None:
    assert smoothed_others(5.0, 30.0, 0.1, 10.0) == 30.0
    assert smoothed_others(5.0, 5.0, 100.0, 10.0) == 5.0


def test_the_estimate_of_others_falls_over_about_a_window() -> None:
    assert smoothed_others(30.0, 10.0, 0.0, 10.0) == pytest.approx(30.0)
    assert smoothed_others(30.0, 10.0, 10.0, 10.0) == pytest.approx(10.0 + 20.0 * math.exp(-1))
    assert smoothed_others(30.0, 10.0, 5.0, 10.0) == pytest.approx(10.0 + 20.0 * math.exp(-0.5))
    assert smoothed_others(30.0, 10.0, 1000.0, 10.0) == pytest.approx(10.0)
    assert smoothed_others(30.0, 10.0, 5.0, 20.0) == pytest.approx(10.0 + 20.0 * math.exp(-0.25))
