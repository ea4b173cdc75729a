"""``SimulatorConfig``: every knob of the simulator, validated once when it is built."""

from __future__ import annotations

from collections.abc import Container, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Literal

from cartloader.errors import ConfigError
from cartloader.rate import Rate
from cartloader.simulator.associations import DEFAULT_ASSOCIATION_IDS, IdRanges, Label
from cartloader.simulator.echo import DateEcho, DatetimeEcho, EchoForms, MultiSelectEcho, WhitespaceEcho
from cartloader.simulator.faults import check_faults, check_schedule
from cartloader.simulator.schema import (
    NATIVE_CART_PROPERTIES,
    PropertyDefinition,
    Schema,
    ValidationRule,
    parse_property,
    parse_rule,
)

WRITE_SCOPE = "crm.objects.carts.write"
READ_SCOPE = "crm.objects.carts.read"
SCHEMA_READ_SCOPE = "crm.schemas.carts.read"
CONTACTS_READ_SCOPE = "crm.objects.contacts.read"
DEFAULT_TOKEN = "sim-token"
#: What the default token, and a token given without scopes, may do (the scopes the contract lists).
DEFAULT_SCOPES = frozenset({WRITE_SCOPE, READ_SCOPE, SCHEMA_READ_SCOPE, CONTACTS_READ_SCOPE})
EchoTraceIds = Literal["always", "never", "sometimes"]
Conflicts = Literal["whole-batch", "per-input"]


def _default_tokens() -> Mapping[str, frozenset[str]]:
    return MappingProxyType({DEFAULT_TOKEN: DEFAULT_SCOPES})


