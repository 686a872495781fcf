"""Parsing of typed answers the way Italian users write them (showing values
in Italian formats is the rendering layer's job).

Every parser strips surrounding whitespace and raises InputError with a message
key (plus an example for the translated message) on anything it can't read.
Inputs are length-capped before any regex runs, so huge texts fail fast.
"""

from __future__ import annotations

import re
from datetime import date
from decimal import Decimal
from urllib.parse import urlsplit, urlunsplit

MAX_INPUT_LENGTH = 100
# E-mail addresses and URLs legitimately run longer than the other fields.
MAX_EMAIL_LENGTH = 254
MAX_URL_LENGTH = 2048
# Larger amounts are typos in this survey, and bigger numbers would exceed Decimal's precision.
MAX_AMOUNT_DIGITS = 15
MIN_YEAR, MAX_YEAR = 1900, 2099

_AMOUNT_EXAMPLE = "1.234,50"
_INTEGER_EXAMPLE = "120"
_DATE_EXAMPLE = "31/07/2019"
_EMAIL_EXAMPLE = "nome.cognome@comune.esempio.it"
_PHONE_EXAMPLE = "055 1234567"  # a made-up number: no real office gets the calls
_URL_EXAMPLE = "https://www.comune.esempio.it"

_CENT = Decimal("0.01")
# Non-breaking spaces show up when numbers are copied from documents.
_NBSP_TO_SPACE = str.maketrans({"\u00a0": " ", "\u202f": " "})


class InputError(ValueError):
    """User input could not be parsed; ``key`` selects the translated message."""

    def __init__(self, key: str, **params: object) -> None:
        super().__init__(key)
        self.key = key
        self.params: dict[str, object] = dict(params)


def _clean(text: str, key: str, example: str, limit: int = MAX_INPUT_LENGTH) -> str:
    s = text.strip()
    if not s or len(s) > limit:
        raise InputError(key, example=example)
    return s


# --- numbers ---------------------------------------------------------------------

_CURRENCY_PREFIX = re.compile(r"(?:€|euro|eur)\s*", re.IGNORECASE)
_CURRENCY_SUFFIX = re.compile(r"\s*(?:€|euro|eur)\Z", re.IGNORECASE)
_AMOUNT_BODY = re.compile(r"[0-9]+(?:[ .,][0-9]+)*")
_SEPARATOR = re.compile(r"[ .,]")
_INTEGER = re.compile(r"[0-9]+|[1-9][0-9]{0,2}(?:\.[0-9]{3})+|[1-9][0-9]{0,2}(?: [0-9]{3})+")


def _strip_currency(s: str) -> str:
    s = _CURRENCY_PREFIX.sub("", s, count=1) if _CURRENCY_PREFIX.match(s) else s
    return _CURRENCY_SUFFIX.sub("", s).strip()


def _is_group_head(s: str) -> bool:
    """Can ``s`` be the first group of a number with thousands separators?"""
    return 1 <= len(s) <= 3 and s[0] != "0"


def _ungroup(s: str) -> str | None:
    """Remove thousands separators, or None if the grouping is malformed."""
    separators = set(_SEPARATOR.findall(s))
    if not separators:
        return s
    if len(separators) > 1:
        return None
    head, *groups = _SEPARATOR.split(s)
    if not _is_group_head(head) or any(len(g) != 3 for g in groups):
        return None
    return head + "".join(groups)


def parse_amount(text: str) -> Decimal:
    """Parse a non-negative euro amount, quantized to cents."""
    s = _strip_currency(_clean(text, "invalid_amount", _AMOUNT_EXAMPLE).translate(_NBSP_TO_SPACE))
    negative = s[:1] in ("-", "−")
    if negative:
        s = _strip_currency(s[1:].strip())  # "-€ 12" as well as "€ -12"
    value = _parse_unsigned_amount(s)
    if negative:
        raise InputError("amount_negative")
    return value


