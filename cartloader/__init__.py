"""cartloader: fast, lossless bulk loading of cart records into HubSpot's CRM.

    summary = await bulk_create(records, token=...)

    async with CartLoader(token=...) as loader:
        summary = await loader.create(records)
        async with loader.stream(records) as outcomes:
            async for outcome in outcomes: ...

This module only re-exports the public API; docs/library.md describes it and docs/architecture.md the
packages behind it.
"""

from cartloader._version import __version__ as __version__
from cartloader.api.loader import CartLoader, OutcomeStream, bulk_create
from cartloader.api.metrics import LoaderMetrics
from cartloader.api.progress import LoadProgress
from cartloader.api.statistics import LoaderStatistics
from cartloader.budget.base import Budget, BudgetStatistics
from cartloader.budget.local import RateBudget
from cartloader.budget.shared import SharedBudget
from cartloader.config import Backoff, LoaderConfig
from cartloader.errors import (
    AuthenticationError,
    CartloaderError,
    ConfigError,
    DailyLimitError,
    FatalApiError,
    InputReadError,
    LoaderClosedError,
    MissingScopesError,
    OutcomeLogError,
)
from cartloader.input.associations import ColumnAssociation
from cartloader.input.preflight import Preflight
from cartloader.models import (
    CartInput,
    InvalidInput,
    LatencyPercentiles,
    Outcome,
    OutcomeSink,
    PropertyDefinition,
    PropertyProblem,
    RecordError,
    Settled,
    Summary,
)
from cartloader.rate import Rate
from cartloader.reconcile import ReconcileSummary, reconcile

__all__ = [
    "AuthenticationError",
    "Backoff",
    "Budget",
    "BudgetStatistics",
    "CartInput",
    "CartLoader",
    "CartloaderError",
    "ColumnAssociation",
    "ConfigError",
    "DailyLimitError",
    "FatalApiError",
    "InputReadError",
    "InvalidInput",
    "LatencyPercentiles",
    "LoadProgress",
    "LoaderClosedError",
    "LoaderConfig",
    "LoaderMetrics",
    "LoaderStatistics",
    "MissingScopesError",
    "Outcome",
    "OutcomeLogError",
    "OutcomeSink",
    "OutcomeStream",
    "Preflight",
    "PropertyDefinition",
    "PropertyProblem",
    "Rate",
    "RateBudget",
    "ReconcileSummary",
    "RecordError",
    "Settled",
    "SharedBudget",
    "Summary",
    "bulk_create",
    "reconcile",
]
