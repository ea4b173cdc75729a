"""cartloader.input.preflight, in process: what ``Preflight.check`` refuses (and with which code and message) for
each type, each reproduced validation rule and each property HubSpot lacks or keeps read-only, and what it leaves
to HubSpot. The "Edge values" table of docs/preflight.md is checked by tests/test_preflight_edges.py; these are the
rest of the edges (the focused tests that tests/mutation.py runs for ``preflight``, beside that table)."""

from __future__ import annotations

from datetime import datetime

import pytest

from cartloader.input.preflight import MAX_VALUE_CHARS, Preflight, shown_value, suggestion
from cartloader.models import CartInput, InvalidInput, PortalSchema, PropertyDefinition, PropertyProblem, ValidationRule


def preflight(
    *definitions: PropertyDefinition, rules: dict[str, tuple[ValidationRule, ...]] | None = None
) -> Preflight:
    schema = PortalSchema({definition.name: definition for definition in definitions}, rules or {})
    return Preflight(schema, sensitive_read=True)


def refused(definition: PropertyDefinition, value: str, *rules: ValidationRule) -> tuple[str, str] | None:
    """The code and the reason the preflight gives ``value`` of ``definition`` (under ``rules``), or None."""
    outcome = preflight(definition, rules={definition.name: rules}).check(CartInput(1, {definition.name: value}))
    if outcome is None:
        return None
    assert len(outcome.details) == 1
    return outcome.category, outcome.details[0].message


def rule(rule_type: str, *arguments: str, normalized: bool = False) -> ValidationRule:
    return ValidationRule(rule_type, arguments, normalized)


NUMBER = PropertyDefinition("p", "number")
STRING = PropertyDefinition("p")
BOOL = PropertyDefinition("p", "bool")
DATE = PropertyDefinition("p", "date")
DATETIME = PropertyDefinition("p", "datetime")


def select(*options: str, multiple: bool = False) -> PropertyDefinition:
    return PropertyDefinition("p", "enumeration", "checkbox" if multiple else "select", frozenset(options))


# --- shown_value ------------------------------------------------------------------------------------------------


def test_a_value_of_sixty_characters_is_shown_whole_and_json_quoted() -> None:
    assert shown_value("x" * 60) == '"' + "x" * 60 + '"'
    assert shown_value('a"b') == '"a\\"b"'


def test_a_value_past_sixty_characters_is_cut_after_sixty_with_its_length() -> None:
    assert shown_value("x" * 61) == '"' + "x" * 60 + '..." (61 characters)'
    assert shown_value("é" * 100) == '"' + "é" * 60 + '..." (100 characters)'


# --- values of a type -------------------------------------------------------------------------------------------


NOT_A_NUMBER = ("INVALID_DECIMAL", "is not a number: digits with at most one decimal point and no thousands separator")


@pytest.mark.parametrize("value", ["abc", "1.2.3", "1,000", "0x10"])
def test_a_number_property_refuses_what_is_not_a_number(value: str) -> None:
    assert refused(NUMBER, value) == NOT_A_NUMBER


@pytest.mark.parametrize("value", ["12", " 12 ", "\t-1.5e3\n", "\x01-1.5\x02", "١٢", "1٢"])
def test_a_number_property_takes_numbers_and_leaves_other_scripts_digits_to_hubspot(value: str) -> None:
    assert refused(NUMBER, value) is None


@pytest.mark.parametrize("value", ["true", "FALSE", " true\n", "\x00false\x1f"])
def test_a_bool_property_takes_true_or_false_in_any_case_trimmed(value: str) -> None:
    assert refused(BOOL, value) is None


@pytest.mark.parametrize("value", ["yes", "1", "t rue"])
def test_a_bool_property_refuses_other_words(value: str) -> None:
    assert refused(BOOL, value) == ("INVALID_BOOLEAN", "is not a boolean: true or false")


