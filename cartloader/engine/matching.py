"""Match HubSpot's results to the inputs that produced them (design rule 2).

HubSpot returns results in random order, does not always echo ``objectWriteTraceId``, and echoes what it *stored*
rather than what it was sent (:mod:`cartloader.values`: numbers by value, datetimes in ISO UTC, ``""`` left out). So
a result is matched by its trace id; failing that, it pairs only with an input it is *compatible* with: every
value the input sent (``""`` or blank aside: absent from the answer, no constraint) agrees with the result's echo,
by the property's type from the portal's schema (``kinds``). Properties HubSpot adds are ignored. The level of a
pair is its weakest value's: exact (the same trimmed text) beats typed (one stored form) beats shape (type unknown:
both numbers of one value, or both one instant). Never by position, never by count: a result compatible with no
input is left unmatched (never given to a leftover input).

Three passes, each cheap for what it sees: trace ids (a dict lookup); results echoing an input's values exactly
(one dict lookup per group of inputs sending the same property names); the rest compared value by value with the
inputs that agree on every plain text value (a lookup, then a few comparisons). When inputs and results are
still left on both sides, an augmenting search re-pairs them so that as many inputs as possible get a compatible
result. Inputs that an answer cannot tell apart but that are not interchangeable (equal values, different
associations) come back ``ambiguous``; the chunker keeps them out of one request (see ``answer_key``).
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import orjson

from cartloader.engine.readings import Check, Readings, Sent, echo_text, getter, lookup, strip_blank
from cartloader.engine.readings import Kinds as Kinds
from cartloader.hubspot.protocol import ResultItem
from cartloader.models import CartInput, PortalSchema
from cartloader.values import Agreement, absent, agreement, parse_datetime, parse_number, stored_key

#: A property's type and whether it is a multi-select, by property name (from the portal's schema).
_NO_KINDS: Kinds = {}
#: Stands for any number or datetime of a property whose type is unknown, in ``answer_key``.
_SHAPED = ("shaped",)


def property_kinds(schema: PortalSchema) -> dict[str, tuple[str, bool]]:
    """Each property's type and whether it is a multi-select (an enumeration shown as checkboxes)."""
    return {
        name: (d.type, d.type == "enumeration" and d.field_type == "checkbox") for name, d in schema.definitions.items()
    }


@dataclass(slots=True)
class Matching:
    """The result of matching one answer: ``pairs`` of (input index, result), results that match no
    input, inputs that got a result they cannot be told apart from other inputs by (ambiguous), and inputs left
    without a result."""

    pairs: list[tuple[int, ResultItem]] = field(default_factory=list)
    unmatched_results: list[ResultItem] = field(default_factory=list)
    ambiguous: list[int] = field(default_factory=list)
    leftover: list[int] = field(default_factory=list)


def _kind(kinds: Kinds, name: str) -> tuple[str | None, bool]:
    found = kinds.get(name)
    return found if found is not None else (None, False)


def _shaped(text: str) -> bool:
    """Whether ``text`` of a property of unknown type reads as a number or a datetime (it may then agree with
    another form by shape, so it is not told apart by its text)."""
    return parse_number(text) is not None or parse_datetime(text) is not None


def compatibility(record: CartInput, echoed: Mapping[str, Any], kinds: Kinds = _NO_KINDS) -> Agreement:
    """How well a result echoing ``echoed`` agrees with every value ``record`` sent (its weakest value's level);
    ``Agreement.NONE``: incompatible. A value sent blank is no constraint; properties only the echo has are
    ignored."""
    level = Agreement.EXACT
    for name, sent in record.properties.items():
        if absent(sent):
            continue
        kind, multi = _kind(kinds, name)
        found = agreement(sent, echo_text(echoed.get(name)), kind, multi_select=multi)
        if found < level:
            if found is Agreement.NONE:
                return found
            level = found
    return level


def answer_key(record: CartInput, kinds: Kinds = _NO_KINDS) -> tuple[Hashable, ...]:
    """A key equal for any two inputs whose results an answer may not tell apart: their values equal under the
    strictest reading of their types (type unknown: the trimmed text), blank values left out, and (coarser, so
    safe) any number or datetime of unknown type standing for all others. Two inputs with equal keys and
    different associations never share a request (the chunker)."""
    key: list[Hashable] = []
    for name in sorted(record.properties):
        text = record.properties[name]
        if absent(text):
            continue
        kind, multi = _kind(kinds, name)
        if kind is None and _shaped(text):
            key.append((name, _SHAPED))
        else:
            key.append((name, stored_key(text, kind, multi_select=multi)))
    return tuple(key)


