"""Values as an officer reads them: Italian formats for numbers and dates."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

from babel.dates import format_date, format_time
from babel.numbers import format_currency, format_decimal

LOCALE = "it_IT"


def amount(value: Decimal | str) -> str:
    return format_currency(Decimal(value), "EUR", locale=LOCALE)


def integer(value: int) -> str:
    return format_decimal(value, locale=LOCALE)


def decimal(value: Decimal) -> str:
    return format_decimal(value, format="#,##0.##", locale=LOCALE)


def day(value: date | str) -> str:
    if isinstance(value, str):
        value = date.fromisoformat(value)
    return format_date(value, "dd/MM/yyyy", locale=LOCALE)


def moment(value: datetime | str, tz: str, connector: str = "alle") -> str:
    """'31/07/2019 alle 23:59' in the given time zone."""
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    local = value.astimezone(ZoneInfo(tz))
    return f"{day(local.date())} {connector} {format_time(local, 'HH:mm', locale=LOCALE)}"
