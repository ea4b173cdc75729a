"""``CartLoader.submit``: records from many callers, coalesced into the batches of one long-running pipeline,
and each record's outcome handed back to the caller that submitted it.

Every submitted record is numbered in submission order (its ``Outcome.line``) and queued for the pipeline, which
batches it with whatever else was submitted (a batch leaves when full or when its oldest record has waited
``linger``). A ticket per waiting caller receives the outcome: the pipeline's collector reports each record as
sent (``pending``) and then settled, and the ticket of that line is resolved. Memory stays bounded: at most
``max_pending`` records wait unsent (then ``submit`` waits), and a ticket lives only while its caller waits.

The caller never saw the loader-wide number: the outcome it gets back names its record by key (its
``objectWriteTraceId``, else the generated ``<run id>-<line>``), in ``Outcome.key`` and in the error's message
("record KEY: ..." where a load's says "line N: ...").
"""

from __future__ import annotations

import copy
import dataclasses
import math
import re
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass

import anyio

from cartloader.engine.collector import Collector
from cartloader.errors import CartloaderError, LoaderClosedError
from cartloader.input.normalize import normalize
from cartloader.models import CartInput, InvalidInput, Outcome, OutcomeSink, Settled

_LINE_PREFIX = re.compile(r"line \d+: ")

PipelineRun = Callable[[AsyncIterator[CartInput | InvalidInput], Collector], Awaitable[object]]


class _Ticket:
    """One caller waiting for its record's outcome (or for the error that stopped the loader)."""

    __slots__ = ("done", "error", "key", "outcome", "sent")

    def __init__(self, key: str) -> None:
        self.key = key
        self.done = anyio.Event()
        self.sent = False
        self.outcome: Outcome | None = None
        self.error: BaseException | None = None


@dataclass(frozen=True, slots=True)
class SubmissionStatistics:
    """``submit()`` so far: records accepted, records waiting unsent, callers waiting for an outcome, and records
    withdrawn because their caller was cancelled before they were sent."""

    submitted: int
    waiting: int
    callers_waiting: int
    withdrawn: int


