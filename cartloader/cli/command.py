"""One run of the command line: set up, load (or dry-run), report, and the exit status.

Everything that can be refused is refused before the first request (exit 2). While the load runs,
SIGINT and SIGTERM (received through ``anyio.open_signal_receiver``) cancel it: the producer stops, requests
already sent are answered and logged (the delivery shields them), then the run reports and exits 130/143.
A second signal aborts at once, after flushing the log.
"""

from __future__ import annotations

import dataclasses
import functools
import os
import signal
import sys
from collections.abc import Callable, Sequence
from contextlib import AsyncExitStack
from dataclasses import dataclass

import anyio
from anyio.abc import TaskGroup, TaskStatus

from cartloader.api.loader import CartLoader
from cartloader.api.progress import LoadProgress
from cartloader.budget.base import Budget
from cartloader.budget.local import RateBudget
from cartloader.budget.quota import DailyQuotaWatch
from cartloader.budget.shared import SharedBudget
from cartloader.cli import console
from cartloader.cli.dryrun import dry_run, dry_run_progress
from cartloader.cli.options import (
    EXIT_FATAL_API,
    EXIT_INTERNAL,
    EXIT_LOG_FAILED,
    EXIT_OK,
    EXIT_SIGINT,
    EXIT_SIGTERM,
    EXIT_SOME_FAILED,
    EXIT_USAGE,
    Options,
    print_error,
)
from cartloader.cli.progress import EstimateLine, refresh_bar, report_progress
from cartloader.cli.report import (
    ProgressBar,
    describe_dry_run,
    describe_error_budget,
    describe_summary,
    unlogged_note,
    write_summary_json,
)
from cartloader.cli.setup import (
    Setup,
    created_earlier,
    dry_run_token,
    input_records,
    join_budget,
    loader_config,
    prepare,
    program_name,
    resume_command,
    token_source,
)
from cartloader.config import LoaderConfig, TokenCallable
from cartloader.engine.pipeline import first_cause
from cartloader.errors import ConfigError, FatalApiError, InputReadError, OutcomeLogError
from cartloader.models import OutcomeSink, Summary
from cartloader.outcomes.log import STDOUT


class Interruption:
    """SIGINT/SIGTERM handling: the first signal cancels ``scope`` (the load drains), a second aborts at once.

    ``scope`` is the setup's scope until the load begins, then the load's.
    """

    __slots__ = ("_on_abort", "scope", "signum")

    def __init__(self, on_abort: Callable[[int], None]) -> None:
        self.scope: anyio.CancelScope | None = None
        self._on_abort = on_abort
        self.signum: int | None = None

    def handle(self, signum: int) -> None:
        """React to a signal."""
        if self.signum is not None:
            self._on_abort(signum)
            return
        self.signum = signum
        again = "Ctrl-C again" if signum == signal.SIGINT else "a second signal"
        console.emit(
            f"{signal.Signals(signum).name}: stopping; waiting for the requests already sent "
            f"to be answered and logged ({again} aborts at once)",
            event="signal",
        )
        if self.scope is not None:
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
    input_error: InputReadError | None = None
    main_error: tuple[str, int] | None = None


def exit_status(
    *,
    signalled: int | None,
    fatal: bool,
    log_failed: bool,
    summary: Summary,
    earlier_refusals: int = 0,
) -> int:
    """The contract's exit status; precedence 130/143 > 3 > 4 > 1 > 0 (``log_failed``: any local I/O failure
    after sending began, the outcome log or the input)."""
    if signalled is not None:
        return signalled
    if fatal:
        return EXIT_FATAL_API
    if log_failed:
        return EXIT_LOG_FAILED
    if not summary.all_loaded or earlier_refusals:
        return EXIT_SOME_FAILED
    return EXIT_OK


def records_sent(summary: Summary) -> int:
    """How many records went to HubSpot in a batch request: every final outcome but ``invalid``, and those still
    ``pending`` or ``unsent``."""
    return summary.created + summary.updated + summary.failed + summary.pending + summary.unsent


