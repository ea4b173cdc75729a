"""One run of the command line: set up (input, token, outcome log, simulator), load, report, exit status.

Everything that can be refused is refused before the first request (exit 2). While the load runs,
SIGINT and SIGTERM cancel it: the producer stops, requests already sent are answered and logged (the
sender shields them), then the run reports and exits 130/143. A second signal aborts at once, after
flushing the log.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import os
import shlex
import signal
import stat
import sys
from collections.abc import AsyncGenerator, Callable, Sequence
from contextlib import AsyncExitStack, aclosing
from dataclasses import dataclass, field
from typing import Any, BinaryIO, cast

import anyio
import orjson

from cartloader.batching import missing_upsert_key
from cartloader.budget import Budget
from cartloader.cli import (
    EXIT_FATAL_API,
    EXIT_LOG_FAILED,
    EXIT_OK,
    EXIT_SIGINT,
    EXIT_SIGTERM,
    EXIT_SOME_FAILED,
    EXIT_USAGE,
    PROG,
    Options,
    print_error,
)
from cartloader.collector import Collector, OutcomeSink
from cartloader.config import DEFAULT_BASE_URL, LoaderConfig, TokenCallable
from cartloader.errors import AuthenticationError, ConfigError, FatalApiError, OutcomeLogError
from cartloader.loader import CartLoader
from cartloader.ndjson import ndjson_inputs, open_input
from cartloader.outcome import Outcome, RecordError
from cartloader.outcome_log import RESERVED_FIELDS, RunMeta
from cartloader.progress import InputMeter, ProgressBar, describe_dry_run, describe_summary, write_line
from cartloader.quota import DailyQuotaWatch
from cartloader.records import CartInput, InvalidInput
from cartloader.resume import ResumeIndex
from cartloader.sinks import LogSink, RejectsSink, describe_lines, open_log_sink
from cartloader.summary import Summary

logger = logging.getLogger("cartloader")

TOKEN_ENV = "HUBSPOT_ACCESS_TOKEN"
BASE_URL_ENV = "HUBSPOT_BASE_URL"
EXIT_INTERNAL = 70  # EX_SOFTWARE: a bug in cartloader, reported as one line
# What --simulate serves: HubSpot's limits for a Professional account and its usual latency for 100 inputs.
SIMULATED_RATE = "190/10s"
SIMULATED_DAILY = 650_000
SIMULATED_LATENCY_MS = (300.0, 1000.0)
SIMULATOR_PLACEHOLDER_URL = "http://127.0.0.1"
Source = AsyncGenerator[CartInput | InvalidInput, None]


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


def resume_command(argv: Sequence[str]) -> str:
    """The command that continues this run: the same arguments, ``--overwrite`` replaced by ``--resume``."""
    from cartloader.shared_budget import mask_password

    args = [mask_password(arg) for arg in argv if arg != "--overwrite"]
    if "--resume" not in args:
        args.append("--resume")
    return f"{PROG} {shlex.join(args)}"


def token_source(options: Options) -> str | TokenCallable:
    """The token: re-read from ``--token-file`` when HubSpot says it expired, else ``$HUBSPOT_ACCESS_TOKEN``.

    Raises ``ConfigError`` when there is none (its value never appears in a message).
    """
    path = options.token_file
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


def _input_size(stream: BinaryIO, path: str) -> int | None:
    """The byte size of a regular uncompressed input (for the ETA and the daily-quota estimate)."""
    if path == "-" or path.endswith(".gz"):
        return None
    try:
        info = os.fstat(stream.fileno())
    except (OSError, ValueError, AttributeError):
        return None
    return info.st_size if stat.S_ISREG(info.st_mode) else None


def _meta_options(options: Options) -> dict[str, Any]:
    """The options recorded in ``OUT.meta.json`` (JSON values; never the token)."""
    return {
        "base_url": "simulator" if options.simulate else options.base_url,
        "api_path": options.api_path,
        "object_type": options.object_type,
        "batch_size": options.batch_size,
        "echo": options.echo,
        "limit": options.limit,
        "retry_failed": options.retry_failed,
        "dry_run": options.dry_run,
        "upsert_by": options.upsert_by,
        "retry_ambiguous": options.retry_ambiguous,
        "shard": f"{options.shard[0]}/{options.shard[1]}" if options.shard else None,
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

    def flush(self) -> None:
        """Hand whatever the files hold to the operating system; errors are ignored (we are aborting)."""
        for sink in (self.log, self.rejects):
            if sink is not None:
                try:
                    sink.flush()
                except OSError:
                    pass


def prepare(options: Options, stack: AsyncExitStack) -> Setup:
    """Open the input, the outcome log and the rejects file; ``ConfigError`` if anything is refused."""
    if options.echo is not None and options.echo in RESERVED_FIELDS:
        raise ConfigError(f"--echo {options.echo}: that name is a field of the outcome log; echo another property")
    stream = open_input(options.input)
    if options.input != "-":
        stack.callback(stream.close)
    log: LogSink | None = None
    if options.out is not None or not options.dry_run:
        path = options.out or default_log_path(options.input, options.shard)
        meta = RunMeta.new(options.input, _meta_options(options))
        log = open_log_sink(path, mode=options.log_mode, meta=meta, echo_property=options.echo)  # type: ignore[arg-type]
        stack.callback(log.close)
    index = log.log.resume_index if log is not None and log.log.resumed else None
    rejects: RejectsSink | None = None
    if options.rejects is not None:
        rejects = RejectsSink(options.rejects, append=index is not None)
        stack.callback(rejects.close)
    meter = InputMeter(_input_size(stream, options.input), options.limit, options.shard[1] if options.shard else 1)
    setup = Setup(stream, meter, log, rejects, index)
    setup.sinks = [sink for sink in (log, rejects) if sink is not None]
    return setup


def _records(setup: Setup, options: Options) -> Source:
    """The input's records, without the lines a resumed log already settled, up to ``--limit``.

    One async generator (``ndjson_inputs`` with the skip, limit and meter hooks), not a wrapper around one:
    a generator layer costs an async step per record.
    """
    index = setup.index
    retry_failed = options.retry_failed
    skip = None if index is None else (lambda line: not index.should_send(line, retry_failed=retry_failed))
    if options.shard is not None:
        skip = _shard_skip(*options.shard, skip)
    inputs = ndjson_inputs(setup.stream, skip=skip, limit=options.limit, on_item=setup.meter.saw)
    return cast(AsyncGenerator[CartInput | InvalidInput, None], inputs)


def _shard_skip(shard: int, shards: int, resumed: Callable[[int], bool] | None) -> Callable[[int], bool]:
    """``--shard I/N``: skip the lines of other shards, and (resuming) those this shard's log settled."""

    def skip(line: int) -> bool:
        return (line - 1) % shards != shard or (resumed is not None and resumed(line))

    return skip


