"""One participant of the shared budget, rule by rule, against a real Redis server (one for the module, a key per
test): what it shows before joining, what it tells Redis (observations, held places, pauses), losing Redis (the
1/N fallback, when it starts, when it tries to rejoin) and rejoining (its own spacing kept across the switch).

Redis is lost for real and fast: it closes the participants' connections (``CLIENT KILL``); to stay away it asks for
a password they do not have; a restart also loses everything it held (``FLUSHALL``). Windows are short, so no test
waits more than a few tenths of a second."""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Iterator

import anyio
import pytest
import redis

from cartloader.budget.pacing import BEFORE_FIRST_ANSWER, burst_capacity, guard_s
from cartloader.budget.shared import SharedBudget, SharedBudgetStatistics
from cartloader.config import INITIAL_RATE
from cartloader.errors import ConfigError
from cartloader.models import RateLimitHeaders
from cartloader.rate import Rate
from tests.test_shared_budget_support import RedisServer, free_port, require_redis_server

pytestmark = pytest.mark.anyio


class Redis:
    """The module's server, an admin connection to it, and a budget URL per test."""

    def __init__(self, server: RedisServer) -> None:
        self.server = server
        self.admin = redis.Redis(port=server.port)
        self.key = "none"

    def url(self) -> str:
        return self.server.url(self.key)

    def lose(self, *, stay_away: bool = False, restart: bool = False) -> None:
        """Close every participant's connection; ``stay_away``: refuse them until :meth:`back`; ``restart``: lose
        every key."""
        if stay_away:
            self.admin.config_set("requirepass", "stay-away")
        if restart:
            self.admin.flushall()
        self.admin.client_kill_filter(_type="normal", skipme=True)

    def back(self) -> None:
        self.admin.config_set("requirepass", "")

    def score(self, budget: SharedBudget, key: int, seq: int) -> float:
        """The score of one slot of ``budget`` (named by its call number) in its key number ``key`` (4: sent,
        6: held)."""
        session = budget._session
        score = self.admin.zscore(session.keys[key], f"{session.id}:{seq}")
        assert score is not None
        return float(score)


@pytest.fixture(scope="module")
def module_server() -> Iterator[Redis]:
    require_redis_server()
    server = RedisServer(free_port())
    server.start()
    shared = Redis(server)
    try:
        yield shared
    finally:
        shared.admin.close()
        server.kill()


@pytest.fixture
def server(module_server: Redis, request: pytest.FixtureRequest) -> Iterator[Redis]:
    module_server.key = request.node.name
    try:
        yield module_server
    finally:
        module_server.back()


def headers(
    max: int | None = None, remaining: int | None = None, interval_ms: int | None = None, daily: int | None = None
) -> RateLimitHeaders:
    return RateLimitHeaders(max=max, remaining=remaining, interval_ms=interval_ms, daily=None, daily_remaining=daily)


class Clock:
    """A participant's own clock, moved by hand (Redis keeps its own time)."""

    def __init__(self, budget: SharedBudget, now: float = 100.0) -> None:
        self.now = now
        budget._clock = self

    def __call__(self) -> float:
        return self.now


# -- before joining, joining, leaving -------------------------------------------------------------


def test_an_unknown_pace_is_a_config_error_naming_both_paces() -> None:
    with pytest.raises(ConfigError, match=r"^invalid pace 'steady': expected one of burst, even$"):
        SharedBudget.from_url("redis://127.0.0.1:1/0?key=k", pace="steady")