@pytest.mark.parametrize(
    "value",
    [
        "2024-01-31",
        " 2024-01-31 ",
        "\x002024-01-31\x7f\x1b",
        "0",
        "86400000",
        "-86400000",
        "0000-02-29",  # year 0 is leap, like 2000, to Java's LocalDate
        "2024-01-31T10:00",  # a date with a time after it: HubSpot decides
        "2024-1-31",  # another way of writing a date: HubSpot decides
        "2024-W05",
        "2024-x1-01",
        "2024-01-x1",
    ],
)
def test_a_date_property_takes_real_days_and_leaves_other_date_forms_to_hubspot(value: str) -> None:
    assert refused(DATE, value) is None


@pytest.mark.parametrize(
    ("value", "why"),
    [
        ("86400001", "is not midnight UTC in milliseconds: a date property holds whole days"),
        ("1", "is not midnight UTC in milliseconds: a date property holds whole days"),
        ("-1", "is not midnight UTC in milliseconds: a date property holds whole days"),
        ("2023-02-29", "is not a real date"),
        ("0001-02-29", "is not a real date"),
        ("2024-04-31T00:00", "is not a real date"),
        ("yesterday", "is not a date: YYYY-MM-DD, or milliseconds at midnight UTC"),
        ("2024/01/31", "is not a date: YYYY-MM-DD, or milliseconds at midnight UTC"),
        ("2024x01x31", "is not a date: YYYY-MM-DD, or milliseconds at midnight UTC"),
        ("202a-01-31", "is not a date: YYYY-MM-DD, or milliseconds at midnight UTC"),
        ("٢٠٢٤-01-31", "is not a date: YYYY-MM-DD, or milliseconds at midnight UTC"),
        ("20240131", "is not midnight UTC in milliseconds: a date property holds whole days"),
    ],
)
def test_a_date_property_refuses_what_is_no_day(value: str, why: str) -> None:
    assert refused(DATE, value) == ("INVALID_DATE", why)


@pytest.mark.parametrize(
    "value",
    [
        "2024-01-31T10:00:00Z",
        " 2024-01-31T10:00:00+01:00 ",
        "-1",
        "1706695200000",
        "2024-01-31",
        "2024-01-31 x",
        "2024",
        "\x01" + "2024-01-31T10:00:00Z",
        "2024\u00e9",
        "2024-W05-1",
        "2024-01-x1T10:00",
    ],
)
def test_a_datetime_property_takes_iso_8601_or_milliseconds_and_leaves_other_forms_to_hubspot(value: str) -> None:
    assert refused(DATETIME, value) is None


@pytest.mark.parametrize(
    ("value", "why"),
    [
        ("2023-02-29T10:00:00Z", "does not start with a real date"),
        ("2023-02-29", "does not start with a real date"),
        ("tomorrow", "is not a datetime: ISO 8601, or milliseconds since the epoch"),
        ("٢٠٢٤-01-31T10:00:00Z", "is not a datetime: ISO 8601, or milliseconds since the epoch"),
        ("12/03/2024 10:00", "is not a datetime: ISO 8601, or milliseconds since the epoch"),
    ],
)
def test_a_datetime_property_refuses_what_starts_with_no_day(value: str, why: str) -> None:
    assert refused(DATETIME, value) == ("INVALID_DATETIME", why)


def test_a_single_select_refuses_a_value_that_is_no_option_listing_the_options() -> None:
    assert refused(select("EUR", "USD"), "GBP") == ("INVALID_OPTION", "is not one of the options: EUR, USD")


def test_a_single_select_takes_an_option_trimmed_and_never_splits_on_semicolons() -> None:
    assert refused(select("EUR", "USD"), "\tUSD ") is None
    assert refused(select("EUR", "USD"), "\x01USD") is None
    assert refused(select("EUR", "USD"), "EUR;USD") == ("INVALID_OPTION", "is not one of the options: EUR, USD")


def test_the_options_shown_are_the_first_ten_sorted_then_an_ellipsis() -> None:
    eleven = select(*(f"o{n:02}" for n in range(11)))
    shown = ", ".join(f"o{n:02}" for n in range(10))
    assert refused(eleven, "x") == ("INVALID_OPTION", f"is not one of the options: {shown}, ...")
    ten = select(*(f"o{n:02}" for n in range(10)))
    assert refused(ten, "x") == ("INVALID_OPTION", f"is not one of the options: {shown}")


