"""``CartLoader.submit``: many callers, shared batches, each caller its own record's outcome; against the simulator
over real loopback HTTP. Waits use ``wait_all_tasks_blocked()`` and the simulator's request log, never sleeps."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import anyio
import pytest
from anyio import wait_all_tasks_blocked
from anyio.lowlevel import checkpoint

from cartloader import CartLoader, LoaderClosedError, MissingScopesError, Outcome
from cartloader.config import Backoff
from cartloader.models import CartInput, Settled
from cartloader.simulator import Simulator
from tests.test_pipeline import read_log
from tests.test_simulator_support import eventually

pytestmark = pytest.mark.anyio

FAST = "1000/1s"  # the loader's budget: far above what these tests send
# Where a test counts or numbers the batch requests submit() makes, its loader reads no schema (preflight=False).
QUICK = Backoff(0.01, 0.05)


def cart(i: int) -> dict[str, Any]:
    return {"hs_cart_name": f"cart {i}", "hs_external_cart_id": f"ext-{i}", "hs_total_price": f"{i}.50"}


class LogSink:
    """An outcome sink remembering the lines logged pending and the final outcomes."""

    def __init__(self) -> None:
        self.sent: list[int] = []
        self.final: list[Outcome] = []

    def pending(self, inputs: Sequence[CartInput]) -> None:
        self.sent.extend(record.line for record in inputs)

    def settled(self, results: Sequence[Settled]) -> None:
        self.final.extend(outcome for outcome, _ in results)


def requests_of(sim: Simulator) -> dict[int, set[str]]:
    """The simulator's request log: for each request number, the external ids of the objects it created."""
    requests: dict[int, set[str]] = {}
    for stored in sim.objects.values():
        requests.setdefault(stored.request_no, set()).add(stored.properties["hs_external_cart_id"])
    return requests


async def test_each_caller_gets_its_own_records_outcome_when_results_come_back_shuffled_without_trace_ids() -> None:
    outcomes: dict[int, Outcome] = {}
    async with Simulator(echo_trace_ids="never", seed=3) as sim:
        async with CartLoader(
            "sim-token", base_url=sim.url, rate=FAST, batch_size=20, linger=60, preflight=False
        ) as loader:

            async def caller(i: int) -> None:
                outcomes[i] = await loader.submit(cart(i))

            with anyio.fail_after(30):
                async with anyio.create_task_group() as group:
                    for i in range(1, 61):
                        group.start_soon(caller, i)
        assert sim.stats().requests == 3  # 60 records in three full batches of 20, none waiting for linger
        for i, outcome in outcomes.items():
            assert outcome.status == "created"
            assert outcome.id is not None
            assert sim.objects[outcome.id].properties["hs_external_cart_id"] == f"ext-{i}"
        assert sorted(o.line for o in outcomes.values()) == list(range(1, 61))


async def test_outcome_line_is_the_position_in_submission_order() -> None:
    async with Simulator(seed=4) as sim, CartLoader("sim-token", base_url=sim.url, rate=FAST, linger=0) as loader:
        lines = [(await loader.submit(cart(i))).line for i in range(1, 4)]
    assert lines == [1, 2, 3]


async def test_a_lone_record_is_sent_alone_once_linger_has_passed() -> None:
    async with Simulator(seed=5) as sim, CartLoader("sim-token", base_url=sim.url, rate=FAST, linger=0.05) as loader:
        with anyio.fail_after(20):  # without the linger clock it would wait for 99 more records for ever
            outcome = await loader.submit(cart(1))
        assert outcome.status == "created"
        assert requests_of(sim) == {sim.objects[outcome.id or ""].request_no: {"ext-1"}}
        assert sim.stats().inputs_received == 1


async def test_cancelling_one_caller_withdraws_its_unsent_record_and_leaves_the_others_outcomes_intact() -> None:
    outcomes: dict[int, Outcome] = {}
    log = LogSink()
    async with Simulator(seed=6) as sim:
        async with CartLoader(
            "sim-token", base_url=sim.url, rate=FAST, batch_size=5, linger=60, submit_log=log, preflight=False
        ) as loader:
            scopes: dict[int, anyio.CancelScope] = {}

            async def caller(i: int) -> None:
                with anyio.CancelScope() as scopes[i]:
                    outcomes[i] = await loader.submit(cart(i))

            with anyio.fail_after(30):
                async with anyio.create_task_group() as group:
                    for i in range(1, 5):
                        group.start_soon(caller, i)
                    await wait_all_tasks_blocked()
                    assert loader.statistics().records_waiting == 4  # an open batch of 4: nothing sent yet
                    scopes[2].cancel()
                    await wait_all_tasks_blocked()
                    group.start_soon(caller, 5)  # the fifth record fills the batch of five
            statistics = loader.statistics()
        assert sorted(outcomes) == [1, 3, 4, 5]
        for i, outcome in outcomes.items():
            assert outcome.status == "created"
            assert sim.objects[outcome.id or ""].properties["hs_external_cart_id"] == f"ext-{i}"
        assert requests_of(sim) == {1: {"ext-1", "ext-3", "ext-4", "ext-5"}}
    assert statistics.records_withdrawn == 1
    assert statistics.records_waiting == 0
    assert sorted(log.sent) == [1, 3, 4, 5]  # the withdrawn record never reached the log


