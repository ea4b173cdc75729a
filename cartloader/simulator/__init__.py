"""A faithful in-process HubSpot simulator for tests, benchmarks and ``--simulate``.

    async with Simulator(rate="10/1s", seed=1) as sim:
        ...  # POST {sim.url}/crm/v3/objects/carts/batch/create with "Authorization: Bearer sim-token"

See docs/simulator.md for every option and behaviour.
"""

from cartloader.simulator.associations import IdRanges
from cartloader.simulator.config import SimulatorConfig
from cartloader.simulator.faults import BASIC_FAULTS, FAULT_NAMES, IRREGULAR_FAULTS
from cartloader.simulator.schema import PropertyDefinition, ValidationRule
from cartloader.simulator.server import Simulator
from cartloader.simulator.state import SimStats, StoredObject

__all__ = [
    "BASIC_FAULTS",
    "FAULT_NAMES",
    "IRREGULAR_FAULTS",
    "IdRanges",
    "PropertyDefinition",
    "SimStats",
    "Simulator",
    "SimulatorConfig",
    "StoredObject",
    "ValidationRule",
]