def test_before_joining_it_shows_its_cap_for_one_participant_or_hubspots_lowest_tier_without_one() -> None:
    even = SharedBudget.from_url("redis://127.0.0.1:1/0?key=k", rate="20/2s", pace="even")
    assert not even.connected
    assert even.before_first_answer == BEFORE_FIRST_ANSWER
    assert even.statistics() == SharedBudgetStatistics(
        limit=Rate(20, 2.0),
        effective_per_s=10.0,
        participants=1,
        others_in_window=0.0,
        paused_for_s=0.0,
        fallback=False,
        daily_remaining=None,
        pace="even",
        burst=1,
    )
    assert repr(even) == "SharedBudget('redis://127.0.0.1:1/0?key=k', limit=20/2s, 1 participants)"
    burst = SharedBudget.from_url("redis://127.0.0.1:1/0?key=k", rate=Rate(20, 2.0), margin=0.5)
    assert burst.limit == Rate(20, 2.0)
    assert burst.statistics().effective_per_s == pytest.approx(1 / (2.0 + 1.0))
    assert SharedBudget.from_url("redis://127.0.0.1:1/0?key=k").limit == INITIAL_RATE


async def test_connecting_to_no_redis_is_a_config_error_and_leaves_it_unconnected() -> None:
    port = free_port()
    budget = SharedBudget.from_url(f"redis://127.0.0.1:{port}/0?key=k")
    with pytest.raises(ConfigError) as refused:
        await budget.connect()
    message = str(refused.value)
    assert message.startswith(f"cannot reach Redis for the shared budget at redis://127.0.0.1:{port}/0?key=k: ")
    assert f"connecting to 127.0.0.1:{port}" in message  # Redis's own error, not a placeholder
    assert not budget.connected


async def test_acquiring_joins_first_connecting_twice_joins_once_and_closing_leaves(server: Redis) -> None:
    budget = SharedBudget.from_url(server.url(), rate="100/1s")
    other = SharedBudget.from_url(server.url(), rate="100/1s")
    await budget.acquire()
    assert budget.connected
    await other.connect()
    await other.connect()
    assert other._seq == 1  # one call: the second connect did nothing
    assert other.participants == 2
    assert repr(other) == f"SharedBudget({other.url.masked!r}, limit=100/1s, 2 participants)"
    await budget.aclose()
    assert not budget.connected
    await other.acquire()
    assert other.participants == 1  # the one that left no longer counts
    await other.aclose()


# -- what it tells Redis --------------------------------------------------------------------------


async def test_hubspots_first_answer_here_lifts_the_few_requests_allowed_before_it(server: Redis) -> None:
    budget = SharedBudget.from_url(server.url(), rate="100/1s", before_first_answer=3)
    try:
        await budget.acquire()
        assert budget.burst == 3
        budget.observe(headers(), 0.0)  # an answer without rate-limit headers is still HubSpot's first answer
        await budget.acquire()
        assert budget.burst == budget.statistics().burst == burst_capacity(Rate(100, 1.0), 0.0)
    finally:
        await budget.aclose()


async def test_the_latest_limit_seen_reaches_redis_and_older_or_empty_ones_never_replace_it(server: Redis) -> None:
    budget = SharedBudget.from_url(server.url(), rate="100/1s", pace="even")
    try:
        await budget.connect()
        budget.observe(headers(max=60, remaining=59, interval_ms=2000), 5.0)
        budget.observe(headers(max=40, remaining=39, interval_ms=2000, daily=1234), 5.0)  # as late: replaces it
        budget.observe(headers(max=30, remaining=29, interval_ms=2000), 4.0)  # sent earlier: dropped
        budget.observe(headers(), 6.0)  # no limit in it: not an observation
        budget.observe(headers(max=0, remaining=0, interval_ms=2000), 7.0)  # no limit either
        await budget.acquire()
        assert budget.limit == Rate(40, 2.0)
        assert budget.daily_remaining == 1234
        assert budget.statistics().daily_remaining == 1234
    finally:
        await budget.aclose()


