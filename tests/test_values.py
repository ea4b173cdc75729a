"""cartloader.values: the stored forms of property values, their echoes, comparisons and the library's formatting."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cartloader.values import (
    DAY_MS,
    Agreement,
    ValueFormError,
    absent,
    agreement,
    canonical_number,
    date_epoch_ms,
    echo_form,
    format_date,
    format_datetime,
    format_day,
    format_instant,
    format_number,
    interchangeable,
    parse_bool,
    parse_date,
    parse_datetime,
    parse_multi_select,
    parse_number,
    same_shape,
    stored_form,
    stored_key,
)

# --- the reference's examples, by hand ------------------------------------------------------------------------------

# (type, sent, echo): what HubSpot writes back for a sent value ("Answers as HubSpot writes them").
REFERENCE_ECHOES = [
    ("number", "10.50", "10.5"),
    ("datetime", "1572406217883", "2019-10-30T03:30:17.883Z"),
    ("datetime", "2019-10-30T03:30:17.883Z", "2019-10-30T03:30:17.883Z"),
    ("datetime", "2019-10-30T09:00:17.883+05:30", "2019-10-30T03:30:17.883Z"),
    ("datetime", "2019-10-30T03:30:17Z", "2019-10-30T03:30:17.000Z"),
    ("date", "2019-10-31", "2019-10-31"),
    ("date", "1572480000000", "2019-10-31"),
    ("bool", "true", "true"),
    ("bool", "FALSE", "false"),
    ("enumeration", "EUR", "EUR"),
    ("string", "  a cart  ", "a cart"),
]


@pytest.mark.parametrize(("kind", "sent", "echo"), REFERENCE_ECHOES)
def test_the_reference_examples_echo_as_hubspot_writes_them(kind: str, sent: str, echo: str) -> None:
    assert echo_form(sent, kind) == echo


def test_a_date_is_echoed_as_epoch_milliseconds_when_switched_as_in_the_v3_spec_example() -> None:
    assert echo_form("2019-10-31", "date", dates="epoch-ms") == "1572480000000"
    assert echo_form("1572480000000", "date", dates="epoch-ms") == "1572480000000"
    assert format_day(date(2019, 10, 31), "epoch-ms") == "1572480000000"
    assert format_day(date(2019, 10, 31)) == "2019-10-31"


@pytest.mark.parametrize(("kind", "sent", "echo"), REFERENCE_ECHOES)
def test_each_reference_echo_agrees_with_its_sent_value(kind: str, sent: str, echo: str) -> None:
    level = agreement(sent, echo, kind)
    assert level == (Agreement.EXACT if sent.strip() == echo else Agreement.TYPED)


# --- absent values --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("text", ["", " ", "\t\n", "\u00a0"])
def test_empty_or_white_space_is_absent_for_every_type(text: str) -> None:
    assert absent(text)
    for kind in ("string", "number", "bool", "date", "datetime", "enumeration", None):
        assert stored_form(text, kind) is None
        assert echo_form(text, kind) is None
        assert stored_key(text, kind) is None


def test_a_value_with_a_character_is_not_absent() -> None:
    assert not absent(" x ")
    assert not absent("0")


# --- numbers --------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("sent", "echo"),
    [
        ("10.50", "10.5"),
        (" 42 ", "42"),
        ("+3", "3"),
        ("007", "7"),
        ("0.5", "0.5"),
        ("1.0", "1"),
        ("5.", "5"),
        (".5", "0.5"),
        ("-.5", "-0.5"),
        ("1e3", "1000"),
        ("1E+3", "1000"),
        ("1.25E-2", "0.0125"),
        ("-0", "0"),
        ("-0.0", "0"),
        ("0e5", "0"),
        ("-12.340", "-12.34"),
        ("1500", "1500"),
        ("1.5e3", "1500"),
        ("123456789012345678901234567890.10", "123456789012345678901234567890.1"),
        ("1e399", "1" + "0" * 399),
        ("-9.5e399", "-95" + "0" * 398),
        ("1e400", "1E+400"),
        ("1e-400", "0." + "0" * 399 + "1"),
        ("1e401", "1E+401"),
        ("-1.5e500", "-1.5E+500"),
        ("1e-401", "1E-401"),
        ("12e-402", "1.2E-401"),
    ],
)
def test_numbers_echo_in_canonical_form(sent: str, echo: str) -> None:
    assert canonical_number(sent) == echo
    assert echo_form(sent, "number") == echo


@pytest.mark.parametrize(
    "text", ["ten", "1,5", "1_000", ".", "1e", "1e+", "--1", "+-1", "NaN", "Infinity", "0x10", "1 000"]
)
def test_text_that_is_not_a_number_is_refused(text: str) -> None:
    assert parse_number(text) is None
    assert canonical_number(text) is None
    with pytest.raises(ValueFormError) as raised:
        stored_form(text, "number")
    assert raised.value.code == "INVALID_DECIMAL"
    assert raised.value.kind == "number"


def test_digits_of_other_scripts_are_not_a_number() -> None:
    assert parse_number("\u0661\u0662") is None  # Arabic-Indic 12, which Decimal itself would read


def test_numbers_are_compared_by_value_without_rounding() -> None:
    assert parse_number(" 10.50 ") == Decimal("10.5")
    long_a = "1234567890123456789012345678901234567890.1"
    long_b = "1234567890123456789012345678901234567890.2"
    assert parse_number(long_a) != parse_number(long_b)
    assert canonical_number(long_a + "0") == long_a


def test_an_already_canonical_number_is_kept_as_it_is() -> None:
    for text in ("0", "7", "-7", "10.5", "-0.25", "0.001"):
        assert canonical_number(text) == text


@pytest.mark.parametrize("text", ["+1", "01", "1.50", "-0", "1e2", " 1", "1.", "00"])
def test_a_number_that_is_not_canonical_is_rewritten(text: str) -> None:
    assert canonical_number(text) != text
    assert canonical_number(text) == format_number(Decimal(text.strip()))


def test_a_canonical_number_longer_than_the_plain_limit_takes_the_exponent_form() -> None:
    digits = "1" + "0" * 400  # 401 digits: its point lies beyond 400 digits
    assert canonical_number(digits) == "1E+400"
    assert canonical_number("1" + "0" * 399) == "1" + "0" * 399


def test_format_number_refuses_what_is_not_finite() -> None:
    with pytest.raises(ValueFormError):
        format_number(Decimal("NaN"))
    with pytest.raises(ValueFormError):
        format_number(Decimal("-Infinity"))


# --- datetimes ------------------------------------------------------------------------------------------------------

EPOCH_EXAMPLE = 1572406217883  # 2019-10-30T03:30:17.883Z


@pytest.mark.parametrize(
    ("sent", "ms"),
    [
        ("1572406217883", EPOCH_EXAMPLE),
        (" 1572406217883 ", EPOCH_EXAMPLE),
        ("2019-10-30T03:30:17.883Z", EPOCH_EXAMPLE),
        ("2019-10-30t03:30:17.883z", EPOCH_EXAMPLE),
        ("2019-10-30 03:30:17.883Z", EPOCH_EXAMPLE),
        ("2019-10-30T03:30:17.883", EPOCH_EXAMPLE),  # naive: UTC (assumption)
        ("2019-10-30T03:30:17,883Z", EPOCH_EXAMPLE),
        ("2019-10-30T09:00:17.883+05:30", EPOCH_EXAMPLE),
        ("2019-10-30T09:00:17.883+0530", EPOCH_EXAMPLE),
        ("2019-10-29T22:30:17.883-05", EPOCH_EXAMPLE),
        ("2019-10-29T22:30:17.883-05:00", EPOCH_EXAMPLE),
        ("2019-10-30T03:30:17.8839Z", EPOCH_EXAMPLE),  # beyond milliseconds: cut off
        ("2019-10-30T03:30:17.883999999Z", EPOCH_EXAMPLE),
        ("2019-10-30T03:30:17.88Z", EPOCH_EXAMPLE - 3),
        ("2019-10-30T03:30:17.8Z", EPOCH_EXAMPLE - 83),
        ("2019-10-30T03:30:17Z", EPOCH_EXAMPLE - 883),
        ("2019-10-30T03:30Z", EPOCH_EXAMPLE - 17883),
        ("2019-10-30T03Z", EPOCH_EXAMPLE - 30 * 60_000 - 17883),
        ("2019-10-30", EPOCH_EXAMPLE - 3 * 3_600_000 - 30 * 60_000 - 17883),
        ("0", 0),
        ("-1", -1),
        ("-86400000", -DAY_MS),
        ("1969-12-31T23:59:59.999Z", -1),
        ("1969-12-31T23:59:59.9995Z", -1),  # cut off towards the past, before 1970 too
        ("1960-01-01T00:00:00Z", -315619200000),
        ("2024-02-29T12:00:00Z", 1709208000000),
        ("0001-01-01T00:00:00Z", -62135596800000),
        ("9999-12-31T23:59:59.999Z", 253402300799999),
    ],
)
def test_datetimes_are_read_as_instants_to_the_millisecond(sent: str, ms: int) -> None:
    assert parse_datetime(sent) == ms
    assert stored_form(sent, "datetime") == ms


@pytest.mark.parametrize(
    "text",
    [
        "yesterday",
        "2023-02-29T00:00:00Z",
        "2019-13-01T00:00:00Z",
        "2019-10-30T24:00:00Z",
        "2019-10-30T03:60:00Z",
        "2019-10-30T03:30:60Z",
        "2019-10-30T03:30:17+24:00",
        "2019-10-30T03:30:17+05:60",
        "2019-10-30T03:30:17.Z",
        "2019-10-30X03:30:17Z",
        "2019-10-30T",
        "2019-10-30Z",
        "19-10-30",
        "2019-10-30T3:30",
        "1572406217883.5",
        "+1572406217883",
        "0000-12-31T23:59:59Z",
        "0001-01-01T00:00:00+01:00",
        "-62135596800001",
        "253402300800000",
    ],
)
def test_text_that_is_not_a_datetime_is_refused(text: str) -> None:
    assert parse_datetime(text) is None
    with pytest.raises(ValueFormError) as raised:
        stored_form(text, "datetime")
    assert raised.value.code == "INVALID_DATETIME"


def test_the_first_and_last_instants_are_datetimes() -> None:
    assert parse_datetime("-62135596800000") == -62135596800000
    assert parse_datetime("253402300799999") == 253402300799999


@pytest.mark.parametrize(
    ("ms", "iso"),
    [
        (EPOCH_EXAMPLE, "2019-10-30T03:30:17.883Z"),
        (0, "1970-01-01T00:00:00.000Z"),
        (-1, "1969-12-31T23:59:59.999Z"),
        (-62135596800000, "0001-01-01T00:00:00.000Z"),
        (253402300799999, "9999-12-31T23:59:59.999Z"),
    ],
)
def test_instants_are_written_in_iso_utc_with_milliseconds(ms: int, iso: str) -> None:
    assert format_instant(ms) == iso


@pytest.mark.parametrize("ms", [-62135596800001, 253402300800000])
def test_an_instant_outside_the_years_1_to_9999_cannot_be_written(ms: int) -> None:
    with pytest.raises(ValueFormError, match="between the years 1 and 9999"):
        format_instant(ms)


# --- dates ----------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("sent", "day"),
    [
        ("2019-10-31", date(2019, 10, 31)),
        (" 2019-10-31 ", date(2019, 10, 31)),
        ("1572480000000", date(2019, 10, 31)),
        ("2024-02-29", date(2024, 2, 29)),
        ("1709164800000", date(2024, 2, 29)),
        ("0", date(1970, 1, 1)),
        ("-86400000", date(1969, 12, 31)),
        ("-315619200000", date(1960, 1, 1)),
        ("0001-01-01", date(1, 1, 1)),
        ("9999-12-31", date(9999, 12, 31)),
    ],
)
def test_dates_are_read_as_days(sent: str, day: date) -> None:
    assert parse_date(sent) == day
    assert stored_form(sent, "date") == day


@pytest.mark.parametrize(
    "text",
    [
        "2023-02-29",
        "2019-02-30",
        "2019-00-10",
        "2019-10-31T00:00:00Z",
        "31.10.2019",
        "1572480000001",
        "-1",
        "86399999",
        "2019-1-31",
        "253402387200000",  # the day after 9999-12-31
        "-62135683200000",  # the day before 0001-01-01
    ],
)
def test_text_that_is_not_a_date_is_refused(text: str) -> None:
    assert parse_date(text) is None
    with pytest.raises(ValueFormError) as raised:
        stored_form(text, "date")
    assert raised.value.code == "INVALID_DATE"


def test_date_epoch_ms_is_midnight_utc() -> None:
    assert date_epoch_ms(date(2019, 10, 31)) == 1572480000000
    assert date_epoch_ms(date(1969, 12, 31)) == -DAY_MS
    assert date_epoch_ms(date(1970, 1, 1)) == 0


# --- booleans, enumerations, strings --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "value"), [("true", True), ("TRUE", True), (" True ", True), ("false", False), ("fAlSe", False)]
)
def test_booleans_are_read_in_any_case(text: str, value: bool) -> None:
    assert parse_bool(text) is value
    assert stored_form(text, "bool") is value
    assert echo_form(text, "bool") == ("true" if value else "false")


@pytest.mark.parametrize("text", ["yes", "1", "t", "truee", "no"])
def test_other_words_are_not_booleans(text: str) -> None:
    assert parse_bool(text) is None
    with pytest.raises(ValueFormError) as raised:
        stored_form(text, "bool")
    assert raised.value.code == "INVALID_BOOLEAN"


def test_an_enumeration_is_its_option_value_exactly() -> None:
    assert stored_form(" EUR ", "enumeration") == "EUR"
    assert stored_form("a;b", "enumeration") == "a;b"  # a single select never splits
    assert stored_form("eur", "enumeration") != stored_form("EUR", "enumeration")


def test_a_multi_select_is_a_set_of_option_values() -> None:
    assert parse_multi_select(" a ; b ;;a") == frozenset({"a", "b"})
    assert stored_form("b;a", "enumeration", multi_select=True) == frozenset({"a", "b"})
    assert echo_form(" b ; a ;; b", "enumeration", multi_select=True) == "b;a"


def test_a_string_is_kept_less_surrounding_white_space() -> None:
    assert stored_form("  a  b  ", "string") == "a  b"
    assert stored_form(" 10.50 ", None) == "10.50"
    assert stored_form(" 10.50 ", "phone_number") == "10.50"  # a type without its own form: text
    assert echo_form(" 007 ", None) == "007"


def test_value_form_error_names_value_and_expected_form() -> None:
    error = ValueFormError("number", "ten")
    assert (
        str(error) == "'ten' is not a number: expected digits with at most one decimal point and an optional exponent"
    )
    assert isinstance(error, ValueError)
    assert ValueFormError("json", "x").code == "INVALID_VALUE"
    assert str(ValueFormError("json", "x")) == "'x' is not a json: expected a value"


# --- interchangeable inputs -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("first", "second", "kind", "same"),
    [
        ("10.50", "10.5", "number", True),
        ("10.50", "10.5", None, False),  # type unknown: exact trimmed text
        (" x ", "x", None, True),
        ("1572480000000", "2019-10-31", "date", True),
        ("1572480000000", "2019-10-31", None, False),
        ("2019-10-30T09:00:17.883+05:30", "1572406217883", "datetime", True),
        ("TRUE", "true", "bool", True),
        ("a;b", "b;a", "enumeration", False),
        ("ten", "ten", "number", True),  # not a number: compared as text
        ("ten", " ten", "number", True),
        ("ten", "10", "number", False),
        ("", " ", "number", True),
        ("", "0", "number", False),
        ("1", "1", "string", True),
        ("1.0", "1", "string", False),
    ],
)
def test_inputs_are_interchangeable_when_stored_alike_under_their_type(
    first: str, second: str, kind: str | None, same: bool
) -> None:
    assert interchangeable(first, second, kind) is same


def test_a_multi_select_is_interchangeable_in_any_order() -> None:
    assert interchangeable("a;b", "b;a", "enumeration", multi_select=True)
    assert not interchangeable("a;b", "a", "enumeration", multi_select=True)


def test_stored_key_tags_the_stored_form_with_its_type() -> None:
    assert stored_key("10.50", "number") == ("number", Decimal("10.5"))
    assert stored_key("10.50") == ("text", "10.50")
    assert stored_key("ten", "number") == ("text", "ten")
    assert stored_key(" EUR ", "enumeration") == ("text", "EUR")


# --- agreement of an echo with what was sent ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("sent", "echoed", "kind", "multi", "level"),
    [
        ("a", "a", None, False, Agreement.EXACT),
        (" a ", "a", "string", False, Agreement.EXACT),
        ("a", " a", None, False, Agreement.EXACT),
        ("a", "b", None, False, Agreement.NONE),
        ("", None, None, False, Agreement.EXACT),
        (" ", None, "number", False, Agreement.EXACT),
        ("a", None, None, False, Agreement.NONE),
        ("a", "", None, False, Agreement.NONE),
        ("", " ", None, False, Agreement.EXACT),
        ("", "a", None, False, Agreement.NONE),
        ("10.50", "10.5", "number", False, Agreement.TYPED),
        ("10.50", "10.6", "number", False, Agreement.NONE),
        ("10.50", "10.5", None, False, Agreement.SHAPE),
        ("10.50", "10.5", "string", False, Agreement.NONE),
        ("1572406217883", "2019-10-30T03:30:17.883Z", "datetime", False, Agreement.TYPED),
        ("1572406217883", "2019-10-30T03:30:17.884Z", "datetime", False, Agreement.NONE),
        ("1572406217883", "2019-10-30T03:30:17.883Z", None, False, Agreement.SHAPE),
        ("2019-10-30T09:00:17.883+05:30", "2019-10-30T03:30:17.883Z", None, False, Agreement.SHAPE),
        ("2019-10-31", "1572480000000", "date", False, Agreement.TYPED),
        ("2019-10-31", "1572480000000", None, False, Agreement.SHAPE),
        ("2019-10-31", "1572566400000", None, False, Agreement.NONE),
        ("True", "true", "bool", False, Agreement.TYPED),
        ("true", "false", "bool", False, Agreement.NONE),
        ("b;a", "a;b", "enumeration", True, Agreement.TYPED),
        ("b;a", "a;c", "enumeration", True, Agreement.NONE),
        ("b;a", "a;b", "enumeration", False, Agreement.NONE),
        ("EUR", "eur", "enumeration", False, Agreement.NONE),
        ("ten", "10", "number", False, Agreement.NONE),  # a side not of the type: by shape, which fails
        ("1e1", "10", "date", False, Agreement.SHAPE),  # not dates: by shape, both the number 10
        ("abc", "abd", "phone_number", False, Agreement.NONE),
        ("10.0", "10", "phone_number", False, Agreement.SHAPE),
    ],
)
def test_agreement_ranks_exact_over_typed_over_shape(
    sent: str, echoed: str | None, kind: str | None, multi: bool, level: Agreement
) -> None:
    assert agreement(sent, echoed, kind, multi_select=multi) is level


def test_agreement_levels_are_ordered() -> None:
    assert Agreement.NONE < Agreement.SHAPE < Agreement.TYPED < Agreement.EXACT
    assert not Agreement.NONE


@pytest.mark.parametrize(
    ("sent", "echoed", "same"),
    [
        ("10.50", "10.5", True),
        ("1e3", "1000", True),
        ("10.50", "10.51", False),
        ("1572480000000", "2019-10-31", True),
        ("2019-10-31T00:00:00+00:00", "2019-10-31", True),
        ("2019-10-31", "2019-11-01", False),
        ("abc", "abc", False),  # neither a number nor a datetime: no shape to share
        ("10", "abc", False),
        ("abc", "10", False),
    ],
)
def test_same_shape_recognises_numbers_and_instants(sent: str, echoed: str, same: bool) -> None:
    assert same_shape(sent, echoed) is same


# --- Python values the library accepts ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (datetime(2019, 10, 30, 3, 30, 17, 883000, tzinfo=UTC), "2019-10-30T03:30:17.883Z"),
        (datetime(2019, 10, 30, 3, 30, 17, 883999, tzinfo=UTC), "2019-10-30T03:30:17.883Z"),
        (
            datetime(2019, 10, 30, 9, 0, 17, 883000, tzinfo=timezone(timedelta(hours=5, minutes=30))),
            "2019-10-30T03:30:17.883Z",
        ),
        (datetime(2019, 10, 29, 22, 30, 17, tzinfo=timezone(timedelta(hours=-5))), "2019-10-30T03:30:17.000Z"),
        (datetime(1969, 12, 31, 23, 59, 59, 999500, tzinfo=UTC), "1969-12-31T23:59:59.999Z"),
        (datetime(2024, 2, 29, tzinfo=UTC), "2024-02-29T00:00:00.000Z"),
    ],
)
def test_an_aware_datetime_is_written_in_iso_utc_with_milliseconds(value: datetime, text: str) -> None:
    assert format_datetime(value) == text


def test_a_naive_datetime_is_refused() -> None:
    with pytest.raises(ValueFormError, match="an aware datetime"):
        format_datetime(datetime(2019, 10, 30, 3, 30))


def test_a_datetime_whose_instant_lies_before_year_1_is_refused() -> None:
    with pytest.raises(ValueFormError):
        format_datetime(datetime(1, 1, 1, tzinfo=timezone(timedelta(hours=1))))


def test_a_date_is_written_as_year_month_day() -> None:
    assert format_date(date(2024, 2, 29)) == "2024-02-29"
    assert format_date(date(5, 1, 2)) == "0005-01-02"


def test_a_datetime_given_as_a_date_is_refused() -> None:
    with pytest.raises(ValueFormError, match="a date without a time"):
        format_date(datetime(2024, 2, 29, tzinfo=UTC))


# --- properties over generated values -------------------------------------------------------------------------------

_instants = st.datetimes(min_value=datetime(1, 1, 2), max_value=datetime(9999, 12, 30), timezones=st.just(UTC)).map(
    lambda moment: moment.replace(microsecond=moment.microsecond // 1000 * 1000)
)
_offsets = st.integers(min_value=-23 * 60 - 59, max_value=23 * 60 + 59).map(lambda m: timezone(timedelta(minutes=m)))


@given(_instants, _offsets)
def test_every_way_of_writing_an_instant_reads_as_the_same_instant(moment: datetime, zone: timezone) -> None:
    ms = (moment - datetime(1970, 1, 1, tzinfo=UTC)) // timedelta(milliseconds=1)
    local = moment.astimezone(zone)
    assert parse_datetime(str(ms)) == ms
    assert parse_datetime(local.isoformat()) == ms
    assert parse_datetime(format_datetime(local)) == ms
    assert format_instant(ms) == format_datetime(local) == echo_form(local.isoformat(), "datetime")
    assert agreement(local.isoformat(), format_instant(ms), "datetime") >= Agreement.TYPED


@given(st.dates())
def test_a_day_reads_the_same_in_both_echo_forms(day: date) -> None:
    iso, millis = format_day(day), format_day(day, "epoch-ms")
    assert parse_date(iso) == parse_date(millis) == day
    assert int(millis) % DAY_MS == 0
    assert interchangeable(iso, millis, "date")


@given(st.decimals(allow_nan=False, allow_infinity=False))
def test_a_canonical_number_keeps_the_value_and_is_its_own_canonical_form(number: Decimal) -> None:
    text = format_number(number)
    assert parse_number(text) == number
    assert canonical_number(text) == text
    assert canonical_number(str(number)) == text
    assert canonical_number(f"{number:e}") == text


# --- what the errors say (each raise names its type, the value and the form expected) -------------------------------


def _raised(call: Callable[[], object]) -> ValueFormError:
    with pytest.raises(ValueFormError) as raised:
        call()
    return raised.value


def test_a_number_that_is_not_finite_is_refused_as_a_number() -> None:
    error = _raised(lambda: format_number(Decimal("-Infinity")))
    assert (error.kind, error.text, error.code) == ("number", "-Infinity", "INVALID_DECIMAL")
    assert str(error) == (
        "'-Infinity' is not a number: expected digits with at most one decimal point and an optional exponent"
    )


def test_an_instant_out_of_range_is_refused_as_a_datetime_naming_it() -> None:
    error = _raised(lambda: format_instant(253402300800000))
    assert (error.kind, error.text, error.code) == ("datetime", "253402300800000", "INVALID_DATETIME")
    assert str(error) == "'253402300800000' is not a datetime: expected an instant between the years 1 and 9999"


def test_a_naive_datetime_is_refused_as_a_datetime_naming_it() -> None:
    error = _raised(lambda: format_datetime(datetime(2019, 10, 30, 3, 30)))
    assert (error.kind, error.text, error.code) == ("datetime", "2019-10-30T03:30:00", "INVALID_DATETIME")
    assert str(error) == "'2019-10-30T03:30:00' is not a datetime: expected an aware datetime (with a time zone)"


def test_a_datetime_given_as_a_date_is_refused_as_a_date_naming_it() -> None:
    error = _raised(lambda: format_date(datetime(2024, 2, 29, 12, 0, tzinfo=UTC)))
    assert (error.kind, error.text, error.code) == ("date", "2024-02-29T12:00:00+00:00", "INVALID_DATE")
    assert str(error) == "'2024-02-29T12:00:00+00:00' is not a date: expected a date without a time"


def test_the_last_microsecond_of_year_9999_is_written_to_its_millisecond() -> None:
    # integer milliseconds: a float (true division) rounds this instant up into the year 10000
    assert format_datetime(datetime(9999, 12, 31, 23, 59, 59, 999_999, tzinfo=UTC)) == "9999-12-31T23:59:59.999Z"


def test_an_offset_of_59_minutes_is_read() -> None:
    assert parse_datetime("2019-10-30T04:29:17.883+00:59") == EPOCH_EXAMPLE
    assert parse_datetime("2019-10-30T02:31:17.883-0059") == EPOCH_EXAMPLE


def test_a_multi_select_flag_on_a_property_that_is_not_an_enumeration_changes_nothing() -> None:
    # only an enumeration is split into options: another type (or an unknown one) still compares by shape
    assert agreement("10.50", "10.5", None, multi_select=True) is Agreement.SHAPE
    assert agreement("10.50", "10.5", "phone_number", multi_select=True) is Agreement.SHAPE
    assert agreement("b;a", "a;b", None, multi_select=True) is Agreement.NONE


def test_a_value_not_of_its_type_is_refused_naming_it() -> None:
    error = _raised(lambda: stored_form(" ten ", "number"))
    assert (error.kind, error.text, error.code) == ("number", " ten ", "INVALID_DECIMAL")
    assert str(error).startswith("' ten ' is not a number: expected digits")
    assert _raised(lambda: echo_form("maybe", "bool")).text == "maybe"


def test_an_enumeration_is_a_single_select_unless_told() -> None:
    assert echo_form("a;;a", "enumeration") == "a;;a"
    assert agreement("b;a", "a;b", "enumeration") is Agreement.NONE
    assert agreement("b;a", "a;b", "enumeration", multi_select=True) is Agreement.TYPED
