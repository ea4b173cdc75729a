"""The shared budget against a real Redis server: URLs and secrets, slots and pauses shared between
participants, losing and regaining Redis, and loader processes sharing one simulator's limit."""

from __future__ import annotations

import itertools
import logging
import time
from collections import Counter

import anyio
import pytest
import redis

from cartloader import ConfigError, Rate, bulk_create
from cartloader.budget.shared import SharedBudget
from cartloader.models import RateLimitHeaders
from cartloader.simulator import Simulator
from tests.test_shared_budget_support import RedisServer, carts, free_port, require_redis_server, run_loaders
from tests.test_simulator_support import eventually

pytestmark = pytest.mark.anyio

SECRET = "s3cret-pw"
# Time compressed, but not so far that a busy machine's event-loop lag (tens of ms) outgrows the reserve
# of 2 requests per window: 30/1s spaces requests 36 ms apart.
SIM_RATE = "30/1s"
#: 429s a shared budget may draw from arrivals at the window's edge on a loaded machine (about 1 in 40 requests).
EDGE_429S = 2


def _created_once(sim: Simulator, total: int) -> bool:
    ids = Counter(obj.properties.get("hs_external_cart_id") for obj in sim.objects.values())
    return ids == Counter(f"ext-{i}" for i in range(total))


# -- URLs, secrets, Redis unreachable at start ----------------------------------------------------


def test_repr_and_str_mask_the_password() -> None:
    budget = SharedBudget.from_url(f"redis://user:{SECRET}@redis.internal:6380/2?key=acme")
    assert SECRET not in repr(budget)
    assert SECRET not in str(budget.url)
    assert "redis://user:***@redis.internal:6380/2?key=acme" in repr(budget)
    assert budget.url.key == "acme"


@pytest.mark.parametrize(
    "url",
    [
        f"http://:{SECRET}@localhost:6379/0?key=a",
        f"redis://:{SECRET}@localhost:6379/zero?key=a",
        f"redis://:{SECRET}@localhost:6379/0?key=a&key=b",
        f"redis://:{SECRET}@localhost:6379/0?key=",
        f"redis://:{SECRET}@localhost:99999/0",
        "redis:///0?key=a",
    ],
)
def test_malformed_budget_urls_are_config_errors_that_hide_the_password(url: str) -> None:
    with pytest.raises(ConfigError) as info:
        SharedBudget.from_url(url)
    assert SECRET not in str(info.value)
    assert "\n" not in str(info.value)


async def test_redis_unreachable_at_start_is_a_config_error_before_any_request() -> None:
    url = f"redis://:{SECRET}@127.0.0.1:{free_port()}/0?key=t"
    async with Simulator(rate=SIM_RATE) as sim:
        with pytest.raises(ConfigError) as info:
            await bulk_create(carts(0, 3), token="sim-token", base_url=sim.url, budget=url)
        assert sim.stats().requests == 0
    message = str(info.value)
    assert message.startswith("cannot reach Redis for the shared budget at redis://:***@127.0.0.1:")
    assert SECRET not in message
    assert "\n" not in message


async def test_wrong_password_is_a_config_error_that_hides_it() -> None:
    require_redis_server()
    server = RedisServer(free_port(), password="right-one")
    server.start()
    try:
        with pytest.raises(ConfigError) as info:
            async with SharedBudget.from_url(server.url("t").replace("right-one", SECRET)):
                pass
    finally:
        server.kill()
    assert SECRET not in str(info.value)
    assert "right-one" not in str(info.value)


# -- participants share slots, limit, pause -------------------------------------------------------


@pytest.mark.timing
async def test_two_participants_share_one_evenly_spaced_budget_under_the_even_pace(redis_server: RedisServer) -> None:
    url = redis_server.url("pair")
    slots: list[float] = []
    async with (
        SharedBudget.from_url(url, rate="20/1s", pace="even") as first,
        SharedBudget.from_url(url, rate="20/1s", pace="even") as second,
    ):
        # HubSpot's first answer (nobody else drawing): from here on the grid alone spaces the slots.
        await first.acquire()
        first.observe(RateLimitHeaders(max=20, remaining=19, interval_ms=1000, daily=None, daily_remaining=None), 0.0)
        slots.append(time.monotonic())

        async def draw(budget: SharedBudget) -> None:
            for _ in range(4):
                await budget.acquire()
                slots.append(time.monotonic())

        async with anyio.create_task_group() as group:
            for budget in (first, second, first, second):  # two workers each
                group.start_soon(draw, budget)
        assert first.participants == second.participants == 2
    slots.sort()
    gaps = [later - earlier for earlier, later in itertools.pairwise(slots)]
    interval = 1 / 18  # 20/1s less the reserve of 2 requests
    # A slot woken late catches up half an interval at most: no two slots closer than that, however loaded.
    assert min(gaps) > 0.5 * interval * 0.9, gaps
    assert slots[-1] - slots[0] > 0.9 * interval * (len(slots) - 1)


async def test_a_limit_learned_by_one_participant_holds_for_all(redis_server: RedisServer) -> None:
    url = redis_server.url("learn")
    async with SharedBudget.from_url(url) as first, SharedBudget.from_url(url) as second:
        await first.acquire()
        first.observe(RateLimitHeaders(max=40, remaining=39, interval_ms=2000, daily=None, daily_remaining=None), 0.0)
        await first.acquire()  # the observation travels with the next slot request
        await second.acquire()
        assert second.limit == Rate(40, 2.0)