async def test_a_slow_answer_moves_its_held_place_in_redis_by_its_latency_above_the_fastest(server: Redis) -> None:
    budget = SharedBudget.from_url(server.url(), rate="100/1s")
    clock = Clock(budget)
    try:
        await budget.connect()  # call 1
        await budget.acquire()  # call 2, at 100.0
        clock.now = 100.01
        await budget.acquire()  # call 3
        clock.now = 100.02
        await budget.acquire()  # call 4
        clock.now = 100.1
        budget.observe(headers(), 100.0)  # the fastest answer: 0.1 s
        clock.now = 100.42
        budget.observe(headers(), 100.02)  # 0.4 s: it reached HubSpot 0.3 s after it went, at the latest
        clock.now = 100.81
        budget.observe(headers(), 100.01)  # 0.8 s: 0.7 s after it went
        await budget.acquire()  # call 5 sends both moves
        assert server.score(budget, 6, 2) == server.score(budget, 4, 2)
        assert server.score(budget, 6, 3) == server.score(budget, 4, 3) + 700_000
        assert server.score(budget, 6, 4) == server.score(budget, 4, 4) + 300_000
    finally:
        await budget.aclose()


async def test_the_even_pace_holds_no_place_and_keeps_no_slot_of_its_own(server: Redis) -> None:
    budget = SharedBudget.from_url(server.url(), rate="100/1s", pace="even")
    clock = Clock(budget)
    try:
        await budget.acquire()  # call 2
        clock.now = 100.01
        await budget.acquire()  # call 3
        clock.now = 100.1
        budget.observe(headers(), 100.0)
        clock.now = 100.61
        budget.observe(headers(), 100.01)
        await budget.acquire()
        assert server.score(budget, 6, 3) == server.score(budget, 4, 3)
        assert budget._places.sent == []
    finally:
        await budget.aclose()


async def test_its_own_slots_are_forgotten_two_windows_back_once_the_oldest_is_four_windows_old(server: Redis) -> None:
    budget = SharedBudget.from_url(server.url(), rate="100/2s")
    clock = Clock(budget)
    try:
        for at in (100.0, 103.0, 105.0, 107.9, 108.0):
            clock.now = at
            await budget.acquire()
        assert budget._places.sent == [100.0, 103.0, 105.0, 107.9, 108.0]  # the oldest is not over 4 windows old
        clock.now = 108.4
        await budget.acquire()
        assert budget._places.sent == [105.0, 107.9, 108.0, 108.4]
    finally:
        await budget.aclose()


async def test_closing_sends_the_held_places_not_yet_sent_then_leaves(server: Redis) -> None:
    budget = SharedBudget.from_url(server.url(), rate="100/1s")
    clock = Clock(budget)
    await budget.acquire()  # call 2
    clock.now = 100.01
    await budget.acquire()  # call 3
    budget.observe(headers(), 100.0)  # at once: the fastest
    clock.now = 100.5
    budget.observe(headers(), 100.01)
    await budget.aclose()
    assert server.score(budget, 6, 3) == server.score(budget, 4, 3) + 480_000
    assert server.admin.zscore(budget._session.keys[3], budget._session.id) is None
    assert server.admin.zcard(budget._session.keys[4]) == 2  # its last call took no slot
    even = SharedBudget.from_url(server.url(), rate="100/1s", pace="even")
    await even.acquire()
    calls = even._seq
    await even.aclose()
    assert even._seq == calls  # nothing held: no last call


async def test_while_a_participant_waits_for_a_free_place_it_asks_again_every_fiftieth_of_the_window(
    server: Redis,
) -> None:
    budget = SharedBudget.from_url(server.url(), rate="100/200ms", before_first_answer=1)
    try:
        await budget.acquire()
        calls, started = budget._seq, time.monotonic()
        await budget.acquire()  # the next place frees a window and its guard later: asked for every 4 ms
        elapsed, asked = time.monotonic() - started, budget._seq - calls
        assert elapsed >= 0.2
        assert 8 <= asked <= elapsed / 0.004 + 2
    finally:
        await budget.aclose()


async def test_a_pause_asked_for_here_reaches_another_participant_with_its_next_answer(server: Redis) -> None:
    second = SharedBudget.from_url(server.url(), rate="100/1s")
    async with SharedBudget.from_url(server.url(), rate="100/1s") as first:
        await first.acquire()
        first.pause(0.3)
        assert first.statistics().paused_for_s == pytest.approx(0.3, abs=0.05)
        try:
            async with anyio.create_task_group() as group:
                group.start_soon(first.acquire)  # publishes the pause, then waits for it
                await anyio.sleep(0.02)
                await second.connect()
                assert 0.05 < second.statistics().paused_for_s <= 0.3
        finally:
            await second.aclose()