def associations_key(record: CartInput) -> bytes:
    """The record's associations in one comparable form (key order ignored)."""
    return orjson.dumps(record.associations or [], option=orjson.OPT_SORT_KEYS)


def match_results(
    inputs: Sequence[CartInput],
    results: Sequence[ResultItem],
    *,
    exclude: frozenset[int] = frozenset(),
    kinds: Kinds = _NO_KINDS,
) -> Matching:
    """Match ``results`` to ``inputs`` (indices in ``exclude`` already have an outcome, e.g. an error)."""
    matching = Matching()
    open_inputs = set(range(len(inputs))) - exclude
    by_key = {inputs[i].key: i for i in open_inputs}
    rest: list[ResultItem] = []
    for result in results:
        index = by_key.get(result.trace_id) if result.trace_id is not None else None
        if index is not None and index in open_inputs:
            open_inputs.discard(index)
            matching.pairs.append((index, result))
        else:
            rest.append(result)
    if rest and open_inputs:
        traced = len(matching.pairs)
        sent = _sent(inputs, open_inputs)
        rest = _match_exactly(inputs, rest, open_inputs, matching, sent)
        if rest and open_inputs:
            readings = Readings(kinds, sent)
            rest = _match_by_values(rest, open_inputs, matching, readings)
            if rest and open_inputs:
                rest = _augment(rest, open_inputs, matching, readings, traced)
    matching.unmatched_results = rest
    matching.leftover = sorted(open_inputs)
    return matching


def proves_not_created(matching: Matching, unnamed_errors: int) -> bool:
    """Whether an answer proves that its leftover inputs were not created: one error naming no input for each of
    them, and no result it could not place (design rule 2; else they may exist: never resent unflagged)."""
    return unnamed_errors == len(matching.leftover) and not matching.unmatched_results


def _sent(inputs: Sequence[CartInput], open_inputs: set[int]) -> dict[int, Sent]:
    """Each open input's values that an answer shows (blank ones left out): their names sorted, and their trimmed
    texts, in line order."""
    sent = {}
    orders: dict[tuple[str, ...], tuple[tuple[str, ...], Callable[[Mapping[str, Any]], tuple[Any, ...]]]] = {}
    strip = str.strip
    for i in sorted(open_inputs):
        properties = inputs[i].properties
        keys = tuple(properties)
        order = orders.get(keys)
        if order is None:
            names = tuple(sorted(keys))
            order = orders[keys] = (names, getter(names))
        names, read = order
        texts = tuple(map(strip, read(properties)))
        if "" in texts:  # blank values: no constraint, left out
            names, texts = strip_blank(names, texts)
        sent[i] = (names, texts)
    return sent


def _match_exactly(
    inputs: Sequence[CartInput],
    results: list[ResultItem],
    open_inputs: set[int],
    matching: Matching,
    sent: Mapping[int, Sent],
) -> list[ResultItem]:
    """Pair results that echo an input's sent values as sent (trimmed). Larger sets of names first, so a result
    goes to the input it shows most of: a result showing every name of a set but not the values of any input
    sending it is left to ``_match_by_values`` (it may agree in another form), never given to an input sending
    fewer. Inputs equal in every value take such results in line order."""
    groups: dict[tuple[str, ...], dict[tuple[str, ...], list[int]]] = {}
    for i, (names, texts) in sent.items():  # in line order
        groups.setdefault(names, {}).setdefault(texts, []).append(i)
    mixed = {
        id(members) for by_signature in groups.values() for members in by_signature.values() if _mixed(inputs, members)
    }
    ordered = [
        (names, getter(names), by_signature)
        for names, by_signature in sorted(groups.items(), key=lambda item: len(item[0]), reverse=True)
    ]
    pairs, ambiguous = matching.pairs, matching.ambiguous
    rest = []
    for result in results:
        echoed = result.properties
        for names, read, by_signature in ordered:
            candidates = lookup(by_signature, echoed, names, read)
            if candidates is None:
                continue  # it leaves out a value these inputs sent: none of them
            if not candidates:
                rest.append(result)  # it may agree with one of them in another form: compared value by value
                break
            index = candidates.pop(0)
            open_inputs.discard(index)
            if id(candidates) in mixed:
                ambiguous.append(index)
            else:
                pairs.append((index, result))
            break
        else:
            rest.append(result)
    return rest


