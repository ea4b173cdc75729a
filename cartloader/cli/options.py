"""The command line's options: the parser, the checked ``Options``, and the exit statuses.

Exit statuses (docs/cli.md): 0 all loaded, 1 some records failed or invalid, 2 usage or configuration error,
3 fatal API condition, 4 local I/O failure after sending began, 130/143 interrupted by SIGINT/SIGTERM,
70 an internal error.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, NoReturn

from cartloader._version import __version__
from cartloader.budget.url import BudgetUrl
from cartloader.cli import console
from cartloader.config import (
    API_VERSIONS,
    DEFAULT_API_VERSION,
    DEFAULT_BASE_URL,
    DEFAULT_CONCURRENCY,
    DEFAULT_MAX_ATTEMPTS,
    DEFAULT_TIMEOUT_S,
    MAX_BATCH_SIZE,
    PACES,
    Concurrency,
)
from cartloader.errors import ConfigError
from cartloader.outcomes.log import OpenMode
from cartloader.rate import Rate

PROG = "python -m cartloader"
TOKEN_ENV_NAME = "HUBSPOT_ACCESS_TOKEN"
DEFAULT_PROGRESS_INTERVAL_S = 30.0
EXIT_OK = 0
EXIT_SOME_FAILED = 1
EXIT_USAGE = 2
EXIT_FATAL_API = 3
EXIT_LOG_FAILED = 4
EXIT_SIGINT = 130
EXIT_SIGTERM = 143
EXIT_INTERNAL = 70  # EX_SOFTWARE: a bug in cartloader, reported as one line


def package_version() -> str:
    """cartloader's version."""
    return __version__


class UsageError(Exception):
    """A bad option or argument (exit 2); ``str()`` is the one-line message."""


