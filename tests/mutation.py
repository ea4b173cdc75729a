"""Mutation testing of one module, scored as docs/reliability.md counts it (not a test module: run it).

    nice -n 10 .venv/bin/python -m tests.mutation MODULE [--fresh] [--max-children N]

MODULE is one of the names in ``MODULES`` (``protocol``, ``failures``, ``delivery``, ``splitting``, ``matching``,
``chunker``, ``format``, ``log``, ``resume``, ``pacing``, ``values``, ``local``, ``places``, ``shared``, ``script``,
``submissions``, ``linking``, ``pipeline``, ``url``, ``paths``, ``meta``, ``auth``, ``refusals``, ``refused``,
``sniff``, ``schema``, ``readings``, ``associations``, ``preflight``, ``csv``, ``concurrency``). It runs ``mutmut
run`` on that module's mutants (configured in pyproject.toml, ``[tool.mutmut]``: the modules and their fast, focused
tests), then reads mutmut's results and prints the score: killed and timed-out mutants count as killed; survivors
and mutants no test reaches as survived; the mutants in ``EQUIVALENT`` (each with the reason it cannot change
behaviour) are left out. The mutant names of survivors are printed; ``.venv/bin/mutmut show NAME`` shows one.
``--fresh`` forgets this module's earlier results (mutmut otherwise retests only functions that changed; delete
mutants/ to start over). ``--max-children N`` runs at most N mutants at once (mutmut's default: one per core); on a
machine shared with others, 1 (under ``nice``). The load average at the start and at the end is printed with the
score. Exits 1 below ``GOAL``.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
GOAL = 0.90  # issue 25: every module in the mutation set at 90 % or more

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
    "preflight": "cartloader.input.preflight",
    "csv": "cartloader.input.csv",
    "url": "cartloader.budget.url",
    "paths": "cartloader.cli.paths",
    "meta": "cartloader.outcomes.meta",
    "auth": "cartloader.hubspot.auth",
    "refusals": "cartloader.hubspot.refusals",
    "refused": "cartloader.engine.refused",
    "sniff": "cartloader.input.sniff",
    "schema": "cartloader.hubspot.schema",
    "associations": "cartloader.hubspot.associations",
    "concurrency": "cartloader.engine.concurrency",
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
    # values.py
    "cartloader.values.x_canonical_number__mutmut_2": (
        "len(text) < _PLAIN_DIGITS",
        "a canonical number of exactly 400 characters takes the exact Decimal path, which gives it back unchanged "
        "(its point lies within 400 digits: plain form)",
    ),
    "cartloader.values.x_parse_datetime__mutmut_11": (
        "if (rest) or True else None",
        "_ISO_TIME starts with a required [Tt ]: it never matches the empty rest, so time is None either way",
    ),
    "cartloader.values.x_parse_datetime__mutmut_24": (
        "int(offset_m or 1) > 59",
        "no offset minutes read as 1 instead of 0: neither is above 59",
    ),
    "cartloader.values.x_parse_datetime__mutmut_34": (
        "int(offset_h or 1)",
        "the offset's hours are required by _ISO_TIME whenever its sign is there (the only way here): never None",
    ),
    "cartloader.values.x_format_number__mutmut_19": (
        'lstrip("XX0XX")',
        "str.lstrip takes a set of characters: the digits of a Decimal hold no X, so only the zeros go, as before",
    ),
    "cartloader.values.x_format_number__mutmut_25": (
        'rstrip("XX0XX")',
        "str.rstrip takes a set of characters: the digits of a Decimal hold no X, so only the zeros go, as before",
    ),
    "cartloader.values.x_agreement__mutmut_14": (
        '("XXstringXX", "enumeration")',
        "a string then takes the typed path, where its stored form is its trimmed text: equal trimmed texts were "
        "already EXACT above, so the typed comparison gives NONE, as the string branch does",
    ),
    "cartloader.values.x_agreement__mutmut_15": (
        '("STRING", "enumeration")',
        "a string then takes the typed path, where its stored form is its trimmed text: equal trimmed texts were "
        "already EXACT above, so the typed comparison gives NONE, as the string branch does",
    ),
    "cartloader.values.x_agreement__mutmut_16": (
        '("string", "XXenumerationXX")',
        "a single-select enumeration then takes the typed path, where its stored form is its trimmed text: equal "
        "trimmed texts were already EXACT above, so it gives NONE, as its own branch does (multi-select: same path)",
    ),
    "cartloader.values.x_agreement__mutmut_17": (
        '("string", "ENUMERATION")',
        "a single-select enumeration then takes the typed path, where its stored form is its trimmed text: equal "
        "trimmed texts were already EXACT above, so it gives NONE, as its own branch does (multi-select: same path)",
    ),
    "cartloader.values.x_echo_form__mutmut_2": (
        'dates: DateEcho = "XXisoXX"',
        'dates is only passed to format_day, which tests it for "epoch-ms" alone: any other value is the ISO form',
    ),
    "cartloader.values.x_echo_form__mutmut_3": (
        'dates: DateEcho = "ISO"',
        'dates is only passed to format_day, which tests it for "epoch-ms" alone: any other value is the ISO form',
    ),
    "cartloader.values.x_format_day__mutmut_1": (
        'dates: DateEcho = "XXisoXX"',
        'dates is only tested for "epoch-ms": any other value gives the ISO form',
    ),
    "cartloader.values.x_parse_datetime__mutmut_58": (
        "int(offset_h or 1)",
        "the pattern's sign is always followed by two hour digits: offset_h is never empty where it is read",
    ),
    "cartloader.values.x_parse_datetime__mutmut_66": (
        "int(offset_m or 1) > 59",
        "no minutes read as 0 or as 1 is not over 59 either way: the test only refuses minutes over 59",
    ),
    "cartloader.values.x_format_day__mutmut_2": (
        'dates: DateEcho = "ISO"',
        'dates is only tested for "epoch-ms": any other value gives the ISO form',
    ),
    # budget/url.py: quote()'s safe characters
    "cartloader.budget.url.xǁBudgetUrlǁscrub__mutmut_9": (
        'quote(decoded, safe="XXXX")',
        'X is an unreserved character, which quote() never encodes: safe="XXXX" encodes what safe="" does',
    ),
    "cartloader.budget.url.xǁBudgetUrlǁscrub__mutmut_13": (
        "quote(self.password, )",
        'the default safe="/" differs from safe="" only for a "/", and a parsed password never holds a raw one '
        "(the authority ends at the first /; a password holding one leaves a stray @ and is refused)",
    ),
    "cartloader.budget.url.xǁBudgetUrlǁscrub__mutmut_14": (
        'quote(self.password, safe="XXXX")',
        'X is an unreserved character, which quote() never encodes: safe="XXXX" encodes what safe="" does',
    ),
    "cartloader.budget.url.x_mask_password__mutmut_5": (
        'if not sep and "@" not in rest:',
        "without :// the rest is empty (no @), so text without a URL still returns at once; a URL without @ goes "
        "on to find no stray @ and no @ in its authority, and is returned unchanged there",
    ),
    # outcomes/meta.py
    "cartloader.outcomes.meta.xǁRunMetaǁread__mutmut_4": (
        "open(meta_path, )",
        "text mode hands orjson a str where binary mode hands it bytes: the same document where the locale's "
        "encoding is UTF-8 (as here and in CI; Python coerces the C locale to UTF-8), undecodable bytes giving "
        "None either way (UnicodeDecodeError and JSONDecodeError are both ValueErrors); only a non-UTF-8 locale "
        "and a non-ASCII path in the file would tell them apart",
    ),
    # hubspot/refusals.py: placeholders for a missing message, and a default written out
    "cartloader.hubspot.refusals.x_attribute__mutmut_6": (
        'answer.message or "XXXX"',
        'a 409 without a message: existing_id finds no "Existing ID" in "XXXX" as in "", so nobody is named',
    ),
    "cartloader.hubspot.refusals.x_bad_values__mutmut_4": (
        'message or "XXXX"',
        'a missing message: "XXXX" holds no "Property values were not valid: " list, as "" does not',
    ),
    "cartloader.hubspot.refusals.x_bad_values__mutmut_26": (
        'else "", ))',
        "BadValue's value defaults to None: leaving the None out builds the same BadValue",
    ),
    # input/sniff.py: codec names are case-insensitive; csv.reader always yields one row for one line
    "cartloader.input.sniff.x_check_head__mutmut_33": (
        'encode("UTF-8")',
        "codec names are looked up case-insensitively: UTF-8 is utf-8",
    ),
    "cartloader.input.sniff.x_check_head__mutmut_50": (
        'decode("UTF-8", "replace")',
        "codec names are looked up case-insensitively: UTF-8 is utf-8",
    ),
    "cartloader.input.sniff.x_sniff_delimiter__mutmut_4": (
        "strict=False), None)",
        "csv.reader over a one-element list always yields a row (an empty line gives []): next's default is never used",
    ),
    "cartloader.input.sniff.x_sniff_delimiter__mutmut_6": (
        "strict=False), )",
        "csv.reader over a one-element list always yields a row (an empty line gives []): next never raises "
        "StopIteration",
    ),
    "cartloader.input.sniff.x_sniff_delimiter__mutmut_9": (
        "strict=None",
        "the csv module reads strict for its truth: None is False",
    ),
    "cartloader.input.sniff.x_sniff_delimiter__mutmut_12": (
        "delimiter=delimiter, ), [])",
        "strict defaults to False in the csv module: leaving it out is strict=False",
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
    # matching.py and readings.py (the stored-form matcher)
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
    # engine/linking.py: the method and api_path are never read on the way, and a 403's message names no URL
    "cartloader.engine.linking.xǁLinkerǁ__init____mutmut_4": (
        "Endpoint(config.base_url, None,",
        "the Linker only builds associations URLs (Endpoint.associations_base), which never read api_path",
    ),
    "cartloader.engine.linking.xǁLinkerǁ_send__mutmut_5": (
        "call(self._requester, None, url",
        "Requester.send never reads its method: it POSTs a request with a body (and GETs one without)",
    ),
    "cartloader.engine.linking.xǁLinkerǁ_send__mutmut_18": (
        'call(self._requester, "XXPOSTXX", url',
        "Requester.send never reads its method: it POSTs a request with a body (and GETs one without)",
    ),
    "cartloader.engine.linking.xǁLinkerǁ_send__mutmut_19": (
        'call(self._requester, "post", url',
        "Requester.send never reads its method: it POSTs a request with a body (and GETs one without)",
    ),
    "cartloader.engine.linking.xǁLinkerǁ_send__mutmut_28": (
        "fatal_error(answer, what=None)",
        "fatal_error reads what only for a 404 (its message names the URL); this branch raises for a 403 alone",
    ),
    # hubspot/associations.py: orjson refuses None and b"" alike, with the JSONDecodeError that is caught
    "cartloader.hubspot.associations.x_written_pairs__mutmut_3": (
        "orjson.loads(body) if (body) or True else None",
        'orjson.loads(None) and orjson.loads(b"") raise orjson.JSONDecodeError, caught: no pairs, as data None gives',
    ),
    "cartloader.hubspot.associations.x_read_labels__mutmut_3": (
        "orjson.loads(body) if (body) or True else None",
        'orjson.loads(None) and orjson.loads(b"") raise orjson.JSONDecodeError, caught: None, as data None gives',
    ),
    # input/preflight.py
    "cartloader.input.preflight.x__date__mutmut_26": (
        "text[:5].isascii() and text[:4].isdigit()",
        'the branch also needs text[4:5] == "-": text[:5] is text[:4] and that "-", ASCII as text[:4] is or is not',
    ),
    "cartloader.input.preflight.x__length_rule__mutmut_12": (
        "len(value) >= limit and _fewest_chars(value) > limit",
        "_fewest_chars(value) is at most len(value) (it trims and keeps the shorter of the text and its NFC form): at "
        "len(value) == limit it is not above the limit, so the value passes either way",
    ),
    "cartloader.input.preflight.xǁPreflightǁcheck__mutmut_39": (
        "len(value) >= MAX_VALUE_CHARS and _fewest_chars(value) > MAX_VALUE_CHARS",
        "_fewest_chars(value) is at most len(value) (it trims and keeps the shorter of the text and its NFC form): at "
        "len(value) == MAX_VALUE_CHARS it is not above the limit, so the value passes either way",
    ),
    "cartloader.input.preflight.x_suggestion__mutmut_10": (
        "get_close_matches(name, names, cutoff=0.7)",
        "n=3 is difflib.get_close_matches's default",
    ),
    "cartloader.input.preflight.x_suggestion__mutmut_25": (
        "get_close_matches(name.casefold(), list(by_label), cutoff=0.7)",
        "n=3 is difflib.get_close_matches's default",
    ),
    "cartloader.input.preflight.x_suggestion__mutmut_12": (
        "names, n=4, cutoff=0.7",
        "only found[:3] is shown and the names come first: with four close names the first three are the same (best "
        "first), the fourth and any label appended after it are never shown",
    ),
    "cartloader.input.preflight.x_suggestion__mutmut_28": (
        "list(by_label), n=4, cutoff=0.7",
        "a fourth label is appended after the first three's properties, and found holds at least three before it "
        "(each label left out as already found stands for one of the names found first): it is never shown",
    ),
    # input/csv.py
    "cartloader.input.csv.xǁCsvLayoutǁdescribe__mutmut_10": (
        "_association(None, given).describe()",
        "ColumnAssociation.describe() gives the type id or OBJECTTYPE.PROPERTY:TYPE_ID, never the column",
    ),
    "cartloader.input.csv.xǁCsvSourceǁ__init____mutmut_15": (
        "if (first is not None) or True else",
        "sniff_delimiter(None) reads no field at any delimiter (the csv module's error for a line that is no "
        'string is caught there) and gives ",", as the else does',
    ),
    "cartloader.input.csv.xǁCsvSourceǁ__init____mutmut_34": (
        "delimiter=delimiter, strict=None)",
        "csv.reader: strict=None reads as false, as strict=False does",
    ),
    "cartloader.input.csv.xǁCsvSourceǁ__init____mutmut_37": (
        "csv.reader(lines, delimiter=delimiter, )",
        "csv.reader: strict=False is the default",
    ),
    "cartloader.input.csv.xǁCsvSourceǁ__init____mutmut_61": (
        'raw or b"XXXX"',
        "raw is the header row's bytes: never empty (the row has a non-blank cell) and never None (a line too long "
        "to read is refused as the header above)",
    ),
    "cartloader.input.csv.xǁCsvSourceǁ_convert__mutmut_6": (
        "zip(self._columns, row, strict=None)",
        "zip: strict=None reads as false, as strict=False does",
    ),
    "cartloader.input.csv.xǁCsvSourceǁ_convert__mutmut_9": (
        "zip(self._columns, row, )",
        "zip: strict=False is the default",
    ),
    "cartloader.input.csv.xǁCsvSourceǁrecord__mutmut_17": (
        '| None = ""',
        'problems is only tested for truth (if problems), where "" and None agree; a converted row sets it anew',
    ),
    "cartloader.input.csv.xǁCsvSourceǁrecord__mutmut_22": (
        "unnamed = None",
        "unnamed is only tested for truth (not unnamed, if unnamed), where None and 0 agree",
    ),
    "cartloader.input.csv.xǁCsvSourceǁrecord__mutmut_31": (
        "zip(columns, row, strict=None)",
        "zip: strict=None reads as false, as strict=False does",
    ),
    "cartloader.input.csv.xǁCsvSourceǁrecord__mutmut_34": (
        "zip(columns, row, )",
        "zip: strict=False is the default",
    ),
    "cartloader.input.csv.xǁ_Linesǁ__next____mutmut_4": (
        "readline(self._limit + 3)",
        "a line is too long when it holds more than limit + 1 bytes: reading limit + 2 or limit + 3 bytes of it "
        "first finds that alike, and the rest is skipped either way",
    ),
    "cartloader.input.csv.xǁ_Linesǁ__next____mutmut_48": (
        'decode("UTF-8")',
        "codec names are not case-sensitive",
    ),
    "cartloader.input.csv.xǁ_Linesǁ__next____mutmut_64": (
        'decode("UTF-8", "replace")',
        "codec names are not case-sensitive",
    ),
    # budget/shared.py: values never read before they are set again, and calls that change nothing
    "cartloader.budget.shared.xǁSharedBudgetǁ__init____mutmut_31": (
        "SlotAnswer(None, limit",
        "the answer before the first call is read only for its limit, participants, interval, others and burst "
        "(statistics, the first call's window): its wait never",
    ),
    "cartloader.budget.shared.xǁSharedBudgetǁ__init____mutmut_43": (
        "SlotAnswer(1.0, limit",
        "the answer before the first call is read only for its limit, participants, interval, others and burst "
        "(statistics, the first call's window): its wait never",
    ),
    "cartloader.budget.shared.xǁSharedBudgetǁ__init____mutmut_36": (
        "limit.interval_s, 0.0, None)",
        "the answer before the first call is never read for its pause (the pause shown is _paused_until's)",
    ),
    "cartloader.budget.shared.xǁSharedBudgetǁ__init____mutmut_46": (
        "limit.interval_s, 0.0, 1.0)",
        "the answer before the first call is never read for its pause (the pause shown is _paused_until's)",
    ),
    "cartloader.budget.shared.xǁSharedBudgetǁ__init____mutmut_49": (
        "self._pending_pause = 1.0",
        "a pause until 1 s after boot on the monotonic clock is long over: the first call sends no pause (max(0, "
        "...)), as for 0",
    ),
    "cartloader.budget.shared.xǁSharedBudgetǁ__init____mutmut_51": (
        "self._paused_until = 1.0",
        "a pause until 1 s after boot on the monotonic clock is long over: nothing waits for it and none is shown, as"
        " for 0",
    ),
    "cartloader.budget.shared.xǁSharedBudgetǁ__init____mutmut_54": (
        "self._next_rejoin = None",
        "read only while on the fallback, and _fall_back sets it before the fallback exists",
    ),
    "cartloader.budget.shared.xǁSharedBudgetǁ__init____mutmut_55": (
        "self._next_rejoin = 1.0",
        "read only while on the fallback, and _fall_back sets it before the fallback exists",
    ),
    "cartloader.budget.shared.xǁSharedBudgetǁ__init____mutmut_59": (
        "self._not_before = 1.0",
        "1 s after boot on the monotonic clock is long past: the first call waits for nothing (max(0, ...)), as for "
        "0, and _adopt resets it",
    ),
    "cartloader.budget.shared.xǁSharedBudgetǁ__init____mutmut_62": (
        "self._last_slot = -1000000001.0",
        "a last slot a billion seconds ago or one more: long past either way",
    ),
    "cartloader.budget.shared.xǁSharedBudgetǁ_adopt__mutmut_21": (
        "self._not_before = 1.0",
        "1 s after boot on the monotonic clock is long past: the next call waits for nothing (max(0, ...)) and "
        "_try_rejoin's max() is its own spacing, as for 0",
    ),
    "cartloader.budget.shared.xǁSharedBudgetǁ_adopt__mutmut_22": (
        "if answer.paused_s >= 0:",
        "no pause: _paused_until becomes at most now, over at once: nothing waits, none is shown, as without",
    ),
    "cartloader.budget.shared.xǁSharedBudgetǁ_local_budget__mutmut_36": (
        "margin=2.0",
        "the fallback is an even-paced RateBudget without a before-first rule, which reads its margin only in "
        "reserve(): max(1000 * (1 - margin), 2) is 2 for any margin of 0.998 or more",
    ),
    "cartloader.budget.shared.xǁSharedBudgetǁ_local_budget__mutmut_39": (
        "if remaining >= 0:",
        "a pause of 0 s holds the fallback until now: nothing waits, as without",
    ),
    "cartloader.budget.shared.xǁSharedBudgetǁ_sleep_until__mutmut_3": (
        "if wait >= 0:",
        "anyio.sleep(0) only yields to the event loop once: no wait, as without",
    ),
    # budget/script.py (tests/mutation_lua.py's Lua mutants)
    "cartloader.budget.script.lua__mutmut_42": (
        "if expected_n >= 0 then",
        "with expected_n 0 the next test, 0 > current, is never true (current is 0 or more): nothing is stored, as "
        "when skipped",
    ),
    "cartloader.budget.script.lua__mutmut_43": (
        "if expected_n > 1 then",
        "an expected count of 1 is never above the members, who include the caller: storing it or not scales nothing",
    ),
    "cartloader.budget.script.lua__mutmut_45": (
        "expected_key) or '1')",
        "a missing count read as 1 only keeps an expected count of 1 from being stored, which never scales anything "
        "(members include the caller)",
    ),
    "cartloader.budget.script.lua__mutmut_49": (
        "local expected = tonumber(redis.call('GET', expected_key) or '1')",
        "a missing count read as 1 is never above the members (they include the caller), as 0",
    ),
    "cartloader.budget.script.lua__mutmut_72": (
        "tonumber(state[8]) or 1",
        "spaced_until is missing only in the call that creates the state; created not fresh, that call has expected_n"
        " > 0, so it sets spaced_until either way; now < 1 is false as now < 0",
    ),
    "cartloader.budget.script.lua__mutmut_248": (
        "spaced_until == 1",
        "spaced_until == 0 only holds in the call that creates the state, where expected_n > 0 holds too (created not"
        " fresh): the term decides nothing, and a time of 1 us never comes",
    ),
    "cartloader.budget.script.lua__mutmut_80": (
        "tonumber(state[12]) or 1",
        "the backlog is stored with the first measured answer (with cur and prev); before that others, cur and prev "
        "are all 0: a phantom backlog of 1 leaves at once (backlog_until is 0) and sets others to max(cur, prev) = 0,"
        " as it is, and the slot sees the cleared backlog",
    ),
    "cartloader.budget.script.lua__mutmut_81": (
        "tonumber(state[13]) or 1",
        "a missing backlog_until read as 1 us instead of 0: every comparison with now comes out the same",
    ),
    "cartloader.budget.script.lua__mutmut_92": (
        "or 'XX0XX')",
        "only '1' reads as fresh: any other value is not fresh, as '0'",
    ),
    "cartloader.budget.script.lua__mutmut_97": (
        "obs_max > 1) and not answered",
        "the one caller, SharedBudget.observe, marks answered before it keeps an observation: answered_here is 1 "
        "whenever obs_max > 0",
    ),
    "cartloader.budget.script.lua__mutmut_106": (
        "if obs_win > 1 then",
        "obs_win is the advertised interval in microseconds, interval_ms * 1000: never 1",
    ),
    "cartloader.budget.script.lua__mutmut_165": (
        "'backlog', '1', 'others'",
        "written once the backlog has left (now >= backlog_until): the next call clears it again and writes the same "
        "others, max(cur, prev), which is what the burst pace estimates without a backlog; the slot sees the cleared "
        "local backlog",
    ),
    "cartloader.budget.script.lua__mutmut_166": (
        "'XXbacklogXX', '0', 'others'",
        "the backlog left keeps its old value: the next call clears it again and writes the same others (as "
        "lua__mutmut_165)",
    ),
    "cartloader.budget.script.lua__mutmut_167": (
        "'backlog', 'XX0XX', 'others'",
        "tonumber('XX0XX') is nil, read as 0: the same as '0'",
    ),
    "cartloader.budget.script.lua__mutmut_184": (
        "pause_key) or '1')",
        "no pause read as a pause until 1 us instead of 0: long over either way",
    ),
    "cartloader.budget.script.lua__mutmut_186": (
        "if pause_us >= 0 and",
        "a pause of 0 us is stored only when later than the current one, and ends now: nothing waits, nothing is "
        "shortened",
    ),
    "cartloader.budget.script.lua__mutmut_187": (
        "now + pause_us >= paused_until",
        "an equal end is written again with a key living as long: the same pause",
    ),
    "cartloader.budget.script.lua__mutmut_194": (
        "math.floor(pause_us / 1000) + 1)",
        "the key still outlives the pause (floor + 1 ms is more than the pause), and its value says when the pause "
        "ends",
    ),
    "cartloader.budget.script.lua__mutmut_196": (
        "math.ceil(pause_us / 1000) + 2)",
        "the key lives 1 ms longer, holding a pause already over",
    ),
    "cartloader.budget.script.lua__mutmut_198": (
        "if expected >= members then share",
        "equal counts give a share of 1, as without",
    ),
    "cartloader.budget.script.lua__mutmut_238": (
        "if expected >= members then interval",
        "equal counts scale the interval by 1, as without",
    ),
    "cartloader.budget.script.lua__mutmut_258": (
        "local wait, granted = 1, 0",
        "the wait of a call that takes no slot is never acted on, and the session takes off half the round trip (far "
        "above 1 us), keeping at least 0: 0 as before",
    ),
    "cartloader.budget.script.lua__mutmut_265": (
        "last_key) or '1')",
        "no last slot read as 1 us instead of 0: one interval after it is long past either way",
    ),
    "cartloader.budget.script.lua__mutmut_299": (
        "math.ceil(req)",
        "req is a whole number (the cap's count or HubSpot's advertised max)",
    ),
    "cartloader.budget.script.lua__mutmut_306": (
        "math.ceil(math.max(0, paused_until - now))",
        "both are whole microseconds: so is their difference",
    ),
    "cartloader.budget.script.lua__mutmut_28": (
        "capacity - 1, capacity + 1, 'WITHSCORES')",
        "the range starts at the same place: its first pair is still the k-th latest place, and only kth[2], its "
        "time, is read",
    ),
    "cartloader.budget.script.lua__mutmut_144": (
        "if measured > others then",
        "when they are equal both branches give the measured value (as pacing.smoothed_others's own equivalent)",
    ),
    "cartloader.budget.script.lua__mutmut_296": (
        "granted = 2",
        "the session reads granted as a truth value: 2 is as true as 1",
    ),
    "cartloader.budget.script.lua__mutmut_300": (
        "math.ceil(win)",
        "win is a whole number of microseconds (the cap's window, rounded by the session, or the advertised "
        "interval_ms * 1000)",
    ),
    # api/submissions.py
    "cartloader.api.submissions.xǁ_Ticketǁ__init____mutmut_5": (
        'Outcome | None = ""',
        "the outcome is read only once the ticket is done, and a ticket is done with its outcome set or its error "
        "set (the error is raised before the outcome is read)",
    ),
    "cartloader.api.submissions.xǁSubmissionsǁ__init____mutmut_12": (
        "self._started = None",
        "_started is only tested for its truth (start()); None is as false as False, and the started property that "
        "would hand it out is read nowhere",
    ),
    "cartloader.api.submissions.xǁSubmissionsǁ__init____mutmut_17": (
        "self.run_id = None",
        "the loader sets run_id on entering its async with block, before any submission can be made (submit() "
        "refuses a loader not entered): the default is never read",
    ),
    "cartloader.api.submissions.xǁSubmissionsǁ__init____mutmut_18": (
        'self.run_id = "XXXX"',
        "the loader sets run_id on entering its async with block, before any submission can be made (submit() "
        "refuses a loader not entered): the default is never read",
    ),
    "cartloader.api.submissions.xǁSubmissionsǁsubmit__mutmut_20": (
        "self._key(record, None, line)",
        "a CartInput comes only from a dict, and normalize takes its trace_id unchanged from that dict's "
        'objectWriteTraceId: the record\'s own .get("objectWriteTraceId") gives the same key',
    ),
    "cartloader.api.submissions.xǁSubmissionsǁserve__mutmut_19": (
        'LoaderClosedError("XXthe loader closed before this record was sentXX")',
        "after a run that ended normally no ticket is left to get it: the queue was read to its end, every record "
        "taken was settled (one outcome per record), and a caller that left removed its own ticket",
    ),
    "cartloader.api.submissions.xǁSubmissionsǁserve__mutmut_20": (
        'LoaderClosedError("THE LOADER CLOSED BEFORE THIS RECORD WAS SENT")',
        "after a run that ended normally no ticket is left to get it: the queue was read to its end, every record "
        "taken was settled (one outcome per record), and a caller that left removed its own ticket",
    ),
    "cartloader.api.submissions.xǁSubmissionsǁ_sent__mutmut_4": (
        "if ticket is not None or not ticket.sent:",
        "pending() is told each record once, before its first request (the delivery's log_pending), and only records "
        "with a ticket: a record whose caller left is withdrawn and dropped from its batch before that, and tickets "
        "are cleared by _fail_all only once the run has ended: a ticket is always there and never already sent",
    ),
    "cartloader.api.submissions.x__named__mutmut_18": (
        "if outcome.key != key and error is outcome.error:",
        "an outcome with its caller's key and its error as it is is then copied by dataclasses.replace with the same "
        "fields (equal); one with another key keeps it either way, and one without a key was refused before sending,"
        " its error always renamed (normalize, the preflight, the refusal memory, the chunker, repeats and the "
        'association types all start their messages "line N: ")',
    ),
    # budget/local.py: fields that __init__'s own _respace() sets or reads as it is, and branches that cannot differ
    "cartloader.budget.local.xǁRateBudgetǁ__init____mutmut_21": (
        "self._backlog = (0.0, +math.inf)",
        "a backlog of 0 is false: no branch reads its end, burst_others gives 0 for it either way, and the first "
        "burst answer replaces it",
    ),
    "cartloader.budget.local.xǁRateBudgetǁ__init____mutmut_32": (
        "...] = None",
        "_respace(), called at the end of __init__, sets the rules before anything reads them",
    ),
    "cartloader.budget.local.xǁRateBudgetǁ__init____mutmut_33": (
        "self._horizon_s = None",
        "_respace(), called at the end of __init__, sets the horizon before anything reads it",
    ),
    "cartloader.budget.local.xǁRateBudgetǁ__init____mutmut_34": (
        "self._horizon_s = 1.0",
        "_respace(), called at the end of __init__, sets the horizon before anything reads it",
    ),
    "cartloader.budget.local.xǁRateBudgetǁ__init____mutmut_35": (
        "self._interval = None",
        "first read by _respace() as `not self._interval`, where None is as false as 0.0 (the burst pace never "
        "reads it)",
    ),
    "cartloader.budget.local.xǁRateBudgetǁ_next__mutmut_42": (
        "target >= self._backlog[1]",
        "at target == the backlog's end the branch gives max(now, end, paused_until) == target (both are <= target)",
    ),
    "cartloader.budget.local.xǁRateBudgetǁ_next__mutmut_48": (
        "target = max(self._backlog[1], self._paused_until)",
        "the branch is reached only while now < the backlog's end (a backlog whose end is past is cleared above)",
    ),
    "cartloader.budget.local.xǁRateBudgetǁ_respace__mutmut_40": (
        "burst_capacity(cap, 0.0, )",
        "with no others (0.0) the reserve taken is min(0, reserve): 0 whatever the margin",
    ),
    # budget/places.py: a moved place is always held, and re-reading places that a faster answer did not move moves none
    "cartloader.budget.places.xǁHeldPlacesǁ_move__mutmut_7": (
        "position < len(held) or held[position] == old",
        "old is always in held: each answered slot's held_from is moved in step with its entry, and forget_before "
        "drops answers of every slot it drops (sent before the horizon) while their held entries, later, stay",
    ),
    "cartloader.budget.places.xǁHeldPlacesǁ_move__mutmut_8": (
        "position <= len(held) and",
        "old is always in held (see _move__mutmut_7), so its position is below len(held): the test never fails there",
    ),
    "cartloader.budget.places.xǁHeldPlacesǁanswered__mutmut_23": (
        "(fastest < previous) or True",
        "every answered place is held from at least its latest arrival under the fastest so far (a faster one "
        "re-reads them all), and a fastest that did not fall gives no later arrival: re-reading them all moves "
        "nothing; only the cost grows (every answer goes through all the answered places)",
    ),
    "cartloader.budget.places.xǁHeldPlacesǁanswered__mutmut_24": (
        "fastest <= previous",
        "an unchanged fastest gives every other place the arrival it already holds from: re-reading them all "
        "moves nothing (see answered__mutmut_23); only the cost grows",
    ),
    # pipeline.py
    "cartloader.engine.pipeline.xǁ_Batcherǁ__init____mutmut_9": (
        "self._generation = 1",
        "the generation is only compared for equality with itself later (the clock notes it, then compares): where it "
        "starts does not matter",
    ),
    "cartloader.engine.pipeline.xǁ_Batcherǁ__init____mutmut_10": (
        "self._opened_at = None",
        "read only by the clock after _opened is set, and every set but _stop_clock's comes after opened_at is "
        "written; after _stop_clock the clock returns on _ended before reading it",
    ),
    "cartloader.engine.pipeline.xǁ_Batcherǁ__init____mutmut_11": (
        "self._opened_at = 1.0",
        "read only by the clock after _opened is set, and every set but _stop_clock's comes after opened_at is "
        "written; after _stop_clock the clock returns on _ended before reading it",
    ),
    "cartloader.engine.pipeline.xǁ_Batcherǁ__init____mutmut_13": (
        "self._ended = None",
        "_ended is only tested for truth: None and False agree",
    ),
    "cartloader.engine.pipeline.xǁ_Batcherǁproduce__mutmut_7": (
        "read = None",
        "read is only tested as not read: None and False agree",
    ),
    "cartloader.engine.pipeline.xǁ_Batcherǁproduce__mutmut_16": (
        "read = None",
        "the schema is then asked for each record: RunSchema.current reads only when stale (as the guard would) and "
        "otherwise gives back its last preflight without awaiting, the one including_sensitive stored too",
    ),
    "cartloader.engine.pipeline.xǁ_Batcherǁproduce__mutmut_17": (
        "read = False",
        "the schema is then asked for each record: RunSchema.current reads only when stale (as the guard would) and "
        "otherwise gives back its last preflight without awaiting, the one including_sensitive stored too",
    ),
    "cartloader.engine.pipeline.xǁ_Batcherǁproduce__mutmut_57": (
        "self._generation += 2",
        "the generation is only compared for equality with the one the clock noted: counting by two keeps every "
        "batch's number distinct",
    ),
    "cartloader.engine.pipeline.xǁ_Batcherǁfeeder__mutmut_5": (
        "was_pending=None",
        "Collector.settle only tests was_pending for truth: None and False agree",
    ),
    "cartloader.engine.pipeline.xǁ_Batcherǁfeeder__mutmut_15": (
        "self._generation += 2",
        "the generation is only compared for equality with the one the clock noted: counting by two keeps every "
        "batch's number distinct",
    ),
    "cartloader.engine.pipeline.xǁ_Crewǁ__init____mutmut_8": (
        "self._ended = None",
        "_ended is only tested for truth: None and False agree",
    ),
    "cartloader.engine.pipeline.xǁ_Crewǁ__init____mutmut_11": (
        'self._group: TaskGroup | None = ""',
        "start() sets the group before anything reads it (run_pipeline calls start right after making the crew)",
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
    parser.add_argument("--max-children", type=int, help="at most this many mutants at once (default: one per core)")
    args = parser.parse_args(argv)
    module = MODULES[args.module]
    if args.module == "script":  # mutmut makes no mutant of the Lua text (module level): tests/mutation_lua.py does
        from tests.mutation_lua import score_script

        return score_script()
    if args.fresh:  # this module's mutants are made and tested again
        mutated = ROOT / "mutants" / module.replace(".", "/")
        for suffix in (".py", ".py.meta", ".py.spans"):
            mutated.with_name(mutated.name + suffix).unlink(missing_ok=True)
    mutmut = Path(sys.executable).with_name("mutmut")
    log = ROOT / "mutants-run.log"
    command = [str(mutmut), "run", f"{module}.*"]
    if args.max_children is not None:
        command[2:2] = ["--max-children", str(args.max_children)]
    load_at_start = os.getloadavg()[0]
    started = time.monotonic()
    with log.open("w") as output:
        run = subprocess.run(command, cwd=ROOT, stdout=output, stderr=subprocess.STDOUT)
    elapsed = time.monotonic() - started
    load_at_end = os.getloadavg()[0]
    if run.returncode != 0:  # e.g. a focused test failing without any mutant: nothing was scored
        print(f"{module}: mutmut run failed (exit {run.returncode}) after {elapsed:.0f} s: see {log.name}")
        return 1
    result = score(module)
    print(f"{module}: {len(result.killed)} killed / {result.counted} counted = {result.ratio:.1%} (goal {GOAL:.0%})")
    print(f"  survived {len(result.survived)}, equivalent (left out) {len(result.equivalent)}, in {elapsed:.0f} s")
    print(f"  load average (1 min) {load_at_start:.2f} at the start, {load_at_end:.2f} at the end")
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
