"""Mutation testing of the shared budget's Lua script (``cartloader/budget/script.py``): ``python -m tests.mutation
script`` runs this (not a test module); ``python -m tests.mutation_lua NAME ...`` runs only the named mutants.

mutmut mutates Python inside functions only: the script is one module-level string, so it makes no mutant of it.
Here each mutant is the script with one change on one line of code (comments are left alone): a comparison,
``+``/``-``, ``*``/``/``, ``and``/``or``, a ``not`` dropped, ``math.max``/``math.min``, ``math.floor``/``math.ceil``,
``true``/``false``, a unary minus dropped, a whole number plus one, a lowercase string (a hash field, a flag)
changed. ``LUA_TESTS`` are collected once; a child forked for each mutant registers the mutant in place of the
script (the Redis session reads ``SCRIPT`` when it connects), so it runs in the real Redis servers the tests start,
and runs the tests until the first failure (killed). The tests must first pass in a child on the script as it is;
a mutant's child running past 4 times that (and 10 s) is ended and counted as a timeout (killed). Scored as
``tests/mutation.py`` counts: the mutants named in its ``EQUIVALENT`` (``cartloader.budget.script.lua__mutmut_N``,
numbered in the order made) are left out while their mutated line still holds the piece given."""

from __future__ import annotations

import contextlib
import os
import re
import signal
import sys
import time
from dataclasses import dataclass
from typing import Any

ROOT_MODULE = "cartloader.budget.script"
#: The tests that run the script in a real Redis, fastest first (in-process only: a child process would load the
#: unchanged script).
LUA_TESTS = [
    "tests/test_shared_budget_script.py",
    "tests/test_shared_budget_rules.py",
    "tests/test_shared_budget_rejoin.py",
]

_OPERATORS = [
    (r"<=", "<"),
    (r"(?<![<>=~])<(?!=)", "<="),
    (r">=", ">"),
    (r"(?<![<>=~])>(?!=)", ">="),
    (r"==", "~="),
    (r"~=", "=="),
    (r"(?<= )\+(?= )", "-"),
    (r"(?<= )-(?= )", "+"),
    (r"(?<= )\*(?= )", "/"),
    (r"(?<= )/(?= )", "*"),
    (r"\band\b", "or"),
    (r"\bor\b", "and"),
    (r"\bnot ", ""),
    (r"math\.max\b", "math.min"),
    (r"math\.min\b", "math.max"),
    (r"math\.floor\b", "math.ceil"),
    (r"math\.ceil\b", "math.floor"),
    (r"\btrue\b", "false"),
    (r"\bfalse\b", "true"),
    (r"-\(", "("),
]
_NUMBER = re.compile(r"(?<![\w.\[])(\d+)(?![\w.\]])")
_STRING = re.compile(r"'([a-z_0-9]+)'")


@dataclass(frozen=True)
class LuaMutant:
    name: str
    line: int
    original: str
    mutated: str
    script: str


def lua_mutants(script: str) -> list[LuaMutant]:
    """Every mutant of ``script``, in a fixed order (line by line, operator by operator, left to right)."""
    lines = script.split("\n")
    made: list[LuaMutant] = []

    def add(number: int, new_line: str) -> None:
        name = f"{ROOT_MODULE}.lua__mutmut_{len(made) + 1}"
        text = "\n".join([*lines[:number], new_line, *lines[number + 1 :]])
        made.append(LuaMutant(name, number + 1, lines[number].strip(), new_line.strip(), text))

    for number, line in enumerate(lines):
        code = line.split("--", 1)[0]  # the script's strings hold no "--"
        if not code.strip():
            continue
        for pattern, replacement in _OPERATORS:
            for match in re.finditer(pattern, code):
                add(number, line[: match.start()] + replacement + line[match.end() :])
        for match in _NUMBER.finditer(code):
            add(number, line[: match.start()] + str(int(match.group(1)) + 1) + line[match.end() :])
        for match in _STRING.finditer(code):
            add(number, line[: match.start()] + f"'XX{match.group(1)}XX'" + line[match.end() :])
    return made


def _pytest_args() -> list[str]:
    return [*LUA_TESTS, "-q", "-p", "no:cacheprovider", "-p", "no:randomly", "--no-header", "-W", "ignore"]