class _Parser(argparse.ArgumentParser):
    """An argument parser that raises instead of printing usage and exiting, so every error is one line; long
    options are never abbreviated (``--token x`` must not be read as ``--token-file x``), and an unknown argument's
    value is never shown (it may be a token)."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(allow_abbrev=False, **kwargs)

    def error(self, message: str) -> NoReturn:
        raise UsageError(message)

    def parse_args(self, args: Sequence[str] | None = None, namespace: Any = None) -> Any:  # type: ignore[override]
        parsed, unknown = self.parse_known_args(args, namespace)
        if unknown:
            raise UsageError(_unknown_arguments(unknown))
        return parsed


def _unknown_arguments(unknown: Sequence[str]) -> str:
    """``unrecognized arguments: --token`` without the values (a token typed on the command line stays unseen)."""
    names = [arg.split("=", 1)[0] for arg in unknown if arg.startswith("-") and arg != "-"]
    values = len(unknown) - len(names)
    shown = " ".join(names) if names else "a value"
    message = f"unrecognized arguments: {shown}"
    if names and values:
        message += f" (and {values} value{'s' if values > 1 else ''}, not shown)"
    if any(name.startswith("--token") and name != "--token-file" for name in names):
        message += f"; the token never comes from the command line: set {TOKEN_ENV_NAME} or give --token-file PATH"
    return message


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a whole number of at least 1, not {text!r}")
    return value


def concurrency_option(text: str) -> Concurrency:
    """``--concurrency auto|N`` as the command line (and the benchmarks) read it."""
    if text == "auto":
        return "auto"
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected auto or a whole number of at least 1, not {text!r}")
    return value


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = 0.0
    if not value > 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"expected a positive number of seconds, not {text!r}")
    return value


def _rate(text: str) -> Rate:
    try:
        return Rate.parse(text)
    except ConfigError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _budget_url(text: str) -> str:
    try:
        BudgetUrl.parse(text)
    except ConfigError as exc:  # the message masks any password
        raise argparse.ArgumentTypeError(str(exc)) from None
    return text


def _shard(text: str) -> tuple[int, int]:
    index, slash, count = text.partition("/")
    try:
        i, n = int(index), int(count)
    except ValueError:
        i, n = -1, 0
    if not slash or n < 1 or not 0 <= i < n:
        raise argparse.ArgumentTypeError(f"expected I/N with 0 <= I < N, such as 0/3, not {text!r}")
    return i, n


def _column_map(text: str) -> tuple[str, str | None]:
    column, equals, target = text.partition("=")
    if not equals or not column:
        raise argparse.ArgumentTypeError(f"expected COLUMN=PROPERTY (or COLUMN= to drop it), not {text!r}")
    return column, target or None


def _column_association(text: str) -> tuple[str, int]:
    column, equals, type_id = text.partition("=")
    try:
        number = int(type_id)
    except ValueError:
        number = 0
    if not equals or not column or number < 1:
        raise argparse.ArgumentTypeError(f"expected COLUMN=TYPE_ID with a numeric association type id, not {text!r}")
    return column, number


def _delimiter(text: str) -> str:
    if text in ("\\t", "tab"):
        return "\t"
    if len(text) != 1 or text in ('"', "\r", "\n"):
        raise argparse.ArgumentTypeError(f"expected one character such as ; or \\t, not {text!r}")
    return text


def input_format(path: str, given: str | None) -> str:
    """``--format``, else from INPUT's extension: ``.csv`` and ``.csv.gz`` are CSV, anything else (stdin too)
    NDJSON."""
    if given is not None:
        return given
    name = path.lower().removesuffix(".gz")
    return "csv" if name.endswith(".csv") else "ndjson"


def build_parser() -> argparse.ArgumentParser:
    """The loader's argument parser (options grouped as ``--help`` shows them)."""
    parser = _Parser(
        prog=PROG,
        description="Load cart records (NDJSON, one JSON object per line, or CSV) into HubSpot's CRM through "
        "batch/create: fast, rate-limited, resumable, with one outcome per input line. The token comes from "
        "--token-file or the environment variable HUBSPOT_ACCESS_TOKEN, never from the command line.",
        epilog="Exit status: 0 all loaded, 1 some records failed or invalid, 2 usage or configuration error, "
        "3 stopped by HubSpot (bad token, missing scopes, daily limit, ...), 4 a file failed after sending began "
        "(outcome log unwritable, input cut short), 130/143 interrupted (SIGINT/SIGTERM), 70 a bug. "
        "Details: docs/cli.md. "
        f"Run `{PROG} simulator --help` for the built-in HubSpot simulator.",
    )
    parser.add_argument(
        "input", metavar="INPUT", help='NDJSON or CSV file to load ("-" for stdin; *.gz is decompressed)'
    )
    parser.add_argument("--version", action="version", version=f"cartloader {package_version()}")
    _add_log_options(parser.add_argument_group("outcome log"))
    _add_api_options(parser.add_argument_group("HubSpot"))
    _add_pace_options(parser.add_argument_group("pace and retries"))
    _add_run_options(parser.add_argument_group("run"))
    _add_safety_options(parser.add_argument_group("safety"))
    _add_input_options(parser.add_argument_group("input format"))
    return parser


def _add_input_options(group: argparse._ArgumentGroup) -> None:
    group.add_argument(
        "--format",
        choices=("ndjson", "csv"),
        help="input format (default: from the extension (.csv, .csv.gz), else NDJSON)",
    )
    group.add_argument(
        "--map",
        type=_column_map,
        action="append",
        default=[],
        metavar="COLUMN=PROPERTY",
        help="CSV: send COLUMN as PROPERTY; COLUMN= drops the column (repeatable; default: columns are sent "
        "under their own names)",
    )
    group.add_argument(
        "--associate",
        type=_column_association,
        action="append",
        default=[],
        metavar="COLUMN=TYPE_ID",
        help="CSV: each non-empty cell of COLUMN is a target id, associated with that HUBSPOT_DEFINED type id "
        "(repeatable)",
    )
    group.add_argument(
        "--csv-delimiter",
        type=_delimiter,
        default=",",
        metavar="CHAR",
        help="CSV field separator, e.g. ; for European exports, or \\t (default ,)",
    )