def test_a_multi_select_names_the_part_that_is_no_option() -> None:
    colours = select("red", "blue", multiple=True)
    assert refused(colours, "red;green;pink") == (
        "INVALID_OPTION",
        'has "green", which is not one of the options: blue, red',
    )


@pytest.mark.parametrize("value", ["red;blue", "red; blue ", ";red;;", "red;\t", " red", "\x01red;\x1bblue"])
def test_a_multi_select_takes_options_joined_with_semicolons_empty_parts_and_spaces_left_to_hubspot(
    value: str,
) -> None:
    assert refused(select("red", "blue", multiple=True), value) is None


def test_a_multi_select_option_with_spaces_in_its_value_matches_as_written() -> None:
    assert refused(select(" red ", "blue", multiple=True), " red ;blue") is None


def test_a_multi_select_leaves_each_piece_of_an_option_holding_a_semicolon_to_hubspot() -> None:
    options = select("a; b", "c", multiple=True)
    assert refused(options, "b;a") is None
    assert refused(options, "b ;c") is None
    assert refused(options, "a; b") is None
    assert refused(options, "a;d") == ("INVALID_OPTION", 'has "d", which is not one of the options: a; b, c')


def test_an_enumeration_with_external_options_or_none_listed_takes_any_value() -> None:
    owners = PropertyDefinition("p", "enumeration", "select", frozenset({"1"}), external_options=True)
    assert refused(owners, "42") is None
    assert refused(PropertyDefinition("p", "enumeration", "select"), "42") is None


@pytest.mark.parametrize("kind", ["string", "phonenumber", "object_coordinates", "json"])
def test_a_property_of_another_type_takes_any_value(kind: str) -> None:
    assert refused(PropertyDefinition("p", kind), "anything at all; 1,2 yes") is None


# --- validation rules -------------------------------------------------------------------------------------------


def test_min_length_refuses_fewer_utf16_units_than_the_minimum() -> None:
    assert refused(STRING, "abcd", rule("MIN_LENGTH", "5")) == (
        "MIN_LENGTH",
        "is shorter than 5 characters, a validation rule's minimum",
    )
    assert refused(STRING, "abcde", rule("MIN_LENGTH", "5")) is None
    assert refused(STRING, "\uffff", rule("MIN_LENGTH", "2"))  # one unit: U+FFFF is not astral
    assert refused(STRING, "😀", rule("MIN_LENGTH", "3"))  # two units
    assert refused(STRING, "a😀", rule("MIN_LENGTH", "3")) is None  # three units
    assert refused(STRING, "😀😀", rule("MIN_LENGTH", "4")) is None  # four units
    assert refused(STRING, "\U00010000", rule("MIN_LENGTH", "2")) is None  # the first astral one: two units


def test_max_length_refuses_only_what_is_longer_however_counted() -> None:
    assert refused(STRING, "abcdef", rule("MAX_LENGTH", "5")) == (
        "MAX_LENGTH",
        "is longer than 5 characters, a validation rule's maximum",
    )
    assert refused(STRING, "abcde", rule("MAX_LENGTH", "5")) is None
    assert refused(STRING, "\u3000abc\u3000", rule("MAX_LENGTH", "3")) is None  # ideographic spaces trimmed
    assert refused(STRING, "abc!", rule("MAX_LENGTH", "3"))  # "!" is never trimmed
    assert refused(STRING, "ée\u0301", rule("MAX_LENGTH", "2")) is None  # three code points, two composed
    assert refused(STRING, "ééé", rule("MAX_LENGTH", "2"))  # composed already: three either way
    assert refused(STRING, "e\u0301e\u0301e\u0301", rule("MAX_LENGTH", "2"))  # three once composed