def _parse_unsigned_amount(s: str) -> Decimal:
    invalid = InputError("invalid_amount", example=_AMOUNT_EXAMPLE)
    if not _AMOUNT_BODY.fullmatch(s):
        raise invalid
    decimal_at: int | None = None
    if "." in s and "," in s:
        # Both present: the last one is the decimal separator and must occur once.
        mark = "." if s.rfind(".") > s.rfind(",") else ","
        if s.count(mark) != 1:
            raise invalid
        decimal_at = s.rfind(mark)
    elif s.count(",") == 1:
        decimal_at = s.index(",")
    elif s.count(".") == 1:
        head, tail = s.split(".")
        # "1.234" is one thousand two hundred...; "1.5" and "1234.567" are decimals.
        if not (len(tail) == 3 and _is_group_head(head)):
            decimal_at = s.index(".")
    # Otherwise: repeated "." or "," (or spaces) are thousands separators.
    integer_text = s if decimal_at is None else s[:decimal_at]
    fraction = "" if decimal_at is None else s[decimal_at + 1 :]
    digits = _ungroup(integer_text)
    if digits is None or (fraction and not fraction.isdigit()):
        raise invalid
    if len(fraction) > 2:
        raise InputError("amount_too_many_decimals", example=_AMOUNT_EXAMPLE)
    if len(digits.lstrip("0")) > MAX_AMOUNT_DIGITS:
        raise invalid
    return Decimal(f"{digits}.{fraction or '0'}").quantize(_CENT)


def parse_integer(text: str) -> int:
    """Parse a non-negative integer, allowing "." or space as thousands separator."""
    s = _clean(text, "invalid_integer", _INTEGER_EXAMPLE).translate(_NBSP_TO_SPACE)
    if not _INTEGER.fullmatch(s):
        raise InputError("invalid_integer", example=_INTEGER_EXAMPLE)
    return int(s.replace(".", "").replace(" ", ""))


# --- dates -----------------------------------------------------------------------

_MONTH_NAMES = (
    ("gennaio", "gen", "january", "jan"),
    ("febbraio", "feb", "february"),
    ("marzo", "mar", "march"),
    ("aprile", "apr", "april"),
    ("maggio", "mag", "may"),
    ("giugno", "giu", "june", "jun"),
    ("luglio", "lug", "july", "jul"),
    ("agosto", "ago", "august", "aug"),
    ("settembre", "set", "september", "sep", "sept"),
    ("ottobre", "ott", "october", "oct"),
    ("novembre", "nov", "november"),
    ("dicembre", "dic", "december", "dec"),
)
_MONTHS = {name: number for number, names in enumerate(_MONTH_NAMES, 1) for name in names}

_NUMERIC_DATE = re.compile(r"([0-9]{1,2})\s*([/.-])\s*([0-9]{1,2})\s*\2\s*([0-9]{4}|[0-9]{2})")
_ISO_DATE = re.compile(r"([0-9]{4})([-/.])([0-9]{1,2})\2([0-9]{1,2})")
# "31 luglio 2019", "1° agosto 2019", "31-lug-2019", "31 jul. 2019"
_TEXT_DATE = re.compile(r"([0-9]{1,2})\s*[°º]?[\s/.,-]+([a-z]+)[\s/.,-]+([0-9]{4}|[0-9]{2})")
# "marzo 2018", "03/2018": a month without its day
_MONTH_YEAR = re.compile(r"([a-z]+)\.?[\s/.,-]+([0-9]{4})")
_NUMERIC_MONTH_YEAR = re.compile(r"([0-9]{1,2})\s*[/.-]\s*([0-9]{4})")
# "July 31, 2019"
_TEXT_DATE_MONTH_FIRST = re.compile(r"([a-z]+)\.?\s+([0-9]{1,2})(?:st|nd|rd|th)?,?\s+([0-9]{4})")


