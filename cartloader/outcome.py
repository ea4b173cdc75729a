"""What happened to each record: the ``Outcome`` and its ``RecordError``."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Status = Literal["pending", "created", "updated", "failed", "invalid"]
FINAL_STATUSES: frozenset[str] = frozenset({"created", "updated", "failed", "invalid"})


@dataclass(frozen=True, slots=True)
class RecordError:
    """Why a record failed: HubSpot's category and message (or ours), and the HTTP status if any."""

    category: str
    message: str
    status: int | None = None

    def to_dict(self) -> dict[str, object]:
        """The error as it appears in the outcome log."""
        if self.status is None:
            return {"category": self.category, "message": self.message}
        return {"category": self.category, "message": self.message, "status": self.status}


@dataclass(frozen=True, slots=True)
class Outcome:
    """The outcome of one input record.

    ``line`` is the 1-based line number (or position in an iterable), ``key`` the
    ``objectWriteTraceId`` sent, ``id`` the HubSpot id of that record, ``attempts`` how many
    requests carried it. ``duplicate_risk`` marks a record resent after HubSpot may already have
    processed it. ``unmatched`` marks a created result that could not be matched to its input
    (a bug, never a guess). ``echo`` is the value of the property named by ``--echo``.
    """

    line: int
    status: Status
    key: str | None = None
    id: str | None = None
    error: RecordError | None = None
    attempts: int = 0
    duplicate_risk: bool = False
    unmatched: bool = False
    echo: str | None = None

    @property
    def is_final(self) -> bool:
        """True unless the record is still ``pending``."""
        return self.status != "pending"
