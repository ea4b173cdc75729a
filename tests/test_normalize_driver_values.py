"""Python values as database drivers return them (``datetime``, ``date``, ``Decimal``, ``Enum``): normalized to one
fixed form, refused when their meaning is unknown (a naive ``datetime``; a ``datetime`` for a ``date`` property),
and loaded through the real library into a simulator whose schema declares the types."""

from __future__ import annotations

import enum
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import pytest

from cartloader import Outcome, bulk_create
from cartloader.input.normalize import normalize
from cartloader.models import CartInput, InvalidInput
from cartloader.simulator import Simulator
from cartloader.values import parse_datetime

pytestmark = pytest.mark.anyio
PLUS_2 = timezone(timedelta(hours=2))


class Status(enum.Enum):
    OPEN = "open"
    COUNT = 3


class Color(enum.StrEnum):
    RED = "red"


class Size(enum.IntEnum):
    LARGE = 9


def test_driver_values_are_sent_in_one_fixed_form() -> None:
    record = normalize(
        {
            "at": datetime(2024, 4, 15, 10, 38, 5, 123456, tzinfo=PLUS_2),
            "day": date(2024, 4, 15),
            "price": Decimal("12.50"),
            "status": Status.OPEN,
            "count": Status.COUNT,
            "color": Color.RED,
            "size": Size.LARGE,
            "name": "x",
        },
        1,
    )
    assert isinstance(record, CartInput)
    assert record.properties == {
        "at": "2024-04-15T08:38:05.123Z",
        "day": "2024-04-15",
        "price": "12.5",
        "status": "open",
        "count": "3",
        "color": "red",
        "size": "9",
        "name": "x",
    }
    assert record.datetimes == ("at",)
    assert normalize({"name": "x", "n": 1}, 2).datetimes == ()  # type: ignore[union-attr]


def test_a_naive_datetime_is_invalid_and_the_values_that_read_are_kept_for_echo() -> None:
    result = normalize({"ref": "A-1", "at": datetime(2024, 4, 15, 10, 38)}, 7)
    assert isinstance(result, InvalidInput)
    assert result.message.startswith('line 7: property "at": a datetime without a time zone (naive) is not allowed')
    assert result.properties == {"ref": "A-1"}


def drivers_rows(count: int) -> list[dict[str, Any]]:
    return [
        {
            "hs_external_cart_id": f"D-{n}",
            "hs_external_created_date": datetime(2024, 4, 15, 10, n % 60, 30, 250000, tzinfo=PLUS_2),
            "order_day": date(2024, 4, 1 + n % 28),
            "hs_total_price": Decimal(f"{n}.50"),
        }
        for n in range(1, 301)
    ][:count]


async def test_a_library_load_of_driver_rows_stores_the_same_instant_day_and_number() -> None:
    rows = drivers_rows(300)
    async with Simulator(properties=("order_day:date",)) as sim:
        summary = await bulk_create(rows, token="sim-token", base_url=sim.url)
        stored = {obj.properties["hs_external_cart_id"]: obj.properties for obj in sim.objects.values()}
    assert (summary.created, summary.invalid, summary.failed) == (300, 0, 0)
    for row in rows:
        held = stored[row["hs_external_cart_id"]]
        instant = row["hs_external_created_date"].astimezone(UTC)
        assert parse_datetime(held["hs_external_created_date"]) == int(instant.timestamp() * 1000)
        assert date.fromisoformat(held["order_day"]) == row["order_day"]
        assert Decimal(held["hs_total_price"]) == row["hs_total_price"]


async def test_a_datetime_for_a_date_property_is_refused_by_the_preflight_and_sent_as_datetime_without() -> None:
    rows: list[dict[str, Any]] = [
        {"hs_external_cart_id": "D-1", "order_day": datetime(2024, 4, 15, 10, 0, tzinfo=UTC)},
        {"hs_external_cart_id": "D-2", "order_day": date(2024, 4, 15)},
    ]
    outcomes: list[Outcome] = []
    async with Simulator(properties=("order_day:date",)) as sim:
        summary = await bulk_create(
            rows, token="sim-token", base_url=sim.url, on_outcome=outcomes.append, echo="hs_external_cart_id"
        )
        assert len(sim.objects) == 1
        without = await bulk_create(rows[:1], token="sim-token", base_url=sim.url, preflight=False)
    assert (summary.created, summary.invalid) == (1, 1)
    refused = next(o for o in outcomes if o.status == "invalid")
    assert refused.error is not None and refused.error.category == "INVALID_DATE"
    assert 'property "order_day" value "2024-04-15T10:00:00.000Z" is a datetime' in refused.error.message
    assert refused.echoed == {"hs_external_cart_id": "D-1"}
    # Without the schema the datetime form is sent, and HubSpot decides (the simulator refuses it as HubSpot does).
    assert (without.invalid, without.requests, without.created + without.failed) == (0, 1, 1)
