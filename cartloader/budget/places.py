"""Our requests' places in the rolling window (burst pace): when each went, and until when it holds its place.

A request holds its place from when it went until a window (plus a guard) after the latest it can have reached
HubSpot (:func:`~cartloader.budget.pacing.latest_arrival`): known once it is answered, and moved later again if a
faster answer shows that it waited longer than thought. :class:`~cartloader.budget.local.RateBudget` decides
with these times; :class:`~cartloader.budget.shared.SharedBudget` keeps its own requests' here and sends the
moves to Redis, where every participant decides with them.
"""

from __future__ import annotations

import math
from bisect import bisect_left, bisect_right, insort
from collections.abc import Hashable

from cartloader.budget.pacing import FastestAnswer, latest_arrival


class HeldPlaces:
    """The times our requests went (``sent``) and the times their places are held from (``held``), both sorted."""

    __slots__ = ("_answers", "_fastest", "_fastest_s", "_names", "held", "sent")

    def __init__(self) -> None:
        self.sent: list[float] = []
        self.held: list[float] = []
        self._names: dict[float, Hashable] = {}  # send time -> the name the caller gave the slot
        self._answers: dict[float, list[float]] = {}  # send time -> [answered at, held from]
        self._fastest = FastestAnswer()
        self._fastest_s = math.inf

    def take(self, at: float, name: Hashable = None) -> None:
        """Count a request that went at ``at`` (the latest so far)."""
        self.sent.append(at)
        self.held.append(at)
        if name is not None:
            self._names[at] = name

    def answered(self, sent_at: float, now: float) -> tuple[float, list[tuple[Hashable, float]]]:
        """The request sent at ``sent_at`` (the last slot taken at or before it) was answered ``now``: hold its
        place from the latest it can have reached HubSpot. Returns that time, and each place moved as
        ``(name, seconds later)`` (others too, when this answer is the fastest yet)."""
        sent = self.sent
        index = bisect_right(sent, sent_at) - 1
        previous = self._fastest_s
        fastest = self._fastest_s = self._fastest.add(now - sent_at)
        if index < 0:
            return sent_at, []
        slot = sent[index]
        record = self._answers.setdefault(slot, [now, slot])
        moves: list[tuple[Hashable, float]] = []
        for start, (answered_at, held_from) in self._answers.items() if fastest < previous else [(slot, record)]:
            arrival = latest_arrival(start, answered_at, fastest)
            if arrival > held_from:
                self._move(held_from, arrival)
                self._answers[start][1] = arrival
                moves.append((self._names.get(start), arrival - held_from))
        return self._answers[slot][1], moves

    def _move(self, old: float, new: float) -> None:
        held = self.held
        position = bisect_left(held, old)
        if position < len(held) and held[position] == old:
            del held[position]
        insort(held, new)

    def forget_before(self, horizon: float) -> None:
        """Drop what went (and is held from) before ``horizon``."""
        sent, held = self.sent, self.held
        gone = bisect_left(sent, horizon)
        for start in sent[:gone]:
            self._answers.pop(start, None)
            self._names.pop(start, None)
        del sent[:gone]
        del held[: bisect_left(held, horizon)]

    def between(self, times: list[float], start: float, end: float) -> int:
        """How many of ``times`` (``sent`` or ``held``) are in ``(start, end]``."""
        return bisect_right(times, end) - bisect_right(times, start)
