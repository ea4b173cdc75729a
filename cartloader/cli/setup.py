"""Setting up a command-line run: the token, the input, the outcome log and its name, the rejects file, the shard,
the shared budget and the loader's configuration. Everything refused here is refused before the first request
(``ConfigError``, exit 2)."""

from __future__ import annotations

import os
import shlex
import shutil
import stat
import sys
from collections.abc import AsyncGenerator, Callable, Sequence
from contextlib import AsyncExitStack
from dataclasses import dataclass, field
from typing import Any, BinaryIO

import anyio

from cartloader.budget.base import Budget
from cartloader.budget.shared import SharedBudget
from cartloader.budget.url import mask_password
from cartloader.cli.options import PROG, Options
from cartloader.cli.paths import Identity, check_outputs, identity, stdin_identity, stdout_identity
from cartloader.config import DEFAULT_BASE_URL, LoaderConfig, TokenCallable
from cartloader.errors import AuthenticationError, ConfigError
from cartloader.input.csv import CsvLayout, CsvSource, csv_inputs
from cartloader.input.encoding import decoded
from cartloader.input.meter import InputMeter
from cartloader.input.ndjson import ndjson_inputs, open_input
from cartloader.input.sniff import check_head, peek_head
from cartloader.input.stdin import open_stdin
from cartloader.models import CartInput, InvalidInput, OutcomeSink
from cartloader.outcomes.format import RESERVED_FIELDS
from cartloader.outcomes.log import BACKUP_SUFFIX, STDOUT
from cartloader.outcomes.meta import RunMeta, meta_path_for
from cartloader.outcomes.resume import ResumeIndex
from cartloader.outcomes.sinks import REJECTS_ERRORS_SUFFIX, LogSink, RejectsSink, open_log_sink

TOKEN_ENV = "HUBSPOT_ACCESS_TOKEN"
BASE_URL_ENV = "HUBSPOT_BASE_URL"
SIMULATOR_PLACEHOLDER_URL = "http://127.0.0.1"


def default_log_path(input_path: str, shard: tuple[int, int] | None = None) -> str:
    """``<input stem>.outcomes.ndjson`` in the current folder (``outcomes.ndjson`` for stdin); with
    ``--shard I/N``: ``<input stem>.shard-I-of-N.outcomes.ndjson`` (``shard-I-of-N.outcomes.ndjson``).

    The stem drops the folder, a ``.gz`` suffix, then one more suffix: ``data/carts.ndjson.gz`` -> ``carts``.
    """
    part = f"shard-{shard[0]}-of-{shard[1]}." if shard is not None else ""
    if input_path == "-":
        return f"{part}outcomes.ndjson"
    name = os.path.basename(input_path.rstrip("/" + os.sep)) or "input"
    if name.endswith(".gz"):
        name = name[:-3]
    stem, dot, _ = name.rpartition(".")
    if not dot or not stem:
        stem = name
    return f"{stem}.{part}outcomes.ndjson"


def program_name(argv0: str | None = None, executable: str | None = None) -> str:
    """The command the user ran, as the shell will find it again: ``cartloader`` (the console script) or
    ``python3 -m cartloader``, each as typed when the PATH finds that very file, else by its full path."""
    argv0 = sys.argv[0] if argv0 is None else argv0
    executable = sys.executable if executable is None else executable
    if os.path.basename(argv0) in ("cartloader", "cartloader.exe"):
        return _as_found(argv0)
    if not executable:
        return PROG
    return f"{_as_found(executable)} -m cartloader"


def _as_found(path: str) -> str:
    name = os.path.basename(path)
    found = shutil.which(name)
    if found is not None and os.path.abspath(found) == os.path.abspath(path):
        return name
    return shlex.quote(os.path.abspath(path))


def resume_command(argv: Sequence[str], program: str = PROG) -> str:
    """The command that continues this run: ``program`` (how the user ran it) with the same arguments,
    ``--overwrite`` replaced by ``--resume``."""
    args = [mask_password(arg) for arg in argv if arg != "--overwrite"]
    if "--resume" not in args:
        args.append("--resume")
    return f"{program} {shlex.join(args)}"