@pytest.mark.parametrize("argument", ["5.0", "-1", "x", ""])
def test_a_length_rule_whose_argument_is_not_a_whole_number_is_left_to_hubspot(argument: str) -> None:
    assert refused(STRING, "", rule("MIN_LENGTH", argument)) is None
    assert refused(STRING, "a", rule("MIN_LENGTH", argument)) is None
    assert refused(STRING, "abcdefghijk", rule("MAX_LENGTH", argument)) is None


def test_a_length_rule_with_no_argument_or_two_is_left_to_hubspot() -> None:
    assert refused(STRING, "a", rule("MIN_LENGTH")) is None
    assert refused(STRING, "a", rule("MIN_LENGTH", "5", "6")) is None
    assert refused(STRING, "abcdefghijk", rule("MAX_LENGTH", "5", "6")) is None


def test_a_length_rule_argument_with_spaces_around_its_digits_is_read() -> None:
    assert refused(STRING, "abc", rule("MAX_LENGTH", " 2 ")) == (
        "MAX_LENGTH",
        "is longer than 2 characters, a validation rule's maximum",
    )


def test_min_and_max_number_refuse_beyond_the_bound_and_take_the_bound_itself() -> None:
    minimum = rule("MIN_NUMBER", "-2.5")
    assert refused(NUMBER, "-2.6", minimum) == ("MIN_NUMBER", "is less than -2.5, a validation rule's minimum")
    assert refused(NUMBER, " -2.50 ", minimum) is None
    assert refused(NUMBER, "1e9", minimum) is None
    maximum = rule("MAX_NUMBER", "1e2")
    assert refused(NUMBER, "100.01", maximum) == ("MAX_NUMBER", "is greater than 1e2, a validation rule's maximum")
    assert refused(NUMBER, "100", maximum) is None
    assert refused(NUMBER, "-1e9", maximum) is None
    assert refused(NUMBER, "\x01100.01\x02", maximum) == (
        "MAX_NUMBER",
        "is greater than 1e2, a validation rule's maximum",
    )


def test_a_number_rule_without_one_numeric_argument_is_left_to_hubspot() -> None:
    assert refused(NUMBER, "5", rule("MAX_NUMBER")) is None
    assert refused(NUMBER, "5", rule("MAX_NUMBER", "1", "2")) is None
    assert refused(NUMBER, "5", rule("MAX_NUMBER", "one")) is None


def test_a_value_that_is_no_number_is_refused_as_such_never_by_a_number_rule() -> None:
    assert refused(NUMBER, "x", rule("MAX_NUMBER", "1")) == NOT_A_NUMBER
    assert refused(NUMBER, "١٢", rule("MAX_NUMBER", "1")) is None


def test_the_type_check_comes_first_and_its_refusal_is_the_one_given() -> None:
    assert refused(NUMBER, "abc", rule("MIN_LENGTH", "5")) == NOT_A_NUMBER


def test_the_first_rule_that_refuses_is_the_one_given() -> None:
    rules = (rule("MAX_LENGTH", "2"), rule("MIN_LENGTH", "9"))
    assert refused(STRING, "abcd", *rules) == ("MAX_LENGTH", "is longer than 2 characters, a validation rule's maximum")


@pytest.mark.parametrize("value", ["abc", "ABC12", "Zoë_9", "a b", "١٢", ""])
def test_an_alphanumeric_rule_takes_letters_digits_underscores_and_spaces(value: str) -> None:
    assert refused(STRING, value, rule("ALPHANUMERIC", "ALPHANUMERIC")) is None


def test_an_alphanumeric_rule_refuses_punctuation_naming_the_character() -> None:
    assert refused(STRING, "ab-c", rule("ALPHANUMERIC", "ALPHANUMERIC")) == (
        "ALPHANUMERIC",
        'has "-", and a validation rule allows only letters and digits',
    )


def test_an_alpha_only_rule_refuses_a_digit_or_an_underscore() -> None:
    why = 'has "1", and a validation rule allows only letters'
    assert refused(STRING, "ab1", rule("ALPHANUMERIC", "ALPHA_ONLY")) == ("ALPHANUMERIC", why)
    assert refused(STRING, "a_b", rule("ALPHANUMERIC", "ALPHA_ONLY"))
    assert refused(STRING, "Zoë Ab", rule("ALPHANUMERIC", "ALPHA_ONLY")) is None


