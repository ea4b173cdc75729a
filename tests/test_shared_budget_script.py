"""The shared budget's Lua script, call by call, in a real Redis server (one for the module, a key per test): what
each answer says (the limit in force, the participants, the interval, the others' draw, the pause, the slot and
the burst) and what it leaves in Redis, from the arguments one participant's session sends
(:class:`~cartloader.budget.redis_session.SlotRequest`). The script mirrors :mod:`cartloader.budget.pacing`: the
expected figures come from there."""

from __future__ import annotations

import math
import time
from collections.abc import Iterator
from typing import Any

import anyio
import pytest
import redis

from cartloader.budget import redis_session
from cartloader.budget.pacing import burst_capacity, guard_s, reserve
from cartloader.budget.redis_session import RedisSession, SlotAnswer, SlotRequest
from cartloader.budget.url import BudgetUrl
from cartloader.models import RateLimitHeaders
from cartloader.rate import Rate
from tests.test_shared_budget_support import RedisServer, free_port, require_redis_server

pytestmark = pytest.mark.anyio

CAP = Rate(100, 1.0)
SENT, HELD, MEMBERS, EXPECTED, STATE, PAUSE, LAST = 4, 6, 3, 5, 1, 2, 0


@pytest.fixture(scope="module")
def server() -> Iterator[RedisServer]:
    require_redis_server()
    running = RedisServer(free_port())
    running.start()
    try:
        yield running
    finally:
        running.kill()


@pytest.fixture
def admin(server: RedisServer) -> Iterator[redis.Redis]:
    client = redis.Redis(port=server.port)
    try:
        yield client
    finally:
        client.close()


def headers(max: int, remaining: int | None, interval_ms: int | None = 1000) -> RateLimitHeaders:
    return RateLimitHeaders(max=max, remaining=remaining, interval_ms=interval_ms, daily=None, daily_remaining=None)


class Participant:
    """One participant's session, calling the script with ``SlotRequest``'s defaults for a burst pace under CAP."""

    def __init__(self, server: RedisServer, key: str, **defaults: Any) -> None:
        self.session = RedisSession(BudgetUrl.parse(server.url(key)), timeout_s=2.0, clock=time.monotonic)
        self.session.open()
        self.defaults: dict[str, Any] = {
            "cap": CAP,
            "margin": 0.985,
            "observation": None,
            "pause_until": 0.0,
            "expected": 0,
            "not_before": 0.0,
            "window_s": 1.0,
            "burst_pace": True,
            "answered": True,
            "holds": [],
        } | defaults
        self.seq = 0

    async def call(self, take: bool = True, **fields: Any) -> SlotAnswer:
        self.seq += 1
        now = time.monotonic()
        sent_ago = fields.pop("sent_ago", 0.0)
        if "observation" in fields and fields["observation"] is not None:
            fields["observation"] = (fields["observation"], now - sent_ago)
        request = SlotRequest(take=take, now=now, seq=self.seq, **(self.defaults | fields))
        return await self.session.call(request)

    def key(self, index: int) -> str:
        return self.session.keys[index]

    async def close(self) -> None:
        await self.session.close(leave=False)


@pytest.fixture
async def participants(server: RedisServer, request: pytest.FixtureRequest) -> Any:
    made: list[Participant] = []

    def make(key: str = "", **defaults: Any) -> Participant:
        made.append(Participant(server, request.node.name + key, **defaults))
        return made[-1]

    yield make
    for participant in made:
        await participant.close()


# -- the limit in force and the participants ---------------------------------------------------------


async def test_the_limit_in_force_is_the_cap_lowered_to_what_hubspot_advertises(participants: Any) -> None:
    capped = participants()
    assert (await capped.call(take=False)).limit == CAP
    lower = await capped.call(take=False, observation=headers(50, 49, 2000))
    assert lower.limit == Rate(50, 2.0)
    same = await capped.call(take=False, observation=headers(200, 199, 2000))
    assert same.limit == CAP  # as fast as the cap: the cap holds
    higher = await capped.call(take=False, observation=headers(500, 499, 1500))
    assert higher.limit == CAP  # above the cap: the cap holds
    windowless = await capped.call(take=False, observation=headers(40, 39, None))
    assert windowless.limit == Rate(40, 1.5)  # no interval: the last one advertised
    assert (await capped.call(take=False, observation=headers(1, 0, 1000))).limit == Rate(1, 1.0)


