"""Reading the portal's schema for the preflight (design rule 9): the object type's property definitions and
validation rules, through the same rate budget as the batches (counted in ``requests``), kept for
``LoaderConfig.schema_max_age_s`` (10 minutes) and read again after that.

Refused (403: the token lacks the schema scope; 404) or unanswered, the load goes on without the preflight
after one warning on the ``cartloader`` logger; a 401 stops the run like any 401.

HubSpot's default list leaves out sensitive properties. The first record naming a property the list lacks makes
``including_sensitive()`` read the sensitive lists (``engine.properties``), once per schema read: a property found
there is checked like any other; when a list is refused, properties in no list are left to HubSpot (one warning)
instead of being refused ``PROPERTY_DOESNT_EXIST``. A load whose records name only listed properties asks nothing
more.
"""

from __future__ import annotations

import dataclasses
import logging
import random
import time
from collections.abc import Callable, Sequence

import anyio

from cartloader.config import LoaderConfig
from cartloader.engine.calls import Exchange, Requester, call, describe_no_answer
from cartloader.engine.properties import read_sensitive, schema_scope
from cartloader.engine.stats import RunStats
from cartloader.errors import ConfigError, FatalApiError
from cartloader.hubspot.failures import Action
from cartloader.hubspot.protocol import Endpoint
from cartloader.hubspot.schema import SchemaUnreadable, portal_schema
from cartloader.hubspot.transport import NoAnswer
from cartloader.input.preflight import Preflight, suggestion
from cartloader.models import PortalSchema

logger = logging.getLogger("cartloader")

#: Attempts per schema read: a portal that does not answer costs a few seconds, then the load goes on.
SCHEMA_READ_ATTEMPTS = 3


def check_upsert_key(schema: PortalSchema, upsert_by: str, object_type: str) -> None:
    """Raise ``ConfigError`` unless HubSpot marks ``upsert_by`` unique (``hasUniqueValue``): batch upsert refuses
    any other ``idProperty``, so every batch would fail."""
    definition = schema.definitions.get(upsert_by)
    if definition is None:
        raise ConfigError(f'cannot upsert by "{upsert_by}": {object_type} has no such property')
    if not definition.unique:
        unique = ", ".join(schema.unique_properties) or "none"
        raise ConfigError(
            f'cannot upsert by "{upsert_by}": HubSpot does not mark it unique (hasUniqueValue is false), so '
            f"batch/upsert would refuse every batch; unique properties of {object_type}: {unique}"
        )


