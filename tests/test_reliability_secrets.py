"""The token never leaks (design rule 8): the command line and the library are driven through failures
(401, 403, every fault, invalid input, an exception from the caller's records, an unreachable host) and every
output is scanned for it: stdout, stderr, the outcome log and its meta file, the rejects files, the summary
JSON, exception messages, reprs and tracebacks, outcomes, and the library's logging output."""

from __future__ import annotations

import logging
import traceback
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from cartloader import CartLoader, CartloaderError, bulk_create
from cartloader.config import Backoff
from cartloader.errors import AuthenticationError, MissingScopesError
from cartloader.models import Outcome
from cartloader.simulator import Simulator
from cartloader.simulator.config import READ_SCOPE, WRITE_SCOPE
from cartloader.simulator.faults import BASIC_FAULTS
from tests.test_cli_support import EXAMPLES, SimThread, run_cli, simulators, write_carts

Start = Callable[..., SimThread]
SECRET = "pat-na1-SECRET-7d1c0ffee-4b1d"
MARK = "SECRET-7d1c"  # any part of the token that would show
READ_ONLY = SECRET + "-readonly"
TOKENS = {SECRET: frozenset({WRITE_SCOPE}), READ_ONLY: frozenset({READ_SCOPE})}
# Every fault but locked_423, whose 2 s waits would only slow the test: its answer is a plain 423 body.
FAULTS = {name: 0.1 for name in BASIC_FAULTS if name != "locked_423"}
QUICK = Backoff(base_s=0.005, cap_s=0.02)


@pytest.fixture
def simulator() -> Iterator[Start]:
    yield from simulators()


def assert_no_token(text: str | bytes, where: str) -> None:
    data = text.encode() if isinstance(text, str) else text
    assert MARK.encode() not in data, f"the token appears in {where}"


def assert_no_token_in_files(folder: Path) -> int:
    """Scan every file under ``folder``; return how many there were."""
    files = [path for path in folder.rglob("*") if path.is_file()]
    for path in files:
        assert_no_token(path.read_bytes(), path.name)
    return len(files)


# --- command line ----------------------------------------------------------------------------------------


def test_the_cli_never_shows_the_token_through_faults_invalid_lines_401_403_and_an_unreachable_host(
    tmp_path: Path, simulator: Start
) -> None:
    sim = simulator(tokens=TOKENS, faults=FAULTS, seed=9, hang_s=30, unique=())
    source = tmp_path / "carts.ndjson"
    write_carts(source, 300)
    with source.open("ab") as stream:
        stream.write(b'{"hs_cart_name": 12e999}\nnot json\n{"properties": 3}\n')
    token_file = tmp_path / "token.txt"
    token_file.write_text(SECRET + "\n")
    common = ("--batch-size", "20", "--rate", "1000/1s", "--timeout", "0.5", "--max-retries", "3")
    runs: dict[str, tuple[tuple[str | Path, ...], str | None]] = {
        "faults, env token": ((
            source, "--base-url", sim.url, *common, "--out", "a.ndjson", "--rejects", "a.rejects.ndjson",
            "--summary-json", "a.summary.json", "--echo", "hs_cart_name",
        ), SECRET),
        "faults, token file": ((
            EXAMPLES / "carts-with-errors.ndjson", "--base-url", sim.url, *common, "--token-file", token_file,
            "--out", "b.ndjson", "--rejects", "b.rejects.ndjson", "--summary-json", "b.summary.json",
        ), None),
        "401": ((
            source, "--base-url", sim.url, *common, "--out", "c.ndjson", "--summary-json", "c.summary.json",
        ), SECRET + "-wrong"),
        "403": ((
            source, "--base-url", sim.url, *common, "--out", "d.ndjson", "--summary-json", "d.summary.json",
        ), READ_ONLY),
        "unreachable": ((
            source, "--base-url", "http://127.0.0.1:9", *common, "--out", "e.ndjson", "--max-retries", "1",
        ), SECRET),
        "plain http": ((source, "--base-url", "http://192.0.2.1"), SECRET),
    }  # fmt: skip
    with ThreadPoolExecutor(len(runs)) as pool:  # independent runs (each its own log): side by side
        futures = {name: pool.submit(run_cli, *args, cwd=tmp_path, token=token) for name, (args, token) in runs.items()}
        outputs = {name: future.result() for name, future in futures.items()}
    outputs["resume"] = run_cli(
        source, "--base-url", sim.url, *common, "--out", "a.ndjson", "--resume", "--retry-failed",
        cwd=tmp_path, token=SECRET,
    )  # fmt: skip
    assert [result.returncode for result in outputs.values()] == [
        outputs["faults, env token"].returncode,  # 0 or 1: what the faults left
        1,
        3,
        3,
        1,
        2,
        outputs["resume"].returncode,
    ]
    assert outputs["faults, env token"].returncode in (0, 1)
    assert "HTTP 401" in outputs["401"].stderr and "MISSING_SCOPES" in outputs["403"].stderr
    for name, result in outputs.items():
        assert_no_token(result.stdout, f"stdout ({name})")
        assert_no_token(result.stderr, f"stderr ({name})")
    token_file.unlink()
    assert assert_no_token_in_files(tmp_path) >= 14  # logs, metas, rejects and their errors, summaries, input


