"""``python -m cartloader simulator``: serve the built-in HubSpot simulator until SIGINT or SIGTERM."""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys
from collections.abc import Callable, Sequence
from typing import NoReturn, TypeVar

from cartloader.errors import ConfigError
from cartloader.rate import Rate
from cartloader.simulator.associations import DEFAULT_ASSOCIATION_IDS, IdRanges
from cartloader.simulator.config import DEFAULT_SCOPES, DEFAULT_TOKEN, SimulatorConfig
from cartloader.simulator.echo import DATE_ECHOES, DATETIME_ECHOES, MULTI_SELECT_ECHOES, WHITESPACE_ECHOES
from cartloader.simulator.faults import FAULT_NAMES
from cartloader.simulator.labels import add_directory_options, directory_fields
from cartloader.simulator.schema import PropertyDefinition, ValidationRule, parse_property, parse_rule
from cartloader.simulator.server import Simulator

PROG = "python -m cartloader simulator"
_T = TypeVar("_T")


class _UsageError(Exception):
    pass


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        raise _UsageError(message)


def _rate(text: str) -> Rate:
    try:
        return Rate.parse(text)
    except ConfigError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _latency(text: str) -> tuple[float, float]:
    try:
        values = [float(part) for part in text.split(",")]
    except ValueError:
        values = []
    if len(values) not in (1, 2):
        raise argparse.ArgumentTypeError(f"invalid latency {text!r}: expected P50 or P50,P95 in milliseconds")
    return (values[0], values[-1])


def _fault(text: str) -> tuple[str, float | int]:
    """``NAME=PROBABILITY`` (a float) or ``NAME@N`` (an int: forced on the N-th batch request)."""
    forced = "@" in text and "=" not in text
    name, _, value = text.partition("@" if forced else "=")
    if name not in FAULT_NAMES:
        raise argparse.ArgumentTypeError(f"unknown fault {name!r}: expected one of {', '.join(FAULT_NAMES)}")
    try:
        return (name, int(value)) if forced else (name, float(value))
    except ValueError:
        raise argparse.ArgumentTypeError(f"invalid fault {text!r}: expected NAME=PROBABILITY or NAME@N") from None


def _config_value(parse: Callable[[str], _T]) -> Callable[[str], _T]:
    """An argparse type from a parser that raises ConfigError."""

    def convert(text: str) -> _T:
        try:
            return parse(text)
        except ConfigError as exc:
            raise argparse.ArgumentTypeError(str(exc)) from None

    return convert


def _token(text: str) -> tuple[str, frozenset[str]]:
    token, sep, scopes = text.partition(":")
    if not token:
        raise argparse.ArgumentTypeError("empty token")
    if not sep:
        return token, DEFAULT_SCOPES
    return token, frozenset(s.strip() for s in scopes.split(",") if s.strip())


def _probability(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f"invalid probability {text!r}: expected a number from 0 to 1")
    return value


def _milliseconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not 0.0 <= value < float("inf"):
        raise argparse.ArgumentTypeError(f"invalid delay {text!r}: expected milliseconds, 0 or more")
    return value


