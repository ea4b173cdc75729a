"""Mutation testing of one module, scored as docs/reliability.md counts it (not a test module: run it).

    .venv/bin/python -m tests.mutation MODULE [--fresh]

MODULE is one of the names in ``MODULES`` (``protocol``, ``failures``, ``delivery``, ``matching``, ``chunker``,
``format``, ``log``, ``resume``, ``pacing``). It runs ``mutmut run`` on that module's mutants (configured in
pyproject.toml, ``[tool.mutmut]``: the modules and their fast, focused tests), then reads mutmut's results and
prints the score: killed and timed-out mutants count as killed; survivors and mutants no test reaches as
survived; the mutants in ``EQUIVALENT`` (each with the reason it cannot change behaviour) are left out. The
mutant names of survivors are printed; ``.venv/bin/mutmut show NAME`` shows one. ``--fresh`` forgets earlier
results (mutmut otherwise retests only functions that changed). Exits 1 below ``GOAL``.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
GOAL = 0.80

#: Short name -> the module's dotted name (mutmut names mutants after it).
MODULES = {
    "protocol": "cartloader.hubspot.protocol",
    "failures": "cartloader.hubspot.failures",
    "delivery": "cartloader.engine.delivery",
    "matching": "cartloader.engine.matching",
    "chunker": "cartloader.engine.chunker",
    "format": "cartloader.outcomes.format",
    "log": "cartloader.outcomes.log",
    "resume": "cartloader.outcomes.resume",
    "pacing": "cartloader.budget.pacing",
}

#: Mutants that cannot change what the code does, with the reason (left out of the score).
EQUIVALENT: dict[str, str] = {}

KILLED = {"killed", "timeout"}
SURVIVED = {"survived", "no tests"}


@dataclass
class Score:
    """The mutants of one module by outcome."""

    killed: list[str] = field(default_factory=list)
    survived: list[str] = field(default_factory=list)
    equivalent: list[str] = field(default_factory=list)
    other: dict[str, str] = field(default_factory=dict)  # not checked, suspicious, ...: reported, never scored

    @property
    def counted(self) -> int:
        return len(self.killed) + len(self.survived)

    @property
    def ratio(self) -> float:
        return len(self.killed) / self.counted if self.counted else 1.0


def _status(exit_code: int | None) -> str:
    from mutmut.stats import status_by_exit_code  # mutmut's own reading of a mutant's exit code

    return str(status_by_exit_code[exit_code])


def score(module: str) -> Score:
    """Read mutmut's results for ``module`` (its ``.meta`` file under mutants/)."""
    meta = ROOT / "mutants" / (module.replace(".", "/") + ".py.meta")
    exit_codes: dict[str, int | None] = json.loads(meta.read_text())["exit_code_by_key"]
    result = Score()
    for name, code in sorted(exit_codes.items()):
        status = _status(code)
        if name in EQUIVALENT:
            result.equivalent.append(name)
        elif status in KILLED:
            result.killed.append(name)
        elif status in SURVIVED:
            result.survived.append(name)
        else:
            result.other[name] = status
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.mutation", description=__doc__.splitlines()[0])
    parser.add_argument("module", choices=sorted(MODULES))
    parser.add_argument("--fresh", action="store_true", help="forget earlier mutmut results first")
    args = parser.parse_args(argv)
    module = MODULES[args.module]
    if args.fresh:
        shutil.rmtree(ROOT / "mutants", ignore_errors=True)
    mutmut = Path(sys.executable).with_name("mutmut")
    log = ROOT / "mutants-run.log"
    started = time.monotonic()
    with log.open("w") as output:
        subprocess.run([str(mutmut), "run", f"{module}.*"], cwd=ROOT, stdout=output, stderr=subprocess.STDOUT)
    elapsed = time.monotonic() - started
    result = score(module)
    print(f"{module}: {len(result.killed)} killed / {result.counted} counted = {result.ratio:.1%} (goal {GOAL:.0%})")
    print(f"  survived {len(result.survived)}, equivalent (left out) {len(result.equivalent)}, in {elapsed:.0f} s")
    for name in result.survived:
        print(f"  survived: {name}")
    for name in result.equivalent:
        print(f"  equivalent: {name}: {EQUIVALENT[name]}")
    for name, status in result.other.items():
        print(f"  {status}: {name}")
    if result.other:
        print(f"  (not scored: see {log.name})")
    return 0 if result.ratio >= GOAL and not result.other else 1


if __name__ == "__main__":
    sys.exit(main())
