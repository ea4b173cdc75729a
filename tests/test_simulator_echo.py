"""The simulator answers as HubSpot writes: results echo stored values (by default), the echo switches vary them, and
an answer can be held back after its write was applied."""

from __future__ import annotations

import time
from typing import Any

import aiohttp
import orjson
import pytest

from cartloader.errors import ConfigError
from cartloader.simulator import Simulator, SimulatorConfig
from cartloader.simulator.cli import build_parser, config_from_args, main
from cartloader.simulator.echo import EchoForms
from tests.test_simulator_support import AUTH, CREATE, UPSERT, running

pytestmark = pytest.mark.anyio

TYPED = ("when:date", "at:datetime", "ok:bool", "tags:enumeration/checkbox:options=a|b|c", "price:number")

# Hand-written from the reference ("Answers as HubSpot writes them"): (property, sent, echoed by default).
DEFAULT_ECHOES = [
    ("price", "10.50", "10.5"),
    ("price", " 1e3 ", "1000"),
    ("hs_total_price", "-0.0", "0"),
    ("at", "1572406217883", "2019-10-30T03:30:17.883Z"),
    ("at", "2019-10-30T09:00:17.883+05:30", "2019-10-30T03:30:17.883Z"),
    ("at", "2019-10-30T03:30:17Z", "2019-10-30T03:30:17.000Z"),
    ("at", "2019-10-30T03:30:17.8839Z", "2019-10-30T03:30:17.883Z"),
    ("at", " 1572406217883 ", "2019-10-30T03:30:17.883Z"),
    ("at", "-1", "1969-12-31T23:59:59.999Z"),
    ("when", "1572480000000", "2019-10-31"),
    ("when", " 2024-02-29 ", "2024-02-29"),
    ("when", "-86400000", "1969-12-31"),
    ("ok", " true", "true"),
    ("hs_currency_code", " EUR ", "EUR"),
    ("tags", " b ; a ", "b;a"),
    ("hs_cart_name", "  a cart  ", "a cart"),
]


async def _create_one(props: dict[str, str], **config: Any) -> tuple[dict[str, str], dict[str, str]]:
    """The echoed properties of one created cart, and the properties the simulator stored for it."""
    async with running(properties=TYPED, **config) as client:
        answer = await client.create([{"properties": props, "objectWriteTraceId": "t"}])
        assert answer.status == 201, answer.body
        stored = next(iter(client.sim.objects.values())).properties
    return answer.body["results"][0]["properties"], stored


@pytest.mark.parametrize(("name", "sent", "echoed"), DEFAULT_ECHOES)
async def test_results_echo_stored_values_by_default(name: str, sent: str, echoed: str) -> None:
    echo, stored = await _create_one({name: sent})
    assert echo[name] == echoed
    assert stored[name] == echoed


@pytest.mark.parametrize(("sent", "echoed"), [("1572480000000", "1572480000000"), ("2019-10-31", "1572480000000")])
async def test_dates_echo_as_epoch_milliseconds_when_switched(sent: str, echoed: str) -> None:
    echo, _ = await _create_one({"when": sent}, echo_dates="epoch-ms")
    assert echo["when"] == echoed


async def test_dates_and_datetimes_echo_as_sent_when_switched() -> None:
    props = {"when": "1572480000000", "at": "2019-10-30T09:00:17+05:30"}
    echo, _ = await _create_one(props, echo_dates="as-sent", echo_datetimes="as-sent")
    assert (echo["when"], echo["at"]) == ("1572480000000", "2019-10-30T09:00:17+05:30")


@pytest.mark.parametrize("blank", ["", "   ", "\t"])
async def test_a_value_of_only_white_space_clears_its_property_and_is_left_out(blank: str) -> None:
    echo, stored = await _create_one({"hs_cart_name": "a", "hs_tags": blank, "price": blank})
    assert "hs_tags" not in echo and "price" not in echo
    assert "hs_tags" not in stored
    assert echo["hs_cart_name"] == "a"


async def test_white_space_is_kept_when_switched() -> None:
    echo, _ = await _create_one({"hs_cart_name": "  a  ", "hs_tags": "   ", "tags": " b ; a "}, echo_whitespace="keep")
    assert (echo["hs_cart_name"], echo["hs_tags"], echo["tags"]) == ("  a  ", "   ", " b ; a ")


async def test_multi_select_values_are_sorted_when_switched() -> None:
    echo, _ = await _create_one({"tags": "c;a; b;a"}, echo_multi_select="sorted")
    assert echo["tags"] == "a;b;c"