def build_parser() -> argparse.ArgumentParser:
    """The simulator's argument parser."""
    parser = _Parser(prog=PROG, description="Serve a simulated HubSpot CRM carts API on a local port.")
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=0, help="port to bind; 0 picks a free one (default 0)")
    parser.add_argument(
        "--token",
        action="append",
        type=_token,
        metavar="TOKEN[:SCOPE,...]",
        help=f"accepted bearer token, with its scopes (default {','.join(sorted(DEFAULT_SCOPES))}); repeatable. "
        f"Default: {DEFAULT_TOKEN}",
    )
    parser.add_argument("--rate", type=_rate, metavar="N/DURATION", help="rolling-window limit per token, e.g. 190/10s")
    parser.add_argument("--daily", type=int, metavar="N", help="daily request limit per token")
    parser.add_argument(
        "--latency-ms", type=_latency, metavar="P50[,P95]", help="processing time of a 100-input request (log-normal)"
    )
    parser.add_argument(
        "--fault",
        action="append",
        type=_fault,
        default=[],
        metavar="NAME=PROBABILITY|NAME@N",
        help=f"inject a fault at a probability, or force it on the N-th batch request; repeatable. "
        f"Names: {', '.join(FAULT_NAMES)}",
    )
    parser.add_argument("--seed", type=int, help="seed for shuffling, latency, faults and trace-id echoing")
    parser.add_argument(
        "--unique",
        action="append",
        metavar="PROPERTY",
        help="property with unique values (repeatable; default none)",
    )
    parser.add_argument("--no-store", action="store_true", help="keep counts, not objects (long benchmarks)")
    parser.add_argument(
        "--echo-trace-ids",
        choices=("always", "never", "sometimes"),
        default="sometimes",
        help="whether successful results carry objectWriteTraceId (default sometimes: per response, at random)",
    )
    parser.add_argument(
        "--whole-batch-400",
        type=_probability,
        default=0.0,
        metavar="P",
        help="probability that a batch with invalid inputs fails whole despite unique trace ids (default 0)",
    )
    parser.add_argument(
        "--retry-after",
        type=float,
        metavar="SECONDS",
        help="send Retry-After on 429 and 503 answers (and this value on migration_477, 1 s otherwise)",
    )
    parser.add_argument(
        "--property",
        action="append",
        default=[],
        type=_config_value(parse_property),
        metavar="NAME[:TYPE[/FIELDTYPE]][:unique][:sensitive|:highly_sensitive][:options=A|B]",
        help="a custom property besides the native cart properties (TYPE string, number, bool, date, datetime or "
        "enumeration; NAME alone is a string; :sensitive or :highly_sensitive lists it only under that "
        "dataSensitivity, read with scope crm.objects.carts.sensitive.read or .highly_sensitive.read); repeatable",
    )
    parser.add_argument(
        "--rule",
        action="append",
        default=[],
        type=_config_value(parse_rule),
        metavar="PROPERTY:RULE_TYPE[:ARG...]",
        help="a property validation rule, e.g. hs_cart_name:MAX_LENGTH:40; repeatable",
    )
    parser.add_argument(
        "--required",
        action="append",
        default=[],
        metavar="PROPERTY",
        help="a property every create must set (API 2026-09 only); repeatable",
    )
    parser.add_argument(
        "--association-ids",
        type=_config_value(IdRanges.parse),
        default=DEFAULT_ASSOCIATION_IDS,
        metavar="RANGES",
        help=f"association target ids that exist, e.g. 1-1000,123456789 (default {DEFAULT_ASSOCIATION_IDS})",
    )
    parser.add_argument(
        "--conflicts",
        choices=("whole-batch", "per-input"),
        default="whole-batch",
        help="a unique-value conflict fails the whole batch with 409 (default) or only its input",
    )
    parser.add_argument("--no-normalize-numbers", action="store_true", help="store number properties exactly as sent")
    parser.add_argument(
        "--search-index-delay-ms",
        type=float,
        default=0.0,
        metavar="MS",
        help="search finds a new object only MS after its creation (default 0)",
    )
    parser.add_argument(
        "--search-rate",
        type=float,
        default=5.0,
        metavar="N",
        help="searches per token per second before 429 (default 5)",
    )
    parser.add_argument(
        "--echo-datetimes",
        choices=DATETIME_ECHOES,
        default="iso",
        help="datetime values stored and echoed in ISO 8601 UTC with milliseconds (default iso), or as sent",
    )
    parser.add_argument(
        "--echo-dates",
        choices=DATE_ECHOES,
        default="iso",
        help="date values stored and echoed as YYYY-MM-DD (default iso), epoch milliseconds, or as sent",
    )
    parser.add_argument(
        "--echo-whitespace",
        choices=WHITESPACE_ECHOES,
        default="trim",
        help="white space around values removed, a value of only white space clearing its property (default trim), "
        "or values kept as sent",
    )
    parser.add_argument(
        "--echo-multi-select",
        choices=MULTI_SELECT_ECHOES,
        default="as-sent",
        help="multi-select option values echoed in the order sent (default as-sent) or sorted",
    )
    parser.add_argument(
        "--answer-delay-ms",
        type=_milliseconds,
        default=0.0,
        metavar="N",
        help="hold each batch create/upsert answer N ms after its write was applied (default 0)",
    )
    add_directory_options(parser)  # --contacts, --orders, --label
    return parser


def config_from_args(args: argparse.Namespace) -> SimulatorConfig:
    """The ``SimulatorConfig`` the parsed options describe; raises ConfigError if they are inconsistent."""
    fields: dict[str, object] = {}
    if args.token:
        fields["tokens"] = dict(args.token)
    if args.unique:
        fields["unique"] = tuple(args.unique)
    fields.update(directory_fields(args))
    probabilities = {name: value for name, value in args.fault if isinstance(value, float)}
    forced = {value: name for name, value in args.fault if isinstance(value, int)}
    properties: tuple[PropertyDefinition, ...] = tuple(args.property)
    rules: tuple[ValidationRule, ...] = tuple(args.rule)
    return SimulatorConfig(
        host=args.host,
        port=args.port,
        rate=args.rate,
        daily=args.daily,
        latency_ms=args.latency_ms,
        faults=probabilities,
        faults_at=forced,
        seed=args.seed,
        store=not args.no_store,
        echo_trace_ids=args.echo_trace_ids,
        whole_batch_400=args.whole_batch_400,
        retry_after_s=args.retry_after,
        properties=properties,
        rules=rules,
        required=tuple(args.required),
        association_ids=args.association_ids,
        conflicts=args.conflicts,
        normalize_numbers=not args.no_normalize_numbers,
        echo_datetimes=args.echo_datetimes,
        echo_dates=args.echo_dates,
        echo_whitespace=args.echo_whitespace,
        echo_multi_select=args.echo_multi_select,
        answer_delay_ms=args.answer_delay_ms,
        search_index_delay_ms=args.search_index_delay_ms,
        search_rate=args.search_rate,
        **fields,  # type: ignore[arg-type]
    )


async def serve(config: SimulatorConfig) -> None:
    """Serve until SIGINT or SIGTERM, printing ``listening on URL`` once ready."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    async with Simulator(config) as sim:
        print(f"listening on {sim.url}", flush=True)
        await stop.wait()


def main(argv: Sequence[str]) -> int:
    """Serve the simulator until interrupted; return the exit status."""
    try:
        args = build_parser().parse_args(list(argv))
        config = config_from_args(args)
    except (_UsageError, ConfigError) as exc:
        print(f"{PROG}: error: {exc}", file=sys.stderr)
        return 2
    try:
        asyncio.run(serve(config))
    except OSError as exc:
        print(f"{PROG}: error: cannot listen on {config.host}:{config.port}: {exc.strerror or exc}", file=sys.stderr)
        return 2
    return 0
