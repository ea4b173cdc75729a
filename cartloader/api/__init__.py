"""The library API: ``CartLoader`` and ``bulk_create``."""

from cartloader.api.loader import CartLoader, bulk_create

__all__ = ["CartLoader", "bulk_create"]