async def test_a_pause_arriving_while_a_slot_waits_is_published_and_waited_for_before_sending(server: Redis) -> None:
    async with SharedBudget.from_url(server.url(), rate="20/1s", pace="even") as budget:
        await budget.acquire()
        paused_at = 0.0

        async def pause_soon() -> None:
            nonlocal paused_at
            await anyio.sleep(0.01)
            paused_at = time.monotonic()
            budget.pause(0.15)

        async with anyio.create_task_group() as group:
            group.start_soon(pause_soon)
            await budget.acquire()  # its slot is an interval (55 ms) away when the pause comes
        assert time.monotonic() - paused_at >= 0.15


# -- losing Redis -----------------------------------------------------------------------------------


async def test_losing_redis_under_the_burst_pace_goes_on_alone_after_a_window_and_its_guard_at_its_share(
    server: Redis, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="cartloader")
    budget = SharedBudget.from_url(server.url(), rate="100/200ms", margin=0.5, rejoin_after_s=60)
    try:
        await budget.acquire()
        assert budget.burst > 1
        server.lose(stay_away=True)
        lost_at = time.monotonic()
        await budget.acquire()
        # A burst may have filled the window: alone only once it and its guard are over.
        assert time.monotonic() - lost_at >= 0.2 + guard_s(0.2, 0.5)
        for _ in range(3):
            await budget.acquire()
        stats = budget.statistics()
        assert stats.fallback
        assert stats.burst == budget.burst == 1
        # The limit less the reserve (half of it, at this margin), less one request of its own: 49 per 200 ms, in a
        # window of a thousand requests (whose own reserve of 2 costs 0.2 %).
        assert stats.effective_per_s == pytest.approx(998 / (1000 * 0.2 / 49), rel=1e-9)
        started = time.monotonic()
        for _ in range(12):  # evenly spaced, however many before any answer
            await budget.acquire()
        assert 11 / stats.effective_per_s <= time.monotonic() - started < 1
        assert repr(budget) == f"SharedBudget({budget.url.masked!r}, limit=100/200ms, on its own (Redis lost))"
        lost = [r.getMessage() for r in caplog.records if "lost Redis" in r.getMessage()]
        assert lost == [
            f"shared budget: lost Redis at {budget.url.masked} (Connection closed by server.); going on alone at 1/1"
            " of 100/200ms until it returns"
        ]
    finally:
        await budget.aclose()


async def test_losing_redis_under_the_even_pace_keeps_its_place_in_the_round_at_its_share_of_what_is_left(
    server: Redis,
) -> None:
    budget = SharedBudget.from_url(server.url(), rate="100/1s", pace="even", rejoin_after_s=60)
    other = SharedBudget.from_url(server.url(), rate="100/1s", pace="even")
    try:
        await other.connect()
        await budget.acquire()
        # Other integrations drew 20 of the window (HubSpot answered a request sent long before any of ours).
        budget.observe(headers(max=100, remaining=79, interval_ms=1000), time.monotonic() - 10)
        await budget.acquire()
        assert budget.statistics().others_in_window == 20
        interval = 1 / (100 - 2 - 20)
        assert budget.statistics().effective_per_s == pytest.approx(1 / interval, rel=0.01)
        last = time.monotonic()
        server.lose(stay_away=True)
        await budget.acquire()
        # Until the others notice, the slots went round-robin: its next one is the participants' round later (not a
        # window and its guard, as under the burst pace).
        assert 0.95 * 2 * interval <= time.monotonic() - last < 0.5
        stats = budget.statistics()
        assert stats.fallback
        assert stats.participants == 2
        assert stats.others_in_window == 20
        assert stats.effective_per_s == pytest.approx((100 - 2 - 20) / 2 - 1, rel=0.01)
    finally:
        await budget.aclose()
        await other.aclose()


