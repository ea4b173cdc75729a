"""cartloader.engine.refused, in process: what a refusal makes certain is remembered (a property that does not exist
or is read-only; a value named whole, for the property named, under a code that depends on the value alone), a later
record carrying it is ``invalid`` with HubSpot's code and message, and memory is bounded. (With
tests/test_refused_values.py, end to end, these are the focused tests that tests/mutation.py runs for ``refused``.)"""

from __future__ import annotations

import pytest

from cartloader.engine import refused
from cartloader.engine.refused import MAX_REMEMBERED, VALUE_CODES, RefusalMemory
from cartloader.models import CartInput, InvalidInput, PropertyProblem, RecordError

OPTION = PropertyProblem("currency", "INVALID_OPTION", "EUR X was not one of the allowed options: [EUR, USD]")
MISSING = PropertyProblem("colour", "PROPERTY_DOESNT_EXIST", 'Property "colour" does not exist')
READ_ONLY = PropertyProblem("hs_object_id", "READ_ONLY_VALUE", "hs_object_id is a read only property")


def record(line: int, raw: bytes | None = b"{}", **properties: str) -> CartInput:
    return CartInput(line, dict(properties), raw=raw)


def error(*problems: PropertyProblem) -> RecordError:
    return RecordError("VALIDATION_ERROR", "Property values were not valid", 400, problems)


def test_an_empty_memory_passes_every_record() -> None:
    memory = RefusalMemory()
    assert len(memory) == 0
    assert memory.check(record(1, currency="EUR X")) is None
    assert repr(memory) == "RefusalMemory(properties=0, values=0)"


def test_a_value_named_whole_is_refused_later_for_its_property_only() -> None:
    memory = RefusalMemory()
    memory.learn(error(OPTION), record(1, currency="EUR X", name="a"))
    assert len(memory) == 1
    assert repr(memory) == "RefusalMemory(properties=0, values=1)"
    assert memory.check(record(2, currency="EUR")) is None
    assert memory.check(record(3, other="EUR X")) is None  # the same value, another property
    found = memory.check(record(4, b'{"line": 4}', name="b", currency="EUR X"))
    assert found == InvalidInput(
        4,
        'line 4: property "currency" value "EUR X" was refused by HubSpot earlier in this run (INVALID_OPTION: '
        "EUR X was not one of the allowed options: [EUR, USD]); not sent",
        b'{"line": 4}',
        "INVALID_OPTION",
        (PropertyProblem("currency", "INVALID_OPTION", OPTION.message, "EUR X"),),
    )


def test_a_value_the_message_does_not_name_whole_is_not_remembered() -> None:
    memory = RefusalMemory()
    memory.learn(error(OPTION), record(1, currency="EUR"))  # "EUR X was not ..." does not name EUR
    assert len(memory) == 0
    assert memory.check(record(2, currency="EUR")) is None


def test_a_property_that_does_not_exist_or_is_read_only_is_refused_whatever_its_value() -> None:
    memory = RefusalMemory()
    memory.learn(error(MISSING, READ_ONLY), record(1, colour="red", hs_object_id="5"))
    assert len(memory) == 2
    assert repr(memory) == "RefusalMemory(properties=2, values=0)"
    found = memory.check(record(2, None, hs_object_id="6", colour="blue"))
    assert found is not None
    assert found.category == "READ_ONLY_VALUE"  # the first one the record carries
    assert found.raw is None
    assert found.message == (
        'line 2: property "hs_object_id" value "6" was refused by HubSpot earlier in this run (READ_ONLY_VALUE: '
        'hs_object_id is a read only property); property "colour" value "blue" was refused by HubSpot earlier in '
        'this run (PROPERTY_DOESNT_EXIST: Property "colour" does not exist); not sent'
    )
    assert found.details == (
        PropertyProblem("hs_object_id", "READ_ONLY_VALUE", READ_ONLY.message, "6"),
        PropertyProblem("colour", "PROPERTY_DOESNT_EXIST", MISSING.message, "blue"),
    )


