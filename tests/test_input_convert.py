"""``--convert COLUMN=KIND[:ARG]``: values as shops write them, read exactly (never guessed), or refused."""

from __future__ import annotations

import pytest

from cartloader.input.convert import ConversionError, parse_conversion


@pytest.mark.parametrize(
    ("spec", "cell", "sent"),
    [
        ("number", "$12.00", "12"),  # sent in canonical form: what HubSpot stores
        ("number", "1,234.56", "1234.56"),
        ("number", "1,234,567", "1234567"),
        ("number", " -5 ", "-5"),
        ("number", "- $5", "-5"),
        ("number", "£ 0.50", "0.5"),
        ("number", "1 234.5", "1234.5"),
        ("number", ".5", "0.5"),
        ("number:,", "1.234,56", "1234.56"),
        ("number:,", "12,5 €", "12.5"),
        ("number:,", "1 234,56", "1234.56"),
        ("number:,", "1234", "1234"),
        ("bool:YES|NO", "yes", "true"),
        ("bool:YES|NO", " No ", "false"),
        ("bool:ja,j|nein,n", "J", "true"),
        ("date:%d.%m.%Y", "15.04.2024", "2024-04-15"),
        ("date:%m/%d/%Y", "05/23/2024", "2024-05-23"),
        ("datetime:%d.%m.%Y %H:%M@Europe/Berlin", "15.04.2024 10:38", "2024-04-15T08:38:00.000Z"),
        ("datetime:%d.%m.%Y %H:%M@Europe/Berlin", "15.01.2024 10:38", "2024-01-15T09:38:00.000Z"),
        ("datetime:%Y-%m-%d %H:%M:%S%z@UTC", "2024-04-15 10:38:00+0530", "2024-04-15T05:08:00.000Z"),
    ],
)
def test_a_conversion_reads_the_cell_and_sends_hubspots_form(spec: str, cell: str, sent: str) -> None:
    assert parse_conversion(f"col={spec}").convert(cell) == sent


@pytest.mark.parametrize(
    ("spec", "cell", "why"),
    [
        ("number", "1,5", "only between groups of three digits"),  # never 15
        ("number", "12,34", "for a decimal comma, give number:,"),
        ("number", "1,2345", "not a number"),
        ("number", "1234,567", "not a number"),  # the first group has one to three digits
        ("number", "1,234.567.8", "not a number"),
        ("number", "1.234.567", "not a number"),  # the decimal mark never groups digits
        ("number", "1,234 567", "not a number"),  # one kind of separator
        ("number", "1.234,56", "not a number"),
        ("number", "12 5", "not a number"),  # a space groups three digits too: never 125
        ("number", "abc", "not a number"),
        ("number", "$", "not a number"),
        ("number:,", "1.5", "a decimal comma"),
        ("number:,", "1,234.56", "a decimal comma"),
        ("bool:yes|no", "maybe", "neither of the words"),
        ("date:%d.%m.%Y", "2024-04-15", "does not match the pattern"),
        ("date:%d.%m.%Y", "31.02.2024", "does not match the pattern"),
        ("date:%m/%d/%Y", "23/05/2024", "does not match the pattern"),  # day/month order is never guessed
        ("datetime:%d.%m.%Y %H:%M@Europe/Berlin", "31.03.2024 02:30", "does not exist in Europe/Berlin"),
        ("datetime:%d.%m.%Y %H:%M@Europe/Berlin", "27.10.2024 02:30", "is ambiguous in Europe/Berlin"),
    ],
)
def test_a_cell_a_conversion_cannot_read_is_refused_with_the_reason(spec: str, cell: str, why: str) -> None:
    with pytest.raises(ConversionError, match=why):
        parse_conversion(f"col={spec}").convert(cell)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("col", "expected COLUMN=KIND"),
        ("=number", "expected COLUMN=KIND"),
        ("col=money", "unknown conversion 'money'"),
        ("col=number:x", "number takes ','"),
        ("col=bool:yes", "bool needs the words"),
        ("col=bool:yes|yes", "both true and false"),
        ("col=date:15.04.2024", "not a strptime pattern"),
        ("col=date:%Q", "not a pattern strptime can read"),
        ("col=date:%d.%m", "must name the year, the month and the day"),
        ("col=datetime:%d.%m.%Y", "needs PATTERN@ZONE"),
        ("col=datetime:%d.%m.%Y %H:%M@Mars/Base", "unknown time zone 'Mars/Base'"),
        ("col=datetime:%d.%m.%Y@UTC", "names no time of day"),
    ],
)
def test_a_bad_conversion_option_is_refused_at_once(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_conversion(text)


def test_the_conversion_describes_itself_as_given() -> None:
    conversion = parse_conversion("Ordered=date:%d.%m.%Y")
    assert (conversion.describe(), conversion.spec, conversion.code) == (
        "Ordered=date:%d.%m.%Y",
        "date:%d.%m.%Y",
        "INVALID_DATE",
    )
    assert parse_conversion("Total=number:,").code == "INVALID_NUMBER"
