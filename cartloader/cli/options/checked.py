"""``Options``: the loader's options once parsed and checked for consistency, and ``parse_options``."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from cartloader.cli.options.exits import UsageError
from cartloader.cli.options.input_layout import check_input_options, column_associations, csv_delimiter
from cartloader.cli.options.parser import build_parser
from cartloader.cli.options.run_control import DEFAULT_PROGRESS_INTERVAL_S
from cartloader.config import DEFAULT_API_VERSION, MAX_BATCH_SIZE, Concurrency
from cartloader.input.associations import ColumnAssociation
from cartloader.input.convert import Conversion
from cartloader.outcomes.log import OpenMode
from cartloader.rate import Rate


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
    column_associations: tuple[ColumnAssociation, ...] = ()
    csv_delimiter: str | None = None
    encoding: str = "utf-8"
    conversions: tuple[Conversion, ...] = ()
    progress_interval_s: float = DEFAULT_PROGRESS_INTERVAL_S
    log_format: str = "text"
    pace: str = "burst"
    preflight: bool = True
    missing_target: str = "fail"

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
    fmt = check_input_options(args)
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
        column_associations=column_associations(args.associate, args.object_type),
        csv_delimiter=csv_delimiter(args.input, args.csv_delimiter),
        encoding=args.encoding,
        conversions=tuple(args.convert),
        progress_interval_s=args.progress_interval,
        log_format=args.log_format,
        pace=args.pace,
        preflight=not args.no_preflight,
        missing_target=args.missing_target,
    )