def token_source(options: Options) -> str | TokenCallable:
    """The token: re-read from ``--token-file`` when HubSpot says it expired, else ``$HUBSPOT_ACCESS_TOKEN``.

    Raises ``ConfigError`` when there is none (its value never appears in a message).
    """
    return token_from(options.token_file)


def token_from(path: str | None) -> str | TokenCallable:
    """``token_source`` for a ``--token-file`` PATH (None: ``$HUBSPOT_ACCESS_TOKEN``)."""
    if path is None:
        token = os.environ.get(TOKEN_ENV, "").strip()
        if not token:
            raise ConfigError(
                f"no access token: set {TOKEN_ENV}, or give --token-file PATH (or try --simulate or --dry-run)"
            )
        return token
    _read_token_file(path, ConfigError)

    async def read_again() -> str:
        return await anyio.to_thread.run_sync(_read_token_file, path, AuthenticationError)

    return read_again


def dry_run_token(options: Options) -> str | TokenCallable | None:
    """The token a dry run may read the portal's schema with: the one a load would use, or None when there is
    none (a dry run needs no token)."""
    if options.token_file is None and not os.environ.get(TOKEN_ENV, "").strip():
        return None
    return token_source(options)


def _read_token_file(path: str, error: Callable[[str], Exception]) -> str:
    try:
        with open(path, encoding="utf-8") as stream:
            token = stream.read().strip()
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else "not UTF-8 text"
        raise error(f"cannot read token file {path}: {reason}") from None
    if not token:
        raise error(f"token file {path} is empty")
    return token


def loader_config(options: Options) -> LoaderConfig:
    """The loader's configuration; ``ConfigError`` if inconsistent. With ``--simulate`` the base URL is a
    loopback placeholder until the simulator has its port."""
    if options.simulate:
        base_url = SIMULATOR_PLACEHOLDER_URL
    else:
        base_url = options.base_url or os.environ.get(BASE_URL_ENV) or DEFAULT_BASE_URL
    return LoaderConfig(
        base_url=base_url,
        api_path=options.api_path,
        api_version=options.api_version,
        preflight=options.preflight,
        object_type=options.object_type,
        concurrency=options.concurrency,
        rate=options.rate,
        batch_size=options.batch_size,
        timeout_s=options.timeout_s,
        max_attempts=options.max_attempts,
        upsert_by=options.upsert_by,
        retry_ambiguous=options.retry_ambiguous,
        allow_insecure=options.allow_insecure,
        pace=options.pace,
        missing_target=options.missing_target,
    )


async def join_budget(options: Options, stack: AsyncExitStack) -> Budget | None:
    """``--budget``: join the shared budget before the log is opened; Redis unreachable is ``ConfigError``."""
    if options.budget is None:
        return None
    budget = SharedBudget.from_url(options.budget, rate=options.rate, pace=options.pace)
    await budget.connect()
    stack.push_async_callback(budget.aclose)
    return budget


def _input_size(stream: BinaryIO, path: str) -> int | None:
    """The byte size of a regular uncompressed input (for the ETA and the daily-quota estimate)."""
    if path == "-" or path.endswith(".gz"):
        return None
    try:
        info = os.fstat(stream.fileno())
    except (OSError, ValueError, AttributeError):
        return None
    return info.st_size if stat.S_ISREG(info.st_mode) else None


def _meta_options(options: Options, delimiter: str | None = None) -> dict[str, Any]:
    """The options recorded in ``OUT.meta.json`` (JSON values; never the token); ``delimiter`` is the CSV delimiter
    in use (sniffed when not given)."""
    return {
        "base_url": "simulator" if options.simulate else options.base_url,
        "api_path": options.api_path,
        "api_version": options.api_version,
        "preflight": options.preflight,
        "object_type": options.object_type,
        "batch_size": options.batch_size,
        "echo": list(options.echo),
        "limit": options.limit,
        "retry_failed": options.retry_failed,
        "dry_run": options.dry_run,
        "upsert_by": options.upsert_by,
        "retry_ambiguous": options.retry_ambiguous,
        "shard": f"{options.shard[0]}/{options.shard[1]}" if options.shard else None,
        "format": options.input_format,
        "csv": csv_layout(options).describe(delimiter) if options.input_format == "csv" else None,
        "encoding": options.encoding,
        "convert": [conversion.describe() for conversion in options.conversions],
    }


