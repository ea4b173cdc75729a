"""Mutation testing of one module, scored as docs/reliability.md counts it (not a test module: run it).

    .venv/bin/python -m tests.mutation MODULE [--fresh] [--max-children N]

MODULE is one of the names in ``MODULES`` (``protocol``, ``failures``, ``delivery``, ``splitting``, ``matching``,
``chunker``, ``format``, ``log``, ``resume``, ``pacing``, ``values``, ``local``, ``places``, ``shared``, ``script``,
``submissions``, ``linking``, ``pipeline``, ``readings``). It runs ``mutmut run`` on that module's mutants
(configured in pyproject.toml, ``[tool.mutmut]``: the modules and their fast, focused tests), then reads mutmut's
results and prints the score: killed and timed-out mutants count as killed; survivors and mutants no test reaches as
survived; the mutants in ``EQUIVALENT`` (each with the reason it cannot change behaviour) are left out. The
mutant names of survivors are printed; ``.venv/bin/mutmut show NAME`` shows one. ``--fresh`` forgets this
module's earlier results (mutmut otherwise retests only functions that changed; delete mutants/ to start
over). ``--max-children N`` runs at most N mutants at once (mutmut's own option; its default is one per core:
keep it low on a machine others share). Exits 1 below ``GOAL``.
"""

from __future__ import annotations

import argparse
import json
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
    "splitting": "cartloader.engine.splitting",
    "matching": "cartloader.engine.matching",
    "chunker": "cartloader.engine.chunker",
    "format": "cartloader.outcomes.format",
    "log": "cartloader.outcomes.log",
    "resume": "cartloader.outcomes.resume",
    "pacing": "cartloader.budget.pacing",
    "values": "cartloader.values",
    "local": "cartloader.budget.local",
    "places": "cartloader.budget.places",
    "shared": "cartloader.budget.shared",
    "script": "cartloader.budget.script",
    "submissions": "cartloader.api.submissions",
    "linking": "cartloader.engine.linking",
    "pipeline": "cartloader.engine.pipeline",
    "readings": "cartloader.engine.readings",
}

