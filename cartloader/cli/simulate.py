"""``--simulate``: the built-in HubSpot simulator, started in-process with a realistic portal's limits."""

from __future__ import annotations

from contextlib import AsyncExitStack

from cartloader.cli import console
from cartloader.errors import ConfigError
from cartloader.simulator import Simulator
from cartloader.simulator.config import DEFAULT_SCOPES, DEFAULT_TOKEN

# What --simulate serves: HubSpot's limits for a Professional account and its usual latency for 100 inputs.
SIMULATED_RATE = "190/10s"
SIMULATED_DAILY = 625_000
SIMULATED_LATENCY_MS = (300.0, 1000.0)
# An assumption, so that --upsert-by can be tried: HubSpot does not document hs_external_cart_id as unique, and a
# real portal may not mark it so (its Properties API says: hasUniqueValue).
SIMULATED_UNIQUE = ("hs_external_cart_id",)
# The portal's token may also list sensitive properties (scopes named as HubSpot names them for contacts: an
# assumption for carts), so that the preflight refuses an unknown property locally, as it does for a real token
# that may: a token that may not would leave every property missing from the list to HubSpot, with a warning.
SIMULATED_SCOPES = DEFAULT_SCOPES | {"crm.objects.carts.sensitive.read", "crm.objects.carts.highly_sensitive.read"}


async def start_simulator(stack: AsyncExitStack) -> tuple[str, str]:
    """Start the built-in simulator with HubSpot-like limits and latency; return its URL and token."""
    simulator = Simulator(
        rate=SIMULATED_RATE,
        daily=SIMULATED_DAILY,
        latency_ms=SIMULATED_LATENCY_MS,
        unique=SIMULATED_UNIQUE,
        tokens={DEFAULT_TOKEN: SIMULATED_SCOPES},
    )
    try:
        await simulator.start()
    except OSError as exc:
        raise ConfigError(f"cannot start the simulator: {exc.strerror or exc}") from None
    stack.push_async_callback(simulator.stop)
    console.emit(f"simulating HubSpot at {simulator.url} ({SIMULATED_RATE}, no account needed)", event="simulator")
    return simulator.url, DEFAULT_TOKEN
