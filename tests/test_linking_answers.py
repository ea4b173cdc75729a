"""What the writing of upserted records' associations (engine/linking.py) makes of each answer of HubSpot's v4 batch
associations API, one ``Linker`` driven in process over loopback HTTP: the simulator, or a HubSpot scripted to give
the answers the simulator never gives (a 5xx then a 201, a whole request refused, a 300, a 404, an error naming
nobody, no word on a link). Each failing link is named in its record's ``ASSOCIATION_FAILED`` error with the reason
that concerns it, the status the failure reports, and the targets HubSpot named as ``details``."""

from __future__ import annotations

import random
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from cartloader.budget.local import RateBudget
from cartloader.config import Backoff, LoaderConfig
from cartloader.engine.calls import Requester
from cartloader.engine.concurrency import InFlightLimit
from cartloader.engine.linking import ASSOCIATION_FAILED, Linker
from cartloader.engine.stats import RunStats
from cartloader.errors import MissingScopesError
from cartloader.hubspot.auth import TokenSource
from cartloader.hubspot.transport import Transport
from cartloader.models import CartInput, PropertyProblem, RecordError
from cartloader.rate import Rate
from cartloader.simulator import Simulator
from cartloader.simulator.config import SCHEMA_READ_SCOPE

pytestmark = pytest.mark.anyio

QUICK = Backoff(base_s=0.001, cap_s=0.002)
CONTACT = {"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": 586}
INVALID = "One or more associations are invalid"
Answer = tuple[int, Any]


def cart(line: int, *to_ids: str, types: Any = None) -> CartInput:
    links = [{"to": {"id": to_id}, "types": types or [CONTACT]} for to_id in to_ids]
    return CartInput(line, {"hs_external_cart_id": f"ext-{line}"}, links)


def failed(object_id: str, reasons: str, status: int | None, *details: PropertyProblem) -> RecordError:
    return RecordError(
        ASSOCIATION_FAILED, f"upserted as {object_id}, but not associated with {reasons}", status, details
    )


def invalid_target(to_id: str) -> PropertyProblem:
    return PropertyProblem("associations", "INVALID_OBJECT_IDS", INVALID, to_id)


@asynccontextmanager
async def linker(base_url: str, *, token: str = "sim-token", **options: Any) -> AsyncIterator[Linker]:
    """A Linker with the parts a run gives it: a real transport, token, budget and concurrency limit."""
    config = LoaderConfig(base_url=base_url, upsert_by="hs_external_cart_id", backoff=QUICK, **options)
    budget = RateBudget(Rate(1000, 1.0))
    transport = Transport(connections=4, timeout_s=5.0, connect_timeout_s=2.0)
    await transport.open()
    try:
        capacity = InFlightLimit(config.concurrency, budget)
        requester = Requester(transport=transport, token=TokenSource(token), budget=budget, capacity=capacity)
        yield Linker(requester, config, RunStats(), random.Random(5))
    finally:
        await transport.close()


@asynccontextmanager
async def scripted(answers: list[Answer], received: list[Any]) -> AsyncIterator[str]:
    """A HubSpot whose v4 batch associations API (the v3 version's path, and no other) gives ``answers`` in turn
    (a JSON body, or text served as an HTML page); ``received`` collects the request bodies."""

    async def create(request: web.Request) -> web.Response:
        received.append(await request.json())
        status, body = answers.pop(0)
        if isinstance(body, str):
            return web.Response(status=status, text=body, content_type="text/html")
        return web.json_response(body, status=status)

    app = web.Application()
    app.router.add_post("/crm/v4/associations/carts/{to_type}/batch/create", create)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    try:
        yield f"http://127.0.0.1:{runner.addresses[0][1]}"
    finally:
        await runner.cleanup()


async def link_one(answers: list[Answer], **options: Any) -> tuple[RecordError | None, list[Any]]:
    """Link cart 512 to contact 100000001 through the scripted HubSpot (API version v3): its result, the bodies."""
    received: list[Any] = []
    async with scripted(answers, received) as url, linker(url, api_version="v3", **options) as run:
        (result,) = await run.link([(cart(1, "100000001"), "512")])
    return result, received


