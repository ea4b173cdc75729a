"""Load a few carts with the library, into the built-in simulator (no HubSpot account needed).

    python examples/library_quickstart.py

Against HubSpot, drop the simulator and pass your private app token instead.
"""

from __future__ import annotations

import anyio

from cartloader import Outcome, bulk_create
from cartloader.simulator import Simulator


def carts() -> list[dict[str, object]]:
    return [
        # Flat records: every key is a property; numbers become HubSpot's decimal strings.
        {"hs_cart_name": "Weekend order", "hs_external_cart_id": "shop-1001", "hs_total_price": 59.9},
        {"hs_cart_name": "Gift box", "hs_external_cart_id": "shop-1002", "hs_currency_code": "EUR"},
        {"hs_cart_name": "Broken price", "hs_external_cart_id": "shop-1003", "hs_total_price": "twelve"},
        # HubSpot's own shape, with the record's own trace id.
        {"properties": {"hs_cart_name": "Abandoned", "hs_external_cart_id": "shop-1004"}, "objectWriteTraceId": "t4"},
    ]


def report(outcome: Outcome) -> None:
    detail = outcome.id if outcome.error is None else f"{outcome.error.category}: {outcome.error.message[:60]}"
    print(f"line {outcome.line}: {outcome.status} {detail}")


async def main() -> None:
    async with Simulator() as hubspot:
        summary = await bulk_create(carts(), token="sim-token", base_url=hubspot.url, on_outcome=report)
    print(f"created {summary.created}, failed {summary.failed}, invalid {summary.invalid}")


if __name__ == "__main__":
    anyio.run(main)