def _match_by_values(
    results: list[ResultItem], open_inputs: set[int], matching: Matching, readings: Readings
) -> list[ResultItem]:
    """Pair the results echoing stored forms (typed), or another form of a value of unknown type (shape): each
    result is compared with the inputs that sent the same plain texts it shows; the input sending most values
    first (the one the result shows most of), then the best level, then line order."""
    blocks: dict[tuple[str, ...], dict[tuple[str, ...], list[int]]] = {}
    for i in sorted(open_inputs):
        names, texts = readings.of(i)[0]
        blocks.setdefault(names, {}).setdefault(texts, []).append(i)
    edges: list[tuple[int, int, int, int]] = []  # (-values sent, -level, input, result)
    for r, result in enumerate(results):
        echoed = result.properties
        for names, by_texts in blocks.items():
            for i in lookup(by_texts, echoed, names, getter(names)) or ():
                level = readings.level(echoed, readings.of(i)[1])
                if level:
                    edges.append((-len(readings.sent[i][0]), -level, i, r))
    edges.sort()
    taken: set[int] = set()
    for _, _, i, r in edges:
        if i in open_inputs and r not in taken:
            open_inputs.discard(i)
            taken.add(r)
            matching.pairs.append((i, results[r]))
    return [result for r, result in enumerate(results) if r not in taken]


def _augment(
    results: list[ResultItem], open_inputs: set[int], matching: Matching, readings: Readings, traced: int
) -> list[ResultItem]:
    """Inputs and results are left on both sides: re-pair the pairs made by values (never those by trace id)
    along augmenting paths, so that as many inputs as possible get a compatible result (an irregular answer
    only). Each result is compared with the inputs sending the plain texts it shows."""
    paired = matching.pairs[traced:]
    del matching.pairs[traced:]
    pool = [result for _, result in paired] + results
    owner: dict[int, int] = {r: i for r, (i, _) in enumerate(paired)}  # result -> input
    candidates = sorted(open_inputs | {i for i, _ in paired})
    blocks: dict[tuple[str, ...], dict[tuple[str, ...], list[int]]] = {}
    compared: dict[int, list[Check]] = {}
    for i in candidates:
        (names, texts), checks, loose = readings.of(i)
        if loose:  # a value of a type this module does not know may agree by shape: compared, not looked up
            kept = [(name, text) for name, text in zip(names, texts, strict=True) if name not in {v[0] for v in loose}]
            names, texts = tuple(name for name, _ in kept), tuple(text for _, text in kept)
        blocks.setdefault(names, {}).setdefault(texts, []).append(i)
        compared[i] = checks + loose
    compatible: dict[int, list[int]] = {i: [] for i in candidates}
    for r, result in enumerate(pool):
        echoed = result.properties
        for names, by_texts in blocks.items():
            for i in lookup(by_texts, echoed, names, getter(names)) or ():
                if readings.level(echoed, compared[i]):
                    compatible[i].append(r)

    def place(i: int, seen: set[int]) -> bool:
        for r in compatible[i]:
            if r in seen:
                continue
            seen.add(r)
            holder = owner.get(r)
            if holder is None or place(holder, seen):
                owner[r] = i
                return True
        return False

    for i in sorted(open_inputs):
        place(i, set())
    for r, i in sorted(owner.items(), key=lambda item: item[1]):
        open_inputs.discard(i)
        matching.pairs.append((i, pool[r]))
    return [result for r, result in enumerate(pool) if r not in owner]


def _mixed(inputs: Sequence[CartInput], members: list[int]) -> bool:
    """True when inputs with the same properties differ in associations, so elimination would be a guess."""
    if len(members) < 2 or not any(inputs[i].associations for i in members):
        return False  # none has associations: all alike
    first = associations_key(inputs[members[0]])
    return any(associations_key(inputs[i]) != first for i in members[1:])