def _add_log_options(group: argparse._ArgumentGroup) -> None:
    group.add_argument(
        "--out",
        metavar="PATH",
        help="outcome log, one JSON line per record (default: <input stem>.outcomes.ndjson in the current "
        "folder; outcomes.ndjson for stdin; - writes it to stdout). An existing log is refused unless --resume "
        "or --overwrite",
    )
    group.add_argument(
        "--resume",
        action="store_true",
        help="continue the log: lines with a final outcome are skipped; pending lines (flagged duplicate_risk), "
        "unsent lines and lines never reached are sent. Without a log yet: start fresh",
    )
    group.add_argument("--retry-failed", action="store_true", help="with --resume, also resend lines that failed")
    group.add_argument(
        "--overwrite",
        action="store_true",
        help="replace an existing log; the replaced log and its meta file are kept as NAME.1",
    )
    group.add_argument(
        "--rejects",
        metavar="PATH",
        help="also write every failed or invalid input line verbatim to PATH (fix it, then load it) and its "
        "error to PATH.errors.ndjson, line for line",
    )
    group.add_argument(
        "--echo",
        metavar="PROPERTY",
        action="append",
        default=[],
        help="copy this input property into each outcome (to join with your own ids); repeatable",
    )
    group.add_argument("--summary-json", metavar="PATH", help="write the final summary as JSON to PATH")


def _add_api_options(group: argparse._ArgumentGroup) -> None:
    group.add_argument(
        "--base-url",
        metavar="URL",
        help=f"API origin (default: env HUBSPOT_BASE_URL, else {DEFAULT_BASE_URL})",
    )
    group.add_argument(
        "--api-version",
        metavar="V",
        choices=API_VERSIONS,
        default=DEFAULT_API_VERSION,
        help=f"HubSpot API version, {', '.join(API_VERSIONS)}: the objects path is /crm/v3/objects or "
        f"/crm/objects/V (default {DEFAULT_API_VERSION})",
    )
    group.add_argument(
        "--api-path",
        metavar="PATH",
        help="objects path prefix, overriding --api-version's (default: from --api-version)",
    )
    group.add_argument(
        "--object-type", metavar="NAME", default="carts", help="CRM object type in the path (default carts)"
    )
    group.add_argument(
        "--token-file",
        metavar="PATH",
        help="file holding the access token, re-read when HubSpot says it expired (default: env HUBSPOT_ACCESS_TOKEN)",
    )
    group.add_argument(
        "--simulate",
        action="store_true",
        help="start the built-in HubSpot simulator (HubSpot-like limits and latency) and load into it: "
        "no account or token needed",
    )


def _add_pace_options(group: argparse._ArgumentGroup) -> None:
    group.add_argument(
        "--concurrency",
        type=concurrency_option,
        metavar="auto|N",
        default=DEFAULT_CONCURRENCY,
        help="requests in flight at most; auto keeps enough in flight to fill the window at the observed latency "
        f"(default {DEFAULT_CONCURRENCY})",
    )
    group.add_argument(
        "--rate",
        type=_rate,
        metavar="N/DURATION",
        help="request budget, e.g. 190/10s, 20/1s, 5/500ms: a hard cap, lowered when HubSpot advertises less "
        "(default: at most 10 requests before HubSpot's first answer, then follow what its rate-limit headers "
        "advertise, Max and Remaining)",
    )
    group.add_argument(
        "--pace",
        choices=PACES,
        default="burst",
        help="burst: use the capacity the rolling window holds free, then keep the trailing count under the "
        "limit; even: evenly spaced requests, never a burst (default burst)",
    )
    group.add_argument(
        "--batch-size",
        type=_positive_int,
        metavar="N",
        default=MAX_BATCH_SIZE,
        help=f"inputs per request, 1..{MAX_BATCH_SIZE} (default {MAX_BATCH_SIZE})",
    )
    group.add_argument(
        "--timeout",
        type=_positive_float,
        metavar="SECONDS",
        default=DEFAULT_TIMEOUT_S,
        help=f"total timeout of one request (default {DEFAULT_TIMEOUT_S:g})",
    )
    group.add_argument(
        "--max-retries",
        type=_positive_int,
        metavar="N",
        default=DEFAULT_MAX_ATTEMPTS,
        help=f"attempts per batch before its records fail (default {DEFAULT_MAX_ATTEMPTS})",
    )
    group.add_argument(
        "--budget",
        type=_budget_url,
        metavar="redis://HOST:PORT/DB?key=NAME",
        help="share one rate budget with every process using the same Redis key, on this machine or others "
        "(needs the extra cartloader[redis]; a password in the URL is never printed; default: per process)",
    )


