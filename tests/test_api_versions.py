"""API versions and what the loader says about HubSpot's answers: the paths of each version, the error-response
count HubSpot's 5% guideline is about, and the scopes a 403 names."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from cartloader.api.loader import bulk_create
from cartloader.cli.options import UsageError, parse_options
from cartloader.config import LoaderConfig
from cartloader.errors import ConfigError, MissingScopesError
from cartloader.hubspot.protocol import Endpoint
from cartloader.simulator import Simulator
from tests.test_cli_support import Start, run_cli, write_carts

BASE = "https://api.hubapi.com"


@pytest.mark.parametrize(
    ("version", "objects", "properties", "validations"),
    [
        ("v3", "/crm/v3/objects/carts", "/crm/v3/properties/carts", "/crm/v3/property-validations/0-142"),
        (
            "2026-03",
            "/crm/objects/2026-03/carts",
            "/crm/properties/2026-03/carts",
            "/crm/property-validations/2026-03/0-142",
        ),
        (
            "2026-09",
            "/crm/objects/2026-09/carts",
            "/crm/properties/2026-09/carts",
            "/crm/property-validations/2026-09/0-142",
        ),
    ],
)
def test_each_api_version_has_its_own_paths(version: str, objects: str, properties: str, validations: str) -> None:
    endpoint = Endpoint(BASE, None, "carts", version)
    assert endpoint.create_url == f"{BASE}{objects}/batch/create"
    assert endpoint.upsert_url == f"{BASE}{objects}/batch/upsert"
    assert endpoint.properties_url == f"{BASE}{properties}"
    assert endpoint.validations_url == f"{BASE}{validations}"
    links = "/crm/v4/associations" if version == "v3" else f"/crm/associations/{version}"
    assert endpoint.associations_url("contacts") == f"{BASE}{links}/carts/contacts/batch/create"


def test_api_path_overrides_only_the_objects_path() -> None:
    endpoint = Endpoint(BASE + "/", "/custom/objects/", "carts", "2026-03")
    assert endpoint.create_url == f"{BASE}/custom/objects/carts/batch/create"
    assert endpoint.properties_url == f"{BASE}/crm/properties/2026-03/carts"


def test_the_default_api_version_is_2026_09_for_the_library_and_the_command_line() -> None:
    assert LoaderConfig().api_version == "2026-09"
    options = parse_options(["in.ndjson"])
    assert (options.api_version, options.api_path) == ("2026-09", None)
    assert parse_options(["in.ndjson", "--api-version", "v3"]).api_version == "v3"


def test_an_unknown_api_version_is_refused() -> None:
    with pytest.raises(ConfigError, match="unknown API version '2025-01'"):
        LoaderConfig(api_version="2025-01")
    with pytest.raises(UsageError, match="--api-version"):
        parse_options(["in.ndjson", "--api-version", "v4"])


anyio = pytest.mark.anyio


def poisoned(count: int, bad: set[int]) -> list[dict[str, Any]]:
    return [
        {"hs_cart_name": f"cart {i}", "hs_total_price": "x" if i in bad else str(i), "hs_external_cart_id": f"e{i}"}
        for i in range(1, count + 1)
    ]


@anyio
@pytest.mark.parametrize("version", ["v3", "2026-03", "2026-09"])
async def test_every_version_loads_and_names_its_refused_records(version: str) -> None:
    async with Simulator(seed=4) as sim:
        summary = await bulk_create(
            poisoned(30, {3, 17}),
            token="sim-token",
            base_url=sim.url,
            rate="1000/1s",
            api_version=version,
            preflight=False,  # HubSpot refuses them, inside a 207 or inside the 201
        )
        assert (summary.created, summary.failed) == (28, 2)
        assert len(sim.objects) == 28


@anyio
async def test_error_responses_count_every_answer_that_is_neither_2xx_nor_429() -> None:
    async with Simulator(seed=2, whole_batch_400=1.0) as sim:
        summary = await bulk_create(
            poisoned(40, {5, 9, 33}), token="sim-token", base_url=sim.url, rate="1000/1s", preflight=False
        )
        by_status = sim.stats().by_status
    assert summary.failed == 3 and summary.created == 37
    errors = sum(count for status, count in by_status.items() if not 200 <= status < 300 and status != 429)
    assert errors > 0
    assert summary.error_responses == errors


@anyio
async def test_a_missing_scope_is_named_on_the_error() -> None:
    async with Simulator(tokens={"weak": frozenset({"crm.objects.contacts.write"})}) as sim:
        with pytest.raises(MissingScopesError) as caught:
            await bulk_create(poisoned(3, set()), token="weak", base_url=sim.url, rate="1000/1s")
    assert caught.value.scopes == ("crm.objects.carts.write",)
    assert "crm.objects.carts.write" in str(caught.value)


def test_the_command_line_prints_the_missing_scopes(tmp_path: Path, simulator: Start) -> None:
    sim = simulator(tokens={"weak": frozenset({"crm.objects.contacts.write"})})
    write_carts(tmp_path / "in.ndjson", 3)
    result = run_cli("in.ndjson", "--base-url", sim.url, cwd=tmp_path, token="weak")
    assert result.returncode == 3
    assert "missing scopes: crm.objects.carts.write" in result.stderr


def test_the_command_line_warns_when_error_responses_exceed_five_percent(tmp_path: Path, simulator: Start) -> None:
    sim = simulator(seed=5, whole_batch_400=1.0)
    source = tmp_path / "in.ndjson"
    source.write_bytes(
        b"".join(
            b'{"hs_cart_name": "c%d", "hs_total_price": "%s"}\n' % (i, b"bad" if i % 25 == 0 else b"1")
            for i in range(1, 201)
        )
    )
    result = run_cli(source, "--base-url", sim.url, "--rate", "1000/1s", "--no-preflight", cwd=tmp_path)
    assert result.returncode == 1
    warning = [line for line in result.stderr.splitlines() if "5% guideline" in line]
    assert len(warning) == 1
    assert "main cause: HTTP 400 VALIDATION_ERROR" in warning[0]


def test_the_command_line_says_nothing_of_error_responses_when_there_are_none(tmp_path: Path, simulator: Start) -> None:
    sim = simulator(seed=5)
    write_carts(tmp_path / "in.ndjson", 50)
    result = run_cli("in.ndjson", "--base-url", sim.url, "--rate", "1000/1s", cwd=tmp_path)
    assert result.returncode == 0
    assert "guideline" not in result.stderr
