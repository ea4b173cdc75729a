"""The shared rate budget: one HubSpot limit spread over many processes and machines through Redis.

HubSpot's 10-second limit belongs to the app, not to a process: replicas of a service, or shards of
one export on several machines, each pacing itself as if the limit were its own draw 429s together.
``SharedBudget`` hands out request slots from one Redis key for all of them.

One Lua script is the whole protocol, so every step is atomic and timed by Redis's own ``TIME``
(host clocks may disagree; only durations cross the wire). Each call

- heartbeats the participant (a sorted set of ids scored by Redis time, pruned after a few seconds),
  so every participant knows how many share the budget;
- records what this participant learned since its last call: the limit HubSpot advertises
  (``X-HubSpot-RateLimit-Max`` / ``-Interval-Milliseconds``), the share other integrations of the
  app draw (``-Remaining`` minus the requests all participants made in that window), and a pause
  after a TEN_SECONDLY_ROLLING 429 (a pause-until key every participant honours);
- takes a request slot by the rule :class:`~cartloader.budget.local.RateBudget` keeps for one process
  (:mod:`cartloader.budget.pacing`), counting every participant's slots: under the burst pace, a slot that
  keeps every rolling window within what it holds for us, now or never (the answer then says how long to
  wait before asking again); under the even pace, the next evenly spaced slot (GCRA: one interval after the
  last slot handed out, never earlier than now), reserved ahead. Before HubSpot's first answer to any
  participant, a few requests at most.

Each process takes one slot at a time (a local lock), so even-paced reservations never run more than one round
of participants ahead and a pause reaches everybody within a round. Everything it knows of Redis (the connection,
the script's arguments and answer, leaving) is :class:`~cartloader.budget.redis_session.RedisSession`'s.

Redis trouble: unreachable when the budget connects -> ``ConfigError`` (the CLI exits 2). Lost
mid-run -> each participant falls back to a local ``RateBudget`` of 1/N of the limit (N: the
participants it last saw), warns once, and tries to rejoin every ``rejoin_after_s``. While some
participants have rejoined a restarted Redis and others are still on their own, those in Redis run
at the fraction of the limit that matches how many of the expected participants are back, so the
sum never exceeds the limit because Redis failed.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Hashable
from dataclasses import dataclass, replace
from types import TracebackType
from typing import Any, Self

import anyio

from cartloader.budget.local import RateBudget
from cartloader.budget.pacing import BEFORE_FIRST_ANSWER, SAFETY_MARGIN, guard_s, reserve
from cartloader.budget.places import HeldPlaces
from cartloader.budget.redis_session import REDIS_TIMEOUT_S, RedisSession, SlotAnswer, SlotRequest, redis_errors
from cartloader.budget.url import BudgetUrl
from cartloader.config import INITIAL_RATE, PACES
from cartloader.errors import ConfigError
from cartloader.models import RateLimitHeaders
from cartloader.rate import Rate

logger = logging.getLogger("cartloader")

#: How often a participant that lost Redis tries to rejoin.
REJOIN_AFTER_S = 1.0
#: Under the burst pace, a participant told to wait asks again after at most this share of the window (others
#: may have freed places, or HubSpot's first answer may have come to another participant).
POLL_SHARE = 0.02


@dataclass(frozen=True, slots=True)
class SharedBudgetStatistics:
    """A snapshot of a shared budget as this participant last saw it."""

    limit: Rate
    effective_per_s: float
    participants: int
    others_in_window: float
    paused_for_s: float
    fallback: bool
    daily_remaining: int | None
    #: ``"burst"`` or ``"even"``.
    pace: str = "burst"
    #: How many requests go at once into a window empty of the participants' (1 under the even pace).
    burst: int = 1


class SharedBudget:
    """A rate budget shared through Redis by every process that uses the same URL and key.

        async with SharedBudget.from_url("redis://redis.internal:6379/0?key=acme-app") as budget:
            summary = await bulk_create(records, token=..., budget=budget)

    ``bulk_create(..., budget="redis://...")`` and ``CartLoader(budget="redis://...")`` build, connect and
    close one for you. ``cap`` is a hard cap like ``rate=`` (lowered when HubSpot advertises less); ``pace`` is
    ``"burst"`` or ``"even"`` (every participant of one key should use the same).
    """

    __slots__ = (
        "_answer",
        "_answered",
        "_cap",
        "_clock",
        "_daily_remaining",
        "_expected",
        "_fallback",
        "_holds",
        "_last_slot",
        "_lock",
        "_margin",
        "_next_rejoin",
        "_not_before",
        "_observation",
        "_pace",
        "_paused_until",
        "_pending_pause",
        "_places",
        "_rejoin_after",
        "_seq",
        "_session",
        "before_first_answer",
        "url",
    )

    def __init__(
        self,
        url: BudgetUrl,
        *,
        cap: Rate | None = None,
        pace: str = "burst",
        margin: float = SAFETY_MARGIN,
        rejoin_after_s: float = REJOIN_AFTER_S,
        timeout_s: float = REDIS_TIMEOUT_S,
        before_first_answer: int = BEFORE_FIRST_ANSWER,
    ) -> None:
        if pace not in PACES:
            raise ConfigError(f"invalid pace {pace!r}: expected one of {', '.join(PACES)}")
        self.url = url
        self._cap = cap
        self._pace = pace
        #: Requests that may go before HubSpot's first answer to any participant (1 for a resume, as RateBudget).
        self.before_first_answer = before_first_answer
        self._answered = False
        self._seq = 0
        self._places = HeldPlaces()  # burst pace: this participant's requests, named by their slot numbers
        self._holds: list[tuple[Hashable, int]] = []  # (slot number, microseconds later) not yet sent to Redis
        self._margin = margin
        self._rejoin_after = rejoin_after_s
        self._clock = time.monotonic
        self._session = RedisSession(url, timeout_s=timeout_s, clock=self._clock)
        self._lock = anyio.Lock()
        limit = cap or INITIAL_RATE
        self._answer = SlotAnswer(0.0, limit, 1, limit.interval_s, 0.0, 0.0)
        self._observation: tuple[RateLimitHeaders, float] | None = None
        self._pending_pause = 0.0  # monotonic time a pause asked for here should last until
        self._paused_until = 0.0
        self._daily_remaining: int | None = None
        self._fallback: RateBudget | None = None
        self._next_rejoin = 0.0
        self._expected = 0
        self._not_before = 0.0
        self._last_slot = -1e9

    @classmethod
    def from_url(cls, url: str, *, rate: str | Rate | None = None, **options: Any) -> SharedBudget:
        """A budget for ``redis://HOST:PORT/DB?key=NAME`` (or ``rediss://``); ``rate`` is a hard cap; ``options``
        are the constructor's (``pace``, ...)."""
        cap = Rate.parse(rate) if isinstance(rate, str) else rate
        return cls(BudgetUrl.parse(url), cap=cap, **options)

    # -- life cycle -------------------------------------------------------------------------------

    @property
    def connected(self) -> bool:
        """Whether ``connect()`` succeeded (the budget may be on its local fallback since)."""
        return self._session.connected

    async def connect(self) -> None:
        """Reach Redis and join the budget; ``ConfigError`` (one line, no password) if Redis is unreachable.

        Does nothing when already connected.
        """
        if self._session.connected:
            return
        self._session.open()
        try:
            self._adopt(await self._call(take=False))
        except redis_errors() as exc:
            raise await self._session.unreachable(exc) from None

    async def aclose(self) -> None:
        """Leave the budget (so the others stop counting this participant) and close the connection."""
        # Our last requests' places stay held as long as they must: the holds not yet sent go first.
        last_call = (lambda: self._call(take=False)) if self._holds else None
        await self._session.close(leave=self._fallback is None, last_call=last_call)

    async def __aenter__(self) -> Self:
        await self.connect()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()

    # -- the Budget protocol ----------------------------------------------------------------------

    @property
    def limit(self) -> Rate:
        """The window in force for all participants: the cap, lowered to what HubSpot advertises."""
        return self._answer.limit

    @property
    def daily_remaining(self) -> int | None:
        """The last ``X-HubSpot-RateLimit-Daily-Remaining`` this participant saw."""
        return self._daily_remaining

    @property
    def burst(self) -> int:
        """How many requests go at once into a window empty of the participants' (1 under the even pace, or alone
        after losing Redis)."""
        return 1 if self._fallback is not None or self._pace == "even" else self._answer.burst

    @property
    def participants(self) -> int:
        """How many participants shared the budget when this one last heard from Redis."""
        return self._answer.participants

    async def acquire(self) -> None:
        """Wait for this participant's next slot in the shared budget (or in its fallback)."""
        if not self._session.connected:
            await self.connect()
        async with self._lock:
            while True:
                if self._fallback is not None and self._clock() >= self._next_rejoin:
                    await self._try_rejoin()
                fallback = self._fallback
                if fallback is not None:
                    await self._sleep_until(self._not_before)
                    await fallback.acquire()
                    self._last_slot = self._clock()
                    return
                asked_pause = self._pending_pause
                try:
                    answer = await self._call(take=True)
                except redis_errors() as exc:
                    self._fall_back(exc)
                    continue
                self._adopt(answer)
                if not answer.granted:
                    await anyio.sleep(min(answer.wait_s, max(0.001, POLL_SHARE * answer.limit.window_s)))
                    continue
                await anyio.sleep(answer.wait_s)
                if self._pending_pause == asked_pause:
                    self._last_slot = self._clock()
                    if self._pace == "burst":
                        places = self._places
                        places.take(self._last_slot, self._seq)
                        if places.sent[0] < self._last_slot - 4 * answer.limit.window_s:
                            places.forget_before(self._last_slot - 2 * answer.limit.window_s)
                    return
                # A 429 arrived while this slot was waiting: publish the pause before sending.

    def observe(self, headers: RateLimitHeaders, sent_at: float) -> None:
        """Learn from an answer's rate-limit headers; shared with the others on the next slot request."""
        self._answered = True
        if self._pace == "burst":
            self._hold_until_arrived(sent_at)
        if headers.daily_remaining is not None:
            self._daily_remaining = headers.daily_remaining
        if headers.max is None or headers.max <= 0:
            return
        previous = self._observation
        if previous is None or sent_at >= previous[1]:
            self._observation = (headers, sent_at)
        if self._fallback is not None:
            window_s = headers.interval_ms / 1000 if headers.interval_ms else self.limit.window_s
            advertised = Rate(headers.max, window_s)
            if advertised.per_second < self.limit.per_second:
                self._answer = replace(self._answer, limit=advertised)
                self._fallback = self._local_budget()

    def _hold_until_arrived(self, sent_at: float) -> None:
        """RateBudget's rule for this participant's request sent at ``sent_at``: its place (and any other one a
        faster answer moves) is held in Redis from the latest it can have reached HubSpot, moved on the next
        call."""
        _, moves = self._places.answered(sent_at, self._clock())
        self._holds += [(number, round(later * 1e6)) for number, later in moves]

    def pause(self, seconds: float) -> None:
        """Hold every participant for ``seconds`` (after a TEN_SECONDLY_ROLLING 429 seen here)."""
        until = self._clock() + seconds
        self._pending_pause = max(self._pending_pause, until)
        self._paused_until = max(self._paused_until, until)
        if self._fallback is not None:
            self._fallback.pause(seconds)

    # -- Redis ------------------------------------------------------------------------------------

    async def _call(self, *, take: bool) -> SlotAnswer:
        if not self._session.connected:
            raise ConfigError("the shared budget is closed")
        now = self._clock()
        observation, self._observation = self._observation, None
        self._seq += 1
        holds, self._holds = self._holds, []
        request = SlotRequest(
            take=take,
            now=now,
            cap=self._cap,
            margin=self._margin,
            observation=observation,
            pause_until=self._pending_pause,
            expected=self._expected,
            not_before=self._not_before,
            window_s=self.limit.window_s,
            burst_pace=self._pace == "burst",
            answered=self._answered,
            seq=self._seq,
            holds=holds,
            before_first_answer=self.before_first_answer,
        )
        try:
            return await self._session.call(request)
        except BaseException:
            if observation is not None and self._observation is None:
                self._observation = observation  # not delivered: keep it for the next try
            self._holds[:0] = holds
            raise

    def _adopt(self, answer: SlotAnswer) -> None:
        logger.debug(
            "shared budget: wait %.1f ms, every %.1f ms, others %.1f, %d participants",
            answer.wait_s * 1000,
            answer.interval_s * 1000,
            answer.others,
            answer.participants,
        )
        self._answer = answer
        self._expected = 0
        self._not_before = 0.0
        if answer.paused_s > 0:
            self._paused_until = max(self._paused_until, self._clock() + answer.paused_s)

    # -- losing and regaining Redis ---------------------------------------------------------------

    def _local_budget(self) -> RateBudget:
        """A per-process budget of 1/N of what the shared one allowed (N: participants last seen)."""
        limit, n = self.limit, self._answer.participants
        reserved = reserve(limit, self._margin)
        # Each of the N independent streams may land one request more in a window than its average:
        # each keeps one request of its share as its own reserve.
        share = max(1.0, (limit.requests - reserved - self._answer.others) / n - 1)  # requests per window
        # A fine-grained window so that RateBudget's own reserve of 2 requests costs only 0.2 %.
        budget = RateBudget(
            Rate(1000, 1000 * limit.window_s / share), pace="even", margin=1.0, before_first_answer=None
        )
        remaining = self._paused_until - self._clock()
        if remaining > 0:
            budget.pause(remaining)
        return budget

    def _fall_back(self, exc: BaseException) -> None:
        self._fallback = self._local_budget()
        n = self._answer.participants
        if self._pace == "even":
            # Until the others notice, slots were handed out round-robin: keep our place in the round.
            self._not_before = self._last_slot + n * self._answer.interval_s
        else:
            # A burst may have filled the window, and who took how much of it is in Redis: start once it is over.
            window = self.limit.window_s
            self._not_before = self._clock() + window + guard_s(window, self._margin)
        self._next_rejoin = self._clock() + self._rejoin_after
        reason = self.url.scrub(str(exc) or type(exc).__name__)
        logger.warning(
            "shared budget: lost Redis at %s (%s); going on alone at 1/%d of %s until it returns",
            self.url.masked,
            reason,
            n,
            self.limit,
        )

    async def _try_rejoin(self) -> None:
        fallback = self._fallback
        assert fallback is not None
        self._expected = self._answer.participants
        # Our own requests keep their spacing across the switch.
        self._not_before = max(self._not_before, self._last_slot + 1 / fallback.statistics().effective_per_s)
        try:
            answer = await self._call(take=False)
        except redis_errors():
            self._next_rejoin = self._clock() + self._rejoin_after
            return
        expected, not_before = self._expected, self._not_before
        self._adopt(answer)
        self._expected, self._not_before = expected, not_before  # still needed for the first slot
        self._fallback = None
        logger.warning(
            "shared budget: Redis at %s is back; rejoined (%d participants)", self.url.masked, answer.participants
        )

    async def _sleep_until(self, at: float) -> None:
        wait = at - self._clock()
        if wait > 0:
            await anyio.sleep(wait)

    # -- introspection ----------------------------------------------------------------------------

    def statistics(self) -> SharedBudgetStatistics:
        """A snapshot of the budget as this participant last saw it."""
        answer = self._answer
        fallback = self._fallback
        if fallback is not None:
            effective = fallback.statistics().effective_per_s
        elif self._pace == "burst":
            effective = answer.burst / (answer.limit.window_s + guard_s(answer.limit.window_s, self._margin))
        else:
            effective = 1 / answer.interval_s if answer.interval_s > 0 else math.inf
        return SharedBudgetStatistics(
            limit=answer.limit,
            effective_per_s=effective,
            participants=answer.participants,
            others_in_window=round(answer.others, 1),
            paused_for_s=max(0.0, self._paused_until - self._clock()),
            fallback=fallback is not None,
            daily_remaining=self._daily_remaining,
            pace=self._pace,
            burst=self.burst,
        )

    def __repr__(self) -> str:
        state = "on its own (Redis lost)" if self._fallback is not None else f"{self.participants} participants"
        return f"SharedBudget({self.url.masked!r}, limit={self.limit}, {state})"
