"""Numbers in Italian and English formats, without Babel's locale data.

The bot needs a handful of CLDR patterns ("#,##0.###", "#,##0.##", "#0.0" and
the euro's "#,##0.00 ¤"); Babel would load about 4 MiB of locale data for them.
`number` follows Babel's `NumberPattern.apply` step by step (a float goes
through its str(); the sign is taken before rounding; rounding half to even
at the context's precision; trailing zeros dropped down to the minimum), and
a test compares the two over many values.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

NBSP = "\xa0"
INFINITY = "∞"


@dataclass(frozen=True, slots=True)
class Symbols:
    group: str
    decimal: str


ITALIAN = Symbols(group=".", decimal=",")
ENGLISH = Symbols(group=",", decimal=".")  # en_GB, as the English interface shows numbers
SYMBOLS = {"it": ITALIAN, "en": ENGLISH}


def symbols_for(lang: str) -> Symbols:
    return SYMBOLS.get(lang, ITALIAN)


def number(
    value: Decimal | int | float | str,
    symbols: Symbols = ITALIAN,
    *,
    min_fraction: int = 0,
    max_fraction: int = 3,
    grouping: bool = True,
) -> str:
    """`value` with at least `min_fraction` and at most `max_fraction` decimals,
    thousands grouped by three unless `grouping` is off ("#0.0")."""
    if not isinstance(value, Decimal):
        value = Decimal(str(value))
    sign = "-" if value.is_signed() else ""
    value = abs(value).normalize()
    if value.is_infinite():
        return sign + INFINITY
    rounded = value.quantize(Decimal(1).scaleb(-max_fraction))
    whole, _, fraction = f"{rounded:f}".partition(".")
    if grouping:
        whole = _grouped(whole, symbols.group)
    return sign + whole + _fraction(fraction or "0", symbols, min_fraction, max_fraction)


def _grouped(digits: str, separator: str) -> str:
    head, groups = digits, []
    while len(head) > 3:
        groups.append(head[-3:])
        head = head[:-3]
    return separator.join([head, *reversed(groups)])


def _fraction(digits: str, symbols: Symbols, least: int, most: int) -> str:
    digits = digits.ljust(least, "0")
    if most == 0 or (least == 0 and int(digits) == 0):
        return ""
    while len(digits) > least and digits.endswith("0"):
        digits = digits[:-1]
    return symbols.decimal + digits


def euro(value: Decimal | int | float | str) -> str:
    """it_IT's currency format: "1.234,50 €" (no-break space, two decimals)."""
    return number(value, ITALIAN, min_fraction=2, max_fraction=2) + NBSP + "€"
