"""The pacing math, in one place: when our next request may go, and what others draw from the window.

Both budgets apply these formulas: :class:`~cartloader.budget.local.RateBudget` in this process, and the
Lua script of :class:`~cartloader.budget.shared.SharedBudget` inside Redis for many processes (it mirrors
each function below line for line; ``tests/test_budget_pacing.py`` runs both on the same schedule and
compares). A change here is a change there.

The limit is a rolling window as HubSpot counts it: requests in the trailing interval. Two paces keep it:

- ``burst`` (the default): an empty window admits a whole window's worth at once, so the budget lets out
  everything the window holds free, then lets each of our requests free its place one window (plus a guard)
  after it went. The count of our requests in every trailing window never exceeds the window's capacity
  (:func:`burst_capacity`): the limit less what others draw less a reserve against error in that estimate.
- ``even``: requests spaced on a fixed grid (GCRA: each slot one interval after the previous *scheduled*
  slot, not the previous actual send), never a burst.

Measured: a capacity-1 bucket such as ``aiolimiter.AsyncLimiter(1, interval)`` loses every event-loop
wake-up delay for good (0.80 of a compressed window on a busy machine, against 0.98 for the grid), and a
leaky bucket sized to the window (``AsyncLimiter(190, 10)``) admits up to twice the limit into one rolling
window (its capacity at once, then its leak rate): a burst is safe only when counted against the window.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Sequence

from cartloader.rate import Rate

#: The share of the window a budget leaves unused, for timing jitter and clock differences with HubSpot.
SAFETY_MARGIN = 0.985
#: ... but never fewer requests than this per window, however small the window.
MIN_RESERVE = 2.0
#: One request at the window's edge that HubSpot (counting arrivals) and a budget (counting slots) may place
#: on different sides: without this allowance a budget alone would give way to itself.
EDGE_NOISE = 1.0
#: Requests that may go before HubSpot's first answer says what the window holds (its lowest tier, 100/10s,
#: leaves room for them).
BEFORE_FIRST_ANSWER = 10


def reserve(limit: Rate, margin: float = SAFETY_MARGIN) -> float:
    """Requests per window left unused. Taken from the whole window, not from one sender's share: two
    senders each leaving a margin of only their own share would together leave almost none."""
    return max(limit.requests * (1 - margin), MIN_RESERVE)


def spacing_s(limit: Rate, others: float, margin: float = SAFETY_MARGIN) -> float:
    """Even pace: seconds between two of our requests: the window over what is left of the limit after the
    reserve and what others draw (at least one request per window)."""
    ours = max(1.0, limit.requests - reserve(limit, margin) - others)
    return limit.window_s / ours


def next_slot(slot: float | None, now: float, interval: float) -> float:
    """Even pace: when the slot after this one may be taken. ``slot`` is the time this request was scheduled
    for (``None``: the budget was idle, so the grid starts again from ``now``). Woken late, the grid is kept,
    catching up half an interval at most, so no rolling window ever holds more than one extra request."""
    if slot is None:
        return now + interval
    return max(slot + interval, now + interval / 2)


def guard_s(window_s: float, margin: float = SAFETY_MARGIN) -> float:
    """Burst pace: how long after the window a request of ours still holds its place: the reserve, in time.
    HubSpot frees a place when the request's *arrival* is a window old, and arrivals lag sends unevenly (a new
    connection, a busy event loop): freeing it this much later keeps that lag out of the count."""
    return window_s * (1 - margin)


def burst_capacity(limit: Rate, others: float, margin: float = SAFETY_MARGIN) -> int:
    """Burst pace: how many of our requests one window may hold: the limit, less what others draw (whole
    requests), less a reserve against error in that estimate (:func:`reserve`, but never more than the others'
    draw itself: alone, the guard in time is the whole reserve). At least one."""
    drawn = math.floor(others + 1e-9)
    return max(1, math.floor(limit.requests - drawn - min(drawn, reserve(limit, margin))))


def latest_arrival(sent_at: float, answered_at: float, fastest_s: float) -> float:
    """Burst pace: the latest a request answered at ``answered_at`` can have reached HubSpot. Its answer took at
    least as long to come back as the fastest answer seen, so a wait before it was counted (a new connection, a
    busy event loop) shows as latency above the fastest; its place is held a window after that."""
    return max(sent_at, answered_at - fastest_s)


class FastestAnswer:
    """The fastest of the last :attr:`SPAN` answers' latencies (a sliding minimum, O(1) per answer)."""

    SPAN = 64
    __slots__ = ("_count", "_window")

    def __init__(self) -> None:
        self._count = 0
        self._window: deque[tuple[int, float]] = deque()  # (answer number, latency), latencies increasing

    def add(self, latency_s: float) -> float:
        """Count one answer's latency; return the fastest of the last :attr:`SPAN`."""
        window = self._window
        while window and window[-1][1] >= latency_s:
            window.pop()
        self._count += 1
        window.append((self._count, latency_s))
        if window[0][0] <= self._count - self.SPAN:
            window.popleft()
        return window[0][1]