async def carts_in(sim: Simulator, count: int) -> list[str]:
    """The ids of ``count`` carts created in the simulator (through its batch create), to link from."""
    inputs = [{"properties": {"hs_cart_name": f"cart {n}"}} for n in range(count)]
    url = f"{sim.url}/crm/v3/objects/carts/batch/create"
    async with (
        aiohttp.ClientSession(headers={"Authorization": "Bearer sim-token"}) as session,
        session.post(url, json={"inputs": inputs}) as answer,
    ):
        assert answer.status == 201
        return [result["id"] for result in (await answer.json())["results"]]


def written(*pairs: tuple[str, str]) -> dict[str, Any]:
    return {"status": "COMPLETE", "results": [{"fromObjectId": f, "toObjectId": t} for f, t in pairs]}


async def test_a_link_answered_500_is_sent_again_with_the_same_body_and_then_linked() -> None:
    error = {"status": "error", "category": "INTERNAL_ERROR", "message": "internal error"}
    result, received = await link_one([(500, error), (201, written(("512", "100000001")))], max_attempts=3)
    assert result is None
    body = {"inputs": [{"from": {"id": "512"}, "to": {"id": "100000001"}, "types": [CONTACT]}]}
    assert received == [body, body]


async def test_a_link_answered_500_on_every_attempt_fails_with_status_500_and_the_bare_status_when_no_message() -> None:
    result, received = await link_one([(500, "<html>down</html>"), (500, "<html>down</html>")], max_attempts=2)
    assert result == failed("512", "contacts 100000001 (HUBSPOT_DEFINED/586): HTTP 500", 500)
    assert len(received) == 2


async def test_a_request_refused_whole_gives_its_status_category_message_and_only_its_association_problems() -> None:
    refused = {
        "status": "error",
        "category": "VALIDATION_ERROR",
        "message": INVALID,
        "context": {"INVALID_OBJECT_IDS": ["100000001"]},
        # A problem naming a property is no association's: it is left out of the link's details.
        "errors": [{"message": "bad option", "code": "INVALID_OPTION", "context": {"propertyName": ["hs_x"]}}],
    }
    result, _ = await link_one([(400, refused)])
    reason = f"contacts 100000001 (HUBSPOT_DEFINED/586): HTTP 400 VALIDATION_ERROR: {INVALID}"
    assert result == failed("512", reason, 400, invalid_target("100000001"))


async def test_a_refused_answer_that_lists_the_pair_as_a_result_leaves_the_link_failed() -> None:
    refused = {"status": "error", "category": "VALIDATION_ERROR", "message": "refused", **written(("512", "100000001"))}
    result, _ = await link_one([(400, refused)])
    assert result == failed("512", "contacts 100000001 (HUBSPOT_DEFINED/586): HTTP 400 VALIDATION_ERROR: refused", 400)


async def test_a_300_answer_fails_the_link_with_status_300() -> None:
    result, _ = await link_one([(300, {"message": "Multiple Choices"})])
    assert result == failed("512", "contacts 100000001 (HUBSPOT_DEFINED/586): HTTP 300: Multiple Choices", 300)


async def test_a_404_fails_the_link_with_status_404_without_stopping_the_run() -> None:
    gone = {"status": "error", "category": "OBJECT_NOT_FOUND", "message": "Unknown object type"}
    result, _ = await link_one([(404, gone)])
    reason = "contacts 100000001 (HUBSPOT_DEFINED/586): HTTP 404 OBJECT_NOT_FOUND: Unknown object type"
    assert result == failed("512", reason, 404)


async def test_an_error_in_a_2xx_naming_neither_id_gives_its_message_else_its_category_with_status_400() -> None:
    def naming_nobody(message: str | None) -> Answer:
        error: dict[str, Any] = {"status": "error", "category": "VALIDATION_ERROR", "message": message, "context": {}}
        return 207, {"status": "COMPLETE", "results": [], "errors": [error]}

    result, _ = await link_one([naming_nobody("try again")])
    assert result == failed("512", "contacts 100000001 (HUBSPOT_DEFINED/586): try again", 400)
    result, _ = await link_one([naming_nobody(None)])
    assert result == failed("512", "contacts 100000001 (HUBSPOT_DEFINED/586): VALIDATION_ERROR", 400)


