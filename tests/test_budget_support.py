"""A deterministic stage for rate budgets: the event loop's clock moved by hand (as aiolimiter's tests do), a
model of HubSpot's rolling window counting arrivals as HubSpot does, workers that take slots from a budget and
answer them after a latency, and another integration drawing from the same window."""

from __future__ import annotations

import asyncio
import itertools
import random
from bisect import bisect_right, insort
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from unittest import mock

import anyio

from cartloader.budget.base import Budget
from cartloader.models import RateLimitHeaders

OURS = "ours"
OTHER = "other"


class VirtualClock:
    """The running event loop's clock, standing still until :meth:`run_until` moves it: sleeps and timeouts
    end exactly when the clock passes their deadline, whatever the machine's load."""

    def __init__(self) -> None:
        self.now = 0.0
        self._reads = 0

    def __call__(self) -> float:
        # Like a real clock, two readings are never equal: code takes time to run (a nanosecond per reading
        # here), so slots taken one after the other are ordered in time as they are in the budget.
        self._reads += 1
        return self.now + self._reads * 1e-9

    async def run_until(self, end: float, step: float) -> None:
        """Let every task run until it blocks, move the clock by ``step``, and again, until ``end``."""
        while self.now < end:
            await settle()
            self.now = round(self.now + step, 9)
            self._reads = 0
        await settle()


async def settle() -> None:
    """Return once every other task waits for something (anyio's ``wait_all_tasks_blocked`` polls with a
    sleep of its own, which a clock standing still never ends)."""
    this = asyncio.current_task()
    while True:
        await asyncio.sleep(0)
        for task in asyncio.all_tasks():
            waiter = task._fut_waiter  # type: ignore[attr-defined]
            if task is not this and (waiter is None or waiter.done()):
                break
        else:
            return


@contextmanager
def virtual_time() -> Iterator[VirtualClock]:
    """Patch the running loop's ``time`` (which asyncio's timers and anyio's deadlines read) with a clock
    moved by hand."""
    clock = VirtualClock()
    with mock.patch.object(asyncio.get_running_loop(), "time", clock):
        yield clock


@dataclass
class HubSpotWindow:
    """HubSpot's rolling window as it counts: every arrival in the trailing ``window_s`` (refused ones too),
    a 429 when ``limit`` are already in it, and the headers it answers with."""

    limit: int
    window_s: float
    arrivals: list[tuple[float, str]] = field(default_factory=list)  # sorted by time
    refused: int = 0

    def arrive(self, at: float, who: str) -> RateLimitHeaders:
        """Count one request arriving at ``at`` and answer with the rate-limit headers."""
        in_window = self.count(at, self.window_s)
        if in_window >= self.limit:
            self.refused += 1
        insort(self.arrivals, (at, who))
        return RateLimitHeaders(
            max=self.limit,
            remaining=max(0, self.limit - in_window - 1),
            interval_ms=round(self.window_s * 1000),
            daily=None,
            daily_remaining=None,
        )

    def count(self, at: float, span: float, who: str | None = None) -> int:
        """Arrivals (of ``who``, or everybody's) in ``(at - span, at]``."""
        times = [t for t, w in self.arrivals if who is None or w == who]
        return bisect_right(times, at) - bisect_right(times, at - span)

    def peak(self, span: float, who: str | None = None) -> int:
        """The most arrivals (of ``who``, or everybody's) any trailing ``span`` ever held."""
        times = [t for t, w in self.arrivals if who is None or w == who]
        return max((bisect_right(times, t) - bisect_right(times, t - span) for t in times), default=0)


@dataclass
class Workers:
    """``count`` workers sending through ``budget``: each takes a slot, its request reaches HubSpot ``lag()``
    later and is answered ``latency_s`` after it arrived, and the answer's headers go back to the budget."""

    budget: Budget
    hubspot: HubSpotWindow
    clock: VirtualClock
    latency_s: float
    lag: Callable[[], float] = lambda: 0.0
    slots: list[float] = field(default_factory=list)
    answered_at: list[float] = field(default_factory=list)
    requests: int | None = None

    async def run(self, count: int) -> None:
        async with anyio.create_task_group() as group:
            for _ in range(count):
                group.start_soon(self._work)

    async def _work(self) -> None:
        budget = self.budget
        while self.requests is None or len(self.slots) < self.requests:
            await budget.acquire()
            sent = self.clock()
            self.slots.append(sent)
            await anyio.sleep(self.lag())
            headers = self.hubspot.arrive(self.clock(), OURS)
            await anyio.sleep(self.latency_s)
            self.answered_at.append(self.clock())
            budget.observe(headers, sent)


async def other_integration(hubspot: HubSpotWindow, per_window: float, seed: int = 0) -> None:
    """Another integration of the app: ``per_window`` requests per window, evenly spaced (on a fixed grid, so
    that every window holds ``per_window`` of them, give or take one) from a random phase."""
    gap = hubspot.window_s / per_window
    clock = asyncio.get_running_loop().time
    start = clock() + random.Random(seed).uniform(0, gap)
    for n in itertools.count():
        await anyio.sleep(max(0.0, start + n * gap - clock()))
        hubspot.arrive(clock(), OTHER)