def next_burst_slot(slots: Sequence[float], now: float, span_s: float, capacity: int) -> float:
    """Burst pace: the earliest time from ``now`` at which one more request keeps every trailing ``span_s``
    holding at most ``capacity`` of ours. ``slots``: our requests' times (sent, or :func:`latest_arrival` once
    answered), oldest first, at least every one of the last ``span_s``. Free places go at once; then each
    place is free again ``span_s`` after its time."""
    if len(slots) < capacity:
        return now
    return max(now, slots[-capacity] + span_s)


def measured_others(advertised_max: int, remaining: int, ours_in_window: int) -> float:
    """Even pace: what other integrations of the app drew from the window HubSpot reported on (``Max -
    Remaining`` less our own requests in that window, less the edge allowance)."""
    return max(0.0, advertised_max - remaining - ours_in_window - EDGE_NOISE)


def lower_others(advertised_max: int, remaining: int, ours_possibly_counted: int) -> float:
    """Burst pace: a lower bound of what others drew from the window HubSpot reported on: ``Max - Remaining``
    less every request of ours it may have counted (any that went before the answer came and is held past the
    start of the window: requests sent together arrive in any order). Alone it is never above zero, however
    they arrived; the last answer of a burst makes it tight."""
    return max(0.0, advertised_max - remaining - ours_possibly_counted)


def first_others(advertised_max: int, remaining: int) -> float:
    """Burst pace, HubSpot's first answer: an upper bound of what others drew (all it counted but this request:
    exact when it arrived first), so that the first burst never overdraws."""
    return max(0.0, advertised_max - remaining - 1.0)


def highest_lower(
    buckets: tuple[float, float, float], lower: float, now: float, window_s: float
) -> tuple[float, float, float]:
    """Burst pace: the estimate of others' draw is the highest lower bound measured over the last one to two
    windows, kept as ``(this window's highest, when this window began, the previous window's highest)``: it
    rises at once and falls a window or two after others drew less (the estimate is ``max`` of the two)."""
    current, began, previous = buckets
    if now - began >= window_s:
        return (lower, now, current)
    return (max(current, lower), began, previous)


def burst_others(buckets: tuple[float, float, float], backlog: tuple[float, float], now: float) -> float:
    """Burst pace: the estimate of others' draw: the highest lower bound of the last one to two windows
    (:func:`highest_lower`'s buckets), or while it can still be in the window the backlog HubSpot's first answer
    counted (``(first_others, a window after that answer)``: e.g. the requests of a run stopped just before this
    one; all of it has left the window a window after that answer, and a draw that goes on is measured again by
    the answers after)."""
    current, _, previous = buckets
    amount, gone_at = backlog
    return max(current, previous, amount if now < gone_at else 0.0)


def smoothed_others(previous: float, measured: float, elapsed_s: float, window_s: float) -> float:
    """Even pace: the estimate of others' draw after a new measurement: rise at once, fall over about a window.
    Giving way matters more than taking back a slot, and two budgets that both jumped to what the other left
    would oscillate."""
    if measured >= previous:
        return measured
    return measured + (previous - measured) * math.exp(-elapsed_s / window_s)