class CommandRun:
    """One invocation of the loader: owns the signal handling and the files while the run lasts."""

    def __init__(self, options: Options, argv: Sequence[str]) -> None:
        self.options = options
        self.argv = list(argv)
        self.setup: Setup | None = None
        self.schema_read = False  # a dry run read the portal's schema (it had a token)
        self.interruption = Interruption(self._abort)
        self._group: TaskGroup | None = None  # the run's task group (signals, progress lines)

    def _abort(self, signum: int) -> None:
        if self.setup is not None:
            self.setup.flush()
        hint = self._resume_hint()
        console.emit(
            f"{signal.Signals(signum).name} again: aborted; to continue: {hint}", event="aborted", resume_command=hint
        )
        sys.stderr.flush()
        os._exit(EXIT_SIGINT if signum == signal.SIGINT else EXIT_SIGTERM)

    def _resume_hint(self) -> str:
        if self.options.out == STDOUT:
            return "none: the outcome log went to stdout (give --out PATH to be able to resume)"
        command = resume_command(self.argv, program_name())
        return command + " < INPUT" if self.options.input == "-" else command

    async def main(self) -> int:
        """Run with SIGINT/SIGTERM handled; return the exit status."""
        self.interruption.scope = anyio.CancelScope()
        async with anyio.create_task_group() as group:
            self._group = group
            await group.start(self._receive_signals)
            try:
                return await self._main()
            finally:
                group.cancel_scope.cancel()
        raise AssertionError("unreachable")  # pragma: no cover

    async def _receive_signals(self, *, task_status: TaskStatus[None] = anyio.TASK_STATUS_IGNORED) -> None:
        with anyio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
            task_status.started()
            async for signum in signals:
                self.interruption.handle(signum)

    async def _main(self) -> int:
        scope = self.interruption.scope
        assert scope is not None
        async with AsyncExitStack() as stack:
            with scope:
                return await self._run(stack)
            # Cancelled (a signal) before the load began: nothing was sent.
            print_error("interrupted before anything was sent")
            return self.interruption.exit_status or EXIT_SIGINT
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
            elif options.preflight and (options.simulate or (token := dry_run_token(options)) is not None):
                config = loader_config(options)  # a dry run with a token reads the portal's schema too
            budget = await join_budget(options, stack) if config is not None else None
            setup = self.setup = prepare(options, stack)
            if options.simulate and config is not None:
                from cartloader.cli.simulate import start_simulator

                if options.upsert_by is not None and not options.dry_run:
                    console.emit(
                        "--simulate starts an empty simulator each run, so every record is created: to see upsert "
                        "update, run `python -m cartloader simulator` once and load into it with --base-url",
                        event="note",
                    )

                url, token = await start_simulator(stack)
                config = dataclasses.replace(config, base_url=url)
            if options.dry_run:
                return await self._dry_run(setup, token, config, budget)
            assert token is not None and config is not None
            # Sending begins inside: from here on, a refusal is no longer exit 2.
            result = await self._load(setup, token, config, budget)
        except ConfigError as exc:
            print_error(str(exc))
            return EXIT_USAGE
        return self._finish(setup, result)

    async def _dry_run(
        self, setup: Setup, token: str | TokenCallable | None, config: LoaderConfig | None, budget: Budget | None
    ) -> int:
        """The dry run; with a token (and the preflight on), the portal's schema is read first."""
        preflight = None
        progress = dry_run_progress(self.options, setup)
        self.schema_read = token is not None and config is not None
        try:
            async with AsyncExitStack() as stack:
                sensitive = None
                if token is not None and config is not None:
                    loader = await stack.enter_async_context(CartLoader(token, config=config, budget=budget))
                    preflight = await loader.preflight(progress)
                    await loader.check_associations(self.options.column_associations, progress)
                    sensitive = functools.partial(loader.preflight, progress, sensitive=True)
                checked = await dry_run(self.options, setup, progress, preflight=preflight, sensitive=sensitive)
        except FatalApiError as exc:
            print_error(f"stopped by HubSpot: {exc}")
            return EXIT_FATAL_API
        except (OutcomeLogError, InputReadError) as exc:
            # Nothing is ever sent in a dry run: a file failing is a configuration error, as when it cannot open.
            print_error(str(exc))
            return EXIT_USAGE
        return self._finish_dry_run(setup, *checked)

    async def _load(
        self, setup: Setup, token: str | TokenCallable, config: LoaderConfig, budget: Budget | None
    ) -> Result:
        """Load the records; a signal cancels the load, which drains and returns like a finished one."""
        options = self.options
        if options.resume and setup.skipped(options):
            # A resume may meet the window its stopped run filled: one request until HubSpot's headers tell.
            if budget is None:
                budget = RateBudget(config.rate, pace=config.pace, before_first_answer=1)
            elif isinstance(budget, SharedBudget):
                budget.before_first_answer = 1
        async with CartLoader(token, config=config, budget=budget) as loader:
            sinks: list[OutcomeSink] = list(setup.sinks)
            meter = setup.meter

            def unsent(settled: int) -> int | None:
                remaining = meter.estimated_remaining()
                return None if remaining is None else max(0, meter.read - settled) + remaining

            advice = "the run will stop (exit 3) when it is spent; continue tomorrow with --resume"
            sinks.append(DailyQuotaWatch(loader.budget, unsent, config.batch_size, advice=advice))
            sinks.append(EstimateLine(loader.budget, meter, config.batch_size))
            terminal = sys.stderr.isatty() and not console.is_json()
            bar = None if options.no_progress or not terminal else ProgressBar(meter, budget=loader.budget)
            if bar is not None:
                sinks.append(bar)
            progress = LoadProgress(sinks, skipped=setup.skipped(options))
            assert setup.log is not None
            result = Result(progress.summary())
            ticker = anyio.CancelScope()
            if not options.no_progress and not terminal and self._group is not None:
                self._group.start_soon(
                    report_progress, progress, meter, options.progress_interval_s, ticker, loader.budget
                )
            if bar is not None and self._group is not None:
                self._group.start_soon(refresh_bar, bar, ticker)
            try:
                with anyio.CancelScope() as scope:
                    self.interruption.scope = scope
                    # --associate columns checked before anything is sent: a refusal is exit 2 (ConfigError).
                    await loader.check_associations(options.column_associations, progress)
                    earlier = created_earlier(setup, options)
                    records = input_records(setup, options, reread=earlier)
                    await loader.load(records, progress, run_id=setup.log.log.meta.run_id, earlier=earlier)
            except FatalApiError as exc:
                result.fatal = exc
            except OutcomeLogError as exc:
                result.log_error = exc
            except InputReadError as exc:
                result.input_error = exc
            finally:
                ticker.cancel()
                if bar is not None:
                    bar.close()
                result.summary = progress.summary()
                result.main_error = progress.main_error()
        return result

    def _finish_dry_run(self, setup: Setup, summary: Summary, valid: int) -> int:
        options = self.options
        if self.interruption.exit_status is not None:
            status = self.interruption.exit_status
        else:
            status = EXIT_SOME_FAILED if summary.invalid or setup.earlier_refusals(options) else EXIT_OK
        lines = describe_dry_run(
            summary,
            valid=valid,
            log_path=setup.log.path if setup.log else None,
            schema_checked=not options.preflight or self.schema_read,
        )
        console.block(lines, event="summary", dry_run=True, valid=valid, summary=summary.to_dict(), exit_status=status)
        if options.summary_json is not None:
            try:
                write_summary_json(options.summary_json, summary, status)
            except OutcomeLogError as exc:
                print_error(str(exc))
                return EXIT_USAGE
        return status

    def _finish(self, setup: Setup, result: Result) -> int:
        options = self.options
        summary = result.summary
        if result.input_error is not None and not records_sent(summary) and self.interruption.exit_status is None:
            # The input failed before any record was sent (the preflight's schema reads carry none): a
            # configuration error like an unreadable file.
            print_error(str(result.input_error))
            return EXIT_USAGE
        log_error = result.log_error
        signalled = self.interruption.exit_status

        def status() -> int:
            return exit_status(
                signalled=signalled,
                fatal=result.fatal is not None,
                log_failed=log_error is not None or result.input_error is not None,
                summary=summary,
                earlier_refusals=setup.earlier_refusals(options),
            )

        if options.summary_json is not None:
            try:
                write_summary_json(options.summary_json, summary, status())
            except OutcomeLogError as exc:
                log_error = log_error or exc
        rejects = setup.rejects.path if setup.rejects is not None else None
        log_path = setup.log.path if setup.log else None
        lines = describe_summary(summary, log_path=log_path, rejects_path=rejects)
        console.block(
            lines,
            event="summary",
            summary=summary.to_dict(),
            exit_status=status(),
            outcome_log=log_path,
            rejects=rejects,
        )
        error_budget = describe_error_budget(summary, result.main_error)
        if error_budget is not None:
            console.warning(error_budget)
        if setup.log is not None and setup.log.log.echo_checked:
            for name in options.echo:
                if name in setup.log.log.echo_unseen:
                    console.warning(
                        f"--echo {name}: no record had this property, so no outcome carries it "
                        "(check the name; for CSV input, the property name after --map)"
                    )
        if result.fatal is not None:
            # A run stopped by the network (no HTTP answer) is not "stopped by HubSpot": its message names the host.
            by_hubspot = result.fatal.status is not None
            print_error(f"stopped by HubSpot: {result.fatal}" if by_hubspot else str(result.fatal))
        if result.input_error is not None:
            print_error(f"{result.input_error}; stopped reading, and every answer received was logged")
        if log_error is not None:
            print_error(str(log_error) + unlogged_note(setup.log))
        if signalled is not None:
            name = signal.Signals(self.interruption.signum or signal.SIGINT).name
            hint = self._resume_hint()
            console.emit(f"stopped by {name}; to continue: {hint}", event="resume", resume_command=hint)
        elif (
            result.fatal is not None
            or result.input_error is not None
            or log_error is not None
            or summary.pending
            or summary.unsent
        ):
            hint = self._resume_hint()
            console.emit(f"to continue after fixing the cause: {hint}", event="resume", resume_command=hint)
        return status()


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
        # Name the bug itself, not the task group that carried it.
        cause = first_cause(exc) if isinstance(exc, BaseExceptionGroup) else exc
        print_error(f"internal error: {type(cause).__name__}: {cause} (set CARTLOADER_DEBUG=1 for the traceback)")
        return EXIT_INTERNAL
