"""Reading what reconcile needs besides the log: the meta file, and the input it names read again exactly as the
load read it (the values are in the input, not in the log): the same format, encoding, CSV delimiter, mapping,
association columns and conversions, through the input package's own readers."""

from __future__ import annotations

import os
import re
import sqlite3
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

import orjson

from cartloader.errors import ConfigError
from cartloader.input.associations import ColumnAssociation
from cartloader.input.convert import parse_conversion
from cartloader.input.csv import CsvLayout, CsvSource, csv_inputs
from cartloader.input.encoding import DEFAULT_ENCODING, check_encoding, decoded
from cartloader.input.ndjson import ndjson_inputs, open_input
from cartloader.models import CartInput, InvalidInput
from cartloader.outcomes.meta import InputFingerprint, RunMeta, meta_path_for

DEFAULT_KEY = "hs_external_cart_id"
_SHARD_NAME = re.compile(r"\.shard-(\d+)-of-(\d+)\.")


@dataclass(frozen=True, slots=True)
class RunFacts:
    """What the meta file says about the run that wrote the log."""

    meta: RunMeta
    input_path: str
    key: str
    shard: tuple[int, int] | None

    @property
    def options(self) -> dict[str, Any]:
        """The run's options as recorded."""
        return dict(self.meta.options)


def read_run(out: str, key: str | None) -> RunFacts:
    """The meta of ``out`` and the input it names, checked: ``ConfigError`` (exit 2) for a log written to stdout, a
    missing meta file, an input that was stdin or an iterable, or an input whose fingerprint differs."""
    if out == "-":
        raise ConfigError("reconcile reads a log file: a log written to stdout (--out -) cannot be reconciled")
    if not os.path.isfile(out):
        raise ConfigError(f"outcome log {out} does not exist")
    meta = RunMeta.read(meta_path_for(out))
    if meta is None:
        raise ConfigError(f"outcome log {out} has no readable meta file {meta_path_for(out)}")
    fingerprint = meta.input
    if fingerprint.kind != "file" or fingerprint.path is None:
        what = "stdin" if fingerprint.kind == "stdin" else "an iterable"
        raise ConfigError(f"outcome log {out} was made from {what}: reconcile needs the input file to read values")
    mismatch = fingerprint.mismatch(InputFingerprint.of_input(fingerprint.path))
    if mismatch is not None:
        raise ConfigError(f"input {fingerprint.path} is not the input of {out}: {mismatch}")
    options = meta.options
    upsert_key = options.get("upsert_by")
    chosen = key or (upsert_key if isinstance(upsert_key, str) else None) or DEFAULT_KEY
    shard = _shard(options.get("shard"))
    return RunFacts(meta, fingerprint.path, chosen, shard)


def _shard(text: object) -> tuple[int, int] | None:
    if not isinstance(text, str) or "/" not in text:
        return None
    index, _, count = text.partition("/")
    return int(index), int(count)


def sibling_logs(out: str, shard: tuple[int, int]) -> list[str]:
    """The logs of the other shards beside ``out`` (``<stem>.shard-J-of-N.outcomes.ndjson``); ``ConfigError`` naming
    the first one missing, or when ``out``'s name does not follow that pattern."""
    folder, name = os.path.split(out)
    index, count = shard
    found = _SHARD_NAME.search(name)
    if found is None or (int(found.group(1)), int(found.group(2))) != shard:
        raise ConfigError(f"outcome log {out} is shard {index}/{count} but not named <stem>.shard-{index}-of-{count}.…")
    siblings = []
    for other in range(count):
        if other == index:
            continue
        sibling = os.path.join(folder, name[: found.start()] + f".shard-{other}-of-{count}." + name[found.end() :])
        if not os.path.isfile(sibling):
            raise ConfigError(f"shard log {sibling} is missing: reconcile needs every shard's log beside {out}")
        siblings.append(sibling)
    return siblings


def _encoding(facts: RunFacts) -> str:
    """The codec the load read the input with (``--encoding``; a meta file from before it existed: UTF-8)."""
    recorded = facts.options.get("encoding")
    try:
        return check_encoding(recorded if isinstance(recorded, str) else DEFAULT_ENCODING)
    except ValueError as exc:
        raise ConfigError(f"the meta file of the log names an encoding this Python cannot read: {exc}") from None


def csv_layout(facts: RunFacts, encoding: str) -> CsvLayout:
    """The CSV layout the load used, from the meta file: the delimiter it used (sniffed or given), ``--map``,
    ``--associate`` and ``--convert``."""
    layout = facts.options.get("csv") or {}
    try:
        conversions = [parse_conversion(text) for text in facts.options.get("convert") or ()]
        associations = {
            column: ColumnAssociation.described(column, recorded)
            for column, recorded in (layout.get("associate") or {}).items()
        }
    except (ValueError, TypeError) as exc:
        raise ConfigError(f"the meta file of the log records a CSV layout this version cannot read: {exc}") from None
    return CsvLayout(
        layout.get("delimiter"),
        dict(layout.get("map") or {}),
        associations,
        {conversion.column: conversion for conversion in conversions},
        encoding,
    )


async def _records(facts: RunFacts) -> AsyncIterator[CartInput | InvalidInput]:
    """The input's records as the load read them (``cli.setup.prepare``/``input_records``: decoded, then the
    CSV or NDJSON reader)."""
    encoding = _encoding(facts)
    stream = decoded(open_input(facts.input_path), encoding)
    try:
        if facts.options.get("format") == "csv":
            source = CsvSource(stream, facts.input_path, csv_layout(facts, encoding))
            async for item in csv_inputs(source):
                yield item
        else:
            async for item in ndjson_inputs(stream, encoding=encoding):
                yield item
    finally:
        stream.close()


async def index_input(db: sqlite3.Connection, facts: RunFacts, checked: Callable[[int], bool]) -> None:
    """Add each record's identifying value to the index (``input``), with its properties for ``checked`` lines."""
    rows: list[tuple[int, str, bytes | None]] = []
    async for item in _records(facts):
        if not isinstance(item, CartInput):
            continue
        value = item.properties.get(facts.key)
        if value is None or not value.strip():
            continue
        props = orjson.dumps(item.properties) if checked(item.line) else None
        rows.append((item.line, value.strip(), props))
        if len(rows) >= 5000:
            db.executemany("INSERT OR REPLACE INTO input VALUES (?, ?, ?)", rows)
            rows.clear()
    db.executemany("INSERT OR REPLACE INTO input VALUES (?, ?, ?)", rows)
    db.commit()