@dataclass
class Setup:
    """What a run needs once every check has passed."""

    stream: BinaryIO
    meter: InputMeter
    log: LogSink | None
    rejects: RejectsSink | None
    index: ResumeIndex | None
    sinks: list[OutcomeSink] = field(default_factory=list)
    csv: CsvSource | None = None

    def flush(self) -> None:
        """Hand whatever the files hold to the operating system; errors are ignored (we are aborting)."""
        for sink in (self.log, self.rejects):
            if sink is not None:
                try:
                    sink.flush()
                except OSError:
                    pass

    def skipped(self, options: Options) -> int:
        """Lines a resumed log already settled, which this run skips."""
        return 0 if self.index is None else self.index.counts().skipped(retry_failed=options.retry_failed)

    def earlier_refusals(self, options: Options) -> int:
        """Lines a resumed log already holds as failed (not retried) or invalid: they keep the exit status at 1."""
        if self.index is None:
            return 0
        counts = self.index.counts()
        return counts.invalid + (0 if options.retry_failed else counts.failed)


def log_path(options: Options) -> str | None:
    """Where the outcome log goes: ``--out``, else the default name (a dry run writes none without ``--out``)."""
    if options.out is not None:
        return options.out
    return None if options.dry_run else default_log_path(options.input, options.shard)


def check_paths(options: Options) -> None:
    """Refuse an output path that is the input, the token file or another output (``ConfigError``, exit 2); with
    ``--out -``, the file (or pipe) behind stdout is one of the outputs."""
    protected: list[tuple[str, Identity | None]] = [
        ("the input", stdin_identity())
        if options.input == "-"
        else (f"the input {options.input}", identity(options.input))
    ]
    if options.token_file is not None:
        protected.append((f"--token-file {options.token_file}", identity(options.token_file)))
    outputs: list[tuple[str, str | Identity]] = []
    log = log_path(options)
    if log == STDOUT:
        written_to = stdout_identity()
        if written_to is not None:
            outputs.append(("--out - (stdout)", written_to))
    elif log is not None:
        meta = meta_path_for(log)
        outputs += [("--out", log), ("the meta file of --out", meta)]
        if options.overwrite and os.path.exists(log):
            outputs += [
                ("the backup of --out", log + BACKUP_SUFFIX),
                ("the backup of its meta file", meta + BACKUP_SUFFIX),
            ]
    if options.rejects is not None:
        outputs += [
            ("--rejects", options.rejects),
            ("the errors file of --rejects", options.rejects + REJECTS_ERRORS_SUFFIX),
        ]
    if options.summary_json is not None:
        outputs.append(("--summary-json", options.summary_json))
    check_outputs(protected, outputs)
    for what, path in outputs:
        if isinstance(path, str):  # stdout is given by the file behind fd 1, which exists
            check_folder(what, path)


def check_folder(what: str, path: str) -> None:
    """Refuse (``ConfigError``, exit 2) an output whose folder does not exist or cannot be written, before
    anything is read or sent (a ``--summary-json`` into a missing folder would otherwise fail after the load)."""
    folder = os.path.dirname(os.path.abspath(path))
    if os.path.exists(folder) and not os.path.isdir(folder):
        raise ConfigError(f"{what} {path}: {folder} is not a folder; choose another path")
    if not os.path.isdir(folder):
        raise ConfigError(f"{what} {path}: the folder {folder} does not exist; create it or choose another path")
    if not os.access(folder, os.W_OK | os.X_OK) and not (os.path.exists(path) and os.access(path, os.W_OK)):
        raise ConfigError(f"{what} {path}: the folder {folder} is not writable; choose another path")


def _open_stdin(options: Options) -> tuple[BinaryIO, bytes]:
    """Stdin and its first bytes, for its fingerprint: on ``--resume``, as many as the earlier run fingerprinted."""
    path = log_path(options)
    if options.resume and path is not None:
        earlier = RunMeta.read(meta_path_for(path))
        if earlier is not None and earlier.input.kind == "stdin":
            return open_stdin(want=earlier.input.head_bytes, wait_s=None)
    return open_stdin()


