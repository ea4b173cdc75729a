"""``submit()`` where hand-made mutants showed it unproven (issue 25), against the simulator over loopback HTTP:
records refused before sending (invalid, or refused by the preflight) give their room back, so more of them than
``max_pending`` never deadlock; callers waiting for room when a fatal error arrives get that error as itself."""

from __future__ import annotations

from typing import Any

import anyio
import pytest

from cartloader import CartLoader, LoaderClosedError, MissingScopesError, Outcome
from cartloader.errors import AuthenticationError, FatalApiError
from cartloader.simulator import Simulator
from cartloader.simulator.config import DEFAULT_SCOPES

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
    sensitive = {"crm.objects.carts.sensitive.read", "crm.objects.carts.highly_sensitive.read"}
    async with Simulator(seed=21, tokens={"sim-token": DEFAULT_SCOPES | sensitive}) as sim:
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