async def test_a_record_withdrawn_while_its_batch_waits_for_a_rate_slot_is_never_sent() -> None:
    # Evenly paced, 3/1s less the budget's reserve of two leaves one request a second: the second batch waits for
    # its slot inside the delivery, already taken by a worker, when its caller is cancelled.
    outcomes: list[Outcome] = []
    async with Simulator(seed=13) as sim:
        async with CartLoader(
            "sim-token", base_url=sim.url, rate="3/1s", pace="even", batch_size=1, linger=0, preflight=False
        ) as loader:
            with anyio.fail_after(30):
                async with anyio.create_task_group() as group:
                    await submit_into(outcomes, loader, 1)
                    second = anyio.CancelScope()
                    group.start_soon(_cancellable, second, loader)
                    await wait_all_tasks_blocked()
                    assert loader.statistics().batches_in_flight == 1  # waiting for its rate slot
                    second.cancel()
            statistics = loader.statistics()
        assert [o.line for o in outcomes] == [1]
        assert sim.stats().requests == 1
        assert statistics.records_withdrawn == 1


async def _cancellable(scope: anyio.CancelScope, loader: CartLoader) -> None:
    with scope:
        await loader.submit(cart(2))


async def test_a_caller_cancelled_after_its_record_left_gets_nothing_but_the_outcome_is_still_logged() -> None:
    log = LogSink()
    async with Simulator(latency_ms=(200.0, 200.0), seed=7) as sim:
        async with CartLoader("sim-token", base_url=sim.url, rate=FAST, linger=0, submit_log=log) as loader:
            got: list[Outcome] = []
            with anyio.fail_after(30):
                async with anyio.create_task_group() as group:

                    async def caller() -> None:
                        got.append(await loader.submit(cart(1)))

                    group.start_soon(caller)
                    while not log.sent:  # until the request has left
                        await checkpoint()
                    group.cancel_scope.cancel()
        assert got == []
        assert [o.status for o in log.final] == ["created"]
        assert log.final[0].id in sim.objects


async def test_a_fatal_403_reaches_every_waiting_caller_and_closes_the_loader() -> None:
    errors: list[BaseException] = []
    async with Simulator(tokens={"reader": frozenset({"crm.objects.carts.read"})}, seed=8) as sim:
        async with CartLoader(
            "reader", base_url=sim.url, rate=FAST, batch_size=5, linger=60, preflight=False
        ) as loader:

            async def caller(i: int) -> None:
                try:
                    await loader.submit(cart(i))
                except MissingScopesError as exc:
                    errors.append(exc)

            with anyio.fail_after(30):
                async with anyio.create_task_group() as group:
                    for i in range(1, 13):  # two full batches are sent, two records wait in an open batch
                        group.start_soon(caller, i)
            with pytest.raises(LoaderClosedError) as later:
                await loader.submit(cart(13))
            assert loader.statistics().closed
        assert 1 <= sim.stats().requests <= 2
    assert len(errors) == 12
    assert all(e.category == "MISSING_SCOPES" and e.status == 403 for e in errors)  # type: ignore[attr-defined]
    assert isinstance(later.value.__cause__, MissingScopesError)


async def test_leaving_the_loader_sends_what_was_submitted_without_waiting_for_linger() -> None:
    outcomes: list[Outcome] = []
    async with Simulator(seed=9) as sim:
        with anyio.fail_after(20):  # linger is a minute: only the drain on close can send them in time
            async with (
                anyio.create_task_group() as group,
                CartLoader("sim-token", base_url=sim.url, rate=FAST, linger=60, preflight=False) as loader,
            ):
                for i in range(1, 8):
                    group.start_soon(submit_into, outcomes, loader, i)
                await wait_all_tasks_blocked()
                assert loader.statistics().records_waiting == 7
        assert sorted(o.line for o in outcomes) == list(range(1, 8))
        assert all(o.status == "created" for o in outcomes)
        assert sim.stats().requests == 1
    with pytest.raises(LoaderClosedError):
        await loader.submit(cart(8))


async def submit_into(into: list[Outcome], loader: CartLoader, i: int) -> None:
    into.append(await loader.submit(cart(i)))


async def submit_record(into: list[Outcome], loader: CartLoader, record: dict[str, Any]) -> None:
    into.append(await loader.submit(record))


async def test_submit_waits_while_max_pending_records_wait_unsent() -> None:
    outcomes: list[Outcome] = []
    async with Simulator(seed=10) as sim:
        async with CartLoader(
            "sim-token", base_url=sim.url, rate=FAST, batch_size=10, max_pending=3, linger=0.2
        ) as loader:
            with anyio.fail_after(30):
                async with anyio.create_task_group() as group:
                    for i in range(1, 6):
                        group.start_soon(submit_into, outcomes, loader, i)
                    await wait_all_tasks_blocked()
                    waiting = loader.statistics()
        assert waiting.records_waiting == 3
        assert waiting.callers_waiting == 3  # two more callers wait for room, their records not yet taken
        assert sorted(o.line for o in outcomes) == list(range(1, 6))
        assert sim.stats().inputs_received == 5


