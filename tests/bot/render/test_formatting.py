"""What the bot shows an officer, the parsers read back: an amount, a number or a
date copied from a message (a review screen, the receipt) is a valid answer."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.render import formatting
from conversations.parsing import parse_amount, parse_date, parse_integer


def test_italian_formats() -> None:
    assert formatting.amount(Decimal("1234.5")) == "1.234,50\xa0€"
    assert formatting.integer(1234567) == "1.234.567"
    assert formatting.day(date(2019, 7, 31)) == "31/07/2019"
    assert formatting.day("2020-01-02") == "02/01/2020"


@given(st.decimals(min_value=0, max_value=Decimal("1e14"), places=2))
def test_amount_round_trip(value: Decimal) -> None:
    assert parse_amount(formatting.amount(value)) == value


@given(st.integers(min_value=0, max_value=10**18))
def test_integer_round_trip(value: int) -> None:
    assert parse_integer(formatting.integer(value)) == value


@given(st.dates(min_value=date(1900, 1, 1), max_value=date(2099, 12, 31)))
def test_date_round_trip(value: date) -> None:
    assert parse_date(formatting.day(value)) == value
    assert parse_date(value.isoformat()) == value


@pytest.mark.parametrize(
    ("stored", "shown"),
    [
        ("+390551234567", "055 1234567"),
        ("+39021234567", "02 1234567"),
        ("+390543712345", "0543 712345"),
        ("+393331234567", "333 123 4567"),
        ("not a number", "not a number"),
    ],
)
def test_phone_in_national_format(stored: str, shown: str) -> None:
    assert formatting.phone(stored) == shown