# --- library ---------------------------------------------------------------------------------------------


@pytest.fixture
def library_log(caplog: pytest.LogCaptureFixture) -> Iterator[pytest.LogCaptureFixture]:
    """Every record the library logs, down to DEBUG."""
    with caplog.at_level(logging.DEBUG, logger="cartloader"):
        yield caplog


def _carts(count: int) -> list[dict[str, Any]]:
    return [{"hs_cart_name": f"cart {n}", "hs_external_cart_id": f"x-{n}"} for n in range(1, count + 1)]


def _scan_exception(error: BaseException, where: str) -> None:
    assert_no_token(str(error), f"str({where})")
    assert_no_token(repr(error), f"repr({where})")
    assert_no_token("".join(traceback.format_exception(error)), f"traceback of {where}")


@pytest.mark.anyio
async def test_the_library_never_shows_the_token_in_outcomes_logs_reprs_or_exceptions(
    tmp_path: Path, library_log: pytest.LogCaptureFixture
) -> None:
    sim = Simulator(tokens=TOKENS, faults=FAULTS, seed=4, hang_s=30, unique=())
    await sim.start()
    seen: list[Outcome] = []
    errors: list[BaseException] = []
    options: dict[str, Any] = {"rate": "1000/1s", "backoff": QUICK, "timeout": 0.5, "max_attempts": 3}
    try:
        records: list[Any] = [*_carts(200), {"hs_cart_name": float("nan")}, "not a dict", {"properties": 1}]
        async with CartLoader(SECRET, base_url=sim.url, batch_size=20, **options) as loader:
            summary = await loader.create(records, outcome_log=tmp_path / "a.ndjson", on_outcome=seen.append)
            async with loader.stream(_carts(40)) as outcomes:
                seen.extend([outcome async for outcome in outcomes])
            assert_no_token(repr(loader), "repr(CartLoader)")
            assert_no_token(repr(loader.budget), "repr(budget)")
        assert summary.invalid == 3 and summary.total == 203
        assert_no_token(repr(summary), "repr(Summary)")
        assert_no_token(repr(summary.to_dict()), "Summary.to_dict()")

        async def refreshed() -> str:
            return SECRET + "-expired"

        for token, expected in ((SECRET + "-wrong", AuthenticationError), (refreshed, AuthenticationError),
                                (READ_ONLY, MissingScopesError)):  # fmt: skip
            with pytest.raises(expected) as caught:
                await bulk_create(_carts(5), token=token, base_url=sim.url, on_outcome=seen.append, **options)
            errors.append(caught.value)

        def exploding() -> Iterator[dict[str, Any]]:
            yield from _carts(3)
            raise RuntimeError("the caller's source failed")

        with pytest.raises(RuntimeError) as caught_runtime:
            await bulk_create(exploding(), token=SECRET, base_url=sim.url, on_outcome=seen.append, **options)
        errors.append(caught_runtime.value)
        with pytest.raises(CartloaderError) as caught_config:
            await bulk_create(_carts(1), token=SECRET, base_url="http://192.0.2.1", **options)
        errors.append(caught_config.value)
        unreachable = await bulk_create(
            _carts(3), token=SECRET, base_url="http://127.0.0.1:9", on_outcome=seen.append, **options
        )
        assert unreachable.failed == 3
    finally:
        await sim.stop()
    assert len(errors) == 5
    for error in errors:
        _scan_exception(error, type(error).__name__)
    assert {o.status for o in seen} >= {"created", "invalid", "failed"}
    for outcome in seen:
        assert_no_token(repr(outcome), "repr(Outcome)")
        if outcome.error is not None:
            assert_no_token(outcome.error.message, "an outcome's error message")
    for record in library_log.records:
        assert_no_token(record.getMessage(), "the library's logging")
        if record.exc_info and record.exc_info[1] is not None:
            _scan_exception(record.exc_info[1], "a logged exception")
    assert_no_token_in_files(tmp_path)