#: Mutants that cannot change what the code does: name -> (a piece of the mutated line, the reason). A mutant is
#: left out of the score only while its mutated line still holds that piece (mutmut numbers mutants in order,
#: so a change to the function renumbers them; a name that no longer fits is scored and reported).
EQUIVALENT: dict[str, tuple[str, str]] = {
    # chunker.py: no unique value to keep apart is told by the list's truth, and "" is as false as None.
    "cartloader.engine.chunker.xǁChunkerǁfeed__mutmut_4": (
        '| None = ""',
        "values is only tested for truth (no values), where an empty string and None agree",
    ),
    # delivery.py
    "cartloader.engine.delivery.xǁSenderǁ_deliver__mutmut_14": (
        "first = None",
        "first is only passed on as log_pending, which is only tested for truth: None and False agree",
    ),
    "cartloader.engine.delivery.xǁSenderǁ_exchange__mutmut_14": (
        "send(None, self._url",
        "Requester.send never reads its method: it POSTs a request with a body (and GETs one without)",
    ),
    "cartloader.engine.delivery.xǁSenderǁ_exchange__mutmut_24": (
        'send("XXPOSTXX"',
        "Requester.send never reads its method: it POSTs a request with a body (and GETs one without)",
    ),
    "cartloader.engine.delivery.xǁSenderǁ_exchange__mutmut_25": (
        'send("post"',
        "Requester.send never reads its method: it POSTs a request with a body (and GETs one without)",
    ),
    "cartloader.engine.delivery.xǁSenderǁ_accept__mutmut_7": (
        "if (answer.errors) or True else {}",
        "the index is read only while going through answer.errors: built for an answer without errors, it is "
        "never read",
    ),
    "cartloader.engine.delivery.xǁSenderǁ__init____mutmut_31": (
        "rng and random.Random()",
        "the one caller (CartLoader) always passes its own unseeded random.Random, so the mutant swaps one unseeded "
        "generator for another: the same distribution of backoff waits, no value anyone can know in advance",
    ),
    "cartloader.engine.delivery.xǁSenderǁ_link__mutmut_28": (
        "strict=None",
        "Linker.link gives back one entry per upserted record (for k in range(len(upserted))): same length",
    ),
    "cartloader.engine.delivery.xǁSenderǁ_link__mutmut_31": (
        "zip(upserted, problems, )",
        "Linker.link gives back one entry per upserted record (for k in range(len(upserted))): same length",
    ),
    "cartloader.engine.delivery.xǁSenderǁ_link__mutmut_32": (
        "strict=False",
        "Linker.link gives back one entry per upserted record (for k in range(len(upserted))): same length",
    ),
    # matching.py (the stored-form matcher of issue 24): caches that fall back to the computation, shortcuts that
    # give what the full path gives, zip(strict=...) over two tuples of one length.
    "cartloader.engine.matching.x_match_results__mutmut_19": (
        "if rest or open_inputs:",
        "the next step, given no result or no open input, matches nothing and hands back what it got",
    ),
    "cartloader.engine.matching.x_match_results__mutmut_37": (
        "if rest or open_inputs:",
        "_match_by_values given no result or no open input pairs nothing and hands back the results in their order; "
        "the re-pairing after it is still guarded by rest and open_inputs",
    ),
    "cartloader.engine.matching.x__kind__mutmut_6": (
        "(None, True)",
        "multi_select is read only together with kind == 'enumeration' (values.agreement, stored_form): for an "
        "unknown property (kind None) True and False agree",
    ),
    "cartloader.engine.matching.x__mixed__mutmut_1": (
        "len(members) < 2 and not any(",
        "the early return is a shortcut: one member leaves nothing to compare with the first, and members without "
        "associations all have the key b'[]': the comparison below gives False as well",
    ),
    "cartloader.engine.matching.x_compatibility__mutmut_20": (
        "if found <= level:",
        "when found equals level (never NONE: the loop has returned then) level is set to what it already is",
    ),
    "cartloader.engine.matching.x__sent__mutmut_8": (
        "order = None",
        "the per-answer cache of sorted names misses: the names are sorted and their getter built again, the same",
    ),
    "cartloader.engine.matching.x__sent__mutmut_9": (
        "orders.get(None)",
        "the per-answer cache of sorted names misses: the names are sorted and their getter built again, the same",
    ),
    "cartloader.engine.matching.x__augment__mutmut_16": (
        "strict=None",
        "names and texts come from one Sent, always of one length",
    ),
    "cartloader.engine.matching.x__augment__mutmut_19": (
        "zip(names, texts, )",
        "names and texts come from one Sent, always of one length",
    ),
    "cartloader.engine.matching.x__augment__mutmut_20": (
        "strict=False",
        "names and texts come from one Sent, always of one length",
    ),
    # readings.py (the matcher's per-answer readings): caches and fast paths that fall back to the computation.
    "cartloader.engine.readings.x_lookup__mutmut_1": (
        "raw = None",
        "the fast lookup is skipped (TypeError caught): the name-by-name reading finds the same inputs, and None for a"
        " missing name as the KeyError gave",
    ),
    "cartloader.engine.readings.x_lookup__mutmut_3": (
        "found = None",
        "the verbatim lookup is skipped: the trimmed lookup finds the same (trimmed texts are keys)",
    ),
    "cartloader.engine.readings.x_lookup__mutmut_4": (
        "by_texts.get(None)",
        "the verbatim lookup is skipped: the trimmed lookup finds the same (trimmed texts are keys)",
    ),
    "cartloader.engine.readings.x_lookup__mutmut_5": (
        "and False else",
        "the verbatim lookup is skipped: the trimmed lookup finds the same (trimmed texts are keys)",
    ),
    "cartloader.engine.readings.x_lookup__mutmut_10": (
        "by_texts.get(_NOTHING)",
        "a list is unhashable: TypeError, caught: the name-by-name reading trims the same texts",
    ),
    "cartloader.engine.readings.x_lookup__mutmut_12": (
        "tuple(None)",
        "raises TypeError, caught: the name-by-name reading trims the same texts",
    ),
    "cartloader.engine.readings.x_lookup__mutmut_13": (
        "map(None, raw)",
        "raises TypeError, caught: the name-by-name reading trims the same texts",
    ),
    "cartloader.engine.readings.x_lookup__mutmut_14": (
        "map(str.strip, None)",
        "raises TypeError, caught: the name-by-name reading trims the same texts",
    ),
    "cartloader.engine.readings.x_lookup__mutmut_15": (
        "map(raw)",
        "raises TypeError, caught: the name-by-name reading trims the same texts",
    ),
    "cartloader.engine.readings.x_lookup__mutmut_16": (
        "map(str.strip, )",
        "raises TypeError, caught: the name-by-name reading trims the same texts",
    ),
    "cartloader.engine.readings.xǁReadingsǁ_check__mutmut_7": (
        "and False else None",
        "no datetime's echo text is kept: the echo is parsed and compared as an instant instead, the same level",
    ),
    "cartloader.engine.readings.xǁReadingsǁ_layout__mutmut_1": (
        "layout = None",
        "the layout cache misses: the layout is worked out again, the same",
    ),
    "cartloader.engine.readings.xǁReadingsǁ_layout__mutmut_2": (
        "self._layouts.get(None)",
        "the layout cache misses: the layout is worked out again, the same",
    ),
    "cartloader.engine.readings.xǁReadingsǁ_layout__mutmut_11": (
        "(None, True)",
        "a property missing from the schema takes the first branch (kind None) whatever its multi flag",
    ),
    "cartloader.engine.readings.xǁReadingsǁ_layout__mutmut_14": (
        "(None, True, None)",
        "a plain value of unknown type is then also compared by shape in _augment: it is neither a number nor a "
        "datetime, so it agrees by shape only with its own text, as the lookup has it",
    ),
    "cartloader.engine.readings.xǁReadingsǁ_layout__mutmut_21": (
        "(False, True, parse_multi_select)",
        "the unknown-type flag is read only for plain positions",
    ),
    "cartloader.engine.readings.xǁReadingsǁ_layout__mutmut_25": (
        "(False, True, _PARSERS[kind])",
        "the unknown-type flag is read only for plain positions",
    ),
    "cartloader.engine.readings.xǁReadingsǁlevel__mutmut_6": (
        "and False else echo_text(value)",
        "skips the fast path for strings: echo_text gives a string back unchanged",
    ),
    "cartloader.engine.readings.xǁReadingsǁlevel__mutmut_8": (
        "type(None) is str",
        "skips the fast path for strings: echo_text gives a string back unchanged",
    ),
    "cartloader.engine.readings.xǁReadingsǁlevel__mutmut_30": (
        "cache.get(None, _UNREAD)",
        "the parse cache misses: the echo is parsed again, the same",
    ),
    "cartloader.engine.readings.xǁReadingsǁof__mutmut_1": (
        "known = None",
        "the per-input cache misses: the input is read again, the same",
    ),
    "cartloader.engine.readings.xǁReadingsǁof__mutmut_2": (
        "self._of.get(None)",
        "the per-input cache misses: the input is read again, the same",
    ),
    "cartloader.engine.readings.xǁReadingsǁof__mutmut_7": (
        "plan = None",
        "the plan cache misses: the plan is built again, the same",
    ),
    "cartloader.engine.readings.xǁReadingsǁof__mutmut_8": (
        "self._plans.get(None)",
        "the plan cache misses: the plan is built again, the same",
    ),
    "cartloader.engine.readings.xǁReadingsǁof__mutmut_9": (
        "plan is None or None not in",
        "a plan is built also for names of unknown type: their values are all compared (parser None), and a text that "
        "is neither a number nor a datetime agrees by shape only with itself, as the lookup has it",
    ),
    "cartloader.engine.readings.xǁReadingsǁof__mutmut_10": (
        "plan is not None and None not in",
        "no plan is ever built: every input is read value by value, the same readings",
    ),
    "cartloader.engine.readings.xǁReadingsǁof__mutmut_11": (
        "plan is None and None in",
        "plans only for names of unknown type (compared, agreeing as looked up: see of__mutmut_9), the others read "
        "value by value: the same readings",
    ),
    "cartloader.engine.readings.xǁReadingsǁof__mutmut_12": (
        "self._plans[names] = None",
        "no plan: the input is read value by value, the same readings",
    ),
    "cartloader.engine.readings.xǁReadingsǁof__mutmut_16": (
        "strict=None",
        "the layout is built from the names: one length",
    ),
    "cartloader.engine.readings.xǁReadingsǁof__mutmut_19": (
        "zip(names, layout, )",
        "the layout is built from the names: one length",
    ),
    "cartloader.engine.readings.xǁReadingsǁof__mutmut_20": (
        "strict=False",
        "the layout is built from the names: one length",
    ),
    "cartloader.engine.readings.xǁReadingsǁof__mutmut_26": (
        "strict=None",
        "the layout is built from the names: one length",
    ),
    "cartloader.engine.readings.xǁReadingsǁof__mutmut_29": (
        "zip(names, layout, )",
        "the layout is built from the names: one length",
    ),
    "cartloader.engine.readings.xǁReadingsǁof__mutmut_30": (
        "strict=False",
        "the layout is built from the names: one length",
    ),
    "cartloader.engine.readings.xǁReadingsǁof__mutmut_55": (
        "strict=None",
        "names and texts come from one Sent and the layout from the names: one length",
    ),
    "cartloader.engine.readings.xǁReadingsǁof__mutmut_59": (
        "zip(names, texts, layout, )",
        "names and texts come from one Sent and the layout from the names: one length",
    ),
    "cartloader.engine.readings.xǁReadingsǁof__mutmut_60": (
        "strict=False",
        "names and texts come from one Sent and the layout from the names: one length",
    ),
    "cartloader.engine.readings.xǁReadingsǁof__mutmut_62": (
        "plain = None",
        "a value of unknown type is then always compared (parser None): a text that is neither a number nor a datetime"
        " agrees by shape only with itself, as the lookup has it",
    ),
    "cartloader.engine.readings.xǁReadingsǁof__mutmut_63": (
        "not in _NUMERIC and (",
        "a text starting otherwise than a number or a datetime is then parsed too: neither, it is plain as before; one"
        " starting so is compared, and agrees by shape only with itself",
    ),
    # pacing.py
    "cartloader.budget.pacing.x_smoothed_others__mutmut_1": (
        "if measured > previous:",
        "when the two are equal both branches give the measured value",
    ),
    # failures.py
    "cartloader.hubspot.failures.x_classify__mutmut_11": (
        "answer.retry_after_s or 1.0",
        "no Retry-After read as 1 s instead of 0 s: either is far below the 300 s that stops the run",
    ),
    "cartloader.hubspot.failures.x_rule_for_status__mutmut_10": (
        "status <= 500",
        "500 is in the table, so it never reaches this line",
    ),
    "cartloader.hubspot.failures.x_rule_for_status__mutmut_11": (
        "status < 501",
        "500 is in the table, so it never reaches this line",
    ),
    # protocol.py: exact-type fast paths, and calls on values that give the same result
    "cartloader.hubspot.protocol.x__parse_errors__mutmut_31": (
        "(raw_context) or True",
        "_context of an empty or missing context is {}, as the else branch gives",
    ),
    "cartloader.hubspot.protocol.x__parse_results__mutmut_9": (
        "type(item) is not dict or not isinstance(item, dict)",
        "orjson builds plain dicts, for which both tests agree",
    ),
    "cartloader.hubspot.protocol.x__parse_results__mutmut_10": (
        "type(None) is not dict",
        "skips the exact-type fast path; the isinstance test decides the same",
    ),
    "cartloader.hubspot.protocol.x__parse_results__mutmut_33": (
        "type(properties) is not dict or not isinstance(properties, dict)",
        "orjson builds plain dicts, for which both tests agree",
    ),
    "cartloader.hubspot.protocol.x__parse_results__mutmut_34": (
        "type(None) is not dict",
        "skips the exact-type fast path; the isinstance test decides the same",
    ),
    # resume.py
    "cartloader.outcomes.resume.x_scan_log__mutmut_16": (
        "(tail) or True",
        "an empty tail joined to the block is the block",
    ),
    "cartloader.outcomes.resume.x_scan_log__mutmut_25": (
        "if cut == 1:",
        "a block whose only line end is its first byte is carried over and read with the next one: same index, "
        "same end",
    ),
    "cartloader.outcomes.resume.x_scan_log__mutmut_59": (
        "read_entry_head(tail, None)",
        "the log line number of a torn last line is only used in an error that is caught (the line is cut)",
    ),
    "cartloader.outcomes.resume.x_scan_log__mutmut_62": (
        "log_line - 1",
        "the log line number of a torn last line is only used in an error that is caught (the line is cut)",
    ),
    "cartloader.outcomes.resume.x_scan_log__mutmut_63": (
        "log_line + 2",
        "the log line number of a torn last line is only used in an error that is caught (the line is cut)",
    ),
    # log.py
    "cartloader.outcomes.log.x__replace_with_backup__mutmut_20": (
        'open(path, "ab", )',
        "the buffer size changes how often the file is written before flush(), never what it holds after",
    ),
    "cartloader.outcomes.log.xǁOutcomeLogǁopen__mutmut_26": (
        'open(path, "ab", )',
        "the buffer size changes how often the file is written before flush(), never what it holds after",
    ),
}

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


