"""Writing the associations of upserted records through the v4 batch associations API (design: associations in
upsert mode are never dropped). The requests take slots of the same budget and count in ``requests``; creating an
association that exists already changes nothing, so failures that may or may not have done it are resent.
"""

from __future__ import annotations

import random
from collections.abc import Sequence

from cartloader.config import LoaderConfig
from cartloader.engine.calls import Exchange, Requester, call, fatal_error
from cartloader.engine.stats import RunStats
from cartloader.hubspot.associations import Link, link_body, links, written_pairs
from cartloader.hubspot.failures import Action
from cartloader.hubspot.protocol import ApiError, Endpoint
from cartloader.hubspot.targets import ASSOCIATIONS, target_problems
from cartloader.models import CartInput, PropertyProblem, RecordError

ASSOCIATION_FAILED = "ASSOCIATION_FAILED"


def _reason(link: Link, from_id: str, exchange: Exchange) -> tuple[str, tuple[PropertyProblem, ...]]:
    """Why one link is not written: the error that names its target or its record, else what the answer was; and
    the ids and types that error names (``INVALID_OBJECT_IDS``, ``INVALID_ASSOCIATION_TYPES``), for
    ``error.details``."""
    answer = exchange.answer
    if answer is None or exchange.rule.action is not Action.ACCEPT:
        why = exchange.describe() + (f": {answer.message}" if answer is not None and answer.message else "")
        details = answer.details if answer is not None else ()
        return why, tuple(problem for problem in details if problem.property == ASSOCIATIONS)
    errors: list[ApiError] = answer.errors
    for error in errors:
        named = {value for values in error.context.values() for value in values}
        if link.to_id in named or from_id in named:
            return error.message or error.category, target_problems(error.context, error.message)
    if errors:
        return errors[0].message or errors[0].category, ()
    return "HubSpot's answer had neither a result nor an error for it", ()


def _status(exchange: Exchange) -> int | None:
    """The status a link's failure reports: the answer's, or 400 for an error inside a 2xx (what HubSpot answers
    when such an error fails a whole request); None when no answer came."""
    answer = exchange.answer
    if answer is None:
        return None
    return 400 if 200 <= answer.status < 300 else answer.status


class Linker:
    """Writes the associations of upserted records for one run."""

    __slots__ = ("_config", "_endpoint", "_requester", "_rng", "_stats")

    def __init__(self, requester: Requester, config: LoaderConfig, stats: RunStats, rng: random.Random) -> None:
        self._requester = requester
        self._endpoint = Endpoint(config.base_url, config.api_path, config.object_type, config.api_version)
        self._config = config
        self._stats = stats
        self._rng = rng

    async def link(self, upserted: Sequence[tuple[CartInput, str]]) -> list[RecordError | None]:
        """Write the associations of each (record, its HubSpot id); for each, None when every association is in
        place, else the ``ASSOCIATION_FAILED`` error naming the associations that are not."""
        by_type: dict[str, list[tuple[int, str, Link]]] = {}
        problems: dict[int, list[str]] = {}
        details: dict[int, list[PropertyProblem]] = {}
        for k, (record, object_id) in enumerate(upserted):
            found = links(record.associations or (), self._config.object_type)
            if isinstance(found, str):  # refused before sending by the chunker: never here in a run
                problems[k] = [found]
                continue
            for item in found:
                by_type.setdefault(item.to_type, []).append((k, object_id, item))
        status: dict[int, int | None] = {}
        size = self._config.batch_size
        for to_type, entries in by_type.items():
            url = self._endpoint.associations_url(to_type)
            for start in range(0, len(entries), size):
                chunk = entries[start : start + size]
                exchange = await self._send(url, chunk)
                written = written_pairs(exchange.body) if exchange.rule.action is Action.ACCEPT else set()
                for k, from_id, item in chunk:
                    if (from_id, item.to_id) not in written:
                        why, named = _reason(item, from_id, exchange)
                        problems.setdefault(k, []).append(f"{item.describe()}: {why}")
                        details.setdefault(k, []).extend(p for p in named if p not in details[k])
                        status.setdefault(k, _status(exchange))
        return [
            RecordError(
                ASSOCIATION_FAILED,
                f"upserted as {upserted[k][1]}, but not associated with {'; '.join(problems[k])}",
                status.get(k),
                tuple(details.get(k, ())),
            )
            if k in problems
            else None
            for k in range(len(upserted))
        ]

    async def _send(self, url: str, chunk: list[tuple[int, str, Link]]) -> Exchange:
        body = link_body([(from_id, item) for _, from_id, item in chunk])
        exchange = await call(self._requester, "POST", url, body, stats=self._stats, config=self._config, rng=self._rng)
        answer = exchange.answer
        if exchange.rule.action is Action.FATAL and answer is not None and answer.status == 403:
            raise fatal_error(answer, what=url)  # the token cannot write associations: no record can be linked
        return exchange