def test_a_numeric_only_rule_takes_what_a_number_may_hold_and_refuses_letters() -> None:
    assert refused(STRING, "+1,234.5e-6 E7", rule("ALPHANUMERIC", "NUMERIC_ONLY")) is None
    assert refused(STRING, "12x", rule("ALPHANUMERIC", "NUMERIC_ONLY")) == (
        "ALPHANUMERIC",
        'has "x", and a validation rule allows only digits',
    )
    assert refused(STRING, "12X", rule("ALPHANUMERIC", "NUMERIC_ONLY"))
    assert refused(STRING, "1_2", rule("ALPHANUMERIC", "NUMERIC_ONLY"))


@pytest.mark.parametrize("arguments", [(), ("LETTERS",), ("ALPHA_ONLY", "NUMERIC_ONLY")])
def test_a_character_rule_of_an_unknown_mode_is_left_to_hubspot(arguments: tuple[str, ...]) -> None:
    assert refused(STRING, "!?", rule("ALPHANUMERIC", *arguments)) is None


def test_a_number_rule_on_a_property_that_is_not_a_number_is_left_to_hubspot() -> None:
    assert refused(STRING, "100", rule("MAX_NUMBER", "1")) is None
    assert refused(STRING, "-100", rule("MIN_NUMBER", "1")) is None


def test_the_rules_after_a_number_rule_left_to_hubspot_still_apply() -> None:
    rules = (rule("MAX_NUMBER", "1"), rule("MAX_LENGTH", "2"))
    assert refused(STRING, "100", *rules) == ("MAX_LENGTH", "is longer than 2 characters, a validation rule's maximum")


def test_a_rule_hubspot_applies_after_normalizing_is_left_to_hubspot() -> None:
    assert refused(STRING, "abcdef", rule("MAX_LENGTH", "2", normalized=True)) is None
    assert refused(NUMBER, "100", rule("MAX_NUMBER", "1", normalized=True)) is None


def test_a_rule_type_the_preflight_does_not_reproduce_is_left_to_hubspot() -> None:
    assert refused(STRING, "not an e-mail", rule("EMAIL")) is None
    assert refused(STRING, "x", rule("REGEX", "[0-9]+")) is None


# --- properties and the whole record ----------------------------------------------------------------------------


def test_an_empty_value_clears_the_property_and_passes_every_value_check() -> None:
    assert refused(NUMBER, "", rule("MIN_LENGTH", "3")) is None
    assert refused(select("a"), "") is None


def test_the_properties_after_an_empty_value_are_still_checked() -> None:
    outcome = preflight(NUMBER, PropertyDefinition("q", "bool")).check(CartInput(1, {"p": "", "q": "no"}))
    assert outcome is not None
    assert [problem.property for problem in outcome.details] == ["q"]


def test_a_value_of_the_longest_length_is_taken_and_one_more_character_is_too_long() -> None:
    assert refused(STRING, "x" * MAX_VALUE_CHARS) is None
    assert refused(STRING, "x" * (MAX_VALUE_CHARS + 1)) == ("VALUE_TOO_LONG", "is longer than 65,536 characters")
    assert refused(STRING, "\x01" + "x" * MAX_VALUE_CHARS) is None  # 65,536 once trimmed
    assert refused(NUMBER, "1" * (MAX_VALUE_CHARS + 1)) == ("VALUE_TOO_LONG", "is longer than 65,536 characters")


def test_a_read_only_property_is_refused_whatever_its_value_even_empty() -> None:
    read_only = PropertyDefinition("p", "number", read_only=True)
    assert refused(read_only, "") == ("READ_ONLY_VALUE", "is read-only: HubSpot sets it")
    assert refused(read_only, "12", rule("MAX_NUMBER", "1")) == ("READ_ONLY_VALUE", "is read-only: HubSpot sets it")


