"""Values as an officer reads them: Italian formats for numbers and dates."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

from bot.render.i18n import Translator
from bot.render.numbers import ITALIAN, euro, number


def amount(value: Decimal | str) -> str:
    """"1.234,50 €"."""
    return euro(Decimal(value))


def integer(value: int) -> str:
    """"1.234.567"."""
    return number(value, ITALIAN)


def decimal(value: Decimal) -> str:
    """"1.234,5" (at most two decimals)."""
    return number(value, ITALIAN, max_fraction=2)


def day(value: date | str) -> str:
    """"31/07/2019"."""
    if isinstance(value, str):
        value = date.fromisoformat(value)
    return f"{value.day:02d}/{value.month:02d}/{value.year:04d}"


def clock(value: datetime) -> str:
    """"09:05" (24 hours)."""
    return f"{value.hour:02d}:{value.minute:02d}"


def moment(value: datetime | str, tz: str, t: Translator) -> str:
    """'31/07/2019 alle 23:59' in the given time zone (the connector from the catalogue)."""
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    local = value.astimezone(ZoneInfo(tz))
    return t("datetime", date=day(local.date()), time=clock(local))


# Italian area codes of two and three digits; the others have four ("0543").
_AREA_2 = frozenset({"02", "06"})
_AREA_3 = frozenset({
    "010", "011", "013", "015", "019", "030", "031", "035", "039", "040", "041", "045",
    "049", "050", "051", "055", "059", "070", "071", "075", "079", "080", "081", "085",
    "089", "090", "091", "095", "099",
})


def phone(value: str) -> str:
    """A stored "+39..." number in national form: "055 1234567", "333 123 4567"."""
    digits = value[3:] if value.startswith("+39") else value
    if not digits.isdigit():
        return value  # not one of ours: shown as stored
    if digits.startswith("3") and len(digits) == 10:  # mobile
        return f"{digits[:3]} {digits[3:6]} {digits[6:]}"
    if digits.startswith("0"):
        area = 2 if digits[:2] in _AREA_2 else 3 if digits[:3] in _AREA_3 else 4
        return f"{digits[:area]} {digits[area:]}"
    return digits
