"""``python -m cartloader properties [--format table|json]``: the portal's properties of the object type (name,
label, type, options, unique, read-only), read through the library's ``CartLoader.properties()``.

Exit statuses: 0 listed, 2 usage or configuration error (bad option, no token), 3 refused by HubSpot (401, 403
naming the scope it needs) or not answered. Every error is one line; the token is never printed.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import sys
from collections.abc import Sequence
from contextlib import AsyncExitStack

import anyio
import orjson

from cartloader.api.loader import CartLoader
from cartloader.cli import console
from cartloader.cli.options import EXIT_FATAL_API, EXIT_OK, EXIT_USAGE, PROG, UsageError, print_error
from cartloader.cli.options.hubspot import add_hubspot_options
from cartloader.cli.options.parser import command_parser
from cartloader.cli.setup import BASE_URL_ENV, SIMULATOR_PLACEHOLDER_URL, token_from
from cartloader.config import DEFAULT_BASE_URL, LoaderConfig, TokenCallable
from cartloader.errors import ConfigError, FatalApiError
from cartloader.models import PropertyDefinition

#: Column widths of the table; longer values are cut with "...". Options take what is left of a wide line.
NAME_WIDTH = 40
LABEL_WIDTH = 32
TYPE_WIDTH = 21
OPTIONS_WIDTH = 48
_CUT = "..."


def _parser() -> argparse.ArgumentParser:
    parser = command_parser(
        prog=f"{PROG} properties",
        description="List the portal's properties of the object type: name, label, type, options, unique, "
        "read-only. The token comes from --token-file or HUBSPOT_ACCESS_TOKEN (or use --simulate).",
        epilog="Exit status: 0 listed, 2 usage or configuration error, 3 refused by HubSpot (bad token, missing "
        "scope crm.schemas.<type>.read) or no answer. Details: docs/cli.md.",
    )
    parser.add_argument("--format", choices=("table", "json"), default="table", help="output (default table)")
    parser.add_argument(
        "--log-format", choices=("text", "json"), default="text", help="stderr lines as text or JSON objects"
    )
    parser.add_argument(
        "--allow-insecure", action="store_true", help="allow a plain-http base URL that is not loopback"
    )
    add_hubspot_options(parser.add_argument_group("HubSpot"))
    return parser


def _cut(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - len(_CUT)] + _CUT


def _options(definition: PropertyDefinition, width: int) -> str:
    """The options, sorted: as many whole ones as fit in ``width``, then how many more there are."""
    values = sorted(definition.options)
    shown = ""
    for index, value in enumerate(values):
        candidate = f"{shown}, {value}" if shown else value
        rest = len(values) - index - 1
        if len(candidate) + (len(f", +{rest} more") if rest else 0) > width:
            return f"{shown}, +{len(values) - index} more" if shown else _cut(value, width - 12) + f" +{rest} more"
        shown = candidate
    return shown


def _kind(definition: PropertyDefinition) -> str:
    multi = definition.type == "enumeration" and definition.field_type == "checkbox"
    return definition.type + (" (multi)" if multi else "")


def table(definitions: Sequence[PropertyDefinition]) -> list[str]:
    """The properties as fixed-width lines, sorted by name (a "sensitive" column only when one is)."""
    rows = sorted(definitions, key=lambda d: d.name)
    name_w = min(NAME_WIDTH, max([4, *(len(d.name) for d in rows)]))
    label_w = min(LABEL_WIDTH, max([5, *(len(d.label) for d in rows)]))
    sensitive = any(d.sensitivity != "non_sensitive" for d in rows)
    header = ["name".ljust(name_w), "label".ljust(label_w), "type".ljust(TYPE_WIDTH), "unique", "read-only"]
    if sensitive:
        header.append("sensitivity".ljust(16))
    lines = ["  ".join([*header, "options"]).rstrip()]
    for d in rows:
        cells = [
            _cut(d.name, name_w).ljust(name_w),
            _cut(d.label, label_w).ljust(label_w),
            _cut(_kind(d), TYPE_WIDTH).ljust(TYPE_WIDTH),
            ("yes" if d.unique else "").ljust(6),
            ("yes" if d.read_only else "").ljust(9),
        ]
        if sensitive:
            cells.append(d.sensitivity.ljust(16))
        options = "(from HubSpot)" if d.external_options else _options(d, OPTIONS_WIDTH)
        lines.append("  ".join([*cells, options]).rstrip())
    return lines


def as_json(definitions: Sequence[PropertyDefinition]) -> bytes:
    """The properties as a JSON list of objects, sorted by name."""
    return orjson.dumps(
        [
            {
                "name": d.name,
                "label": d.label,
                "type": d.type,
                "field_type": d.field_type,
                "options": sorted(d.options),
                "unique": d.unique,
                "read_only": d.read_only,
                "external_options": d.external_options,
                "sensitivity": d.sensitivity,
            }
            for d in sorted(definitions, key=lambda d: d.name)
        ],
        option=orjson.OPT_INDENT_2,
    )


async def _read(args: argparse.Namespace) -> tuple[PropertyDefinition, ...]:
    """The properties, read from the portal (or from a simulator started for the purpose)."""
    if args.simulate:
        base_url = SIMULATOR_PLACEHOLDER_URL
    else:
        base_url = args.base_url or os.environ.get(BASE_URL_ENV) or DEFAULT_BASE_URL
    config = LoaderConfig(
        base_url=base_url,
        api_path=args.api_path,
        api_version=args.api_version,
        object_type=args.object_type,
        allow_insecure=args.allow_insecure,
        preflight=False,
    )
    async with AsyncExitStack() as stack:
        token: str | TokenCallable
        if args.simulate:
            from cartloader.cli.simulate import start_simulator

            url, token = await start_simulator(stack)
            config = dataclasses.replace(config, base_url=url)
        else:
            token = token_from(args.token_file)
        async with CartLoader(token, config=config) as loader:
            return await loader.properties()


def main(argv: Sequence[str]) -> int:
    """Run ``properties`` with its arguments; return the exit status."""
    console.use_json(console.wants_json(argv))
    try:
        args = _parser().parse_args(list(argv))
    except UsageError as exc:
        print_error(f"{exc} (see {PROG} properties --help)")
        return EXIT_USAGE
    except SystemExit as exc:  # --help
        return exc.code if isinstance(exc.code, int) else EXIT_OK
    try:
        definitions = anyio.run(_read, args)
    except ConfigError as exc:
        print_error(str(exc))
        return EXIT_USAGE
    except FatalApiError as exc:
        print_error(f"stopped by HubSpot: {exc}")
        return EXIT_FATAL_API
    if args.format == "json":
        sys.stdout.buffer.write(as_json(definitions) + b"\n")
    else:
        sys.stdout.write("".join(line + "\n" for line in table(definitions)))
    sys.stdout.flush()
    return EXIT_OK