async def test_an_advertised_limit_below_the_shared_one_lowers_the_fallback_at_once(server: Redis) -> None:
    budget = SharedBudget.from_url(server.url(), rate="100/1s", pace="even", rejoin_after_s=60)
    other = SharedBudget.from_url(server.url(), rate="100/1s", pace="even")
    try:
        await other.connect()
        await budget.acquire()
        budget.observe(headers(max=100, remaining=79, interval_ms=1000), time.monotonic() - 10)
        await budget.acquire()
        server.lose(stay_away=True)
        await budget.acquire()
        assert budget.statistics().effective_per_s == pytest.approx(38, rel=0.01)
        budget.observe(headers(max=100, remaining=50, interval_ms=1000), time.monotonic())  # not below: kept
        assert budget.limit == Rate(100, 1.0)
        assert budget.statistics().effective_per_s == pytest.approx(38, rel=0.01)
        budget.observe(headers(max=200, remaining=50, interval_ms=4000), time.monotonic())
        stats = budget.statistics()
        assert stats.limit == Rate(200, 4.0)
        assert (stats.participants, stats.others_in_window) == (2, 20)
        assert stats.effective_per_s == pytest.approx(((200 - 3 - 20) / 2 - 1) / 4, rel=0.01)
        budget.observe(headers(max=30, remaining=20), time.monotonic())  # no interval: the window in force
        assert budget.limit == Rate(30, 4.0)
        budget.observe(headers(max=0, remaining=0, interval_ms=1000), time.monotonic())  # no limit: nothing
        assert budget.limit == Rate(30, 4.0)
        assert budget.statistics().effective_per_s == pytest.approx(((30 - 2 - 20) / 2 - 1) / 4, rel=0.01)
        budget.observe(headers(max=60, remaining=50, interval_ms=8000), time.monotonic())  # as fast: kept
        assert budget.limit == Rate(30, 4.0)
        budget.observe(headers(max=1, remaining=0, interval_ms=4000), time.monotonic())
        assert budget.limit == Rate(1, 4.0)
        assert budget.statistics().effective_per_s == pytest.approx(998 / (1000 * 4.0), rel=1e-9)  # one a window
    finally:
        await budget.aclose()
        await other.aclose()


async def test_a_pause_holds_the_fallback_whether_asked_for_before_or_after_losing_redis(server: Redis) -> None:
    budget = SharedBudget.from_url(server.url(), rate="100/1s", pace="even", rejoin_after_s=60)
    try:
        await budget.acquire()
        paused_at = time.monotonic()
        budget.pause(0.1)
        server.lose(stay_away=True)
        await budget.acquire()  # the pause could not be published: the fallback keeps it
        assert time.monotonic() - paused_at >= 0.1
        assert budget.statistics().fallback
        paused_at = time.monotonic()
        budget.pause(0.1)
        assert budget.statistics().paused_for_s == pytest.approx(0.1, abs=0.02)
        await budget.acquire()
        assert time.monotonic() - paused_at >= 0.1
    finally:
        await budget.aclose()


async def test_no_rejoin_is_tried_before_rejoin_after_and_a_failed_try_waits_that_long_again(server: Redis) -> None:
    patient = SharedBudget.from_url(server.url(), rate="100/1s", pace="even", rejoin_after_s=60)
    eager = SharedBudget.from_url(server.url(), rate="100/1s", pace="even", rejoin_after_s=0)
    try:
        await patient.acquire()
        await eager.acquire()
        server.lose(stay_away=True)
        await patient.acquire()
        await eager.acquire()
        assert patient.statistics().fallback and eager.statistics().fallback
        tried = eager._seq
        eager._rejoin_after = 60.0
        await eager.acquire()  # tries at once (rejoin_after was 0), is refused: the next try is a minute away
        assert eager._seq == tried + 1
        server.back()
        calls = patient._seq
        for _ in range(3):
            await patient.acquire()
            await eager.acquire()
        assert (patient._seq, eager._seq) == (calls, tried + 1)
        assert patient.statistics().fallback and eager.statistics().fallback
        await patient.aclose()  # alone, it does not leave: its heartbeat expires on its own
        assert server.admin.zscore(patient._session.keys[3], patient._session.id) is not None
    finally:
        await patient.aclose()
        await eager.aclose()