class Interruption:
    """SIGINT/SIGTERM handling: the first signal cancels ``scope`` (the load drains), a second aborts at once.

    ``scope`` is the setup's scope until the load begins, then the load's.
    """

    __slots__ = ("_on_abort", "scope", "signum")

    def __init__(self, scope: anyio.CancelScope, on_abort: Callable[[int], None]) -> None:
        self.scope = scope
        self._on_abort = on_abort
        self.signum: int | None = None

    def handle(self, signum: int) -> None:
        """Called by the event loop on a signal."""
        if self.signum is not None:
            self._on_abort(signum)
            return
        self.signum = signum
        again = "Ctrl-C again" if signum == signal.SIGINT else "a second signal"
        write_line(
            f"cartloader: {signal.Signals(signum).name}: stopping; waiting for the requests already sent "
            f"to be answered and logged ({again} aborts at once)"
        )
        self.scope.cancel()

    @property
    def exit_status(self) -> int | None:
        """130 after SIGINT, 143 after SIGTERM, None when no signal came."""
        if self.signum is None:
            return None
        return EXIT_SIGINT if self.signum == signal.SIGINT else EXIT_SIGTERM


@dataclass
class Result:
    """How a load ended."""

    summary: Summary
    fatal: FatalApiError | None = None
    log_error: OutcomeLogError | None = None


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
        object_type=options.object_type,
        concurrency=options.concurrency,
        rate=options.rate,
        batch_size=options.batch_size,
        timeout_s=options.timeout_s,
        max_attempts=options.max_attempts,
        upsert_by=options.upsert_by,
        retry_ambiguous=options.retry_ambiguous,
        allow_insecure=options.allow_insecure,
    )


async def _load(
    options: Options,
    setup: Setup,
    token: str | TokenCallable,
    config: LoaderConfig,
    interruption: Interruption,
    budget: Budget | None = None,
) -> Result:
    """Load the records; a signal cancels the load, which drains and returns like a finished one."""
    index = setup.index
    async with CartLoader(token, config=config, budget=budget) as loader:
        sinks = list(setup.sinks)
        meter = setup.meter

        def unsent(settled: int) -> int | None:
            remaining = meter.estimated_remaining()
            return None if remaining is None else max(0, meter.read - settled) + remaining

        advice = "the run will stop (exit 3) when it is spent; continue tomorrow with --resume"
        sinks.append(DailyQuotaWatch(loader.budget, unsent, config.batch_size, advice=advice))
        bar = _progress_bar(options, setup.meter)
        if bar is not None:
            sinks.append(bar)
        collector = Collector(sinks)
        if index is not None:
            collector.skipped = index.counts().skipped(retry_failed=options.retry_failed)
        assert setup.log is not None
        result = Result(collector.summary())
        try:
            with anyio.CancelScope() as scope:
                interruption.scope = scope
                await loader.run(
                    _records(setup, options),
                    collector,
                    run_id=setup.log.log.meta.run_id,
                    echo_property=options.echo,
                    resent=index.is_pending if index is not None else None,
                )
        except FatalApiError as exc:
            result.fatal = exc
        except OutcomeLogError as exc:
            result.log_error = exc
        finally:
            if bar is not None:
                bar.close()
            result.summary = collector.summary()
    return result