def _add_run_options(group: argparse._ArgumentGroup) -> None:
    group.add_argument("--limit", type=_positive_int, metavar="N", help="stop after N records (a trial run)")
    group.add_argument(
        "--shard",
        type=_shard,
        metavar="I/N",
        help="load only line numbers L with (L - 1) mod N == I, for 0 <= I < N (one of N processes or machines; "
        "default log <input stem>.shard-I-of-N.outcomes.ndjson; combine with --budget)",
    )
    group.add_argument(
        "--dry-run",
        action="store_true",
        help="read, normalize and validate locally, print the counts and each invalid line's reason, send no "
        "batch (no token needed; with one, the preflight runs too); writes a log only if --out is given",
    )
    group.add_argument(
        "--no-preflight",
        action="store_true",
        help="skip reading the object's property definitions and validation rules before the first batch "
        "(by default records HubSpot would refuse become invalid locally, never sent; needs the scope "
        "crm.schemas.carts.read)",
    )
    group.add_argument(
        "--no-progress",
        action="store_true",
        help="no progress bar and no progress lines (default: a bar when stderr is a terminal, else lines)",
    )
    group.add_argument(
        "--progress-interval",
        type=_positive_float,
        metavar="SECONDS",
        default=DEFAULT_PROGRESS_INTERVAL_S,
        help="when stderr is not a terminal (or --log-format json), one progress line every SECONDS "
        f"(default {DEFAULT_PROGRESS_INTERVAL_S:g})",
    )
    group.add_argument(
        "--log-format",
        choices=("text", "json"),
        default="text",
        help="json: every stderr line is one JSON object (progress, warnings, errors including usage errors, "
        "the summary), for log shippers (default text)",
    )


def _add_safety_options(group: argparse._ArgumentGroup) -> None:
    group.add_argument(
        "--upsert-by",
        metavar="PROPERTY",
        help="load through batch/upsert with this unique property as idProperty: a resend can never duplicate; "
        "a record without it is invalid (default: batch/create)",
    )
    group.add_argument(
        "--no-retry-ambiguous",
        action="store_true",
        help="never resend a batch HubSpot may already have processed: its records fail, category AMBIGUOUS "
        "(default: resend, flagged duplicate_risk)",
    )
    group.add_argument(
        "--allow-insecure",
        action="store_true",
        help="allow a plain-http base URL that is not loopback (the token would travel unencrypted)",
    )


@dataclass(frozen=True, slots=True)
class Options:
    """The loader's options, checked for consistency (not yet for access to files or the network)."""

    input: str
    out: str | None
    resume: bool
    retry_failed: bool
    overwrite: bool
    rejects: str | None
    echo: tuple[str, ...]
    summary_json: str | None
    base_url: str | None
    api_path: str | None
    object_type: str
    token_file: str | None
    simulate: bool
    concurrency: Concurrency
    rate: Rate | None
    batch_size: int
    timeout_s: float
    max_attempts: int
    limit: int | None
    dry_run: bool
    no_progress: bool
    upsert_by: str | None = None
    retry_ambiguous: bool = True
    allow_insecure: bool = False
    budget: str | None = None
    shard: tuple[int, int] | None = None
    api_version: str = DEFAULT_API_VERSION
    input_format: str = "ndjson"
    column_map: tuple[tuple[str, str | None], ...] = ()
    column_associations: tuple[tuple[str, int], ...] = ()
    csv_delimiter: str = ","
    progress_interval_s: float = DEFAULT_PROGRESS_INTERVAL_S
    log_format: str = "text"
    pace: str = "burst"
    preflight: bool = True

    @property
    def log_mode(self) -> OpenMode:
        """How the outcome log is opened: ``"resume"``, ``"overwrite"`` or ``"new"``."""
        return "resume" if self.resume else "overwrite" if self.overwrite else "new"


