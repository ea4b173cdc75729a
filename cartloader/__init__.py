"""cartloader: fast, lossless bulk loading of cart records into HubSpot's CRM.

summary = await bulk_create(records, token=...)

async with CartLoader(token=...) as loader:
    summary = await loader.create(records)
    async with loader.stream(records) as outcomes:
        async for outcome in outcomes: ...
"""

from cartloader.budget import RateBudget
from cartloader.config import Backoff, LoaderConfig
from cartloader.errors import (
    AuthenticationError,
    CartloaderError,
    ConfigError,
    DailyLimitError,
    FatalApiError,
    MissingScopesError,
    OutcomeLogError,
)
from cartloader.loader import CartLoader, bulk_create
from cartloader.outcome import Outcome, RecordError
from cartloader.rate import Rate
from cartloader.shared_budget import SharedBudget
from cartloader.summary import LatencyPercentiles, Summary

__version__ = "0.1.0"

__all__ = [
    "AuthenticationError",
    "Backoff",
    "CartLoader",
    "CartloaderError",
    "ConfigError",
    "DailyLimitError",
    "FatalApiError",
    "LatencyPercentiles",
    "LoaderConfig",
    "MissingScopesError",
    "Outcome",
    "OutcomeLogError",
    "Rate",
    "RateBudget",
    "RecordError",
    "SharedBudget",
    "Summary",
    "bulk_create",
]
