"""``reconcile()``: read the log, its meta file and its input; find the objects holding each flagged record's
identifying value; decide (``rules``); with ``apply``, archive the surplus copies and settle the log."""

from __future__ import annotations

import os
import sqlite3
import tempfile
from collections.abc import Iterator
from contextlib import ExitStack
from urllib.parse import urlsplit

import orjson

from cartloader.config import DEFAULT_MAX_ATTEMPTS, DEFAULT_TIMEOUT_S, Backoff, TokenCallable, is_loopback
from cartloader.errors import ConfigError
from cartloader.hubspot.auth import TokenSource
from cartloader.reconcile.applying import Ledger, lock_log
from cartloader.reconcile.client import GROUPS, IN_VALUES, Found, HubSpotClient
from cartloader.reconcile.inputs import RunFacts, index_input, read_run, sibling_logs
from cartloader.reconcile.logindex import (
    attempt_times,
    index_log,
    is_checked,
    is_named,
    mark_checked,
    open_index,
)
from cartloader.reconcile.rules import LineFacts, decide, windows
from cartloader.reconcile.summary import LISTED_LINES, ReconcileSummary

DEFAULT_BASE_URL = "https://api.hubapi.com"


def attempt_span_s(options: dict[str, object]) -> float:
    """How long one run's attempts of a batch may last after its ``pending`` line when no final line says when
    they ended (``answered_at``): every attempt's timeout and the longest backoff between them (the meta's
    ``timeout_s``/``max_attempts`` when recorded). An estimate: pauses on 429 (not counted as attempts) and the
    attempts of split or resent parts of a batch can last longer (docs/duplicates.md)."""
    timeout = options.get("timeout_s")
    attempts = options.get("max_attempts")
    timeout_s = float(timeout) if isinstance(timeout, int | float) else DEFAULT_TIMEOUT_S
    count = int(attempts) if isinstance(attempts, int) else DEFAULT_MAX_ATTEMPTS
    return count * (timeout_s + Backoff().cap_s)


def _check_url(base_url: str) -> None:
    parts = urlsplit(base_url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigError(f"--base-url {base_url}: expected http(s)://HOST[:PORT]")
    if parts.scheme == "http" and not is_loopback(parts.hostname):
        raise ConfigError(f"--base-url {base_url}: plain http is refused for a host that is not loopback")


def _values(db: sqlite3.Connection) -> Iterator[str]:
    query = "SELECT DISTINCT input.value FROM input JOIN chk USING (line) ORDER BY input.value"
    for (value,) in db.execute(query):
        yield value


def _lines(db: sqlite3.Connection, value: str, span_s: float) -> list[LineFacts]:
    query = (
        "SELECT input.line, input.props, entries.status, entries.dr, entries.id, chk.line IS NOT NULL, entries.amb "
        "FROM input LEFT JOIN entries USING (line) LEFT JOIN chk USING (line) WHERE input.value = ?"
    )
    facts = []
    for line, props, status, flagged, object_id, checked, ambiguous in db.execute(query, (value,)).fetchall():
        fact = LineFacts(line, status or "absent", bool(flagged), object_id, bool(checked), bool(ambiguous))
        if checked:
            fact.properties = orjson.loads(props) if props is not None else None
            fact.windows = windows(attempt_times(db, line), span_s)
        facts.append(fact)
    return facts


async def reconcile(
    out: str | os.PathLike[str],
    *,
    apply: bool = False,
    key: str | None = None,
    token: str | TokenCallable,
    base_url: str | None = None,
    api_version: str | None = None,
    object_type: str | None = None,
    api_path: str | None = None,
) -> ReconcileSummary:
    """Find (and with ``apply`` archive) the duplicates of the records ``out`` flags ``duplicate_risk`` or leaves
    ``pending``, and settle the log; see docs/duplicates.md. ``ConfigError`` for a log or input it must not read,
    ``FatalApiError`` when HubSpot refuses (token, scope). Endpoint options default to the run's own (meta file)."""
    path = os.fspath(out)
    facts = read_run(path, key)
    options = facts.options
    base = base_url or DEFAULT_BASE_URL
    _check_url(base)
    summary = ReconcileSummary(key=facts.key, applied=apply)
    with ExitStack() as stack:
        log = lock_log(path)
        stack.callback(log.close)
        folder = stack.enter_context(tempfile.TemporaryDirectory(prefix="cartloader-reconcile-"))
        db = open_index(os.path.join(folder, "index.sqlite3"))
        stack.callback(db.close)
        index_log(db, path, own=True)
        if facts.shard is not None:
            for sibling in sibling_logs(path, facts.shard):
                index_log(db, sibling, own=False)
        summary.checked = mark_checked(db)
        if summary.checked:
            await index_input(db, facts, lambda line: is_checked(db, line))
        _uncheckable(db, summary)
        client = HubSpotClient(
            base_url=base,
            api_version=api_version or str(options.get("api_version") or "2026-09"),
            object_type=object_type or str(options.get("object_type") or "carts"),
            api_path=api_path if api_path is not None else _text(options.get("api_path")),
            token=TokenSource(token),
        )
        ledger = Ledger(path, log, facts.key, db, apply=apply)
        stack.callback(ledger.close)
        async with client:
            await _reconcile_values(db, facts, client, ledger, summary)
        summary.requests = client.requests
        summary.search_requests = client.searches
    return summary


def _text(value: object) -> str | None:
    return value if isinstance(value, str) else None


def _uncheckable(db: sqlite3.Connection, summary: ReconcileSummary) -> None:
    """Checked lines whose input carries no identifying value: counted and listed (the first ``LISTED_LINES``)."""
    query = "SELECT chk.line FROM chk LEFT JOIN input USING (line) WHERE input.line IS NULL ORDER BY chk.line"
    for (line,) in db.execute(query):
        summary.not_checkable += 1
        summary.checked -= 1
        if len(summary.not_checkable_lines) < LISTED_LINES:
            summary.not_checkable_lines.append(line)


async def _reconcile_values(
    db: sqlite3.Connection, facts: RunFacts, client: HubSpotClient, ledger: Ledger, summary: ReconcileSummary
) -> None:
    span_s = attempt_span_s(facts.options)
    types: dict[str, tuple[str, bool]] | None = None
    per_search = IN_VALUES * GROUPS
    values = _values(db)
    while True:
        chunk = [value for _, value in zip(range(per_search), values, strict=False)]
        if not chunk:
            return
        if types is None:
            types = await client.property_types()
        lines = {value: _lines(db, value, span_s) for value in chunk}
        wanted = {name for facts_ in lines.values() for line in facts_ for name in (line.properties or {})}
        found = await client.search(facts.key, chunk, wanted)
        by_value: dict[str, list[Found]] = {}
        for obj in found:
            raw = obj.properties.get(facts.key)
            if raw is not None:
                by_value.setdefault(raw.strip().lower(), []).append(obj)  # as search matched it; rule (a) decides
        decisions = [
            decide(value, facts.key, by_value.get(value.lower(), []), lines[value], lambda i: is_named(db, i), types)
            for value in chunk
        ]
        await ledger.act(decisions, client, summary)