def test_a_property_the_portal_lacks_is_refused_with_a_did_you_mean() -> None:
    checker = Preflight(PortalSchema({"hs_cart_name": STRING}), "deals", sensitive_read=True)
    outcome = checker.check(CartInput(3, {"hs_cart_nam": ""}, raw=b"{}"))
    assert outcome == InvalidInput(
        3,
        'line 3: property "hs_cart_nam" (value "") does not exist on deals; did you mean "hs_cart_name"? '
        "(PROPERTY_DOESNT_EXIST)",
        b"{}",
        "PROPERTY_DOESNT_EXIST",
        (
            PropertyProblem(
                "hs_cart_nam", "PROPERTY_DOESNT_EXIST", 'does not exist on deals; did you mean "hs_cart_name"?', ""
            ),
        ),
    )


def test_a_property_the_portal_lacks_is_refused_on_carts_by_default_without_a_hint_when_none_is_close() -> None:
    outcome = Preflight(PortalSchema({"hs_cart_name": STRING})).check(CartInput(1, {"zzz": "1"}))
    assert outcome is not None
    assert outcome.details == (PropertyProblem("zzz", "PROPERTY_DOESNT_EXIST", "does not exist on carts", "1"),)


def test_a_property_in_no_list_is_left_to_hubspot_when_a_sensitive_list_was_refused() -> None:
    checker = Preflight(PortalSchema({"a": NUMBER}), sensitive_read=True, unlisted_allowed=True)
    assert checker.check(CartInput(1, {"secret": "x"})) is None
    outcome = checker.check(CartInput(1, {"secret": "x", "a": "y"}))
    assert outcome is not None
    assert [problem.property for problem in outcome.details] == ["a"]


def test_a_python_datetime_for_a_date_property_is_refused_and_for_a_datetime_property_is_not() -> None:
    checker = preflight(PropertyDefinition("day", "date"), PropertyDefinition("at", "datetime"), STRING)
    moment = datetime(2024, 1, 31).isoformat()
    outcome = checker.check(CartInput(1, {"day": moment, "at": moment, "p": moment}, datetimes=("day", "at", "p")))
    assert outcome is not None
    assert outcome.details == (
        PropertyProblem(
            "day",
            "INVALID_DATE",
            "is a datetime (a Python datetime with a time), and the property is a date: send the day you mean "
            "(value.date() in its zone, or a date)",
            moment,
        ),
    )
    assert checker.check(CartInput(1, {"day": "2024-01-31"}, datetimes=("at",))) is None


def test_a_python_datetime_is_refused_for_a_date_property_even_at_midnight_and_under_rules() -> None:
    checker = preflight(DATE, rules={"p": (rule("MAX_LENGTH", "1"),)})
    outcome = checker.check(CartInput(1, {"p": "1706659200000"}, datetimes=("p",)))
    assert outcome is not None
    assert outcome.category == "INVALID_DATE"


def test_a_refusal_names_every_refused_property_in_order_with_each_code_once() -> None:
    checker = preflight(NUMBER, PropertyDefinition("q", "bool"), PropertyDefinition("r", "number", read_only=True))
    record = CartInput(7, {"p": "x", "ok": "1", "q": "no", "r": "1", "s": "y" * 1001}, raw=b"raw")
    checker = Preflight(
        PortalSchema({**checker.schema.definitions, "ok": STRING, "s": PropertyDefinition("s", "number")}),
        sensitive_read=True,
    )
    outcome = checker.check(record)
    assert outcome is not None
    assert outcome.line == 7
    assert outcome.raw == b"raw"
    assert outcome.category == "INVALID_DECIMAL"
    assert outcome.message == (
        'line 7: property "p" value "x" ' + NOT_A_NUMBER[1] + '; property "q" value "no" is not a boolean: true or '
        'false; property "r" (value "1") is read-only: HubSpot sets it; property "s" value '
        + shown_value("y" * 1001)
        + " "
        + NOT_A_NUMBER[1]
        + " (INVALID_DECIMAL, INVALID_BOOLEAN, READ_ONLY_VALUE)"
    )
    assert [(problem.property, problem.code, problem.value) for problem in outcome.details] == [
        ("p", "INVALID_DECIMAL", "x"),
        ("q", "INVALID_BOOLEAN", "no"),
        ("r", "READ_ONLY_VALUE", "1"),
        ("s", "INVALID_DECIMAL", None),  # longer than 1,000 characters: left out of the details
    ]


