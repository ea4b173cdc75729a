"""The failure table (design rule 4): what each answer means, in one place, tested row by row.

For every answer (an HTTP status, a parsed body, or no answer at all) it says what the delivery does next,
whether HubSpot may have processed the request, and the least wait before a resend.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from cartloader.hubspot.details import refusal
from cartloader.hubspot.protocol import Answer, ApiError
from cartloader.hubspot.transport import NoAnswer
from cartloader.models import RecordError


class Action(enum.Enum):
    """What the delivery does with an answer."""

    ACCEPT = "accept"  # a 2xx: map results and per-input errors to records
    SPLIT = "split"  # inputs refused as a whole batch: attribute the errors, or bisect
    REFUSE = "refuse"  # refused for good: the batch's records fail, no resend
    RETRY = "retry"  # not processed: resend after the wait
    RETRY_AMBIGUOUS = "retry_ambiguous"  # may have been processed: resend flagged duplicate_risk
    REFRESH_TOKEN = "refresh_token"  # 401: refresh the token once, then fatal
    FATAL = "fatal"  # the run stops


@dataclass(frozen=True, slots=True)
class Rule:
    """One row of the failure table: the action, whether HubSpot may have processed the
    request, and the least wait before a resend."""

    action: Action
    processed: bool
    min_wait_s: float = 0.0


# By HTTP status. Statuses not listed fall back to `rule_for_status`.
FAILURE_TABLE: Mapping[int, Rule] = {
    400: Rule(Action.SPLIT, processed=False),
    409: Rule(Action.SPLIT, processed=False),
    413: Rule(Action.SPLIT, processed=False),
    401: Rule(Action.REFRESH_TOKEN, processed=False),
    403: Rule(Action.FATAL, processed=False),
    404: Rule(Action.FATAL, processed=False),
    423: Rule(Action.RETRY, processed=False, min_wait_s=2.0),
    429: Rule(Action.RETRY, processed=False),  # DAILY is fatal: see classify
    477: Rule(Action.RETRY, processed=False),
    503: Rule(Action.RETRY, processed=False),
    521: Rule(Action.RETRY, processed=False),
    523: Rule(Action.RETRY, processed=False),
    500: Rule(Action.RETRY_AMBIGUOUS, processed=True),
    502: Rule(Action.RETRY_AMBIGUOUS, processed=True),
    504: Rule(Action.RETRY_AMBIGUOUS, processed=True),
    524: Rule(Action.RETRY_AMBIGUOUS, processed=True),
}

ACCEPT = Rule(Action.ACCEPT, processed=True)
MALFORMED_2XX = Rule(Action.RETRY_AMBIGUOUS, processed=True)
CONNECT_FAILED = Rule(Action.RETRY, processed=False)
SENT_THEN_LOST = Rule(Action.RETRY_AMBIGUOUS, processed=True)
DAILY_LIMIT = Rule(Action.FATAL, processed=False)
#: A 477 (migration in progress) asking to wait longer than this stops the run instead of waiting.
MAX_MIGRATION_WAIT_S = 300.0
MIGRATION_TOO_LONG = Rule(Action.FATAL, processed=False)
_OTHER_4XX = Rule(Action.REFUSE, processed=False)
_OTHER_5XX = Rule(Action.RETRY_AMBIGUOUS, processed=True)


def rule_for_status(status: int) -> Rule:
    """The failure-table row for an HTTP status (2xx is ACCEPT; unknown 4xx refuse, unknown 5xx are ambiguous)."""
    if 200 <= status < 300:
        return ACCEPT
    rule = FAILURE_TABLE.get(status)
    if rule is not None:
        return rule
    return _OTHER_4XX if status < 500 else _OTHER_5XX


def classify(answer: Answer) -> Rule:
    """The failure-table row for a parsed answer (a DAILY 429 is fatal, and so is a 477 asking to wait more
    than five minutes; the rest by status)."""
    if answer.status == 429 and answer.policy == "DAILY":
        return DAILY_LIMIT
    if answer.status == 477 and (answer.retry_after_s or 0.0) > MAX_MIGRATION_WAIT_S:
        return MIGRATION_TOO_LONG
    return rule_for_status(answer.status)


def rule_for_no_answer(no_answer: NoAnswer) -> Rule:
    """The failure-table row for a request that got no HTTP answer.

    Only a failure to connect proves the request was never written; a reset or a timeout after
    that may come after HubSpot processed it.
    """
    return SENT_THEN_LOST if no_answer.written else CONNECT_FAILED


def single_input_category(status: int) -> str | None:
    """The category for one input that a whole-batch refusal still fails alone (413: it is too large by itself);
    None keeps HubSpot's."""
    return "TOO_LARGE" if status == 413 else None


def input_status(category: str) -> int:
    """The HTTP status of one input's error inside a 207: what HubSpot answers when that error fails a
    whole request (the 207 belongs to the request, not to the input)."""
    return 409 if category == "CONFLICT" else 400


def missing_result_error(
    answer: Answer, refusals: Sequence[ApiError], unmatched: int = 0, unnamed: int = 0
) -> RecordError:
    """Why an input of a 2xx that has no result for it fails: the error refusing it without naming it, or a
    missing result (saying what else the answer held that could not be placed)."""
    if refusals:
        first = refusals[0]
        return refusal(first.category, first.message, input_status(first.category), first.details)
    message = "HubSpot's answer had neither a result nor an error for it"
    if answer.batch_status not in (None, "COMPLETE"):
        message += f" (batch status {answer.batch_status})"
    if unmatched:
        message += f"; {unmatched} result(s) in the answer matched no input"
    if unnamed:
        message += f"; {unnamed} error(s) in the answer named no input"
    return RecordError("MISSING_RESULT", message)