def _progress_bar(options: Options, meter: InputMeter) -> ProgressBar | None:
    if options.no_progress or not sys.stderr.isatty():
        return None
    return ProgressBar(meter)


async def _dry_run(options: Options, setup: Setup) -> tuple[Summary, int]:
    """Read and validate every record; invalid ones are logged (if there is a log). Returns (summary, valid)."""
    collector = Collector(setup.sinks)
    if setup.index is not None:
        collector.skipped = setup.index.counts().skipped(retry_failed=options.retry_failed)
    valid = 0
    async with aclosing(_records(setup, options)) as records:
        async for item in records:
            collector.seen()
            if options.upsert_by and isinstance(item, CartInput) and not item.properties.get(options.upsert_by):
                item = missing_upsert_key(item, options.upsert_by)
            if isinstance(item, InvalidInput):
                outcome = Outcome(item.line, "invalid", error=RecordError("INVALID_INPUT", item.message))
                await collector.settle([(outcome, item)], was_pending=False)
            else:
                valid += 1
    return collector.summary(), valid


def _write_summary_json(path: str, summary: Summary) -> None:
    try:
        with open(path, "wb") as stream:
            stream.write(orjson.dumps(summary.to_dict(), option=orjson.OPT_INDENT_2 | orjson.OPT_APPEND_NEWLINE))
    except OSError as exc:
        raise OutcomeLogError(f"cannot write summary {path}: {exc.strerror or exc}") from None


def _earlier_refusals(setup: Setup, options: Options) -> int:
    """Lines a resumed log already holds as failed (not retried) or invalid: they keep the exit status at 1."""
    if setup.index is None:
        return 0
    counts = setup.index.counts()
    return counts.invalid + (0 if options.retry_failed else counts.failed)


def exit_status(
    *, signalled: int | None, fatal: bool, log_failed: bool, summary: Summary, earlier_refusals: int = 0
) -> int:
    """The contract's exit status; precedence 130/143 > 3 > 4 > 1 > 0."""
    if signalled is not None:
        return signalled
    if fatal:
        return EXIT_FATAL_API
    if log_failed:
        return EXIT_LOG_FAILED
    if not summary.all_loaded or earlier_refusals:
        return EXIT_SOME_FAILED
    return EXIT_OK