async def test_without_a_cap_the_advertised_limit_holds_even_above_hubspots_lowest_tier(
    server: RedisServer, participants: Any
) -> None:
    free = participants(cap=None)
    lowest = await free.call(take=False)
    assert lowest.limit == Rate(100, 10.0)
    assert lowest.burst == burst_capacity(Rate(100, 10.0), 0.0)  # its rule is HubSpot's lowest tier's
    first = await free.call(take=False, observation=headers(500, 499, None))
    assert first.limit == Rate(500, 10.0)  # no interval yet: the lowest tier's window
    assert (await free.call(take=False, observation=headers(190, 189, 10_000))).limit == Rate(190, 10.0)


async def test_participants_count_until_their_heartbeat_is_older_than_its_lifetime(
    participants: Any, admin: redis.Redis, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(redis_session, "HEARTBEAT_TTL_S", 0.2)
    first, second = participants(window_s=0.01), participants(window_s=0.01)
    await first.call(take=False)
    assert (await second.call(take=False)).participants == 2
    assert 0 < admin.pttl(first.key(MEMBERS)) <= 200
    await anyio.sleep(0.21)
    assert (await first.call(take=False)).participants == 1


# -- a partial rejoin: members / expected -------------------------------------------------------------


async def test_participants_back_in_redis_share_burst_and_interval_as_members_over_expected(
    participants: Any, admin: redis.Redis
) -> None:
    first = participants()
    alone = await first.call(take=False, expected=3)  # rejoining, it last saw 3
    assert alone.participants == 1
    assert alone.burst == math.floor(burst_capacity(CAP, 0.0) / 3)
    full_interval = CAP.window_s / (CAP.requests - reserve(CAP))
    assert alone.interval_s == pytest.approx(3 * full_interval, abs=1e-6)
    assert 0 < admin.pttl(first.key(EXPECTED)) <= 5000
    await anyio.sleep(0.1)
    await first.call(take=False, expected=3)  # the same count again: kept as it is
    assert 0 < admin.pttl(first.key(EXPECTED)) <= 4920
    second = participants()
    two = await second.call(take=False, expected=2)  # a lower count never lowers what is expected
    assert (two.participants, two.burst) == (2, math.floor(burst_capacity(CAP, 0.0) * 2 / 3))
    assert two.interval_s == pytest.approx(1.5 * full_interval, abs=1e-6)
    everyone = await participants().call(take=False)
    assert (everyone.participants, everyone.burst) == (3, burst_capacity(CAP, 0.0))
    assert everyone.interval_s == pytest.approx(full_interval, abs=1e-6)
    few = await participants(key="-many").call(take=False, expected=500)  # 1 of 500: at least one request
    assert few.burst == 1
    few = await participants(key="-many-uncapped", cap=None).call(take=False, expected=500)
    assert few.burst == 1
    third = await participants(key="-third-uncapped", cap=None).call(take=False, expected=3)
    assert third.burst == math.floor(burst_capacity(Rate(100, 10.0), 0.0) / 3)


async def test_the_share_scales_every_rule_and_the_smallest_burst_wins(participants: Any) -> None:
    first = participants(cap=Rate(60, 1.0))
    await first.call(take=False)
    # HubSpot advertises 100/1s, 20 of them drawn by others: its rule allows 78, the cap 60.
    answer = await first.call(take=False, observation=headers(100, 79), expected=2)
    assert answer.others == 20
    assert answer.burst == math.floor(burst_capacity(Rate(60, 1.0), 0.0) / 2)
    uncapped = participants(cap=None)
    answer = await uncapped.call(take=False, expected=4)  # 2 of 4 back
    assert answer.burst == math.floor(burst_capacity(Rate(100, 1.0), 20.0) / 2)
    # A reserve that is not a whole number of requests (1.5 % of 150): the capacity is rounded down.
    odd = participants(key="-odd", cap=None)
    answer = await odd.call(take=False, observation=headers(150, 129, 1000))
    assert answer.others == 20
    assert answer.burst == burst_capacity(Rate(150, 1.0), 20.0) == 127


# -- before HubSpot's first answer ----------------------------------------------------------------------


async def test_before_hubspots_first_answer_only_a_few_requests_go_in_a_window(participants: Any) -> None:
    first = participants(answered=False, before_first_answer=3)
    started = time.monotonic()
    answers = [await first.call() for _ in range(4)]
    elapsed = time.monotonic() - started
    assert [a.granted for a in answers] == [True, True, True, False]
    assert answers[0].burst == 3
    assert 1.0 + guard_s(1.0) - elapsed <= answers[3].wait_s <= 1.0 + guard_s(1.0)
    answered = await first.call(answered=True)  # the first answer lifts it for every participant
    assert answered.granted
    assert answered.burst == burst_capacity(CAP, 0.0)
    later = participants(answered=False, before_first_answer=3)
    assert (await later.call()).burst == burst_capacity(CAP, 0.0)


async def test_an_observation_is_an_answer_too_and_the_few_requests_never_exceed_the_burst(participants: Any) -> None:
    first = participants(answered=False, before_first_answer=50, cap=Rate(20, 1.0))
    assert (await first.call(take=False)).burst == burst_capacity(Rate(20, 1.0), 0.0)
    assert (await first.call(take=False, observation=headers(20, 19))).burst == burst_capacity(Rate(20, 1.0), 0.0)
    later = participants(answered=False, before_first_answer=1)
    assert (await later.call(take=False)).burst == burst_capacity(Rate(20, 1.0), 0.0)


async def test_the_even_pace_before_the_first_answer_spaces_a_few_requests_then_waits_a_window(
    participants: Any,
) -> None:
    first = participants(answered=False, before_first_answer=2, burst_pace=False, cap=Rate(100, 0.2))
    started = time.monotonic()
    answers = [await first.call() for _ in range(3)]
    elapsed = time.monotonic() - started
    assert all(a.granted for a in answers)
    assert [a.burst for a in answers] == [1, 1, 1]
    assert 0.2 + guard_s(0.2) - elapsed <= answers[2].wait_s <= 0.2 + guard_s(0.2)


# -- what others draw ---------------------------------------------------------------------------------


async def test_the_burst_pace_holds_the_first_answers_count_one_window_then_the_highest_lower_bound(
    participants: Any,
) -> None:
    first = participants(cap=Rate(100, 0.2))
    for _ in range(5):
        assert (await first.call()).granted
    answer = await first.call(take=False, observation=headers(100, 79, 200))
    assert answer.others == 20  # the first answer: all but its own request, ours included
    assert answer.burst == burst_capacity(Rate(100, 0.2), 20.0)
    # The next answers: what they count less what of ours may be in their window (5 of ours).
    assert (await first.call(take=False, observation=headers(100, 89, 200))).others == 20  # 6: the first holds
    assert (await first.call(take=False, observation=headers(100, 69, 200))).others == 26
    assert (await first.call(take=False, observation=headers(100, 89, 200))).others == 26
    await anyio.sleep(0.21)  # the first answer's count and the first bucket have left the window
    assert (await first.call(take=False)).others == 26  # the previous bucket still counts
    answer = await first.call(take=False, observation=headers(100, 94, 200))
    assert answer.others == 26  # a new bucket (6 - 0 of ours): the previous one is higher
    assert (await first.call(take=False, observation=headers(100, 98, 200))).others == 26
    await anyio.sleep(0.21)
    assert (await first.call(take=False, observation=headers(100, 97, 200))).others == 6


async def test_once_the_first_answers_count_left_the_window_only_the_measured_draw_counts(participants: Any) -> None:
    first = participants(cap=Rate(3, 0.2), margin=0.5)
    assert (await first.call(take=False, observation=headers(100, 98, 200))).others == 1
    for _ in range(3):  # the cap's burst
        assert (await first.call()).granted
    await anyio.sleep(0.21)
    leaving = await first.call()
    assert leaving.others == 0
    assert not leaving.granted  # the cap's places are still held (a window and its guard: 0.3 s)
    assert (await first.call(take=False)).others == 0
    assert (await first.call(take=False, observation=headers(100, 100, 200))).others == 0


async def test_a_first_answer_counting_nothing_else_leaves_no_backlog(participants: Any) -> None:
    first = participants(cap=Rate(100, 0.1))
    assert (await first.call(take=False, observation=headers(100, 100, 100))).others == 0
    assert (await first.call(take=False, observation=headers(100, 100, 100))).others == 0
    full = await participants(key="-full").call(take=False, observation=headers(100, 0, 1000))
    assert full.others == 99  # none left: all but its own request are others'
    assert full.interval_s == 1.0  # at least one request per window


async def test_an_answer_without_remaining_or_from_before_a_restart_measures_nothing(participants: Any) -> None:
    first = participants()
    assert (await first.call(take=False, observation=headers(100, None))).others == 0
    rejoined = participants(key="-recreated")
    await rejoined.call(take=False, expected=2)  # recreated after Redis lost it
    await anyio.sleep(0.15)
    answer = await rejoined.call(take=False, observation=headers(100, 59, 100), expected=2, sent_ago=0.1)
    assert answer.others == 0  # its window began before the budget was recreated: not measured
    assert answer.limit == CAP
    answer = await rejoined.call(take=False, observation=headers(100, 59, 100), expected=2)
    assert answer.others == 40  # a window the recreated budget covers whole


async def test_the_even_pace_measures_others_less_ours_and_the_edge_noise_and_lowers_the_estimate_slowly(
    participants: Any,
) -> None:
    first = participants(burst_pace=False, cap=Rate(100, 0.2))
    for _ in range(3):
        await first.call()
    await anyio.sleep(0.03)  # our 3 slots (reserved 2 ms apart) have gone
    answer = await first.call(take=False, observation=headers(100, 80, 200))
    assert answer.others == 16  # 20 counted, 3 of them ours, 1 of noise at the window's edge
    assert answer.interval_s == pytest.approx(0.2 / (100 - 2 - 16), abs=1e-6)
    lower = await first.call(take=False, observation=headers(100, 86, 200))  # 10 measured
    assert 10 < lower.others < 16  # decays towards it over a window
    await anyio.sleep(0.2)
    lower = await first.call(take=False, observation=headers(100, 99, 200))  # 0 measured (1 of noise)
    assert 0 < lower.others < 16 * math.exp(-1)


# -- pauses, spacing, slots ---------------------------------------------------------------------------


async def test_a_pause_holds_every_participant_and_a_shorter_one_never_cuts_it(
    participants: Any, admin: redis.Redis
) -> None:
    first, second = participants(), participants(burst_pace=False)  # the even pace reserves a slot ahead
    now = time.monotonic()
    paused = await first.call(take=False, pause_until=now + 1.0)
    assert 1.0 - (time.monotonic() - now) <= paused.paused_s <= 1.0
    assert 500 < admin.pttl(first.key(PAUSE)) <= 1001
    shorter = await second.call(pause_until=time.monotonic() + 0.1)
    assert 1.0 - (time.monotonic() - now) <= shorter.paused_s <= 1.0
    assert shorter.granted
    assert shorter.paused_s - 0.1 <= shorter.wait_s <= shorter.paused_s
    assert 1.0 - (time.monotonic() - now) <= (await second.call(take=False)).paused_s <= 1.0
    longer = await first.call(take=False, pause_until=time.monotonic() + 2.0)  # a longer one extends it
    assert 1.9 <= longer.paused_s <= 2.0


async def test_the_even_pace_reserves_slots_one_interval_apart_from_the_last(
    participants: Any, admin: redis.Redis
) -> None:
    first = participants(burst_pace=False, cap=Rate(20, 1.0))
    interval = 1.0 / (20 - 2)
    started = time.monotonic()
    waits = [(await first.call()).wait_s for _ in range(4)]
    elapsed = time.monotonic() - started
    for k, wait in enumerate(waits):
        assert k * interval - elapsed <= wait <= k * interval
    assert 5000 < admin.pttl(first.key(LAST)) <= 5000 + math.ceil(3 * interval * 1000) + 1
    started = time.monotonic()
    later = await first.call(not_before=started + 0.5)  # a participant's own earliest slot
    assert 0.5 - (time.monotonic() - started) <= later.wait_s <= 0.5


async def test_a_burst_takes_its_slots_at_once_and_is_told_when_a_place_frees(participants: Any) -> None:
    first = participants(cap=Rate(5, 0.2), margin=0.5)
    started = time.monotonic()
    answers = [await first.call() for _ in range(6)]
    elapsed = time.monotonic() - started
    capacity = burst_capacity(Rate(5, 0.2), 0.0, 0.5)
    assert [a.granted for a in answers] == [True] * capacity + [False] * (6 - capacity)
    assert answers[0].wait_s == 0
    assert 0.3 - elapsed <= answers[-1].wait_s <= 0.2 + guard_s(0.2, 0.5)


async def test_slots_are_logged_sent_and_held_and_forgotten_two_windows_later(
    participants: Any, admin: redis.Redis, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(redis_session, "HEARTBEAT_TTL_S", 0.05)
    lasting = participants(key="-lasting", cap=Rate(100, 0.5), window_s=0.01)
    await lasting.call(take=False, observation=headers(10, 9, 100))  # HubSpot's window is shorter: 100 ms
    await lasting.call()
    member = f"{lasting.session.id}:2"
    assert admin.zscore(lasting.key(SENT), member) == admin.zscore(lasting.key(HELD), member) is not None
    assert 500 < admin.pttl(lasting.key(SENT)) <= 1000  # two of the longer window (longer than the heartbeat)
    assert 500 < admin.pttl(lasting.key(HELD)) <= 1000
    assert 1000 < admin.pttl(lasting.key(STATE)) <= 2000  # twenty windows in force
    first = participants(cap=Rate(100, 0.1), window_s=0.01)
    await first.call()
    await anyio.sleep(0.12)
    await first.call()
    assert admin.zcard(first.key(SENT)) == admin.zcard(first.key(HELD)) == 2  # one window old: kept
    await anyio.sleep(0.1)
    await first.call()
    assert admin.zcard(first.key(SENT)) == admin.zcard(first.key(HELD)) == 2  # the first, two windows old: gone


async def test_a_hold_moves_only_the_named_place_and_only_later(participants: Any, admin: redis.Redis) -> None:
    first = participants()
    await first.call()
    await first.call()
    id_ = first.session.id
    before = [float(admin.zscore(first.key(HELD), f"{id_}:{n}") or 0) for n in (1, 2)]
    await first.call(take=False, holds=[(2, 250_000), ("absent", 1)])
    after = [float(admin.zscore(first.key(HELD), f"{id_}:{n}") or 0) for n in (1, 2)]
    assert before[0] > 0
    assert after == [before[0], before[1] + 250_000]
    await first.call(take=False, holds=[(1, 100_000), (2, 50_000)])
    again = [float(admin.zscore(first.key(HELD), f"{id_}:{n}") or 0) for n in (1, 2)]
    assert again == [after[0] + 100_000, after[1] + 50_000]
    assert admin.zscore(first.key(HELD), f"{id_}:absent") is None


async def test_a_recreated_budget_paces_evenly_until_every_participant_is_back_and_a_window_passed(
    participants: Any,
) -> None:
    cap = Rate(10, 0.2)
    interval = 0.1 / (4 - 2)  # HubSpot's 4/100ms at a margin of 0.5
    first = participants(cap=cap, margin=0.5)
    await first.call(take=False, expected=1, observation=headers(4, 4, 100))  # rejoining: all expected are back
    waits = [(await first.call(expected=1)).wait_s for _ in range(2)]
    assert 0 < waits[1] <= interval  # spaced, not a burst
    started = time.monotonic()
    await anyio.sleep(0.23)  # past HubSpot's window and its guard, not the cap's (0.2 + 0.1 s)
    waits = [(await first.call()).wait_s for _ in range(2)]
    if time.monotonic() - started < 0.3:
        assert 0 < waits[1] <= interval
    await anyio.sleep(0.3)
    burst = [await first.call() for _ in range(2)]  # two of the four HubSpot's rule holds
    assert [a.wait_s for a in burst] == [0, 0]
    await first.call(take=False, expected=1)  # rejoining again (the first call after losing Redis): spaced again
    assert [(await first.call()).wait_s > 0 for _ in range(2)] == [False, True]


async def test_while_participants_are_missing_a_recreated_budget_keeps_pacing_evenly(participants: Any) -> None:
    first = participants(cap=Rate(10, 0.2), margin=0.5)
    await first.call(take=False, expected=2)  # rejoining, one of two
    await anyio.sleep(0.31)  # past the window and its guard
    waits = [(await first.call()).wait_s for _ in range(2)]
    assert 0 < waits[1] <= 2 * 0.2 / (10 - 5)  # spaced (at the interval of one of two)


async def test_a_burst_waits_only_until_the_first_answers_count_leaves_the_window(participants: Any) -> None:
    first = participants(cap=None, margin=0.5)
    started = time.monotonic()
    answer = await first.call(take=False, observation=headers(100, 20, 200))  # 79 drawn by others
    assert answer.burst == 1
    assert (await first.call()).granted
    waiting = await first.call()
    assert not waiting.granted
    # Held a window and its guard (0.3 s), but the first answer's count leaves after a window (0.2 s).
    assert 0.2 - (time.monotonic() - started) <= waiting.wait_s <= 0.2


async def test_hubspots_rule_holds_each_place_a_window_and_its_guard(participants: Any) -> None:
    first = participants(cap=None, margin=0.5)
    await first.call(take=False, observation=headers(5, 5, 200))
    started = time.monotonic()
    answers = [await first.call() for _ in range(6)]
    assert [a.granted for a in answers] == [True] * 5 + [False]
    assert 0.3 - (time.monotonic() - started) <= answers[-1].wait_s <= 0.3