async def test_numbers_are_kept_as_sent_without_normalization_but_trimmed() -> None:
    echo, _ = await _create_one({"price": " 10.50 "}, normalize_numbers=False)
    assert echo["price"] == "10.50"


@pytest.mark.parametrize(("created_as", "upserted_as"), [(" x-1 ", "x-1"), ("x-1", " x-1 ")])
async def test_a_unique_value_is_stored_trimmed_so_an_upsert_with_or_without_white_space_finds_its_object(
    created_as: str, upserted_as: str
) -> None:
    async with running(unique=("hs_external_cart_id",)) as client:
        created = await client.create([{"properties": {"hs_external_cart_id": created_as}, "objectWriteTraceId": "t"}])
        upserted = await client.upsert([{"id": upserted_as, "idProperty": "hs_external_cart_id", "properties": {}}])
        stored = [obj.properties["hs_external_cart_id"] for obj in client.sim.objects.values()]
    assert created.status == 201 and upserted.status == 200, upserted.body
    assert upserted.body["results"][0]["id"] == created.body["results"][0]["id"]
    assert upserted.body["results"][0]["new"] is False
    assert stored == ["x-1"]


def test_the_echo_forms_default_to_the_configs_defaults() -> None:
    assert EchoForms() == SimulatorConfig().echo_forms()
    assert EchoForms() == EchoForms("iso", "iso", "trim", "as-sent", True)


def test_an_unknown_echo_form_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="echo_dates 'days'"):
        Simulator(echo_dates="days")
    with pytest.raises(ConfigError, match="answer_delay_ms"):
        Simulator(answer_delay_ms=-1)


def test_the_echo_switches_build_the_config() -> None:
    args = ["--echo-dates", "epoch-ms", "--echo-datetimes", "as-sent", "--echo-whitespace", "keep"]
    args += ["--echo-multi-select", "sorted", "--answer-delay-ms", "1500"]
    config = config_from_args(build_parser().parse_args(args))
    assert (config.echo_dates, config.echo_datetimes, config.echo_whitespace) == ("epoch-ms", "as-sent", "keep")
    assert (config.echo_multi_select, config.answer_delay_ms) == ("sorted", 1500.0)
    defaults = config_from_args(build_parser().parse_args([]))
    assert (defaults.echo_dates, defaults.echo_datetimes, defaults.echo_whitespace) == ("iso", "iso", "trim")
    assert (defaults.echo_multi_select, defaults.answer_delay_ms) == ("as-sent", 0.0)


@pytest.mark.parametrize("args", [["--echo-dates", "days"], ["--answer-delay-ms", "-5"], ["--answer-delay-ms", "soon"]])
def test_bad_echo_switches_exit_2(args: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    assert main(args) == 2
    assert capsys.readouterr().err.startswith("python -m cartloader simulator: error: ")


def test_the_switches_are_in_the_help() -> None:
    text = build_parser().format_help()
    for switch in ("--echo-dates", "--echo-datetimes", "--echo-whitespace", "--echo-multi-select", "--answer-delay-ms"):
        assert switch in text


# --- an answer held back after its write ----------------------------------------------------------------------------


@pytest.mark.parametrize("path", [CREATE, UPSERT])
async def test_a_client_timing_out_during_the_answer_delay_meets_a_written_batch(path: str) -> None:
    body = (
        {"inputs": [{"properties": {"hs_cart_name": "a"}, "objectWriteTraceId": "t"}]}
        if path == CREATE
        else {"inputs": [{"id": "k", "idProperty": "hs_external_cart_id", "properties": {"hs_cart_name": "a"}}]}
    )
    async with running(answer_delay_ms=2000, unique=("hs_external_cart_id",)) as client:
        started = time.monotonic()
        with pytest.raises(TimeoutError):
            await client.session.post(
                client.sim.url + path,
                data=orjson.dumps(body),
                headers={**AUTH, "Content-Type": "application/json"},
                timeout=aiohttp.ClientTimeout(total=0.3),
            )
        assert time.monotonic() - started < 1.5  # the write was applied before the answer's delay ran out
        assert [obj.properties["hs_cart_name"] for obj in client.sim.objects.values()] == ["a"]


async def test_an_answer_is_held_back_for_the_delay() -> None:
    async with running(answer_delay_ms=400) as client:
        started = time.monotonic()
        answer = await client.create([{"properties": {"hs_cart_name": "a"}, "objectWriteTraceId": "t"}])
        assert answer.status == 201
        assert time.monotonic() - started >= 0.4