class SchemaSource:
    """The portal's schema for one loader: read on first use, read again once older than the configuration's
    ``schema_max_age_s``;
    ``current()`` is safe to call from many tasks (one read serves them all)."""

    def __init__(
        self,
        requester: Requester,
        config: LoaderConfig,
        rng: random.Random,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._requester = requester
        self._endpoint = Endpoint(config.base_url, config.api_path, config.object_type, config.api_version)
        self._object_type = config.object_type
        self._config = dataclasses.replace(config, max_attempts=min(config.max_attempts, SCHEMA_READ_ATTEMPTS))
        self._rng = rng
        self._max_age_s = config.schema_max_age_s
        self._clock = clock
        self._lock = anyio.Lock()
        self._preflight: Preflight | None = None
        self._read_at: float | None = None
        self._warned: set[str] = set()

    @property
    def stale(self) -> bool:
        """True when the schema has never been read, or was read more than ``schema_max_age_s`` ago."""
        return self._read_at is None or self._clock() - self._read_at >= self._max_age_s

    async def current(self, stats: RunStats) -> Preflight | None:
        """The preflight for the schema as last read (read now if stale); None when it could not be read.
        The reads are counted in ``stats``."""
        if self.stale:
            async with self._lock:
                if self.stale:
                    self._preflight = await self._read(stats)
                    self._read_at = self._clock()
        return self._preflight

    async def including_sensitive(self, stats: RunStats, unlisted: Sequence[str] = ()) -> Preflight | None:
        """The preflight with the sensitive lists read too (read now unless this schema's already were);
        ``unlisted``: the properties that made a record ask, named in the warning if a list is refused."""
        preflight = await self.current(stats)
        if preflight is None or preflight.sensitive_read:
            return preflight
        async with self._lock:
            current = self._preflight
            if current is None or current.sensitive_read:
                return current
            url = self._endpoint.properties_url
            # The first refused list settles it (properties in no list go to HubSpot): no second error response.
            lists = await read_sensitive(lambda u: self._get(u, stats), url, self._object_type, every=False)
            schema = current.schema
            if lists.definitions:
                schema = dataclasses.replace(schema, definitions={**lists.definitions, **schema.definitions})
            if lists.unread and "sensitive" not in self._warned:
                self._warned.add("sensitive")
                named = ", ".join(f'"{name}"{suggestion(name, schema)}' for name in unlisted[:5])
                logger.warning(
                    "sensitive properties of %s could not be read (%s); properties not in the list are left to "
                    "HubSpot%s",
                    self._object_type,
                    "; ".join(lists.unread),
                    f", e.g. {named}" if named else "",
                )
            self._preflight = Preflight(
                schema, self._object_type, sensitive_read=True, unlisted_allowed=bool(lists.unread)
            )
            return self._preflight

    async def _get(self, url: str, stats: RunStats) -> Exchange:
        return await call(self._requester, "GET", url, None, stats=stats, config=self._config, rng=self._rng)

    async def _read(self, stats: RunStats) -> Preflight | None:
        definitions = await self._get(self._endpoint.properties_url, stats)
        error = definitions.error
        if isinstance(error, NoAnswer) and error.dns:
            # A host that does not resolve never will during this run: stop now (exit 3), naming DNS.
            raise FatalApiError(
                f"cannot reach HubSpot: {describe_no_answer(error)}; check --base-url and the network's DNS",
                category="DNS",
            )
        if definitions.rule.action is not Action.ACCEPT:
            self._warn("definitions", "the property definitions", definitions)
            return None
        rules = await self._get(self._endpoint.validations_url, stats)
        rules_body = rules.body if rules.rule.action is Action.ACCEPT else None
        if rules_body is None:
            self._warn("rules", "the validation rules", rules, partial=True)
        try:
            schema = portal_schema(definitions.body or b"", rules_body)
        except SchemaUnreadable as exc:
            self._warn("definitions", "the property definitions", None, reason=str(exc))
            return None
        return Preflight(schema, self._object_type)

    def _warn(
        self, key: str, what: str, exchange: Exchange | None, *, partial: bool = False, reason: str | None = None
    ) -> None:
        if key in self._warned:
            return
        self._warned.add(key)
        answer = exchange.answer if exchange is not None else None
        scopes = answer.context_values("requiredGranularScopes") if answer is not None else ()
        scope = ", ".join(scopes) if scopes else schema_scope(self._object_type)
        if reason is None:
            assert exchange is not None
            reason = exchange.describe()
            if answer is not None and answer.status == 403:
                reason += f": the token lacks the scope {scope}"
            elif answer is None:
                pass  # no answer: nothing says a scope is missing
            else:
                if answer is not None and answer.message:
                    reason += f": {answer.message}"
                reason += f"; the preflight needs the scope {scope}"
        consequence = (
            "the preflight checks the definitions only; records that break a validation rule fail at HubSpot"
            if partial
            else "loading without the preflight: records HubSpot would refuse are sent and fail there"
        )
        logger.warning("cannot read %s of %s (%s); %s", what, self._object_type, reason, consequence)

    def for_run(self, stats: RunStats, on_read: Callable[[Preflight], None]) -> RunSchema:
        """The schema as one run sees it: reads counted in ``stats``, ``on_read`` told of each new read."""
        return RunSchema(self, stats, on_read)

    def __repr__(self) -> str:
        return f"SchemaSource({self._endpoint.properties_url!r}, stale={self.stale})"


class RunSchema:
    """The portal's schema for one run. The producer asks for it when the first record needs checking (a run
    with nothing to send reads nothing) and again once it is ``stale``; ``on_read`` sees each schema read (the
    loader checks the upsert key there and tells the chunker which properties are unique)."""

    __slots__ = ("_on_read", "_seen", "_source", "_stats")

    def __init__(self, source: SchemaSource, stats: RunStats, on_read: Callable[[Preflight], None]) -> None:
        self._source = source
        self._stats = stats
        self._on_read = on_read
        self._seen: Preflight | None = None

    @property
    def stale(self) -> bool:
        """True when the schema should be read (again) before the next record is checked."""
        return self._source.stale

    async def current(self) -> Preflight | None:
        """The preflight for the schema as last read (read now if stale); None when it could not be read."""
        return self._seen_now(await self._source.current(self._stats))

    async def including_sensitive(self, unlisted: Sequence[str] = ()) -> Preflight | None:
        """The preflight with the sensitive lists read too (see the module)."""
        return self._seen_now(await self._source.including_sensitive(self._stats, unlisted))

    def _seen_now(self, preflight: Preflight | None) -> Preflight | None:
        if preflight is not None and preflight is not self._seen:
            self._seen = preflight
            self._on_read(preflight)
        return preflight