class Submissions:
    """The queue behind ``submit``: one per loader, its pipeline started by the first submission."""

    def __init__(self, *, max_pending: int) -> None:
        self._max_pending = max_pending
        self._room = anyio.Semaphore(max_pending)
        # Unbounded buffer: the semaphore above bounds what waits in it.
        self._send, self._receive = anyio.create_memory_object_stream[CartInput | InvalidInput](math.inf)
        self._tickets: dict[int, _Ticket] = {}
        self._lines = 0
        self._withdrawn = 0
        self._started = False
        self._scope: anyio.CancelScope | None = None
        self._closed: LoaderClosedError | None = None
        self._abort_cause: BaseException | None = None
        #: The run id of the generated keys (``<run id>-<line>``), set by the loader before the first submission.
        self.run_id = ""

    @property
    def started(self) -> bool:
        """Whether the pipeline was started (by a first submission)."""
        return self._started

    def start(self) -> bool:
        """Mark the pipeline started; True the first time only (the caller then runs ``serve``)."""
        if self._started:
            return False
        self._started = True
        return True

    async def submit(self, record: object) -> Outcome:
        """Queue ``record`` and wait for its outcome; see ``CartLoader.submit``."""
        self._check_open()
        room = self._room
        try:
            # No checkpoint when there is room: the caller suspends once, for its outcome (a service submits
            # thousands of records a second, and each extra trip through the event loop costs).
            room.acquire_nowait()
        except anyio.WouldBlock:
            await room.acquire()
        closed = self._closed
        if closed is not None:  # closed while this caller waited for room
            self._room.release()
            cause = closed.__cause__
            if cause is not None:  # a fatal error: every caller that was waiting gets it as itself
                raise copy.copy(cause) from None
            raise copy.copy(closed)
        self._lines += 1
        line = self._lines
        item = normalize(record, line)
        ticket = self._tickets[line] = _Ticket(self._key(record, item, line))
        try:
            self._send.send_nowait(item)
        except anyio.BrokenResourceError:
            # The pipeline has just stopped (a fatal error), before serve() closed the queue: this record is not
            # sent, and serve() hands its ticket the error as it does every other caller's.
            pass
        try:
            await ticket.done.wait()
        except BaseException:
            if self._tickets.pop(line, None) is not None and not ticket.sent:
                # Cancelled before its batch left: withdraw the record (the delivery drops it from its batch).
                if isinstance(item, CartInput):
                    item.withdrawn = True
                self._withdrawn += 1
                self._room.release()
            raise
        if ticket.error is not None:
            raise copy.copy(ticket.error) from ticket.error.__cause__
        assert ticket.outcome is not None
        return ticket.outcome

    def _key(self, record: object, item: CartInput | InvalidInput, line: int) -> str:
        """The key the caller knows its record by: its own trace id, else the generated one."""
        if isinstance(item, CartInput) and item.trace_id:
            return item.trace_id
        given = record.get("objectWriteTraceId") if isinstance(record, dict) else None
        return given if isinstance(given, str) and given else f"{self.run_id}-{line}"

    def _check_open(self) -> None:
        if self._closed is not None:
            raise copy.copy(self._closed) from self._closed.__cause__

    async def serve(self, run: PipelineRun, sinks: Sequence[OutcomeSink]) -> None:
        """Run the pipeline over the submissions (outcomes also to ``sinks``) until ``close()`` (drained) or a fatal
        error; then every caller still waiting gets the error (or ``LoaderClosedError``)."""
        collector = Collector([_Router(self), *sinks])
        try:
            with anyio.CancelScope() as self._scope:
                if self._abort_cause is None:  # aborted before this first step: stopped at once, as once running
                    await run(self._records(), collector)
        except CartloaderError as exc:
            self.close(exc)
            self._fail_all(exc)
            return
        except BaseException:
            self.close()
            self._fail_all(self._abort_cause or LoaderClosedError("the loader closed before this record was sent"))
            raise
        self.close()
        self._fail_all(self._abort_cause or LoaderClosedError("the loader closed before this record was sent"))

    async def _records(self) -> AsyncIterator[CartInput | InvalidInput]:
        receive = self._receive
        async with receive:
            while True:
                try:  # what is already queued is taken without a trip through the event loop per record
                    item = receive.receive_nowait()
                except anyio.WouldBlock:
                    try:
                        item = await receive.receive()
                    except anyio.EndOfStream:
                        return
                except anyio.EndOfStream:
                    return
                if isinstance(item, CartInput) and item.withdrawn:
                    continue
                yield item

    def close(self, cause: BaseException | None = None) -> None:
        """Take no more submissions; what was submitted is still sent (the pipeline drains). With ``cause`` (a
        fatal error), later submissions say so."""
        if self._closed is None:
            if cause is None:
                self._closed = LoaderClosedError("the loader is closed: make a new CartLoader")
            else:
                self._closed = LoaderClosedError(f"the loader stopped after a fatal error ({cause}): make a new one")
                self._closed.__cause__ = cause
        self._send.close()

    def abort(self, cause: BaseException) -> None:
        """Stop at once after a fatal error met elsewhere in the loader: callers still waiting get ``cause``."""
        self._abort_cause = cause
        self.close(cause)
        if self._scope is not None:
            self._scope.cancel()
        # Not running yet: serve() sees the cause and runs nothing (no ticket exists before the pipeline is started).

    def _fail_all(self, error: BaseException) -> None:
        tickets, self._tickets = self._tickets, {}
        for ticket in tickets.values():
            if not ticket.sent:
                self._room.release()
            ticket.error = error
            ticket.done.set()

    def _sent(self, inputs: Sequence[CartInput]) -> None:
        tickets = self._tickets
        for record in inputs:
            ticket = tickets.get(record.line)
            if ticket is not None and not ticket.sent:
                ticket.sent = True
                self._room.release()

    def _settled(self, results: Sequence[Settled]) -> None:
        tickets = self._tickets
        for outcome, _ in results:
            ticket = tickets.pop(outcome.line, None)
            if ticket is None:
                continue  # its caller was cancelled; the outcome still reached the log
            if not ticket.sent:
                self._room.release()
            ticket.outcome = _named(outcome, ticket.key)
            ticket.done.set()

    def statistics(self) -> SubmissionStatistics:
        """A snapshot of the queue."""
        return SubmissionStatistics(
            submitted=self._lines,
            waiting=self._max_pending - int(self._room.value),
            callers_waiting=len(self._tickets),
            withdrawn=self._withdrawn,
        )

    def __repr__(self) -> str:
        s = self.statistics()
        return f"Submissions(submitted={s.submitted}, waiting={s.waiting}, callers_waiting={s.callers_waiting})"


def _named(outcome: Outcome, key: str) -> Outcome:
    """``outcome`` naming the record by ``key``, not by the loader-wide number the caller never saw."""
    error = outcome.error
    if error is not None and _LINE_PREFIX.match(error.message):
        error = dataclasses.replace(error, message=_LINE_PREFIX.sub(f"record {key}: ", error.message, count=1))
    if outcome.key == key and error is outcome.error:
        return outcome
    return dataclasses.replace(outcome, key=outcome.key or key, error=error)


class _Router:
    """The outcome sink that hands each submitted record's outcome to its caller."""

    __slots__ = ("_submissions",)

    def __init__(self, submissions: Submissions) -> None:
        self._submissions = submissions

    def pending(self, inputs: Sequence[CartInput]) -> None:
        self._submissions._sent(inputs)

    def settled(self, results: Sequence[Settled]) -> None:
        self._submissions._settled(results)