@dataclass(frozen=True)
class SimulatorConfig:
    """How the simulated HubSpot behaves. Invalid values raise ``ConfigError`` at construction.

    ``rate`` is a rolling window per token (``"190/10s"``); ``daily`` a per-token daily request count;
    ``latency_ms`` the (p50, p95) processing time of a 100-input request; ``faults`` maps fault names to
    probabilities; ``seed`` makes shuffling, latency, faults and trace-id echoing reproducible.
    """

    host: str = "127.0.0.1"
    port: int = 0
    tokens: Mapping[str, frozenset[str]] = field(default_factory=_default_tokens)
    rate: Rate | str | None = None
    daily: int | None = None
    latency_ms: tuple[float, float] | None = None
    faults: Mapping[str, float] = field(default_factory=dict)
    seed: int | None = None
    #: Properties with unique values (besides custom ones declared ``:unique``); none by default, as at HubSpot.
    unique: tuple[str, ...] = ()
    store: bool = True
    echo_trace_ids: EchoTraceIds = "sometimes"
    #: Probability that a batch with invalid inputs fails as a whole although every trace id is unique.
    whole_batch_400: float = 0.0
    #: Association targets that exist: a container of ids, or ranges as text (``"1-1000,123456789-999999999"``).
    association_ids: Container[int] | str = DEFAULT_ASSOCIATION_IDS
    #: ``whole-batch``: a unique-value conflict fails the whole request with 409; ``per-input``: only that input.
    conflicts: Conflicts = "whole-batch"
    #: Faults forced on the N-th batch request: N -> fault name (on top of the probabilities in ``faults``).
    faults_at: Mapping[int, str] = field(default_factory=dict)
    #: When set, 429 and 503 answers carry ``Retry-After`` with this many seconds (rounded up to a whole second);
    #: ``migration_477`` answers carry it always (1 s when unset).
    retry_after_s: float | None = None
    #: Canonicalize number properties the way HubSpot stores them ("10.50" -> "10.5").
    normalize_numbers: bool = True
    #: How datetimes are stored and echoed: ``iso`` (ISO 8601 UTC with milliseconds, as HubSpot) or ``as-sent``.
    echo_datetimes: DatetimeEcho = "iso"
    #: How dates are stored and echoed: ``iso`` (``YYYY-MM-DD``), ``epoch-ms`` (midnight UTC) or ``as-sent``.
    echo_dates: DateEcho = "iso"
    #: ``trim``: white space around values goes, a value of only white space clears; ``keep``: values as sent.
    echo_whitespace: WhitespaceEcho = "trim"
    #: Multi-select values in the order sent (``as-sent``, each once) or ``sorted``.
    echo_multi_select: MultiSelectEcho = "as-sent"
    #: Milliseconds a batch create or upsert answer waits after its write was applied (a client that gives up
    #: meanwhile leaves its records created).
    answer_delay_ms: float = 0.0
    #: Whether 429-rejected requests also use up the rolling window and the daily count, as at HubSpot.
    count_rejected: bool = True
    #: Custom properties besides HubSpot's native cart properties: ``PropertyDefinition``s or
    #: ``NAME[:TYPE[/FIELDTYPE]][:unique][:options=A|B]`` strings (a bare NAME is a string property).
    properties: tuple[PropertyDefinition | str, ...] = ()
    #: Validation rules: ``ValidationRule``s or ``PROPERTY:RULE_TYPE[:ARG...]`` strings.
    rules: tuple[ValidationRule | str, ...] = ()
    #: Properties a create must set under API 2026-09 (the account's required-property rules).
    required: tuple[str, ...] = ()
    #: How long a ``post_hang`` answer is held before the connection is dropped (``stop()`` ends it sooner).
    hang_s: float = 3600.0
    #: ``groupName`` in TEN_SECONDLY_ROLLING 429 bodies.
    rate_group: str = "publicapi:app-api:1234567:sim-app"
    #: First id given to a created object; later ones count up.
    first_id: int = 40_000_000_001
    #: Contacts of the portal (email unique): a count (``customer{N}@example.com``) or the emails themselves.
    contacts: int | tuple[str, ...] = 0
    #: Orders of the portal, with the unique custom property ``shop_order_id`` = ``SO-{N}``.
    orders: int = 0
    #: Custom association labels: ``Label``s or ``FROM:TO:CATEGORY:TYPE_ID[:LABEL]`` strings.
    labels: tuple[Label | str, ...] = ()
    #: Search finds an object only this long after it was created (HubSpot's index is eventually consistent).
    search_index_delay_ms: float = 0.0
    #: Searches per token in any rolling second (HubSpot's current docs: 5); None: unlimited.
    search_rate: float | None = 5.0

    def __post_init__(self) -> None:
        if isinstance(self.rate, str):
            object.__setattr__(self, "rate", Rate.parse(self.rate))
        if not 0 <= self.port <= 65535:
            raise ConfigError(f"port {self.port} is not between 0 and 65535")
        if self.daily is not None and self.daily < 1:
            raise ConfigError(f"daily limit {self.daily} must be at least 1")
        if self.latency_ms is not None:
            p50, p95 = (float(v) for v in self.latency_ms)
            if p50 < 0 or p95 < p50:
                raise ConfigError(f"latency {p50:g},{p95:g} ms: need 0 <= p50 <= p95")
            object.__setattr__(self, "latency_ms", (p50, p95))
        object.__setattr__(self, "faults", MappingProxyType(check_faults(self.faults)))
        object.__setattr__(self, "tokens", MappingProxyType({t: frozenset(s) for t, s in self.tokens.items()}))
        object.__setattr__(self, "unique", tuple(self.unique))
        object.__setattr__(self, "faults_at", MappingProxyType(check_schedule(self.faults_at)))
        properties = tuple(parse_property(p) if isinstance(p, str) else p for p in self.properties)
        object.__setattr__(self, "properties", properties)
        object.__setattr__(self, "rules", tuple(parse_rule(r) if isinstance(r, str) else r for r in self.rules))
        object.__setattr__(self, "required", tuple(self.required))
        object.__setattr__(self, "labels", tuple(Label.parse(x) if isinstance(x, str) else x for x in self.labels))
        if not isinstance(self.contacts, int):
            object.__setattr__(self, "contacts", tuple(self.contacts))
        if (isinstance(self.contacts, int) and self.contacts < 0) or self.orders < 0:
            raise ConfigError("contacts and orders are counts of at least 0")
        if isinstance(self.association_ids, str):
            object.__setattr__(self, "association_ids", IdRanges.parse(self.association_ids))
        if self.conflicts not in ("whole-batch", "per-input"):
            raise ConfigError(f"conflicts {self.conflicts!r}: expected whole-batch or per-input")
        self.schema()  # raises ConfigError for rules or required properties naming no property
        if self.echo_trace_ids not in ("always", "never", "sometimes"):
            raise ConfigError(f"echo_trace_ids {self.echo_trace_ids!r}: expected always, never or sometimes")
        if not 0.0 <= self.whole_batch_400 <= 1.0:
            raise ConfigError(f"whole_batch_400 {self.whole_batch_400:g} is not a probability between 0 and 1")
        if self.retry_after_s is not None and self.retry_after_s < 0:
            raise ConfigError("retry_after_s must not be negative")
        if self.hang_s < 0:
            raise ConfigError("hang_s must not be negative")
        if not self.answer_delay_ms >= 0:
            raise ConfigError("answer_delay_ms must not be negative")
        self.echo_forms()  # raises ConfigError for an unknown echo form
        if self.search_index_delay_ms < 0 or (self.search_rate is not None and self.search_rate <= 0):
            raise ConfigError("search_index_delay_ms must not be negative, search_rate must be positive")

    def echo_forms(self) -> EchoForms:
        """The forms values are stored and echoed in, as the ``echo_*`` fields and ``normalize_numbers`` say."""
        return EchoForms(
            self.echo_datetimes, self.echo_dates, self.echo_whitespace, self.echo_multi_select, self.normalize_numbers
        )

    def schema(self) -> Schema:
        """The property definitions, rules and required properties this configuration describes."""
        definitions = [*NATIVE_CART_PROPERTIES]
        definitions.extend(p for p in self.properties if isinstance(p, PropertyDefinition))
        rules = [r for r in self.rules if isinstance(r, ValidationRule)]
        return Schema(definitions, rules, unique=self.unique, required=self.required)

    @property
    def existing_ids(self) -> Container[int]:
        """``association_ids`` as a container (the constructor already parsed any string)."""
        assert not isinstance(self.association_ids, str)
        return self.association_ids

    @property
    def parsed_rate(self) -> Rate | None:
        """``rate`` as a ``Rate`` (the constructor already parsed any string)."""
        assert not isinstance(self.rate, str)
        return self.rate
