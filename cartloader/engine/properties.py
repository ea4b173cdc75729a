"""Reading the portal's property definitions: the default list, and the lists of sensitive properties that the
Properties API leaves out of it (query ``dataSensitivity``: ``sensitive``, ``highly_sensitive``; each needs its
own scope). Used by the preflight (``engine.preflight``) and by ``CartLoader.properties()``.

The scope names for carts' sensitive lists are an assumption: HubSpot's Properties spec names
``crm.objects.<type>.sensitive.read`` and ``.highly_sensitive.read`` for contacts, companies, deals and others,
and none for carts. A 403 that names its ``requiredGranularScopes`` is believed over the assumption.
"""

from __future__ import annotations

import dataclasses
import logging
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from cartloader.config import LoaderConfig
from cartloader.engine.calls import Exchange, Requester, call, describe_no_answer, fatal_error
from cartloader.engine.stats import RunStats
from cartloader.errors import FatalApiError, MissingScopesError
from cartloader.hubspot.failures import Action
from cartloader.hubspot.protocol import Endpoint
from cartloader.hubspot.schema import SchemaUnreadable, parse_definitions
from cartloader.hubspot.transport import NoAnswer
from cartloader.models import PropertyDefinition

logger = logging.getLogger("cartloader")

#: Attempts per read: a portal that does not answer costs a few seconds.
READ_ATTEMPTS = 3
#: The ``dataSensitivity`` levels the default list leaves out.
SENSITIVE_LEVELS = ("sensitive", "highly_sensitive")

Get = Callable[[str], Awaitable[Exchange]]


def schema_scope(object_type: str) -> str:
    """The scope that reads an object type's property definitions: ``crm.schemas.carts.read`` for carts."""
    return f"crm.schemas.{object_type}.read"


def sensitive_scope(object_type: str, level: str) -> str:
    """The scope assumed to read the ``level`` list: ``crm.objects.carts.sensitive.read`` (see the module)."""
    return f"crm.objects.{object_type}.{level}.read"


def sensitivity_url(properties_url: str, level: str) -> str:
    """The Properties API list of one sensitivity level."""
    return f"{properties_url}?dataSensitivity={level}"


@dataclass(frozen=True, slots=True)
class SensitiveLists:
    """What the sensitive lists gave: their definitions by name, and why each list that could not be read was
    not (empty when every list was read)."""

    definitions: dict[str, PropertyDefinition]
    unread: tuple[str, ...]


def _refusal(exchange: Exchange, scope: str) -> str:
    answer = exchange.answer
    if answer is not None and answer.status == 403:
        named = answer.context_values("requiredGranularScopes")
        return f"scope {', '.join(named) if named else scope}"
    return f"{scope}: {exchange.describe()}"


async def read_sensitive(get: Get, properties_url: str, object_type: str, *, every: bool = True) -> SensitiveLists:
    """Read every sensitive list the token may; a refused or unreadable list is named in ``unread``. With
    ``every`` False, stop at the first list refused (each refusal is an error response HubSpot counts)."""
    definitions: dict[str, PropertyDefinition] = {}
    unread: list[str] = []
    for level in SENSITIVE_LEVELS:
        scope = sensitive_scope(object_type, level)
        exchange = await get(sensitivity_url(properties_url, level))
        if exchange.rule.action is not Action.ACCEPT:
            unread.append(_refusal(exchange, scope))
            if not every:
                break
            continue
        try:
            definitions.update(parse_definitions(exchange.body or b""))
        except SchemaUnreadable as exc:
            unread.append(f"{scope}: {exc}")
    return SensitiveLists(definitions, tuple(unread))


async def read_properties(get: Get, properties_url: str, object_type: str) -> list[PropertyDefinition]:
    """Every property definition the token may read: the default list (refused: raise, naming the scope), then
    the sensitive lists where the token may (one warning on the ``cartloader`` logger names those it may not)."""
    exchange = await get(properties_url)
    if exchange.rule.action is not Action.ACCEPT:
        answer = exchange.answer
        scope = schema_scope(object_type)
        if answer is None:
            error = exchange.error
            reason = describe_no_answer(error) if isinstance(error, NoAnswer) else exchange.describe()
            raise FatalApiError(f"cannot read the properties of {object_type}: {reason}", category="NO_ANSWER")
        if answer.status == 403:
            scopes = answer.context_values("requiredGranularScopes") or (scope,)
            raise MissingScopesError(
                f"HubSpot refused to list the properties of {object_type}: the token lacks the scope "
                f"{', '.join(scopes)}",
                category=answer.category,
                correlation_id=answer.correlation_id,
                status=403,
                scopes=scopes,
            )
        raise fatal_error(answer, what=f"the properties of {object_type}")
    try:
        listed = parse_definitions(exchange.body or b"")
    except SchemaUnreadable as exc:
        raise FatalApiError(f"cannot read the properties of {object_type}: {exc}") from None
    sensitive = await read_sensitive(get, properties_url, object_type)
    if sensitive.unread:
        logger.warning("sensitive properties of %s not listed (%s)", object_type, "; ".join(sensitive.unread))
    return [*listed.values(), *(d for name, d in sensitive.definitions.items() if name not in listed)]


async def list_properties(
    requester: Requester, config: LoaderConfig, rng: random.Random, stats: RunStats
) -> list[PropertyDefinition]:
    """``read_properties`` for the configuration's object type, through ``requester`` (counted in ``stats``)."""
    endpoint = Endpoint(config.base_url, config.api_path, config.object_type, config.api_version)
    config = dataclasses.replace(config, max_attempts=min(config.max_attempts, READ_ATTEMPTS))

    async def get(url: str) -> Exchange:
        return await call(requester, "GET", url, None, stats=stats, config=config, rng=rng)

    return await read_properties(get, endpoint.properties_url, config.object_type)
