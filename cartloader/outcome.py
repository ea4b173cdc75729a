"""What happened to each record: the ``Outcome`` and its ``RecordError``."""

from __future__ import annotations

from collections.abc import Callable
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


def _fast_init() -> Callable[..., None]:
    """An ``Outcome.__init__`` that stores each field through its slot descriptor.

    The dataclass-generated ``__init__`` of a frozen class goes through ``object.__setattr__(self, name,
    value)`` for every field; calling the slots' own setters directly builds an ``Outcome`` in about half the
    time (one per record). Same parameters, defaults and result; the instance stays frozen to users
    (assignment still raises ``FrozenInstanceError``).
    """
    setters = [Outcome.__dict__[name].__set__ for name in Outcome.__slots__]
    names = tuple(Outcome.__slots__)
    assert names == ("line", "status", "key", "id", "error", "attempts", "duplicate_risk", "unmatched", "echo")
    set_line, set_status, set_key, set_id, set_error, set_attempts, set_risk, set_unmatched, set_echo = setters

    def __init__(
        self: Outcome,
        line: int,
        status: Status,
        key: str | None = None,
        id: str | None = None,
        error: RecordError | None = None,
        attempts: int = 0,
        duplicate_risk: bool = False,
        unmatched: bool = False,
        echo: str | None = None,
    ) -> None:
        set_line(self, line)
        set_status(self, status)
        set_key(self, key)
        set_id(self, id)
        set_error(self, error)
        set_attempts(self, attempts)
        set_risk(self, duplicate_risk)
        set_unmatched(self, unmatched)
        set_echo(self, echo)

    __init__.__qualname__ = "Outcome.__init__"
    return __init__


setattr(Outcome, "__init__", _fast_init())  # noqa: B010 - mypy refuses assigning a method
