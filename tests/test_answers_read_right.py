"""Every answer read right (issue 24), end to end over loopback: a record whose ``""`` value HubSpot leaves out of
its answer is matched without a trace id; an answer that may have created a record left without a result is
never resent unflagged; a value HubSpot's refusal names is blamed only when named whole (``EUR`` is not ``EUR X``,
``12`` is not ``12 500``)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import orjson
import pytest
from aiohttp import web

from cartloader.api.loader import bulk_create
from cartloader.cli.main import main
from cartloader.cli.options import parse_options
from cartloader.config import Backoff, LoaderConfig
from cartloader.hubspot.transport import Transport
from cartloader.models import Outcome, Summary
from cartloader.simulator import Simulator
from tests.test_cli_support import Start

QUICK = Backoff(base_s=0.001, cap_s=0.005)


def test_the_smallest_case_a_blank_value_and_no_trace_id_echoed_is_created(
    tmp_path: Path, simulator: Start, monkeypatch: pytest.MonkeyPatch
) -> None:
    sim = simulator(echo_trace_ids="never")
    source = tmp_path / "one.ndjson"
    source.write_bytes(b'{"hs_cart_name": "a", "hs_tags": ""}\n')
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("HUBSPOT_ACCESS_TOKEN", "sim-token")
    assert main([str(source), "--base-url", sim.url, "--no-progress"]) == 0
    entries = [orjson.loads(line) for line in (tmp_path / "one.outcomes.ndjson").read_bytes().splitlines()]
    objects = sim.objects()
    assert entries[-1]["status"] == "created" and [entries[-1]["id"]] == [obj.id for obj in objects]
    assert "duplicate_risk" not in entries[-1]


@asynccontextmanager
async def untraced_hubspot(answers: list[int]) -> AsyncIterator[str]:
    """A HubSpot that creates every input but the first and last of a batch's, answering a 207 with the first's
    result (its trace id not echoed) and one error naming no trace id (the last's), leaving the middle input's
    result out; ``answers`` counts its batch requests."""

    async def create(request: web.Request) -> web.Response:
        answers.append(1)
        inputs = (await request.json())["inputs"]
        body = {
            "status": "COMPLETE",
            "results": [{"id": "101", "properties": {**inputs[0]["properties"], "hs_object_id": "101"}}],
            "numErrors": 1,
            "errors": [{"status": "error", "category": "VALIDATION_ERROR", "message": "Property values were not valid",
                        "context": {}}],
        }  # fmt: skip
        return web.json_response(body, status=207)

    app = web.Application()
    app.router.add_post("/crm/v3/objects/carts/batch/create", create)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        await runner.cleanup()


@pytest.mark.anyio
async def test_an_untraced_error_with_more_inputs_left_over_resends_none_of_them_unflagged() -> None:
    # Two inputs left without a result, one error naming none: one of them may exist. Neither is resent; both fail
    # MISSING_RESULT flagged duplicate_risk (the loader used to resend them both, unflagged).
    answers: list[int] = []
    outcomes: list[Outcome] = []
    records = [{"hs_cart_name": name} for name in ("first", "middle", "last")]
    async with untraced_hubspot(answers) as url:
        summary = await bulk_create(records, token="t", base_url=url, api_version="v3", preflight=False,
                                    on_outcome=outcomes.append, backoff=QUICK, rate="1000/1s")  # fmt: skip
    by_line = {o.line: o for o in outcomes}
    assert len(answers) == 1
    assert (by_line[1].status, by_line[1].id) == ("created", "101")
    for line in (2, 3):
        outcome = by_line[line]
        assert outcome.status == "failed" and outcome.duplicate_risk and outcome.error is not None
        assert outcome.error.category == "MISSING_RESULT"
        assert "1 error(s) in the answer named no input" in outcome.error.message
    assert summary.duplicate_risk == 2


# --- attribution: a value blamed only when named whole ----------------------------------------------------------------


async def refused_whole(
    count: int, bad_every: int, prop: str, good: str, bad: str
) -> tuple[dict[int, Outcome], Summary]:
    """Load ``count`` carts with ``prop`` = ``good``, every ``bad_every``-th ``bad``, against a simulator that
    refuses whole every batch holding a bad input (without the preflight: HubSpot sees them)."""
    records: list[dict[str, Any]] = [
        {"hs_cart_name": f"cart {n}", prop: bad if n % bad_every == 0 else good} for n in range(1, count + 1)
    ]
    outcomes: list[Outcome] = []
    async with Simulator(seed=24, whole_batch_400=1.0, echo_trace_ids="never") as sim:
        summary = await bulk_create(records, token="sim-token", base_url=sim.url, preflight=False, rate="100000/1s",
                                    on_outcome=outcomes.append, backoff=QUICK, concurrency=4)  # fmt: skip
        held = {obj.properties["hs_cart_name"] for obj in sim.objects.values()}
    by_line = {o.line: o for o in outcomes}
    assert len(by_line) == count
    good_lines = [n for n in range(1, count + 1) if n % bad_every]
    assert all(by_line[n].status == "created" for n in good_lines), summary
    assert held == {f"cart {n}" for n in good_lines}
    for n in range(bad_every, count + 1, bad_every):
        error = by_line[n].error
        assert by_line[n].status in ("failed", "invalid") and error is not None
    return by_line, summary


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("prop", "good", "bad", "code"),
    [("hs_currency_code", "EUR", "EUR X", "INVALID_OPTION"), ("hs_total_price", "12", "12 500", "INVALID_DECIMAL")],
)
async def test_a_refused_value_is_blamed_only_on_inputs_carrying_it_whole(
    prop: str, good: str, bad: str, code: str
) -> None:
    by_line, summary = await refused_whole(300, 100, prop, good, bad)
    assert (summary.created, summary.failed + summary.invalid) == (297, 3)
    errors = [by_line[n].error for n in (100, 200, 300)]
    assert all(error is not None and code in (error.category, *(p.code for p in error.details)) for error in errors)


@pytest.mark.anyio
async def test_2000_carts_in_eur_with_20_in_eur_x_refused_whole_create_all_1980() -> None:
    _, summary = await refused_whole(2000, 100, "hs_currency_code", "EUR", "EUR X")
    assert (summary.created, summary.failed + summary.invalid) == (1980, 20)


# --- timeouts that fit HubSpot ----------------------------------------------------------------------------------------


def test_the_default_total_timeout_outlasts_hubspots_100_s_and_the_connect_timeout_stays_short() -> None:
    # HubSpot answers 524 after 100 s: a shorter client timeout gives up on batches it is still writing, then
    # resends them (a duplicate, flagged). The connect timeout is separate and short (a dead host fails fast).
    config = LoaderConfig()
    assert config.timeout_s >= 110
    assert config.connect_timeout_s <= 15
    assert parse_options(["carts.ndjson"]).timeout_s == config.timeout_s
    transport = Transport(connections=1, timeout_s=config.timeout_s, connect_timeout_s=config.connect_timeout_s)
    timeout = transport._timeout
    assert (timeout.total, timeout.sock_connect) == (config.timeout_s, config.connect_timeout_s)
