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
    higher = await capped.call(take=False, observation=headers(500, 499, 1000))
    assert higher.limit == CAP  # above the cap: the cap holds
    windowless = await capped.call(take=False, observation=headers(40, 39, None))
    assert windowless.limit == Rate(40, 1.0)  # no interval: the last one advertised (1 s)


async def test_without_a_cap_the_advertised_limit_holds_even_above_hubspots_lowest_tier(
    server: RedisServer, participants: Any
) -> None:
    free = participants(cap=None)
    assert (await free.call(take=False)).limit == Rate(100, 10.0)
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
    alone = await first.call(take=False, expected=4)  # rejoining, it last saw 4
    assert alone.participants == 1
    assert alone.burst == math.floor(burst_capacity(CAP, 0.0) / 4)
    full_interval = CAP.window_s / (CAP.requests - reserve(CAP))
    assert alone.interval_s == pytest.approx(4 * full_interval, abs=1e-6)
    assert 0 < admin.pttl(first.key(EXPECTED)) <= 5000
    second = participants()
    two = await second.call(take=False, expected=3)  # a lower count never lowers what is expected
    assert (two.participants, two.burst) == (2, math.floor(burst_capacity(CAP, 0.0) / 2))
    assert two.interval_s == pytest.approx(2 * full_interval, abs=1e-6)
    four = [participants() for _ in range(2)]
    await four[0].call(take=False)
    everyone = await four[1].call(take=False)
    assert (everyone.participants, everyone.burst) == (4, burst_capacity(CAP, 0.0))
    assert everyone.interval_s == pytest.approx(full_interval, abs=1e-6)


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
    first = participants(cap=Rate(100, 0.1))
    for _ in range(5):
        assert (await first.call()).granted
    answer = await first.call(take=False, observation=headers(100, 79, 100))
    assert answer.others == 20  # the first answer: all but its own request, ours included
    assert answer.burst == burst_capacity(Rate(100, 0.1), 20.0)
    # The next answers: what they count less what of ours may be in their window (5 of ours).
    assert (await first.call(take=False, observation=headers(100, 69, 100))).others == 26
    assert (await first.call(take=False, observation=headers(100, 89, 100))).others == 26
    await anyio.sleep(0.11)  # the first answer's count and the first bucket have left the window
    assert (await first.call(take=False)).others == 26  # the previous bucket still counts
    answer = await first.call(take=False, observation=headers(100, 94, 100))
    assert answer.others == 26  # a new bucket (6 - 0 of ours): the previous one is higher
    await anyio.sleep(0.11)
    assert (await first.call(take=False, observation=headers(100, 97, 100))).others == 6


async def test_a_first_answer_counting_nothing_else_leaves_no_backlog(participants: Any) -> None:
    first = participants(cap=Rate(100, 0.1))
    assert (await first.call(take=False, observation=headers(100, 100, 100))).others == 0
    assert (await first.call(take=False, observation=headers(100, 100, 100))).others == 0


async def test_an_answer_without_remaining_or_from_before_a_restart_measures_nothing(participants: Any) -> None:
    first = participants()
    assert (await first.call(take=False, observation=headers(100, None))).others == 0
    rejoined = participants(key="-recreated")
    answer = await rejoined.call(take=False, expected=2)  # recreated after Redis lost it
    answer = await rejoined.call(take=False, observation=headers(100, 59), expected=2, sent_ago=0.5)
    assert answer.others == 0  # its window began before the budget was recreated: not measured
    assert answer.limit == Rate(100, 1.0)


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
    await lasting.call()
    member = f"{lasting.session.id}:1"
    assert admin.zscore(lasting.key(SENT), member) == admin.zscore(lasting.key(HELD), member) is not None
    assert 500 < admin.pttl(lasting.key(SENT)) <= 1000  # two windows (longer than the heartbeat's 50 ms)
    assert 500 < admin.pttl(lasting.key(HELD)) <= 1000
    assert 5000 < admin.pttl(lasting.key(STATE)) <= 10_000  # twenty windows
    assert 0 < admin.pttl(lasting.key(MEMBERS)) <= 50
    first = participants(cap=Rate(100, 0.1), window_s=0.01)
    await first.call()
    await anyio.sleep(0.21)
    await first.call()
    assert admin.zcard(first.key(SENT)) == admin.zcard(first.key(HELD)) == 1


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
    assert admin.zscore(first.key(HELD), f"{id_}:absent") is None


async def test_a_recreated_budget_paces_evenly_until_every_participant_is_back_and_a_window_passed(
    participants: Any,
) -> None:
    cap = Rate(10, 0.2)
    interval = 0.2 / (10 - 2)
    first = participants(cap=cap)
    waits = [(await first.call(expected=1)).wait_s for _ in range(3)]  # rejoining, all expected are back
    assert waits[1] == pytest.approx(interval, abs=0.01)  # spaced, not a burst
    await anyio.sleep(0.2 + guard_s(0.2) + 0.01)
    burst = [await first.call() for _ in range(3)]
    assert [a.wait_s for a in burst] == [0, 0, 0]