async def test_a_pause_after_a_429_in_one_participant_holds_the_others(redis_server: RedisServer) -> None:
    url = redis_server.url("pause")
    async with SharedBudget.from_url(url, rate="50/1s") as first, SharedBudget.from_url(url, rate="50/1s") as second:
        await first.acquire()
        await second.acquire()
        started = time.monotonic()
        first.pause(0.4)
        async with anyio.create_task_group() as group:
            group.start_soon(first.acquire)  # publishes the pause with its slot request
            await anyio.sleep(0.05)
            await second.acquire()
            assert time.monotonic() - started > 0.35


# -- losing and regaining Redis -------------------------------------------------------------------


async def test_lost_redis_falls_back_to_a_share_warns_once_and_rejoins(
    redis_server: RedisServer, caplog: pytest.LogCaptureFixture
) -> None:
    url = redis_server.url("lost")
    caplog.set_level(logging.WARNING, logger="cartloader")
    async with (
        SharedBudget.from_url(url, rate="100/1s", rejoin_after_s=0.2) as budget,
        SharedBudget.from_url(url, rate="100/1s") as other,
    ):
        await other.acquire()
        await budget.acquire()
        assert budget.participants == 2
        await anyio.to_thread.run_sync(redis_server.kill)
        for _ in range(5):
            await budget.acquire()
        stats = budget.statistics()
        assert stats.fallback
        # Half of (100 - 2 reserved) per second, less one request of its own reserve.
        assert stats.effective_per_s == pytest.approx(48, rel=0.01)
        lost = [r for r in caplog.records if "lost Redis" in r.getMessage()]
        assert len(lost) == 1
        assert "going on alone at 1/2 of 100/1s" in lost[0].getMessage()
        await anyio.to_thread.run_sync(redis_server.start)
        await anyio.sleep(0.25)
        await budget.acquire()
        assert not budget.statistics().fallback
        assert any("is back; rejoined" in r.getMessage() for r in caplog.records)


# -- loader processes against one simulator with one limit ------------------------------------------


@pytest.mark.timing
async def test_four_processes_sharing_a_budget_keep_within_the_limit_and_create_every_record_once(
    redis_server: RedisServer,
) -> None:
    # As in the contrast below: started together, no preflight read first, 10 requests free to go at once.
    async with Simulator(rate=SIM_RATE, latency_ms=(300, 400)) as sim:
        summaries = await run_loaders(
            sim.url, processes=4, records_each=48, budget=redis_server.url("four"), rate=SIM_RATE, batch_size=4,
            concurrency=10, preflight=False,
        )  # fmt: skip
        stats = sim.stats()
        assert _created_once(sim, 192)
    assert sum(s["created"] for s in summaries) == 192
    # Over the limit only by an arrival at the window's edge (a loaded machine delays some sends), never by
    # the share: four separate budgets draw far more (the next test).
    assert stats.rate_limited.get("TEN_SECONDLY_ROLLING", 0) <= EDGE_429S


@pytest.mark.timing
async def test_four_processes_each_on_its_own_budget_draw_over_5_percent_429s() -> None:
    # A budget of its own lets a process send its first requests before any answer tells it what the window
    # holds (10 at most): four processes started together send 40 of them into a window of 30. Answers take
    # about 0.1 s, so those 10 leave before the first one comes back; no preflight read answers first.
    async with Simulator(rate=SIM_RATE, latency_ms=(300, 400)) as sim:
        await run_loaders(
            sim.url, processes=4, records_each=48, budget=None, rate=SIM_RATE, batch_size=4, concurrency=10,
            preflight=False,
        )  # fmt: skip
        stats = sim.stats()
        assert _created_once(sim, 192)
    assert stats.rate_limited.get("TEN_SECONDLY_ROLLING", 0) > 0.05 * stats.requests


@pytest.mark.timing
async def test_redis_killed_and_restarted_mid_run_loses_no_record_and_never_exceeds_the_limit(
    redis_server: RedisServer,
) -> None:
    summaries: list[dict[str, object]] = []
    async with Simulator(rate=SIM_RATE) as sim:

        async def load() -> None:
            summaries.extend(
                await run_loaders(
                    sim.url, processes=4, records_each=100, budget=redis_server.url("kill"), rate=SIM_RATE, batch_size=4
                )
            )

        async with anyio.create_task_group() as group:
            group.start_soon(load)
            # Every process has joined (each heartbeats into the members set): the load is under way.
            members = redis.Redis.from_url(redis_server.url("kill").partition("?")[0], socket_timeout=1)
            with members:
                await eventually(
                    lambda: members.zcard("cartloader:budget:{kill}:members") == 4,
                    timeout_s=30,
                )
            # In a thread: the simulator serves from this event loop and must not stall.
            await anyio.to_thread.run_sync(redis_server.kill)
            await anyio.sleep(1.0)
            await anyio.to_thread.run_sync(redis_server.start)
        stats = sim.stats()
        assert _created_once(sim, 400)
    assert stats.rate_limited.get("TEN_SECONDLY_ROLLING", 0) <= EDGE_429S
    for summary in summaries:
        assert "lost Redis" in str(summary["stderr"])
        assert "is back; rejoined" in str(summary["stderr"])
