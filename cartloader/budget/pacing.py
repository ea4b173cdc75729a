"""The pacing math, in one place: how far apart requests go, and what others draw from the window.

Both budgets apply these formulas: :class:`~cartloader.budget.local.RateBudget` in this process, and the
Lua script of :class:`~cartloader.budget.shared.SharedBudget` inside Redis for many processes (it mirrors
each function below line for line; ``tests/test_budget_pacing.py`` runs both on the same schedule and
compares). A change here is a change there.

The limit is a rolling window as HubSpot counts it: requests in the trailing interval. Requests are spaced
on a fixed grid (GCRA: each slot one interval after the previous *scheduled* slot, not the previous actual
send). Measured: a capacity-1 bucket such as ``aiolimiter.AsyncLimiter(1, interval)`` loses every event-loop
wake-up delay for good (0.80 of a compressed window on a busy machine, against 0.98 for the grid), and a
leaky bucket sized to the window (``AsyncLimiter(190, 10)``) admits up to twice the limit into one rolling
window (its capacity at once, then its leak rate).
"""

from __future__ import annotations

import math

from cartloader.rate import Rate

#: The share of the window a budget leaves unused, for timing jitter and clock differences with HubSpot.
SAFETY_MARGIN = 0.985
#: ... but never fewer requests than this per window, however small the window.
MIN_RESERVE = 2.0
#: One request at the window's edge that HubSpot (counting arrivals) and a budget (counting slots) may place
#: on different sides: without this allowance a budget alone would give way to itself.
EDGE_NOISE = 1.0


def reserve(limit: Rate, margin: float = SAFETY_MARGIN) -> float:
    """Requests per window left unused. Taken from the whole window, not from one sender's share: two
    senders each leaving a margin of only their own share would together leave almost none."""
    return max(limit.requests * (1 - margin), MIN_RESERVE)


def spacing_s(limit: Rate, others: float, margin: float = SAFETY_MARGIN) -> float:
    """Seconds between two of our requests: the window over what is left of the limit after the reserve
    and what others draw (at least one request per window)."""
    ours = max(1.0, limit.requests - reserve(limit, margin) - others)
    return limit.window_s / ours


def next_slot(slot: float | None, now: float, interval: float) -> float:
    """When the slot after this one may be taken. ``slot`` is the time this request was scheduled for
    (``None``: the budget was idle, so the grid starts again from ``now``). Woken late, the grid is kept,
    catching up half an interval at most, so no rolling window ever holds more than one extra request."""
    if slot is None:
        return now + interval
    return max(slot + interval, now + interval / 2)


def measured_others(advertised_max: int, remaining: int, ours_in_window: int) -> float:
    """What other integrations of the app drew from the window HubSpot reported on (``Max - Remaining``
    less our own requests in that window, less the edge allowance)."""
    return max(0.0, advertised_max - remaining - ours_in_window - EDGE_NOISE)


def smoothed_others(previous: float, measured: float, elapsed_s: float, window_s: float) -> float:
    """The estimate of others' draw after a new measurement: rise at once, fall over about a window. Giving
    way matters more than taking back a slot, and two budgets that both jumped to what the other left would
    oscillate."""
    if measured >= previous:
        return measured
    return measured + (previous - measured) * math.exp(-elapsed_s / window_s)