def test_a_value_of_a_thousand_characters_is_kept_in_the_details() -> None:
    outcome = preflight(NUMBER).check(CartInput(1, {"p": "y" * 1000}))
    assert outcome is not None
    assert outcome.details[0].value == "y" * 1000


def test_a_record_nothing_refuses_is_none() -> None:
    options = PropertyDefinition("o", "enumeration", "select", frozenset({"a", "b"}))
    checker = preflight(NUMBER, options, PropertyDefinition("q", "bool"))
    assert checker.check(CartInput(1, {"p": "1", "o": "b", "q": "true"})) is None
    assert checker.check(CartInput(1, {})) is None


def test_unlisted_names_the_properties_no_list_has_and_needs_sensitive_waits_only_before_they_are_read() -> None:
    schema = PortalSchema({"a": STRING})
    record = CartInput(1, {"a": "1", "b": "2", "c": "3"})
    before = Preflight(schema)
    assert before.unlisted(record) == ["b", "c"]
    assert before.needs_sensitive(record) is True
    assert before.needs_sensitive(CartInput(1, {"a": "1"})) is False
    after = Preflight(schema, sensitive_read=True)
    assert after.needs_sensitive(record) is False
    assert after.sensitive_read is True
    assert after.unlisted_allowed is False
    assert after.schema is schema


def test_the_repr_counts_properties_and_rules() -> None:
    schema = PortalSchema({"a": STRING, "b": NUMBER}, {"a": (rule("MAX_LENGTH", "1"),)})
    assert repr(Preflight(schema)) == "Preflight(properties=2, rules=1)"


# --- suggestion -------------------------------------------------------------------------------------------------


def test_a_suggestion_names_up_to_three_close_names_then_close_labels() -> None:
    definitions = {
        name: PropertyDefinition(name, label=label)
        for name, label in [
            ("amount_1", ""),
            ("amount_2", ""),
            ("amount_3", ""),
            ("amount_4", ""),
            ("hs_x", "Amount"),
        ]
    }
    assert suggestion("amount_", PortalSchema(definitions)) == '; did you mean "amount_4" or "amount_3" or "amount_2"?'
    assert suggestion("AMOUNT", PortalSchema(definitions)) == '; did you mean "hs_x"?'
    assert suggestion("zebra", PortalSchema(definitions)) == ""


def test_a_suggestion_by_label_names_the_first_property_with_that_label_once() -> None:
    definitions = {
        "p1": PropertyDefinition("p1", label="Name"),
        "p2": PropertyDefinition("p2", label="name"),
        "p3": PropertyDefinition("p3", label="Cart name"),
        "p4": PropertyDefinition("p4"),
        "cart_total": PropertyDefinition("cart_total", label="Cart total"),
        "cart_name": PropertyDefinition("cart_name"),
    }
    assert suggestion("NAME", PortalSchema(definitions)) == '; did you mean "p1"?'
    assert suggestion("cart name", PortalSchema(definitions)) == '; did you mean "cart_name" or "p3"?'
    assert suggestion("cart_total", PortalSchema(definitions)) == '; did you mean "cart_total"?'


def test_a_suggestion_needs_a_close_enough_name() -> None:
    definitions = {"abcdefghij": PropertyDefinition("abcdefghij")}
    assert suggestion("abcdefgxyz", PortalSchema(definitions)) == '; did you mean "abcdefghij"?'  # ratio 0.7
    assert suggestion("abcdefwxyz", PortalSchema(definitions)) == ""  # ratio 0.6
    labelled = {"p9": PropertyDefinition("p9", label="ABCDEFGHIJ")}
    assert suggestion("abcdefgxyz", PortalSchema(labelled)) == '; did you mean "p9"?'
    assert suggestion("abcdefwxyz", PortalSchema(labelled)) == ""