def _still_fits(name: str) -> bool:
    """Whether the mutant called ``name`` is still the change ``EQUIVALENT`` describes."""
    mutmut = Path(sys.executable).with_name("mutmut")
    shown = subprocess.run([str(mutmut), "show", name], cwd=ROOT, capture_output=True, text=True, check=False)
    piece = EQUIVALENT[name][0]
    return any(line.startswith("+") and piece in line for line in shown.stdout.splitlines())


def score(module: str) -> Score:
    """Read mutmut's results for ``module`` (its ``.meta`` file under mutants/)."""
    meta = ROOT / "mutants" / (module.replace(".", "/") + ".py.meta")
    exit_codes: dict[str, int | None] = json.loads(meta.read_text())["exit_code_by_key"]
    result = Score()
    for name, code in sorted(exit_codes.items()):
        status = _status(code)
        if name in EQUIVALENT and status not in KILLED and _still_fits(name):
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
    parser.add_argument("--fresh", action="store_true", help="forget this module's earlier mutmut results first")
    parser.add_argument("--max-children", type=int, metavar="N", help="run at most N mutants at once (mutmut's option)")
    args = parser.parse_args(argv)
    module = MODULES[args.module]
    if args.fresh:  # this module's mutants are made and tested again
        mutated = ROOT / "mutants" / module.replace(".", "/")
        for suffix in (".py", ".py.meta", ".py.spans"):
            mutated.with_name(mutated.name + suffix).unlink(missing_ok=True)
    mutmut = Path(sys.executable).with_name("mutmut")
    log = ROOT / "mutants-run.log"
    started = time.monotonic()
    with log.open("w") as output:
        children = [] if args.max_children is None else ["--max-children", str(args.max_children)]
        subprocess.run(
            [str(mutmut), "run", *children, f"{module}.*"], cwd=ROOT, stdout=output, stderr=subprocess.STDOUT
        )
    elapsed = time.monotonic() - started
    result = score(module)
    print(f"{module}: {len(result.killed)} killed / {result.counted} counted = {result.ratio:.1%} (goal {GOAL:.0%})")
    print(f"  survived {len(result.survived)}, equivalent (left out) {len(result.equivalent)}, in {elapsed:.0f} s")
    for name in result.survived:
        print(f"  survived: {name}")
    for name in result.equivalent:
        print(f"  equivalent: {name}: {EQUIVALENT[name][1]}")
    for name, status in result.other.items():
        print(f"  {status}: {name}")
    if result.other:
        print(f"  (not scored: see {log.name})")
    return 0 if result.ratio >= GOAL and not result.other else 1


if __name__ == "__main__":
    sys.exit(main())