# -- rejoining ------------------------------------------------------------------------------------


async def test_rejoining_a_restarted_redis_keeps_its_own_spacing_across_the_switch(
    server: Redis, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="cartloader")
    budget = SharedBudget.from_url(server.url(), rate="5/300ms", pace="even", rejoin_after_s=0)
    try:
        await budget.acquire()
        server.lose(stay_away=True, restart=True)
        await budget.acquire()  # falls back
        await budget.acquire()  # tries to rejoin, refused: its next slot alone
        alone = budget.statistics().effective_per_s
        assert alone == pytest.approx((5 - 2 - 1) / 0.3, rel=0.01)  # one slot every 150 ms
        last = time.monotonic()
        server.back()
        await budget.acquire()  # rejoins, then takes its first slot in Redis: no sooner than its next one alone
        assert not budget.statistics().fallback
        assert 0.95 / alone <= time.monotonic() - last < 2 / alone
        assert server.admin.zcard(budget._session.keys[4]) == 1  # rejoining took no slot: this one only
        rejoined = [r.getMessage() for r in caplog.records if "is back" in r.getMessage()]
        assert rejoined == [f"shared budget: Redis at {budget.url.masked} is back; rejoined (1 participants)"]
    finally:
        await budget.aclose()


async def test_what_a_failed_call_carried_is_sent_again_once_redis_is_back(server: Redis) -> None:
    budget = SharedBudget.from_url(server.url(), rate="100/100ms", rejoin_after_s=0.05)
    clock = Clock(budget)
    try:
        await budget.acquire()  # call 2
        clock.now = 100.01
        await budget.acquire()  # call 3
        budget.observe(headers(max=40, remaining=39, interval_ms=200), 100.0)  # at once: the fastest
        clock.now = 100.5
        budget.observe(headers(), 100.01)  # call 3's place moves 0.48 s later
        server.lose()  # Redis keeps its keys, but the call carrying both fails
        await budget.acquire()
        assert budget.statistics().fallback
        assert server.score(budget, 6, 3) == server.score(budget, 4, 3)
        clock.now = 100.5 + 0.05  # rejoin_after later, to the tick
        await budget.acquire()  # rejoins: both go with this call
        assert not budget.statistics().fallback
        assert budget.limit == Rate(40, 0.2)
        assert server.score(budget, 6, 3) == server.score(budget, 4, 3) + 480_000
    finally:
        await budget.aclose()


async def test_losing_redis_to_a_timeout_names_it_and_sends_the_latest_answer_seen_meanwhile_once_back(
    server: Redis, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="cartloader")
    budget = SharedBudget.from_url(server.url(), rate="100/1s", pace="even", rejoin_after_s=0.3, timeout_s=0.1)
    try:
        await budget.acquire()
        budget.observe(headers(max=50, remaining=49, interval_ms=1000), time.monotonic())
        server.admin.client_pause(250)  # Redis answers nobody for 250 ms: the next call times out
        async with anyio.create_task_group() as group:
            group.start_soon(budget.acquire)  # its call carries the answer above, then fails
            await anyio.sleep(0.03)
            budget.observe(headers(max=40, remaining=39, interval_ms=1000), time.monotonic())  # a later answer
        assert budget.statistics().fallback
        lost = [r.getMessage() for r in caplog.records if "lost Redis" in r.getMessage()]
        assert len(lost) == 1
        assert "(TimeoutError)" in lost[0]
        await anyio.sleep(0.3)
        await budget.acquire()  # rejoins: the later answer goes with this call
        assert not budget.statistics().fallback
        assert budget.limit == Rate(40, 1.0)
    finally:
        await budget.aclose()


