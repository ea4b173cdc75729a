"""``submit()`` where hand-made mutants showed it unproven (issue 25), against the simulator over loopback HTTP:
records refused before sending (invalid, or refused by the preflight) give their room back, so more of them than
``max_pending`` never deadlock; callers waiting for room when a fatal error arrives get that error as itself."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from pathlib import Path
from typing import Any

import anyio
import pytest
from anyio import wait_all_tasks_blocked
from anyio.lowlevel import checkpoint

from cartloader import CartLoader, LoaderClosedError, MissingScopesError, Outcome
from cartloader.api.submissions import Submissions
from cartloader.engine.collector import Collector
from cartloader.errors import AuthenticationError, FatalApiError, OutcomeLogError
from cartloader.models import CartInput, InvalidInput, Settled
from cartloader.simulator import Simulator
from tests.test_cli_support import SENSITIVE_READER

pytestmark = pytest.mark.anyio

FAST = "1000/1s"
MAX_PENDING = 3


def cart(i: int) -> dict[str, Any]:
    return {"hs_cart_name": f"cart {i}", "hs_external_cart_id": f"ext-{i}"}


def invalid(i: int) -> dict[str, Any]:
    """A record refused before sending: malformed (odd lines), or refused by the preflight (even lines)."""
    if i % 2:
        return {"hs_cart_name": float("nan")}
    return {"hs_cart_name": f"cart {i}", "no_such_property": "x"}


@pytest.mark.parametrize("concurrent", [False, True])
async def test_more_invalid_submissions_than_max_pending_never_deadlock(concurrent: bool) -> None:
    outcomes: list[Outcome] = []
    count = 4 * MAX_PENDING
    # A token that may read the sensitive lists: the preflight then refuses the unknown property locally.
    async with Simulator(tokens={"sim-token": SENSITIVE_READER}, seed=21) as sim:
        async with CartLoader("sim-token", base_url=sim.url, rate=FAST, max_pending=MAX_PENDING, linger=0.05) as loader:
            with anyio.fail_after(20):
                if concurrent:
                    async with anyio.create_task_group() as group:
                        for i in range(1, count + 1):
                            group.start_soon(_submit, outcomes, loader, invalid(i))
                else:
                    for i in range(1, count + 1):
                        outcomes.append(await loader.submit(invalid(i)))
                # ... and the room they held is free again: good records still go.
                assert loader.statistics().records_waiting == 0
                async with anyio.create_task_group() as group:
                    for i in range(count + 1, count + 1 + MAX_PENDING):
                        group.start_soon(_submit, outcomes, loader, cart(i))
        assert sim.stats().inputs_received == MAX_PENDING
    assert sorted(o.line for o in outcomes) == list(range(1, count + 1 + MAX_PENDING))
    assert [o.status for o in sorted(outcomes, key=lambda o: o.line)] == ["invalid"] * count + ["created"] * MAX_PENDING


async def _submit(into: list[Outcome], loader: CartLoader, record: dict[str, Any]) -> None:
    into.append(await loader.submit(record))


@pytest.mark.parametrize("fatal", ["403 on a batch", "401 on the schema read"])
async def test_callers_waiting_for_room_when_a_fatal_error_arrives_get_that_error(fatal: str) -> None:
    errors: list[BaseException] = []
    callers = 4 * MAX_PENDING
    # 403: a token that may read carts only, its first batch refused. 401: a token HubSpot does not know, refused
    # by the preflight's first schema read, while every caller but the first MAX_PENDING waits for room.
    expected: type[FatalApiError] = MissingScopesError if fatal.startswith("403") else AuthenticationError
    async with Simulator(tokens={"reader": frozenset({"crm.objects.carts.read"})}, seed=22) as sim:
        async with CartLoader(
            "reader" if expected is MissingScopesError else "unknown-token",
            base_url=sim.url,
            rate=FAST,
            batch_size=MAX_PENDING if expected is MissingScopesError else 100,
            max_pending=MAX_PENDING,
            linger=60,
            preflight=expected is AuthenticationError,
        ) as loader:

            async def caller(i: int) -> None:
                try:
                    await loader.submit(cart(i))
                except Exception as exc:  # every caller must end with an error: none may hang
                    errors.append(exc)

            with anyio.fail_after(20):
                async with anyio.create_task_group() as group:
                    for i in range(1, callers + 1):
                        group.start_soon(caller, i)
            assert loader.statistics().closed
        # The fatal answer stopped the run before every caller had room.
        assert sim.stats().inputs_received < callers
    assert len(errors) == callers
    # Not a generic "loader closed": the fatal error itself, to every caller, those that waited for room too.
    assert all(type(e) is expected for e in errors), {type(e).__name__ for e in errors}
    with pytest.raises(LoaderClosedError):
        await loader.submit(cart(0))


async def test_callers_waiting_for_room_when_the_loader_is_left_get_loader_closed_and_none_hangs() -> None:
    outcomes: list[Outcome] = []
    errors: list[BaseException] = []

    async def caller(loader: CartLoader, i: int) -> None:
        try:
            outcomes.append(await loader.submit(cart(i)))
        except LoaderClosedError as exc:
            errors.append(exc)

    async with Simulator(seed=23) as sim:
        with anyio.fail_after(20):
            async with anyio.create_task_group() as group:  # the callers outlive the loader's block
                options: dict[str, Any] = {"rate": FAST, "max_pending": MAX_PENDING, "linger": 60, "preflight": False}
                async with CartLoader("sim-token", base_url=sim.url, **options) as loader:
                    for i in range(1, 3 * MAX_PENDING + 1):
                        group.start_soon(caller, loader, i)
                    await wait_all_tasks_blocked()
                    assert loader.statistics().records_waiting == MAX_PENDING
                # Left: the records submitted are sent; each caller still waiting for room is told the loader closed.
        assert sim.stats().inputs_received == MAX_PENDING
    assert sorted((o.line, o.status) for o in outcomes) == [(i, "created") for i in range(1, MAX_PENDING + 1)]
    assert [str(e) for e in errors] == ["the loader is closed: make a new CartLoader"] * (2 * MAX_PENDING)
    assert all(e.__cause__ is None for e in errors)
    statistics = loader.statistics()
    assert (statistics.records_submitted, statistics.records_waiting, statistics.callers_waiting) == (MAX_PENDING, 0, 0)


async def test_callers_of_a_loader_cancelled_before_their_records_left_are_told_so() -> None:
    errors: list[BaseException] = []

    async def caller(loader: CartLoader, i: int) -> None:
        try:
            await loader.submit(cart(i))
        except LoaderClosedError as exc:
            errors.append(exc)

    async with Simulator(seed=24) as sim:
        with anyio.fail_after(20):
            async with anyio.create_task_group() as group:
                with anyio.CancelScope() as scope:
                    options: dict[str, Any] = {"rate": FAST, "linger": 60, "preflight": False}
                    async with CartLoader("sim-token", base_url=sim.url, **options) as loader:
                        for i in range(1, MAX_PENDING + 1):
                            group.start_soon(caller, loader, i)
                        await wait_all_tasks_blocked()
                        scope.cancel()  # the loader's block is cancelled: nothing is drained
                        await checkpoint()
        assert sim.stats().inputs_received == 0
    assert [str(e) for e in errors] == ["the loader closed before this record was sent"] * MAX_PENDING


async def test_a_fatal_error_in_another_tasks_create_reaches_the_callers_waiting_in_submit_as_itself() -> None:
    errors: list[BaseException] = []

    async def caller(loader: CartLoader, i: int) -> None:
        try:
            await loader.submit(cart(i))
        except MissingScopesError as exc:
            errors.append(exc)

    async with Simulator(tokens={"reader": frozenset({"crm.objects.carts.read"})}, seed=25) as sim:
        with anyio.fail_after(20):
            async with (
                CartLoader("reader", base_url=sim.url, rate=FAST, linger=60, preflight=False) as loader,
                anyio.create_task_group() as group,
            ):
                for i in range(1, MAX_PENDING + 1):
                    group.start_soon(caller, loader, i)
                await wait_all_tasks_blocked()  # their records wait in an open batch (linger is a minute)
                with pytest.raises(MissingScopesError):
                    await loader.create([cart(0)])
        assert sim.stats().requests == 1  # create()'s batch only: the submitted records were never sent
    assert len(errors) == MAX_PENDING and all(type(e) is MissingScopesError for e in errors)


async def test_an_invalid_record_is_named_by_its_own_trace_id_else_by_the_generated_key() -> None:
    nan = float("nan")
    async with Simulator(seed=26) as sim, CartLoader("sim-token", base_url=sim.url, rate=FAST, linger=0) as loader:
        first = await loader.submit({"hs_cart_name": "one"})
        own = await loader.submit({"properties": {"hs_cart_name": nan}, "objectWriteTraceId": "order-9"})
        empty = await loader.submit({"properties": {"hs_cart_name": nan}, "objectWriteTraceId": ""})
        number = await loader.submit({"properties": {"hs_cart_name": nan}, "objectWriteTraceId": 5})
        # A message quoting a name that looks like a line prefix: only the leading prefix names the record.
        quoting = await loader.submit({"properties": {"line 1: odd": nan}})
        not_a_record = await loader.submit("not a record")
    assert first.key is not None
    run_id = first.key.rsplit("-", 1)[0]
    keys = [o.key for o in (own, empty, number, quoting, not_a_record)]
    assert keys == ["order-9", f"{run_id}-3", f"{run_id}-4", f"{run_id}-5", f"{run_id}-6"]
    assert own.error is not None and own.error.message == 'record order-9: property "hs_cart_name": NaN is not allowed'
    assert quoting.error is not None
    assert quoting.error.message == f'record {run_id}-5: property "line 1: odd": NaN is not allowed'
    assert sim.stats().inputs_received == 1


async def test_a_fatal_error_before_the_pipeline_first_runs_stops_it_before_any_record_is_taken() -> None:
    # The first caller starts the pipeline (start_soon) and waits; the fatal error comes from another task before the
    # pipeline's first step: it must stop at once, as it does once running, not take the queued record first.
    taken: list[int] = []
    errors: list[BaseException] = []
    fatal = AuthenticationError("401 from another run", status=401)
    submissions = Submissions(max_pending=MAX_PENDING)

    async def pipeline(source: AsyncIterator[CartInput | InvalidInput], collector: Collector) -> None:
        async for item in source:
            taken.append(item.line)

    async def caller() -> None:
        try:
            await submissions.submit(cart(1))
        except AuthenticationError as exc:
            errors.append(exc)

    async def stop() -> None:  # another run's fatal error, as CartLoader._stop hands it on
        submissions.abort(fatal)

    with anyio.fail_after(5):
        async with anyio.create_task_group() as group:
            assert submissions.start()
            group.start_soon(caller)  # the loader's submit(): its record is queued, it waits for the outcome
            group.start_soon(stop)  # runs before the pipeline below
            group.start_soon(submissions.serve, pipeline, ())
    assert taken == []
    assert [str(e) for e in errors] == [str(fatal)]
    assert submissions.statistics().waiting == 0


async def test_a_record_gives_its_room_back_once_sent_not_once_answered() -> None:
    sent: list[int] = []
    settled: list[list[int]] = []

    class Log:
        def pending(self, inputs: Sequence[CartInput]) -> None:
            sent.extend(record.line for record in inputs)

        def settled(self, results: Sequence[Settled]) -> None:
            settled.append([outcome.line for outcome, _ in results])

    outcomes: list[Outcome] = []
    cancel = anyio.CancelScope()

    async def cancelled_caller(loader: CartLoader) -> None:
        with cancel:
            await loader.submit(cart(1))

    # About 250 ms per answer: far longer than sending the next batch takes, even on a loaded machine.
    async with Simulator(latency_ms=(800.0, 800.0), seed=31) as sim:
        with anyio.fail_after(20):
            async with (
                CartLoader(
                    "sim-token", base_url=sim.url, rate=FAST, max_pending=2, batch_size=2, linger=0, submit_log=Log()
                ) as loader,
                anyio.create_task_group() as group,
            ):
                group.start_soon(cancelled_caller, loader)
                group.start_soon(_submit, outcomes, loader, cart(2))
                while len(sent) < 2:  # until both records' request has left
                    await checkpoint()
                statistics = loader.statistics()
                assert (statistics.records_waiting, statistics.callers_waiting) == (0, 2)
                assert repr(loader._submissions) == "Submissions(submitted=2, waiting=0, callers_waiting=2)"
                # A caller cancelled once its record left: nothing is withdrawn, and the outcome of its record (the
                # batch's first) is passed over for the next caller's.
                cancel.cancel()
                # Room for more while the first batch is on the wire: a third record is sent before it is answered.
                group.start_soon(_submit, outcomes, loader, cart(3))
                while len(sent) < 3:
                    await checkpoint()
                assert outcomes == []
        statistics = loader.statistics()
        assert (statistics.records_submitted, statistics.records_withdrawn) == (3, 0)
    assert sorted(o.line for o in outcomes) == [2, 3]
    assert sorted(settled) == [[1, 2], [3]]  # the first batch's results in the simulator's (seeded) order


async def test_a_record_withdrawn_while_still_queued_is_skipped_and_the_records_after_it_still_go() -> None:
    outcomes: list[Outcome] = []
    async with Simulator(latency_ms=(200.0, 200.0), seed=28) as sim:
        with anyio.fail_after(20):
            async with (
                CartLoader("sim-token", base_url=sim.url, rate=FAST, linger=0) as loader,
                anyio.create_task_group() as group,
            ):
                cancel = anyio.CancelScope()

                async def withdrawn() -> None:
                    with cancel:
                        await loader.submit(cart(2))

                group.start_soon(_submit, outcomes, loader, cart(1))
                group.start_soon(withdrawn)
                while loader.statistics().callers_waiting < 2:  # the pipeline reads the schema (a slow answer)
                    await checkpoint()
                cancel.cancel()  # record 2 still waits in the queue
                group.start_soon(_submit, outcomes, loader, cart(3))
        assert sim.stats().inputs_received == 2
    assert sorted((o.line, o.status) for o in outcomes) == [(1, "created"), (3, "created")]
    assert loader.statistics().records_withdrawn == 1


async def test_a_submit_log_that_cannot_be_written_stops_submit_and_later_calls_name_it(tmp_path: Path) -> None:
    log = tmp_path / "submitted.ndjson"
    log.symlink_to("/dev/full")  # every write fails: no space left on device
    async with (
        Simulator(seed=29) as sim,
        CartLoader("sim-token", base_url=sim.url, rate=FAST, linger=0, submit_log=str(log)) as loader,
    ):
        with pytest.raises(OutcomeLogError) as first:
            await loader.submit(cart(1))
        with pytest.raises(LoaderClosedError) as later:
            await loader.submit(cart(2))
    reason = f"cannot write outcome log {log}: No space left on device"
    assert str(first.value) == reason
    assert str(later.value) == f"the loader stopped after a fatal error ({reason}): make a new one"
    assert type(later.value.__cause__) is OutcomeLogError and str(later.value.__cause__) == reason


async def test_a_caller_cancelled_as_its_outcome_arrives_gives_its_room_back_once() -> None:
    # asyncio's own cancellation (a web framework's timeout, task.cancel()) still lands when the caller's outcome has
    # arrived but it has not run yet: its ticket is gone, its room already given back.
    caller_task: list[asyncio.Task[Any]] = []
    ended: list[str] = []

    class CancelOnSettled:  # a sink told after the caller's ticket: the caller is cancelled right then
        def pending(self, inputs: Sequence[CartInput]) -> None:
            pass

        def settled(self, results: Sequence[Settled]) -> None:
            caller_task[0].cancel()

    async def caller(loader: CartLoader) -> None:
        task = asyncio.current_task()
        assert task is not None
        caller_task.append(task)
        try:
            await loader.submit({"hs_cart_name": float("nan")})
        except asyncio.CancelledError:
            ended.append("cancelled")
            task.uncancel()

    sink = CancelOnSettled()
    async with Simulator(seed=30) as sim:
        with anyio.fail_after(20):
            async with (
                CartLoader("sim-token", base_url=sim.url, rate=FAST, max_pending=2, submit_log=sink) as loader,
                anyio.create_task_group() as group,
            ):
                group.start_soon(caller, loader)
                await wait_all_tasks_blocked()
                statistics = loader.statistics()
    assert ended == ["cancelled"]
    assert (statistics.records_waiting, statistics.callers_waiting, statistics.records_withdrawn) == (0, 0, 0)