def test_the_first_refusal_of_a_property_or_value_is_kept() -> None:
    memory = RefusalMemory()
    memory.learn(error(MISSING), record(1, colour="red"))
    memory.learn(error(PropertyProblem("colour", "READ_ONLY_VALUE", "later")), record(2, colour="red"))
    memory.learn(error(OPTION), record(3, currency="EUR X"))
    memory.learn(error(PropertyProblem("currency", "INVALID_OPTION", "EUR X was not a later message")), record(4))
    memory.learn(
        error(PropertyProblem("currency", "INVALID_OPTION", "EUR X was not a later message")),
        record(5, currency="EUR X"),
    )
    assert len(memory) == 2
    found = memory.check(record(6, colour="x", currency="EUR X"))
    assert found is not None
    assert [(p.code, p.message) for p in found.details] == [
        ("PROPERTY_DOESNT_EXIST", MISSING.message),
        ("INVALID_OPTION", OPTION.message),
    ]


def test_a_problem_for_a_property_the_record_does_not_carry_is_not_remembered() -> None:
    memory = RefusalMemory()
    memory.learn(error(MISSING, OPTION), record(1, name="a"))
    assert len(memory) == 0


@pytest.mark.parametrize("code", ["REQUIRED", "MIN_DATE", "UNKNOWN_CODE", "INVALID_OPTIONS"])
def test_a_code_whose_verdict_depends_on_more_than_the_value_is_not_remembered(code: str) -> None:
    memory = RefusalMemory()
    memory.learn(error(PropertyProblem("currency", code, "EUR X was not valid")), record(1, currency="EUR X"))
    assert len(memory) == 0


@pytest.mark.parametrize("code", sorted(VALUE_CODES))
def test_each_code_that_depends_on_the_value_alone_is_remembered(code: str) -> None:
    memory = RefusalMemory()
    memory.learn(error(PropertyProblem("p", code, "bad was not valid")), record(1, p="bad"))
    assert len(memory) == 1
    found = memory.check(record(2, p="bad"))
    assert found is not None and found.category == code


def test_the_value_codes_are_the_ones_listed() -> None:
    assert len(VALUE_CODES) == 27
    assert {"INVALID_OPTION", "INVALID_DECIMAL", "URL_BLOCKED_DOMAINS", "REGEX"} <= VALUE_CODES
    assert "REQUIRED" not in VALUE_CODES


def test_memory_stops_learning_at_its_bound(monkeypatch: pytest.MonkeyPatch) -> None:
    assert MAX_REMEMBERED == 10_000
    monkeypatch.setattr(refused, "MAX_REMEMBERED", 2)
    memory = RefusalMemory()
    for value in ("a", "b", "c"):
        memory.learn(error(PropertyProblem("p", "INVALID_OPTION", f"{value} was not an option")), record(1, p=value))
    memory.learn(error(MISSING), record(1, colour="red"))
    assert len(memory) == 2
    assert memory.check(record(2, p="b")) is not None
    assert memory.check(record(3, p="c")) is None
    assert memory.check(record(4, colour="red")) is None


def test_a_learning_at_the_bound_still_reads_the_rest_of_the_problems(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(refused, "MAX_REMEMBERED", 1)
    memory = RefusalMemory()
    # the first problem is for a property the record does not carry: skipped, the second one is still learnt
    memory.learn(error(OPTION, MISSING), record(1, colour="red"))
    assert len(memory) == 1
    assert memory.check(record(2, colour="x")) is not None


def test_a_long_value_is_shown_cut() -> None:
    memory = RefusalMemory()
    long = "x" * 70
    memory.learn(
        error(PropertyProblem("p", "VALUE_TOO_LONG", f"'{long}' is longer than 65 characters")), record(1, p=long)
    )
    found = memory.check(record(2, p=long))
    assert found is not None
    assert f'value "{"x" * 60}..." (70 characters) was refused' in found.message
    assert found.details[0].value == long