async def test_losing_redis_before_its_first_slot_goes_on_alone_at_once(server: Redis) -> None:
    budget = SharedBudget.from_url(server.url(), rate="100/1s", pace="even", rejoin_after_s=60)
    try:
        await budget.connect()
        server.lose(stay_away=True)
        with anyio.fail_after(1):
            await budget.acquire()
        assert budget.statistics().fallback
    finally:
        await budget.aclose()


async def test_a_participant_waiting_for_a_place_when_the_budget_is_closed_gets_a_config_error(
    server: Redis,
) -> None:
    budget = SharedBudget.from_url(server.url(), rate="100/200ms", before_first_answer=1)
    await budget.acquire()
    errors: list[ConfigError] = []

    async def waiting() -> None:
        try:
            await budget.acquire()  # the next place frees in 0.2 s: it asks again every 4 ms
        except ConfigError as exc:
            errors.append(exc)

    async with anyio.create_task_group() as group:
        group.start_soon(waiting)
        await anyio.sleep(0.02)
        await budget.aclose()
    assert [str(error) for error in errors] == ["the shared budget is closed"]


async def test_an_even_pace_finer_than_redis_counts_shows_an_unbounded_rate(server: Redis) -> None:
    async with SharedBudget.from_url(server.url(), rate="2000000/1s", pace="even") as budget:
        await budget.acquire()  # half a microsecond apart: Redis counts whole microseconds, 0
        assert budget.statistics().effective_per_s == math.inf


async def test_each_answer_is_logged_at_debug_level_with_its_wait_interval_others_and_participants(
    server: Redis, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="cartloader")
    async with SharedBudget.from_url(server.url(), rate="3/1s", pace="even") as budget:
        # Alone at 3/1s less the reserve of 2: one request a second.
        assert caplog.records[-1].getMessage() == (
            "shared budget: wait 0.0 ms, every 1000.0 ms, others 0.0, 1 participants"
        )
        budget.pause(1.0)
        with anyio.move_on_after(1.0):
            async with anyio.create_task_group() as group:
                group.start_soon(budget.acquire)  # its slot is a second away: logged, then waited for
                logged_before = len(caplog.records)
                for _ in range(200):
                    if any("every" in r.getMessage() for r in caplog.records[logged_before:]):
                        break
                    await anyio.sleep(0.005)
                group.cancel_scope.cancel()
        logged = caplog.records[-1].getMessage()
        wait_ms = float(logged.split("wait ")[1].split(" ms")[0])
        assert 800 <= wait_ms <= 1000, logged


async def test_once_every_participant_is_back_and_a_window_passed_the_burst_pace_stops_spacing(
    server: Redis,
) -> None:
    budget = SharedBudget.from_url(server.url(), rate="100/100ms", rejoin_after_s=0)
    try:
        await budget.acquire()
        server.lose(restart=True)
        await budget.acquire()  # falls back
        await budget.acquire()  # rejoins the restarted Redis: its first slot spaced
        last = server.admin.get(budget._session.keys[0])
        assert last is not None
        await anyio.sleep(0.1 + guard_s(0.1) + 0.01)
        for _ in range(3):
            await budget.acquire()
        assert server.admin.get(budget._session.keys[0]) == last  # burst slots: none spaced from the last
    finally:
        await budget.aclose()


async def test_the_others_draw_is_shown_to_a_tenth_of_a_request(server: Redis) -> None:
    async with SharedBudget.from_url(server.url(), rate="100/1s", pace="even") as budget:
        await budget.acquire()
        budget.observe(headers(max=100, remaining=79, interval_ms=1000), time.monotonic() - 10)  # 20 measured
        await budget.acquire()
        await anyio.sleep(0.03)
        budget.observe(headers(max=100, remaining=89, interval_ms=1000), time.monotonic() - 10)  # 10 measured
        await budget.acquire()  # the estimate decays towards 10 over a window: 10 + 10 e^(-elapsed)
        others = budget._answer.others
        assert 15 < others < 20
        assert budget.statistics().others_in_window == round(others, 1)
