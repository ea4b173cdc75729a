"""``submit()`` names the caller's record by its key (its objectWriteTraceId, else the generated key), never by the
loader-wide submission number the caller never saw; against the simulator over real loopback HTTP."""

from __future__ import annotations

import re

import pytest

from cartloader import CartLoader
from cartloader.simulator import Simulator

pytestmark = pytest.mark.anyio

FAST = "1000/1s"


async def test_an_invalid_submitted_record_is_named_by_its_key_not_by_a_line() -> None:
    async with Simulator() as sim, CartLoader("sim-token", base_url=sim.url, rate=FAST, linger=0) as loader:
        first = await loader.submit({"hs_cart_name": "one"})
        await loader.submit({"hs_cart_name": "two"})
        # the caller's second cart of this kind, the loader's third record
        refused = await loader.submit(
            {"properties": {"hs_cart_name": "three", "hs_total_price": "ten"}, "objectWriteTraceId": "order-77"}
        )
        unparsed = await loader.submit({"hs_cart_name": float("nan")})
    assert first.status == "created" and first.key is not None
    run_id = first.key.rsplit("-", 1)[0]
    assert (refused.status, refused.line, refused.key) == ("invalid", 3, "order-77")
    assert refused.error is not None and refused.error.category == "INVALID_DECIMAL"
    assert refused.error.message.startswith("record order-77: ")
    assert (unparsed.status, unparsed.line, unparsed.key) == ("invalid", 4, f"{run_id}-4")
    assert unparsed.error is not None and unparsed.error.message.startswith(f"record {run_id}-4: ")
    for outcome in (refused, unparsed):
        assert outcome.error is not None and not re.search(r"\bline \d", outcome.error.message)
    assert sim.stats().inputs_received == 2