class CommandRun:
    """One invocation of the loader: owns the signal handling and the files while the run lasts."""

    def __init__(self, options: Options, argv: Sequence[str]) -> None:
        self.options = options
        self.argv = list(argv)
        self.setup: Setup | None = None

    def _abort(self, signum: int) -> None:
        if self.setup is not None:
            self.setup.flush()
        write_line(f"cartloader: {signal.Signals(signum).name} again: aborted; to continue: {self._resume_hint()}")
        sys.stderr.flush()
        os._exit(EXIT_SIGINT if signum == signal.SIGINT else EXIT_SIGTERM)

    def _resume_hint(self) -> str:
        command = resume_command(self.argv)
        return command + " < INPUT" if self.options.input == "-" else command

    async def main(self) -> int:
        """Run with SIGINT/SIGTERM handled; return the exit status."""
        scope = anyio.CancelScope()
        self.interruption = Interruption(scope, self._abort)
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, self.interruption.handle, signum)
        try:
            async with AsyncExitStack() as stack:
                with scope:
                    return await self._run(stack)
                # Cancelled (a signal) before the load began: nothing was sent.
                print_error("interrupted before anything was sent")
                return self.interruption.exit_status or EXIT_SIGINT
        finally:
            for signum in (signal.SIGINT, signal.SIGTERM):
                loop.remove_signal_handler(signum)
        raise AssertionError("unreachable")  # pragma: no cover

    async def _run(self, stack: AsyncExitStack) -> int:
        options = self.options
        try:
            token: str | TokenCallable | None = None
            config: LoaderConfig | None = None
            if not options.dry_run:
                config = loader_config(options)
                if not options.simulate:
                    token = token_source(options)
            budget = await _shared_budget(options, stack) if config is not None else None
            setup = self.setup = prepare(options, stack)
            if config is None:
                return self._finish_dry_run(setup, *await _dry_run(options, setup))
            if options.simulate:
                url, token = await _start_simulator(stack)
                config = dataclasses.replace(config, base_url=url)
            assert token is not None
            # Sending begins inside: from here on, a refusal is no longer exit 2.
            result = await _load(options, setup, token, config, self.interruption, budget)
        except ConfigError as exc:
            print_error(str(exc))
            return EXIT_USAGE
        return self._finish(setup, result)

    def _finish_dry_run(self, setup: Setup, summary: Summary, valid: int) -> int:
        options = self.options
        for line in describe_dry_run(summary, valid=valid, log_path=setup.log.path if setup.log else None):
            write_line(line)
        if options.summary_json is not None:
            try:
                _write_summary_json(options.summary_json, summary)
            except OutcomeLogError as exc:
                print_error(str(exc))
                return EXIT_USAGE
        if self.interruption.exit_status is not None:
            return self.interruption.exit_status
        return EXIT_SOME_FAILED if summary.invalid or _earlier_refusals(setup, options) else EXIT_OK

    def _finish(self, setup: Setup, result: Result) -> int:
        options = self.options
        summary = result.summary
        log_error = result.log_error
        if options.summary_json is not None:
            try:
                _write_summary_json(options.summary_json, summary)
            except OutcomeLogError as exc:
                log_error = log_error or exc
        rejects = setup.rejects.path if setup.rejects is not None else None
        for line in describe_summary(summary, log_path=setup.log.path if setup.log else None, rejects_path=rejects):
            write_line(line)
        signalled = self.interruption.exit_status
        if result.fatal is not None:
            print_error(f"stopped by HubSpot: {result.fatal}")
        if log_error is not None:
            print_error(str(log_error) + _unlogged_note(setup.log))
        if signalled is not None:
            name = signal.Signals(self.interruption.signum or signal.SIGINT).name
            write_line(f"cartloader: stopped by {name}; to continue: {self._resume_hint()}")
        elif result.fatal is not None or summary.pending:
            write_line(f"cartloader: to continue after fixing the cause: {self._resume_hint()}")
        return exit_status(
            signalled=signalled,
            fatal=result.fatal is not None,
            log_failed=log_error is not None,
            summary=summary,
            earlier_refusals=_earlier_refusals(setup, options),
        )


def _unlogged_note(log: LogSink | None) -> str:
    """What a failed outcome log leaves out: the records that were sent but whose outcomes it could not take."""
    if log is None or log.error is None:
        return ""
    if not log.unlogged:
        return "; sending stopped, and every answer received was logged"
    return (
        f"; sending stopped; {len(log.unlogged)} records were sent but their outcomes could not be logged "
        f"(lines {describe_lines(log.unlogged)}): the log holds them as pending, so --resume sends them again "
        "flagged duplicate_risk"
    )


async def _shared_budget(options: Options, stack: AsyncExitStack) -> Budget | None:
    """``--budget``: join the shared budget before the log is opened; Redis unreachable is ``ConfigError``."""
    if options.budget is None:
        return None
    from cartloader.shared_budget import SharedBudget

    budget = SharedBudget.from_url(options.budget, rate=options.rate)
    await budget.connect()
    stack.push_async_callback(budget.aclose)
    return budget


async def _start_simulator(stack: AsyncExitStack) -> tuple[str, str]:
    """Start the built-in simulator with HubSpot-like limits and latency; return its URL and token."""
    from cartloader.simulator import Simulator
    from cartloader.simulator.config import DEFAULT_TOKEN

    simulator = Simulator(rate=SIMULATED_RATE, daily=SIMULATED_DAILY, latency_ms=SIMULATED_LATENCY_MS)
    try:
        await simulator.start()
    except OSError as exc:
        raise ConfigError(f"cannot start the simulator: {exc.strerror or exc}") from None
    stack.push_async_callback(simulator.stop)
    write_line(f"cartloader: simulating HubSpot at {simulator.url} ({SIMULATED_RATE}, no account needed)")
    return simulator.url, DEFAULT_TOKEN


def run_command(options: Options, *, argv: Sequence[str]) -> int:
    """Run the loader with ``options`` (``argv`` as given, for the resume hint); return the exit status."""
    try:
        return anyio.run(CommandRun(options, argv).main, backend="asyncio")
    except KeyboardInterrupt:
        print_error("interrupted")
        return EXIT_SIGINT
    except Exception as exc:  # a bug: one line, the traceback only on request
        if os.environ.get("CARTLOADER_DEBUG"):
            raise
        print_error(f"internal error: {type(exc).__name__}: {exc} (set CARTLOADER_DEBUG=1 for the traceback)")
        return EXIT_INTERNAL