def _child(session: Any, script: str | None) -> int:
    """In a forked child: run the collected tests with ``script`` registered, 1 at the first failure."""
    from _pytest.runner import runtestprotocol

    from cartloader.budget import redis_session

    os.setpgid(0, 0)  # its own process group: the Redis servers it starts end with it
    stderr = os.dup(2)
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 1)
    os.dup2(devnull, 2)
    if script is not None:
        setattr(redis_session, "SCRIPT", script)  # noqa: B010 (not exported: mypy)
    items = session.items
    for index, item in enumerate(items):
        following = items[index + 1] if index + 1 < len(items) else None
        failed = [report for report in runtestprotocol(item, nextitem=following, log=False) if report.failed]
        if failed:
            if script is None:  # the script as it is: say which test failed, and how
                os.write(stderr, f"{item.nodeid} failed:\n{failed[0].longreprtext}\n".encode())
            return 1
    return 0


def _in_child(session: Any, script: str | None, timeout_s: float) -> str:
    """``killed``, ``timeout`` or ``survived``: the collected tests, run in a forked child with ``script``."""
    pid = os.fork()
    if pid == 0:
        try:
            code = _child(session, script)
        except BaseException:
            code = 3
        os._exit(code)
    deadline = time.monotonic() + timeout_s
    while True:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done or time.monotonic() > deadline:
            break
        time.sleep(0.01)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pid, signal.SIGKILL)  # the child on a timeout, and whatever it left running
    if not done:
        os.waitpid(pid, 0)
        return "timeout"
    return "survived" if os.waitstatus_to_exitcode(status) == 0 else "killed"


class _Runner:
    """A pytest plugin: once the tests are collected, each mutant runs them in a child of this process."""

    def __init__(self, mutants: list[LuaMutant]) -> None:
        self.mutants = mutants
        self.results: list[tuple[LuaMutant, str]] = []
        self.clean = "not run"

    def pytest_runtestloop(self, session: Any) -> bool:
        started = time.monotonic()
        self.clean = _in_child(session, None, 300.0)
        timeout_s = max(10.0, 4 * (time.monotonic() - started))
        if self.clean == "survived":  # every test passes on the script as it is
            for mutant in self.mutants:
                self.results.append((mutant, _in_child(session, mutant.script, timeout_s)))
        return True


def run_all(only: set[str] | None = None) -> list[tuple[LuaMutant, str]]:
    """Each mutant (or those named in ``only``) and its outcome; the tests must pass on the script as it is."""
    import pytest

    from cartloader.budget.script import SCRIPT

    runner = _Runner([m for m in lua_mutants(SCRIPT) if only is None or m.name in only])
    pytest.main(_pytest_args(), plugins=[runner])
    if runner.clean != "survived":
        raise SystemExit(f"the script's tests do not pass on the script as it is ({runner.clean})")
    return runner.results


def score_script(only: set[str] | None = None) -> int:
    """Run the Lua mutants (those named in ``only``, else all) and print the score as ``tests/mutation.py`` does."""
    from tests.mutation import EQUIVALENT, GOAL

    load_at_start = os.getloadavg()[0]
    started = time.monotonic()
    results = run_all(only)
    elapsed = time.monotonic() - started
    load_at_end = os.getloadavg()[0]
    killed = [m for m, status in results if status in ("killed", "timeout")]
    equivalent = [m for m, status in results if status == "survived" and _fits(m)]
    survived = [m for m, status in results if status == "survived" and not _fits(m)]
    counted = len(killed) + len(survived)
    ratio = len(killed) / counted if counted else 1.0
    print(f"{ROOT_MODULE} (Lua): {len(killed)} killed / {counted} counted = {ratio:.1%} (goal {GOAL:.0%})")
    print(f"  survived {len(survived)}, equivalent (left out) {len(equivalent)}, in {elapsed:.0f} s")
    print(f"  load average (1 min) {load_at_start:.2f} at the start, {load_at_end:.2f} at the end")
    for mutant in survived:
        print(f"  survived: {mutant.name}: line {mutant.line}: {mutant.mutated}")
    for mutant in equivalent:
        print(f"  equivalent: {mutant.name}: {EQUIVALENT[mutant.name][1]}")
    return 0 if ratio >= GOAL else 1


def _fits(mutant: LuaMutant) -> bool:
    from tests.mutation import EQUIVALENT

    return mutant.name in EQUIVALENT and EQUIVALENT[mutant.name][0] in mutant.mutated


if __name__ == "__main__":  # python -m tests.mutation_lua [NAME ...]: only the named mutants
    sys.exit(score_script(set(sys.argv[1:]) or None))
