"""Access codes (identificativo abilitante): made to be dictated by phone.

Nine random characters from an alphabet without look-alikes (no 0/O, 1/I/L)
plus one check character (Luhn mod N), shown as `K7MQ-X9PR-4T`. Entry is
case- and dash-insensitive. A code with a wrong check character is reported
as mistyped and does not count as a guess. Codes are stored only as keyed
hashes (HMAC-SHA256).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from enum import Enum

ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"
BODY_LENGTH = 9
CODE_LENGTH = BODY_LENGTH + 1
_INDEX = {ch: i for i, ch in enumerate(ALPHABET)}


class CodeCheck(Enum):
    VALID_FORM = "valid_form"  # well formed: worth looking up
    MISTYPED = "mistyped"  # right length and alphabet, wrong check character
    MALFORMED = "malformed"  # not shaped like a code at all


def _check_char(body: str) -> str:
    """Luhn mod N: catches every single substitution and most transpositions."""
    n = len(ALPHABET)
    factor, total = 2, 0
    for ch in reversed(body):
        addend = factor * _INDEX[ch]
        factor = 1 if factor == 2 else 2
        total += addend // n + addend % n
    return ALPHABET[(n - total % n) % n]


def normalize(text: str) -> str:
    return "".join(ch for ch in text.upper() if ch not in " -_.\t")


def generate() -> str:
    body = "".join(secrets.choice(ALPHABET) for _ in range(BODY_LENGTH))
    return format_code(body + _check_char(body))


def format_code(code: str) -> str:
    code = normalize(code)
    return f"{code[:4]}-{code[4:8]}-{code[8:]}"


def check(text: str) -> CodeCheck:
    code = normalize(text)
    if len(code) != CODE_LENGTH or any(ch not in _INDEX for ch in code):
        return CodeCheck.MALFORMED
    if _check_char(code[:-1]) != code[-1]:
        return CodeCheck.MISTYPED
    return CodeCheck.VALID_FORM


def code_hash(secret: bytes, text: str) -> str:
    return hmac.new(secret, normalize(text).encode("ascii", "ignore"), hashlib.sha256).hexdigest()