def parse_date(text: str) -> date:
    """Parse a day-first date (numeric, ISO, or with an Italian/English month name)."""
    s = _clean(text, "invalid_date", _DATE_EXAMPLE).lower()
    if m := _NUMERIC_DATE.fullmatch(s):
        return _make_date(m[4], int(m[3]), m[1])
    if m := _ISO_DATE.fullmatch(s):
        return _make_date(m[1], int(m[3]), m[4])
    if m := _TEXT_DATE.fullmatch(s):
        return _make_date(m[3], _MONTHS.get(m[2], 0), m[1])
    if m := _TEXT_DATE_MONTH_FIRST.fullmatch(s):
        return _make_date(m[3], _MONTHS.get(m[1], 0), m[2])
    month_year = _MONTH_YEAR.fullmatch(s) or _NUMERIC_MONTH_YEAR.fullmatch(s)
    if month_year:
        month = _MONTHS.get(month_year[1], 0) if month_year[1].isalpha() else int(month_year[1])
        if 1 <= month <= 12 and MIN_YEAR <= int(month_year[2]) <= MAX_YEAR:
            # Suggest the first of the month rather than guessing it silently.
            raise InputError("date_without_day", example=f"01/{month:02d}/{month_year[2]}")
    raise InputError("invalid_date", example=_DATE_EXAMPLE)


def _make_date(year_text: str, month: int, day_text: str) -> date:
    year = int(year_text)
    if len(year_text) == 2:
        year += 2000
    if MIN_YEAR <= year <= MAX_YEAR:
        try:
            return date(year, month, int(day_text))
        except ValueError:  # 31/02, month 13, unknown month name (0)
            pass
    raise InputError("invalid_date", example=_DATE_EXAMPLE)


# --- contacts --------------------------------------------------------------------

_EMAIL = re.compile(
    r"([A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*)"
    r"@((?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,63})"
)
_PHONE_PUNCTUATION = str.maketrans("", "", " .-/()\u00a0")
_SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://")
_HOST_LABEL = re.compile(r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?")
_TOP_LEVEL_DOMAIN = re.compile(r"[a-z]{2,63}|xn--[a-z0-9-]{1,59}")
_URL_FORBIDDEN = frozenset('<>"\\')


def parse_email(text: str) -> str:
    """Validate an e-mail address; the domain is lower-cased, the local part kept."""
    s = _clean(text, "invalid_email", _EMAIL_EXAMPLE, MAX_EMAIL_LENGTH)
    m = _EMAIL.fullmatch(s)
    if m is None or len(m[1]) > 64:
        raise InputError("invalid_email", example=_EMAIL_EXAMPLE)
    return f"{m[1]}@{m[2].lower()}"


def parse_phone(text: str) -> str:
    """Normalise an Italian phone number to "+39" followed by 6-11 digits."""
    s = _clean(text, "invalid_phone", _PHONE_EXAMPLE).translate(_PHONE_PUNCTUATION)
    for prefix in ("+39", "0039"):
        if s.startswith(prefix):
            s = s[len(prefix) :]
            break
    if not (s.isascii() and s.isdigit() and 6 <= len(s) <= 11):
        raise InputError("invalid_phone", example=_PHONE_EXAMPLE)
    return "+39" + s


def parse_url(text: str) -> str:
    """Validate an http(s) URL, adding "https://" when the scheme is missing."""
    invalid = InputError("invalid_url", example=_URL_EXAMPLE)
    s = _clean(text, "invalid_url", _URL_EXAMPLE, MAX_URL_LENGTH)
    if any(c.isspace() or not c.isprintable() or c in _URL_FORBIDDEN for c in s):
        raise invalid
    if not _SCHEME.match(s):
        s = "https://" + s
    try:
        parts = urlsplit(s)
        port = parts.port
    except ValueError:
        raise invalid from None
    host = parts.hostname
    # Credentials in the URL are a phishing pattern, never a municipal website.
    if parts.scheme.lower() not in ("http", "https") or parts.username is not None:
        raise invalid
    if host is None or not _is_valid_host(host):
        raise invalid
    netloc = host if port is None else f"{host}:{port}"
    return urlunsplit((parts.scheme.lower(), netloc, parts.path, parts.query, parts.fragment))


def _is_valid_host(host: str) -> bool:
    try:
        # IDNA turns "comune.forlì.it" into checkable ASCII and rejects empty labels.
        ascii_host = host.encode("idna").decode("ascii")
    except ValueError:
        return False
    labels = ascii_host.split(".")
    return (
        len(labels) >= 2
        and all(_HOST_LABEL.fullmatch(label) for label in labels)
        and _TOP_LEVEL_DOMAIN.fullmatch(labels[-1]) is not None
    )
