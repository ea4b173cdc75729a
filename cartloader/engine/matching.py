"""Match HubSpot's results to the inputs that produced them (design rule 2).

HubSpot returns results in random order and does not always echo ``objectWriteTraceId``. So a
result is matched by its trace id; failing that, by a key property whose value no other input of
the request shares (the upsert key, else ``hs_external_cart_id``); failing that, by its echoed
properties after HubSpot's normalization (numbers compared by value, surrounding white space
ignored); failing that, by elimination among inputs that are indistinguishable. Never by position. Inputs with the same
properties but different associations cannot be told apart: they come back ``ambiguous``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import MAX_EMAX, MIN_EMIN, Context, Decimal, InvalidOperation
from typing import Any

import orjson

from cartloader.hubspot.protocol import ResultItem
from cartloader.models import CartInput

_NUMBER_START = frozenset("0123456789-+.")
# Matched on before whole property sets when no upsert key is given: most carts carry their shop's id, and
# where the values differ within a request, one lookup names each result's input. It is never assumed unique in
# HubSpot (nothing shows HubSpot enforcing it): a value only tells apart the inputs of one request, and only where
# no other input of that request sent it too.
EXTERNAL_ID = "hs_external_cart_id"
# A number already in canonical form (no sign but "-", no leading zero, no trailing zero in the fraction, no
# exponent), which Decimal would give back unchanged: up to 28 characters, so within Decimal's default
# precision (28 digits), where ``normalize()`` rounds nothing. Skipping Decimal for it saves ~1.5 us a value.
_CANONICAL_NUMBER = re.compile(r"-?(?:0|[1-9][0-9]*)(?:\.[0-9]*[1-9])?")
_CANONICAL_MAX_LENGTH = 28
# Exact for any number a property can hold (the default context keeps 28 digits, so two long numbers
# differing past the 28th would compare equal, and a huge exponent would raise Overflow).
_EXACT = Context(prec=400, Emax=MAX_EMAX, Emin=MIN_EMIN)
_PLAIN_EXPONENT = 400  # beyond this, the key keeps the exponent form rather than writing out the digits


def canonical_value(value: object) -> str:
    """A property value as HubSpot would store it: numbers by value, strings stripped."""
    if value is True or value is False:  # as the input side sends a bool (str() would give "True")
        return "true" if value else "false"
    text = value if isinstance(value, str) else str(value)
    text = text.strip()
    if text and text[0] in _NUMBER_START:
        if len(text) <= _CANONICAL_MAX_LENGTH and text != "-0" and _CANONICAL_NUMBER.fullmatch(text):
            return text
        try:
            number = Decimal(text)
        except InvalidOperation:
            return text
        if number.is_finite():
            if number == 0:
                return "0"
            number = number.normalize(_EXACT)
            if abs(number.adjusted()) > _PLAIN_EXPONENT:
                return str(number)
            return format(number, "f")
    return text


@dataclass(slots=True)
class Matching:
    """The result of matching one answer: ``pairs`` of (input index, result), results that match no
    input, inputs that got several candidate results (ambiguous), and inputs left without a result."""

    pairs: list[tuple[int, ResultItem]] = field(default_factory=list)
    unmatched_results: list[ResultItem] = field(default_factory=list)
    ambiguous: list[int] = field(default_factory=list)
    leftover: list[int] = field(default_factory=list)


def _signature(properties: Mapping[str, Any], names: tuple[str, ...]) -> tuple[str, ...] | None:
    signature: list[str] = []
    append = signature.append
    for name in names:
        value = properties.get(name)
        if value is None:
            return None
        # canonical_value inlined for the common case, a string that is not a number (~3x cheaper).
        if type(value) is str:
            text = value.strip()
            if not text or text[0] not in _NUMBER_START:
                append(text)
                continue
        append(canonical_value(value))
    return tuple(signature)


def match_results(
    inputs: Sequence[CartInput],
    results: Sequence[ResultItem],
    *,
    exclude: frozenset[int] = frozenset(),
    unique_property: str | None = None,
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
        key_property = unique_property or EXTERNAL_ID
        rest = _match_by_unique(inputs, rest, open_inputs, key_property, matching)
    if rest and open_inputs:
        rest = _match_by_properties(inputs, rest, open_inputs, matching)
    matching.unmatched_results = rest
    matching.leftover = sorted(open_inputs)
    return matching


def _match_by_unique(
    inputs: Sequence[CartInput],
    results: list[ResultItem],
    open_inputs: set[int],
    unique_property: str,
    matching: Matching,
) -> list[ResultItem]:
    # A value names its input only if no other open input sent it too.
    by_value: dict[str, int] = {}
    shared: set[str] = set()
    for i in open_inputs:
        value = inputs[i].properties.get(unique_property)
        if value is not None:
            key = canonical_value(value)
            if key in by_value:
                shared.add(key)
            else:
                by_value[key] = i
    for key in shared:
        del by_value[key]
    if not by_value:
        return results
    rest = []
    for result in results:
        value = result.properties.get(unique_property)
        index = by_value.pop(canonical_value(value), None) if value is not None else None
        if index is None:
            rest.append(result)
        else:
            open_inputs.discard(index)
            matching.pairs.append((index, result))
    return rest


def _match_by_properties(
    inputs: Sequence[CartInput],
    results: list[ResultItem],
    open_inputs: set[int],
    matching: Matching,
) -> list[ResultItem]:
    # Group inputs by the set of properties they sent; try the largest sets first so that a result
    # never matches an input whose properties are a subset of another input's.
    groups: dict[tuple[str, ...], dict[tuple[str, ...], list[int]]] = {}
    # Per group, each input's values as sent -> its signature: a result echoing an input's values exactly (the
    # common case) gets the signature from one lookup instead of canonicalizing every value again. The same
    # signature either way (canonicalizing is a function of the values), so the matching does not change.
    known: dict[tuple[str, ...], dict[tuple[Any, ...], tuple[str, ...]]] = {}
    sorted_names: dict[tuple[str, ...], tuple[str, ...]] = {}
    for i in sorted(open_inputs):
        properties = inputs[i].properties
        keys = tuple(properties)
        names = sorted_names.get(keys)
        if names is None:
            names = sorted_names[keys] = tuple(sorted(keys))
        signature = _signature(properties, names)
        assert signature is not None  # an input has every one of its own properties
        groups.setdefault(names, {}).setdefault(signature, []).append(i)
        known.setdefault(names, {})[tuple(map(properties.__getitem__, names))] = signature
    mixed = {
        id(members) for by_signature in groups.values() for members in by_signature.values() if _mixed(inputs, members)
    }
    ordered = sorted(groups.items(), key=lambda item: len(item[0]), reverse=True)
    ordered_known = [known[names] for names, _ in ordered]
    rest = []
    for result in results:
        echoed = result.properties
        get = echoed.get
        for (names, by_signature), signatures in zip(ordered, ordered_known, strict=True):
            try:
                found = signatures.get(tuple(map(get, names)))
            except TypeError:  # an unhashable value (a list, an object): not one an input sent
                found = None
            if found is None:
                found = _signature(echoed, names)
            candidates = by_signature.get(found) if found is not None else None
            if candidates:
                index = candidates.pop(0)
                open_inputs.discard(index)
                if id(candidates) in mixed:
                    matching.ambiguous.append(index)
                else:
                    matching.pairs.append((index, result))
                break
        else:
            rest.append(result)
    return rest


def _mixed(inputs: Sequence[CartInput], members: list[int]) -> bool:
    """True when inputs with the same properties differ in associations, so elimination would be a guess."""
    if len(members) < 2:
        return False
    first = orjson.dumps(inputs[members[0]].associations or [], option=orjson.OPT_SORT_KEYS)
    return any(orjson.dumps(inputs[i].associations or [], option=orjson.OPT_SORT_KEYS) != first for i in members[1:])
