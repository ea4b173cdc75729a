"""The schema going stale inside one long ``submit()`` run (issue 25), against the simulator over loopback HTTP:
once the schema is older than ``schema_max_age_s``, the next record is checked against the schema read again, so
a validation rule added at HubSpot meanwhile refuses it locally (never sent); while the schema is fresh, it is not
read again."""

from __future__ import annotations

import anyio
import pytest

from cartloader import CartLoader
from cartloader.config import LoaderConfig
from cartloader.simulator import Simulator, ValidationRule

pytestmark = pytest.mark.anyio

MAX_AGE_S = 0.4
LONG_NAME = "a cart name far longer than ten"


def schema_reads(sim: Simulator) -> int:
    """GET requests the simulator answered: the preflight's schema reads (two per read)."""
    stats = sim.stats()
    return stats.requests - stats.inputs_received  # one input per batch below


def add_rule(sim: Simulator, rule: ValidationRule) -> None:
    """A validation rule added in the portal while the loader runs (HubSpot serves and enforces it at once)."""
    schema = sim._hubspot.schema
    schema.rules = {**schema.rules, rule.property: (*schema.rules.get(rule.property, ()), rule)}


async def test_a_long_submit_run_reads_the_schema_again_once_stale_and_applies_the_new_rules() -> None:
    async with Simulator(seed=41) as sim:
        config = LoaderConfig(base_url=sim.url, schema_max_age_s=MAX_AGE_S, linger_s=0)
        async with CartLoader("sim-token", config=config) as loader:
            first = await loader.submit({"hs_cart_name": LONG_NAME})
            assert first.status == "created"
            assert schema_reads(sim) == 2  # definitions and rules, once
            add_rule(sim, ValidationRule("hs_cart_name", "MAX_LENGTH", ("10",)))
            await anyio.sleep(MAX_AGE_S * 1.5)  # the schema read for the first record is stale now
            second = await loader.submit({"hs_cart_name": LONG_NAME})
            # Read again before this record was checked, and the new rule applied: refused here, never sent.
            assert schema_reads(sim) == 4
            assert second.status == "invalid", second
            assert second.error is not None and "hs_cart_name" in second.error.message
            assert sim.stats().inputs_received == 1
            third = await loader.submit({"hs_cart_name": "short"})
            assert third.status == "created"
        assert sim.stats().inputs_received == 2


async def test_a_fresh_schema_is_not_read_again_within_one_submit_run() -> None:
    async with Simulator(seed=42) as sim:
        config = LoaderConfig(base_url=sim.url, schema_max_age_s=600, linger_s=0)
        async with CartLoader("sim-token", config=config) as loader:
            for i in range(5):
                outcome = await loader.submit({"hs_cart_name": f"cart {i}"})
                assert outcome.status == "created"
        assert schema_reads(sim) == 2
