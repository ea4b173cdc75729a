"""Design rule 4's failure table, every row, and every simulator fault, through the real loader against the
simulator over loopback HTTP.

Rows driven in tests/test_failures.py (library) and tests/test_cli_exit.py (exit codes) are not repeated here;
this module covers the rest. Row by row (design rule 4), where each is driven:

- connect error before writing: test_failures.py::test_connect_error_is_resent_without_duplicate_risk
- 429 TEN_SECONDLY_ROLLING: test_failures.py::test_ten_secondly_429_is_resent_after_a_pause_without_duplicate_risk
- 423: test_failures.py::test_locked_423_waits_at_least_two_seconds_before_resending
- 477 with Retry-After: test_migration_477_is_resent_after_retry_after_without_duplicate_risk
- 503: test_failures.py::test_transient_failure_...[pre_503]; test_503_retry_after_is_honoured
- 500, 502, 504, reset or timeout after writing, malformed 2xx (faults post_*, pre_reset, malformed_2xx):
  test_failures.py::test_transient_failure_is_resent_up_to_max_attempts_and_flagged_only_if_ambiguous;
  with --no-retry-ambiguous: test_failures.py::test_no_retry_ambiguous_fails_the_batch_as_ambiguous_after_one_request;
  524 (no simulated fault answers it): test_protocol.py's table test
- 400/409 attributable, 207 errors: test_partial_failure_fails_only_the_named_inputs,
  test_whole_batch_400_traced_fails_the_named_inputs_and_resends_the_rest,
  test_whole_batch_409_conflict_fails_only_the_conflicting_record
- 409 on a resend after an ambiguous attempt:
  test_failures.py::test_conflict_on_resend_after_ambiguous_attempt_fails_with_duplicate_risk (no preflight: the
  unique properties are unknown, nothing is read back); read back and adopted, or not: test_readback.py
- 401 after one refresh, 403, 429 DAILY, whole-batch 404: test_failures.py (library), test_cli_exit.py (exit 3),
  test_whole_batch_404_exits_3
- 2xx missing a result, 2xx whose status is not COMPLETE: test_missing_result_in_create_mode_fails_with_duplicate_risk,
  test_missing_result_in_upsert_mode_is_resent
- 2xx result matching no input: test_stray_result_is_never_assigned_and_counted_unmatched,
  test_a_stray_result_is_not_given_to_an_input_left_without_one
- partial failures inside a 201/200 (2026-09): test_partial_failure_inside_a_2026_09_2xx_fails_only_the_named_inputs
- 413: test_413_splits_the_batch_until_it_fits, test_413_for_a_single_input_fails_it_too_large
- 418 and other 4xx: test_teapot_418_fails_the_batch_with_its_status
- 477 asking more than 5 minutes: test_migration_477_asking_more_than_five_minutes_stops_the_run,
  test_migration_477_asking_more_than_five_minutes_exits_3_with_the_resume_command
- errors naming no input, trace ids echoed on some results only (faults errors_untraced, mixed_echo):
  test_untraced_errors_resend_the_inputs_without_a_result, test_mixed_echo_matches_every_result_to_its_input
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import anyio
import pytest

from cartloader.config import Backoff
from cartloader.errors import FatalApiError
from cartloader.models import Outcome
from cartloader.simulator import Simulator
from tests.test_cli_support import SimThread, run_cli
from tests.test_failures import carts, load

pytestmark = pytest.mark.anyio

EXTERNAL_ID = "hs_external_cart_id"
QUICK = Backoff(base_s=0.01, cap_s=0.05)


def by_line(outcomes: list[Outcome]) -> dict[int, Outcome]:
    """The last outcome of each line."""
    return {o.line: o for o in outcomes}


def bad_record(i: int) -> dict[str, Any]:
    """A cart HubSpot refuses (a number property that is not a number)."""
    return {"hs_cart_name": f"bad {i}", "hs_external_cart_id": f"bad-{i}", "hs_total_price": "ten"}


def held(sim: Simulator) -> list[str]:
    """The external ids the simulator holds, sorted (a duplicate shows twice)."""
    return sorted(obj.properties.get(EXTERNAL_ID, "") for obj in sim.objects.values())


# --- resent after a wait, nothing processed ------------------------------------------------------------------------


async def test_migration_477_is_resent_after_retry_after_without_duplicate_risk() -> None:
    async with Simulator(faults_at={1: "migration_477"}, retry_after_s=0.01) as sim:
        outcomes, summary = await load(sim, carts(3))
        assert held(sim) == ["ext-1", "ext-2", "ext-3"]
    assert summary.created == 3
    assert summary.retries == 1
    assert all(o.attempts == 2 and not o.duplicate_risk for o in outcomes)


async def test_503_retry_after_is_honoured() -> None:
    async with Simulator(faults_at={1: "pre_503"}, retry_after_s=1) as sim:
        outcomes, summary = await load(sim, carts(2), backoff=Backoff(base_s=0.001, cap_s=0.001))
    assert summary.created == 2
    assert summary.elapsed_s >= 1.0
    assert all(o.attempts == 2 and not o.duplicate_risk for o in outcomes)


async def test_migration_477_asking_more_than_five_minutes_stops_the_run() -> None:
    async with Simulator(faults_at={1: "migration_477"}, retry_after_s=301) as sim:
        with pytest.raises(FatalApiError) as caught, anyio.fail_after(10):  # not after waiting 301 s
            await load(sim, carts(3))
        assert not sim.objects
    assert caught.value.status == 477
    assert "301 s" in str(caught.value)


def test_migration_477_asking_more_than_five_minutes_exits_3_with_the_resume_command(
    tmp_path: Path, simulator: Any
) -> None:
    sim: SimThread = simulator(faults_at={1: "migration_477"}, retry_after_s=600)
    source = tmp_path / "carts.ndjson"
    source.write_text("".join(f'{{"hs_cart_name": "c{i}"}}\n' for i in range(3)))
    result = run_cli(source, "--base-url", sim.url, cwd=tmp_path)
    assert result.returncode == 3, result.stderr
    assert "--resume" in result.stderr
    assert sim.objects() == []


def test_whole_batch_404_exits_3(tmp_path: Path, simulator: Any) -> None:
    sim: SimThread = simulator()
    source = tmp_path / "carts.ndjson"
    source.write_text('{"hs_cart_name": "c"}\n')
    result = run_cli(source, "--base-url", sim.url, "--object-type", "wagons", cwd=tmp_path)
    assert result.returncode == 3, result.stderr
    assert "404" in result.stderr


# --- refused for good ----------------------------------------------------------------------------------------------


async def test_partial_failure_fails_only_the_named_inputs() -> None:
    async with Simulator() as sim:
        outcomes, summary = await load(sim, [*carts(2), bad_record(3)])
        assert held(sim) == ["ext-1", "ext-2"]
    lines = by_line(outcomes)
    assert (lines[1].status, lines[2].status, lines[3].status) == ("created", "created", "failed")
    assert lines[3].error is not None
    assert (lines[3].error.category, lines[3].error.status) == ("VALIDATION_ERROR", 400)
    assert summary.requests == 1
    assert not any(o.duplicate_risk for o in outcomes)


@pytest.mark.parametrize("kind", ["create", "upsert"])
async def test_partial_failure_inside_a_2026_09_2xx_fails_only_the_named_inputs(kind: str) -> None:
    upsert_by = EXTERNAL_ID if kind == "upsert" else None
    async with Simulator(unique=(EXTERNAL_ID,)) as sim:
        outcomes, summary = await load(
            sim, [*carts(2), bad_record(3)], api_path="/crm/objects/2026-09", upsert_by=upsert_by
        )
        stats = sim.stats()
        assert held(sim) == ["ext-1", "ext-2"]
    assert stats.by_status == {200 if upsert_by else 201: 1}
    lines = by_line(outcomes)
    assert [lines[i].status for i in (1, 2)] == ["created", "created"]
    assert lines[3].status == "failed"
    assert lines[3].error is not None and lines[3].error.category == "VALIDATION_ERROR"
    assert {lines[1].id, lines[2].id} == set(sim.objects)
    assert summary.requests == 1


async def test_whole_batch_400_traced_fails_the_named_inputs_and_resends_the_rest() -> None:
    async with Simulator(faults_at={1: "batch_error_traced"}) as sim:
        outcomes, summary = await load(sim, [*carts(2), bad_record(3), bad_record(4)])
        assert held(sim) == ["ext-1", "ext-2"]
    lines = by_line(outcomes)
    assert [lines[i].status for i in (1, 2, 3, 4)] == ["created", "created", "failed", "failed"]
    assert [lines[i].attempts for i in (1, 2, 3, 4)] == [2, 2, 1, 1]
    assert summary.requests == 2
    assert not any(o.duplicate_risk for o in outcomes)


async def test_whole_batch_409_conflict_fails_only_the_conflicting_record() -> None:
    async with Simulator(unique=(EXTERNAL_ID,)) as sim:
        await load(sim, carts(1))
        first = next(iter(sim.objects))
        outcomes, _ = await load(sim, [*carts(4)])
        assert held(sim) == ["ext-1", "ext-2", "ext-3", "ext-4"]
    lines = by_line(outcomes)
    assert lines[1].status == "failed"
    assert lines[1].error is not None
    assert (lines[1].error.category, lines[1].error.status) == ("CONFLICT", 409)
    assert f"Existing ID: {first}" in lines[1].error.message
    assert [lines[i].status for i in (2, 3, 4)] == ["created"] * 3
    assert not any(o.duplicate_risk for o in outcomes)


async def test_teapot_418_fails_the_batch_with_its_status() -> None:
    async with Simulator(faults_at={1: "teapot_418"}) as sim:
        outcomes, summary = await load(sim, carts(3))
        assert not sim.objects
    assert summary.failed == 3
    assert summary.requests == 1
    assert all(o.error is not None and o.error.status == 418 and not o.duplicate_risk for o in outcomes)


async def test_413_splits_the_batch_until_it_fits() -> None:
    async with Simulator(faults_at={1: "too_large_413"}) as sim:
        outcomes, summary = await load(sim, carts(4))
        assert held(sim) == ["ext-1", "ext-2", "ext-3", "ext-4"]
    assert summary.created == 4
    assert summary.requests == 3  # the whole batch, then its two halves
    assert not any(o.duplicate_risk for o in outcomes)


async def test_413_for_a_single_input_fails_it_too_large() -> None:
    async with Simulator(faults={"too_large_413": 1.0}) as sim:
        outcomes, summary = await load(sim, carts(2))
        assert not sim.objects
    assert summary.failed == 2
    assert summary.requests == 3
    assert all(o.error is not None and (o.error.category, o.error.status) == ("TOO_LARGE", 413) for o in outcomes)


# --- 2xx that does not account for every input ----------------------------------------------------------------------


@pytest.mark.parametrize("fault", ["missing_result", "status_not_complete"])
async def test_missing_result_in_create_mode_fails_with_duplicate_risk(fault: str) -> None:
    async with Simulator(faults_at={1: fault}) as sim:
        outcomes, summary = await load(sim, carts(3))
        assert len(sim.objects) == 3  # processed: the records exist
    missing = [o for o in outcomes if o.status == "failed"]
    assert len(missing) == (1 if fault == "missing_result" else 3)
    assert all(o.error is not None and o.error.category == "MISSING_RESULT" and o.duplicate_risk for o in missing)
    if fault == "status_not_complete":
        assert all(o.error is not None and "batch status PENDING" in o.error.message for o in missing)
    assert all(o.status == "created" and o.id in sim.objects for o in outcomes if o not in missing)
    assert summary.requests == 1


@pytest.mark.parametrize("fault", ["missing_result", "status_not_complete"])
async def test_missing_result_in_upsert_mode_is_resent(fault: str) -> None:
    async with Simulator(faults_at={1: fault}, unique=(EXTERNAL_ID,)) as sim:
        outcomes, summary = await load(sim, carts(3), upsert_by=EXTERNAL_ID)
        assert held(sim) == ["ext-1", "ext-2", "ext-3"]
    assert all(o.status in ("created", "updated") and o.id in sim.objects for o in outcomes)
    assert summary.requests == 2
    assert not any(o.duplicate_risk for o in outcomes)


async def test_stray_result_is_never_assigned_and_counted_unmatched() -> None:
    async with Simulator(faults_at={1: "stray_result"}, echo_trace_ids="never") as sim:
        outcomes, summary = await load(sim, carts(3))
        ids = set(sim.objects)
    assert {o.id for o in outcomes} == ids
    assert all(o.status == "created" and not o.unmatched for o in outcomes)
    assert summary.unmatched == 1


async def test_a_stray_result_is_not_given_to_an_input_left_without_one() -> None:
    async with Simulator(faults_at={1: "missing_result"}, echo_trace_ids="never") as sim:
        sim.force_fault("stray_result", 2)
        first, _ = await load(sim, carts(3))
        outcomes, summary = await load(sim, carts(3))  # another 3, answered with a stray result
    assert summary.unmatched == 1
    assert all(o.status == "created" for o in outcomes)
    assert [o.status for o in first].count("failed") == 1


async def test_untraced_errors_resend_the_inputs_without_a_result() -> None:
    async with Simulator(faults_at={1: "errors_untraced"}) as sim:
        outcomes, _ = await load(sim, [*carts(2), bad_record(3)])
        assert held(sim) == ["ext-1", "ext-2"]
    lines = by_line(outcomes)
    assert [lines[i].status for i in (1, 2, 3)] == ["created", "created", "failed"]
    assert [lines[i].attempts for i in (1, 2, 3)] == [1, 1, 2]
    assert not any(o.duplicate_risk for o in outcomes)


async def test_mixed_echo_matches_every_result_to_its_input() -> None:
    records = [{"hs_cart_name": f"cart {i}", "hs_total_price": f"{i}.50"} for i in range(1, 11)]
    async with Simulator(faults_at={1: "mixed_echo"}, echo_trace_ids="always") as sim:
        outcomes, summary = await load(sim, records)
        names = {obj.id: obj.properties["hs_cart_name"] for obj in sim.objects.values()}
    assert summary.created == 10
    assert all(o.id is not None and names[o.id] == f"cart {o.line}" for o in outcomes)
