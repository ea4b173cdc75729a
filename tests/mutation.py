"""Mutation testing of one module, scored as docs/reliability.md counts it (not a test module: run it).

    nice -n 10 .venv/bin/python -m tests.mutation MODULE [--fresh] [--max-children N]

MODULE is one of the names in ``MODULES`` (``protocol``, ``failures``, ``delivery``, ``splitting``, ``matching``,
``chunker``, ``format``, ``log``, ``resume``, ``pacing``, ``values``, ``local``, ``places``, ``shared``, ``script``,
``submissions``, ``linking``, ``pipeline``, ``url``, ``paths``, ``meta``, ``auth``, ``refusals``, ``refused``,
``sniff``, ``schema``, ``readings``). It runs ``mutmut run`` on that module's mutants
(configured in pyproject.toml, ``[tool.mutmut]``: the modules and their fast, focused tests), then reads mutmut's
results and prints the score: killed and timed-out mutants count as killed; survivors and mutants no test reaches as
survived; the mutants in ``EQUIVALENT`` (each with the reason it cannot change behaviour) are left out. The
mutant names of survivors are printed; ``.venv/bin/mutmut show NAME`` shows one. ``--fresh`` forgets this
module's earlier results (mutmut otherwise retests only functions that changed; delete mutants/ to start
over). ``--max-children N`` runs at most N mutants at once (mutmut's default: one per core); on a machine shared
with others, 1 (under ``nice``). The load average at the start and at the end is printed with the score. Exits 1
below ``GOAL``.
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
    "url": "cartloader.budget.url",
    "paths": "cartloader.cli.paths",
    "meta": "cartloader.outcomes.meta",
    "auth": "cartloader.hubspot.auth",
    "refusals": "cartloader.hubspot.refusals",
    "refused": "cartloader.engine.refused",
    "sniff": "cartloader.input.sniff",
    "schema": "cartloader.hubspot.schema",
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
