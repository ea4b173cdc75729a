"""``python -m cartloader reconcile OUT [--apply] [--key PROPERTY] [--summary-json FILE]``: find (and with
``--apply`` archive) the duplicates of the records a log flags, and settle the log (docs/duplicates.md)."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence

import anyio
import orjson

from cartloader.errors import CartloaderError, ConfigError, FatalApiError
from cartloader.reconcile import ReconcileSummary, reconcile

PROG = "cartloader reconcile"
EXIT_USAGE = 2
EXIT_REFUSED = 3
API_VERSIONS = ("v3", "2026-03", "2026-09")


def build_parser() -> argparse.ArgumentParser:
    """The command's options."""
    parser = argparse.ArgumentParser(
        prog=PROG,
        allow_abbrev=False,
        description=(
            "Find the objects holding the identifying values of the records OUT flags duplicate_risk or leaves "
            "pending; with --apply archive the provable surplus copies and settle the log. Token: --token-file, "
            "else env HUBSPOT_ACCESS_TOKEN (scopes crm.objects.carts.read, and .write for --apply)."
        ),
    )
    parser.add_argument("out", metavar="OUT", help="the outcome log of a load")
    parser.add_argument("--apply", action="store_true", help="archive the surplus copies and settle the log")
    parser.add_argument(
        "--key",
        metavar="PROPERTY",
        help="the identifying property (default: the log's upsert key, else hs_external_cart_id)",
    )
    parser.add_argument("--summary-json", metavar="FILE", help="also write the summary as JSON to FILE")
    parser.add_argument(
        "--base-url", metavar="URL", help="API origin; env HUBSPOT_BASE_URL (default https://api.hubapi.com)"
    )
    parser.add_argument("--api-version", choices=API_VERSIONS, help="API version (default: the load's)")
    parser.add_argument("--object-type", metavar="NAME", help="CRM object type (default: the load's)")
    parser.add_argument("--token-file", metavar="PATH", help="file holding the token (re-read when it expired)")
    return parser


def _read_token(path: str) -> str:
    try:
        with open(path, encoding="utf-8") as stream:
            token = stream.read().strip()
    except OSError as exc:
        raise ConfigError(f"cannot read --token-file {path}: {exc.strerror or exc}") from None
    if not token:
        raise ConfigError(f"--token-file {path} is empty")
    return token


def _error(message: str) -> None:
    print(f"{PROG}: error: {message}", file=sys.stderr)


def _same_file(first: str, second: str) -> bool:
    try:
        return os.path.samefile(first, second)
    except OSError:
        return os.path.abspath(first) == os.path.abspath(second)


def main(argv: Sequence[str]) -> int:
    """Run the command; return its exit status."""
    try:
        args = build_parser().parse_args(list(argv))
    except SystemExit as exc:
        return exc.code if isinstance(exc.code, int) else EXIT_USAGE
    base_url = args.base_url or os.environ.get("HUBSPOT_BASE_URL") or None
    try:
        if args.token_file is not None:
            path = args.token_file
            _read_token(path)

            async def token() -> str:
                return _read_token(path)

            source: object = token
        else:
            source = os.environ.get("HUBSPOT_ACCESS_TOKEN", "").strip()
            if not source:
                raise ConfigError("no token: give --token-file or set HUBSPOT_ACCESS_TOKEN")
        if args.summary_json is not None and _same_file(args.summary_json, args.out):
            raise ConfigError("--summary-json is the outcome log: choose another file")
        summary = anyio.run(_run, args, source, base_url)
    except ConfigError as exc:
        _error(str(exc))
        return EXIT_USAGE
    except FatalApiError as exc:
        _error(str(exc))
        return EXIT_REFUSED
    except CartloaderError as exc:
        _error(str(exc))
        return EXIT_USAGE
    data = orjson.dumps(summary.to_dict(), option=orjson.OPT_INDENT_2 | orjson.OPT_APPEND_NEWLINE)
    sys.stdout.buffer.write(data)
    sys.stdout.flush()
    if args.summary_json is not None:
        try:
            with open(args.summary_json, "wb") as stream:
                stream.write(data)
        except OSError as exc:
            _error(f"cannot write --summary-json {args.summary_json}: {exc.strerror or exc}")
            return EXIT_USAGE
    return summary.exit_status


async def _run(args: argparse.Namespace, token: object, base_url: str | None) -> ReconcileSummary:
    return await reconcile(
        args.out,
        apply=args.apply,
        key=args.key,
        token=token,  # type: ignore[arg-type]
        base_url=base_url,
        api_version=args.api_version,
        object_type=args.object_type,
    )
