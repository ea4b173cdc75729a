"""The values that flow through the pipeline: input records, outcomes, the summary, and what HubSpot's rate-limit
headers advertise. No I/O here; every layer of the loader may use them."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, Literal, Protocol

from cartloader._frozen import fast_init

Status = Literal["pending", "created", "updated", "failed", "invalid", "unsent"]
FINAL_STATUSES: frozenset[str] = frozenset({"created", "updated", "failed", "invalid"})
"""``pending`` (being sent: it may exist in HubSpot) and ``unsent`` (answered without being processed, or never
sent: it does not exist in HubSpot) are not final: ``--resume`` sends both again."""


@dataclass(slots=True)
class CartInput:
    """One valid input record, normalized to HubSpot's shape (all property values strings).

    ``trace_id`` is the record's own ``objectWriteTraceId`` when it gave one; ``key`` is the trace id
    actually sent, assigned by the chunker. ``raw`` is the input line verbatim (files only), kept
    for ``--rejects``. ``was_pending`` marks a record HubSpot may hold already: an earlier run was sending it
    when it stopped, or it failed after a request HubSpot may have processed (resent by ``--retry-failed``); set
    by the input side on ``--resume``. ``withdrawn`` marks a record whose
    submitter was cancelled before it was sent: it is dropped from its batch, never sent. ``datetimes`` names the
    properties whose values were Python ``datetime`` objects (the preflight refuses one for a ``date`` property).
    """

    line: int
    properties: dict[str, str]
    associations: list[Any] | None = None
    trace_id: str | None = None
    raw: bytes | None = None
    key: str | None = None
    was_pending: bool = False
    withdrawn: bool = False
    skipped: list[dict[str, str]] | None = None  # natural-key associations left out (--missing-target skip)
    datetimes: tuple[str, ...] = ()


@dataclass(slots=True)
class InvalidInput:
    """An input refused locally; ``message`` names the line and the reason (``line 14: ...``); ``category`` is
    ``INVALID_INPUT``, or HubSpot's own error code when the preflight refused it (``PROPERTY_DOESNT_EXIST``...),
    ``details`` then naming each property it refused. ``properties`` holds the values that could be read (for
    ``--echo``; ``None`` when the line could not be parsed)."""

    line: int
    message: str
    raw: bytes | None = None
    category: str = "INVALID_INPUT"
    details: tuple[PropertyProblem, ...] = ()
    properties: Mapping[str, str] | None = None


@dataclass(frozen=True, slots=True)
class PropertyProblem:
    """One property HubSpot refused: its name, HubSpot's error code (``INVALID_OPTION``, ``PROPERTY_DOESNT_EXIST``,
    ...) and message, and the value refused when known."""

    property: str
    code: str
    message: str
    value: str | None = None

    def to_dict(self) -> dict[str, str]:
        """The problem as it appears in ``error.details`` of the outcome log."""
        entry = {"property": self.property, "code": self.code, "message": self.message}
        if self.value is not None:
            entry["value"] = self.value
        return entry


@dataclass(frozen=True, slots=True)
class RecordError:
    """Why a record failed: HubSpot's category and message (or ours), the HTTP status if any, and HubSpot's
    per-property problems when it gave them (``details``)."""

    category: str
    message: str
    status: int | None = None
    details: tuple[PropertyProblem, ...] = ()

    def to_dict(self) -> dict[str, object]:
        """The error as it appears in the outcome log."""
        entry: dict[str, object] = {"category": self.category, "message": self.message}
        if self.status is not None:
            entry["status"] = self.status
        if self.details:
            entry["details"] = [problem.to_dict() for problem in self.details]
        return entry


@fast_init
@dataclass(frozen=True, slots=True)
class Outcome:
    """The outcome of one input record.

    ``line`` is the 1-based line number (or position in an iterable), ``key`` the
    ``objectWriteTraceId`` sent, ``id`` the HubSpot id of that record, ``attempts`` how many
    requests carried it. ``duplicate_risk`` marks a record resent after HubSpot may already have
    processed it. ``unmatched`` marks a created result that could not be matched to its input
    (a bug, never a guess). ``echoed`` holds the record's values of the properties named by ``echo=`` (``None``
    without ``echo=``): how ``on_outcome`` and ``stream()`` tell which of your records an outcome is about. Every
    named property is there, ``invalid`` outcomes included; its value is ``None`` when the record has none (or its
    line could not be read).
    ``existing_id`` is the HubSpot id of the object a record conflicted with (a unique value it already holds),
    when HubSpot named it. ``skipped_associations`` lists the associations by ``idProperty`` that named no object
    and were left out (``missing_target="skip"``): ``{"objectType", "idProperty", "id"}`` each.
    """

    line: int
    status: Status
    key: str | None = None
    id: str | None = None
    error: RecordError | None = None
    attempts: int = 0
    duplicate_risk: bool = False
    unmatched: bool = False
    echoed: Mapping[str, str | None] | None = field(default=None, hash=False)
    existing_id: str | None = None
    skipped_associations: tuple[Mapping[str, str], ...] = field(default=(), hash=False)

    @property
    def is_final(self) -> bool:
        """True for ``created``, ``updated``, ``failed`` and ``invalid``; ``pending`` and ``unsent`` are not final."""
        return self.status in FINAL_STATUSES


Settled = tuple[Outcome, CartInput | InvalidInput]
"""A final outcome with the input it came from."""


def echoed_values(record: CartInput | InvalidInput, names: Sequence[str]) -> dict[str, str | None]:
    """The record's values of the ``--echo`` properties ``names``: every name, ``None`` where it has no value (an
    ``invalid`` record: the values its line gave, none when the line could not be read)."""
    properties = record.properties
    if properties is None:
        return dict.fromkeys(names)
    get = properties.get
    return {name: get(name) for name in names}


class OutcomeSink(Protocol):
    """Something that records outcomes: the outcome log, the rejects file, a progress bar, your own.

    Both methods are called from the event loop and must not block for long. A sink may also define
    ``unsent(results)``: it then receives ``(Outcome, input)`` pairs with status ``unsent`` for records it saw
    ``pending`` that HubSpot provably did not process when the run stopped (the outcome log has it, so
    ``--resume`` sends them again without ``duplicate_risk``).
    """

    def pending(self, inputs: Sequence[CartInput]) -> None:
        """These records are about to be sent."""

    def settled(self, results: Sequence[Settled]) -> None:
        """These records have final outcomes (each with the input it came from)."""


@dataclass(frozen=True, slots=True)
class RateLimitHeaders:
    """What HubSpot's ``X-HubSpot-RateLimit-*`` headers advertised; each is None when absent or unreadable."""

    max: int | None
    remaining: int | None
    interval_ms: int | None
    daily: int | None
    daily_remaining: int | None


