"""A faithful in-process HubSpot simulator for tests, benchmarks and ``--simulate``."""