def parse_options(argv: Sequence[str]) -> Options:
    """Parse and check the loader's arguments; raises ``UsageError`` with a one-line message."""
    args = build_parser().parse_args(list(argv))
    if args.retry_failed and not args.resume:
        raise UsageError("--retry-failed only makes sense with --resume")
    if args.resume and args.overwrite:
        raise UsageError("--resume and --overwrite exclude each other: continue the log or replace it")
    if args.simulate and args.base_url:
        raise UsageError("--simulate loads into the built-in simulator: leave out --base-url")
    if args.batch_size > MAX_BATCH_SIZE:
        raise UsageError(f"--batch-size must be 1..{MAX_BATCH_SIZE}, not {args.batch_size}")
    if any(not name for name in args.echo):
        raise UsageError("--echo needs a property name")
    if args.out == "-" and args.resume:
        raise UsageError("--out - writes the outcome log to stdout, which cannot be resumed: give --out PATH")
    for name in ("out", "rejects", "summary_json"):
        if getattr(args, name) == "":
            raise UsageError(f"--{name.replace('_', '-')} needs a path")
    if args.upsert_by is not None and not args.upsert_by:
        raise UsageError("--upsert-by needs a property name")
    if args.api_path is not None and not args.api_path.strip("/"):
        raise UsageError("--api-path needs a path such as /crm/v3/objects")
    if args.input == "":
        raise UsageError("INPUT is empty: give a path, or - for stdin")
    fmt = _check_input_options(args)
    return Options(
        input=args.input,
        out=args.out,
        resume=args.resume,
        retry_failed=args.retry_failed,
        overwrite=args.overwrite,
        rejects=args.rejects,
        echo=tuple(dict.fromkeys(args.echo)),
        summary_json=args.summary_json,
        base_url=args.base_url,
        api_path=args.api_path,
        object_type=args.object_type,
        token_file=args.token_file,
        simulate=args.simulate,
        concurrency=args.concurrency,
        rate=args.rate,
        batch_size=args.batch_size,
        timeout_s=args.timeout,
        max_attempts=args.max_retries,
        limit=args.limit,
        dry_run=args.dry_run,
        no_progress=args.no_progress,
        upsert_by=args.upsert_by,
        retry_ambiguous=not args.no_retry_ambiguous,
        allow_insecure=args.allow_insecure,
        budget=args.budget,
        shard=args.shard,
        api_version=args.api_version,
        input_format=fmt,
        column_map=tuple(args.map),
        column_associations=tuple(args.associate),
        csv_delimiter=args.csv_delimiter,
        progress_interval_s=args.progress_interval,
        log_format=args.log_format,
        pace=args.pace,
        preflight=not args.no_preflight,
    )


def _check_input_options(args: argparse.Namespace) -> str:
    """The input format, after checking the CSV options against it; ``UsageError`` if they do not fit."""
    fmt = input_format(args.input, args.format)
    if fmt != "csv":
        for name, given in (("--map", args.map), ("--associate", args.associate)):
            if given:
                raise UsageError(f"{name} applies to CSV input only (give --format csv for a CSV file)")
        if args.csv_delimiter != ",":
            raise UsageError("--csv-delimiter applies to CSV input only (give --format csv for a CSV file)")
    columns = [column for column, _ in args.map] + [column for column, _ in args.associate]
    for column in columns:
        if columns.count(column) > 1:
            raise UsageError(f"column {column!r} is given more than once in --map and --associate")
    return str(fmt)


def print_error(message: str) -> None:
    """Print one ``cartloader: error: ...`` line on stderr (a JSON object with ``--log-format json``)."""
    console.error(message)