async def test_a_2xx_with_neither_a_result_nor_an_error_for_the_link_fails_it_with_status_400() -> None:
    result, _ = await link_one([(201, written(("512", "100000002")))])
    reason = "contacts 100000001 (HUBSPOT_DEFINED/586): HubSpot's answer had neither a result nor an error for it"
    assert result == failed("512", reason, 400)


async def test_an_unknown_record_id_and_a_bad_target_in_one_request_are_each_blamed_on_their_own_link() -> None:
    async with Simulator(seed=41) as sim, linker(sim.url) as run:
        (known,) = await carts_in(sim, 1)
        results = await run.link([(cart(1, "7"), known), (cart(2, "100000001"), "abc")])
    assert results == [
        failed(known, f"contacts 7 (HUBSPOT_DEFINED/586): {INVALID}", 400, invalid_target("7")),
        failed("abc", "contacts 100000001 (HUBSPOT_DEFINED/586): No carts object with id abc", 400),
    ]


async def test_a_record_with_several_failing_links_names_each_in_one_message_and_each_target_problem_once() -> None:
    async with Simulator(seed=42) as sim, linker(sim.url) as run:
        (known,) = await carts_in(sim, 1)
        (result,) = await run.link([(cart(1, "7", "8", "100000001", "7"), known)])
        assert [link["toObjectId"] for link in sim.associations[known]] == ["100000001"]
    reasons = "; ".join(f"contacts {to_id} (HUBSPOT_DEFINED/586): {INVALID}" for to_id in ("7", "8", "7"))
    assert result == failed(known, reasons, 400, invalid_target("7"), invalid_target("8"))


async def test_a_record_whose_link_has_no_known_target_type_fails_alone_and_the_next_record_is_linked() -> None:
    labelled = [{"associationCategory": "USER_DEFINED", "associationTypeId": 12}]
    async with Simulator(seed=43) as sim, linker(sim.url) as run:
        first, second = await carts_in(sim, 2)
        results = await run.link([(cart(1, "100000001", types=labelled), first), (cart(2, "100000002"), second)])
        assert first not in sim.associations
        assert [link["toObjectId"] for link in sim.associations[second]] == ["100000002"]
    why = "association 1 (USER_DEFINED/12) does not tell which object type it leads to"
    assert results[1] is None
    assert results[0] is not None and results[0].message.startswith(
        f"upserted as {first}, but not associated with {why}"
    )
    assert (results[0].category, results[0].status, results[0].details) == (ASSOCIATION_FAILED, None, ())


async def test_a_token_that_may_not_write_associations_stops_the_run_with_missing_scopes() -> None:
    async with Simulator(seed=44) as sim:
        sim.add_token("schema-only", frozenset({SCHEMA_READ_SCOPE}))
        async with linker(sim.url, token="schema-only") as run:
            with pytest.raises(MissingScopesError, match="HubSpot refused the request"):
                await run.link([(cart(1, "100000001"), "111")])
        assert not sim.associations


async def test_a_link_that_cannot_reach_hubspot_fails_with_no_status_and_what_happened() -> None:
    with socket.socket() as unused:  # a port nobody listens on: the connection is refused
        unused.bind(("127.0.0.1", 0))
        port = unused.getsockname()[1]
    async with linker(f"http://127.0.0.1:{port}", max_attempts=1) as run:
        (result,) = await run.link([(cart(1, "100000001"), "512")])
    assert result is not None and (result.category, result.status, result.details) == (ASSOCIATION_FAILED, None, ())
    reason = "upserted as 512, but not associated with contacts 100000001 (HUBSPOT_DEFINED/586): could not reach"
    assert result.message.startswith(f"{reason} 127.0.0.1")
