"""Our number and date formats print exactly what Babel (CLDR) prints for it_IT
and en_GB, the locales the bot showed before it dropped Babel at run time.
Babel is a dev dependency for these comparisons only."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
from babel.dates import format_date, format_time
from babel.numbers import format_currency, format_decimal
from hypothesis import example, given
from hypothesis import strategies as st

from bot.render import formatting
from bot.render.i18n import translator
from bot.render.numbers import ENGLISH, ITALIAN, Symbols, euro, number
from bot.render.progress import percent

# Values an officer can type, and the awkward ones: halves (rounding half to
# even), negatives that round to zero, huge and tiny exponents.
decimals = st.decimals(allow_nan=False, allow_infinity=False, min_value=Decimal("-1e15"),
                       max_value=Decimal("1e15"))
EDGES = ["0", "-0", "0.005", "0.015", "0.025", "-0.004", "2.5", "3.5", "12.345", "1E+3",
         "1e-9", "999.995", "-999.995", "1234567.891", "100", "1000000"]
LOCALES = [("it_IT", ITALIAN), ("en_GB", ENGLISH)]


@pytest.mark.parametrize("text", EDGES)
@pytest.mark.parametrize(("locale", "symbols"), LOCALES)
def test_edge_values_match_babel(text: str, locale: str, symbols: Symbols) -> None:
    value = Decimal(text)
    assert number(value, symbols) == format_decimal(value, locale=locale)
    assert number(value, symbols, max_fraction=2) == format_decimal(
        value, format="#,##0.##", locale=locale)
    assert euro(value) == format_currency(value, "EUR", locale="it_IT")


@given(decimals)
@example(Decimal("-0.004"))
@example(Decimal("1234.5"))
def test_amounts_and_decimals_match_babel(value: Decimal) -> None:
    assert formatting.amount(value) == format_currency(value, "EUR", locale="it_IT")
    assert formatting.decimal(value) == format_decimal(value, format="#,##0.##",
                                                       locale="it_IT")


@given(st.integers(min_value=-(10**20), max_value=10**20))
@example(999)
@example(1000)
@example(-1000)
def test_integers_match_babel(value: int) -> None:
    assert formatting.integer(value) == format_decimal(value, locale="it_IT")
    assert number(value, ENGLISH) == format_decimal(value, locale="en_GB")


@given(st.integers(min_value=0, max_value=20_000), st.integers(min_value=0, max_value=20_000))
@example(1, 8)  # 12.5: half to even
@example(3, 8)  # 37.5
@example(0, 0)
@example(5, 5)
def test_percentages_match_babel(part: int, whole: int) -> None:
    value = 100.0 * part / whole if whole else 0.0
    for lang, locale in (("it", "it_IT"), ("en", "en_GB")):
        expected = format_decimal(value, format="#0.0", locale=locale) + "%"
        assert percent(part, whole, translator(lang)) == expected


@given(st.floats(allow_nan=False, allow_infinity=False, min_value=-1e9, max_value=1e9))
def test_floats_go_through_their_str_as_in_babel(value: float) -> None:
    assert number(value, ITALIAN) == format_decimal(value, locale="it_IT")


@given(st.dates(min_value=date(1, 1, 1)))
def test_days_match_babel(value: date) -> None:
    assert formatting.day(value) == format_date(value, "dd/MM/yyyy", locale="it_IT")


@given(st.datetimes(timezones=st.just(UTC)))
def test_times_match_babel(value: datetime) -> None:
    assert formatting.clock(value) == format_time(value, "HH:mm", locale="it_IT")


def test_what_an_officer_reads() -> None:
    assert formatting.amount("1234.5") == "1.234,50\xa0€"
    assert formatting.amount(Decimal("-0.004")) == "-0,00\xa0€"  # as Babel: sign kept
    assert formatting.decimal(Decimal("2.345")) == "2,34"  # half to even
    assert formatting.integer(1000) == "1.000"
    assert number(1234567.5, ENGLISH, max_fraction=1) == "1,234,567.5"
    assert percent(1, 8, translator("it")) == "12,5%"
    assert percent(2, 3, translator("en")) == "66.7%"
    assert percent(0, 0, translator("it")) == "0,0%"
    assert number(Decimal("Infinity")) == format_decimal(Decimal("Infinity"), locale="it_IT")
    assert number(Decimal("-Infinity")) == format_decimal(Decimal("-Infinity"), locale="it_IT")


def test_a_moment_in_rome() -> None:
    t = translator("it")
    shown = formatting.moment("2019-07-31T21:59:00+00:00", "Europe/Rome", t)
    assert "31/07/2019" in shown and "23:59" in shown