def prepare(options: Options, stack: AsyncExitStack) -> Setup:
    """Open the input, the outcome log and the rejects file; ``ConfigError`` if anything is refused."""
    for name in options.echo:
        if name in RESERVED_FIELDS:
            raise ConfigError(f"--echo {name}: that name is a field of the outcome log; echo another property")
    check_paths(options)
    stdin_head: bytes | None = None
    if options.input == "-":
        stream, stdin_head = _open_stdin(options)
    else:
        stream = open_input(options.input)
        stack.callback(stream.close)
    check_head(peek_head(stream), path=options.input, input_format=options.input_format, encoding=options.encoding)
    stream = decoded(stream, options.encoding)
    csv_source = CsvSource(stream, options.input, csv_layout(options)) if options.input_format == "csv" else None
    log: LogSink | None = None
    path = log_path(options)
    if path is not None:
        delimiter = csv_source.delimiter if csv_source is not None else None
        meta = RunMeta.new(options.input, _meta_options(options, delimiter), stdin_head=stdin_head)
        log = open_log_sink(path, mode=options.log_mode, meta=meta, echo=options.echo)
        stack.callback(log.close)
    index = log.log.resume_index if log is not None and log.log.resumed else None
    rejects: RejectsSink | None = None
    if options.rejects is not None:
        header = csv_source.header if csv_source is not None else None
        rejects = RejectsSink(options.rejects, append=index is not None, header=header, echo=options.echo)
        stack.callback(rejects.close)
    meter = InputMeter(_input_size(stream, options.input), options.limit, options.shard[1] if options.shard else 1)
    setup = Setup(stream, meter, log, rejects, index, csv=csv_source)
    # The log first: once it fails, no later sink is written, so the rejects never hold a line the log lacks.
    setup.sinks = [sink for sink in (log, rejects) if sink is not None]
    return setup


def created_earlier(setup: Setup, options: Options) -> Callable[[int], bool] | None:
    """Resuming in create mode: whether the log shows a line created. Such lines are read again for their
    identifying values only, so a later line repeating one is refused, never sent (engine/repeats.py)."""
    index = setup.index
    if index is None or options.upsert_by is not None:
        return None
    return lambda line: index.last_status(line) == "created"


def input_records(
    setup: Setup, options: Options, *, reread: Callable[[int], bool] | None = None
) -> AsyncGenerator[CartInput | InvalidInput, None]:
    """The input's records, without the lines a resumed log already settled (or other shards' lines), up to
    ``--limit``; lines for which ``reread`` is true are read all the same (not metered). A record HubSpot may hold
    already (an earlier run was sending it when it stopped, or it failed after a request HubSpot may have
    processed) is marked ``was_pending``."""
    index = setup.index
    retry_failed = options.retry_failed
    skip: Callable[[int], bool] | None = None
    if index is not None:

        def resumed(line: int) -> bool:
            return not index.should_send(line, retry_failed=retry_failed) and not (reread is not None and reread(line))

        skip = resumed

    if options.shard is not None:
        skip = _shard_skip(*options.shard, skip)
    meter = setup.meter
    on_item = meter.saw
    if index is not None:

        def on_item(item: CartInput | InvalidInput) -> None:
            if reread is not None and reread(item.line):
                return
            meter.saw(item)
            if isinstance(item, CartInput) and index.may_exist(item.line):
                item.was_pending = True

    if setup.csv is not None:
        return csv_inputs(setup.csv, skip=skip, limit=options.limit, on_item=on_item)
    return ndjson_inputs(setup.stream, skip=skip, limit=options.limit, on_item=on_item, encoding=options.encoding)


def csv_layout(options: Options) -> CsvLayout:
    """The CSV layout the options describe (``--map``, ``--associate``, ``--csv-delimiter``, ``--convert``,
    ``--encoding``)."""
    return CsvLayout(
        options.csv_delimiter,
        dict(options.column_map),
        {association.column: association for association in options.column_associations},
        {conversion.column: conversion for conversion in options.conversions},
        options.encoding,
    )


def _shard_skip(shard: int, shards: int, resumed: Callable[[int], bool] | None) -> Callable[[int], bool]:
    """``--shard I/N``: skip the lines of other shards, and (resuming) those this shard's log settled."""

    def skip(line: int) -> bool:
        return (line - 1) % shards != shard or (resumed is not None and resumed(line))

    return skip
