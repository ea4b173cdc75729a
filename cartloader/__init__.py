"""cartloader: fast, lossless bulk loading of cart records into HubSpot's CRM."""

from cartloader.errors import (
    AuthenticationError,
    CartloaderError,
    ConfigError,
    DailyLimitError,
    FatalApiError,
    MissingScopesError,
    OutcomeLogError,
)
from cartloader.outcome import Outcome, RecordError

__all__ = [
    "AuthenticationError",
    "CartloaderError",
    "ConfigError",
    "DailyLimitError",
    "FatalApiError",
    "MissingScopesError",
    "Outcome",
    "OutcomeLogError",
    "RecordError",
]