@dataclass(frozen=True, slots=True)
class ConcurrencyStatistics:
    """A snapshot of the in-flight limit: ``auto`` or fixed, the limit now, the places in use (requests waiting
    for their rate slot or for HubSpot's answer), and the recent mean latency auto works from (None before the
    first answer)."""

    auto: bool
    limit: int
    in_flight: int
    latency_ms: float | None


@dataclass(frozen=True, slots=True)
class LatencyPercentiles:
    """Request latency percentiles in milliseconds."""

    p50: float
    p95: float
    p99: float


@dataclass(frozen=True, slots=True)
class Summary:
    """What a run did. ``requests`` counts HTTP requests (splits and retries included),
    ``rate_limited`` 429 answers, ``skipped`` lines skipped by ``--resume``; ``unmatched`` counts
    created results that could not be matched to their input (zero unless something is wrong); ``pending``
    counts records sent whose answer never came (they may exist in HubSpot), ``unsent`` records left unsent by a
    run that stopped after they were logged ``pending`` (HubSpot processed nothing of them);
    ``error_responses`` counts answers that were neither 2xx nor 429 (HubSpot asks for under 5% of requests);
    ``failures_by_category`` counts ``failed`` and ``invalid`` records by error category, and ``failure_samples``
    gives one message for each category (``line N: ...``); ``problems_by_code`` counts every problem of every such
    record by code (each entry of ``error.details``, else the record's category), so a record refused for two
    invalid booleans and a bad number counts ``INVALID_BOOLEAN`` twice and ``INVALID_NUMBER`` once; ``lookups``
    counts the requests that resolved associations by ``idProperty`` (also counted in ``requests``);
    ``repeated_values`` gives, per identifying property, ``{"lines": n, "first": [...]}``: the lines carrying a
    value another line of the input also carries (the first of them included) and the ten smallest such lines;
    when the on-disk index of values failed mid-run (a warning says so), what was counted before the failure, each
    entry with ``"partial": True``."""

    total: int
    created: int
    updated: int
    failed: int
    invalid: int
    skipped: int
    duplicate_risk: int
    requests: int
    retries: int
    rate_limited: int
    elapsed_s: float
    records_per_s: float
    latency_ms: LatencyPercentiles
    unmatched: int = 0
    pending: int = 0
    unsent: int = 0
    error_responses: int = 0
    failures_by_category: dict[str, int] = field(default_factory=dict)
    failure_samples: dict[str, str] = field(default_factory=dict)
    lookups: int = 0
    problems_by_code: dict[str, int] = field(default_factory=dict)
    repeated_values: dict[str, dict[str, Any]] = field(default_factory=dict)

    @property
    def all_loaded(self) -> bool:
        """True when every record was created or updated (exit status 0)."""
        return self.failed == 0 and self.invalid == 0 and self.pending == 0 and self.unsent == 0

    def to_dict(self) -> dict[str, object]:
        """The summary as the JSON of ``--summary-json``."""
        return asdict(self)


@dataclass(frozen=True, slots=True)
class PropertyDefinition:
    """One property of the object type as HubSpot's Properties API describes it: ``type`` (``string``,
    ``number``, ``bool``, ``date``, ``datetime``, ``enumeration``...), ``field_type`` (``checkbox`` is a
    multi-select), the enumeration's option values, and whether its value is unique, read-only, or comes from
    options HubSpot fills in itself (``external_options``); ``label`` as HubSpot shows it, ``sensitivity`` its
    ``dataSensitivity`` (``non_sensitive``, ``sensitive`` or ``highly_sensitive``)."""

    name: str
    type: str = "string"
    field_type: str = ""
    options: frozenset[str] = frozenset()
    unique: bool = False
    read_only: bool = False
    external_options: bool = False
    label: str = ""
    sensitivity: str = "non_sensitive"


@dataclass(frozen=True, slots=True)
class ValidationRule:
    """One validation rule of a property, as the property-validations API lists it (``normalized``: HubSpot's
    ``shouldApplyNormalization``)."""

    rule_type: str
    arguments: tuple[str, ...] = ()
    normalized: bool = False


@dataclass(frozen=True, slots=True)
class PortalSchema:
    """What the portal says about the object type: its property definitions by name and the validation rules of
    the properties that have some."""

    definitions: Mapping[str, PropertyDefinition]
    rules: Mapping[str, tuple[ValidationRule, ...]] = field(default_factory=dict)

    @property
    def unique_properties(self) -> tuple[str, ...]:
        """The properties whose values HubSpot keeps unique (``hasUniqueValue``), in definition order."""
        return tuple(name for name, definition in self.definitions.items() if definition.unique)
