"""Our requests' places in the rolling window (budget/places.py), step by step on times given by hand: a place is
held from the latest its request can have reached HubSpot, a faster answer moves the places answered before it,
and what is forgotten or counted is exactly what the window needs."""

from __future__ import annotations

from collections.abc import Hashable

import pytest

from cartloader.budget.places import HeldPlaces


def _r(moves: list[tuple[Hashable, float]]) -> list[tuple[Hashable, float]]:
    """``moves`` with each distance rounded to the nanosecond (sums of floats)."""
    return [(name, round(seconds, 9)) for name, seconds in moves]


def _places(*sent: float, names: bool = True) -> HeldPlaces:
    places = HeldPlaces()
    for at in sent:
        places.take(at, f"slot {at}" if names else None)
    return places


def test_an_answer_as_fast_as_the_fastest_holds_the_place_from_when_it_went_and_moves_nothing() -> None:
    places = _places(1.0)
    assert places.answered(1.0, 1.25) == (1.0, [])
    assert places.held == [1.0]
    assert places.answered(1.0, 1.25) == (1.0, [])  # the same answer again: nothing more to move


def test_a_slower_answer_holds_its_place_from_when_it_can_have_arrived_at_the_latest() -> None:
    places = _places(1.0, 2.0)
    places.answered(1.0, 1.25)  # the fastest: 0.25 s
    held_from, moves = places.answered(2.0, 2.5)  # 0.25 s slower: it reached HubSpot 2.25 at the latest
    assert held_from == pytest.approx(2.25)
    assert _r(moves) == [("slot 2.0", 0.25)]
    assert places.held == [1.0, pytest.approx(2.25)]
    assert places.sent == [1.0, 2.0]


def test_a_faster_answer_moves_the_places_answered_before_it() -> None:
    # The first answer seemed as fast as HubSpot answers (0.4 s); the second, 0.1 s, shows the first one waited
    # 0.3 s before it was counted: its place is held from 0.3 on, not from when it went.
    places = _places(0.0, 0.5)
    assert places.answered(0.0, 0.4) == (0.0, [])
    held_from, moves = places.answered(0.5, 0.6)
    assert held_from == 0.5
    assert _r(moves) == [("slot 0.0", 0.3)]
    assert places.held == [pytest.approx(0.3), 0.5]


def test_a_faster_answer_moves_every_earlier_place_it_shows_late_but_only_later() -> None:
    places = _places(0.0, 0.2, 0.4, 0.6)
    places.answered(0.0, 0.5)  # 0.5 s
    places.answered(0.2, 0.5)  # 0.3 s: the first one went 0.2 s late
    places.answered(0.6, 0.65)  # 0.05 s: both reached HubSpot 0.45 at the latest; the 0.6 one went at once
    assert places.held == [0.4, pytest.approx(0.45), pytest.approx(0.45), 0.6]
    # A slower answer after them moves only its own place: the fastest did not change.
    _, moves = places.answered(0.4, 1.0)
    assert _r(moves) == [("slot 0.4", 0.55)]
    assert places.held == [pytest.approx(0.45), pytest.approx(0.45), 0.6, pytest.approx(0.95)]


def test_moves_are_named_by_the_name_given_with_the_slot_or_none() -> None:
    places = _places(0.0, 0.5, names=False)
    places.answered(0.0, 0.4)
    assert _r(places.answered(0.5, 0.6)[1]) == [(None, 0.3)]


def test_an_answer_names_the_last_slot_taken_at_or_before_its_send_time() -> None:
    places = _places(1.0, 2.0, 3.0)
    places.answered(3.0, 3.1)  # the fastest: 0.1 s
    # Sent at 2.5 by the caller's clock: the slot taken at 2.0 (sent 2.0, answered 2.6: arrived by 2.5).
    held_from, moves = places.answered(2.5, 2.6)
    assert held_from == pytest.approx(2.5)
    assert _r(moves) == [("slot 2.0", 0.5)]
    assert places.held == [1.0, pytest.approx(2.5), 3.0]


def test_an_answer_before_any_slot_moves_nothing_and_is_held_from_its_send_time() -> None:
    places = _places(1.0)
    assert places.answered(0.5, 0.9) == (0.5, [])
    assert places.held == [1.0]
    # ... but its latency counts: the slot's own answer, slower, is held later.
    held_from, moves = places.answered(1.0, 1.6)
    assert held_from == pytest.approx(1.2)
    assert _r(moves) == [("slot 1.0", 0.2)]


def test_forget_before_drops_exactly_what_went_and_is_held_before_the_horizon() -> None:
    places = _places(0.0, 1.0)
    places.take(1.5)  # unnamed, never answered
    places.take(2.0, "slot 2.0")
    places.take(3.0, "slot 3.0")
    places.answered(0.0, 0.1)  # the fastest: 0.1 s
    places.answered(1.0, 2.6)  # held from 2.5
    places.forget_before(2.0)
    assert places.sent == [2.0, 3.0]
    assert places.held == [2.0, pytest.approx(2.5), 3.0]
    # What was forgotten is forgotten: an answer to it now finds no slot at or before it and moves nothing.
    assert places.answered(1.0, 3.0) == (1.0, [])
    # What is left is still known by name and answer.
    assert places.answered(2.0, 2.1) == (2.0, [])
    assert _r(places.answered(3.0, 3.5)[1]) == [("slot 3.0", 0.4)]
    # A faster answer moves what is left only: the forgotten answers are not brought back into the window.
    _, moves = places.answered(3.0, 3.05)
    assert sorted(str(name) for name, _ in moves) == ["slot 2.0", "slot 3.0"]
    assert places.held == [pytest.approx(2.05), pytest.approx(2.5), pytest.approx(3.45)]


def test_forget_before_keeps_a_request_sent_exactly_at_the_horizon() -> None:
    places = _places(1.0, 2.0)
    places.forget_before(1.0)
    assert places.sent == [1.0, 2.0]
    assert places.held == [1.0, 2.0]


def test_between_counts_the_times_after_start_up_to_end_included() -> None:
    places = HeldPlaces()
    times = [1.0, 2.0, 2.0, 3.0, 4.0]
    assert places.between(times, 1.0, 3.0) == 3
    assert places.between(times, 0.0, 4.0) == 5
    assert places.between(times, 2.0, 2.0) == 0
    assert places.between(times, 4.0, 9.0) == 0


def test_forgetting_keeps_memory_bounded_by_what_the_window_still_needs() -> None:
    # Names and answers of forgotten requests go with them: a long run holds only the last windows' worth.
    places = HeldPlaces()
    for n in range(2000):
        places.take(float(n), n)
        places.answered(float(n), n + 0.5)
        places.forget_before(n - 9.0)
    assert len(places.sent) == len(places.held) == 10
    assert len(places._names) == len(places._answers) == 10