async def test_an_invalid_record_gets_an_invalid_outcome_and_is_never_sent() -> None:
    async with Simulator(seed=11) as sim, CartLoader("sim-token", base_url=sim.url, rate=FAST, linger=0) as loader:
        outcome = await loader.submit({"hs_cart_name": float("nan")})
        assert outcome.status == "invalid"
        assert outcome.line == 1
        assert outcome.error is not None and outcome.error.message.startswith(f"record {outcome.key}: ")
        assert sim.stats().requests == 0


async def test_a_submitted_record_resent_after_a_500_is_flagged_duplicate_risk() -> None:
    async with Simulator(faults={"post_500": 1.0}, seed=12) as sim:
        got: list[Outcome] = []
        async with (
            CartLoader("sim-token", base_url=sim.url, rate=FAST, linger=0, backoff=QUICK, preflight=False) as loader,
            anyio.create_task_group() as group,
        ):
            # No unique property: the resend creates the cart again (a 409 would answer it otherwise).
            group.start_soon(lambda: submit_record(got, loader, {"hs_cart_name": "resent"}))
            while sim.stats().requests < 1:
                await checkpoint()
            sim.set_fault("post_500", 0.0)
        assert got[0].status == "created"
        assert got[0].duplicate_risk
        assert got[0].attempts >= 2


async def test_submit_outside_the_async_with_block_is_refused() -> None:
    loader = CartLoader("sim-token", base_url="http://127.0.0.1:9")
    with pytest.raises(RuntimeError, match="async with"):
        await loader.submit(cart(1))


async def test_submit_log_is_an_outcome_log_of_the_submitted_records_in_submission_order(tmp_path: Path) -> None:
    log = tmp_path / "submitted.outcomes.ndjson"
    async with (
        Simulator(seed=14) as sim,
        CartLoader("sim-token", base_url=sim.url, rate=FAST, linger=0, submit_log=log) as loader,
    ):
        outcomes = [await loader.submit(cart(i)) for i in range(1, 4)]
    entries, meta = read_log(log)
    run_id = meta["run_id"]
    finals = {e["line"]: e for e in entries if e["status"] != "pending"}
    assert sorted(finals) == [1, 2, 3]
    for outcome in outcomes:
        assert finals[outcome.line]["id"] == outcome.id
        assert finals[outcome.line]["key"] == outcome.key == f"{run_id}-{outcome.line}"


async def test_a_refused_record_fails_alone_while_the_other_callers_of_its_batch_get_their_carts() -> None:
    outcomes: list[Outcome] = []
    async with Simulator(whole_batch_400=1.0, seed=15) as sim:
        async with (
            anyio.create_task_group() as group,
            # No preflight: HubSpot (not the loader) must refuse the bad record, with its batch.
            CartLoader("sim-token", base_url=sim.url, rate=FAST, batch_size=5, linger=60, preflight=False) as loader,
        ):
            for i in range(1, 5):
                group.start_soon(submit_into, outcomes, loader, i)
            group.start_soon(submit_record, outcomes, loader, {"hs_cart_name": "bad", "no_such_property": "x"})
            await wait_all_tasks_blocked()  # all five submitted before the loader closes
        by_line = {o.line: o for o in outcomes}
        assert len(by_line) == 5
        refused = [o for o in outcomes if o.status == "failed"]
        assert len(refused) == 1
        assert refused[0].error is not None and refused[0].error.category == "VALIDATION_ERROR"
        assert "no_such_property" in refused[0].error.message
        assert refused[0].attempts == 1  # its batch's refusal names it: failed at once, the others resent
        created = [o for o in outcomes if o.status == "created"]
        names = {sim.objects[o.id or ""].properties["hs_cart_name"] for o in created}
        assert names == {f"cart {i}" for i in range(1, 5)}
        assert sim.stats().by_status.get(400, 0) >= 1  # the whole batch was refused once, then split


async def test_leaving_the_loader_waits_for_a_create_still_running_in_another_task() -> None:
    # The block is left while another task's create() still has batches to send: its connections stay open
    # until that run ends, so every record is loaded (they used to meet "the transport is not open").
    async with Simulator(latency_ms=(100.0, 100.0), seed=12) as sim:
        summaries = []
        with anyio.fail_after(60):
            async with (
                anyio.create_task_group() as group,
                CartLoader(
                    "sim-token", base_url=sim.url, rate=FAST, concurrency=2, batch_size=10, preflight=False
                ) as loader,
            ):

                async def caller() -> None:
                    summaries.append(await loader.create([cart(i) for i in range(1, 101)]))

                group.start_soon(caller)
                await eventually(lambda: sim.stats().requests > 0, timeout_s=30)  # its first request is on the wire
        assert [(s.created, s.failed, s.total) for s in summaries] == [(100, 0, 100)]
        assert len(sim.objects) == 100
